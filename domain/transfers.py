"""Transfer vocabulary (DOMAIN.md §4–§5): types, channels, statuses, return grounds. Pure."""

from __future__ import annotations

from enum import StrEnum


class TransferType(StrEnum):
    """The eight 学社衔接 transfer types, in the order of DOMAIN.md §4 (API codes)."""

    FURTHER_STUDY = "further_study"  # 1 升学
    EMPLOYED_WITH_ORG = "employed_with_org"  # 2 已落实工作单位（工作单位有团组织）
    EMPLOYED_WITHOUT_ORG = "employed_without_org"  # 3 已落实工作单位（工作单位无团组织）
    ABROAD_OFFICIAL = "abroad_official"  # 4 出国（因公出国／境）
    ABROAD_STUDY = "abroad_study"  # 5 出国（境）学习研究
    ABROAD_PRIVATE = "abroad_private"  # 6 出国（因私出国／境）
    UNEMPLOYED = "unemployed"  # 7 未就业
    SPECIAL_UNIT = "special_unit"  # 8 转往特殊单位团组织


class Channel(StrEnum):
    OUT = "out"  # 办理转出: the member's current org starts it
    IN = "in"  # 办理转入: the receiving org starts it
    SELF = "self"  # 个人发起: the member starts it


class TransferStatus(StrEnum):
    PENDING = "pending"  # a node is deciding
    RETURNED = "returned"  # a node returned it; waiting for resubmit or withdraw
    AWAITING_ASSIGNMENT = "awaiting_assignment"  # approved; the receiving org must assign a branch
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"  # returned and neither resubmitted nor withdrawn in time

    @property
    def is_open(self) -> bool:
        return self in (TransferStatus.PENDING, TransferStatus.RETURNED, TransferStatus.AWAITING_ASSIGNMENT)


class NodeStatus(StrEnum):
    WAITING = "waiting"  # a later node; its clock has not started
    PENDING = "pending"  # deciding now
    APPROVED = "approved"
    AUTO_APPROVED = "auto_approved"  # 系统默认通过 at the 15-day deadline
    RETURNED = "returned"


class NodeRole(StrEnum):
    SENDING = "sending"  # the member's side (转出方)
    SENDING_SUPERIOR = "sending_superior"
    RECEIVING = "receiving"  # the target's side (转入方)
    RECEIVING_SUPERIOR = "receiving_superior"
    PROVINCIAL = "provincial"  # type 8: the provincial committee (§I.3)


class ActorKind(StrEnum):
    ORG_ADMIN = "org_admin"
    MEMBER = "member"
    SERVICE = "service"
    SYSTEM = "system"


class ReturnReason(StrEnum):
    """Grounds a node may return a request on; the last two are forbidden (§III.4)."""

    FORM_INCOMPLETE = "form_incomplete"  # 信息填写不完整或有误
    WRONG_TARGET = "wrong_target"  # 转入组织选择有误
    NOT_THIS_MEMBER = "not_this_member"  # 非本组织团员/身份信息不符
    DUPLICATE = "duplicate"  # 重复申请
    OTHER = "other"  # 其他（须说明）
    NOT_FORMAL_EMPLOYEE = "not_formal_employee"  # 非本单位正式编制职工 — forbidden
    NOT_LOCAL_RESIDENT = "not_local_resident"  # 非本地区正式户籍居民 — forbidden


FORBIDDEN_RETURN_REASONS = frozenset({ReturnReason.NOT_FORMAL_EMPLOYEE, ReturnReason.NOT_LOCAL_RESIDENT})

#: Phrases that state a forbidden ground in free text, whatever code was picked.
FORBIDDEN_GROUND_PHRASES: tuple[str, ...] = (
    "正式编制",
    "没有编制",
    "无编制",
    "不在编",
    "非本单位职工",
    "非本单位员工",
    "不是本单位职工",
    "不是本单位员工",
    "不是本单位正式",
    "非本地区",
    "非本地户籍",
    "非本地户口",
    "不是本地户籍",
    "不是本地户口",
    "外地户籍",
    "外地户口",
    "户籍不在本地",
    "户口不在本地",
    "非本地居民",
    "不是本地居民",
)

FORBIDDEN_GROUND_MESSAGE = (
    "不得以非本单位正式编制职工、非本地区正式户籍居民等理由拒绝毕业学生团员团组织关系转入申请（《通知》三、4）"
)


def return_ground_problem(reason_code: str, reason_text: str) -> str | None:
    """Why a return is refused (the Chinese message), or None when its ground is allowed."""
    try:
        code = ReturnReason(reason_code)
    except ValueError:
        return f"退回原因代码 {reason_code!r} 无效，应为 " + "、".join(
            r.value for r in ReturnReason if r not in FORBIDDEN_RETURN_REASONS
        )
    if code in FORBIDDEN_RETURN_REASONS:
        return FORBIDDEN_GROUND_MESSAGE
    text = (reason_text or "").strip()
    if any(p in text for p in FORBIDDEN_GROUND_PHRASES):
        return FORBIDDEN_GROUND_MESSAGE
    if code is ReturnReason.OTHER and not text:
        return "选择“其他”时须填写退回说明"
    if len(text) > 500:
        return "退回说明不超过500字"
    return None
