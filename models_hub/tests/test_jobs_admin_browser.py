"""The jobs' admin in a real browser: the changelist fits a 1366 px screen with a succeeded, a
failed and a running job; a running job's status and progress move in place while the test plays
its workers; a failed job's page shows why. Screenshots (``var/screenshots/``): admin-jobs,
admin-jobs-live, admin-job-running, admin-job-failed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F
from playwright.sync_api import expect

from licensing.entitlement import Caller
from models_hub.choices import ChunkStatus
from models_hub.jobs import services as jobs
from models_hub.models import InferenceJob, JobChunk
from models_hub.tests import factories, jobs_kit
from portal.choices import ApiScope, Role
from portal.services import api_key_create
from portal.tests.browser import PASSWORD, screenshot, sign_in

pytestmark = [pytest.mark.requires_browser]

CHANGELIST = "/admin/models_hub/inferencejob/"


@pytest.fixture
def version(org_a, settings):
    settings.JOB_CHUNK_ROWS = 10
    settings.JOB_BATCH_ROWS = 5
    return factories.published_version(org_a, "Iris species (petals and sepals)")


def rows_csv(count: int = 30, *, bad_row: int | None = None) -> bytes:
    return jobs_kit.iris_csv(count, bad_row=bad_row, bad_column=3)


def finish(chunk) -> None:
    """The test plays a worker: it runs the chunk, taking over a silent one's attempt."""
    JobChunk.objects.filter(pk=chunk.pk, status=ChunkStatus.RUNNING).update(
        heartbeat_at=F("heartbeat_at") - timedelta(hours=1)
    )
    assert jobs.chunk_run(chunk_id=chunk.pk, worker="celery@worker-3") == ChunkStatus.DONE


@pytest.fixture
def running(version):
    """Chunk 0 done, chunk 1 on worker-2 one batch in, chunk 2 pending."""
    job = jobs_kit.submit(version, rows_csv())
    first, second = job.chunks.order_by("index")[:2]
    jobs.chunk_run(chunk_id=first.pk, worker="celery@worker-1")
    attempt = jobs._claim(second.pk, "celery@worker-2")
    jobs._heartbeat(job.pk, second.pk, attempt, 5)
    return job


@pytest.fixture
def failed(version, settings):
    settings.JOB_INLINE_CHECK_BYTES = 0
    job = jobs_kit.run_inline(jobs_kit.submit(version, rows_csv(bad_row=25)))
    settings.JOB_INLINE_CHECK_BYTES = 32 * 1024 * 1024
    return job


def test_the_job_changelist_fits_and_moves_in_place(
    page, make_staff, org_a, version, running, failed
):
    manager = make_staff(org_a, Role.MANAGER, password=PASSWORD)
    key = api_key_create(
        organization=org_a, owner=manager, name="Nightly scoring", scopes=[ApiScope.PREDICT]
    ).api_key
    by_key = {"caller": Caller.of_api_key(key), "api_key": key, "user": manager}
    jobs_kit.run_inline(jobs_kit.submit(version, rows_csv(), **by_key))
    InferenceJob.objects.filter(pk=running.pk).update(user=manager)
    page.set_viewport_size({"width": 1366, "height": 768})

    sign_in(page, manager, CHANGELIST)

    sizes = page.evaluate(
        """() => {
            const box = document.querySelector(".results");
            return {page: document.documentElement.scrollWidth,
                    box: box.clientWidth, boxScroll: box.scrollWidth};
        }"""
    )
    screenshot(page, "admin-jobs")
    assert sizes["page"] <= 1366, sizes
    assert sizes["boxScroll"] <= sizes["box"], f"the table scrolls sideways: {sizes}"
    progress = page.locator(f".job-progress[data-badge-id='{running.pk}']")
    expect(progress).to_have_text("50% · 15 / 30 rows")

    # when the workers finish the running job, its row follows without a reload
    for chunk in running.chunks.exclude(status=ChunkStatus.DONE).order_by("index"):
        finish(chunk)
    running.refresh_from_db()
    jobs.job_join(job_id=running.pk, attempt=str(running.join_attempt))

    badge = page.locator(f".job-badge[data-badge-id='{running.pk}']")
    expect(badge).to_have_text("Succeeded", timeout=20_000)
    expect(badge).to_have_class("job-badge status-succeeded")
    expect(progress).to_have_text("100% · 30 / 30 rows", timeout=20_000)
    screenshot(page, "admin-jobs-live")


def test_a_jobs_page_shows_its_chunks_or_why_it_failed(page, make_staff, org_a, running, failed):
    viewer = make_staff(org_a, Role.VIEWER, password=PASSWORD)
    page.set_viewport_size({"width": 1366, "height": 900})

    sign_in(page, viewer, f"{CHANGELIST}{running.pk}/change/")
    expect(page.locator(".chunk-badge.status-running")).to_have_count(1)
    expect(page.locator("#content")).to_contain_text("celery@worker-2")
    screenshot(page, "admin-job-running")

    page.goto(f"{CHANGELIST}{failed.pk}/change/")
    reason = page.locator("fieldset", has_text="Why it failed")
    expect(reason).to_contain_text("not_numeric")
    expect(reason).to_contain_text("chunk 2, row 25")
    assert page.locator("a[href*='private-media']").count() == 0
    screenshot(page, "admin-job-failed")
