"""Form schemas per transfer type (DOMAIN.md §4) and their Chinese problems."""

from __future__ import annotations

from datetime import date

import pytest

from domain.forms import FORM_FIELDS, FORM_MODELS, FORM_REQUIRED, validate_form
from domain.glossary import FORM_FIELD_LABELS, TRANSFER_TYPE_LABELS
from domain.transfers import TransferType as T

LOC = {"province": "湖北省", "city": "武汉市", "county": "洪山区", "township": "关山街道"}
ABROAD = {
    "abroad_place": "英国伦敦",
    "abroad_from": "2026-09-01",
    "abroad_to": "2027-09-01",
    "contact_name": "王芳",
    "contact_phone": "13800138000",
}

VALID = {
    T.FURTHER_STUDY: {
        "school_name": "华中科技大学",
        "school_address": "湖北省武汉市洪山区珞喻路1037号",
        "location": LOC,
    },
    T.EMPLOYED_WITH_ORG: {
        "employer_name": "东风汽车集团有限公司",
        "employer_address": "武汉经开区东风大道特1号",
        "location": {"province": "湖北省", "city": "武汉市"},
    },
    T.EMPLOYED_WITHOUT_ORG: {
        "employer_name": "武汉珞喻云图软件有限公司",
        "employer_address": "关山大道355号",
        "location": LOC,
    },
    T.ABROAD_OFFICIAL: {
        "employer_name": "中国建筑第三工程局有限公司",
        "employer_address": "武汉市武昌区",
        "location": LOC,
    },
    T.ABROAD_STUDY: ABROAD,
    T.ABROAD_PRIVATE: {"address": "湖北省武汉市洪山区关山街道关山社区1栋", "location": LOC},
    T.UNEMPLOYED: {"address": "湖北省宜昌市夷陵区龙泉镇双堰村5组", "location": LOC},
    T.SPECIAL_UNIT: {"unit_kind": "military", "joined_unit_on": "2026-09-10"},
}


def test_every_type_has_a_model_fields_and_labels():
    assert set(FORM_MODELS) == set(T) == set(FORM_FIELDS) == set(TRANSFER_TYPE_LABELS)
    for fields in FORM_FIELDS.values():
        for f in fields:
            assert f in FORM_FIELD_LABELS


@pytest.mark.parametrize(
    "ttype, fields, required",
    [
        (T.FURTHER_STUDY, ["school_name", "school_address", "location"], ["school_name", "school_address", "location"]),
        (
            T.EMPLOYED_WITH_ORG,
            ["employer_name", "employer_address", "location"],
            ["employer_name", "employer_address", "location"],
        ),
        (
            T.EMPLOYED_WITHOUT_ORG,
            ["employer_name", "employer_address", "location"],
            ["employer_name", "employer_address", "location"],
        ),
        (
            T.ABROAD_OFFICIAL,
            ["employer_name", "employer_address", "location"],
            ["employer_name", "employer_address", "location"],
        ),
        (
            T.ABROAD_STUDY,
            ["abroad_place", "abroad_from", "abroad_to", "contact_name", "contact_phone"],
            ["abroad_place", "abroad_from", "abroad_to", "contact_name", "contact_phone"],
        ),
        (T.ABROAD_PRIVATE, ["address", "location"], ["address", "location"]),
        (T.UNEMPLOYED, ["address", "location"], ["address", "location"]),
        (T.SPECIAL_UNIT, ["unit_kind", "joined_unit_on", "location"], ["unit_kind", "joined_unit_on"]),
    ],
)
def test_fields_per_type(ttype, fields, required):
    assert FORM_FIELDS[ttype] == fields
    assert FORM_REQUIRED[ttype] == required


@pytest.mark.parametrize("ttype", list(T))
def test_valid_forms_parse(ttype):
    form, problems = validate_form(ttype, VALID[ttype])
    assert problems == []
    assert isinstance(form, FORM_MODELS[ttype])


@pytest.mark.parametrize("ttype", list(T))
def test_empty_form_names_every_required_field(ttype):
    form, problems = validate_form(ttype.value, {})
    assert form is None
    assert [p.field for p in problems] == [f"form.{f}" for f in FORM_REQUIRED[ttype]]
    assert {p.rule for p in problems} == {"required"}
    for p in problems:
        assert FORM_FIELD_LABELS[p.field.removeprefix("form.")] in p.message


def test_strings_are_trimmed_and_dates_parsed():
    form, problems = validate_form(T.ABROAD_STUDY, {**ABROAD, "abroad_place": "  英国伦敦 ", "contact_name": " 王芳"})
    assert problems == []
    assert (form.abroad_place, form.contact_name, form.abroad_from) == ("英国伦敦", "王芳", date(2026, 9, 1))


def test_form_dumps_to_json_and_back():
    form, _ = validate_form(T.ABROAD_STUDY, ABROAD)
    again, problems = validate_form(T.ABROAD_STUDY, form.model_dump(mode="json"))
    assert problems == [] and again == form


# (id, type, changes to the valid form, field, rule, fragment of the message)
BAD = [
    (
        "blank-name",
        T.EMPLOYED_WITH_ORG,
        {"employer_name": "   "},
        "form.employer_name",
        "required",
        "请填写工作单位名称",
    ),
    ("none-name", T.FURTHER_STUDY, {"school_name": None}, "form.school_name", "required", "转入学校名称"),
    ("name-too-long", T.FURTHER_STUDY, {"school_name": "校" * 101}, "form.school_name", "too_long", "不能超过100个字"),
    ("name-100-ok", T.FURTHER_STUDY, {"school_name": "校" * 100}, None, None, None),
    (
        "address-too-long",
        T.UNEMPLOYED,
        {"address": "址" * 301},
        "form.address",
        "too_long",
        "户籍地或居住地详细地址不能超过300个字",
    ),
    ("name-not-text", T.EMPLOYED_WITH_ORG, {"employer_name": 12}, "form.employer_name", "type", "工作单位名称"),
    ("unknown-key", T.UNEMPLOYED, {"nickname": "x"}, "form.nickname", "unknown_field", "未知字段"),
    (
        "other-types-key",
        T.UNEMPLOYED,
        {"employer_name": "x"},
        "form.employer_name",
        "not_for_type",
        "“未就业”的表单不含工作单位名称",
    ),
    ("location-missing", T.EMPLOYED_WITH_ORG, {"location": None}, "form.location", "required", "去向所在地"),
    ("location-not-object", T.EMPLOYED_WITH_ORG, {"location": "武汉"}, "form.location", "type", "去向所在地"),
    (
        "location-unknown-key",
        T.ABROAD_PRIVATE,
        {"location": {**LOC, "village": "关山社区"}},
        "form.location.village",
        "unknown_field",
        "location.village",
    ),
    (
        "township-required-type3",
        T.EMPLOYED_WITHOUT_ORG,
        {"location": {"province": "湖北省", "city": "武汉市"}},
        "form.location.township",
        "required",
        "去向所在地（乡镇街道）",
    ),
    (
        "township-required-type6",
        T.ABROAD_PRIVATE,
        {"location": {**LOC, "township": " "}},
        "form.location.township",
        "required",
        "乡镇街道",
    ),
    (
        "township-optional-type2",
        T.EMPLOYED_WITH_ORG,
        {"location": {"province": "湖北省", "city": "武汉市", "county": "汉南区"}},
        None,
        None,
        None,
    ),
    ("city-required", T.FURTHER_STUDY, {"location": {"province": "湖北省"}}, "form.location.city", "required", "市州"),
    ("abroad-dates-order", T.ABROAD_STUDY, {"abroad_to": "2026-09-01"}, "form.abroad_to", "date_order", "应晚于"),
    ("abroad-date-not-iso", T.ABROAD_STUDY, {"abroad_from": "2026/09/01"}, "form.abroad_from", "date", "YYYY-MM-DD"),
    ("abroad-date-not-real", T.ABROAD_STUDY, {"abroad_to": "2027-02-29"}, "form.abroad_to", "date", "有效日期"),
    (
        "abroad-date-datetime",
        T.ABROAD_STUDY,
        {"abroad_to": "2027-02-01T00:00:00"},
        "form.abroad_to",
        "date",
        "有效日期",
    ),
    ("abroad-date-timestamp", T.ABROAD_STUDY, {"abroad_to": 1800000000}, "form.abroad_to", "date", "有效日期"),
    ("abroad-date-object-ok", T.ABROAD_STUDY, {"abroad_to": date(2027, 1, 1)}, None, None, None),
    ("phone-bad", T.ABROAD_STUDY, {"contact_phone": "12345"}, "form.contact_phone", "phone", "境内联系人联系方式"),
    ("phone-landline-ok", T.ABROAD_STUDY, {"contact_phone": "027-87654321"}, None, None, None),
    ("phone-landline-ext-ok", T.ABROAD_STUDY, {"contact_phone": "02787654321-123"}, None, None, None),
    ("unit-kind-bad", T.SPECIAL_UNIT, {"unit_kind": "navy"}, "form.unit_kind", "enum", "参军入伍"),
    (
        "joined-on-bad",
        T.SPECIAL_UNIT,
        {"joined_unit_on": "2026-13-01"},
        "form.joined_unit_on",
        "date",
        "入伍或入职日期",
    ),
    ("special-location-ok", T.SPECIAL_UNIT, {"location": LOC}, None, None, None),
    (
        "abroad-study-has-no-location",
        T.ABROAD_STUDY,
        {"location": LOC},
        "form.location",
        "not_for_type",
        "出国（境）学习研究",
    ),
]


@pytest.mark.parametrize("ttype, changes, field, rule, fragment", [r[1:] for r in BAD], ids=[r[0] for r in BAD])
def test_bad_forms(ttype, changes, field, rule, fragment):
    form, problems = validate_form(ttype, {**VALID[ttype], **changes})
    if field is None:
        assert problems == [] and form is not None
        return
    assert form is None
    assert [(p.field, p.rule) for p in problems] == [(field, rule)]
    assert fragment in problems[0].message


def test_unknown_transfer_type():
    form, problems = validate_form("holiday", {})
    assert form is None and [(p.field, p.rule) for p in problems] == [("transfer_type", "transfer_type")]


@pytest.mark.parametrize("data", [["a"], "text", 3])
def test_form_must_be_an_object(data):
    form, problems = validate_form(T.UNEMPLOYED, data)
    assert form is None and [(p.field, p.rule) for p in problems] == [("form", "type")]


def test_several_problems_at_once():
    _, problems = validate_form(T.EMPLOYED_WITHOUT_ORG, {"employer_name": "", "employer_address": "址" * 301, "x": 1})
    assert [(p.field, p.rule) for p in problems] == [
        ("form.employer_name", "required"),
        ("form.employer_address", "too_long"),
        ("form.location", "required"),
        ("form.x", "unknown_field"),
    ]
