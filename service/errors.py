"""Refusals of the service layer and the one mapping of Temporal update failures onto them.

`ServiceError` carries an HTTP-like status (422 invalid, 403 forbidden, 404 not found, 409 stale,
503 unavailable) and the problems, each naming the field and the rule in Chinese. The API turns
it into problem+json, the UI into a page or the messages beside the fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from core.temporal import update_failure_status

T = TypeVar("T")


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


def from_update_failure(e: WorkflowUpdateFailedError) -> ServiceError:
    """A validator's or handler's refusal: 422 for input that breaks a rule, else 409."""
    cause = e.cause
    message = cause.message if isinstance(cause, ApplicationError) else str(cause or e)
    return refuse(update_failure_status(e), "decision", message)


def from_rpc_error(e: RPCError, *, closed: str) -> ServiceError:
    """The server's answer to an update: NOT_FOUND for a workflow id we hold means its run has
    closed (`closed` says so in Chinese); unreachable is 503; anything else a conflict."""
    if update_failure_status(e) == 503:
        return refuse(503, "temporal", UNAVAILABLE_MESSAGE)
    return refuse(409, "decision", closed if e.status == RPCStatusCode.NOT_FOUND else e.message)


@contextmanager
def update_refusals(*, closed: str) -> Iterator[None]:
    """Every failure of the updates sent inside becomes a `ServiceError` (`closed`: the Chinese
    sentence for a run that has closed)."""
    try:
        yield
    except WorkflowUpdateFailedError as e:
        raise from_update_failure(e) from e
    except RPCError as e:
        raise from_rpc_error(e, closed=closed) from e


async def execute_update(
    handle: WorkflowHandle[Any, Any], update: Any, arg: Any, *, result_type: type[T], closed: str
) -> T:
    """Send an update and wait for its answer; every refusal becomes a `ServiceError`."""
    with update_refusals(closed=closed):
        answer: T = await handle.execute_update(update, arg, result_type=result_type)
    return answer
