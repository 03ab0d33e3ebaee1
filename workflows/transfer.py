"""TransferWorkflow: one execution per open transfer (DOMAIN.md §5), id `transfer-<member id>`.

For each approval node in turn: persist it pending with its deadlines and notify its admins, then
wait for a decision update. At `remind_after` (10 d) undecided, remind once; at
`auto_approve_after` (15 d) approve it as 系统默认通过 and start the next node. The initiating
org's node is approved at submission. A returned request waits for resubmit or withdraw and
expires after `returned_expiry`. After the last node, a receiving org that is not branch-level
must assign a branch (reminded 10 d after approval and every 7 d after); then the completion
activity moves the member in one transaction.

Decisions are updates with validators: a decision for a node that is not the current one, or
is already decided, is refused before it touches history. Every state change goes to the
database through one idempotent activity (`apply_event`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

from workflows.common import EventJournal, Refused, invalid, invalid_return_ground, wait

with workflow.unsafe.imports_passed_through():
    from activities.transfers import TransferActivities
    from domain.deadlines import node_deadlines
    from domain.glossary import RETURN_REASON_LABELS
    from domain.policy import DEFAULT_POLICY
    from domain.transfers import (
        ActorKind,
        Channel,
        NodeStatus,
        ReturnReason,
        TransferStatus,
        return_ground_problem,
    )
    from messages import search_attributes as sa
    from messages.errors import ErrorType
    from messages.transfers import (
        SYSTEM_ACTOR,
        Actor,
        ApproveInput,
        AssignBranchInput,
        CompletionFollowUp,
        NodeSpec,
        NodeState,
        NotificationSpec,
        OrgRef,
        ResubmitInput,
        ReturnInput,
        Route,
        TransferEvent,
        TransferInput,
        TransferView,
        WithdrawInput,
    )

DECIDED = (NodeStatus.APPROVED, NodeStatus.AUTO_APPROVED, NodeStatus.RETURNED)


LEAN_HISTORY = "lean-history"  # patch id: see TransferWorkflow._lean_history

#: The days the member's notices name: the policy's, as people count them. A rehearsal divides the
#: input's policy by ZHTJ_TIME_SCALE and runs its calendar as much faster, so these stay true there.
AUTO_APPROVE_DAYS = DEFAULT_POLICY.auto_approve_after.days
RETURNED_EXPIRY_DAYS = DEFAULT_POLICY.returned_expiry.days


@workflow.defn
class TransferWorkflow(EventJournal[TransferEvent, int]):
    # set by `run` from its input, before any await
    inp: TransferInput
    target: OrgRef
    route: Route

    def __init__(self) -> None:
        super().__init__(TransferEvent, TransferActivities.apply_event, ErrorType.INVALID_TRANSFER_DATA)
        self.status = TransferStatus.PENDING
        self.round = 1
        self.nodes: list[NodeState] = []
        self.current_seq: int | None = None
        self.branch: OrgRef | None = None
        self.form: dict[str, Any] = {}
        self.partition: str | None = None  # the answer to the partition question, kept for a resubmission
        self.target_branch_level = False
        self._submission_seqs: set[int] = set()  # the nodes approved at submission, by seq
        self.withdrawn_by: str | None = None
        self.next_reminder_at: datetime | None = None
        self._write_lock = asyncio.Lock()  # events reach the database one at a time, in order
        self._settled = False  # the final event (completed/withdrawn/expired) is written
        self._round_written = 0  # the latest round whose start is written
        self.transfer_id: int | None = None  # the database row, once the start is written
        self._waits = 0  # times the main loop began waiting: a decision's consequences are written
        self._busy = 0  # update handlers still writing their decision
        self._withdraw: WithdrawInput | None = None
        self._resubmit: ResubmitInput | None = None
        self._assigned: AssignBranchInput | None = None
        self._lean: bool | None = None  # patch LEAN_HISTORY, asked once (see _lean_history)

    # --- run ----------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: TransferInput) -> TransferView:
        result = await self._run(inp)
        self._settled = True
        # let every decision handler return its answer before the execution closes
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    async def _run(self, inp: TransferInput) -> TransferView:
        self.inp = inp
        self.form = dict(inp.form)
        self.target = inp.target
        self.target_branch_level = inp.target_branch_level
        self.route = inp.route
        self.partition = inp.partition
        self._start_round(inp.nodes)
        await self._emit(
            "transfer.started",
            inp.initiator,
            create=inp,
            steps=list(self.nodes),  # the whole first round, so lists show the nodes still waiting
            notify=[
                *self._pending_notice(),
                self._to_member(
                    "transfer_started",
                    "转接申请已提交",
                    f"你的团组织关系转接申请已提交，拟转入{self.target.name}。{self._next_step()}",
                ),
            ],
            detail={"type": inp.type.value, "channel": inp.channel.value, "target": inp.target.code},
        )
        self._round_written = 1

        while True:
            outcome = await self._approval_round()
            if outcome == "approved":
                break
            if outcome == "withdrawn":
                return await self._finish_withdrawn()
            # returned: wait for a resubmission or a withdrawal, or expire
            got = await self._wait(
                lambda: self._resubmit is not None or self._withdraw is not None,
                self.inp.policy.returned_expiry,
            )
            if self._withdraw is not None:
                return await self._finish_withdrawn()
            if not got:
                self.status = TransferStatus.EXPIRED
                title = "转接申请已过期"
                await self._emit(
                    "transfer.expired",
                    SYSTEM_ACTOR,
                    notify=[
                        *self._both_sides(title, "申请被退回后在期限内未重新提交或撤回，已自动关闭。", member=False),
                        self._to_member(
                            "transfer_update",
                            title,
                            f"你的团组织关系转接申请被退回后{RETURNED_EXPIRY_DAYS}天内未重新提交或撤回，已自动关闭，"
                            f"团组织关系仍在{self.inp.from_org.name}。如仍需转接，请重新申请。",
                        ),
                    ],
                )
                return self.view()
            await self._apply_resubmission()

        if not self.target_branch_level:
            withdrawn = await self._await_assignment()
            if withdrawn:
                return await self._finish_withdrawn()
        else:
            self.branch = self.target
        branch = self.branch
        assert branch is not None  # the target, or the branch assigned
        self.status = TransferStatus.COMPLETED
        self.current_seq = None
        info = workflow.info()
        follow_up = CompletionFollowUp(
            workflow_id=info.workflow_id,
            run_id=info.first_execution_run_id,
            member_id=self.inp.member_id,
            branch_code=branch.code,
            completed_at=workflow.now(),
        )
        # The completion event carries the follow-up on the member's holdings (one activity, not
        # two); executions from before that patch ran it as an activity of its own after the event.
        folded = self._lean_history()
        title = "组织关系转接已办结"
        where = branch.name if branch.code == self.target.code else f"{branch.name}（{self.target.name}）"
        await self._emit(
            "transfer.completed",
            SYSTEM_ACTOR if self._assigned is None else self._assigned.actor,
            complete_branch=branch,
            notify=[
                *self._both_sides(title, f"{self.inp.member_name}的团组织关系已转入{branch.name}。", member=False),
                # the branch's contact is appended where the notice is written, from the orgs table
                self._to_member(
                    "transfer_update",
                    title,
                    f"你的团组织关系已转入{where}，请及时与新团支部取得联系，参加组织生活。",
                    contact_org=branch.code,
                ),
            ],
            follow_up=follow_up if folded else None,
        )
        if not folded and workflow.patched("holdings-follow-up"):
            await workflow.execute_activity_method(
                TransferActivities.follow_up_completion,
                follow_up,
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=self._retry,
            )
        return self.view()

    async def _approval_round(self) -> str:
        """Run this round's nodes; 'approved', 'returned' or 'withdrawn'."""
        for node in self.nodes:
            # a decision handler may still be writing; its event goes first
            await workflow.wait_condition(lambda: self._busy == 0)
            if node.status in (NodeStatus.APPROVED, NodeStatus.AUTO_APPROVED):
                continue
            if node.status == NodeStatus.RETURNED:  # decided while the round's start was being written
                return "returned"
            if self._withdraw is not None:
                return "withdrawn"
            if node.status == NodeStatus.WAITING:  # the round's first node was activated with the round
                self._activate(node)
                await self._emit("node.pending", SYSTEM_ACTOR, steps=[node], notify=self._pending_notice())
            remind_at, deadline = node.remind_at, node.deadline
            assert remind_at is not None and deadline is not None  # set when the node was activated
            answered = self._answered(node)
            decided = await self._wait(answered, remind_at - workflow.now())
            if not decided:
                node.reminded_at = workflow.now()
                await self._emit(
                    "node.reminded",
                    SYSTEM_ACTOR,
                    steps=[node],
                    notify=[
                        NotificationSpec(
                            kind="node_reminder",
                            org_code=node.org_code,
                            title="转接申请已超过10天未审批",
                            body=f"{self.inp.member_name}的转接申请将于截止时间由系统默认通过，请及时审批。",
                        )
                    ],
                )
                decided = await self._wait(answered, deadline - workflow.now())
            if not decided:
                node.status = NodeStatus.AUTO_APPROVED
                node.decided_at = workflow.now()
                node.decided_by = SYSTEM_ACTOR.username
                node.comment = "系统默认通过"
                await self._emit(
                    "node.auto_approved",
                    SYSTEM_ACTOR,
                    steps=[node],
                    notify=[
                        self._to_member(
                            "transfer_node_auto_approved",
                            "审批环节已由系统默认通过",
                            f"{node.org_name}未在{AUTO_APPROVE_DAYS}天内审批，你的团组织关系转接申请在该环节已由系统默认通过。"
                            + self._next_step(after=node),
                        )
                    ],
                )
                continue
            await workflow.wait_condition(lambda: self._busy == 0)
            ended = self._round_end(node)
            if ended is not None:
                return ended
        await workflow.wait_condition(lambda: self._busy == 0)
        self.current_seq = None
        return "approved"

    def _answered(self, node: NodeState) -> Callable[[], bool]:
        """The condition a pending node waits for: decided, or the request withdrawn."""
        return lambda: node.status != NodeStatus.PENDING or self._withdraw is not None

    def _round_end(self, node: NodeState) -> str | None:
        """How the round ends once `node` was decided: 'withdrawn', 'returned', or None to go on."""
        if self._withdraw is not None and node.status == NodeStatus.PENDING:
            return "withdrawn"
        if node.status == NodeStatus.RETURNED:
            return "returned"
        return None

    async def _await_assignment(self) -> bool:
        """Wait for assign_branch, reminding the receiving org; True if withdrawn instead."""
        self.status = TransferStatus.AWAITING_ASSIGNMENT
        next_at = workflow.now() + self.inp.policy.assignment_first_reminder
        self.next_reminder_at = next_at
        await self._emit(
            "assignment.awaiting",
            SYSTEM_ACTOR,
            notify=[
                NotificationSpec(
                    kind="assignment_needed",
                    org_code=self.target.code,
                    title="请为转入团员分配团支部",
                    body=f"{self.inp.member_name}的转接申请已审批通过，分配团支部后方可办结。",
                )
            ],
        )
        reminders = 0
        while True:
            done = await self._wait(
                lambda: self._assigned is not None or self._withdraw is not None,
                next_at - workflow.now(),
            )
            if done:
                await workflow.wait_condition(lambda: self._busy == 0)
                self.next_reminder_at = None
                return self._assigned is None
            reminders += 1
            await self._emit(
                "assignment.reminded",
                SYSTEM_ACTOR,
                detail={"reminder": reminders},
                notify=[
                    NotificationSpec(
                        kind="assignment_reminder",
                        org_code=self.target.code,
                        title="转入团员尚未分配团支部",
                        body=f"{self.inp.member_name}已审批通过但未分配团支部，转接尚未办结。",
                    )
                ],
            )
            next_at = workflow.now() + self.inp.policy.assignment_repeat_reminder
            self.next_reminder_at = next_at

    async def _finish_withdrawn(self) -> TransferView:
        w = self._withdraw
        assert w is not None  # the main loop finishes withdrawn only once a withdrawal was accepted
        self.status = TransferStatus.WITHDRAWN
        self.withdrawn_by = "member" if w.actor.kind == ActorKind.MEMBER else "org"
        for node in self.nodes:
            if node.status == NodeStatus.PENDING:
                node.status = NodeStatus.WAITING
        self.current_seq = None
        await self._emit(
            "transfer.withdrawn",
            w.actor,
            steps=list(self.nodes),
            detail={"reason": w.reason, "by": self.withdrawn_by},
            notify=self._both_sides("转接申请已撤回", f"撤回原因：{w.reason}"),
        )
        return self.view()

    async def _apply_resubmission(self) -> None:
        r = self._resubmit
        assert r is not None  # the main loop resubmits only once a resubmission was accepted
        self._resubmit = None
        self.round += 1
        self.form = dict(r.form)
        if r.target is not None:
            self.target = r.target
            if r.target_branch_level is not None:
                self.target_branch_level = r.target_branch_level
        if r.route is not None:
            self.route = r.route
        if r.partition is not None:
            self.partition = r.partition
        self._start_round(
            r.nodes
            or [
                NodeSpec(
                    org_code=n.org_code,
                    org_name=n.org_name,
                    role=n.role,
                    approved_at_submission=n.seq in self._submission_seqs,
                )
                for n in self.nodes
            ]
        )
        await self._emit(
            "transfer.resubmitted",
            r.actor,
            steps=list(self.nodes),
            notify=[
                *self._pending_notice(),
                self._to_member(
                    "transfer_resubmitted",
                    "转接申请已重新提交",
                    f"你的团组织关系转接申请已修改后重新提交，拟转入{self.target.name}。{self._next_step()}",
                ),
            ],
            form=self.form,
            target=self.target,
            route=self.route,
        )
        self._round_written = self.round

    # --- helpers ------------------------------------------------------------------------------

    def _start_round(self, specs: list[NodeSpec]) -> None:
        """The round's nodes: the initiator's approved at submission, the first other one pending.

        Activating the first node here, before any await, means a query right after the start
        (or the resubmission) already shows who must decide and by when."""
        now = workflow.now()
        self._submission_seqs = {i for i, s in enumerate(specs, start=1) if s.approved_at_submission}
        self.nodes = []
        for i, s in enumerate(specs, start=1):
            node = NodeState(round=self.round, seq=i, org_code=s.org_code, org_name=s.org_name, role=s.role)
            if s.approved_at_submission:
                node.status = NodeStatus.APPROVED
                node.decided_at = now
                node.decided_by = self.inp.initiator.username
                node.comment = "发起组织提交即审核通过"
            self.nodes.append(node)
        first = next((n for n in self.nodes if n.status == NodeStatus.WAITING), None)
        if first is not None:
            self._activate(first)

    def _activate(self, node: NodeState) -> None:
        now = workflow.now()
        node.status = NodeStatus.PENDING
        node.started_at = now
        node.remind_at, node.deadline = node_deadlines(now, self.inp.policy)
        self.current_seq = node.seq
        self.status = TransferStatus.PENDING

    def _pending_notice(self) -> list[NotificationSpec]:
        node = self._current()
        if node is None or node.status != NodeStatus.PENDING:
            return []
        return [
            NotificationSpec(
                kind="node_pending",
                org_code=node.org_code,
                title="有新的组织关系转接申请待审批",
                body=f"{self.inp.member_name}（{self.inp.member_id_masked}）的转接申请请在15天内审批。",
            )
        ]

    # --- what the member is told (second person: the notices are theirs) ------------------------

    @staticmethod
    def _to_member(kind: str, title: str, body: str, *, contact_org: str | None = None) -> NotificationSpec:
        return NotificationSpec(kind=kind, to_member=True, title=title, body=body, contact_org=contact_org)

    def _next_step(self, *, after: NodeState | None = None) -> str:
        """What comes next: the node deciding now (or the first after `after`, just decided), else
        the branch assignment or the completion."""
        seq = 0 if after is None else after.seq
        node = next(
            (n for n in self.nodes if n.seq > seq and n.status in (NodeStatus.PENDING, NodeStatus.WAITING)), None
        )
        if node is not None:
            who = "现" if after is None else "下一步"
            return f"{who}由{node.org_name}审批，{AUTO_APPROVE_DAYS}天内未审批的由系统默认通过。"
        if not self.target_branch_level:
            return f"审批已全部通过，待{self.target.name}分配团支部后办结。"
        return "审批已全部通过，转接即将办结。"

    def _returned_text(self, node: NodeState) -> str:
        """The return's ground and what to do: the initiator resubmits or withdraws, or it expires."""
        label = next((v for k, v in RETURN_REASON_LABELS.items() if k.value == node.reason_code), None)
        ground = "：".join(p for p in (None if node.reason_code == ReturnReason.OTHER else label, node.comment) if p)
        text = f"{node.org_name}退回了你的团组织关系转接申请，退回原因：{ground or '未说明'}。"
        expiry = f"{RETURNED_EXPIRY_DAYS}天内"
        if self.inp.channel == Channel.SELF:
            return text + f"请在{expiry}修改后重新提交，或撤回申请；逾期未处理，申请将自动关闭。"
        init = self.inp.initiator.org_code
        initiator = next((n.org_name for n in self.nodes if n.org_code == init), None) or next(
            (n.org_name for n in self.nodes if n.seq in self._submission_seqs), "发起转接的组织"
        )
        return text + f"请与{initiator}联系，由其在{expiry}修改后重新提交或撤回申请；逾期未处理，申请将自动关闭。"

    async def _wait(self, condition: Callable[[], bool], limit: timedelta) -> bool:
        """Wait for a decision or the time; counted, so a decision's handler can tell when the
        main loop has written the decision's consequences and waits again."""
        self._waits += 1
        return await wait(condition, limit)

    def _both_sides(self, title: str, body: str, *, member: bool = True) -> list[NotificationSpec]:
        out = [
            NotificationSpec(kind="transfer_update", org_code=self.inp.from_org.code, title=title, body=body),
            NotificationSpec(kind="transfer_update", org_code=self.target.code, title=title, body=body),
        ]
        if member:
            out.append(NotificationSpec(kind="transfer_update", to_member=True, title=title, body=body))
        return out

    def _current(self) -> NodeState | None:
        return next((n for n in self.nodes if n.seq == self.current_seq), None)

    def _lean_history(self) -> bool:
        """Whether this execution writes the lean history: search attributes upserted only when
        they change, the holdings follow-up inside the completion event. One patch for both, asked
        at the first event and remembered: the core upserts TemporalChangeVersion for every patch,
        itself a visibility write."""
        if self._lean is None:
            self._lean = workflow.patched(LEAN_HISTORY)
        return self._lean

    def search_attributes(self) -> list[SearchAttributeUpdate[Any]]:
        node = self._current() if self.status == TransferStatus.PENDING else None
        updates: list[SearchAttributeUpdate[Any]] = [
            sa.TRANSFER_TYPE.value_set(self.inp.type.value),
            sa.TRANSFER_STATUS.value_set(self.status.value),
            sa.FROM_ORG.value_set(self.inp.from_org.code),
            sa.TO_ORG.value_set(self.target.code),
            sa.CHANNEL.value_set(self.inp.channel.value),
        ]
        if node is not None and node.deadline is not None:
            updates += [sa.CURRENT_NODE_ORG.value_set(node.org_code), sa.NODE_DEADLINE.value_set(node.deadline)]
        elif self.status == TransferStatus.AWAITING_ASSIGNMENT:
            updates += [sa.CURRENT_NODE_ORG.value_set(self.target.code), sa.NODE_DEADLINE.value_unset()]
        else:
            updates += [sa.CURRENT_NODE_ORG.value_unset(), sa.NODE_DEADLINE.value_unset()]
        return updates

    def upsert_changes_only(self) -> bool:
        return self._lean_history()

    def event_fields(self) -> dict[str, Any]:
        node = self._current()
        pending = node is not None and self.status == TransferStatus.PENDING
        return {
            "transfer_id": self.transfer_id,
            "status": self.status,
            "current_node_org_code": node.org_code if node is not None and pending else None,
        }

    async def _emit(
        self,
        action: str,
        actor: Actor,
        *,
        steps: list[NodeState] | None = None,
        notify: list[NotificationSpec] | None = None,
        detail: dict[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        """Record a state change (`write_event`), with the nodes it changed as they are now.

        The main loop and decision handlers both emit; the lock keeps their events in number order
        so the transfer row exists before a decision arriving during the start is written."""
        async with self._write_lock:
            self.transfer_id = await self.write_event(
                action,
                actor,
                notify=notify,
                detail=detail,
                steps=[s.model_copy() for s in (steps or [])],
                **extra,
            )

    def view(self, *, timeline: bool = True) -> TransferView:
        """The state; an update's answer leaves out the timeline (`timeline=False`): it grows with
        every event, and each answer is stored in the history and decoded by the caller."""
        return TransferView(
            **self.view_fields(self.inp.request_id, timeline=timeline),
            transfer_id=self.transfer_id,
            status=self.status,
            type=self.inp.type,
            channel=self.inp.channel,
            member_id=self.inp.member_id,
            from_org=self.inp.from_org,
            target=self.target,
            round=self.round,
            current_seq=self.current_seq,
            nodes=[n.model_copy() for n in self.nodes],
            branch=self.branch,
            form=self.form,
            route=self.route,
            partition=self.partition,
            withdrawn_by=self.withdrawn_by,
            initiator=self.inp.initiator,
            next_reminder_at=self.next_reminder_at,
        )

    # --- query --------------------------------------------------------------------------------

    @workflow.query
    def status_query(self) -> TransferView:
        return self.view()

    # --- updates ------------------------------------------------------------------------------

    @workflow.update
    async def recorded(self) -> TransferView:
        """The state once the start is in the database (sent with the start: update-with-start),
        so the caller gets the transfer's id and first node in one round trip."""
        await workflow.wait_condition(lambda: self._round_written >= 1 or self._settled)
        return self.view(timeline=False)

    def _check_node(self, round_: int, seq: int, actor: Actor) -> NodeState:
        if self.status != TransferStatus.PENDING:
            raise Refused(f"该申请当前状态为 {self.status.value}，不能审批")
        if round_ != self.round:
            raise Refused("该申请已重新提交，请刷新后按最新内容审批")
        node = next((n for n in self.nodes if n.seq == seq), None)
        if node is None:
            raise Refused(f"审批节点 {seq} 不存在")
        if node.status in DECIDED:
            raise Refused(f"该节点（{node.org_name}）已由 {node.decided_by} 处理，不能重复审批")
        if seq != self.current_seq or node.status != NodeStatus.PENDING:
            raise Refused(f"该节点（{node.org_name}）尚未轮到审批")
        if actor.kind != ActorKind.ORG_ADMIN:
            raise Refused("只有组织管理员可以审批")
        return node

    async def _record_decision(self, node: NodeState, action: str, actor: Actor, **fields: Any) -> TransferView:
        # The handler may run right after a concurrent one validated; check again before acting.
        if node.status != NodeStatus.PENDING or self.status != TransferStatus.PENDING:
            raise Refused(f"该节点（{node.org_name}）已由 {node.decided_by or '他人'} 处理，不能重复审批")
        mark = self._waits
        self._busy += 1
        try:
            for k, v in fields.items():
                setattr(node, k, v)
            node.decided_at = workflow.now()
            node.decided_by = actor.username
            if action == "node.returned":
                self.status = TransferStatus.RETURNED
                notify = [
                    NotificationSpec(
                        kind="transfer_returned",
                        org_code=self.inp.initiator.org_code or self.inp.from_org.code,
                        title="转接申请被退回",
                        body=f"{node.org_name}退回：{node.comment or ''}",
                    ),
                    self._to_member("transfer_returned", "转接申请被退回", self._returned_text(node)),
                ]
            else:
                opinion = f"，审批意见：{node.comment}" if node.comment else ""
                notify = [
                    self._to_member(
                        "transfer_node_approved",
                        "审批环节已通过",
                        f"{node.org_name}已审批通过你的团组织关系转接申请{opinion}。{self._next_step(after=node)}",
                    )
                ]
            await self._emit(
                action,
                actor,
                steps=[node],
                notify=notify,
                detail={
                    "seq": node.seq,
                    "org": node.org_code,
                    "comment": node.comment,
                    "reason_code": node.reason_code,
                },
            )
        finally:
            self._busy -= 1
        # answer with the consequence written too: the next node pending, awaiting assignment,
        # returned, or completed
        await workflow.wait_condition(lambda: self._waits > mark or self._settled)
        return self.view(timeline=False)

    @workflow.update
    async def approve(self, d: ApproveInput) -> TransferView:
        node = self._check_node(d.round, d.seq, d.actor)
        return await self._record_decision(
            node, "node.approved", d.actor, status=NodeStatus.APPROVED, comment=d.comment
        )

    @approve.validator
    def _validate_approve(self, d: ApproveInput) -> None:
        self._check_node(d.round, d.seq, d.actor)
        if d.comment is not None and len(d.comment) > 500:
            raise Refused("审批意见不超过500字")

    @workflow.update
    async def return_request(self, d: ReturnInput) -> TransferView:
        node = self._check_node(d.round, d.seq, d.actor)
        return await self._record_decision(
            node,
            "node.returned",
            d.actor,
            status=NodeStatus.RETURNED,
            reason_code=d.reason_code,
            comment=d.reason_text.strip() or None,
        )

    @return_request.validator
    def _validate_return(self, d: ReturnInput) -> None:
        self._check_node(d.round, d.seq, d.actor)
        problem = return_ground_problem(d.reason_code, d.reason_text)
        if problem is not None:
            raise invalid_return_ground(problem)

    def _check_initiator(self, actor: Actor) -> None:
        init = self.inp.initiator
        if self.inp.channel == Channel.SELF:
            ok = actor.kind == ActorKind.MEMBER and actor.member_id == self.inp.member_id
        else:
            ok = actor.kind in (ActorKind.ORG_ADMIN, ActorKind.SERVICE) and actor.org_code == init.org_code
        if not ok:
            raise Refused("只有发起方可以撤回或重新提交该申请")

    @workflow.update
    async def withdraw(self, d: WithdrawInput) -> TransferView:
        self._validate_withdraw(d)
        self._withdraw = d
        await workflow.wait_condition(lambda: self._settled)
        if self.status != TransferStatus.WITHDRAWN:
            raise Refused(f"该申请已{self.status.value}，撤回未生效")
        return self.view(timeline=False)

    @withdraw.validator
    def _validate_withdraw(self, d: WithdrawInput) -> None:
        self._check_initiator(d.actor)
        if not self.status.is_open or self._withdraw is not None:
            raise Refused(f"该申请当前状态为 {self.status.value}，不能撤回")
        if not d.reason.strip():
            raise invalid("撤回须填写原因")

    @workflow.update
    async def resubmit(self, d: ResubmitInput) -> TransferView:
        self._validate_resubmit(d)
        self._resubmit = d
        round_before = self.round
        await workflow.wait_condition(lambda: self._round_written > round_before or self._settled)
        return self.view(timeline=False)

    @resubmit.validator
    def _validate_resubmit(self, d: ResubmitInput) -> None:
        self._check_initiator(d.actor)
        if self.status != TransferStatus.RETURNED or self._resubmit is not None:
            raise Refused("只有被退回的申请可以重新提交")

    @workflow.update
    async def assign_branch(self, d: AssignBranchInput) -> TransferView:
        self._validate_assign(d)
        self._busy += 1
        try:
            self._assigned = d
            self.branch = d.branch
            await self._emit("branch.assigned", d.actor, detail={"branch": d.branch.code})
        finally:
            self._busy -= 1
        await workflow.wait_condition(lambda: self._settled)
        return self.view(timeline=False)

    @assign_branch.validator
    def _validate_assign(self, d: AssignBranchInput) -> None:
        if self.status != TransferStatus.AWAITING_ASSIGNMENT or self._assigned is not None:
            raise Refused("只有审批通过、待分配团支部的申请可以分配团支部")
        if d.actor.kind != ActorKind.ORG_ADMIN or d.actor.org_code != self.target.code:
            raise Refused("只有接收组织的管理员可以分配团支部")
        if d.branch.code == self.target.code:
            raise invalid("请选择接收组织下的团支部")
