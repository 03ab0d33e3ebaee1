"""Refusals of the service layer and the one mapping of Temporal update failures onto them.

`ServiceError` carries an HTTP-like status (422 invalid, 403 forbidden, 404 not found, 409 stale,
503 unavailable) and the problems, each naming the field and the rule in Chinese. The API turns
it into problem+json, the UI into a page or the messages beside the fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from messages.errors import INPUT_ERRORS


@dataclass(frozen=True)
class Problem:
    field: str
    message: str


class ServiceError(Exception):
    """A refused request. `status` follows HTTP: 422 invalid, 403 forbidden, 404, 409 stale."""

    def __init__(self, status: int, problems: list[Problem]) -> None:
        self.status = status
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))


def refuse(status: int, field: str, message: str) -> ServiceError:
    """A refusal with one problem."""
    return ServiceError(status, [Problem(field, message)])


UNAVAILABLE_MESSAGE = "工作流服务暂时不可用，请稍后重试。您的操作未完成。"
_UNAVAILABLE = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED})


def from_update_failure(e: WorkflowUpdateFailedError) -> ServiceError:
    """A validator's or handler's refusal: 422 for input that breaks a rule, else 409."""
    cause = e.cause
    if isinstance(cause, ApplicationError):
        return refuse(422 if cause.type in INPUT_ERRORS else 409, "decision", cause.message)
    return refuse(409, "decision", str(cause or e))


def from_rpc_error(e: RPCError, *, closed: str) -> ServiceError:
    """The server's answer to an update: NOT_FOUND for a workflow id we hold means its run has
    closed (`closed` says so in Chinese); unreachable is 503; anything else a conflict."""
    if e.status == RPCStatusCode.NOT_FOUND:
        return refuse(409, "decision", closed)
    if e.status in _UNAVAILABLE:
        return refuse(503, "temporal", UNAVAILABLE_MESSAGE)
    return refuse(409, "decision", e.message)


async def execute_update(
    handle: WorkflowHandle[Any, Any], update: Any, arg: Any, *, result_type: type, closed: str
) -> Any:
    """Send an update and wait for its answer; every refusal becomes a `ServiceError`."""
    try:
        return await handle.execute_update(update, arg, result_type=result_type)
    except WorkflowUpdateFailedError as e:
        raise from_update_failure(e) from e
    except RPCError as e:
        raise from_rpc_error(e, closed=closed) from e
