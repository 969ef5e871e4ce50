"""The sweep (``jobs_sweep``, beat every 30 s) picks up what vanished workers left, in-process on
the real database: a stale chunk runs again elsewhere, a fresh one is left to its worker, a chunk
out of attempts fails the job, a lost message is queued again, a lost join is claimed again and
charges once, a job past its time fails, and a superseded attempt's part never counts.

A worker is played by the chunk's own steps (``_claim``: what ``chunk_run`` does first; then
``chunk_run`` or ``_commit``). Neither freezegun nor time_machine is installed: the sweep is
given ``now=``, and a worker's silence is its heartbeat moved back in the database.
(Jobs charged in credits: ``licensing/tests/test_jobs_credits.py``.)
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import F
from django.utils import timezone

from models_hub.choices import ChunkStatus, JobStatus
from models_hub.jobs import services as jobs
from models_hub.models import InferenceJob, JobChunk
from models_hub.tests import factories, jobs_kit

pytestmark = pytest.mark.django_db

ROWS = 30  # three chunks of ten rows


@pytest.fixture(autouse=True)
def small_chunks(settings):
    settings.JOB_CHUNK_ROWS = 10
    settings.JOB_BATCH_ROWS = 5


@pytest.fixture
def version(org_a):
    return factories.published_version(org_a, "Iris batch")


@pytest.fixture
def job(version) -> InferenceJob:
    _, rows = factories.iris()
    return jobs_kit.submit(version, jobs_kit.csv_bytes(rows.head(ROWS)))


def later(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


def go_quiet(chunk: JobChunk, seconds: float) -> None:
    """The chunk's worker has said nothing for ``seconds`` (it died)."""
    JobChunk.objects.filter(pk=chunk.pk).update(
        heartbeat_at=F("heartbeat_at") - timedelta(seconds=seconds)
    )


def assert_complete(job: InferenceJob) -> None:
    assert job.status == JobStatus.SUCCEEDED, (job.error_code, job.error_message)
    out = jobs_kit.output_frame(job)
    assert list(out["row"]) == list(range(1, ROWS + 1))  # every row, once, in order
    assert job.rows_done == job.output_rows == ROWS


def test_a_stale_chunk_is_queued_again_and_completes_on_another_worker(job, settings):
    # given: worker A claimed chunk 0 and died (no heartbeat since)
    first = job.chunks.get(index=0)
    assert jobs._claim(first.pk, "worker-a") is not None

    # when: the sweep runs once the heartbeat is stale
    report = jobs.jobs_sweep(now=later(settings.JOB_CHUNK_STALE_SECONDS + 1))

    # then: the chunk is pending again, and the redelivered task on worker B completes it
    assert (report.requeued, report.failed, report.timed_out) == (1, 0, 0)
    first.refresh_from_db()
    assert first.status == ChunkStatus.PENDING
    assert jobs.chunk_run(chunk_id=first.pk, worker="worker-b") == ChunkStatus.DONE
    first.refresh_from_db()
    assert (first.status, first.attempts, first.worker) == (ChunkStatus.DONE, 2, "worker-b")
    assert_complete(jobs_kit.run_inline(job))


def test_a_fresh_running_chunk_is_left_to_its_worker(job, settings):
    first = job.chunks.get(index=0)
    attempt = jobs._claim(first.pk, "worker-a")

    report = jobs.jobs_sweep(now=later(settings.JOB_CHUNK_STALE_SECONDS - 5))

    assert report.requeued == 0
    first.refresh_from_db()
    assert (first.status, first.attempt, first.attempts) == (ChunkStatus.RUNNING, attempt, 1)
    with pytest.raises(jobs.ChunkBusy):  # a redelivered task asks again later
        jobs.chunk_run(chunk_id=first.pk, worker="worker-b")
    first.refresh_from_db()
    assert (first.attempt, first.worker) == (attempt, "worker-a")


def test_a_chunk_out_of_attempts_fails_the_job_worker_lost(job, settings):
    # given: two workers in turn claimed chunk 1 and died, the most attempts a chunk may have
    settings.JOB_CHUNK_MAX_ATTEMPTS = 2
    second = job.chunks.get(index=1)
    for worker in ("worker-a", "worker-b"):
        assert jobs._claim(second.pk, worker) is not None
        go_quiet(second, settings.JOB_CHUNK_STALE_SECONDS + 1)

    # when
    report = jobs.jobs_sweep()

    # then: the job fails with the chunk named, and nothing else of it runs
    assert (report.failed, report.requeued) == (1, 0)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert (job.error_code, job.error_chunk) == ("job_worker_lost", 1)
    assert "started 2 times" in job.error_message
    assert job.finished_at is not None
    statuses = dict(job.chunks.values_list("index", "status"))
    assert statuses == {0: ChunkStatus.CANCELLED, 1: ChunkStatus.FAILED, 2: ChunkStatus.CANCELLED}
    assert job.reservation is None  # the publisher's job reserved nothing (credits: licensing)
    assert jobs.chunk_run(chunk_id=job.chunks.get(index=0).pk) == ChunkStatus.CANCELLED


def test_a_redelivered_task_past_its_attempts_fails_the_job_too(job, settings):
    settings.JOB_CHUNK_MAX_ATTEMPTS = 1
    first = job.chunks.get(index=0)
    jobs._claim(first.pk, "worker-a")
    go_quiet(first, settings.JOB_CHUNK_STALE_SECONDS + 1)

    # the broker redelivers the dead worker's task (late acknowledgement) before any sweep
    assert jobs.chunk_run(chunk_id=first.pk, worker="worker-b") == ChunkStatus.FAILED

    job.refresh_from_db()
    assert (job.status, job.error_code, job.error_chunk) == (JobStatus.FAILED, "job_worker_lost", 0)


def test_a_pending_chunk_queued_long_ago_is_queued_again(job, settings):
    # given: the chunks' messages were lost (a broker restart): they stay pending
    waited = settings.JOB_PENDING_REQUEUE_SECONDS + 1
    assert jobs.jobs_sweep(now=later(waited - 10)).requeued == 0

    # when
    now = later(waited)
    report = jobs.jobs_sweep(now=now)

    # then: each is queued again once, and then runs
    assert report.requeued == 3
    assert set(job.chunks.values_list("status", "enqueued_at")) == {(ChunkStatus.PENDING, now)}
    assert jobs.jobs_sweep(now=now + timedelta(seconds=30)).requeued == 0
    assert_complete(jobs_kit.run_inline(job))


def test_a_lost_join_is_claimed_again_and_completes_once(job, settings):
    # given: every chunk is done and the join was claimed, but its task never ran
    for chunk in job.chunks.order_by("index"):
        assert jobs.chunk_run(chunk_id=chunk.pk, worker="worker-a") == ChunkStatus.DONE
    job.refresh_from_db()
    assert job.status == JobStatus.JOINING
    lost = str(job.join_attempt)
    assert jobs.jobs_sweep(now=later(settings.JOB_CHUNK_STALE_SECONDS - 5)).rejoined == 0

    # when
    report = jobs.jobs_sweep(now=later(settings.JOB_CHUNK_STALE_SECONDS + 1))

    # then: a new attempt holds the join; the lost one, should it run late, does nothing
    assert report.rejoined == 1
    job.refresh_from_db()
    assert job.status == JobStatus.JOINING
    assert str(job.join_attempt) != lost
    fresh = str(job.join_attempt)
    assert jobs.job_join(job_id=job.pk, attempt=lost) == "not-mine"
    assert jobs.job_join(job_id=job.pk, attempt=fresh) == "succeeded"
    assert jobs.job_join(job_id=job.pk, attempt=fresh) == "not-mine"  # a redelivery: once
    assert jobs.job_join(job_id=job.pk, attempt=lost) == "not-mine"
    job.refresh_from_db()
    assert_complete(job)
    assert (job.units_charged, job.receipt_id) == (0, None)  # the publisher's: never charged
    files = default_storage.listdir(job.folder)[1]
    assert [name for name in files if name.startswith("output")] == [
        job.output_file.name.rsplit("/", 1)[1]
    ]  # one output file


def test_a_job_past_its_runtime_fails_timed_out(job, settings):
    jobs._claim(job.chunks.get(index=0).pk, "worker-a")  # one chunk running, two pending
    assert jobs.jobs_sweep(now=later(settings.JOB_MAX_RUNTIME - 60)).timed_out == 0

    report = jobs.jobs_sweep(now=later(settings.JOB_MAX_RUNTIME + 1))

    assert report.timed_out == 1
    job.refresh_from_db()
    assert (job.status, job.error_code) == (JobStatus.FAILED, "job_timed_out")
    assert str(settings.JOB_MAX_RUNTIME) in job.error_message
    assert job.chunks.filter(status=ChunkStatus.PENDING).count() == 0
    assert jobs.jobs_sweep(now=later(settings.JOB_MAX_RUNTIME + 60)).timed_out == 0


def test_a_superseded_attempts_part_is_refused_and_deleted(job, settings):
    # given: worker A claimed chunk 0 and went quiet; the sweep handed it to worker B
    first = job.chunks.get(index=0)
    attempt_a = jobs._claim(first.pk, "worker-a")
    go_quiet(first, settings.JOB_CHUNK_STALE_SECONDS + 1)
    assert jobs.jobs_sweep().requeued == 1

    # when: B runs the chunk and commits it; then A, which was only slow, writes the same rows
    # under its own name and commits too
    assert jobs.chunk_run(chunk_id=first.pk, worker="worker-b") == ChunkStatus.DONE
    first.refresh_from_db()
    with default_storage.open(first.part_file, "rb") as part:
        rows = part.read()
    name_a = default_storage.save(
        f"{job.folder}/parts/{first.index:06d}-{attempt_a.hex}.csv", ContentFile(rows)
    )
    assert jobs._commit(job.pk, first, attempt_a, name_a) == "superseded"

    # then: A's part is gone and never counted; the output has each row once
    assert not default_storage.exists(name_a)
    first.refresh_from_db()
    assert (first.status, first.worker, first.attempts) == (ChunkStatus.DONE, "worker-b", 2)
    job.refresh_from_db()
    assert job.rows_done == first.rows
    assert_complete(jobs_kit.run_inline(job))
