"""Transfer vocabulary (DOMAIN.md §4–§5): types, channels, statuses, return grounds. Pure."""

from __future__ import annotations

import re
import unicodedata
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

#: A forbidden ground (§III.4) in free text, whatever code was picked, is a *topic* (户籍/户口,
#: 编制/在编, being the unit's formal staff or a local resident) stated as a *deficiency* (非/不是/
#: 不在/没有/外省…) or with a *refusal* (不予/拒绝/无法接收/才能…). Text that mentions such a topic
#: only to point at the right place (a *redirect*: 应转至…) is allowed unless it also refuses:
#: "户籍地在洪山区，应转至洪山区对应街道" passes, "外省户籍，不予接收，应转至原籍" does not.
_GROUND_TOPIC = re.compile(
    r"户籍|户口|编制|在编|正式(?:职工|员工|在职|人员)|(?:本|我)(?:单位|公司|企业|街道|社区|镇|乡|区|县|市)的?(?:员工|职工|人员|居民)"
    r"|单位(?:员工|职工)|本地(?:人|居民|户)|常住人口|外(?:地|省|市|县)人"
)
_GROUND_DEFICIENCY = re.compile(
    r"非(?:本|我|正式|在编)|不是(?:本|我|正式|在编)|不属于|不在(?:本|我|编)|没有|无(?:编制|户)|未(?:落户|入户)"
    r"|外(?:地|省|市|县|区)|原籍|异地"
)
_GROUND_REFUSAL = re.compile(
    r"不予|不(?:能|可|便)?(?:接收|接受|受理|办理|同意)|无法(?:接收|接受|受理|办理)|拒(?:绝|收)"
    r"|才(?:能|可|予)|方(?:可|能)|只(?:接收|接受|限|收)|仅(?:接收|接受|限|收)|限(?:本地|本单位|在编)"
)
_GROUND_REDIRECT = re.compile(r"(?:应|请|须|需)(?:改)?(?:转至|转到|转入|转往|转接至)")


def states_forbidden_ground(text: str) -> bool:
    """Does the free text give a forbidden ground (§III.4), however it is worded?"""
    t = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))
    if not _GROUND_TOPIC.search(t):
        return False
    refuses = bool(_GROUND_REFUSAL.search(t))
    if not (refuses or _GROUND_DEFICIENCY.search(t)):
        return False
    return refuses or not _GROUND_REDIRECT.search(t)


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
    if states_forbidden_ground(text):
        return FORBIDDEN_GROUND_MESSAGE
    if code is ReturnReason.OTHER and not text:
        return "选择“其他”时须填写退回说明"
    if len(text) > 500:
        return "退回说明不超过500字"
    return None


#: Who may start each type, by channel (§I): as a rule the member's school (办理转出), the
#: receiving org (办理转入) or the member (个人发起) (§I preamble); 转往特殊单位团组织 only the school
#: or the member, the provincial committee approving (§I.3). 出国（境）学习研究 is not a transfer
#: at all (the retention application, §I.5), refused by the request's own checks.
START_CHANNELS: dict[TransferType, frozenset[Channel]] = {
    **{t: frozenset(Channel) for t in TransferType},
    TransferType.SPECIAL_UNIT: frozenset({Channel.OUT, Channel.SELF}),
}

#: What a start on a channel the table does not allow for its type is told.
CHANNEL_REFUSALS: dict[TransferType, str] = {
    TransferType.SPECIAL_UNIT: (
        "转往特殊单位团组织（参军入伍、涉密单位）须由原就读学校团组织办理转出或由团员本人发起，"
        "由省级团组织审核（《通知》一、3），不能办理转入"
    ),
}


def start_channel_problem(transfer_type: TransferType, channel: Channel) -> str | None:
    """Why this type may not be started on this channel (Chinese), or None."""
    if channel in START_CHANNELS[transfer_type]:
        return None
    return CHANNEL_REFUSALS.get(transfer_type, f"该转接类型不能通过“{channel.value}”渠道发起")
