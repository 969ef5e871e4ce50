"""Faults of ours, not the input's: a chunk whose file store fails runs again and, out of
attempts, fails the job with the last reason and charges nothing; the heartbeat thread keeps a
long chunk from looking dead; a redelivered task of an ended job stops asking; the sweep ends
chunks whose worker died after their job was cancelled, and the job then joins."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.db.models import F
from django.utils import timezone

from models_hub.choices import ChunkStatus, JobStatus
from models_hub.jobs import services as jobs
from models_hub.models import InferenceJob, JobChunk
from models_hub.tests import factories, jobs_kit

ROWS = 30


@pytest.fixture(autouse=True)
def small_chunks(settings):
    settings.JOB_CHUNK_ROWS = 10
    settings.JOB_BATCH_ROWS = 5


@pytest.fixture
def job(org_a) -> InferenceJob:
    version = factories.published_version(org_a, "Iris faults")
    _, rows = factories.iris()
    return jobs_kit.submit(version, jobs_kit.csv_bytes(rows.head(ROWS)))


@pytest.mark.django_db
def test_a_failing_file_store_is_retried_then_fails_the_job_with_its_reason(job, settings):
    # given: the job's input is gone from the file store
    default_storage.delete(job.input_file.name)
    chunk = job.chunks.get(index=0)

    # when: its chunk runs, and runs again, until it is out of attempts
    for attempt in range(1, settings.JOB_CHUNK_MAX_ATTEMPTS):
        with pytest.raises(jobs.ChunkRetry, match="FileNotFoundError"):
            jobs.chunk_run(chunk_id=chunk.pk, worker="w")
        chunk.refresh_from_db()
        assert (chunk.status, chunk.attempts) == (ChunkStatus.PENDING, attempt)
    assert jobs.chunk_run(chunk_id=chunk.pk, worker="w") == ChunkStatus.FAILED

    # then: the job failed with the last reason, on that chunk, and its other chunks never ran
    job.refresh_from_db()
    assert (job.status, job.error_code, job.error_chunk) == ("failed", "job_chunk_failed", 0)
    assert "FileNotFoundError" in job.error_message
    assert set(job.chunks.exclude(index=0).values_list("status", flat=True)) == {"cancelled"}
    assert job.units_charged == 0


@pytest.mark.django_db
def test_a_redelivered_task_of_an_ended_job_stops_asking(job):
    # given: a chunk held by a worker that died, and the job failed meanwhile
    chunk = job.chunks.get(index=1)
    assert jobs._claim(chunk.pk, "dead") is not None
    InferenceJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED)

    # when: the chunk's message comes back; then: it is not busy (nothing to wait for)
    assert jobs.chunk_run(chunk_id=chunk.pk, worker="w") == ChunkStatus.RUNNING


@pytest.mark.django_db
def test_the_sweep_ends_a_dead_chunk_of_a_cancelled_job_and_the_job_joins(job, settings):
    # given: chunk 0 done, chunk 1 held by a worker that died, then the job is cancelled
    first, second = job.chunks.get(index=0), job.chunks.get(index=1)
    assert jobs.chunk_run(chunk_id=first.pk, worker="w") == ChunkStatus.DONE
    assert jobs._claim(second.pk, "dead") is not None
    jobs.job_cancel(job=job)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLING  # waiting for chunk 1's worker

    # when: its heartbeat goes stale and the sweep runs
    JobChunk.objects.filter(pk=second.pk).update(
        heartbeat_at=F("heartbeat_at") - timedelta(hours=1)
    )
    jobs.jobs_sweep()
    job.refresh_from_db()
    assert job.status == JobStatus.JOINING
    jobs.job_join(job_id=job.pk, attempt=str(job.join_attempt))

    # then: the job ends cancelled with chunk 0's rows
    job.refresh_from_db()
    assert (job.status, job.output_rows) == (JobStatus.CANCELLED, 10)
    assert list(jobs_kit.output_frame(job)["row"]) == list(range(1, 11))


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_moves_a_long_chunks_heartbeat(job, settings):
    # given: a claimed chunk and a stale time of 1.5 s (a beat every 0.5 s)
    settings.JOB_CHUNK_STALE_SECONDS = 1.5
    chunk = job.chunks.get(index=0)
    attempt = jobs._claim(chunk.pk, "w")
    before = JobChunk.objects.get(pk=chunk.pk).heartbeat_at

    # when: a batch runs for 1.2 s with the heartbeat thread on
    with jobs._Heartbeat(chunk.pk, attempt):
        time.sleep(1.2)
    after = JobChunk.objects.get(pk=chunk.pk).heartbeat_at
    with jobs._Heartbeat(chunk.pk, uuid.uuid4()):  # another attempt's thread touches nothing
        time.sleep(0.7)

    # then: the thread moved it, and only for its own attempt
    assert before < after <= timezone.now()
    assert JobChunk.objects.get(pk=chunk.pk).heartbeat_at == after
