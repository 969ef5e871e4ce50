"""Batch jobs in a real browser (Playwright on Debian's chromium against ``live_server``), the
chunks run by a real Celery worker process: a user picks a version and a file, reads the quote,
starts the job, watches the progress bar move without a reload, and downloads the output; a file
whose bad cell only a worker finds fails with its reason on the page.

The chunk size is fixed at submission from the web process's settings (this test's), so the
worker, a separate process on its default settings, runs the many small chunks it is given.

Screenshots (``var/screenshots/``): jobs-form-quote, jobs-quote-error, jobs-running,
jobs-finished, jobs-failed, jobs-list-phone.
"""

from __future__ import annotations

import io
import time

import numpy as np
import pandas as pd
import pytest
from django.conf import settings as django_settings
from django.test import Client
from playwright.sync_api import expect

from models_hub import services
from models_hub.demo_models import serialize, train
from models_hub.models import InferenceJob
from models_hub.tests import jobs_kit
from portal.choices import Role
from portal.tests.browser import assert_accessible, screenshot

pytestmark = [pytest.mark.requires_browser]

LIST = "/account/jobs/"
ROWS = 20_000
CHUNK_ROWS = 200  # 100 chunks: long enough to be seen between 0 and 100 %


@pytest.fixture
def iris(org_a, upload):
    estimator, X = train("iris")
    model = services.model_create(
        organization=org_a, name="Iris species", task="classification", listed=True
    )
    version = upload(model, serialize(estimator, "joblib"), filename="m.joblib")
    services.version_publish(version=version)
    version.refresh_from_db()
    return version, estimator, X


def _frame(X: pd.DataFrame, rows: int) -> pd.DataFrame:
    frame = pd.concat([X] * (rows // len(X) + 1), ignore_index=True).head(rows)
    frame.insert(0, "id", [f"r-{n:05d}" for n in range(1, rows + 1)])
    return frame


def _sign_in(page, user, base_url: str) -> None:
    """``user``'s signed-in session as the browser's cookie (sign-in has tests of its own)."""
    client = Client()
    client.force_login(user)
    session_id = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies(
        [{"name": django_settings.SESSION_COOKIE_NAME, "value": session_id, "url": base_url}]
    )


def _choose(page, tmp_path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    page.get_by_label("Input file (CSV or Parquet)").set_input_files(str(path))


def _progress(page) -> float:
    return float(page.locator("#job-progress-bar").get_attribute("value"))


def _watch(page, seen: list[float], *, until, timeout: float = 180) -> list[float]:
    """Add the progress bar's values, read every 100 ms, to ``seen`` until ``until(value)``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = _progress(page)
        if not seen or seen[-1] != value:
            seen.append(value)
        if until(value) or value >= 100:
            return seen
        time.sleep(0.1)
    raise AssertionError(f"the bar read {seen}")


def test_a_job_submitted_through_the_form_runs_on_a_worker_and_downloads(
    page, live_server, celery_worker, settings, make_staff, org_a, iris, tmp_path
):
    # given a member of the model's organization, signed in, and a file of 20,000 rows
    settings.JOB_CHUNK_ROWS = CHUNK_ROWS
    version, estimator, X = iris
    user = make_staff(org_a, Role.MANAGER)
    _sign_in(page, user, live_server.url)
    frame = _frame(X, ROWS)

    # when they open the form from the version's link and choose the file
    page.goto(f"{LIST}?version={version.pk}")
    expect(page.get_by_label("Model version")).to_have_value(str(version.pk))
    # htmx read its config from the page's meta element: it injects no style, evaluates nothing
    config = page.evaluate(
        "() => [htmx.version, htmx.config.allowEval, htmx.config.includeIndicatorStyles,"
        " htmx.config.allowScriptTags, document.querySelectorAll('style').length]"
    )
    assert config == ["2.0.11", False, False, False, 0], config
    _choose(page, tmp_path, "flowers.csv", jobs_kit.csv_bytes(frame))

    # then the quote appears: rows, chunks, and what it costs
    quote = page.locator("#job-quote")
    expect(quote.locator(".quote-rows")).to_have_text("20,000")
    expect(quote.locator(".quote-chunks")).to_have_text("100")
    expect(quote).to_contain_text("Free: your organization publishes this model.")
    assert_accessible(page)
    screenshot(page, "jobs-form-quote")

    # when they start it, they land on the job's page
    with page.expect_navigation():
        page.get_by_role("button", name="Start the job").click()
    job = InferenceJob.objects.get()
    assert page.url.endswith(f"/account/jobs/{job.public_id}/")
    page.evaluate("() => { window.sameDocument = true; }")  # gone if the page reloads

    # then the bar moves, without a reload, through values strictly between 0 and 100 to 100
    seen = _watch(page, [], until=lambda value: 0 < value < 100)
    assert 0 < seen[-1] < 100, f"the bar went from {seen[:-1]} straight to {seen[-1]}"
    expect(page.locator(".job-status-badge")).to_have_text("Running")
    expect(page.locator("#job-cancel")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "jobs-running")
    _watch(page, seen, until=lambda value: value >= 100)
    assert seen[-1] == 100, seen
    assert seen == sorted(seen), seen
    expect(page.locator(".job-status-badge")).to_have_text("Succeeded")
    assert page.evaluate("() => window.sameDocument === true")
    expect(page.locator("#job-rows")).to_have_text("20,000 of 20,000")
    expect(page.locator("#job-cancel")).to_have_count(0)
    assert_accessible(page)
    screenshot(page, "jobs-finished")
    # the ended panel no longer polls
    assert page.locator("#job-status").get_attribute("hx-trigger") is None

    # and the output downloads: every row, in order, with the estimator's predictions
    with page.expect_download() as download:
        page.locator("#job-download").click()
    assert download.value.suggested_filename == (f"iris-species-1.0.0-{job.public_id.hex[:8]}.csv")
    out = pd.read_csv(io.BytesIO(download.value.path().read_bytes()))
    assert len(out) == ROWS
    assert list(out["id"]) == list(frame["id"])
    matrix = frame.drop(columns=["id"]).to_numpy()
    expected = jobs_kit.batched(estimator.predict, matrix, CHUNK_ROWS)
    assert np.array_equal(out["prediction"].to_numpy(), expected)
    job.refresh_from_db()
    assert job.chunks.filter(worker="inline").count() == 0  # a worker process ran every chunk

    # and the list shows it ended
    page.goto(LIST)
    row = page.locator(".jobs-table tbody tr").first
    expect(row).to_contain_text("Succeeded")
    expect(row).to_contain_text("20,000 / 20,000")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "jobs-list-phone")


def test_a_bad_file_is_refused_in_the_quote_and_one_only_a_worker_reads_fails_with_its_reason(
    page, live_server, celery_worker, settings, make_staff, org_a, iris, tmp_path
):
    settings.JOB_CHUNK_ROWS = CHUNK_ROWS
    version, _, X = iris
    _sign_in(page, make_staff(org_a, Role.MANAGER), live_server.url)
    bad = _frame(X, 1_000).astype({"petal width (cm)": object})
    bad.loc[450, "petal width (cm)"] = "wide"  # data row 451, in chunk 2 (rows 401 to 600)

    # a file small enough to be read whole at submission: the quote names the cell
    page.goto(f"{LIST}?version={version.pk}")
    _choose(page, tmp_path, "bad.csv", jobs_kit.csv_bytes(bad))
    errors = page.locator("#job-quote .quote-errors")
    expect(errors).to_contain_text("Row 451, column 'petal width (cm)'")
    expect(errors).to_contain_text("not_numeric")
    assert_accessible(page)
    screenshot(page, "jobs-quote-error")

    # past the size read at submission, only the worker meets the cell: the job fails with it
    settings.JOB_INLINE_CHECK_BYTES = 0
    _choose(page, tmp_path, "bad-large.csv", jobs_kit.csv_bytes(bad))
    expect(page.locator("#job-quote .quote-rows")).to_have_text("1,000")
    with page.expect_navigation():
        page.get_by_role("button", name="Start the job").click()
    expect(page.locator(".job-status-badge")).to_have_text("Failed", timeout=90_000)
    failure = page.locator("#job-error")
    expect(failure).to_contain_text("not_numeric")
    expect(failure).to_contain_text("2 (rows 401 to 600)")
    expect(failure).to_contain_text("451")
    expect(failure).to_contain_text("petal width (cm)")
    expect(page.locator("#job-download")).to_have_count(0)
    assert_accessible(page)
    screenshot(page, "jobs-failed")
