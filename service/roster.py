"""The school's 学社衔接名册: its members (and those of the orgs below it), a page at a time or
"select all matching", each with what holds them now, to mark as 流动 / 延迟毕业 or release
(`service.bulk_members`). Read-only."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col

from domain import idcard
from domain.holdings import RetentionStatus
from domain.transfers import TransferStatus
from models import Member, Org, Transfer, row_id
from models.db import session_factory
from models.tables import AbroadRetention
from service.permissions import subtree_ids

ROSTER_PAGE_SIZE = 50


@dataclass(frozen=True)
class RosterFilter:
    q: str = ""  # 姓名 (contains) or a whole 身份证号
    branch: str = ""  # an org's code: its members and those of the orgs below it
    year: int | None = None  # graduation year


@dataclass(frozen=True)
class RosterItem:
    member_id: int
    name: str
    id_number_masked: str
    branch_code: str
    branch_name: str
    graduation_year: int | None
    flags: tuple[str, ...]  # what holds the member now, in Chinese


@dataclass(frozen=True)
class RosterPage:
    items: list[RosterItem]
    total: int
    page: int
    pages: int
    branches: list[tuple[str, str]]  # (code, name): the branches to filter by
    years: list[int]


def _roster_where(root_id: int, f: RosterFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [col(Member.branch_id).in_(subtree_ids(root_id))]
    q = f.q.strip()
    if q:
        nid = idcard.normalize(q)
        where.append(col(Member.id_number) == nid if len(nid) == 18 else col(Member.name).contains(q))
    if f.branch:
        chosen = select(col(Org.id)).where(col(Org.code) == f.branch).scalar_subquery()
        sub = select(col(Org.id)).where(col(Org.id) == chosen).cte("roster_branch", recursive=True)
        sub = sub.union_all(select(col(Org.id)).where(col(Org.parent_id) == sub.c.id))
        where.append(col(Member.branch_id).in_(select(sub.c.id)))
    if f.year is not None:
        where.append(col(Member.graduation_year) == f.year)
    return where


async def _roster_items(session: AsyncSession, rows: list[tuple[Member, Org]]) -> list[RosterItem]:
    ids = [row_id(m.id) for m, _ in rows]
    open_statuses = [s.value for s in TransferStatus if s.is_open]
    moving = set(
        (
            await session.execute(
                select(col(Transfer.member_id)).where(
                    col(Transfer.member_id).in_(ids), col(Transfer.status).in_(open_statuses)
                )
            )
        ).scalars()
    )
    pending = set(
        (
            await session.execute(
                select(col(AbroadRetention.member_id)).where(
                    col(AbroadRetention.member_id).in_(ids),
                    col(AbroadRetention.status) == RetentionStatus.PENDING.value,
                )
            )
        ).scalars()
    )

    def flags(m: Member) -> tuple[str, ...]:
        return tuple(
            label
            for on, label in (
                (m.mobile, "流动团员"),
                (m.delayed_graduation, "延迟毕业"),
                (m.abroad_retention, "出国（境）学习研究保留"),
                (m.id in pending, "保留申请待审批"),
                (m.id in moving, "转接办理中"),
                (m.in_special_unit_db, "特殊单位专属库"),
            )
            if on
        )

    return [
        RosterItem(
            member_id=row_id(m.id),
            name=m.name,
            id_number_masked=idcard.mask(m.id_number),
            branch_code=b.code,
            branch_name=b.name,
            graduation_year=m.graduation_year,
            flags=flags(m),
        )
        for m, b in rows
    ]


async def roster_page(
    engine: AsyncEngine, root_id: int, f: RosterFilter, *, page: int = 1, page_size: int = ROSTER_PAGE_SIZE
) -> RosterPage:
    """A page of the members of `root_id` and below matching `f` (by branch, then name), with the
    branches and graduation years to filter by."""
    where = _roster_where(root_id, f)
    async with session_factory(engine)() as session:
        total = (await session.execute(select(func.count(col(Member.id))).where(*where))).scalar_one()
        pages = max(1, -(-total // page_size))
        page = min(max(1, page), pages)
        rows = (
            await session.execute(
                select(Member, Org)
                .join(Org, col(Org.id) == Member.branch_id)
                .where(*where)
                .order_by(col(Org.code), col(Member.name), col(Member.id))
                .offset((page - 1) * page_size)
                .limit(page_size)
            )
        ).all()
        items = await _roster_items(session, [(m, b) for m, b in rows])
        branches = (
            await session.execute(
                select(col(Org.code), col(Org.name))
                .where(col(Org.id).in_(subtree_ids(root_id)), col(Org.branch_level).is_(True))
                .order_by(col(Org.code))
                .limit(500)
            )
        ).all()
        years = (
            (
                await session.execute(
                    select(col(Member.graduation_year))
                    .where(col(Member.branch_id).in_(subtree_ids(root_id)), col(Member.graduation_year).is_not(None))
                    .distinct()
                    .order_by(col(Member.graduation_year).desc())
                )
            )
            .scalars()
            .all()
        )
    return RosterPage(items, total, page, pages, [(c, n) for c, n in branches], [y for y in years if y is not None])


async def roster_member_ids(engine: AsyncEngine, root_id: int, f: RosterFilter, *, limit: int) -> tuple[list[int], int]:
    """ "Select all matching": the ids of the members matching `f` (at most `limit`, in the page's
    order) and how many match."""
    where = _roster_where(root_id, f)
    async with session_factory(engine)() as session:
        total = (await session.execute(select(func.count(col(Member.id))).where(*where))).scalar_one()
        ids = (
            await session.execute(
                select(col(Member.id))
                .join(Org, col(Org.id) == Member.branch_id)
                .where(*where)
                .order_by(col(Org.code), col(Member.name), col(Member.id))
                .limit(limit)
            )
        ).scalars()
        return [row_id(i) for i in ids], total


async def roster_members(engine: AsyncEngine, root_id: int, member_ids: list[int]) -> list[RosterItem]:
    """These members of `root_id` and below (others are left out), in the page's order."""
    if not member_ids:
        return []
    async with session_factory(engine)() as session:
        rows = (
            await session.execute(
                select(Member, Org)
                .join(Org, col(Org.id) == Member.branch_id)
                .where(col(Member.id).in_(sorted(set(member_ids))), col(Member.branch_id).in_(subtree_ids(root_id)))
                .order_by(col(Org.code), col(Member.name), col(Member.id))
            )
        ).all()
        return await _roster_items(session, [(m, b) for m, b in rows])
