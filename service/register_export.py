"""A special register as an XLSX workbook: its columns (Chinese headers) and `export_xlsx(rows,
kind, whole_ids)`, the whole 身份证号 where `whole_ids` (`service.registers.whole_ids`) has it."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from domain.holdings import RegisterKind
from service.registers import REGISTER_NAMES, RegisterRow


def _yes_no(v: bool | None) -> str:
    return "" if v is None else ("是" if v else "否")


_Col = tuple[str, Callable[[RegisterRow], Any], int]  # header, value, width

_COMMON_HEAD: list[_Col] = [
    ("序号", lambda r: None, 6),  # filled with the row number
    ("姓名", lambda r: r.member_name, 10),
    ("身份证号", lambda r: r.id_number_masked, 22),
]
_SCHOOL: list[_Col] = [
    ("学校团委", lambda r: r.responsible_org, 22),
    ("所在团支部", lambda r: r.org_name, 32),
]
_HOLDING_STATE: list[_Col] = [  # the two holding registers end alike
    ("状态", lambda r: r.status_label, 10),
    ("是否超期", lambda r: _yes_no(r.overdue), 10),
    ("已提醒次数", lambda r: r.reminders_sent, 10),
    ("转出日期", lambda r: r.released_on, 14),
]

COLUMNS: dict[str, list[_Col]] = {
    RegisterKind.ABROAD_STUDY: [
        *_COMMON_HEAD,
        *_SCHOOL,
        ("境外学习研究地点", lambda r: r.abroad_place, 30),
        ("出国（境）开始日期", lambda r: r.abroad_from, 14),
        ("出国（境）结束日期", lambda r: r.abroad_to, 14),
        ("境内联系人", lambda r: r.contact_name, 10),
        ("境内联系人联系方式", lambda r: r.contact_phone, 16),
        ("登记备案日期", lambda r: r.started_on, 14),
        ("审批方式", lambda r: "系统默认通过" if r.auto_approved else "学校团委审批", 14),
        ("是否已过境外学习期限", lambda r: _yes_no(r.overdue), 12),
    ],
    RegisterKind.MOBILE: [
        *_COMMON_HEAD,
        *_SCHOOL,
        ("毕业年份", lambda r: r.graduation_year, 10),
        ("编入日期", lambda r: r.started_on, 14),
        ("保留期满日期", lambda r: r.due_on, 14),
        *_HOLDING_STATE,
    ],
    RegisterKind.DELAYED: [
        *_COMMON_HEAD,
        *_SCHOOL,
        ("预计毕业年份", lambda r: r.graduation_year, 12),
        ("标记日期", lambda r: r.started_on, 14),
        ("状态", lambda r: r.status_label, 10),
    ],
    RegisterKind.COUNTY_TEMP: [
        *_COMMON_HEAD,
        ("县级团委", lambda r: r.responsible_org, 24),
        ("临时团支部", lambda r: r.org_name, 30),
        ("接收日期", lambda r: r.started_on, 14),
        ("转出期限", lambda r: r.due_on, 14),
        *_HOLDING_STATE,
    ],
    RegisterKind.SPECIAL_UNIT: [
        *_COMMON_HEAD,
        ("特殊单位专属库", lambda r: r.org_name, 28),
        ("转出组织", lambda r: r.from_org, 30),
        ("特殊单位类型", lambda r: r.unit_kind, 12),
        ("入伍或入职日期", lambda r: r.joined_unit_on, 14),
        ("入库日期", lambda r: r.started_on, 14),
        ("转接申请编号", lambda r: r.transfer_id, 12),
    ],
}


def headers(kind: RegisterKind | str) -> list[str]:
    return [h for h, _, _ in COLUMNS[RegisterKind(kind)]]


def export_xlsx(rows: list[RegisterRow], kind: RegisterKind | str, whole: dict[int, str] | None = None) -> bytes:
    """The register as an XLSX workbook: one sheet titled with the register's name, Chinese
    headers, dates as dates, 身份证号 masked as in the rows unless `whole` (`whole_ids`) has it."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    kind = RegisterKind(kind)
    cols = COLUMNS[kind]
    whole = whole or {}
    wb = Workbook()
    ws = wb.active
    ws.title = REGISTER_NAMES[kind][:31]
    ws.append([h for h, _, _ in cols])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for n, row in enumerate(rows, start=1):
        if row.kind != kind:
            raise ValueError(f"a {row.kind} row in the {kind} register")
        ws.append(
            [
                n if h == "序号" else whole.get(row.member_id, row.id_number_masked) if h == "身份证号" else value(row)
                for h, value, _ in cols
            ]
        )
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, (date, datetime)):
                cell.number_format = "yyyy-mm-dd"
    for i, (_, _, width) in enumerate(cols, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
