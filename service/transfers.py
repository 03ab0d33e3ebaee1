"""Building a transfer's workflow input and starting its workflow.

The database rows of a transfer are written only by its workflow's activities; this module reads
the directory, builds the input (target checks, approval chain) and starts the workflow. Who may
act is `service.permissions`; decisions are `service.decisions`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col
from temporalio.client import Client

from core.temporal import start_and_wait_recorded
from messages.transfers import (
    WORKFLOW_ID_PREFIX,
    OrgRef,
    Route,
    TransferInput,
    TransferView,
    workflow_id_for,
)
from models import Org, Transfer, row_id
from models.db import session_factory
from models.directory import DIRECTORIES, load_with_ancestors
from service.errors import refuse
from workflows.transfer import TransferWorkflow


@dataclass
class StartResult:
    transfer_id: int
    created: bool  # False when the member's open transfer (or this request id's) was returned
    route: Route
    view: TransferView | None = None  # the live state (None when answered from the database)


async def find_by_request_id(
    engine: AsyncEngine, client: Client | None, request_id: str, *, live: bool = True
) -> StartResult | None:
    """The transfer a request id already started, open or closed; with `live`, also its state
    from the workflow (a query: for a closed run no longer cached, a replay of its history)."""
    async with session_factory(engine)() as session:
        seen = (
            await session.execute(select(Transfer).where(col(Transfer.request_id) == request_id))
        ).scalar_one_or_none()
    if seen is None:
        return None
    async with session_factory(engine)() as session:
        target_code = await session.scalar(select(col(Org.code)).where(col(Org.id) == seen.target_org_id))
    route = Route(clause=seen.route_clause, explanation=seen.route_explanation, org_code=target_code)
    view = None
    if live:
        if client is None:
            raise ValueError("the live state of a transfer needs the Temporal client")
        handle = client.get_workflow_handle_for(TransferWorkflow.run, seen.workflow_id, run_id=seen.run_id)
        view = await handle.query(TransferWorkflow.status_query)
    return StartResult(transfer_id=row_id(seen.id), created=False, view=view, route=route)


async def start(
    client: Client, inp: TransferInput, *, task_queue: str, id_prefix: str = WORKFLOW_ID_PREFIX
) -> StartResult:
    """Start the member's transfer, or return the open one (USE_EXISTING on transfer-<member>).

    `id_prefix` lets tests sharing one server keep their members apart."""
    # update-with-start: one round trip gives the recorded state (row id, first node, deadlines)
    view = await start_and_wait_recorded(
        client,
        TransferWorkflow.run,
        inp,
        TransferWorkflow.recorded,
        workflow_id=workflow_id_for(inp.member_id, id_prefix),
        task_queue=task_queue,
        result_type=TransferView,
    )
    return StartResult(
        transfer_id=view.transfer_id, created=view.request_id == inp.request_id, view=view, route=view.route
    )


TRANSFER_CLOSED = "该申请已办结，不能再审批或撤回"


# --- decisions ---------------------------------------------------------------------------------


async def checked_branch(engine: AsyncEngine, branch_code: str, receiving_org_code: str) -> OrgRef:
    """The branch to assign, checked: a branch-level org under the receiving org, in the process's
    directory, or in the database for a code it does not hold (an org created a moment ago)."""
    directory = await DIRECTORIES.get(engine)
    if branch_code not in directory:
        async with session_factory(engine)() as session:
            directory = await load_with_ancestors(session, [branch_code])
    branch = directory.get(branch_code)
    if branch is None:
        raise refuse(422, "branch_code", f"团支部 {branch_code} 不存在")
    if not branch.branch_level:
        raise refuse(422, "branch_code", f"{branch.name}不是团支部级组织，不能分配")
    if not directory.is_ancestor(receiving_org_code, branch):
        raise refuse(422, "branch_code", f"{branch.name}不在接收组织之下")
    return OrgRef(code=branch.code, name=branch.name)
