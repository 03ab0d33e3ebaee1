"""Which decision TransferWorkflow's validators accept in which state: one table, checked on the
workflow object itself (a validator reads the state only; no server needed).

A refusal here is what the caller gets before anything enters the history: DecisionRefused (409)
when the decision no longer fits the state, InvalidInput or InvalidReturnGround (422) when its
input breaks a rule."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from temporalio.exceptions import ApplicationError

from domain.policy import DEFAULT_POLICY
from domain.transfers import ActorKind, Channel, NodeRole, NodeStatus, TransferStatus, TransferType
from messages.errors import ErrorType
from messages.transfers import (
    Actor,
    ApproveInput,
    AssignBranchInput,
    NodeSpec,
    NodeState,
    OrgRef,
    ResubmitInput,
    ReturnInput,
    TransferInput,
    WithdrawInput,
)
from workflows.transfer import TransferWorkflow

WHU = Actor(kind=ActorKind.ORG_ADMIN, username="whu", org_code="WHU")  # the initiating org
DFM = Actor(kind=ActorKind.ORG_ADMIN, username="dfm", org_code="DFM")  # the receiving org
MEMBER = Actor(kind=ActorKind.MEMBER, username="m7", member_id=7)
TARGET = OrgRef(code="DFM", name="东风汽车集团有限公司团委")

INPUT = TransferInput(
    member_id=7,
    member_name="张三",
    member_id_masked="420106********1234",
    type=TransferType.EMPLOYED_WITH_ORG,
    channel=Channel.OUT,
    from_org=OrgRef(code="WHU-CS-2022-1", name="计算机学院2022级1班团支部"),
    target=TARGET,
    target_branch_level=False,
    nodes=[
        NodeSpec(org_code="WHU", org_name="武汉大学团委", role=NodeRole.SENDING, approved_at_submission=True),
        NodeSpec(org_code="DFM", org_name=TARGET.name, role=NodeRole.RECEIVING),
    ],
    policy=DEFAULT_POLICY,
    initiator=WHU,
)


def _workflow(status: TransferStatus, second: NodeStatus, *, current: bool = True) -> TransferWorkflow:
    """办理转出 by WHU in round 1: WHU's node approved at submission, DFM's node as given."""
    wf = TransferWorkflow()
    wf.inp, wf.target, wf.route = INPUT, INPUT.target, INPUT.route
    wf.status = status
    wf.nodes = [
        NodeState(round=1, seq=1, org_code="WHU", org_name="武汉大学团委", role=NodeRole.SENDING),
        NodeState(round=1, seq=2, org_code="DFM", org_name=TARGET.name, role=NodeRole.RECEIVING, status=second),
    ]
    wf.nodes[0].status, wf.nodes[0].decided_by = NodeStatus.APPROVED, "whu"
    if second in (NodeStatus.APPROVED, NodeStatus.RETURNED):
        wf.nodes[1].decided_by = "dfm"
    wf.current_seq = 2 if current else None
    return wf


def pending() -> TransferWorkflow:
    return _workflow(TransferStatus.PENDING, NodeStatus.PENDING)


def withdrawal_sent() -> TransferWorkflow:
    wf = pending()
    wf._withdraw = WithdrawInput(actor=WHU, reason="去向有变")
    return wf


def returned() -> TransferWorkflow:
    return _workflow(TransferStatus.RETURNED, NodeStatus.RETURNED)


def resubmission_sent() -> TransferWorkflow:
    wf = returned()
    wf._resubmit = ResubmitInput(actor=WHU, form={})
    return wf


def awaiting_assignment() -> TransferWorkflow:
    return _workflow(TransferStatus.AWAITING_ASSIGNMENT, NodeStatus.APPROVED, current=False)


def assignment_sent() -> TransferWorkflow:
    wf = awaiting_assignment()
    wf._assigned = AssignBranchInput(actor=DFM, branch=OrgRef(code="DFM-RD", name="研发总院团支部"))
    return wf


def completed() -> TransferWorkflow:
    return _workflow(TransferStatus.COMPLETED, NodeStatus.APPROVED, current=False)


STATES: list[Callable[[], TransferWorkflow]] = [
    pending,
    withdrawal_sent,
    returned,
    resubmission_sent,
    awaiting_assignment,
    assignment_sent,
    completed,
]

OK = None
R = ErrorType.DECISION_REFUSED
IN = ErrorType.INVALID_INPUT
G = ErrorType.INVALID_RETURN_GROUND


def approve(d: ApproveInput) -> Callable[[TransferWorkflow], None]:
    return lambda wf: wf._validate_approve(d)


def return_(d: ReturnInput) -> Callable[[TransferWorkflow], None]:
    return lambda wf: wf._validate_return(d)


def withdraw(d: WithdrawInput) -> Callable[[TransferWorkflow], None]:
    return lambda wf: wf._validate_withdraw(d)


def resubmit(d: ResubmitInput) -> Callable[[TransferWorkflow], None]:
    return lambda wf: wf._validate_resubmit(d)


def assign(d: AssignBranchInput) -> Callable[[TransferWorkflow], None]:
    return lambda wf: wf._validate_assign(d)


RD = OrgRef(code="DFM-RD", name="研发总院团支部")

#: decision → what each state's validator answers, in the order of STATES:
#:  pending, withdrawal sent, returned, resubmission sent, awaiting assignment, assignment sent, completed
TABLE: dict[str, tuple[Callable[[TransferWorkflow], None], tuple[ErrorType | None, ...]]] = {
    "approve the pending node": (approve(ApproveInput(round=1, seq=2, actor=DFM)), (OK, OK, R, R, R, R, R)),
    "approve a node decided already": (approve(ApproveInput(round=1, seq=1, actor=WHU)), (R, R, R, R, R, R, R)),
    "approve an unknown node": (approve(ApproveInput(round=1, seq=3, actor=DFM)), (R, R, R, R, R, R, R)),
    "approve from another round": (approve(ApproveInput(round=2, seq=2, actor=DFM)), (R, R, R, R, R, R, R)),
    "approve as a member": (approve(ApproveInput(round=1, seq=2, actor=MEMBER)), (R, R, R, R, R, R, R)),
    "approve with a comment over 500": (
        approve(ApproveInput(round=1, seq=2, actor=DFM, comment="好" * 501)),
        (R, R, R, R, R, R, R),
    ),
    "return on an allowed ground": (
        return_(ReturnInput(round=1, seq=2, actor=DFM, reason_code="form_incomplete", reason_text="地址未填写")),
        (OK, OK, R, R, R, R, R),
    ),
    "return on a forbidden ground": (
        return_(ReturnInput(round=1, seq=2, actor=DFM, reason_code="not_local_resident")),
        (G, G, R, R, R, R, R),
    ),
    "withdraw by the initiating org": (
        withdraw(WithdrawInput(actor=WHU, reason="去向有变")),
        (OK, R, OK, OK, OK, OK, R),
    ),
    "withdraw without a reason": (withdraw(WithdrawInput(actor=WHU, reason=" ")), (IN, R, IN, IN, IN, IN, R)),
    "withdraw by the receiving org": (withdraw(WithdrawInput(actor=DFM, reason="x")), (R, R, R, R, R, R, R)),
    "withdraw by the member (not the initiator)": (
        withdraw(WithdrawInput(actor=MEMBER, reason="x")),
        (R, R, R, R, R, R, R),
    ),
    "resubmit by the initiating org": (resubmit(ResubmitInput(actor=WHU, form={})), (R, R, OK, R, R, R, R)),
    "resubmit by the receiving org": (resubmit(ResubmitInput(actor=DFM, form={})), (R, R, R, R, R, R, R)),
    "assign a branch by the receiving org": (assign(AssignBranchInput(actor=DFM, branch=RD)), (R, R, R, R, OK, R, R)),
    "assign a branch by the initiating org": (
        assign(AssignBranchInput(actor=WHU, branch=RD)),
        (R, R, R, R, R, R, R),
    ),
    "assign the receiving org itself": (
        assign(AssignBranchInput(actor=DFM, branch=TARGET)),
        (R, R, R, R, IN, R, R),
    ),
}

CASES = [
    pytest.param(check, state, expected, id=f"{name} | {state.__name__}")
    for name, (check, answers) in TABLE.items()
    for state, expected in zip(STATES, answers, strict=True)
]


@pytest.mark.parametrize("check, state, expected", CASES)
def test_validator(check, state, expected):
    wf = state()
    if expected is None:
        check(wf)
    else:
        with pytest.raises(ApplicationError) as info:
            check(wf)
        assert info.value.type == expected and info.value.non_retryable


def test_every_state_has_an_answer_for_every_decision():
    assert all(len(answers) == len(STATES) for _, answers in TABLE.values())
