"""The abroad-study retention application (§I.5) as a durable workflow (DOMAIN.md §6).

`AbroadRetentionWorkflow` (id ``retention-<member id>``): a written abroad-study retention
application the school committee decides by an `approve` or `return_request` update, with
the transfer rule of §5 **[decision]**: reminded once at `remind_after` (10 d) undecided,
approved by the system at `auto_approve_after` (15 d) as 系统默认通过. The member (or the
school) may `withdraw` while it is pending. Approval moves the member into the school's
出国（境）学习研究团员团支部 (created if missing) and enters the application in the abroad-study
register; a returned or withdrawn application changes no membership and closes — the member may
apply again (a new run of the same id).

It follows TransferWorkflow: decisions are updates whose validators refuse stale or duplicate
ones before they reach history; only the main loop changes state, and every change goes to the
database through one idempotent activity keyed ``workflow id/first run id/event number``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

from workflows.common import EventJournal, Refused, invalid, invalid_return_ground, wait

with workflow.unsafe.imports_passed_through():
    from activities.stay_at_school import StayAtSchoolActivities
    from domain.deadlines import node_deadlines
    from domain.glossary import RETENTION_STATUS_LABELS
    from domain.holdings import RetentionStatus
    from domain.transfers import ActorKind, Channel, return_ground_problem
    from messages import search_attributes as sa
    from messages.errors import ErrorType
    from messages.stay_at_school import (
        RetentionApprove,
        RetentionEvent,
        RetentionInput,
        RetentionReturn,
        RetentionView,
        RetentionWithdraw,
    )
    from messages.transfers import SYSTEM_ACTOR, Actor, NotificationSpec, OrgRef

#: Search-attribute "TransferType" value of this workflow (operators filter on it).
RETENTION_SA_TYPE = "abroad_study"


@workflow.defn
class AbroadRetentionWorkflow(EventJournal[RetentionEvent, bool]):
    inp: RetentionInput  # set by `run` before any await

    def __init__(self) -> None:
        super().__init__(RetentionEvent, StayAtSchoolActivities.apply_retention_event, ErrorType.INVALID_STAY_DATA)
        self.status = RetentionStatus.PENDING
        self.submitted_at: datetime | None = None
        self.remind_at: datetime | None = None
        self.deadline: datetime | None = None
        self.reminded_at: datetime | None = None
        self.decided_at: datetime | None = None
        self.decided_by: str | None = None
        self.auto_approved = False
        self.comment: str | None = None
        self.reason_code: str | None = None
        self.withdrawn_by: str | None = None
        self.branch: OrgRef | None = None
        # the one decision the main loop applies
        self._decision: RetentionApprove | RetentionReturn | RetentionWithdraw | None = None
        self._decision_written = False
        self._recorded = False  # the first event is in the database

    @workflow.run
    async def run(self, inp: RetentionInput) -> RetentionView:
        self.inp = inp
        now = workflow.now()
        self.submitted_at = now
        remind_at, deadline = node_deadlines(now, inp.policy)
        self.remind_at, self.deadline = remind_at, deadline
        school = inp.school.code
        await self.write_event(
            "retention.submitted",
            inp.initiator,
            create=inp,
            remind_at=self.remind_at,
            deadline=self.deadline,
            notify=[
                NotificationSpec(
                    kind="retention_pending",
                    org_code=school,
                    title="有新的出国（境）学习研究保留团组织关系申请待审批",
                    body=f"{inp.member_name}（{inp.member_id_masked}）申请保留团组织关系，请在15天内审批。",
                )
            ],
            detail={
                "abroad_place": inp.form.abroad_place,
                "abroad_from": inp.form.abroad_from.isoformat(),
                "abroad_to": inp.form.abroad_to.isoformat(),
            },
        )
        self._recorded = True

        decided = await wait(lambda: self._decision is not None, remind_at - workflow.now())
        if not decided:
            self.reminded_at = workflow.now()
            await self.write_event(
                "retention.reminded",
                SYSTEM_ACTOR,
                reminded_at=self.reminded_at,
                notify=[
                    NotificationSpec(
                        kind="retention_reminder",
                        org_code=school,
                        title="出国（境）学习研究保留团组织关系申请已超过10天未审批",
                        body=f"{inp.member_name}的申请将于截止时间由系统默认通过，请及时审批。",
                    )
                ],
            )
            await wait(lambda: self._decision is not None, deadline - workflow.now())

        decision = self._decision  # None when the time ran out undecided
        if decision is None:
            await self._approve(SYSTEM_ACTOR, "系统默认通过", auto=True)
        elif isinstance(decision, RetentionApprove):
            await self._approve(decision.actor, decision.comment, auto=False)
        elif isinstance(decision, RetentionReturn):
            await self._return(decision)
        else:
            await self._withdraw(decision)
        self._decision_written = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.view()

    async def _approve(self, actor: Actor, comment: str | None, *, auto: bool) -> None:
        inp = self.inp
        self.status = RetentionStatus.APPROVED
        self.decided_at = workflow.now()
        self.decided_by = actor.username
        self.auto_approved = auto
        self.comment = comment
        self.branch = OrgRef(code=inp.branch.code, name=inp.branch.name)
        title = "出国（境）学习研究保留团组织关系申请已通过"
        body = f"{inp.member_name}的团组织关系保留在{inp.school.name}，已编入{inp.branch.name}并登记备案" + (
            "（系统默认通过）。" if auto else "。"
        )
        await self.write_event(
            "retention.auto_approved" if auto else "retention.approved",
            actor,
            decided_at=self.decided_at,
            decided_by=self.decided_by,
            comment=comment,
            approve_into=inp.branch,
            notify=[
                NotificationSpec(kind="retention_update", org_code=inp.school.code, title=title, body=body),
                NotificationSpec(kind="retention_update", to_member=True, title=title, body=body),
            ],
            detail={"comment": comment, "branch": inp.branch.code, "auto": auto},
        )

    async def _return(self, d: RetentionReturn) -> None:
        self.status = RetentionStatus.RETURNED
        self.decided_at = workflow.now()
        self.decided_by = d.actor.username
        self.reason_code = d.reason_code
        self.comment = d.reason_text.strip() or None
        body = f"{self.inp.school.name}退回：{self.comment or ''}"
        await self.write_event(
            "retention.returned",
            d.actor,
            decided_at=self.decided_at,
            decided_by=self.decided_by,
            comment=self.comment,
            reason_code=self.reason_code,
            notify=[
                NotificationSpec(
                    kind="retention_returned",
                    to_member=True,
                    title="出国（境）学习研究保留团组织关系申请被退回",
                    body=body,
                )
            ],
            detail={"reason_code": d.reason_code, "comment": self.comment},
        )

    async def _withdraw(self, d: RetentionWithdraw) -> None:
        self.status = RetentionStatus.WITHDRAWN
        self.withdrawn_by = "member" if d.actor.kind == ActorKind.MEMBER else "org"
        self.comment = d.reason
        await self.write_event(
            "retention.withdrawn",
            d.actor,
            comment=d.reason,
            notify=[
                NotificationSpec(
                    kind="retention_update",
                    org_code=self.inp.school.code,
                    title="出国（境）学习研究保留团组织关系申请已撤回",
                    body=f"{self.inp.member_name}的申请已撤回，撤回原因：{d.reason}",
                )
            ],
            detail={"reason": d.reason, "by": self.withdrawn_by},
        )

    # --- helpers -------------------------------------------------------------------------------

    def search_attributes(self) -> list[SearchAttributeUpdate[Any]]:
        inp = self.inp
        pending = self.status == RetentionStatus.PENDING
        channel = Channel.SELF if inp.initiator.kind == ActorKind.MEMBER else Channel.OUT
        return [
            sa.TRANSFER_TYPE.value_set(RETENTION_SA_TYPE),
            sa.TRANSFER_STATUS.value_set(self.status.value),
            sa.FROM_ORG.value_set(inp.from_branch.code),
            sa.TO_ORG.value_set(inp.branch.code),
            sa.CHANNEL.value_set(channel.value),
            sa.CURRENT_NODE_ORG.value_set(inp.school.code) if pending else sa.CURRENT_NODE_ORG.value_unset(),
            sa.NODE_DEADLINE.value_set(self.deadline)
            if pending and self.deadline is not None
            else sa.NODE_DEADLINE.value_unset(),
        ]

    def event_fields(self) -> dict[str, Any]:
        return {"status": self.status}

    def view(self) -> RetentionView:
        inp = self.inp
        return RetentionView(
            **self.view_fields(inp.request_id),
            status=self.status,
            member_id=inp.member_id,
            school=inp.school,
            from_branch=inp.from_branch,
            branch=self.branch,
            form=inp.form,
            submitted_at=self.submitted_at,
            remind_at=self.remind_at,
            deadline=self.deadline,
            reminded_at=self.reminded_at,
            decided_at=self.decided_at,
            decided_by=self.decided_by,
            auto_approved=self.auto_approved,
            comment=self.comment,
            reason_code=self.reason_code,
            withdrawn_by=self.withdrawn_by,
        )

    @workflow.query
    def status_query(self) -> RetentionView:
        return self.view()

    @workflow.update
    async def recorded(self) -> RetentionView:
        """The state once the application is in the database (the service starts with this
        update: update-with-start gives the caller the recorded state in one round trip)."""
        await workflow.wait_condition(lambda: self._recorded)
        return self.view()

    # --- updates -------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self.status != RetentionStatus.PENDING or self._decision is not None:
            by = f"，已由 {self.decided_by} 处理" if self.decided_by else ""
            taken = "" if self.status != RetentionStatus.PENDING else "，已有其他处理正在进行"
            raise Refused(f"该申请当前状态为“{RETENTION_STATUS_LABELS[self.status]}”{by}{taken}，不能重复处理")

    def _check_decider(self, actor: Actor) -> None:
        self._check_open()
        if actor.kind != ActorKind.ORG_ADMIN or actor.org_code != self.inp.school.code:
            raise Refused(f"只有{self.inp.school.name}的管理员可以审批该申请")

    async def _decide(self, d: RetentionApprove | RetentionReturn | RetentionWithdraw) -> RetentionView:
        self._decision = d
        await workflow.wait_condition(lambda: self._decision_written)
        return self.view()

    @workflow.update
    async def approve(self, d: RetentionApprove) -> RetentionView:
        self._validate_approve(d)  # again: a concurrent decision may have been accepted meanwhile
        return await self._decide(d)

    @approve.validator
    def _validate_approve(self, d: RetentionApprove) -> None:
        self._check_decider(d.actor)
        if d.comment is not None and len(d.comment) > 500:
            raise invalid("审批意见不超过500字")

    @workflow.update
    async def return_request(self, d: RetentionReturn) -> RetentionView:
        self._validate_return(d)
        return await self._decide(d)

    @return_request.validator
    def _validate_return(self, d: RetentionReturn) -> None:
        self._check_decider(d.actor)
        problem = return_ground_problem(d.reason_code, d.reason_text)
        if problem is not None:
            raise invalid_return_ground(problem)

    @workflow.update
    async def withdraw(self, d: RetentionWithdraw) -> RetentionView:
        self._validate_withdraw(d)
        return await self._decide(d)

    @withdraw.validator
    def _validate_withdraw(self, d: RetentionWithdraw) -> None:
        self._check_open()
        a = d.actor
        own = a.kind == ActorKind.MEMBER and a.member_id == self.inp.member_id
        school = a.kind in (ActorKind.ORG_ADMIN, ActorKind.SERVICE) and a.org_code == self.inp.school.code
        if not (own or school):
            raise Refused("只有团员本人或学校团委可以撤回该申请")
        if not d.reason.strip():
            raise invalid("撤回须填写原因")
        if len(d.reason) > 500:
            raise invalid("撤回原因不超过500字")
