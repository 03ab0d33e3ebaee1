"""The look-ups the §6 flows that keep a member at school share: the member with their school, the
school's special branch, who may act for the school, and the refusals of one flow at a time (a
transfer in progress, a retention application pending)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from domain.directory import Directory, OrgInfo
from domain.holdings import RetentionStatus, school_placement
from domain.orgs import OrgKind
from domain.transfers import ActorKind, TransferStatus
from messages.stay_at_school import BranchSpec
from messages.transfers import Actor
from models import Member, Org, Transfer, row_id
from models.directory import load_with_ancestors, org_info
from models.tables import AbroadRetention
from service.errors import refuse

OPEN_TRANSFER_STATUSES = tuple(s.value for s in TransferStatus if s.is_open)


async def member_and_school(session: AsyncSession, member_id: int) -> tuple[Member, Directory, OrgInfo, OrgInfo]:
    """The member, the directory around their branch, their branch and their school."""
    member = await session.get(Member, member_id)
    if member is None:
        raise refuse(404, "member", "团员不存在")
    branch = await session.get_one(Org, member.branch_id)
    directory = await load_with_ancestors(session, [branch.code])
    info = directory[branch.code]
    school = directory.nearest(info, OrgKind.SCHOOL)
    if school is None and member.school_id is not None:
        own = await session.get(Org, member.school_id)
        if own is not None and own.kind == OrgKind.SCHOOL:
            directory = await load_with_ancestors(session, [branch.code, own.code])
            school = directory[own.code]
    if school is None:
        raise refuse(422, "member", f"{member.name}不在学校团组织中")
    return member, directory, info, school


async def school_branch(session: AsyncSession, school: OrgInfo, kind: OrgKind) -> BranchSpec:
    """The school's existing branch of a special kind, or the spec of the one to create."""
    school_id = (await session.execute(select(col(Org.id)).where(col(Org.code) == school.code))).scalar_one()
    children = (
        (await session.execute(select(Org).where(col(Org.parent_id) == school_id, col(Org.kind) == kind.value)))
        .scalars()
        .all()
    )
    p = school_placement(kind, school, [org_info(c, school.code) for c in children])
    return BranchSpec(code=p.code, name=p.name, kind=kind.value, parent_code=school.code)


async def check_no_open_transfer(session: AsyncSession, member: Member) -> None:
    """409 while the member has a transfer in progress."""
    open_transfer = (
        (
            await session.execute(
                select(Transfer).where(
                    col(Transfer.member_id) == member.id, col(Transfer.status).in_(OPEN_TRANSFER_STATUSES)
                )
            )
        )
        .scalars()
        .first()
    )
    if open_transfer is not None:
        raise refuse(409, "member", f"{member.name}有正在办理的组织关系转接，请先撤回")


async def retention_pending(session: AsyncSession, member_id: int) -> bool:
    found = await session.execute(
        select(col(AbroadRetention.id)).where(
            col(AbroadRetention.member_id) == member_id, col(AbroadRetention.status) == RetentionStatus.PENDING.value
        )
    )
    return found.first() is not None


async def check_no_pending_retention(session: AsyncSession, member: Member) -> None:
    """409 while the member's abroad-study retention application waits for the school (one flow
    at a time)."""
    if await retention_pending(session, row_id(member.id)):
        raise refuse(409, "member", f"{member.name}有待审批的出国（境）学习研究保留团组织关系申请，请先撤回或等待审批")


def check_school_actor(actor: Actor, school: OrgInfo, *, what: str) -> None:
    if actor.kind not in (ActorKind.ORG_ADMIN, ActorKind.SERVICE) or actor.org_code != school.code:
        raise refuse(403, "actor", f"只有{school.name}（或其上级团委）的管理员可以{what}")


def school_of(directory: Directory, branch: OrgInfo, member: Member) -> OrgInfo | None:
    """The member's school: above their branch, else the school the member row names."""
    school = directory.nearest(branch, OrgKind.SCHOOL)
    if school is None and member.school_id is not None:
        own = directory.by_id(member.school_id)
        if own is not None and own.kind == OrgKind.SCHOOL:
            school = own
    return school
