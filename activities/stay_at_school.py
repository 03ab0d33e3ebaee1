"""The only writers of the §6 rows (abroad-study retentions, holdings): one idempotent activity per
workflow, each event applied in one transaction keyed by its unique key in the append-only audit
log (a retried activity finds its key and writes nothing twice): `activities.common.apply_once`,
as `apply_event` of transfers uses it.

Approval of a retention moves the member into the school's 出国（境）学习研究团员团支部 (created when
missing) and writes the membership history in the same transaction; the start of a mobile
holding does the same for 毕业学生流动团员团支部.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.common import already_applied, apply_once, audit_row
from activities.delivery import Outbox
from core.logging import get_logger
from domain.holdings import HoldingKind, HoldingStatus, RetentionStatus
from domain.orgs import OrgKind, rule_for
from messages.errors import ErrorType
from messages.stay_at_school import BranchSpec, HoldingEvent, RetentionEvent
from messages.transfers import NotificationSpec
from models.db import session_scope
from models.tables import (
    AbroadRetention,
    AuditLog,
    DeliveryOutbox,
    Holding,
    Member,
    MembershipHistory,
    Notification,
    Org,
    row_id,
    utcnow,
)

log = get_logger(__name__)


class InvalidStayData(ApplicationError):
    def __init__(self, message: str) -> None:
        super().__init__(message, type=ErrorType.INVALID_STAY_DATA, non_retryable=True)


async def find_or_create_branch(
    session: AsyncSession, spec: BranchSpec, *, at: datetime | None = None
) -> tuple[Org, bool]:
    """The school's special branch of `spec.kind`: the org with `spec.code`, else any child of
    that kind under the parent, else a new one (region and partition inherited from the parent).

    Returns (org, created). Two writers creating the same branch at once: the unique code makes
    the second fail and retry, then find it."""
    org = (await session.execute(select(Org).where(col(Org.code) == spec.code))).scalar_one_or_none()
    parent = (await session.execute(select(Org).where(col(Org.code) == spec.parent_code))).scalar_one_or_none()
    if parent is None:
        raise InvalidStayData(f"unknown org code {spec.parent_code}")
    if org is not None:
        if org.kind != spec.kind or org.parent_id != parent.id:
            raise InvalidStayData(f"org {spec.code} exists but is not a {spec.kind} under {spec.parent_code}")
        return org, False
    org = (
        (
            await session.execute(
                select(Org).where(col(Org.parent_id) == parent.id, col(Org.kind) == spec.kind).order_by(col(Org.id))
            )
        )
        .scalars()
        .first()
    )
    if org is not None:
        return org, False
    rule = rule_for(OrgKind(spec.kind))
    now = at or utcnow()
    org = Org(
        code=spec.code,
        name=spec.name,
        kind=spec.kind,
        parent_id=parent.id,
        partition=parent.partition,
        province=parent.province,
        city=parent.city,
        county=parent.county,
        township=parent.township,
        address=parent.address,
        branch_level=rule.branch_level,
        approval_authority=rule.approves,
        can_receive=True,
        created_at=now,
        updated_at=now,
    )
    session.add(org)
    await session.flush()
    log.info("special branch created", code=org.code, kind=org.kind, parent=spec.parent_code)
    return org, True


async def move_member(session: AsyncSession, member: Member, branch_id: int, reason: str, at: datetime) -> bool:
    """Move a (locked) member into a branch with a membership-history row; False if already there."""
    if member.branch_id == branch_id:
        return False
    session.add(
        MembershipHistory(
            member_id=row_id(member.id), from_branch_id=member.branch_id, to_branch_id=branch_id, reason=reason, at=at
        )
    )
    member.branch_id = branch_id
    member.updated_at = at
    return True


RowT = TypeVar("RowT", AbroadRetention, Holding)


async def _row_of_run(session: AsyncSession, model: type[RowT], run_id: str, what: str) -> RowT:
    """The row the first event of the workflow run created (one row per run)."""
    row = (await session.execute(select(model).where(col(model.run_id) == run_id))).scalar_one_or_none()
    if row is None:
        raise InvalidStayData(f"no {what} row for run {run_id}")
    return row


def _not_again(_entity_id: str) -> bool:
    """The answer for an event a concurrent attempt applied: nothing written by this one."""
    return False


class StayAtSchoolActivities:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._outbox = Outbox()  # the mail of an event's notifications, in its transaction

    # --- plumbing shared by both ---------------------------------------------------------------

    @staticmethod
    async def _org_ids(session: AsyncSession, codes: set[str]) -> dict[str, int]:
        codes = {c for c in codes if c}
        if not codes:
            return {}
        rows = await session.execute(select(col(Org.code), col(Org.id)).where(col(Org.code).in_(codes)))
        found = {code: row_id(id_) for code, id_ in rows}
        missing = codes - set(found)
        if missing:
            raise InvalidStayData(f"unknown org codes {sorted(missing)}")
        return found

    @staticmethod
    def _notifications(
        session: AsyncSession,
        key: str,
        specs: list[NotificationSpec],
        org_ids: dict[str, int],
        member_id: int,
        at: datetime,
    ) -> None:
        for i, n in enumerate(specs):
            session.add(
                Notification(
                    key=f"{key}/{i}",
                    kind=n.kind,
                    recipient_org_id=org_ids.get(n.org_code) if n.org_code else None,
                    member_id=member_id if n.to_member else None,
                    title=n.title,
                    body=n.body,
                    created_at=at,
                )
            )

    @staticmethod
    def _audit(session: AsyncSession, event: RetentionEvent | HoldingEvent, entity: str, entity_id: int) -> None:
        session.add(
            AuditLog(
                **audit_row(
                    key=event.key,
                    at=event.at,
                    actor=event.actor,
                    action=event.action,
                    entity=entity,
                    entity_id=entity_id,
                    detail=event.detail,
                )
            )
        )

    async def _apply(
        self,
        event: RetentionEvent | HoldingEvent,
        entity: str,
        create_codes: set[str],
        write: Callable[[AsyncSession, dict[str, int]], Awaitable[AbroadRetention | Holding]],
    ) -> bool:
        """Apply one event once, in one transaction: `write` creates or finds its row and changes it
        (the org codes of the event's notifications and `create_codes` resolved to ids), then the
        notifications and the audit row; False when applied already."""

        async def transaction() -> bool:
            async with session_scope(self.engine) as session:
                if await already_applied(session, event.key, event.action) is not None:
                    return False
                codes = {n.org_code for n in event.notifications if n.org_code} | create_codes
                org_ids = await self._org_ids(session, codes)
                row = await write(session, org_ids)
                self._notifications(session, event.key, event.notifications, org_ids, row.member_id, event.at)
                outbox = await self._outbox.rows(
                    session,
                    event_key=event.key,
                    notifications=len(event.notifications),
                    entity=entity,
                    entity_id=row_id(row.id),
                    action=event.action,
                    status=event.status.value,
                    at=event.at,
                )
                session.add_all(DeliveryOutbox(**r) for r in outbox)
                self._audit(session, event, entity, row_id(row.id))
            log.info("event applied", action=event.action, status=event.status.value, key=event.key)
            return True

        return await apply_once(self.engine, event.key, transaction, applied=_not_again)

    # --- abroad-study retention ----------------------------------------------------------------

    @activity.defn
    async def apply_retention_event(self, event: RetentionEvent) -> bool:
        """Persist one state change of a retention application; False when applied already."""
        c = event.create
        codes = {c.school.code, c.from_branch.code} if c is not None else set()
        return await self._apply(event, "abroad_retention", codes, partial(self._write_retention, event))

    async def _write_retention(
        self, event: RetentionEvent, session: AsyncSession, org_ids: dict[str, int]
    ) -> AbroadRetention:
        if event.create is not None:
            c = event.create
            row = AbroadRetention(
                workflow_id=event.workflow_id,
                run_id=event.run_id,
                request_id=c.request_id,
                member_id=c.member_id,
                school_id=org_ids[c.school.code],
                from_branch_id=org_ids[c.from_branch.code],
                abroad_place=c.form.abroad_place,
                abroad_from=c.form.abroad_from,
                abroad_to=c.form.abroad_to,
                contact_name=c.form.contact_name,
                contact_phone=c.form.contact_phone,
                status=event.status.value,
                initiated_by=c.initiator.username,
                submitted_at=event.at,
                created_at=event.at,
                updated_at=event.at,
            )
            session.add(row)
            await session.flush()
        else:
            row = await _row_of_run(session, AbroadRetention, event.run_id, "retention")

        row.status = event.status.value
        row.updated_at = event.at
        for name in ("remind_at", "deadline", "reminded_at", "decided_at", "decided_by", "comment", "reason_code"):
            value = getattr(event, name)
            if value is not None:
                setattr(row, name, value)
        if event.action == "retention.auto_approved":
            row.auto_approved = True

        if event.approve_into is not None and event.status == RetentionStatus.APPROVED:
            branch, _created = await find_or_create_branch(session, event.approve_into, at=event.at)
            member = await session.get_one(Member, row.member_id, with_for_update=True)
            await move_member(session, member, row_id(branch.id), "abroad_study_retention", event.at)
            member.abroad_retention = True
            member.updated_at = event.at
            row.branch_id = branch.id
            row.registered_at = event.at  # 登记造册备案
        return row

    # --- holdings ------------------------------------------------------------------------------

    @activity.defn
    async def apply_holding_event(self, event: HoldingEvent) -> bool:
        """Persist one state change of a holding; False when applied already."""
        c = event.create
        codes = {c.notify_org.code, c.from_branch.code} if c is not None else set()
        return await self._apply(event, "holding", codes, partial(self._write_holding, event))

    async def _write_holding(self, event: HoldingEvent, session: AsyncSession, org_ids: dict[str, int]) -> Holding:
        if event.create is not None:
            c = event.create
            if event.due_at is None:
                raise InvalidStayData(f"the start of holding {event.workflow_id} has no due date")
            if c.move_in:
                branch, _created = await find_or_create_branch(session, c.branch, at=event.at)
                branch_id = row_id(branch.id)
            else:
                branch_id = (await self._org_ids(session, {c.branch.code}))[c.branch.code]
            member = await session.get(Member, c.member_id, with_for_update=True)
            if member is None:
                raise InvalidStayData(f"no member {c.member_id}")
            if c.move_in:
                await move_member(session, member, branch_id, f"holding:{c.kind.value}", event.at)
            if c.kind == HoldingKind.MOBILE:
                member.mobile = True
                member.updated_at = event.at
            row = Holding(
                workflow_id=event.workflow_id,
                run_id=event.run_id,
                request_id=c.request_id,
                member_id=c.member_id,
                kind=c.kind.value,
                org_id=branch_id,
                notify_org_id=org_ids[c.notify_org.code],
                from_branch_id=org_ids[c.from_branch.code],
                status=event.status.value,
                started_at=event.started_at or event.at,
                due_at=event.due_at,
                started_by=c.started_by.username,
                created_at=event.at,
                updated_at=event.at,
            )
            session.add(row)
            await session.flush()
        else:
            row = await _row_of_run(session, Holding, event.run_id, "holding")

        row.status = event.status.value
        row.updated_at = event.at
        if event.reminders_sent is not None:
            row.reminders_sent = event.reminders_sent
            row.last_reminded_at = event.at
        if event.overdue_at is not None:
            row.overdue_at = event.overdue_at
        if event.status == HoldingStatus.RELEASED:
            row.released_at = event.released_at or event.at
            row.released_by = event.actor
            row.release_reason = event.release_reason
            row.transfer_workflow_id = event.transfer_workflow_id
            if row.kind == HoldingKind.MOBILE.value:
                held = await session.get_one(Member, row.member_id, with_for_update=True)
                held.mobile = False
                held.updated_at = event.at
        return row
