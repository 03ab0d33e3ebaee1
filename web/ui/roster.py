"""学社衔接名册: the school's members, to mark as 流动团员 (§I.4) or 延迟毕业 (§I.7) or to release
(back from abroad, or graduating after all).

Choose members (search by 姓名/身份证号, filter by branch and graduation year), across pages: the
page is one POST form carrying the choice (`sel`: chosen on other pages, `shown`: this page's
members, the ticked `member_id`s), or "select all matching" (`all_matching`: every member the
filter finds, up to the bulk limit). An action goes to a confirmation page listing the members,
then to a result table, one row per member (`service.bulk_members`' outcomes)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from service import bulk_members, pages
from service.errors import Problem, ServiceError
from service.roster import RosterFilter, roster_member_ids, roster_members, roster_page
from web.ui.context import OrgAdminOnly, int_or, render, ui_router
from web.ui.retentions import flows_of

router = ui_router()

#: action → (button, what it does, the register it fills).
ACTIONS: dict[str, tuple[str, str, str | None]] = {
    "mobile": (
        "标记为流动团员",
        "未就业、在原就读学校保留团组织关系的毕业生：编入毕业学生流动团员团支部集中管理（《通知》一、4，7月25日后，毕业后一般不超过6个月）。",
        "mobile",
    ),
    "delayed": (
        "标记为延迟毕业",
        "延迟毕业的学生团员：编入学校的延迟毕业团支部集中管理（《通知》一、7），并记录预计毕业年份。",
        "delayed",
    ),
    "release_abroad": (
        "解除出国保留（回国）",
        "出国（境）学习研究回国的团员：解除保留团组织关系，转回申请时所在团支部，移出登记册，此后可办理组织关系转接。",
        "abroad_study",
    ),
    "release_delayed": (
        "解除延迟毕业",
        "延迟毕业的学生按新的毕业年份毕业：转回毕业班团支部，恢复毕业学生团员身份。",
        "delayed",
    ),
}


def _ids(values: list[Any]) -> list[int]:
    out: list[int] = []
    for v in values:
        for part in str(v).split(","):
            n = int_or(part.strip())
            if n is not None and n > 0 and n not in out:
                out.append(n)
    return out


def _filter(form: Any) -> RosterFilter:
    year = int_or(form.get("year"))
    return RosterFilter(
        q=str(form.get("q") or "").strip()[:100], branch=str(form.get("branch") or "").strip()[:64], year=year
    )


def _selection(form: Any) -> list[int]:
    """The members chosen: those chosen on other pages, and this page's ticked ones."""
    shown = set(_ids(form.getlist("shown")))
    kept = [i for i in _ids(form.getlist("sel")) if i not in shown]
    return kept + [i for i in _ids(form.getlist("member_id")) if i not in kept]


async def _page(
    request: Request,
    admin: pages.OrgAdmin,
    f: RosterFilter,
    *,
    page: int = 1,
    selected: list[int] | None = None,
    problems: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    p = await roster_page(request.app.state.engine, admin.org.id or 0, f, page=page)
    selected = selected or []
    shown = [i.member_id for i in p.items]
    return render(
        request,
        "roster.html",
        status_code=status_code,
        p=p,
        f=f,
        selected=set(selected),
        others=",".join(str(i) for i in selected if i not in shown),
        shown=",".join(str(i) for i in shown),
        count=len(selected),
        actions=ACTIONS,
        problems=problems or [],
        limit=bulk_members.MAX_BULK_MEMBERS,
    )


@router.get("/roster", response_class=HTMLResponse)
async def roster(request: Request, admin: OrgAdminOnly) -> Response:
    q = request.query_params
    f = RosterFilter(branch=(q.get("branch") or "")[:64], year=int_or(q.get("year")))
    return await _page(request, admin, f, page=int_or(q.get("page"), 1) or 1)


@router.post("/roster", response_class=HTMLResponse)
async def roster_post(request: Request, admin: OrgAdminOnly) -> Response:
    form = await request.form()
    return await _page(request, admin, _filter(form), page=int_or(form.get("page"), 1) or 1, selected=_selection(form))


@router.post("/roster/confirm", response_class=HTMLResponse)
async def confirm(request: Request, admin: OrgAdminOnly) -> Response:
    """The members an action would apply to, for the admin to confirm."""
    form = await request.form()
    f, engine = _filter(form), request.app.state.engine
    action = str(form.get("action") or "")
    selected = _selection(form)
    if action not in ACTIONS:
        return await _page(request, admin, f, selected=selected, problems=["请选择要办理的操作"], status_code=422)
    limit = bulk_members.MAX_BULK_MEMBERS
    if form.get("all_matching"):
        selected, total = await roster_member_ids(engine, admin.org.id or 0, f, limit=limit)
        if total > limit:
            return await _page(
                request,
                admin,
                f,
                problems=[f"符合条件的团员有 {total} 名，一次最多办理 {limit} 名：请按团支部或毕业年份缩小范围"],
                status_code=422,
            )
    if not selected:
        return await _page(request, admin, f, problems=["请先选择团员"], status_code=422)
    if len(selected) > limit:
        return await _page(
            request, admin, f, selected=selected, problems=[f"一次最多办理 {limit} 名团员"], status_code=422
        )
    members = await roster_members(engine, admin.org.id or 0, selected)
    years = [m.graduation_year for m in members if m.graduation_year]
    p = await roster_page(engine, admin.org.id or 0, RosterFilter(), page=1, page_size=1)
    return render(
        request,
        "roster_confirm.html",
        action=action,
        title=ACTIONS[action][0],
        explain=ACTIONS[action][1],
        members=members,
        f=f,
        branches=p.branches,
        default_year=(max(years) + 1) if years else None,
    )


@router.post("/roster/apply", response_class=HTMLResponse)
async def apply(request: Request, admin: OrgAdminOnly) -> Response:
    """Do it, and show one row per member."""
    form = await request.form()
    action = str(form.get("action") or "")
    ids = _ids(form.getlist("member_id"))
    if action not in ACTIONS or not ids:
        raise ServiceError(422, [Problem("action", "请从学社衔接名册选择团员和操作")])
    user, extra = admin.user, {}
    branch_code = str(form.get("branch_code") or "").strip() or None
    year = int_or(form.get("graduation_year"))
    state = request.app.state
    if action == "mobile":
        outcomes = await bulk_members.mark_mobile_members(
            flows_of(request, await state.temporal_client()), user, member_ids=ids
        )
    elif action == "delayed":
        if year is None:
            raise ServiceError(422, [Problem("graduation_year", "请填写延迟后的预计毕业年份")])
        outcomes = await bulk_members.mark_delayed_members(flows_of(request), user, year, member_ids=ids)
        extra["year"] = year
    else:
        kind = "abroad_study" if action == "release_abroad" else "delayed"
        outcomes = await bulk_members.release_members(
            flows_of(request), user, kind, member_ids=ids, branch_code=branch_code, graduation_year=year
        )
    names = await pages.org_names(state.engine, [o.branch_code for o in outcomes])
    ok = sum(1 for o in outcomes if o.ok)
    return render(
        request,
        "roster_result.html",
        title=ACTIONS[action][0],
        register=ACTIONS[action][2],
        outcomes=outcomes,
        names=names,
        ok=ok,
        failed=len(outcomes) - ok,
        **extra,
    )
