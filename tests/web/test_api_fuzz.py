"""Property: no request body, query or path the API can be sent yields a 500.

For every POST endpoint (and the GET list with random query parameters) Hypothesis sends
malformed bodies — arbitrary JSON (wrong types, nesting, huge numbers and strings, any unicode),
bodies shaped like the real request with junk values, and bytes that are not JSON at all — and
the answer must be a 2xx or a 4xx, every error as application/problem+json with `errors`.
The app raises its exceptions into the test (ASGITransport), so a crash fails with its traceback.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seed.demo import DEMO_PASSWORD

# ---- strategies --------------------------------------------------------------------------------
INT64 = 2**63 - 1
#: Integers reach 2**80 (past what a database column holds); FUZZ_INT64=1 keeps them in 64 bits,
#: to look for other kinds of failure. FUZZ_EXAMPLES=N sets the examples per test (default 50).
_BIG = INT64 if os.environ.get("FUZZ_INT64") else 2**80
TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "null",
            "-1",
            "1e309",
            "NaN",
            "%",
            "_",
            "' OR 1=1 --",
            "湖北省",
            "😀" * 3,
            "WHU",
            "HB-WH-HS-GS-TMP",
            "unemployed",
            "out",
            "national",
            "form_incomplete",
        ]
    ),
    st.builds(lambda c, n: c * n, st.sampled_from(["a", "团", "9"]), st.integers(100, 20_000)),  # huge strings
)
SHORT_TEXT = st.one_of(st.text(max_size=40), st.sampled_from(["", "%", "_", "\x00", "湖北省", "WHU", "HB"]))
NUMBER = st.one_of(
    st.integers(min_value=-_BIG, max_value=_BIG),
    st.integers(min_value=2**62, max_value=_BIG),
    st.integers(min_value=-_BIG, max_value=-(2**62)),
    st.floats(allow_nan=False, allow_infinity=False),
)
SCALAR = st.one_of(st.none(), st.booleans(), NUMBER, TEXT)
JSON = st.recursive(
    SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(TEXT, inner, max_size=5)),
    max_leaves=20,
)

FORM_KEYS = [
    "school_name",
    "school_address",
    "employer_name",
    "employer_address",
    "address",
    "unit_kind",
    "joined_unit_on",
    "location",
    "abroad_place",
    "abroad_from",
    "abroad_to",
    "contact_name",
    "contact_phone",
]
LOCATION = st.fixed_dictionaries(
    {}, optional={k: st.one_of(TEXT, JSON) for k in ("province", "city", "county", "township")}
)
FORM = st.one_of(
    JSON,
    st.fixed_dictionaries(
        {},
        optional={
            **{k: st.one_of(TEXT, JSON) for k in FORM_KEYS if k != "location"},
            "location": st.one_of(LOCATION, JSON),
            "unit_kind": st.sampled_from(["military", "classified", "army", ""]),
            "joined_unit_on": st.sampled_from(["2026-07-01", "2026-02-30", "0000-01-01", "9999-12-31", "2026-7-1"]),
        },
    ),
)


def shaped(fields: dict[str, st.SearchStrategy]) -> st.SearchStrategy:
    """A dict with the request's real keys (any subset) plus, sometimes, junk keys and values."""
    return st.builds(
        lambda good, extra: {**good, **extra},
        st.fixed_dictionaries({}, optional={k: st.one_of(v, JSON) for k, v in fields.items()}),
        st.one_of(st.just({}), st.dictionaries(TEXT, JSON, max_size=2)),
    )


def with_real_member(bodies: st.SearchStrategy, member: dict[str, str]) -> st.SearchStrategy:
    """Start bodies; half of them name a real member, so the checks go past the member lookup."""
    return st.one_of(bodies, bodies.map(lambda b: {**b, **member} if isinstance(b, dict) else b))


TRANSFER_TYPES = st.sampled_from(
    [
        "further_study",
        "employed_with_org",
        "employed_without_org",
        "abroad_official",
        "abroad_study",
        "abroad_private",
        "unemployed",
        "special_unit",
    ]
)
START = shaped(
    {
        "id_number": TEXT,
        "name": TEXT,
        "type": TRANSFER_TYPES,
        "channel": st.sampled_from(["out", "in", "self"]),
        "target_org_code": st.one_of(TEXT, st.sampled_from(["DFM", "HB-SU", "WHU-MOB", "BJ-HD-ZGC-TMP", "WHU"])),
        "partition": st.sampled_from(["national", "beijing", "guangdong", "fujian", "mars"]),
        "form": FORM,
    }
)
NOT_JSON = st.one_of(st.binary(max_size=64), st.sampled_from([b"{", b"[1,", b"\xff\xfe", b"{'a': 1}", b"NaN"]))


def any_body(shape: st.SearchStrategy) -> st.SearchStrategy:
    """("json", value) or ("raw", bytes)."""
    return st.one_of(
        shape.map(lambda b: ("json", b)), JSON.map(lambda b: ("json", b)), NOT_JSON.map(lambda b: ("raw", b))
    )


#: Ids past a 64-bit integer are part of the property: the database cannot hold them, so they must
#: be refused as input (4xx), not reach a query (500).
HUGE_INT = st.integers(min_value=INT64, max_value=_BIG) | st.integers(min_value=-_BIG, max_value=-INT64)
TRANSFER_ID = st.one_of(
    st.just("REAL"),
    st.integers(min_value=-_BIG, max_value=_BIG).map(str),
    HUGE_INT.map(str),
    st.sampled_from(["0", "-1", "1.5", "abc", "%20", "1e3", str(_BIG), str(-_BIG)]),
)

ENDPOINTS: dict[str, tuple[str, st.SearchStrategy]] = {
    "token": ("/api/auth/token", shaped({"username": TEXT, "password": TEXT})),
    "transfers": ("/api/transfers", START),
    "validate": ("/api/transfers/validate", START),
    "approve": ("/api/transfers/{id}/approve", shaped({"comment": TEXT})),
    "return": (
        "/api/transfers/{id}/return",
        shaped(
            {
                "reason_code": st.sampled_from(
                    ["form_incomplete", "wrong_target", "other", "not_formal_employee", "x"]
                ),
                "reason_text": TEXT,
            }
        ),
    ),
    "withdraw": ("/api/transfers/{id}/withdraw", shaped({"reason": TEXT})),
    "resubmit": ("/api/transfers/{id}/resubmit", shaped({"form": FORM, "target_org_code": TEXT})),
    "assign-branch": (
        "/api/transfers/{id}/assign-branch",
        shaped(
            {"branch_code": st.one_of(TEXT, st.sampled_from(["DFM-RD", "DFM", "WHU-CS-2022-1", "HB-WH-HS-GS-TMP"]))}
        ),
    ),
    "batch-approve": (
        "/api/transfers/batch/approve",
        shaped(
            {
                "ids": st.one_of(
                    st.lists(NUMBER, max_size=5),
                    st.lists(st.just("REAL"), min_size=1, max_size=2),
                    st.lists(st.one_of(st.just("REAL"), HUGE_INT), min_size=1, max_size=3),
                    st.lists(st.integers(), min_size=201, max_size=205),
                )
            }
        ),
    ),
    "batch-return": (
        "/api/transfers/batch/return",
        shaped(
            {
                "ids": st.one_of(
                    st.lists(NUMBER, max_size=5),
                    st.lists(st.one_of(st.just("REAL"), HUGE_INT), min_size=1, max_size=3),
                    st.lists(st.integers(), min_size=201, max_size=205),
                ),
                "reason_code": st.sampled_from(["form_incomplete", "wrong_target", "other", "not_local_resident", "x"]),
                "reason_text": TEXT,
            }
        ),
    ),
}
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ---- helpers -----------------------------------------------------------------------------------
def assert_not_a_crash(r, what: Any) -> None:
    assert r.status_code < 500, f"{r.status_code} for {what!r}: {r.text[:500]}"
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith("application/problem+json"), (r.headers, what)
        body = r.json()
        assert body["status"] == r.status_code and isinstance(body["errors"], list) and body["detail"], body


_real: dict[int, dict[str, Any]] = {}


async def real_transfer(api) -> dict[str, Any]:
    """One transfer started by WHU towards DFM (so decisions have something real to act on)."""
    if id(api) not in _real:
        m = await api.member_in("WHU-CS-2022", 0)
        r = await api.as_(
            "whu",
            "POST",
            "/api/transfers",
            json={
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
            },
        )
        assert r.status_code == 201, r.text
        other = await api.member_in("WHU-CS-2022", 1)
        _real[id(api)] = {"id": r.json()["id"], "member": {"id_number": other.id_number, "name": other.name}}
    return _real[id(api)]


def _encode(kind: str, body: Any) -> dict[str, Any]:
    if kind == "raw":
        return {"content": body, "headers": {"Content-Type": "application/json"}}
    text = json.dumps(body, ensure_ascii=False, allow_nan=False)
    return {"content": text.encode("utf-8", "surrogatepass"), "headers": {"Content-Type": "application/json"}}


def _replace_real(body: Any, real_id: int) -> Any:
    if body == "REAL":
        return real_id
    if isinstance(body, list):
        return [_replace_real(b, real_id) for b in body]
    if isinstance(body, dict):
        return {k: _replace_real(v, real_id) for k, v in body.items()}
    return body


# ---- properties --------------------------------------------------------------------------------
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@FUZZ
@given(data=st.data())
async def test_post_bodies_never_500(api, endpoint, data):
    real = await real_transfer(api)
    path, shape = ENDPOINTS[endpoint]
    strategy = any_body(with_real_member(shape, real["member"]) if endpoint in ("transfers", "validate") else shape)
    kind, body = data.draw(strategy, label="body")
    body = _replace_real(body, real["id"])
    if "{id}" in path:
        tid = data.draw(TRANSFER_ID, label="id")
        path = path.replace("{id}", str(real["id"]) if tid == "REAL" else tid)
    user = data.draw(st.sampled_from(["whu", "dfm", "sis-whu", "member1"]), label="user")
    req = _encode(kind, body)
    headers = req.pop("headers")
    if endpoint != "token":
        headers.update(await api.login(user, DEMO_PASSWORD))
    if endpoint == "transfers":
        key = data.draw(
            st.one_of(st.none(), TEXT.filter(lambda k: k.isascii() and "\n" not in k and "\r" not in k)),
            label="idempotency key",
        )
        if key is not None:
            headers["Idempotency-Key"] = key
    r = await api.http.post(path, headers=headers, **req)
    assert_not_a_crash(r, (path, kind, body))


LIST_PARAMS = ["node_org", "from_org", "to_org", "status", "type", "overdue", "page", "page_size", "q", "sort"]


@FUZZ
@given(
    params=st.lists(
        st.tuples(
            st.one_of(st.sampled_from(LIST_PARAMS), SHORT_TEXT),
            st.one_of(SHORT_TEXT, NUMBER.map(str), st.sampled_from(["true", "false", "yes", "pending", "x" * 2000])),
        ),
        max_size=6,
    ),
    user=st.sampled_from(["whu", "dfm", "hb", "sis-whu", "member1"]),
)
async def test_list_query_params_never_500(api, params, user):
    clean = [(k, v.encode("utf-8", "surrogatepass").decode("utf-8", "replace")) for k, v in params]
    r = await api.http.get("/api/transfers", params=clean, headers=await api.login(user, DEMO_PASSWORD))
    assert_not_a_crash(r, clean)
    r = await api.http.get("/api/orgs", params=clean, headers=await api.login(user, DEMO_PASSWORD))
    assert_not_a_crash(r, clean)


@FUZZ
@given(tid=TRANSFER_ID)
async def test_detail_path_never_500(api, tid):
    real = await real_transfer(api)
    r = await api.as_("dfm", "GET", f"/api/transfers/{real['id'] if tid == 'REAL' else tid}")
    assert_not_a_crash(r, tid)
