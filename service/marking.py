"""The §6 changes made in one transaction, no workflow (nothing waits or is decided).

- delayed graduation (§I.7): `mark_delayed_graduation` moves the member into the school's
  延迟毕业团支部, `release_delayed` back among the graduating;
- back from abroad: `release_retention` ends the abroad-study retention in force.

Callers check who acts first and pass the `Actor`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col

from activities.stay_at_school import find_or_create_branch, move_member
from domain.directory import OrgInfo
from domain.holdings import RetentionStatus
from domain.orgs import OrgKind
from messages.transfers import Actor
from models import AuditLog, Member, MembershipHistory, Notification, Org, row_id, utcnow
from models.db import session_scope
from models.directory import load_with_ancestors
from models.tables import AbroadRetention
from service.errors import refuse
from service.school_lookups import (
    check_no_open_transfer,
    check_no_pending_retention,
    check_school_actor,
    member_and_school,
    school_branch,
)


@dataclass
class DelayedResult:
    member_id: int
    branch_code: str
    branch_name: str
    branch_created: bool  # the school's 延迟毕业团支部 was created by this call
    changed: bool  # False when the member was marked and in the branch already


async def mark_delayed_graduation(
    engine: AsyncEngine,
    *,
    member_id: int,
    actor: Actor,
    graduation_year: int | None = None,
    now: datetime | None = None,
) -> DelayedResult:
    """§I.7: mark the member as delayed and move them into the school's 延迟毕业团支部, created
    when first needed (``<school>-DLY``). One transaction with a membership-history row and an
    audit row. Marking a member who is marked and in the branch already changes nothing."""
    now = now or utcnow()
    for attempt in (1, 2):
        try:
            return await _mark_delayed(engine, member_id, actor, graduation_year, now)
        except IntegrityError:
            # another marking created the school's branch at the same moment: find it this time
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _mark_delayed(
    engine: AsyncEngine, member_id: int, actor: Actor, graduation_year: int | None, now: datetime
) -> DelayedResult:
    async with session_scope(engine) as session:
        member, _directory, _branch, school = await member_and_school(session, member_id)
        check_school_actor(actor, school, what="标记延迟毕业学生")
        member = await session.get_one(Member, member_id, with_for_update=True)
        if graduation_year is not None and graduation_year < (member.graduation_year or graduation_year):
            raise refuse(422, "graduation_year", "延迟后的毕业年份不能早于原毕业年份")
        spec = await school_branch(session, school, OrgKind.DELAYED_BRANCH)
        if (
            member.delayed_graduation
            and (await session.get_one(Org, member.branch_id)).code == spec.code
            and (graduation_year is None or member.graduation_year == graduation_year)
        ):
            return DelayedResult(member_id, spec.code, spec.name, branch_created=False, changed=False)
        if member.mobile:
            raise refuse(409, "member", f"{member.name}已编入毕业学生流动团员团支部，不能标记为延迟毕业")
        if member.abroad_retention:
            raise refuse(409, "member", f"{member.name}已保留团组织关系并编入出国（境）学习研究团员团支部")
        await check_no_open_transfer(session, member)
        await check_no_pending_retention(session, member)
        branch, created = await find_or_create_branch(session, spec, at=now)
        from_branch_id = member.branch_id
        await move_member(session, member, row_id(branch.id), "delayed_graduation", now)
        before_year = member.graduation_year
        member.delayed_graduation = True
        member.graduating = False
        if graduation_year is not None:
            member.graduation_year = graduation_year
        member.updated_at = now
        session.add(
            AuditLog(
                key=f"member/{member.id}/delayed_graduation/{uuid.uuid4().hex}",
                at=now,
                actor=actor.username,
                action="member.delayed_graduation",
                entity="member",
                entity_id=str(member.id),
                detail={
                    "school": school.code,
                    "branch": branch.code,
                    "branch_created": created,
                    "from_branch_id": from_branch_id,
                    "graduation_year": [before_year, member.graduation_year],
                },
            )
        )
        return DelayedResult(member_id, branch.code, branch.name, branch_created=created, changed=True)


# --- ending a retention or a delayed graduation ---------------------------------------------------


@dataclass
class ReleaseResult:
    member_id: int
    branch_code: str  # where the member is now
    branch_name: str


async def _back_branch(
    session: AsyncSession, school: OrgInfo, *, branch_code: str | None, default_id: int | None, what: str
) -> Org:
    """The ordinary branch of the school a released member goes back to: the one named, else the
    one they came from (`default_id`). 422 `branch_code` when there is none or it does not fit."""
    if branch_code:
        org = (await session.execute(select(Org).where(col(Org.code) == branch_code))).scalar_one_or_none()
        if org is None:
            raise refuse(422, "branch_code", f"团支部 {branch_code} 不存在")
    else:
        org = await session.get(Org, default_id) if default_id is not None else None
        if org is None:
            raise refuse(422, "branch_code", f"请指定{what}后转回的团支部（branch_code）")
    directory = await load_with_ancestors(session, [org.code])
    info = directory[org.code]
    if org.kind != OrgKind.BRANCH or org.new_student or not directory.is_ancestor(school.code, info):
        raise refuse(422, "branch_code", f"{org.name}不是{school.name}的毕业班团支部，请指定转回的团支部")
    return org


def _release_audit(
    actor: Actor, action: str, entity: str, entity_id: int, now: datetime, detail: dict[str, Any]
) -> AuditLog:
    return AuditLog(
        key=f"{entity}/{entity_id}/{action}/{uuid.uuid4().hex}",
        at=now,
        actor=actor.username,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        detail=detail,
    )


async def release_retention(
    engine: AsyncEngine,
    *,
    member_id: int,
    actor: Actor,
    branch_code: str | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> ReleaseResult:
    """The member is back from abroad: the retention in force ends, the member leaves the
    出国（境）学习研究团员团支部 for the branch they applied from (or `branch_code`), is no longer
    marked, and leaves the register; a transfer may then be started for them. One transaction with
    a membership-history row, an audit row on the application and a notice to the member."""
    now = now or utcnow()
    async with session_scope(engine) as session:
        member, _directory, _branch, school = await member_and_school(session, member_id)
        check_school_actor(actor, school, what="解除出国（境）学习研究保留团组织关系")
        member = await session.get_one(Member, member_id, with_for_update=True)
        r = (
            (
                await session.execute(
                    select(AbroadRetention)
                    .where(
                        col(AbroadRetention.member_id) == member_id,
                        col(AbroadRetention.status) == RetentionStatus.APPROVED.value,
                    )
                    .order_by(col(AbroadRetention.id).desc())
                )
            )
            .scalars()
            .first()
        )
        if not member.abroad_retention or r is None or r.branch_id != member.branch_id:
            raise refuse(409, "id_number", f"{member.name}没有保留中的出国（境）学习研究团组织关系，无需解除")
        back = await _back_branch(session, school, branch_code=branch_code, default_id=r.from_branch_id, what="回国")
        await move_member(session, member, row_id(back.id), "abroad_study_released", now)
        member.abroad_retention = False
        member.updated_at = now
        session.add(
            _release_audit(
                actor,
                "retention.released",
                "abroad_retention",
                row_id(r.id),
                now,
                {"branch": back.code, "reason": reason, "member": member_id},
            )
        )
        session.add(
            Notification(
                key=f"{r.workflow_id}/{r.run_id}/released/{uuid.uuid4().hex[:8]}",
                kind="retention_update",
                member_id=member_id,
                title="出国（境）学习研究保留团组织关系已解除",
                body=f"{school.name}已解除您的保留团组织关系，您已转回{back.name}。",
                created_at=now,
            )
        )
        return ReleaseResult(member_id, back.code, back.name)


async def release_delayed(
    engine: AsyncEngine,
    *,
    member_id: int,
    actor: Actor,
    branch_code: str | None = None,
    graduation_year: int | None = None,
    now: datetime | None = None,
) -> ReleaseResult:
    """The delayed student graduates after all: out of the 延迟毕业团支部, back to the branch they
    were marked from (or `branch_code`), graduating with their new graduation year (the one
    marked, or `graduation_year`). One transaction with a membership-history row and an audit row."""
    now = now or utcnow()
    async with session_scope(engine) as session:
        member, _directory, _branch, school = await member_and_school(session, member_id)
        check_school_actor(actor, school, what="解除延迟毕业标记")
        member = await session.get_one(Member, member_id, with_for_update=True)
        if not member.delayed_graduation:
            raise refuse(409, "id_number", f"{member.name}没有标记为延迟毕业，无需解除")
        if graduation_year is not None and member.graduation_year and graduation_year < member.graduation_year:
            raise refuse(422, "graduation_year", "毕业年份不能早于标记延迟毕业时的预计毕业年份")
        came_from = (
            await session.execute(
                select(col(MembershipHistory.from_branch_id))
                .where(
                    col(MembershipHistory.member_id) == member_id,
                    col(MembershipHistory.reason) == "delayed_graduation",
                )
                .order_by(col(MembershipHistory.at).desc(), col(MembershipHistory.id).desc())
            )
        ).scalar()
        back = await _back_branch(session, school, branch_code=branch_code, default_id=came_from, what="解除延迟毕业")
        before = (member.branch_id, member.graduation_year)
        await move_member(session, member, row_id(back.id), "delayed_graduation_released", now)
        member.delayed_graduation = False
        member.graduating = True
        if graduation_year is not None:
            member.graduation_year = graduation_year
        member.updated_at = now
        session.add(
            _release_audit(
                actor,
                "member.delayed_released",
                "member",
                member_id,
                now,
                {
                    "school": school.code,
                    "branch": back.code,
                    "from_branch_id": before[0],
                    "graduation_year": [before[1], member.graduation_year],
                },
            )
        )
        return ReleaseResult(member_id, back.code, back.name)
