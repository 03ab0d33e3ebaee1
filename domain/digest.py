"""The daily digest of an admin (issue "Every notice reaches a person"). Pure: rows and `today` are
parameters.

Once a calendar day each org admin gets one digest of what waits at their org and the orgs below
it that they act for (`domain.roles.Role.ADMIN`):

- **overdue**: nodes pending for `OVERDUE_AFTER_DAYS` (10) calendar days or more — from the day of
  their 10-day reminder on, when the pages show them as 已超过10天未审批 — longest waiting first;
- **due tomorrow**: nodes whose 15-day deadline falls on the next calendar day: the system will
  approve them by itself (系统默认通过) tomorrow unless someone decides first.

A node is an approval node of a transfer or an abroad-study retention application (decided by the
school committee on the same 10/15-day clock). Its days are calendar days of the one calendar
(`core.clock`): the caller maps the node's instants to calendar dates (`started_on`,
`deadline_on`), so a rehearsal counts rehearsed days.

**[decision]** An admin with nothing overdue and nothing due tomorrow gets no digest (not a daily
"无待办"): a message every day to every admin of every org, most of them saying nothing, teaches
people to ignore the one that matters, and would be mailed to them too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from domain.policy import DEFAULT_POLICY

#: Days pending from which a node is overdue: the day of its reminder (§I.8 note 1).
OVERDUE_AFTER_DAYS = DEFAULT_POLICY.remind_after.days
#: The notification kind of a digest, and the lengths of the notifications table's columns.
DIGEST_KIND = "digest"
TITLE_MAX = 200
BODY_MAX = 2000
#: The hour of each calendar day (Asia/Shanghai) the digest is written at.
DIGEST_HOUR = 8
DAY = timedelta(days=1)


class NodeKind(StrEnum):
    TRANSFER = "transfer"  # an approval node of a transfer (its current node)
    RETENTION = "retention"  # an abroad-study retention application, decided by the school


NODE_KIND_LABELS: dict[NodeKind, str] = {
    NodeKind.TRANSFER: "转接申请",
    NodeKind.RETENTION: "出国（境）学习研究保留团组织关系申请",
}


@dataclass(frozen=True)
class PendingNode:
    """A node deciding now, at org `org_id`, on calendar dates."""

    kind: NodeKind
    ref: int  # the transfer's or the retention application's id
    org_id: int
    org_name: str
    member_name: str
    started_on: date  # the calendar day its clock started
    deadline_on: date  # the calendar day of its 15-day deadline (系统默认通过)

    def days_pending(self, today: date) -> int:
        return max((today - self.started_on).days, 0)


def is_overdue(node: PendingNode, today: date) -> bool:
    return node.days_pending(today) >= OVERDUE_AFTER_DAYS


def is_due_tomorrow(node: PendingNode, today: date) -> bool:
    return node.deadline_on == today + DAY


@dataclass(frozen=True)
class Digest:
    day: date
    overdue: tuple[PendingNode, ...] = ()  # longest waiting first
    due_tomorrow: tuple[PendingNode, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.overdue and not self.due_tomorrow


def _order(node: PendingNode) -> tuple[str, str, str, int]:
    return (node.org_name, node.member_name, node.kind.value, node.ref)


def digest_of(nodes: Iterable[PendingNode], today: date) -> Digest:
    """What of these nodes is overdue and what is due tomorrow (a node may be both)."""
    nodes = list(nodes)
    overdue = sorted((n for n in nodes if is_overdue(n, today)), key=lambda n: (-n.days_pending(today), *_order(n)))
    tomorrow = sorted((n for n in nodes if is_due_tomorrow(n, today)), key=_order)
    return Digest(today, tuple(overdue), tuple(tomorrow))


def _chain(org_id: int, parents: Mapping[int, int | None]) -> list[int]:
    """The org and every org above it (a cycle or an unknown parent ends the walk)."""
    out: list[int] = []
    cur: int | None = org_id
    while cur is not None and cur not in out:
        out.append(cur)
        cur = parents.get(cur)
    return out


def digests_by_admin(
    admins: Mapping[int, int], parents: Mapping[int, int | None], nodes: Iterable[PendingNode], today: date
) -> dict[int, Digest]:
    """Each admin's digest (admins by user id → their org's id), only those with something to say.

    An admin acts for their org and every org below it: a node is in the digest of the admins of
    its org and of each org above it (`parents`: org id → parent id)."""
    admins_at: dict[int, list[int]] = defaultdict(list)
    for user_id, org_id in admins.items():
        admins_at[org_id].append(user_id)
    scoped: dict[int, list[PendingNode]] = defaultdict(list)
    for node in nodes:
        if not (is_overdue(node, today) or is_due_tomorrow(node, today)):
            continue
        for org_id in _chain(node.org_id, parents):
            for user_id in admins_at.get(org_id, ()):
                scoped[user_id].append(node)
    return {user_id: digest_of(found, today) for user_id, found in sorted(scoped.items())}


def digest_event_key(user_id: int, day: date) -> str:
    """The digest as an event: one per admin and day (its mail is queued under this key)."""
    return f"digest/{user_id}/{day.isoformat()}"


def digest_key(user_id: int, day: date) -> str:
    """The digest's idempotency key (the notification's unique key): the one notification of its
    event, keyed `<event key>/0` as every event's notifications are, so the mail channel finds it."""
    return f"{digest_event_key(user_id, day)}/0"


# --- the text ----------------------------------------------------------------------------------


def _item(node: PendingNode, today: date, *, waiting: bool) -> str:
    line = f"· {node.member_name}的{NODE_KIND_LABELS[node.kind]}，待{node.org_name}审批"
    return f"{line}，已等待{node.days_pending(today)}天" if waiting else line


def _more(count: int) -> str:
    return f"……另有{count}件未列出"


def _fit(lines: list[str], budget: int) -> list[str]:
    """As many of `lines` as fit in `budget` characters (newlines counted), then a line counting
    the rest."""
    if sum(len(line) + 1 for line in lines) <= budget:
        return lines
    reserve = len(_more(len(lines))) + 1
    out: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 + reserve > budget:
            break
        out.append(line)
        used += len(line) + 1
    return [*out, _more(len(lines) - len(out))]


def render(d: Digest, *, title_max: int = TITLE_MAX, body_max: int = BODY_MAX) -> tuple[str, str]:
    """The digest's title and body (Chinese), within the columns' lengths: a long list names as
    many nodes as fit and counts the rest."""
    day = d.day
    counts = []
    if d.overdue:
        counts.append(f"超过{OVERDUE_AFTER_DAYS}天未审批{len(d.overdue)}件")
    if d.due_tomorrow:
        counts.append(f"明日系统默认通过{len(d.due_tomorrow)}件")
    title = f"每日待办（{day.month}月{day.day}日）：{'，'.join(counts) or '无待办'}"[:title_max]
    head = [f"截至{day.isoformat()}，本组织及下级组织："]
    foot = ["", "请到操作中心及时审批。"]
    sections: list[tuple[str, list[str]]] = []
    if d.due_tomorrow:
        sections.append(
            (
                f"明日（{(day + DAY).isoformat()}）将由系统默认通过（{len(d.due_tomorrow)}件）：",
                [_item(n, day, waiting=False) for n in d.due_tomorrow],
            )
        )
    if d.overdue:
        sections.append(
            (
                f"超过{OVERDUE_AFTER_DAYS}天未审批（{len(d.overdue)}件）：",
                [_item(n, day, waiting=True) for n in d.overdue],
            )
        )
    fixed = sum(len(line) + 1 for line in head + foot) + sum(len(h) + 2 for h, _ in sections)
    budget = body_max - fixed
    body = list(head)
    for i, (heading, lines) in enumerate(sections):
        # the first section (due tomorrow, the more urgent) gets at most half when both are there
        share = budget if i == len(sections) - 1 else budget // 2
        fitted = _fit(lines, share)
        budget -= sum(len(line) + 1 for line in fitted)
        body += ["", heading, *fitted]
    return title, "\n".join(body + foot)[:body_max]


# --- when -------------------------------------------------------------------------------------


def schedule_timing(time_scale: float, day_began_at: float) -> tuple[timedelta, timedelta]:
    """(every, offset) of an interval schedule (fired at Unix epoch + n·every + offset) that writes
    the digest once each calendar day, at about `DIGEST_HOUR`.

    A calendar day lasts a day divided by `time_scale` (a rehearsed day); `day_began_at` is a Unix
    time at which a calendar day began (the rehearsal's epoch, or a Shanghai midnight). Schedules
    fire on whole seconds: both are whole seconds, the interval rounded down (at least a second),
    so no calendar day goes without a run — a day a run too many writes nothing twice — until a
    rehearsal runs faster than a day a second."""
    every = max(int(DAY.total_seconds() // time_scale), 1)
    hour = int(timedelta(hours=DIGEST_HOUR).total_seconds() // time_scale)
    return timedelta(seconds=every), timedelta(seconds=(round(day_began_at) + hour) % every)
