"""BulkUploadWorkflow: one uploaded bulk 办理转出 file of an org, started row by row through the gate.

1. The prepare activity writes the job and its rows to the database (idempotent: a row already
   there keeps its outcome) and answers the lines still to start.
2. Chunk activities start those lines, `CHUNK_ROWS` at a time and `CONCURRENT_CHUNKS` at once,
   each through the one gate (`service.bulk_start`) with each row's idempotency key, and record
   the rows' outcomes and the job's counts.
3. The finish activity marks the job done.

The activities run the service layer's gate, which this layer may not import: the workflow names
them by their registered names (`messages.uploads`), the worker registers their code
(service/upload_job.py). The job's state is in the database, written only by these activities;
the workflow holds no row (its input carries them, compressed, to the prepare activity).

The `accepted` update answers once the job is in the database, so the caller of update-with-start
(POST /api/uploads) can answer with the job at once; the first caller's update is the one that
started the run (`created`), a later upload of the same file attaches to it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from messages.uploads import (
        FINISH_ACTIVITY,
        PREPARE_ACTIVITY,
        START_CHUNK_ACTIVITY,
        UploadAccepted,
        UploadChunk,
        UploadCounts,
        UploadInput,
        UploadPrepared,
    )

#: One attempt of the prepare activity (every row of the file in one transaction) and of a chunk.
PREPARE_TIMEOUT = timedelta(minutes=2)
CHUNK_TIMEOUT = timedelta(minutes=5)
#: Data the activities can never write is not retried; anything else is, with backoff.
INVALID_UPLOAD = "InvalidUploadData"
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=[INVALID_UPLOAD],
)


@workflow.defn
class BulkUploadWorkflow:
    def __init__(self) -> None:
        self._prepared: UploadPrepared | None = None
        self._asked = 0
        self._chunks_done = 0

    @workflow.run
    async def run(self, inp: UploadInput) -> UploadCounts:
        prepared: UploadPrepared = await workflow.execute_activity(
            PREPARE_ACTIVITY,
            inp,
            result_type=UploadPrepared,
            start_to_close_timeout=PREPARE_TIMEOUT,
            retry_policy=RETRY,
        )
        self._prepared = prepared
        size = max(1, inp.chunk_rows)
        chunks = [
            UploadChunk(
                upload_id=inp.upload_id,
                lines=prepared.pending[i : i + size],
                task_queue=inp.task_queue,
                id_prefix=inp.id_prefix,
            )
            for i in range(0, len(prepared.pending), size)
        ]
        slots = asyncio.Semaphore(max(1, inp.concurrent_chunks))

        async def start(chunk: UploadChunk) -> None:
            async with slots:
                await workflow.execute_activity(
                    START_CHUNK_ACTIVITY,
                    chunk,
                    result_type=UploadCounts,
                    start_to_close_timeout=CHUNK_TIMEOUT,
                    retry_policy=RETRY,
                )
                self._chunks_done += 1

        await asyncio.gather(*(start(c) for c in chunks))
        counts: UploadCounts = await workflow.execute_activity(
            FINISH_ACTIVITY,
            inp.upload_id,
            result_type=UploadCounts,
            start_to_close_timeout=PREPARE_TIMEOUT,
            retry_policy=RETRY,
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return counts

    @workflow.update
    async def accepted(self) -> UploadAccepted:
        """The job once it is in the database; `created` for the caller whose start made the run."""
        self._asked += 1
        first = self._asked == 1
        await workflow.wait_condition(lambda: self._prepared is not None)
        assert self._prepared is not None
        return UploadAccepted(upload_id=workflow.info().workflow_id, job_id=self._prepared.job_id, created=first)

    @workflow.query
    def chunks_done(self) -> int:
        return self._chunks_done
