"""The one glossary: domain identifiers → the Chinese labels people see."""

from __future__ import annotations

from domain.orgs import OrgKind, Partition

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

USER_ROLE_LABELS: dict[str, str] = {
    "admin": "组织管理员",
    "member": "团员",
    "service": "服务账号",
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
}
