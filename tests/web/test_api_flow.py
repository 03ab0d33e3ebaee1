"""End to end through the API only: start → approve → assign → completed."""

from models import Transfer


async def test_start_approve_assign_completed(api):
    m = await api.member_in("WHU-CS-2022-1")
    body = {
        "id_number": m.id_number,
        "name": m.name,
        "type": "employed_with_org",
        "channel": "out",
        "target_org_code": "DFM",
        "form": {
            "employer_name": "东风汽车集团有限公司",
            "employer_address": "武汉市经开区",
            "location": {"province": "湖北省", "city": "武汉市"},
        },
    }
    r = await api.as_("whu", "POST", "/api/transfers", json=body)
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["status"] == "pending" and t["target_org_code"] == "DFM"
    assert [n["status"] for n in t["nodes"]] == ["approved", "pending"]
    assert t["route"]["org_code"] == "DFM" and t["route"]["clause"]
    assert t["member"]["id_number"] == m.id_number  # the school's admin sees it whole

    r = await api.as_("dfm", "GET", "/api/transfers", params={"node_org": "DFM"})
    assert r.status_code == 200 and [i["id"] for i in r.json()["items"]] == [t["id"]]
    assert r.json()["items"][0]["member"]["id_number"].count("*") == 8

    r = await api.as_("dfm", "POST", f"/api/transfers/{t['id']}/approve", json={"comment": "同意"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "awaiting_assignment"
    r = await api.as_("dfm", "POST", f"/api/transfers/{t['id']}/assign-branch", json={"branch_code": "DFM-RD"})
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "completed" and done["branch_code"] == "DFM-RD"
    assert [h["action"] for h in done["history"]][-1] == "transfer.completed"
    assert await api.count(Transfer) == 1
