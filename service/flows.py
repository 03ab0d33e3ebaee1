"""What running the §6 flows (retentions, holdings, bulk marking) for a caller needs, and the
refusal when Temporal cannot be reached."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.service import RPCError

from core.settings import Settings
from messages.stay_at_school import HOLDING_ID_PREFIX, RETENTION_ID_PREFIX
from messages.transfers import WORKFLOW_ID_PREFIX
from service.errors import UNAVAILABLE_MESSAGE, ServiceError, refuse


@dataclass(frozen=True)
class Flows:
    """What running the §6 flows for a caller needs: the database, Temporal (None where no
    workflow is started or updated), the task queue, the workflow id prefixes and the time scale."""

    engine: AsyncEngine
    client: Client | None
    task_queue: str
    retention_prefix: str = RETENTION_ID_PREFIX
    holding_prefix: str = HOLDING_ID_PREFIX
    time_scale: float = 1.0

    @classmethod
    def of(cls, engine: AsyncEngine, client: Client | None, settings: Settings) -> Flows:
        """The flows of these settings. Their workflow ids follow ZHTJ_WORKFLOW_ID_PREFIX
        (``transfer-x-`` gives ``retention-x-`` and ``holding-x-``), so databases sharing a
        namespace stay apart as their transfers do."""
        tail = settings.workflow_id_prefix.removeprefix(WORKFLOW_ID_PREFIX)
        return cls(
            engine,
            client,
            settings.task_queue,
            retention_prefix=f"{RETENTION_ID_PREFIX}{tail}",
            holding_prefix=f"{HOLDING_ID_PREFIX}{tail}",
            time_scale=settings.time_scale,
        )

    def temporal(self) -> Client:
        if self.client is None:
            raise ValueError("this §6 flow needs the Temporal client")
        return self.client


def unavailable(e: RPCError) -> ServiceError:
    return refuse(503, "temporal", f"{UNAVAILABLE_MESSAGE}（{e.message}）")
