"""DOMAIN.md §6 through the REST API: the abroad-study retention (apply, decide, the register,
release), one flow at a time (a transfer start answers 409 while a retention holds the member, an
application 409 while a transfer is open), marking 流动 and 延迟毕业 members, the registers with
their XLSX export (the whole 身份证号 only for the admins of the member's orgs), and every
endpoint's refusals (403 for the wrong org, 422 with the field, 409 for a second flow).

The calendar is pinned with a rehearsal date (ZHTJ_REHEARSAL_START): 2026-07-26 unless a test
says otherwise, so the demo's 2026 graduates may be marked 流动 and transferred."""

from __future__ import annotations

import io
import time
from datetime import date

import openpyxl
import pytest
from sqlalchemy import select

from core.settings import reset_settings_cache
from domain import idcard
from domain.holdings import MOBILE_TOO_EARLY_MESSAGE
from models import AuditLog, Member, MembershipHistory, Org, Transfer, User
from models.db import session_factory
from models.tables import AbroadRetention, Holding

PROBLEM = "application/problem+json"
ABROAD = {
    "abroad_place": "英国伦敦 帝国理工学院",
    "abroad_from": "2026-09-01",
    "abroad_to": "2027-09-30",
    "contact_name": "张建国",
    "contact_phone": "13907100001",
}
GUANSHAN = {
    "address": "湖北省武汉市洪山区关山街道光谷大道1号",
    "location": {"province": "湖北省", "city": "武汉市", "county": "洪山区", "township": "关山街道"},
}


def pin(monkeypatch, day: date) -> None:
    monkeypatch.setenv("ZHTJ_REHEARSAL_START", day.isoformat())
    monkeypatch.setenv("ZHTJ_REHEARSAL_EPOCH", str(time.time()))
    reset_settings_cache()


@pytest.fixture(autouse=True)
def july_26(monkeypatch):
    pin(monkeypatch, date(2026, 7, 26))
    yield
    monkeypatch.delenv("ZHTJ_REHEARSAL_START")
    reset_settings_cache()


def apply_body(m: Member, **form) -> dict:
    return {"id_number": m.id_number, "name": m.name, "form": {**ABROAD, **form}}


def unemployed(m: Member) -> dict:
    return {
        "id_number": m.id_number,
        "name": m.name,
        "type": "unemployed",
        "channel": "out",
        "partition": "national",
        "form": GUANSHAN,
    }


def problem(r, status: int, field: str | None = None) -> list[dict]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    errors = r.json()["errors"]
    if field is not None:
        assert field in [e["field"] for e in errors], errors
    return errors


async def member(api, member_id: int) -> Member:
    async with session_factory(api.engine)() as s:
        return await s.get(Member, member_id)


async def org_id(api, code: str) -> int:
    async with session_factory(api.engine)() as s:
        return (await s.execute(select(Org.id).where(Org.code == code))).scalar_one()


def sheet(data: bytes) -> list[list]:
    return [list(r) for r in openpyxl.load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True)]


async def test_every_endpoint_is_in_openapi(api):
    paths = (await api.http.get("/openapi.json")).json()["paths"]
    for path, method in (
        ("/api/retentions", "post"),
        ("/api/retentions", "get"),
        ("/api/retentions/{retention_id}", "get"),
        ("/api/retentions/{retention_id}/approve", "post"),
        ("/api/retentions/{retention_id}/return", "post"),
        ("/api/retentions/{retention_id}/withdraw", "post"),
        ("/api/members/mark-mobile", "post"),
        ("/api/members/mark-delayed", "post"),
        ("/api/members/release", "post"),
        ("/api/registers/{kind}", "get"),
        ("/api/registers/{kind}.xlsx", "get"),
    ):
        assert method in paths[path], path


async def test_retention_applied_approved_registered_blocks_transfers_until_released(api):
    m = await api.member_in("WHU-CS-2022-1")
    before_branch = m.branch_id

    # the request's own checks: 422 with the field; the wrong org: 403; nothing written
    problem(
        await api.as_("whu-cs", "POST", "/api/retentions", json=apply_body(m, contact_phone="12")),
        422,
        "form.contact_phone",
    )
    problem(
        await api.as_("whu-cs", "POST", "/api/retentions", json=apply_body(m, abroad_to="2026-08-01")),
        422,
        "form.abroad_to",
    )
    problem(
        await api.as_("whu-cs", "POST", "/api/retentions", json={**apply_body(m), "id_number": "130402198207290622"}),
        422,
        "id_number",
    )
    problem(
        await api.as_("whu-cs", "POST", "/api/retentions", json={**apply_body(m), "name": "别人"}), 422, "id_number"
    )
    problem(
        await api.as_("whu-cs", "POST", "/api/retentions", json={"id_number": m.id_number, "name": m.name}), 422, "form"
    )
    problem(await api.as_("hust", "POST", "/api/retentions", json=apply_body(m)), 403, "id_number")
    problem(await api.as_("whu-eis", "POST", "/api/retentions", json=apply_body(m)), 403)
    problem(await api.as_("member1", "POST", "/api/retentions", json=apply_body(m)), 403)
    problem(await api.as_("sis-whu", "POST", "/api/retentions", json=apply_body(m)), 403)
    assert await api.count(AbroadRetention) == 0

    # the college committee applies for its member (the school side, §I.5)
    r = await api.as_("whu-cs", "POST", "/api/retentions", json=apply_body(m))
    assert r.status_code == 201, r.text
    app = r.json()
    assert (app["status"], app["school_code"], app["branch_code"], app["in_force"]) == ("pending", "WHU", None, False)
    assert app["member"]["id_number"] == m.id_number  # an admin of the member's own orgs
    assert app["form"]["abroad_to"] == "2027-09-30" and app["initiated_by"] == "whu-cs"
    assert [h["action"] for h in app["history"]] == ["retention.submitted"]
    rid = app["id"]

    # one flow at a time: a second application, and a transfer start on every way in, 409
    errors = problem(await api.as_("whu", "POST", "/api/retentions", json=apply_body(m)), 409, "id_number")
    assert "待审批" in errors[0]["message"]
    for url in ("/api/transfers", "/api/transfers/validate"):
        errors = problem(await api.as_("whu", "POST", url, json=unemployed(m)), 409, "id_number")
        assert "待学校团委审批的出国（境）学习研究保留团组织关系申请" in errors[0]["message"]
    for dry in (True, False):
        r = await api.as_("whu", "POST", "/api/transfers/bulk", json={"rows": [unemployed(m)], "dry_run": dry})
        (row,) = r.json()["results"]
        assert (row["ok"], row["status_code"], row["errors"][0]["field"]) == (False, 409, "id_number")
    assert await api.count(Transfer) == 0

    # reading: the school and the college see it, another school does not
    r = await api.as_("whu", "GET", "/api/retentions", params={"org": "WHU", "status": "pending"})
    assert r.status_code == 200 and [i["id"] for i in r.json()["items"]] == [rid] and r.json()["total"] == 1
    assert r.json()["items"][0]["member"]["id_number"].count("*") == 8  # lists mask it
    assert [i["id"] for i in (await api.as_("whu-cs", "GET", "/api/retentions")).json()["items"]] == [rid]
    assert (await api.as_("hust", "GET", "/api/retentions")).json()["total"] == 0
    problem(await api.as_("hust", "GET", "/api/retentions", params={"org": "WHU"}), 403, "org")
    problem(await api.as_("whu", "GET", "/api/retentions", params={"org": "NOPE"}), 404, "org")
    problem(await api.as_("whu", "GET", "/api/retentions", params={"status": "lost"}), 422, "status")
    problem(await api.as_("hust", "GET", f"/api/retentions/{rid}"), 404, "id")
    problem(await api.as_("member1", "GET", f"/api/retentions/{rid}"), 404, "id")

    # deciding: the college may not, another school cannot even see it; §III.4 grounds refused
    problem(await api.as_("whu-cs", "POST", f"/api/retentions/{rid}/approve", json={}), 403)
    problem(await api.as_("hust", "POST", f"/api/retentions/{rid}/approve", json={}), 404)
    errors = problem(
        await api.as_(
            "whu",
            "POST",
            f"/api/retentions/{rid}/return",
            json={"reason_code": "other", "reason_text": "外省户籍，不予接收"},
        ),
        422,
    )
    assert "不得以" in errors[0]["message"]
    problem(
        await api.as_("whu", "POST", f"/api/retentions/{rid}/return", json={"reason_text": "x"}), 422, "reason_code"
    )
    problem(await api.as_("whu", "POST", f"/api/retentions/{rid}/withdraw", json={"reason": ""}), 422, "reason")

    r = await api.as_("whu", "POST", f"/api/retentions/{rid}/approve", json={"comment": "同意保留"})
    assert r.status_code == 200, r.text
    d = r.json()
    assert (d["status"], d["branch_code"], d["in_force"], d["decided_by"]) == ("approved", "WHU-ABR", True, "whu")
    assert d["registered_at"] is not None
    problem(await api.as_("whu", "POST", f"/api/retentions/{rid}/approve", json={}), 409)
    problem(await api.as_("whu", "POST", f"/api/retentions/{rid}/withdraw", json={"reason": "不去了"}), 409)
    held = await member(api, m.id)
    assert held.abroad_retention and held.branch_id == await org_id(api, "WHU-ABR")

    # the abroad-study register: JSON masked, the XLSX whole for the school and the province
    r = await api.as_("whu", "GET", "/api/registers/abroad_study", params={"org": "WHU"})
    assert r.status_code == 200, r.text
    reg = r.json()
    assert (reg["kind"], reg["name"], reg["org_code"], reg["total"]) == (
        "abroad_study",
        "出国（境）学习研究团员登记册",
        "WHU",
        1,
    )
    (item,) = reg["items"]
    assert (item["member_id"], item["org_code"], item["abroad_place"]) == (m.id, "WHU-ABR", ABROAD["abroad_place"])
    assert item["id_number"] == idcard.mask(m.id_number)
    assert (await api.as_("whu", "GET", "/api/registers/abroad_study")).json()["total"] == 1  # default: own org
    for who in ("whu", "hb"):
        r = await api.as_(who, "GET", "/api/registers/abroad_study.xlsx", params={"org": "WHU"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
        cells = sheet(r.content)
        assert cells[0][:3] == ["序号", "姓名", "身份证号"] and cells[1][1:3] == [m.name, m.id_number]
        assert ABROAD["contact_phone"] in cells[1]
    r = await api.as_("whu", "GET", "/api/registers/abroad_study", params={"org": "WHU", "format": "xlsx"})
    assert sheet(r.content)[1][2] == m.id_number
    r = await api.as_("sis-whu", "GET", "/api/registers/abroad_study.xlsx")  # not an admin: masked
    assert r.status_code == 200 and sheet(r.content)[1][2] == idcard.mask(m.id_number)
    problem(await api.as_("hust", "GET", "/api/registers/abroad_study", params={"org": "WHU"}), 403, "org")
    problem(await api.as_("hust", "GET", "/api/registers/abroad_study.xlsx", params={"org": "WHU"}), 403, "org")
    problem(await api.as_("member1", "GET", "/api/registers/abroad_study"), 403)
    problem(await api.as_("whu", "GET", "/api/registers/lost"), 422, "kind")
    problem(await api.as_("whu", "GET", "/api/registers/mobile", params={"org": "NOPE"}), 404, "org")

    # held: a transfer start is refused, saying which flow holds the member; so is a new application
    errors = problem(await api.as_("whu", "POST", "/api/transfers", json=unemployed(m)), 409, "id_number")
    assert "已保留在学校（出国（境）学习研究" in errors[0]["message"] and "解除保留" in errors[0]["message"]
    problem(await api.as_("whu", "POST", "/api/retentions", json=apply_body(m)), 409, "id_number")

    # release: a holding kind is refused; another school's admin, the college: per member 403
    errors = problem(
        await api.as_("whu", "POST", "/api/members/release", json={"id_numbers": [m.id_number], "kind": "mobile"}),
        422,
        "kind",
    )
    assert "转出" in errors[0]["message"]
    problem(
        await api.as_("whu", "POST", "/api/members/release", json={"id_numbers": [m.id_number], "kind": "x"}),
        422,
        "kind",
    )
    for who in ("hust", "whu-cs"):
        r = await api.as_(
            who, "POST", "/api/members/release", json={"id_numbers": [m.id_number], "kind": "abroad_study"}
        )
        (row,) = r.json()["results"]
        assert (row["ok"], row["status_code"]) == (False, 403), row
    r = await api.as_("whu", "POST", "/api/members/release", json={"id_numbers": [m.id_number], "kind": "abroad_study"})
    (row,) = r.json()["results"]
    assert row["ok"] and row["branch_code"].startswith("WHU-CS-2022-1"), row
    back = await member(api, m.id)
    assert back.branch_id == before_branch and not back.abroad_retention
    r = await api.as_("whu", "POST", "/api/members/release", json={"id_numbers": [m.id_number], "kind": "abroad_study"})
    assert r.json()["results"][0]["status_code"] == 409  # nothing to release any more
    assert (await api.as_("whu", "GET", "/api/registers/abroad_study")).json()["total"] == 0
    d = (await api.as_("whu", "GET", f"/api/retentions/{rid}")).json()
    assert d["status"] == "approved" and not d["in_force"] and d["released_at"] is not None
    assert [h["action"] for h in d["history"]][-1] == "retention.released"
    async with session_factory(api.engine)() as s:
        reasons = (
            await s.execute(select(MembershipHistory.reason).where(MembershipHistory.member_id == m.id))
        ).scalars()
        assert list(reasons) == ["abroad_study_retention", "abroad_study_released"]

    # released: the transfer starts now; and while it is open, an application is refused
    r = await api.as_("whu", "POST", "/api/transfers", json=unemployed(m))
    assert r.status_code == 201, r.text
    errors = problem(await api.as_("whu", "POST", "/api/retentions", json=apply_body(m)), 409, "id_number")
    assert "正在办理的组织关系转接" in errors[0]["message"]


async def test_member_applies_for_themself_and_withdraws(api):
    async with session_factory(api.engine)() as s:
        user = (await s.execute(select(User).where(User.username == "member1"))).scalar_one()
        m = await s.get(Member, user.member_id)
    other = await api.member_in("WHU-EM-")
    problem(await api.as_("member1", "POST", "/api/retentions", json=apply_body(other)), 403)
    r = await api.as_("member1", "POST", "/api/retentions", json=apply_body(m))
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert r.json()["member"]["id_number"] == m.id_number  # their own
    assert [i["id"] for i in (await api.as_("member1", "GET", "/api/retentions")).json()["items"]] == [rid]
    problem(await api.as_("member1", "GET", "/api/retentions", params={"org": "WHU"}), 403, "org")
    problem(await api.as_("member1", "POST", f"/api/retentions/{rid}/approve", json={}), 403)
    problem(await api.as_("member2", "POST", f"/api/retentions/{rid}/withdraw", json={"reason": "x"}), 404)
    r = await api.as_("member1", "POST", f"/api/retentions/{rid}/withdraw", json={"reason": "改为国内升学"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "withdrawn" and r.json()["comment"] == "改为国内升学"
    # withdrawn: nothing holds the member, a new application may be made and the school returns it
    r = await api.as_("member1", "POST", "/api/retentions", json=apply_body(m, abroad_place="美国波士顿 哈佛大学"))
    assert r.status_code == 201, r.text
    rid2 = r.json()["id"]
    r = await api.as_(
        "hb",
        "POST",
        f"/api/retentions/{rid2}/return",
        json={"reason_code": "form_incomplete", "reason_text": "请写明专业"},
    )
    assert r.status_code == 200 and r.json()["status"] == "returned" and r.json()["reason_code"] == "form_incomplete"
    assert (await member(api, m.id)).branch_id == m.branch_id


async def test_mark_mobile_after_0725_and_delayed_then_release(api, monkeypatch):
    a, b = await api.member_in("WHU-LAW-2022-1", 0), await api.member_in("WHU-LAW-2022-1", 1)
    h = await api.member_in("HUST-CS-")
    url = "/api/members/mark-mobile"

    # before 07-25 of the graduation year: refused with the notice's words, nothing started
    pin(monkeypatch, date(2026, 7, 24))
    r = await api.as_("whu", "POST", url, json={"id_numbers": [a.id_number]})
    (row,) = r.json()["results"]
    assert (row["ok"], row["status_code"], row["errors"][0]["message"]) == (False, 422, MOBILE_TOO_EARLY_MESSAGE)
    assert await api.count(Holding) == 0

    pin(monkeypatch, date(2026, 7, 26))
    problem(await api.as_("whu", "POST", url, json={"id_numbers": []}), 422, "id_numbers")
    problem(await api.as_("whu", "POST", url, json={}), 422, "id_numbers")
    problem(await api.as_("member1", "POST", url, json={"id_numbers": [a.id_number]}), 403)
    r = await api.as_(
        "whu",
        "POST",
        url,
        json={"id_numbers": [a.id_number, "130402198207290622", h.id_number, a.id_number, b.id_number]},
    )
    assert r.status_code == 200, r.text
    rows = r.json()["results"]
    assert [(x["index"], x["ok"], x["status_code"]) for x in rows] == [
        (0, True, 201),
        (1, False, 422),
        (2, False, 403),  # another school's member: not under WHU
        (3, False, 422),  # twice in one call
        (4, True, 201),
    ]
    assert rows[1]["errors"][0]["field"] == "id_number" and rows[0]["branch_code"] == "WHU-MOB"
    assert rows[0]["id_number"] == idcard.mask(a.id_number) and rows[0]["workflow_id"].endswith(f"mobile-{a.id}")
    again = (await api.as_("whu", "POST", url, json={"id_numbers": [a.id_number]})).json()["results"][0]
    assert (again["ok"], again["status_code"], again["changed"]) == (True, 200, False)
    c = await api.member_in("WHU-LAW-2022-1", 2)
    (row,) = (await api.as_("whu-law", "POST", url, json={"id_numbers": [c.id_number]})).json()["results"]
    assert row["status_code"] == 403 and "武汉大学团委" in row["errors"][0]["message"]  # a college is not the school
    assert (await member(api, a.id)).mobile

    reg = (await api.as_("whu", "GET", "/api/registers/mobile")).json()
    assert {i["member_id"] for i in reg["items"]} == {a.id, b.id} and reg["name"] == "毕业学生流动团员登记册"
    cells = sheet((await api.as_("whu", "GET", "/api/registers/mobile.xlsx")).content)
    assert {c[2] for c in cells[1:]} == {a.id_number, b.id_number} and "保留期满日期" in cells[0]
    problem(await api.as_("hust", "GET", "/api/registers/mobile", params={"org": "WHU-MOB"}), 403, "org")

    # a 流动 holding ends by a transfer out, not by release; the transfer may start
    errors = problem(
        await api.as_("whu", "POST", "/api/members/release", json={"id_numbers": [a.id_number], "kind": "mobile"}),
        422,
        "kind",
    )
    assert "转出" in errors[0]["message"]
    r = await api.as_("whu", "POST", "/api/transfers", json=unemployed(await member(api, a.id)))
    assert r.status_code == 201, r.text
    # ...and a retention application for a 流动 member is refused (one flow at a time)
    problem(await api.as_("whu", "POST", "/api/retentions", json=apply_body(await member(api, b.id))), 409, "id_number")

    # 延迟毕业: the expected year is required; marked into the school's branch; released back
    d = await api.member_in("WHU-EIS-2022-1")
    problem(
        await api.as_("whu", "POST", "/api/members/mark-delayed", json={"id_numbers": [d.id_number]}),
        422,
        "expected_graduation_year",
    )
    problem(
        await api.as_(
            "whu",
            "POST",
            "/api/members/mark-delayed",
            json={"id_numbers": [d.id_number], "expected_graduation_year": 1900},
        ),
        422,
        "expected_graduation_year",
    )
    r = await api.as_(
        "whu",
        "POST",
        "/api/members/mark-delayed",
        json={"id_numbers": [d.id_number, h.id_number], "expected_graduation_year": 2027},
    )
    ok, other = r.json()["results"]
    assert (ok["ok"], ok["branch_code"], ok["changed"]) == (True, "WHU-DLY", True) and other["status_code"] == 403
    marked = await member(api, d.id)
    assert marked.delayed_graduation and not marked.graduating and marked.graduation_year == 2027
    assert d.id in {i["member_id"] for i in (await api.as_("whu", "GET", "/api/registers/delayed")).json()["items"]}
    # a delayed student's transfer is refused by the gate (a later graduation year)
    problem(await api.as_("whu", "POST", "/api/transfers", json=unemployed(marked)), 422, "id_number")
    r = await api.as_(
        "whu",
        "POST",
        "/api/members/release",
        json={"id_numbers": [d.id_number], "kind": "delayed", "branch_code": "DFM-RD"},
    )
    assert r.json()["results"][0]["errors"][0]["field"] == "branch_code"
    r = await api.as_("whu", "POST", "/api/members/release", json={"id_numbers": [d.id_number], "kind": "delayed"})
    (row,) = r.json()["results"]
    assert row["ok"] and row["branch_code"] == (await org_code_of(api, d.branch_id)), row
    back = await member(api, d.id)
    assert back.branch_id == d.branch_id and back.graduating and not back.delayed_graduation
    assert back.graduation_year == 2027
    assert d.id not in {i["member_id"] for i in (await api.as_("whu", "GET", "/api/registers/delayed")).json()["items"]}
    async with session_factory(api.engine)() as s:
        actions = (
            await s.execute(select(AuditLog.action).where(AuditLog.entity == "member", AuditLog.entity_id == str(d.id)))
        ).scalars()
        assert list(actions) == ["member.delayed_graduation", "member.delayed_released"]


async def org_code_of(api, branch_id: int) -> str:
    async with session_factory(api.engine)() as s:
        return (await s.get(Org, branch_id)).code


async def test_special_unit_transfer_completed_sets_the_flag_and_the_register(api):
    m = await api.member_in("WHU-LIT-2022-1")
    body = {
        "id_number": m.id_number,
        "name": m.name,
        "type": "special_unit",
        "channel": "out",
        "form": {"unit_kind": "military", "joined_unit_on": "2026-09-01"},
    }
    r = await api.as_("whu", "POST", "/api/transfers", json=body)
    assert r.status_code == 201, r.text
    t = r.json()
    for _ in range(5):
        pending = [n for n in t["nodes"] if n["status"] == "pending"]
        if not pending:
            break
        r = await api.as_(pending[0]["org_code"].lower(), "POST", f"/api/transfers/{t['id']}/approve", json={})
        assert r.status_code == 200, r.text
        t = r.json()
    assert t["status"] == "completed" and t["branch_code"] == "HB-SU", t
    moved = await member(api, m.id)
    assert moved.in_special_unit_db and not moved.graduating and not moved.abroad_retention

    for who, org in (("whu", "WHU"), ("hb", "HB")):
        reg = (await api.as_(who, "GET", "/api/registers/special_unit", params={"org": org})).json()
        (item,) = [i for i in reg["items"] if i["member_id"] == m.id]
        assert (item["org_code"], item["unit_kind"], item["transfer_id"]) == ("HB-SU", "参军入伍", t["id"])
        assert item["joined_unit_on"] == "2026-09-01" and item["from_org"].startswith("武汉大学")
        assert item["id_number"] == idcard.mask(m.id_number)
    assert reg["name"] == "特殊单位专属库团员登记册"
    # the export: whole for the province (the 专属库's own), masked for the school the member left
    whole = sheet((await api.as_("hb", "GET", "/api/registers/special_unit.xlsx")).content)
    masked = sheet((await api.as_("whu", "GET", "/api/registers/special_unit.xlsx")).content)
    assert whole[0][:5] == ["序号", "姓名", "身份证号", "特殊单位专属库", "转出组织"]
    assert [r[2] for r in whole[1:] if r[1] == m.name] == [m.id_number]
    assert [r[2] for r in masked[1:] if r[1] == m.name] == [idcard.mask(m.id_number)]
    assert (await api.as_("hust", "GET", "/api/registers/special_unit")).json()["total"] == 0

    # once there, the member is no longer moved by 学社衔接, and the school may not mark them
    problem(await api.as_("whu", "POST", "/api/retentions", json=apply_body(moved)), 403)
