"""The worker serves workflows and activities against the real database on both Temporal servers."""

import io
import json
import uuid
from datetime import UTC, datetime, timedelta

from temporalio import activity, workflow
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

from core import logging as zlog
from core.logging import get_logger
from core.temporal import ensure_search_attributes
from messages import search_attributes
from messages.system import SystemCheckResult
from models import User
from models.db import head_revision, session_scope
from worker import build_worker
from workflows.system_check import SystemCheckWorkflow


@workflow.defn(name="UpsertAll", sandboxed=False)
class UpsertAll:
    @workflow.run
    async def run(self) -> None:
        sa = search_attributes
        workflow.upsert_search_attributes(
            [
                sa.TRANSFER_TYPE.value_set("further_study"),
                sa.TRANSFER_STATUS.value_set("pending"),
                sa.CURRENT_NODE_ORG.value_set("HB-WH"),
                sa.FROM_ORG.value_set("WHU"),
                sa.TO_ORG.value_set("HUST"),
                sa.NODE_DEADLINE.value_set(datetime(2026, 7, 1, tzinfo=UTC)),
                sa.CHANNEL.value_set("out"),
            ]
        )


@activity.defn(name="log_something")
async def log_something(id_number: str) -> None:
    get_logger("test.activity").info("handling member", id_number=id_number)


@workflow.defn(name="LogWorkflow", sandboxed=False)
class LogWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(
            "log_something", "11010519491231002X", start_to_close_timeout=timedelta(seconds=10)
        )


async def _registered(client) -> set[str]:
    resp = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=client.namespace))
    return set(resp.custom_attributes)


async def test_system_check_reads_the_database(any_env, engine, task_queue):
    env = any_env
    async with session_scope(engine) as session:
        session.add(User(username="svc", password_hash="x", role="service"))
    async with build_worker(env.client, engine, task_queue=task_queue):
        wf_id = f"system-check-{uuid.uuid4().hex[:8]}"
        result = await env.client.execute_workflow(
            SystemCheckWorkflow.run, id=wf_id, task_queue=task_queue, result_type=SystemCheckResult
        )
    assert result == SystemCheckResult(
        schema_revision=head_revision(), orgs=0, members=0, users=1, worker_identity=task_queue
    )


async def test_search_attributes_are_registered(any_env, task_queue):
    """A workflow upserting every custom attribute completes: the server knows them all."""
    from temporalio.worker import Worker

    names = {k.name for k in search_attributes.ALL}
    assert names == {"TransferType", "TransferStatus", "CurrentNodeOrg", "FromOrg", "ToOrg", "NodeDeadline", "Channel"}

    assert await ensure_search_attributes(any_env.client) == []  # the fixtures registered them
    async with Worker(any_env.client, task_queue=task_queue, workflows=[UpsertAll]):
        handle = await any_env.client.start_workflow(
            UpsertAll.run,
            id=f"upsert-{uuid.uuid4().hex[:8]}",
            task_queue=task_queue,
            execution_timeout=timedelta(seconds=30),
        )
        await handle.result()
        desc = await handle.describe()
    assert desc.typed_search_attributes.get(search_attributes.TO_ORG) == "HUST"
    assert desc.typed_search_attributes.get(search_attributes.NODE_DEADLINE) == datetime(2026, 7, 1, tzinfo=UTC)


async def test_dev_server_lists_search_attributes(dev_env):
    assert {k.name for k in search_attributes.ALL} <= await _registered(dev_env.client)


async def test_activity_logs_carry_workflow_and_run_ids(dev_env, engine, task_queue):
    """An activity's log lines name the workflow and run they serve."""
    from temporalio.worker import Worker

    from activities.logging import LogContextInterceptor

    out = io.StringIO()
    zlog.configure("json", "INFO", stream=out)
    wf_id = f"log-{uuid.uuid4().hex[:8]}"
    async with Worker(
        dev_env.client,
        task_queue=task_queue,
        workflows=[LogWorkflow],
        activities=[log_something],
        interceptors=[LogContextInterceptor()],
    ):
        handle = await dev_env.client.start_workflow(LogWorkflow.run, id=wf_id, task_queue=task_queue)
        await handle.result()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    (line,) = [line for line in lines if line.get("event") == "handling member"]
    assert line["workflow_id"] == wf_id
    assert line["run_id"] == handle.result_run_id
    assert line["activity_type"] == "log_something"
    assert line["id_number"] == "110105********002X"
    assert "11010519491231002X" not in out.getvalue()
