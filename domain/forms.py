"""Transfer forms (DOMAIN.md §4): one schema per transfer type, with the API form keys. Pure.

`validate_form(type, data)` returns the parsed form or the problems, each naming the field by its
dotted path (``form.location.township``) and, in Chinese, by its label from the glossary.

Rules:
- unknown keys are refused, and so are keys of another type's form (``not_for_type``);
- strings are trimmed; a blank required string counts as missing; names ≤ 100 characters,
  addresses ≤ 300, region names ≤ 50;
- dates are ISO ``YYYY-MM-DD`` (no datetimes, no timestamps);
- ``location`` is the place the member goes to. **[decision]** `province` and `city` are always
  required in it (a municipality repeats its name as the city, as the directory does); `county`
  and `township` are optional except that types 3, 6 and 7 need `township`, because routing picks
  the township's 学社衔接临时团支部 (county stays optional for cities without counties);
- type 5: `abroad_from` must be before `abroad_to`; **[decision]** `contact_phone` is a domestic
  number: an 11-digit mobile (1[3-9]…) or a landline with area code (``027-87654321``, optional
  ``-ext``);
- type 8: `unit_kind` ∈ military/classified, `joined_unit_on` a date; `location` optional.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from domain.glossary import FORM_FIELD_LABELS, TRANSFER_TYPE_LABELS
from domain.transfers import TransferType

NAME_MAX = 100
ADDRESS_MAX = 300
REGION_MAX = 50

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PHONE = re.compile(r"^(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(?:-\d{1,6})?)$")


def _iso_date(value: Any) -> Any:
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise PydanticCustomError("date", "not an ISO date")


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX)]
Address = Annotated[str, Field(min_length=1, max_length=ADDRESS_MAX)]
Region = Annotated[str, Field(min_length=1, max_length=REGION_MAX)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class Location(_Strict):
    """Where the member goes: the admitting school's, the employer's, or the 户籍地/residence."""

    province: Region
    city: Region
    county: Region | None = None
    township: Region | None = None


class TownshipLocation(Location):
    """A location that must name the township (types 3, 6, 7: a township temp branch receives)."""

    township: Region


class FurtherStudyForm(_Strict):
    """1 升学 (§I.2)."""

    school_name: Name
    school_address: Address
    location: Location


class EmployedWithOrgForm(_Strict):
    """2 已落实工作单位（工作单位有团组织） (§I.1)."""

    employer_name: Name
    employer_address: Address
    location: Location


class EmployedWithoutOrgForm(_Strict):
    """3 已落实工作单位（工作单位无团组织） (§I.1)."""

    employer_name: Name
    employer_address: Address
    location: TownshipLocation


class AbroadOfficialForm(_Strict):
    """4 出国（因公出国／境）: the dispatching employer (§I.6)."""

    employer_name: Name
    employer_address: Address
    location: Location


class AbroadStudyForm(_Strict):
    """5 出国（境）学习研究: the retention application (§I.5)."""

    abroad_place: Address
    abroad_from: IsoDate
    abroad_to: IsoDate
    contact_name: Name
    contact_phone: Annotated[str, Field(min_length=1, max_length=30)]

    @model_validator(mode="after")
    def _check(self) -> AbroadStudyForm:
        if not _PHONE.match(self.contact_phone):
            raise PydanticCustomError("phone", "contact_phone", {"field": "contact_phone"})
        if self.abroad_from >= self.abroad_to:
            raise PydanticCustomError("date_order", "abroad_to", {"field": "abroad_to"})
        return self


class AbroadPrivateForm(_Strict):
    """6 出国（因私出国／境）: 户籍地 or own/parents' residence (§I.6)."""

    address: Address
    location: TownshipLocation


class UnemployedForm(_Strict):
    """7 未就业: 户籍地/生源地/own or parents' residence (§I.4)."""

    address: Address
    location: TownshipLocation


class SpecialUnitForm(_Strict):
    """8 转往特殊单位团组织 (§I.3): [decision] unit kind and enlistment/employment date."""

    unit_kind: Literal["military", "classified"]
    joined_unit_on: IsoDate
    location: Location | None = None


TransferForm = (
    FurtherStudyForm
    | EmployedWithOrgForm
    | EmployedWithoutOrgForm
    | AbroadOfficialForm
    | AbroadStudyForm
    | AbroadPrivateForm
    | UnemployedForm
    | SpecialUnitForm
)

FORM_MODELS: dict[TransferType, type[BaseModel]] = {
    TransferType.FURTHER_STUDY: FurtherStudyForm,
    TransferType.EMPLOYED_WITH_ORG: EmployedWithOrgForm,
    TransferType.EMPLOYED_WITHOUT_ORG: EmployedWithoutOrgForm,
    TransferType.ABROAD_OFFICIAL: AbroadOfficialForm,
    TransferType.ABROAD_STUDY: AbroadStudyForm,
    TransferType.ABROAD_PRIVATE: AbroadPrivateForm,
    TransferType.UNEMPLOYED: UnemployedForm,
    TransferType.SPECIAL_UNIT: SpecialUnitForm,
}

#: The fields of each type's form, in display order (top-level keys; `location` is an object).
FORM_FIELDS: dict[TransferType, list[str]] = {t: list(m.model_fields) for t, m in FORM_MODELS.items()}

#: The required top-level keys of each type's form.
FORM_REQUIRED: dict[TransferType, list[str]] = {
    t: [name for name, f in m.model_fields.items() if f.is_required()] for t, m in FORM_MODELS.items()
}

#: Every key any form knows (a key of another type is "not for this type", not "unknown").
_ALL_KEYS = {k for fields in FORM_FIELDS.values() for k in fields}


class FieldProblem(BaseModel):
    model_config = ConfigDict(frozen=True)

    field: str  # dotted path: "form.employer_name", "form.location.township"
    rule: str  # required, unknown_field, not_for_type, too_long, type, date, date_order, phone, enum, transfer_type
    message: str  # Chinese, names the field's label


def label(key: str) -> str:
    """The Chinese label of a form key (dotted for nested keys), or the key itself."""
    return FORM_FIELD_LABELS.get(key, key)


def _problem(err: ErrorDetails, transfer_type: TransferType) -> FieldProblem:
    loc = [str(p) for p in err["loc"]]
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if ctx.get("field"):  # a model-level check names its field
        loc = [*loc, ctx["field"]]
    key = ".".join(loc)
    name = label(key)
    path = "form." + key if key else "form"
    if kind in ("missing", "string_too_short") or (kind != "extra_forbidden" and err.get("input", "") is None):
        return FieldProblem(field=path, rule="required", message=f"请填写{name}")
    if kind == "extra_forbidden":
        if len(loc) == 1 and loc[0] in _ALL_KEYS:
            type_label = TRANSFER_TYPE_LABELS[transfer_type]
            return FieldProblem(field=path, rule="not_for_type", message=f"转接类型“{type_label}”的表单不含{name}")
        return FieldProblem(field=path, rule="unknown_field", message=f"表单中有未知字段“{key}”")
    if kind == "string_too_long":
        return FieldProblem(field=path, rule="too_long", message=f"{name}不能超过{ctx.get('max_length')}个字")
    if kind == "date":
        return FieldProblem(field=path, rule="date", message=f"{name}应为有效日期，格式为YYYY-MM-DD")
    if kind == "literal_error":
        return FieldProblem(field=path, rule="enum", message=f"{name}应为参军入伍（military）或涉密单位（classified）")
    if kind == "date_order":
        return FieldProblem(field=path, rule="date_order", message=f"{label('abroad_to')}应晚于{label('abroad_from')}")
    if kind == "phone":
        return FieldProblem(field=path, rule="phone", message=f"{name}应为11位手机号码或带区号的固定电话号码")
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return FieldProblem(field=path, rule="type", message=f"{name}格式不正确，应为对象")
    return FieldProblem(field=path, rule="type", message=f"{name}格式不正确，应为文字")


def validate_form(transfer_type: TransferType | str, data: Any) -> tuple[BaseModel | None, list[FieldProblem]]:
    """The parsed form of a type, or None and every problem found."""
    try:
        ttype = TransferType(transfer_type)
    except ValueError:
        return None, [
            FieldProblem(field="transfer_type", rule="transfer_type", message=f"转接类型“{transfer_type}”无效")
        ]
    model = FORM_MODELS[ttype]
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return None, [FieldProblem(field="form", rule="type", message="表单格式不正确，应为对象")]
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, [_problem(e, ttype) for e in exc.errors(include_url=False)]
