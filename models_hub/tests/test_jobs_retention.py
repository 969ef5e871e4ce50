"""Retention (``jobs_purge``, beat hourly): a job's files (input, parts, output) are deleted
``JOB_RETENTION_DAYS`` after it ended, checked in the storage itself; its row stays, marked, and
its output answers 410 ``job_files_expired`` from then on. A live or recent job keeps its files.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage

from models_hub.choices import ChunkStatus, JobStatus
from models_hub.jobs import services as jobs
from models_hub.models import InferenceJob
from models_hub.tests import factories, jobs_kit
from portal.errors import DomainError

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def small_chunks(settings):
    settings.JOB_CHUNK_ROWS = 10
    settings.JOB_RETENTION_DAYS = 7


@pytest.fixture
def version(org_a):
    return factories.published_version(org_a, "Iris batch")


def rows_csv(count: int = 30, *, bad_row: int | None = None) -> bytes:
    return jobs_kit.iris_csv(count, bad_row=bad_row, bad_column=2)


def files_of(job: InferenceJob) -> list[str]:
    """Every file under the job's folder, its parts' too (relative to the folder)."""

    def walk(folder: str, prefix: str = "") -> list[str]:
        try:
            directories, files = default_storage.listdir(folder)
        except FileNotFoundError:
            return []
        found = [prefix + name for name in files]
        for directory in directories:
            found += walk(f"{folder}/{directory}", f"{prefix}{directory}/")
        return sorted(found)

    return walk(job.folder)


def ended_days_ago(job: InferenceJob, days: float):
    """The moment that is ``days`` after the job ended."""
    job.refresh_from_db()
    return job.finished_at + timedelta(days=days)


def test_an_ended_jobs_files_are_deleted_after_the_retention_period(version, settings):
    # given: a succeeded job (input, output) and a failed one (input, the parts it wrote)
    succeeded = jobs_kit.run_inline(jobs_kit.submit(version, rows_csv()))
    settings.JOB_INLINE_CHECK_BYTES = 0  # the bad cell is found by its chunk, not at submission
    failed = jobs_kit.run_inline(jobs_kit.submit(version, rows_csv(bad_row=25)))
    assert succeeded.status == JobStatus.SUCCEEDED
    assert (failed.status, failed.error_code, failed.error_row) == (
        JobStatus.FAILED,
        "not_numeric",
        25,
    )
    assert files_of(succeeded) == ["input.csv", succeeded.output_file.name.rsplit("/", 1)[1]]
    done = failed.chunks.filter(status=ChunkStatus.DONE).order_by("index")
    assert [chunk.index for chunk in done] == [0, 1]
    assert files_of(failed) == [
        "input.csv",
        *(chunk.part_file.removeprefix(f"{failed.folder}/") for chunk in done),
    ]

    # when: the purge runs just after the retention period of both
    now = max(ended_days_ago(succeeded, 7), ended_days_ago(failed, 7)) + timedelta(seconds=1)
    assert jobs.jobs_purge(now=now - timedelta(seconds=2)) == 0  # not yet
    purged = jobs.jobs_purge(now=now)

    # then: the storage holds nothing of them; the rows stay, marked
    assert purged == 2
    for job in (succeeded, failed):
        job.refresh_from_db()
        assert files_of(job) == []
        assert not default_storage.exists(job.input_file.name)
        assert job.files_deleted_at == now
    assert not default_storage.exists(succeeded.output_file.name)
    assert jobs.jobs_purge(now=now + timedelta(hours=1)) == 0  # once


def test_a_purged_jobs_output_answers_410(version):
    job = jobs_kit.run_inline(jobs_kit.submit(version, rows_csv()))
    assert len(jobs_kit.output_frame(job)) == 30  # downloadable until then

    jobs.jobs_purge(now=ended_days_ago(job, 8))

    job.refresh_from_db()
    with pytest.raises(DomainError) as refused:
        jobs.job_output(job=job)
    assert (refused.value.code, refused.value.status) == ("job_files_expired", 410)


def test_a_live_or_recent_job_keeps_its_files(version):
    recent = jobs_kit.run_inline(jobs_kit.submit(version, rows_csv()))
    live = jobs_kit.submit(version, rows_csv(20))  # queued: no worker took it
    now = ended_days_ago(recent, 6)

    assert jobs.jobs_purge(now=now) == 0
    assert files_of(recent) == ["input.csv", recent.output_file.name.rsplit("/", 1)[1]]
    assert len(jobs_kit.output_frame(recent)) == 30
    assert jobs.jobs_purge(now=live.created_at + timedelta(days=365)) == 1  # recent, by then

    live.refresh_from_db()
    assert live.files_deleted_at is None
    assert files_of(live) == ["input.csv"]
    assert default_storage.exists(live.input_file.name)
