"""``manage.py jobs_sweep`` and ``manage.py jobs_purge``: the beat's two job tasks, run by hand,
say what they did."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db.models import F

from models_hub.choices import ChunkStatus
from models_hub.jobs import services as jobs
from models_hub.models import InferenceJob, JobChunk
from models_hub.tests import factories, jobs_kit

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def small_chunks(settings):
    settings.JOB_CHUNK_ROWS = 10


@pytest.fixture
def version(org_a):
    return factories.published_version(org_a, "Iris batch")


def _csv(count: int) -> bytes:
    _, rows = factories.iris()
    return jobs_kit.csv_bytes(rows.head(count))


def test_jobs_sweep_queues_a_dead_workers_chunk_again(version, capsys, settings):
    job = jobs_kit.submit(version, _csv(20))
    chunk = job.chunks.get(index=0)
    jobs._claim(chunk.pk, "worker-a")
    call_command("jobs_sweep")
    assert "0 chunk(s) queued again, 0 join(s) claimed again" in capsys.readouterr().out

    # the worker died: its heartbeat is stale
    stale = timedelta(seconds=settings.JOB_CHUNK_STALE_SECONDS + 1)
    JobChunk.objects.filter(pk=chunk.pk).update(heartbeat_at=F("heartbeat_at") - stale)
    call_command("jobs_sweep")

    out = capsys.readouterr().out
    assert out.strip() == (
        "1 chunk(s) queued again, 0 join(s) claimed again, 0 job(s) timed out, "
        "0 failed (worker lost)"
    )
    chunk.refresh_from_db()
    assert chunk.status == ChunkStatus.PENDING


def test_jobs_purge_deletes_the_files_of_jobs_past_retention(version, capsys, settings):
    settings.JOB_RETENTION_DAYS = 7
    old = jobs_kit.run_inline(jobs_kit.submit(version, _csv(20)))
    recent = jobs_kit.run_inline(jobs_kit.submit(version, _csv(20)))
    InferenceJob.objects.filter(pk=old.pk).update(finished_at=F("finished_at") - timedelta(days=8))

    call_command("jobs_purge")

    assert "deleted the files of 1 job(s) that ended over 7 day(s) ago" in capsys.readouterr().out
    old.refresh_from_db()
    assert old.files_deleted_at is not None
    assert not default_storage.exists(old.output_file.name)
    assert default_storage.exists(recent.output_file.name)
    call_command("jobs_purge")
    assert "deleted the files of 0 job(s)" in capsys.readouterr().out
