"""A member held for a limited time, as a durable workflow (DOMAIN.md §6).

`HoldingWorkflow` (ids ``holding-mobile-<member id>``, ``holding-county-<member id>``): a member
kept at school in 毕业学生流动团员团支部 (≤ 6 months, §I.4) or received by a county-level
学社衔接临时团支部 (≤ 1 year, §I.1). The holding's admins are reminded before the end
(`HoldingPolicy.remind_before`), the holding turns `overdue` at the end (a notice, and it shows
on the overdue lists), and it ends when `release` (update, or `release_signal` from another
workflow) says the member was moved out. A mobile holding ends 6 months after graduation
**[decision]**: its input carries the calendar day (`ends_on`) and the calendar time left at the
marking (`calendar_left`, waited ÷ the time scale), both computed by the service; versioned by
`GRADUATION_LIMIT_PATCH` — holdings started before run 6 months from their start, as they did.

It follows TransferWorkflow: the release is an update whose validator refuses a stale or
duplicate one before it reaches history; only the main loop changes state, and every change goes
to the database through one idempotent activity keyed ``workflow id/first run id/event number``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

from workflows.common import EventJournal, Refused, invalid, wait

with workflow.unsafe.imports_passed_through():
    from activities.stay_at_school import StayAtSchoolActivities
    from domain.deadlines import shanghai_date
    from domain.glossary import HOLDING_KIND_LABELS
    from domain.holdings import HoldingKind, HoldingStatus
    from domain.transfers import ActorKind
    from messages import search_attributes as sa
    from messages.errors import ErrorType
    from messages.stay_at_school import HoldingEvent, HoldingInput, HoldingRelease, HoldingView, days_text
    from messages.transfers import SYSTEM_ACTOR, NotificationSpec, OrgRef

#: Mobile holdings end 6 months after graduation, not 6 months after the marking (§I.4 [decision]).
GRADUATION_LIMIT_PATCH = "mobile-holding-ends-after-graduation"

#: Search-attribute "TransferType" values of this workflow (operators filter on them).
HOLDING_SA_TYPE = {HoldingKind.MOBILE: "holding_mobile", HoldingKind.COUNTY_TEMP: "holding_county_temp"}


def _date(moment: datetime) -> str:
    return shanghai_date(moment).isoformat()


@workflow.defn
class HoldingWorkflow(EventJournal[HoldingEvent, bool]):
    inp: HoldingInput  # set by `run` before any await

    def __init__(self) -> None:
        super().__init__(HoldingEvent, StayAtSchoolActivities.apply_holding_event, ErrorType.INVALID_STAY_DATA)
        self.status = HoldingStatus.ACTIVE
        self.started_at: datetime | None = None
        self.due_at: datetime | None = None
        self.ends_on: date | None = None  # the calendar day, when the input gives it
        self.reminders_sent = 0
        self.next_reminder_at: datetime | None = None
        self.overdue_at: datetime | None = None
        self.released_at: datetime | None = None
        self.released_by: str | None = None
        self.release_reason: str | None = None
        self._release: HoldingRelease | None = None
        self._release_written = False
        self._recorded = False  # the first event is in the database

    @workflow.run
    async def run(self, inp: HoldingInput) -> HoldingView:
        self.inp = inp
        started_at = inp.started_at or workflow.now()
        months = inp.policy.months(inp.kind)
        detail: dict[str, Any] = {"branch": inp.branch.code, "months": months}
        if inp.calendar_left is not None and inp.ends_on is not None and workflow.patched(GRADUATION_LIMIT_PATCH):
            # §I.4 [decision]: 6 months after graduation; the calendar time left at the marking, scaled
            due_at = started_at + inp.policy.due_after(inp.calendar_left)
            self.ends_on = inp.ends_on
            ends = inp.ends_on.isoformat()
            within = f"毕业后{months}个月内（{ends}前）"
            detail["ends_on"] = ends
        else:  # started before the patch, or a county temp branch: months from the start
            due_at = inp.policy.due_at(inp.kind, started_at)
            ends = _date(due_at)
            within = f"{months}个月内（{ends}前）"
        detail["due_at"] = due_at.isoformat()
        self.started_at, self.due_at = started_at, due_at
        plan = inp.policy.reminders(started_at, due_at)
        self.next_reminder_at = plan[0][0] if plan else None
        label = HOLDING_KIND_LABELS[inp.kind]
        term = "保留期" if inp.kind == HoldingKind.MOBILE else "转出期限"
        await self.write_event(
            "holding.started",
            inp.started_by,
            create=inp,
            started_at=self.started_at,
            due_at=self.due_at,
            notify=[
                NotificationSpec(
                    kind="holding_started",
                    org_code=inp.notify_org.code,
                    title=f"{label}保留开始",
                    body=f"{inp.member_name}（{inp.member_id_masked}）已编入{inp.branch.name}，须在{within}"
                    "转出团组织关系。",
                )
            ],
            detail=detail,
        )
        self._recorded = True
        released = self._released

        for i, (at, before) in enumerate(plan):
            self.next_reminder_at = at
            if await wait(released, at - workflow.now()):
                break
            self.reminders_sent += 1
            self.next_reminder_at = plan[i + 1][0] if i + 1 < len(plan) else None
            await self.write_event(
                "holding.reminded",
                SYSTEM_ACTOR,
                reminders_sent=self.reminders_sent,
                notify=[
                    NotificationSpec(
                        kind="holding_reminder",
                        org_code=inp.notify_org.code,
                        title=f"{label}{term}还有{days_text(before)}届满",
                        body=f"{inp.member_name}（{inp.member_id_masked}）在{inp.branch.name}的{term}将于"
                        f"{ends}届满，请及时办理团组织关系转出。",
                    )
                ],
                detail={"reminder": self.reminders_sent, "before": days_text(before)},
            )
        self.next_reminder_at = None

        if not released() and not await wait(released, due_at - workflow.now()):
            self.status = HoldingStatus.OVERDUE
            self.overdue_at = workflow.now()
            await self.write_event(
                "holding.overdue",
                SYSTEM_ACTOR,
                overdue_at=self.overdue_at,
                notify=[
                    NotificationSpec(
                        kind="holding_overdue",
                        org_code=inp.notify_org.code,
                        title=f"{label}{term}已届满，尚未转出",
                        body=f"{inp.member_name}（{inp.member_id_masked}）在{inp.branch.name}的{term}已于"
                        f"{ends}届满，已列入超期名单，请尽快办理转出。",
                    )
                ],
            )
            await workflow.wait_condition(released)

        r = self._release
        assert r is not None  # the condition waited for
        self.status = HoldingStatus.RELEASED
        self.released_at = workflow.now()
        self.released_by = r.actor.username
        self.release_reason = r.reason or None
        await self.write_event(
            "holding.released",
            r.actor,
            released_at=self.released_at,
            release_reason=self.release_reason,
            transfer_workflow_id=r.transfer_workflow_id,
            detail={"reason": r.reason, "transfer": r.transfer_workflow_id},
        )
        self._release_written = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.view()

    # --- helpers -------------------------------------------------------------------------------

    def _released(self) -> bool:
        return self._release is not None

    def search_attributes(self) -> list[SearchAttributeUpdate[Any]]:
        inp = self.inp
        open_ = self.status.is_open
        return [
            sa.TRANSFER_TYPE.value_set(HOLDING_SA_TYPE[inp.kind]),
            sa.TRANSFER_STATUS.value_set(self.status.value),
            sa.FROM_ORG.value_set(inp.from_branch.code),
            sa.TO_ORG.value_set(inp.branch.code),
            sa.CURRENT_NODE_ORG.value_set(inp.notify_org.code) if open_ else sa.CURRENT_NODE_ORG.value_unset(),
            sa.NODE_DEADLINE.value_set(self.due_at)
            if open_ and self.due_at is not None
            else sa.NODE_DEADLINE.value_unset(),
        ]

    def event_fields(self) -> dict[str, Any]:
        return {"status": self.status}

    def view(self) -> HoldingView:
        inp = self.inp
        return HoldingView(
            **self.view_fields(inp.request_id),
            kind=inp.kind,
            status=self.status,
            member_id=inp.member_id,
            branch=OrgRef(code=inp.branch.code, name=inp.branch.name),
            notify_org=inp.notify_org,
            started_at=self.started_at,
            due_at=self.due_at,
            reminders_sent=self.reminders_sent,
            next_reminder_at=self.next_reminder_at,
            overdue_at=self.overdue_at,
            released_at=self.released_at,
            released_by=self.released_by,
            release_reason=self.release_reason,
            ends_on=self.ends_on,
        )

    @workflow.query
    def status_query(self) -> HoldingView:
        return self.view()

    @workflow.update
    async def recorded(self) -> HoldingView:
        """The state once the holding (and a mobile member's move) is in the database."""
        await workflow.wait_condition(lambda: self._recorded)
        return self.view()

    # --- release -------------------------------------------------------------------------------

    @workflow.update
    async def release(self, d: HoldingRelease) -> HoldingView:
        self._validate_release(d)
        self._release = d
        await workflow.wait_condition(lambda: self._release_written)
        return self.view()

    @release.validator
    def _validate_release(self, d: HoldingRelease) -> None:
        if not self.status.is_open or self._release is not None:
            raise Refused("该团员的保留已结束，不能重复办理")
        a = d.actor
        if a.kind == ActorKind.MEMBER:
            raise Refused("团员本人不能结束保留")
        if a.kind == ActorKind.ORG_ADMIN and a.org_code not in (self.inp.notify_org.code, self.inp.branch.code):
            raise Refused(f"只有{self.inp.notify_org.name}的管理员可以结束该保留")
        if len(d.reason) > 500:
            raise invalid("说明不超过500字")

    @workflow.signal
    def release_signal(self, d: HoldingRelease) -> None:
        """The same as `release`, from another workflow (a completed transfer): ignored when the
        holding has ended already."""
        if self.status.is_open and self._release is None:
            self._release = d
