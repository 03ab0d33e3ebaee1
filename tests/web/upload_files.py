"""Bulk 办理转出 files for the upload tests (API, UI, job): WHU's graduates, a few rows bad in the
ways `zhtj transfers import`'s own test breaks them (tests/imports/test_transfers_import.py), and
the checks every upload test makes of the transfers table."""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass

from sqlalchemy import func, select

from models import Member, Transfer
from models.db import session_factory
from seed.demo import seed_demo
from tests.imports.test_transfers_import import HEADER, bad_checksum, row_for, whu_graduates


@dataclass
class GraduatesFile:
    rows: list[list[str]]
    bad: dict[int, tuple[str, str]]  # line → (column, rule) of its one error
    members: list[Member]

    @property
    def valid(self) -> int:
        return len(self.rows) - len(self.bad)

    @property
    def expected_report(self) -> list[tuple[int, str, str]]:
        return [(line, column, rule) for line, (column, rule) in sorted(self.bad.items())]

    def csv_bytes(self) -> bytes:
        out = io.StringIO()
        w = csv.writer(out)
        w.writerow(HEADER)
        w.writerows(self.rows)
        return out.getvalue().encode("utf-8-sig")


async def graduates_file(engine, n: int, *, bad: bool = True) -> GraduatesFile:
    """`n` rows of WHU's graduates (the demo seeded with enough members) (alternately 未就业 and employed_without_org); with `bad`, seven
    rows broken: a checksum, a name that is not the 身份证号's, an unknown type, a missing address
    and township, another school's member (403) and a member on two lines."""
    members = await whu_graduates(engine, n)
    if len(members) < n:  # about half of the demo's members are WHU's graduates
        await seed_demo(engine, members=n * 21 // 10 + 100)
        members = await whu_graduates(engine, n)
    assert len(members) == n, f"the seed has {len(members)} graduating WHU members, {n} needed"
    rows = [row_for(m, i) for i, m in enumerate(members)]
    broken: dict[int, tuple[str, str]] = {}
    if bad:
        hust = (await whu_graduates(engine, 1, school="HUST"))[0]

        def at(frac: float, odd: int) -> int:  # an even (employed) or odd (未就业) row
            return int(n * frac) // 2 * 2 + odd

        i = at(0.01, 0)
        rows[i][1] = bad_checksum(rows[i][1])
        broken[i + 2] = ("id_number", "checksum")
        i = at(0.12, 0)
        rows[i][0] += "某"
        broken[i + 2] = ("id_number", "api_rejected")
        i = at(0.35, 1)
        rows[i][2] = "失业"
        broken[i + 2] = ("type", "unknown_type")
        i = at(0.6, 0)
        rows[i][4] = ""
        broken[i + 2] = ("employer_address", "required")
        i = at(0.75, 1)
        rows[i][9] = ""
        broken[i + 2] = ("location_township", "required")
        i = at(0.9, 0)
        rows[i] = row_for(hust, i)
        broken[i + 2] = ("", "api_forbidden")
        i = n - 1
        rows[i] = list(rows[3])
        broken[i + 2] = ("id_number", "duplicate")
        assert len(broken) == 7
    return GraduatesFile(rows=rows, bad=broken, members=members)


def read_report(data: bytes) -> list[tuple[int, str, str]]:
    """(line, column, rule) of an error report; its header is the CLI report's."""
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, as the CLI writes it
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["line", "column", "rule", "message"]
    assert all(r[3] for r in rows[1:])
    return [(int(r[0]), r[1], r[2]) for r in rows[1:]]


async def transfer_counts(engine) -> tuple[int, int]:
    """(transfers, members with more than one transfer)."""
    async with session_factory(engine)() as s:
        total = (await s.execute(select(func.count()).select_from(Transfer))).scalar_one()
        twice = (
            await s.execute(
                select(func.count()).select_from(
                    select(Transfer.member_id).group_by(Transfer.member_id).having(func.count() > 1).subquery()
                )
            )
        ).scalar_one()
    return total, twice


async def all_recorded(engine, n: int, timeout: float = 120.0) -> None:
    """Wait until the transfers' workflows have written `n` transfers (then check no more come)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while (have := (await transfer_counts(engine))[0]) < n:
        assert loop.time() < end, f"{have} of {n} transfers recorded after {timeout} s"
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)
    assert (await transfer_counts(engine)) == (n, 0)
