"""The one glossary: domain identifiers → the Chinese labels people see."""

from __future__ import annotations

from domain.holdings import HoldingKind, HoldingStatus, RegisterKind, RetentionStatus
from domain.orgs import OrgKind, Partition
from domain.roles import Role
from domain.transfers import ActorKind, Channel, NodeRole, NodeStatus, ReturnReason, TransferStatus, TransferType

ORG_KIND_LABELS: dict[OrgKind, str] = {
    OrgKind.PROVINCE: "省级团委",
    OrgKind.CITY: "市州团委",
    OrgKind.COUNTY: "县区团委",
    OrgKind.TOWNSHIP: "乡镇街道团(工)委",
    OrgKind.VILLAGE: "村/社区团组织",
    OrgKind.SCHOOL: "学校团委",
    OrgKind.COLLEGE: "院系团委/团总支",
    OrgKind.ENTERPRISE: "企事业单位团委",
    OrgKind.BRANCH: "团支部",
    OrgKind.TEMP_BRANCH: "学社衔接临时团支部",
    OrgKind.MOBILE_BRANCH: "毕业学生流动团员团支部",
    OrgKind.ABROAD_STUDY_BRANCH: "出国（境）学习研究团员团支部",
    OrgKind.DELAYED_BRANCH: "延迟毕业团支部",
    OrgKind.SPECIAL_UNIT_DB: "特殊单位专属库",
}

PARTITION_LABELS: dict[Partition, str] = {
    Partition.NATIONAL: "全国（北京、广东、福建以外）",
    Partition.BEIJING: "北京",
    Partition.GUANGDONG: "广东",
    Partition.FUJIAN: "福建",
}

#: Keyed by `Role`; typed by `str` so that a `users.role` value (a plain string) looks up directly.
USER_ROLE_LABELS: dict[str, str] = {
    Role.ADMIN: "组织管理员",
    Role.MEMBER: "团员",
    Role.SERVICE: "服务账号",
}

#: Column names of the import templates → Chinese labels (README and error reports).
ORG_COLUMN_LABELS: dict[str, str] = {
    "code": "组织编码",
    "name": "组织名称",
    "kind": "组织类型",
    "parent_code": "上级组织编码",
    "partition": "系统分区",
    "province": "省",
    "city": "市州",
    "county": "县区",
    "township": "乡镇街道",
    "address": "详细地址",
    "contact_phone": "联系电话",
    "contact_address": "联系地址",
    "can_receive": "当前可接收",
    "new_student": "新生团组织",
}

MEMBER_COLUMN_LABELS: dict[str, str] = {
    "id_number": "身份证号",
    "name": "姓名",
    "branch_code": "所在团支部编码",
    "joined_on": "入团时间",
    "graduation_year": "毕业年份",
    "hukou_address": "户籍地详细地址",
    "residence_address": "居住地详细地址",
    "phone": "联系电话",
    "email": "电子邮箱",
}


# ---------------------------------------------------------------------------------------------
# Transfers (DOMAIN.md §4–§5). Type labels are the exact names of the national system (A2).
# ---------------------------------------------------------------------------------------------
TRANSFER_TYPE_LABELS: dict[TransferType, str] = {
    TransferType.FURTHER_STUDY: "升学",
    TransferType.EMPLOYED_WITH_ORG: "已落实工作单位（工作单位有团组织）",
    TransferType.EMPLOYED_WITHOUT_ORG: "已落实工作单位（工作单位无团组织）",
    TransferType.ABROAD_OFFICIAL: "出国（因公出国／境）",
    TransferType.ABROAD_STUDY: "出国（境）学习研究",
    TransferType.ABROAD_PRIVATE: "出国（因私出国／境）",
    TransferType.UNEMPLOYED: "未就业",
    TransferType.SPECIAL_UNIT: "转往特殊单位团组织",
}

CHANNEL_LABELS: dict[Channel, str] = {
    Channel.OUT: "办理转出",
    Channel.IN: "办理转入",
    Channel.SELF: "个人发起",
}

TRANSFER_STATUS_LABELS: dict[TransferStatus, str] = {
    TransferStatus.PENDING: "审批中",
    TransferStatus.RETURNED: "已退回",
    TransferStatus.AWAITING_ASSIGNMENT: "待分配团支部",
    TransferStatus.COMPLETED: "已完成",
    TransferStatus.WITHDRAWN: "已撤回",
    TransferStatus.EXPIRED: "已过期",
}

NODE_STATUS_LABELS: dict[NodeStatus, str] = {
    NodeStatus.WAITING: "未开始",
    NodeStatus.PENDING: "待审批",
    NodeStatus.APPROVED: "审批通过",
    NodeStatus.AUTO_APPROVED: "系统默认通过",
    NodeStatus.RETURNED: "已退回",
}

NODE_ROLE_LABELS: dict[NodeRole, str] = {
    NodeRole.SENDING: "转出组织",
    NodeRole.SENDING_SUPERIOR: "转出组织上级团组织",
    NodeRole.RECEIVING: "转入组织",
    NodeRole.RECEIVING_SUPERIOR: "转入组织上级团组织",
    NodeRole.PROVINCIAL: "省级团委",
}

ACTOR_KIND_LABELS: dict[ActorKind, str] = {
    ActorKind.ORG_ADMIN: "组织管理员",
    ActorKind.MEMBER: "团员本人",
    ActorKind.SERVICE: "服务账号",
    ActorKind.SYSTEM: "系统",
}

RETURN_REASON_LABELS: dict[ReturnReason, str] = {
    ReturnReason.FORM_INCOMPLETE: "信息填写不完整或有误",
    ReturnReason.WRONG_TARGET: "转入组织选择有误",
    ReturnReason.NOT_THIS_MEMBER: "非本组织团员/身份信息不符",
    ReturnReason.DUPLICATE: "重复申请",
    ReturnReason.OTHER: "其他（须说明）",
    ReturnReason.NOT_FORMAL_EMPLOYEE: "非本单位正式编制职工（不得以此为由退回）",
    ReturnReason.NOT_LOCAL_RESIDENT: "非本地区正式户籍居民（不得以此为由退回）",
}

#: Form keys of DOMAIN.md §4 (dotted for nested ones) → the labels of the form (A2 wording).
FORM_FIELD_LABELS: dict[str, str] = {
    "school_name": "转入学校名称",
    "school_address": "学校所在地详细地址",
    "employer_name": "工作单位名称",
    "employer_address": "工作单位所在地详细地址",
    "address": "户籍地或居住地详细地址",
    "unit_kind": "特殊单位类型",
    "joined_unit_on": "入伍或入职日期",
    "location": "去向所在地",
    "location.province": "去向所在地（省）",
    "location.city": "去向所在地（市州）",
    "location.county": "去向所在地（县区）",
    "location.township": "去向所在地（乡镇街道）",
    "abroad_place": "境外学习研究地点",
    "abroad_from": "出国（境）学习研究开始日期",
    "abroad_to": "出国（境）学习研究结束日期",
    "contact_name": "境内联系人",
    "contact_phone": "境内联系人联系方式",
}

#: `unit_kind` of type 8 (§I.3).
UNIT_KIND_LABELS: dict[str, str] = {
    "military": "参军入伍",
    "classified": "涉密单位",
}

#: The question of A2 note 2 and its answers.
PARTITION_QUESTION = "转入组织（新组织）是否属于北京／广东／福建"

# --- the flows that keep a member at school (DOMAIN.md §6) ---

HOLDING_KIND_LABELS: dict[HoldingKind, str] = {
    HoldingKind.MOBILE: "毕业学生流动团员",
    HoldingKind.COUNTY_TEMP: "县级学社衔接临时团支部团员",
}

HOLDING_STATUS_LABELS: dict[HoldingStatus, str] = {
    HoldingStatus.ACTIVE: "保留中",
    HoldingStatus.OVERDUE: "已超期",
    HoldingStatus.RELEASED: "已转出",
}

RETENTION_STATUS_LABELS: dict[RetentionStatus, str] = {
    RetentionStatus.PENDING: "待审批",
    RetentionStatus.APPROVED: "已审批备案",
    RetentionStatus.RETURNED: "已退回",
    RetentionStatus.WITHDRAWN: "已撤回",
}

REGISTER_LABELS: dict[RegisterKind, str] = {
    RegisterKind.ABROAD_STUDY: "出国（境）学习研究团员登记册",
    RegisterKind.MOBILE: "毕业学生流动团员登记册",
    RegisterKind.DELAYED: "延迟毕业学生团员登记册",
    RegisterKind.COUNTY_TEMP: "县级学社衔接临时团支部团员登记册",
    RegisterKind.SPECIAL_UNIT: "特殊单位专属库团员登记册",
}

#: A transfer's recorded actions (the audit log's `action`) as its timeline shows them.
ACTION_LABELS: dict[str, str] = {
    "transfer.started": "发起转接申请",
    "node.pending": "进入审批节点",
    "node.reminded": "超过10天未审批，已提醒审批组织",
    "node.approved": "审批通过",
    "node.auto_approved": "系统默认通过（15天内未审批）",
    "node.returned": "退回",
    "transfer.resubmitted": "更正后重新提交",
    "transfer.withdrawn": "撤回申请",
    "transfer.expired": "退回后未在期限内处理，申请已过期",
    "assignment.awaiting": "审批通过，待接收组织分配团支部",
    "assignment.reminded": "提醒接收组织分配团支部",
    "branch.assigned": "分配团支部",
    "transfer.completed": "转接办结",
}

#: A bulk 办理转出 upload job (批量办理转出) and its rows, by the values of `messages.uploads`'
#: UploadStatus and UploadRowStatus (keyed by str: domain/ does not import messages/).
UPLOAD_STATUS_LABELS: dict[str, str] = {
    "running": "办理中",
    "done": "已完成",
}
UPLOAD_ROW_STATUS_LABELS: dict[str, str] = {
    "invalid": "无效行（未发起）",
    "pending": "待发起",
    "started": "已发起",
    "existing": "已发起过或已有办理中的申请",
    "failed": "发起失败",
}

#: The message centre's notices by `kind` (what the workflows write; keyed by str, as the rows are).
NOTIFICATION_KIND_LABELS: dict[str, str] = {
    "node_pending": "待审批",
    "node_reminder": "审批提醒",
    "transfer_returned": "申请被退回",
    "transfer_update": "转接进展",
    "assignment_needed": "待分配团支部",
    "assignment_reminder": "分配团支部提醒",
    "retention_pending": "保留申请待审批",
    "retention_reminder": "保留申请审批提醒",
    "retention_returned": "保留申请被退回",
    "retention_update": "保留申请进展",
    "holding_started": "保留开始",
    "holding_reminder": "保留期满提醒",
    "holding_overdue": "保留期已满",
}
