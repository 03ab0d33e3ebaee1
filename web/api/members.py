"""Marking members kept at school (§6) over REST, many at once: 流动 (§I.4), 延迟毕业 (§I.7), and
ending a retention or a delayed graduation. One outcome per member, in order, as the bulk start
answers its rows; a refused member changes nothing and does not stop the others."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from service import bulk_members
from web.api import schemas as s
from web.api.retentions import flows
from web.api.routes import CurrentUser

router = APIRouter(prefix="/api/members", tags=["members"])


def _results(outcomes: list[bulk_members.MemberOutcome]) -> dict[str, Any]:
    return {"results": [o.as_dict() for o in outcomes]}


@router.post("/mark-mobile", response_model=s.MemberOutcomes)
async def mark_mobile(body: s.MembersRequest, request: Request, user: CurrentUser) -> dict[str, Any]:
    """§I.4: the school (or an admin above it) marks unemployed graduates kept at school and puts
    them into its 毕业学生流动团员团支部 (a holding, reminded before its end, overdue after): from
    07-25 of the graduation year (the calendar clock), until 6 months after graduation. 201 for a
    holding started, 200 for one already open."""
    return _results(await bulk_members.mark_mobile_members(await flows(request), user, id_numbers=body.id_numbers))


@router.post("/mark-delayed", response_model=s.MemberOutcomes)
async def mark_delayed(body: s.MarkDelayedRequest, request: Request, user: CurrentUser) -> dict[str, Any]:
    """§I.7: the school marks students whose graduation is delayed and moves them into its
    延迟毕业团支部 (created when first needed) with the expected graduation year."""
    f = await flows(request, temporal=False)
    return _results(
        await bulk_members.mark_delayed_members(f, user, body.expected_graduation_year, id_numbers=body.id_numbers)
    )


@router.post("/release", response_model=s.MemberOutcomes)
async def release(body: s.ReleaseRequest, request: Request, user: CurrentUser) -> dict[str, Any]:
    """Ends what keeps members at school and clears their flags: `abroad_study`, the member is back
    from abroad (out of the 出国（境）学习研究团员团支部 and the register, back to the branch they
    applied from); `delayed`, the student graduates after all (back to the branch they were marked
    from, graduating, with `graduation_year` when given). `branch_code` names another branch of the
    school. `mobile` and `county_temp` are refused (422): those holdings end by a transfer out."""
    f = await flows(request, temporal=False)
    return _results(
        await bulk_members.release_members(
            f,
            user,
            body.kind,
            id_numbers=body.id_numbers,
            branch_code=body.branch_code,
            graduation_year=body.graduation_year,
        )
    )
