"""The only writer of transfer state: one idempotent activity applying a TransferEvent.

Each event is applied in one transaction keyed by the event's unique key in the append-only
audit log: a retried activity finds its key and writes nothing twice. The completion event moves
the member, writes the membership history and marks the transfer done in the same transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.logging import get_logger
from messages.transfers import CompletionFollowUp, NodeState, TransferEvent

log = get_logger(__name__)


class InvalidTransferData(ApplicationError):
    def __init__(self, message: str) -> None:
        super().__init__(message, type="InvalidTransferData", non_retryable=True)


class TransferActivities:
    def __init__(self, engine: AsyncEngine, client=None) -> None:
        self.engine = engine
        self.client = client  # for the follow-up on the member's holdings (other workflows)

    @activity.defn
    async def follow_up_completion(self, f: CompletionFollowUp) -> None:
        """The member left: end their holdings (mobile, county temp branch); when they arrived in
        a county-level temp branch, start its one-year holding (§I.1). Idempotent."""
        from core.settings import get_settings
        from service.stay_at_school import release_member_holdings, start_county_holding

        await release_member_holdings(self.client, self.engine, f.member_id)
        from models import Org
        from models.db import session_factory

        async with session_factory(self.engine)() as session:
            branch = (await session.execute(select(Org).where(Org.code == f.branch_code))).scalar_one()
            parent = await session.get(Org, branch.parent_id) if branch.parent_id else None
        if branch.kind == "temp_branch" and parent is not None and parent.kind == "county":
            await start_county_holding(
                self.client,
                self.engine,
                member_id=f.member_id,
                task_queue=activity.info().task_queue,
                started_at=f.completed_at,
                time_scale=get_settings().time_scale,
                request_id=f"{f.workflow_id}/{f.run_id}/county-holding",
            )

    @activity.defn
    async def apply_event(self, event: TransferEvent) -> int:
        """Persist one state change (once, however often retried); returns the transfer's row id."""
        try:
            return await self._apply(event)
        except IntegrityError:
            # A concurrent attempt of the same event committed first: its key now exists.
            applied = await self._applied(event.key)
            if applied is not None:
                return applied
            raise

    async def _applied(self, key: str) -> int | None:
        """The transfer id recorded with this event key, if the event was applied."""
        from models import AuditLog
        from models.db import session_factory

        async with session_factory(self.engine)() as session:
            entity_id = (await session.execute(select(AuditLog.entity_id).where(AuditLog.key == key))).scalar()
        return int(entity_id) if entity_id is not None else None

    async def _apply(self, event: TransferEvent) -> bool:
        from models import ApprovalStep, AuditLog, Member, MembershipHistory, Notification, Org, Transfer
        from models.db import session_scope

        async with session_scope(self.engine) as session:
            entity_id = (await session.execute(select(AuditLog.entity_id).where(AuditLog.key == event.key))).scalar()
            if entity_id is not None:
                log.info("event already applied", key=event.key, action=event.action)
                return int(entity_id)

            codes = {s.org_code for s in event.steps} | {n.org_code for n in event.notifications if n.org_code}
            if event.current_node_org_code:
                codes.add(event.current_node_org_code)
            if event.create is not None:
                codes |= {event.create.from_org.code, event.create.target.code}
            for ref in (event.target, event.complete_branch):
                if ref is not None:
                    codes.add(ref.code)
            org_ids: dict[str, int] = {}
            if codes:
                rows = await session.execute(select(Org.code, Org.id).where(Org.code.in_(codes)))
                org_ids = {code: id_ for code, id_ in rows}
            missing = codes - set(org_ids)
            if missing:
                raise InvalidTransferData(f"unknown org codes {sorted(missing)}")

            if event.create is not None:
                c = event.create
                transfer = Transfer(
                    workflow_id=event.workflow_id,
                    run_id=event.run_id,
                    request_id=c.request_id,
                    member_id=c.member_id,
                    type=c.type.value,
                    channel=c.channel.value,
                    status=event.status.value,
                    from_org_id=org_ids[c.from_org.code],
                    target_org_id=org_ids[c.target.code],
                    form=c.form,
                    route_clause=c.route.clause,
                    route_explanation=c.route.explanation,
                    initiated_by=c.initiator.username,
                    created_at=event.at,
                    updated_at=event.at,
                )
                session.add(transfer)
                await session.flush()
            else:
                transfer = (
                    await session.execute(select(Transfer).where(Transfer.run_id == event.run_id))
                ).scalar_one_or_none()
                if transfer is None:
                    raise InvalidTransferData(f"no transfer row for run {event.run_id}")

            transfer.status = event.status.value
            transfer.current_node_org_id = org_ids.get(event.current_node_org_code) if event.current_node_org_code else None
            transfer.updated_at = event.at
            if event.form is not None:
                transfer.form = event.form
            if event.target is not None:
                transfer.target_org_id = org_ids[event.target.code]
            if event.route is not None:
                transfer.route_clause = event.route.clause
                transfer.route_explanation = event.route.explanation

            await self._write_steps(session, transfer.id, event.steps, org_ids, ApprovalStep)

            if event.complete_branch is not None:
                member = await session.get(Member, transfer.member_id, with_for_update=True)
                branch_id = org_ids[event.complete_branch.code]
                session.add(
                    MembershipHistory(
                        member_id=member.id,
                        from_branch_id=member.branch_id,
                        to_branch_id=branch_id,
                        transfer_id=transfer.id,
                        reason=f"transfer:{transfer.type}",
                        at=event.at,
                    )
                )
                member.branch_id = branch_id
                member.updated_at = event.at
                transfer.branch_id = branch_id
                transfer.completed_at = event.at

            for i, n in enumerate(event.notifications):
                session.add(
                    Notification(
                        key=f"{event.key}/{i}",
                        kind=n.kind,
                        recipient_org_id=org_ids.get(n.org_code) if n.org_code else None,
                        member_id=transfer.member_id if n.to_member else None,
                        transfer_id=transfer.id,
                        title=n.title,
                        body=n.body,
                        created_at=event.at,
                    )
                )
            session.add(
                AuditLog(
                    key=event.key,
                    at=event.at,
                    actor=event.actor,
                    action=event.action,
                    entity="transfer",
                    entity_id=str(transfer.id),
                    detail=_json_safe(event.detail),
                )
            )
        log.info("event applied", action=event.action, status=event.status.value, key=event.key)
        return transfer.id

    @staticmethod
    async def _write_steps(session, transfer_id, steps: list[NodeState], org_ids, ApprovalStep) -> None:
        for s in steps:
            row = (
                await session.execute(
                    select(ApprovalStep).where(
                        ApprovalStep.transfer_id == transfer_id,
                        ApprovalStep.round == s.round,
                        ApprovalStep.seq == s.seq,
                    )
                )
            ).scalar_one_or_none()
            if row is None:
                row = ApprovalStep(transfer_id=transfer_id, round=s.round, seq=s.seq, org_id=org_ids[s.org_code], status=s.status.value)
                session.add(row)
            row.org_id = org_ids[s.org_code]
            row.status = s.status.value
            row.started_at = s.started_at
            row.remind_at = s.remind_at
            row.deadline = s.deadline
            row.reminded_at = s.reminded_at
            row.decided_at = s.decided_at
            row.decided_by = s.decided_by
            row.reason_code = s.reason_code
            row.comment = s.comment
        await session.flush()



def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
