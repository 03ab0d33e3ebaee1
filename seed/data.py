"""The fixed part of the demo dataset: the Hubei directory's places, the schools, the employers
without a league org, the demo logins' names and password, and the defaults of `zhtj seed demo`.
Plain data; `seed.tree` and `seed.people` build the dataset from it."""

from __future__ import annotations

from datetime import date
from typing import Any

DEFAULT_SEED = 20260601
DEFAULT_MEMBERS = 3000
#: The one password of every demo account (printed by `zhtj seed demo`; change it in production).
DEMO_PASSWORD = "zhtj-demo-2026"
GRADUATION_YEAR = 2026
#: Birth dates giving an age of 21–24 in the 2026 graduation month.
BIRTH_FROM = date(2001, 9, 1)
BIRTH_TO = date(2005, 6, 30)
SERVICE_USERNAME = "sis-whu"

HUBEI = "湖北省"

# ---------------------------------------------------------------------------------------------
# The Hubei part of the directory: city → county → township (→ village/community).
# (code, name, address tail, counties); county: (code, name, area code, address tail, townships);
# township: (code, name, address tail, can_receive, villages); village: (code, name).
# ---------------------------------------------------------------------------------------------
_Village = tuple[str, str]
_Township = tuple[str, str, str, bool, tuple[_Village, ...]]
_County = tuple[str, str, str, str, tuple[_Township, ...]]
_City = tuple[str, str, str, tuple[_County, ...]]

HUBEI_CITIES: tuple[_City, ...] = (
    (
        "WH",
        "武汉市",
        "江岸区沿江大道188号",
        (
            (
                "HS",
                "洪山区",
                "420111",
                "珞狮南路519号",
                (
                    ("LN", "珞南街道", "珞狮路147号", True, (("ZDQ", "卓刀泉社区"),)),
                    ("GS", "关山街道", "关山大道355号", True, (("GSSQ", "关山社区"),)),
                    ("SZS", "狮子山街道", "狮子山街1号", True, ()),
                    ("HSJ", "洪山街道", "洪山路64号", True, ()),
                ),
            ),
            (
                "WC",
                "武昌区",
                "420106",
                "民主路500号",
                (
                    ("LJS", "珞珈山街道", "东湖南路8号", True, ()),
                    ("ZNL", "中南路街道", "中南二路12号", True, ()),
                    ("SGH", "水果湖街道", "东湖路181号", True, ()),
                ),
            ),
            (
                "JX",
                "江夏区",
                "420115",
                "文化大道99号",
                (
                    ("ZF", "纸坊街道", "纸坊大街300号", True, ()),
                    ("WLJ", "五里界街道", "五里界大道28号", True, (("TZL", "童周岭村"),)),
                    # §I.1: the township cannot receive now (secretary post vacant); the county's
                    # temporary branch takes its graduates.
                    ("FS", "法泗街道", "法泗大街16号", False, ()),
                ),
            ),
        ),
    ),
    (
        "YC",
        "宜昌市",
        "西陵区沿江大道52号",
        (
            (
                "XL",
                "西陵区",
                "420502",
                "西陵一路28号",
                (
                    ("XLJD", "西陵街道", "解放路46号", True, ()),
                    ("XY", "学院街道", "学院街19号", True, (("DS", "东山社区"),)),
                    ("YJ", "云集街道", "云集路22号", True, ()),
                ),
            ),
            (
                "YL",
                "夷陵区",
                "420506",
                "夷兴大道101号",
                (
                    ("XXT", "小溪塔街道", "平湖大道25号", True, ()),
                    ("LQ", "龙泉镇", "龙泉路8号", True, (("SY", "双堰村"),)),
                    ("YQL", "鸦鹊岭镇", "鸦鹊岭大道6号", True, ()),
                ),
            ),
        ),
    ),
    (
        "XY",
        "襄阳市",
        "樊城区人民广场1号",
        (
            (
                "XZ",
                "襄州区",
                "420607",
                "航空路266号",
                (
                    ("ZW", "张湾街道", "张湾大道18号", True, ()),
                    ("XW", "肖湾街道", "肖湾路33号", True, ()),
                    ("SG", "双沟镇", "双沟大道7号", True, (("YW", "鄢湾村"),)),
                ),
            ),
            (
                "FC",
                "樊城区",
                "420606",
                "长征路9号",
                (
                    ("HJ", "汉江街道", "汉江北路21号", True, ()),
                    ("PXM", "屏襄门街道", "屏襄门路5号", True, ()),
                ),
            ),
        ),
    ),
)

#: Schools: (code, name, city, county, township, address, colleges, has delayed branch).
SCHOOLS: tuple[tuple[str, str, str, str, str, str, tuple[tuple[str, str], ...], bool], ...] = (
    (
        "WHU",
        "武汉大学",
        "武汉市",
        "武昌区",
        "珞珈山街道",
        "湖北省武汉市武昌区八一路299号",
        (
            ("CS", "计算机学院"),
            ("EM", "经济与管理学院"),
            ("LIT", "文学院"),
            ("EIS", "电子信息学院"),
            ("LAW", "法学院"),
        ),
        True,
    ),
    # Its 延迟毕业团支部 is left out: DOMAIN §6 says it is created when first needed.
    (
        "HUST",
        "华中科技大学",
        "武汉市",
        "洪山区",
        "关山街道",
        "湖北省武汉市洪山区珞喻路1037号",
        (
            ("CS", "计算机科学与技术学院"),
            ("ME", "机械科学与工程学院"),
            ("EE", "电气与电子工程学院"),
            ("MG", "管理学院"),
            ("OE", "光学与电子信息学院"),
        ),
        False,
    ),
)
CLASSES_PER_COLLEGE = 8
ENTRY_YEAR = GRADUATION_YEAR - 4

#: An employer that has no league org (so it is not in the directory): DOMAIN §4 type 3 sends
#: its new employees to the temporary branch of the township it is in (关山街道, which receives).
EMPLOYER_WITHOUT_ORG: dict[str, Any] = {
    "name": "武汉珞喻云图软件有限公司",
    "address": "湖北省武汉市洪山区关山街道关山大道355号光谷软件园C6栋8楼",
    "location": {"province": HUBEI, "city": "武汉市", "county": "洪山区", "township": "关山街道"},
}
#: The same case where the township cannot receive now (法泗街道, can_receive false): from
#: September the county's (江夏区) temporary branch receives (§I.1).
EMPLOYER_WITHOUT_ORG_CLOSED_TOWNSHIP: dict[str, Any] = {
    "name": "武汉法泗农业科技发展有限公司",
    "address": "湖北省武汉市江夏区法泗街道法泗大街88号",
    "location": {"province": HUBEI, "city": "武汉市", "county": "江夏区", "township": "法泗街道"},
}

#: Org codes whose admins appear in the summary's login table.
SUMMARY_ADMIN_CODES: tuple[str, ...] = ("HB", "WHU", "WHU-CS", "HB-WH-HS-LN", "DFM")
MEMBER_LOGINS = 5
#: The usernames of the login table, in its order.
DEMO_LOGIN_USERNAMES: tuple[str, ...] = (
    *(c.lower() for c in SUMMARY_ADMIN_CODES),
    *(f"member{i}" for i in range(1, MEMBER_LOGINS + 1)),
    SERVICE_USERNAME,
)
