"""The only writer of transfer state: one idempotent activity applying a TransferEvent.

Each event is applied in one transaction keyed by the event's unique key in the append-only
audit log: a retried activity finds its key and writes nothing twice. The completion event moves
the member, writes the membership history and marks the transfer done in the same transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, literal_column, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.common import already_applied, apply_once, audit_row
from activities.delivery import Outbox
from activities.holdings import is_county_temp_branch, parent_of, release_member_holdings, start_county_holding
from core.logging import get_logger
from core.settings import get_settings
from domain.orgs import OrgKind
from messages.errors import ErrorType
from messages.transfers import CompletionFollowUp, TransferEvent
from models.db import session_factory, transaction
from models.tables import (
    ApprovalStep,
    AuditLog,
    DeliveryOutbox,
    Member,
    MembershipHistory,
    Notification,
    Org,
    Transfer,
    row_id,
)

log = get_logger(__name__)

#: The columns of an approval step an event sets (besides its key: transfer, round, seq).
STEP_FIELDS = (
    "org_id",
    "status",
    "started_at",
    "remind_at",
    "deadline",
    "reminded_at",
    "decided_at",
    "decided_by",
    "reason_code",
    "comment",
)


def completion_flags(branch_kind: str) -> dict[str, bool]:
    """The member's flags once a transfer has moved them into a branch of this kind: they have
    left school (no longer graduating, kept at school, delayed or retained abroad), and they are
    in the 特殊单位专属库 exactly when that is where they went (type 8, §I.3)."""
    return {
        "graduating": False,
        "mobile": False,
        "delayed_graduation": False,
        "abroad_retention": False,
        "in_special_unit_db": branch_kind == OrgKind.SPECIAL_UNIT_DB.value,
    }


class InvalidTransferData(ApplicationError):
    def __init__(self, message: str) -> None:
        super().__init__(message, type=ErrorType.INVALID_TRANSFER_DATA, non_retryable=True)


class TransferActivities:
    def __init__(self, engine: AsyncEngine, client: Client | None = None) -> None:
        self.engine = engine
        self.client = client  # for the follow-up on the member's holdings (other workflows)
        self._org_id_cache: dict[str, int] = {}
        self._outbox = Outbox()  # the mail and webhook work of an event, in its transaction
        # the steps' upsert in the engine's dialect (PostgreSQL or SQLite), built once: its
        # `excluded` columns cost more to build than the statement costs to run
        upsert = (postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert)(ApprovalStep)
        self._upsert_steps = upsert.on_conflict_do_update(
            index_elements=["transfer_id", "round", "seq"], set_={f: upsert.excluded[f] for f in STEP_FIELDS}
        )

    @activity.defn
    async def follow_up_completion(self, f: CompletionFollowUp) -> None:
        """The follow-up as an activity of its own, as executions from before the completion
        event carried it still schedule it."""
        await self._follow_up(f)

    async def _follow_up(self, f: CompletionFollowUp) -> None:
        """The member left: end their holdings (mobile, county temp branch); when they arrived in
        a county-level temp branch, start its one-year holding (§I.1). Idempotent."""
        client = self.client
        if client is None:
            raise RuntimeError("TransferActivities needs a Temporal client for the holdings follow-up")
        await release_member_holdings(client, self.engine, f.member_id)
        async with session_factory(self.engine)() as session:
            branch = (await session.execute(select(Org).where(col(Org.code) == f.branch_code))).scalar_one()
            parent = await parent_of(session, branch)
        if is_county_temp_branch(branch, parent):
            await start_county_holding(
                client,
                self.engine,
                member_id=f.member_id,
                task_queue=activity.info().task_queue,
                started_at=f.completed_at,
                time_scale=get_settings().time_scale,
                request_id=f"{f.workflow_id}/{f.run_id}/county-holding",
            )

    @activity.defn
    async def apply_event(self, event: TransferEvent) -> int:
        """Persist one state change (once, however often retried); returns the transfer's row id.

        A completion's follow-up runs after its transaction, on every attempt (it is idempotent):
        an attempt that committed and then failed leaves it to the retry."""
        transfer_id = await apply_once(self.engine, event.key, lambda: self._apply(event), applied=int)
        if event.follow_up is not None:
            await self._follow_up(event.follow_up)
        return transfer_id

    @staticmethod
    def _audit_row(event: TransferEvent, transfer_id: int) -> dict[str, Any]:
        return audit_row(
            key=event.key,
            at=event.at,
            actor=event.actor,
            action=event.action,
            entity="transfer",
            entity_id=transfer_id,
            detail=event.detail,
        )

    async def _org_ids(self, conn: AsyncConnection, codes: set[str]) -> dict[str, int]:
        """Org ids by code; an org's id never changes, so they are kept for the process's life."""
        missing = codes - self._org_id_cache.keys()
        if missing:
            rows = await conn.execute(select(col(Org.code), col(Org.id)).where(col(Org.code).in_(missing)))
            self._org_id_cache.update((code, row_id(id_)) for code, id_ in rows)
        unknown = codes - self._org_id_cache.keys()
        if unknown:
            raise InvalidTransferData(f"unknown org codes {sorted(unknown)}")
        return {c: self._org_id_cache[c] for c in codes}

    async def _apply(self, event: TransferEvent) -> int:
        """One transaction of Core statements (this runs for every state change of every transfer)."""
        async with transaction(self.engine) as session:
            if event.create is None and event.transfer_id is not None:
                # Claim the event's key first: a retry of an applied event stops here (unique key;
                # apply_event finds the key and answers), the usual case costs no extra lookup.
                await session.execute(insert(AuditLog), [self._audit_row(event, event.transfer_id)])
            elif event.create is None:
                entity_id = await already_applied(session, event.key, event.action)
                if entity_id is not None:
                    return int(entity_id)

            codes = {s.org_code for s in event.steps} | {n.org_code for n in event.notifications if n.org_code}
            if event.current_node_org_code:
                codes.add(event.current_node_org_code)
            if event.create is not None:
                codes |= {event.create.from_org.code, event.create.target.code}
            for ref in (event.target, event.complete_branch):
                if ref is not None:
                    codes.add(ref.code)
            org_ids = await self._org_ids(session, codes)

            values: dict[str, Any] = {
                "status": event.status.value,
                "current_node_org_id": org_ids.get(event.current_node_org_code)
                if event.current_node_org_code
                else None,
                "updated_at": event.at,
            }
            if event.form is not None:
                values["form"] = event.form
            if event.target is not None:
                values["target_org_id"] = org_ids[event.target.code]
            if event.route is not None:
                values["route_clause"] = event.route.clause
                values["route_explanation"] = event.route.explanation
            if event.complete_branch is not None:
                values["branch_id"] = org_ids[event.complete_branch.code]
                values["completed_at"] = event.at

            if event.create is not None:
                c = event.create
                new_id = (
                    await session.execute(
                        insert(Transfer).returning(col(Transfer.id)),
                        [
                            {
                                "workflow_id": event.workflow_id,
                                "run_id": event.run_id,
                                "request_id": c.request_id,
                                "member_id": c.member_id,
                                "type": c.type.value,
                                "channel": c.channel.value,
                                "from_org_id": org_ids[c.from_org.code],
                                "target_org_id": org_ids[c.target.code],
                                "form": c.form,
                                "route_clause": c.route.clause,
                                "route_explanation": c.route.explanation,
                                "initiated_by": c.initiator.username,
                                "created_at": event.at,
                                **values,
                            }
                        ],
                    )
                ).scalar_one()
                transfer_id = row_id(new_id)
                member_id = c.member_id
            else:
                which = (
                    col(Transfer.id) == event.transfer_id
                    if event.transfer_id is not None
                    else col(Transfer.run_id) == event.run_id
                )
                row = (
                    await session.execute(
                        update(Transfer)
                        .where(which)
                        .values(**values)
                        .returning(col(Transfer.id), col(Transfer.member_id), col(Transfer.type))
                    )
                ).first()
                if row is None:
                    raise InvalidTransferData(f"no transfer row for run {event.run_id}")
                updated_id, member_id, transfer_type = row
                transfer_id = row_id(updated_id)

            if event.steps:
                # every step of the event in one statement: new ones inserted, known ones updated
                await session.execute(
                    self._upsert_steps,
                    [
                        {
                            "transfer_id": transfer_id,
                            "round": st.round,
                            "seq": st.seq,
                            "org_id": org_ids[st.org_code],
                            "status": st.status.value,
                            **{f: getattr(st, f) for f in STEP_FIELDS[2:]},
                        }
                        for st in event.steps
                    ],
                )

            if event.complete_branch is not None:
                branch_id = org_ids[event.complete_branch.code]
                old_branch = (
                    await session.execute(
                        select(col(Member.branch_id)).where(col(Member.id) == member_id).with_for_update()
                    )
                ).scalar_one()
                branch_kind = (
                    await session.execute(select(col(Org.kind)).where(col(Org.id) == branch_id))
                ).scalar_one()
                await session.execute(
                    update(Member)
                    .where(col(Member.id) == member_id)
                    .values(branch_id=branch_id, updated_at=event.at, **completion_flags(branch_kind))
                )
                await session.execute(
                    insert(MembershipHistory),
                    [
                        {
                            "member_id": member_id,
                            "from_branch_id": old_branch,
                            "to_branch_id": branch_id,
                            "transfer_id": transfer_id,
                            "reason": f"transfer:{event.create.type.value if event.create else transfer_type}",
                            "at": event.at,
                        }
                    ],
                )

            if event.notifications:
                # A notice naming an org's contact (`contact_org`: the workflow knows the org's code
                # and name only) gets it from the org's row now. `*`: the optional contact columns
                # are read when the database has them; without them, or unfilled, nothing is added.
                contacts: dict[str, str] = {}
                for code in {n.contact_org for n in event.notifications if n.contact_org}:
                    found = (
                        (
                            await session.execute(
                                select(literal_column("*")).select_from(Org).where(col(Org.code) == code)
                            )
                        )
                        .mappings()
                        .first()
                    )
                    org = dict(found) if found is not None else {}
                    lines = [
                        f"{label}：{org[c]}"
                        for c, label in (("contact_phone", "联系电话"), ("contact_address", "联系地址"))
                        if org.get(c)
                    ]
                    contacts[code] = "；".join(lines) + "。" if lines else ""
                await session.execute(
                    insert(Notification),
                    [
                        {
                            "key": f"{event.key}/{i}",
                            "kind": n.kind,
                            "recipient_org_id": org_ids.get(n.org_code) if n.org_code else None,
                            "recipient_user_id": None,
                            "member_id": member_id if n.to_member else None,
                            "transfer_id": transfer_id,
                            "title": n.title,
                            "body": n.body + contacts.get(n.contact_org or "", ""),
                            "created_at": event.at,
                            "read_at": None,
                        }
                        for i, n in enumerate(event.notifications)
                    ],
                )
            outbox = await self._outbox.rows(
                session,
                event_key=event.key,
                notifications=len(event.notifications),
                entity="transfer",
                entity_id=transfer_id,
                action=event.action,
                status=event.status.value,
                current_node_org_id=values["current_node_org_id"],
                at=event.at,
            )
            if outbox:
                await session.execute(insert(DeliveryOutbox), outbox)
            if not (event.create is None and event.transfer_id is not None):
                # a created transfer's key: its run id is unique, so a retry failed on the insert above
                await session.execute(insert(AuditLog), [self._audit_row(event, transfer_id)])
        log.info("event applied", action=event.action, status=event.status.value, key=event.key)
        return transfer_id
