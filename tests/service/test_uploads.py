"""The upload job: BulkUploadWorkflow and its activities (service/upload_job.py) start every valid
row once, whatever is retried: an activity attempt, a chunk that started its rows and was lost
before recording them, a run that failed and is started again by the same file.

Real database (SQLite or PostgreSQL), real Temporal dev server and worker; the activities are run
by the worker or, to repeat an attempt, by temporalio's ActivityEnvironment."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import select, update
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from messages.uploads import UploadChunk, UploadCounts, UploadRowStatus, UploadStatus, idempotency_key
from models import Transfer, UploadJob, UploadRow, User
from models.db import session_factory, session_scope
from models.directory import DIRECTORIES
from service import upload_check, upload_views, uploads
from service.upload_job import UploadActivities
from tests.web.upload_files import all_recorded, graduates_file, transfer_counts
from worker import build_worker, workflow_runner
from workflows.upload import BulkUploadWorkflow

HISTORIES = os.path.join(os.path.dirname(__file__), "..", "histories")


@dataclass
class Job:
    engine: object
    client: object
    task_queue: str
    prefix: str
    whu: User

    async def check(self, n: int, *, bad: bool = True):
        f = await graduates_file(self.engine, n, bad=bad)
        checked = await upload_check.check_upload(
            self.engine,
            self.whu,
            filename="graduates.csv",
            content=f.csv_bytes(),
            as_org="WHU",
            directories=DIRECTORIES,
            id_prefix=self.prefix,
        )
        return f, checked

    def input(self, checked):
        return uploads.upload_input(checked, self.whu, task_queue=self.task_queue, id_prefix=self.prefix)

    async def start(self, checked):
        return await uploads.start_upload(
            self.engine, self.client, self.whu, checked, task_queue=self.task_queue, id_prefix=self.prefix
        )

    async def rows(self, upload_id: str) -> dict[int, UploadRow]:
        async with session_factory(self.engine)() as s:
            job = (await s.execute(select(UploadJob).where(UploadJob.workflow_id == upload_id))).scalar_one()
            return {r.line: r for r in (await s.execute(select(UploadRow).where(UploadRow.job_id == job.id))).scalars()}


@pytest.fixture
async def job(engine, dev_env, task_queue) -> Job:
    f = await graduates_file(engine, 60)  # seeds the demo with enough members
    assert f.members
    async with session_factory(engine)() as s:
        whu = (await s.execute(select(User).where(User.username == "whu"))).scalar_one()
    return Job(engine, dev_env.client, task_queue, f"transfer-{uuid.uuid4().hex[:8]}-", whu)


async def test_activities_repeated_write_and_start_nothing_twice(job):
    f, checked = await job.check(60)
    inp = job.input(checked)
    assert f.members[0].id_number.encode() not in inp.payload  # compressed, and without 身份证号 anyway
    acts = UploadActivities(job.engine, job.client)
    env = ActivityEnvironment()

    first = await env.run(acts.prepare, inp)
    again = await env.run(acts.prepare, inp)  # a retried attempt writes nothing twice
    assert again == first and first.pending == [line for line in range(2, 62) if line not in f.bad]
    rows = await job.rows(checked.upload_id)
    assert len(rows) == 60 and {ln for ln, r in rows.items() if r.status == "invalid"} == set(f.bad)
    line = first.pending[0]
    assert rows[line].request_id == f"whu:{idempotency_key(checked.upload_id, line)}"
    assert "id_number" not in rows[line].request and rows[line].member_id == f.members[line - 2].id

    async with build_worker(job.client, job.engine, task_queue=job.task_queue):
        chunk = UploadChunk(
            upload_id=checked.upload_id, lines=first.pending[:20], task_queue=job.task_queue, id_prefix=job.prefix
        )
        counts = await env.run(acts.start_chunk, chunk)
        assert (counts.started, counts.pending, counts.invalid) == (20, f.valid - 20, 7)
        assert await env.run(acts.start_chunk, chunk) == counts  # its rows are done: nothing is sent

        await all_recorded(job.engine, 20)
        # an attempt that started its rows and was lost before recording them: the retry finds
        # each row's transfer by its key (recorded meanwhile) and starts none again
        async with session_scope(job.engine) as s:
            await s.execute(
                update(UploadRow)
                .where(UploadRow.line.in_(first.pending[:20]))
                .values(status="pending", workflow_id=None, status_code=None)
            )
        counts = await env.run(acts.start_chunk, chunk)
        assert (counts.started, counts.existing, counts.failed) == (20, 0, 0)
        # and before its transfers are recorded, the members' open workflows answer (existing),
        # which the end of the job attributes to the rows whose key their transfers carry
        async with session_scope(job.engine) as s:
            await s.execute(update(UploadRow).where(UploadRow.line.in_(first.pending[:20])).values(status="pending"))
            await s.execute(update(Transfer).values(request_id=None))
        counts = await env.run(acts.start_chunk, chunk)
        assert (counts.started, counts.existing, counts.failed) == (0, 20, 0)
        await all_recorded(job.engine, 20)

        # the file again: the lines still pending, each row keeping its outcome
        assert (await env.run(acts.prepare, inp)).pending == first.pending[20:]
        async with session_scope(job.engine) as s:  # the transfers as their workflows wrote them
            for line in first.pending[:10]:
                await s.execute(
                    update(Transfer)
                    .where(Transfer.member_id == f.members[line - 2].id)
                    .values(request_id=f"whu:{idempotency_key(checked.upload_id, line)}")
                )
        done = await env.run(acts.finish, checked.upload_id)
        assert done == UploadCounts(pending=f.valid - 20, started=10, existing=10, invalid=7)
    view = await upload_views.job_view(job.engine, checked.upload_id)
    assert (view.status, view.valid, view.done, view.started) == (UploadStatus.DONE, f.valid, 20, 10)


async def test_a_run_that_failed_is_run_again_by_the_same_file_and_starts_nothing_twice(job, request):
    f, checked = await job.check(60)
    acts = UploadActivities(job.engine, job.client)
    # a worker that can prepare the job but not start its rows: the run accepts, then is stopped
    partial = Worker(
        job.client,
        task_queue=job.task_queue,
        workflows=[BulkUploadWorkflow],
        activities=[acts.prepare, acts.finish],
        workflow_runner=workflow_runner(),
    )
    async with partial:
        view, created = await job.start(checked)
        assert created and view.status == UploadStatus.RUNNING and view.done == 0
        await job.client.get_workflow_handle(checked.upload_id).terminate("the worker's host was lost")
    # some rows started meanwhile (as a chunk would have), before the run was lost
    env = ActivityEnvironment()
    async with build_worker(job.client, job.engine, task_queue=job.task_queue):
        pending = [ln for ln, r in sorted((await job.rows(checked.upload_id)).items()) if r.status == "pending"]
        chunk = UploadChunk(
            upload_id=checked.upload_id, lines=pending[:15], task_queue=job.task_queue, id_prefix=job.prefix
        )
        await env.run(acts.start_chunk, chunk)

        view, created = await job.start(checked)  # the same file again: a new run of the same job
        assert created and view.id == checked.upload_id
        handle = job.client.get_workflow_handle_for(BulkUploadWorkflow.run, checked.upload_id)
        counts = await handle.result()
        assert (counts.started, counts.existing, counts.failed, counts.pending) == (f.valid, 0, 0, 0)
        await all_recorded(job.engine, f.valid)
        again, created = await job.start(checked)  # once more: the job is done, found as it is
        assert not created and again.started == f.valid
    assert await transfer_counts(job.engine) == (f.valid, 0)
    rows = await job.rows(checked.upload_id)
    assert {r.status for ln, r in rows.items() if ln not in f.bad} == {UploadRowStatus.STARTED.value}
    async with session_factory(job.engine)() as s:
        keys = set((await s.execute(select(Transfer.request_id))).scalars())
    assert keys == {r.request_id for r in rows.values() if r.status == "started"}  # each by its row's key

    if os.environ.get("ZHTJ_RECORD_HISTORIES") == "1":  # for tests/workflows/test_replay.py
        history = await handle.fetch_history()
        with open(os.path.join(HISTORIES, f"upload_{request.node.name}_0.json"), "w") as out:
            out.write(history.to_json())


def test_every_status_has_its_label():
    from domain.glossary import UPLOAD_ROW_STATUS_LABELS, UPLOAD_STATUS_LABELS

    assert set(UPLOAD_STATUS_LABELS) == set(UploadStatus)
    assert set(UPLOAD_ROW_STATUS_LABELS) == set(UploadRowStatus)


def test_upload_ids_and_keys():
    from messages.uploads import is_upload_id, upload_id_for

    sha, digest = upload_check.upload_digest(b"name\n", "WHU", "transfer-")
    upload_id = upload_id_for("WHU", digest)
    assert is_upload_id(upload_id) and not is_upload_id(upload_id + "0") and not is_upload_id("upload-WHU-x")
    assert upload_check.upload_digest(b"name\n", "WHU", "transfer-") == (sha, digest)  # the same file, the same job
    assert upload_check.upload_digest(b"name\n", "HUST", "transfer-")[1] != digest  # another org's
    assert upload_check.upload_digest(b"name\n", "WHU", "transfer-a-")[1] != digest  # another deployment's
    key = idempotency_key(upload_id, 2001)
    assert key == f"ul-{digest[:32]}-2001" and len(f"{'u' * 64}:{key}") <= 128  # fits transfers.request_id
    assert upload_check.safe_filename("C:\\Users\\学校\\毕业生.xlsx") == "毕业生.xlsx"
    assert upload_check.safe_filename("../../etc/passwd\x00") == "passwd" and upload_check.safe_filename("") == "upload"
