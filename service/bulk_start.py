"""Many starts for one caller in one call (POST /api/transfers/bulk, the bulk CLI).

The rules are those of a single start (`service.intake.parse_request` and `check_start`, the very
same functions); only the loading and the starting differ:
- the data is loaded in bulk: one query for the request ids already seen, one for the members by
  身份证号; the directory (with the members' branches and the caller's org) from the cache;
- a row is started with a plain `start_workflow` (no update-with-start), a bounded number at a
  time, and its answer does not wait for the workflow to write the transfer's row: it names the
  workflow, and the transfer's id only when it is already known (a request id seen before).

Per row, as the single endpoint answers: 201 created; 200 existing (this request id's transfer,
or the member's open one: the workflow id is taken); else the refusal's status and field errors.
A refused row starts nothing and does not stop the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from core.clock import calendar
from core.settings import get_settings
from domain.deadlines import shanghai_date
from domain.policy import policy_for
from messages.transfers import WORKFLOW_ID_PREFIX, Route, TransferInput, workflow_id_for
from models import Org, Transfer, User
from models.db import session_factory
from models.directory import DirectoryCache
from service.errors import Problem, ServiceError
from service.intake import CheckedStart, ParsedRequest, StartRequest, check_start, members_by_id_number, parse_request
from starter.pool import gather_limited
from workflows.transfer import TransferWorkflow

#: Starts in flight at once per call.
START_CONCURRENCY = 32


@dataclass
class BulkStartRow:
    request: StartRequest
    idempotency_key: str | None = None


@dataclass
class RowOutcome:
    index: int
    ok: bool
    status_code: int
    created: bool = False
    workflow_id: str | None = None
    transfer_id: int | None = None  # known only for a request id seen before
    route: Route | None = None  # with org_code
    errors: list[Problem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        route = None
        if self.route is not None:
            route = {
                "org_code": self.route.org_code,
                "clause": self.route.clause,
                "explanation": self.route.explanation,
            }
        return {
            "index": self.index,
            "ok": self.ok,
            "status_code": self.status_code,
            "created": self.created,
            "workflow_id": self.workflow_id,
            "transfer_id": self.transfer_id,
            "route": route,
            "errors": [{"field": p.field, "message": p.message} for p in self.errors],
        }


def _refused(index: int, e: ServiceError) -> RowOutcome:
    return RowOutcome(index=index, ok=False, status_code=e.status, errors=list(e.problems))


async def _seen(engine: AsyncEngine, request_ids: Iterable[str]) -> dict[str, RowOutcome]:
    """The transfers these request ids already started (one query), as `existing` outcomes."""
    ids = sorted(set(request_ids))
    if not ids:
        return {}
    async with session_factory(engine)() as session:
        rows = (
            await session.execute(
                select(
                    col(Transfer.request_id),
                    col(Transfer.id),
                    col(Transfer.workflow_id),
                    col(Transfer.route_clause),
                    col(Transfer.route_explanation),
                    col(Org.code),
                )
                .outerjoin(Org, col(Org.id) == col(Transfer.target_org_id))
                .where(col(Transfer.request_id).in_(ids))
            )
        ).all()
    return {
        rid: RowOutcome(
            index=-1,
            ok=True,
            status_code=200,
            created=False,
            workflow_id=wid,
            transfer_id=tid,
            route=Route(clause=clause, explanation=explanation, org_code=code),
        )
        for rid, tid, wid, clause, explanation, code in rows
        if rid is not None  # always: the rows were chosen by request id
    }


async def _start_all(
    client: Client,
    todo: Sequence[tuple[int, TransferInput, Route]],
    out: list[RowOutcome | None],
    *,
    task_queue: str,
    id_prefix: str,
    concurrency: int,
) -> None:
    """Start each input, at most `concurrency` at a time; each row's outcome into `out`."""

    async def one(index: int, inp: TransferInput, route: Route) -> RowOutcome:
        wid = workflow_id_for(inp.member_id, id_prefix)
        try:
            await client.start_workflow(TransferWorkflow.run, inp, id=wid, task_queue=task_queue)
        except WorkflowAlreadyStartedError:
            # the member's open transfer (or this request id's, not yet recorded): its route is
            # the open run's, not known here
            return RowOutcome(index=index, ok=True, status_code=200, created=False, workflow_id=wid)
        except RPCError as e:
            return RowOutcome(
                index=index,
                ok=False,
                status_code=503,
                workflow_id=wid,
                errors=[Problem("workflow", f"流程服务暂不可用，未能发起：{e.message}")],
            )
        return RowOutcome(index=index, ok=True, status_code=201, created=True, workflow_id=wid, route=route)

    for (index, _, _), outcome in zip(
        todo, await gather_limited(concurrency, (one(*row) for row in todo)), strict=True
    ):
        out[index] = outcome


async def bulk_start(
    engine: AsyncEngine,
    client: Client | None,
    user: User,
    rows: Sequence[BulkStartRow],
    *,
    directories: DirectoryCache,
    task_queue: str,
    id_prefix: str = WORKFLOW_ID_PREFIX,
    now: datetime | None = None,
    dry_run: bool = False,
    concurrency: int = START_CONCURRENCY,
) -> list[RowOutcome]:
    """Check every row as a single start would and (unless `dry_run`) start the good ones; one
    outcome per row, in order. `client` may be None for a dry run."""
    today = shanghai_date(now) if now is not None else calendar().today()
    out: list[RowOutcome | None] = [None] * len(rows)
    request_ids = [f"{user.username}:{r.idempotency_key}" if r.idempotency_key else None for r in rows]

    # a start already made with a row's key answers for it (a dry run too): not checked again
    seen = await _seen(engine, (rid for rid in request_ids if rid))
    parsed: dict[int, ParsedRequest] = {}
    for i, row in enumerate(rows):
        rid = request_ids[i]
        if rid and rid in seen:
            out[i] = replace(seen[rid], index=i)
            continue
        try:
            parsed[i] = parse_request(row.request, today=today)
        except ServiceError as e:
            out[i] = _refused(i, e)

    members = await members_by_id_number(engine, (p.id_number for p in parsed.values()))
    branch_ids = {m.branch_id for m in members.values()}
    directory = await directories.get(engine, ids=[i for i in (user.org_id, *branch_ids) if i is not None])
    user_org = directory.by_id(user.org_id)
    policy = policy_for(get_settings().time_scale)

    todo: list[tuple[int, TransferInput, Route]] = []
    for i, p in parsed.items():
        try:
            checked: CheckedStart = check_start(
                rows[i].request,
                p,
                user=user,
                user_org=user_org,
                member=members.get(p.id_number),
                directory=directory,
                today=today,
                request_id=request_ids[i],
                policy=policy,
            )
        except ServiceError as e:
            out[i] = _refused(i, e)
            continue
        if dry_run:
            out[i] = RowOutcome(
                index=i,
                ok=True,
                status_code=200,
                created=False,
                workflow_id=workflow_id_for(checked.inp.member_id, id_prefix),
                route=checked.route,
            )
        else:
            todo.append((i, checked.inp, checked.route))

    if todo:
        if client is None:
            raise ValueError("starting transfers needs the Temporal client (None is for a dry run)")
        await _start_all(client, todo, out, task_queue=task_queue, id_prefix=id_prefix, concurrency=concurrency)
    outcomes = [o for o in out if o is not None]
    assert len(outcomes) == len(rows)  # every row has its outcome
    return outcomes


__all__ = ["START_CONCURRENCY", "BulkStartRow", "RowOutcome", "bulk_start"]
