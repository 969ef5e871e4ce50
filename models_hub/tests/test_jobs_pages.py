"""The customer's batch-job pages (``models_hub/jobs/views.py``) through the Django test client
on a real database: the list and the form, the quote fragment, submitting (once per idempotency
key), the job page and its polled fragment, cancel, download, and another caller's job (404).

The caller is a staff user of the model's organization, signed in: the publisher's right, so
no chain is needed (credits and their quote: ``licensing/tests/test_jobs_pages_metered.py``).
"""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pandas as pd
import pytest
from django.urls import reverse
from django.utils import timezone

from licensing.entitlement import Caller
from models_hub import services
from models_hub.choices import ChunkStatus, JobStatus
from models_hub.demo_models import serialize, train
from models_hub.jobs import services as jobs
from models_hub.models import InferenceJob
from models_hub.tests import jobs_kit
from portal.choices import Role

pytestmark = pytest.mark.django_db

LIST = "/account/jobs/"
_trained: dict = {}


def _iris():
    if "iris" not in _trained:
        _trained["iris"] = train("iris")
    return _trained["iris"]


@pytest.fixture
def version(org_a, upload):
    """Org A's listed iris classifier, version 1.0.0 published."""
    estimator, _ = _iris()
    model = services.model_create(
        organization=org_a, name="Iris species", task="classification", listed=True
    )
    row = upload(model, serialize(estimator, "joblib"), filename="m.joblib")
    services.version_publish(version=row)
    row.refresh_from_db()
    return row


@pytest.fixture
def staff(make_staff, org_a):
    return make_staff(org_a, Role.MANAGER)


@pytest.fixture
def signed_in(client, staff):
    client.force_login(staff)
    return client


def _rows(n: int = 10) -> pd.DataFrame:
    _, X = _iris()
    return X.head(n)


def _csv(n: int = 10) -> bytes:
    return jobs_kit.csv_bytes(_rows(n))


def _post(client, url, version, data: bytes, name="rows.csv", key="", **headers):
    payload = {"version": str(version.pk), "file": jobs_kit.upload(data, name)}
    if key:
        payload["idempotency_key"] = key
    return client.post(url, payload, headers=headers)


def _quote(client, version, data, name="rows.csv"):
    return _post(client, reverse("jobs:quote"), version, data, name, **{"HX-Request": "true"})


def _submit(client, version, data, name="rows.csv", key="k-1"):
    return _post(client, reverse("jobs:submit"), version, data, name, key=key)


def _job_of(user, version, data=None, **kwargs) -> InferenceJob:
    return jobs_kit.submit(version, data or _csv(), caller=Caller.of_user(user), **kwargs)


# --- the list and the form ----------------------------------------------------------------------


def test_the_page_needs_a_sign_in(client):
    response = client.get(LIST + "?version=3")

    assert response.status_code == 302
    assert response["Location"] == reverse("siwe_login") + "?next=/account/jobs/%3Fversion%3D3"


def test_an_htmx_request_without_a_sign_in_sends_the_page_to_the_sign_in(client, version):
    response = client.post(
        reverse("jobs:quote"),
        {},
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/account/jobs/"},
    )

    assert response.status_code == 401
    assert response["HX-Redirect"] == reverse("siwe_login") + "?next=/account/jobs/"


def test_the_list_shows_the_callers_jobs_and_not_anothers(
    signed_in, staff, version, make_staff, org_a
):
    # given a finished job of the caller, and one of another member of the same organization
    mine = jobs_kit.run_inline(_job_of(staff, version, _csv(12), name="mine.csv"))
    other = make_staff(org_a, Role.MANAGER)
    theirs = _job_of(other, version, _csv(7), name="theirs-LEAK.csv")

    # when the caller opens the list
    response = signed_in.get(LIST)

    # then their job is there, with its model, version, status, progress and rows
    assert response.status_code == 200
    page = response.content.decode()
    assert reverse("jobs:detail", args=[mine.public_id]) in page
    assert "mine.csv" in page
    assert "Iris species" in page
    assert "Succeeded" in page
    assert "100.0%" in page
    assert "12 / 12" in page
    assert "None: your organization's model" in page
    assert reverse("jobs:detail", args=[theirs.public_id]) not in page
    assert "theirs-LEAK" not in page


def test_the_form_offers_the_runnable_versions_and_preselects_one(signed_in, version, org_b):
    # given another organization's listed model the caller holds no right to
    other = services.model_create(
        organization=org_b, name="Other model", task="classification", listed=True
    )

    by_version = signed_in.get(LIST, {"version": version.pk}).content.decode()
    by_model = signed_in.get(LIST, {"model": f"{org_a_slug(version)}/iris-species"})

    assert re.search(rf'<option value="{version.pk}" selected>Iris species 1.0.0', by_version)
    assert "your organization&#x27;s model" in by_version
    assert re.search(rf'<option value="{version.pk}" selected>', by_model.content.decode())
    assert "Other model" not in by_version
    assert 'name="idempotency_key"' in by_version
    # a fresh key each time the form is rendered
    assert _key(by_version) != _key(signed_in.get(LIST).content.decode())
    # a link to a model the caller may not run says why, and where to get a right
    refused = signed_in.get(LIST, {"model": f"{org_b.slug}/{other.slug}"}).content.decode()
    assert "Other model" in refused
    assert "has no published version" in refused


def org_a_slug(version) -> str:
    return version.model.organization.slug


def _key(page: str) -> str:
    return re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page).group(1)


@pytest.mark.parametrize(
    "query", ["version=99999999999999999999", "version=x", "model=a", "page=-1"]
)
def test_odd_query_strings_show_the_page(signed_in, version, query):
    response = signed_in.get(f"{LIST}?{query}")

    assert response.status_code == 200
    assert "You cannot run" not in response.content.decode()


def test_a_refused_version_names_the_reason(signed_in, version, org_b, upload):
    estimator, _ = _iris()
    other = services.model_create(
        organization=org_b, name="Other model", task="classification", listed=True
    )
    theirs = upload(other, serialize(estimator, "joblib"), filename="m.joblib")
    services.version_publish(version=theirs)

    page = signed_in.get(LIST, {"version": theirs.pk}).content.decode()

    assert "You cannot run <strong>Other model 1.0.0</strong> now" in page
    assert "no_license" in page
    assert reverse("market:detail", args=[org_b.slug, other.slug]) in page


# --- the quote fragment -------------------------------------------------------------------------


def test_a_good_file_is_quoted_with_rows_chunks_and_its_cost(signed_in, version, settings):
    settings.JOB_CHUNK_ROWS = 4

    response = _quote(signed_in, version, _csv(10))

    assert response.status_code == 200
    fragment = response.content.decode()
    assert "<html" not in fragment  # a fragment, swapped into the form
    assert re.search(r'class="quote-rows">10<', fragment)
    assert re.search(r'class="quote-chunks">3<', fragment)
    assert "Free: your organization publishes this model." in fragment
    assert not InferenceJob.objects.exists()  # a quote makes nothing


def test_a_bad_cell_is_quoted_as_an_error_naming_its_row_and_column(signed_in, version):
    frame = _rows(5).copy()
    frame = frame.astype({"petal width (cm)": object})
    frame.loc[2, "petal width (cm)"] = "wide"

    fragment = _quote(signed_in, version, jobs_kit.csv_bytes(frame)).content.decode()

    assert "This job cannot run" in fragment
    assert "Row 3, column &#x27;petal width (cm)&#x27;" in fragment
    assert "not_numeric" in fragment


@pytest.mark.parametrize(
    ("data", "name", "code", "says"),
    [
        (b"a,b\n1,2\n", "rows.csv", "columns_missing", "sepal length (cm)"),
        (b"", "rows.csv", "empty_file", "empty"),
        (b"x", "rows.xlsx", "unknown_file_format", "not a .csv or .parquet"),
        (b"\xff\xfe\x00bad", "rows.csv", "bad_encoding", "UTF-8"),
    ],
)
def test_each_bad_file_is_quoted_with_its_code(signed_in, version, data, name, code, says):
    fragment = _quote(signed_in, version, data, name).content.decode()

    assert code in fragment, fragment
    assert says in fragment


def test_a_file_over_the_upload_limit_is_said_to_be_too_large(signed_in, version, settings):
    settings.FILE_UPLOAD_MAX_BYTES = 100

    fragment = _quote(signed_in, version, _csv(50)).content.decode()

    assert "file_too_large" in fragment


def test_without_a_file_the_quote_asks_for_one(signed_in, version):
    response = signed_in.post(
        reverse("jobs:quote"), {"version": str(version.pk)}, headers={"HX-Request": "true"}
    )

    assert "Choose a file to see what the job costs." in response.content.decode()


# --- submitting ---------------------------------------------------------------------------------


def test_a_submit_makes_one_job_and_redirects_to_it(signed_in, staff, version):
    response = _submit(signed_in, version, _csv(10), key="form-1")

    job = InferenceJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("jobs:detail", args=[job.public_id])
    assert job.owner_key == f"user:{staff.pk}"
    assert job.user == staff
    assert (job.rows_total, job.input_name, job.idempotency_key) == (10, "rows.csv", "form-1")


def test_the_same_idempotency_key_twice_makes_one_job(signed_in, version):
    first = _submit(signed_in, version, _csv(10), key="double-click")
    second = _submit(signed_in, version, _csv(10), key="double-click")

    assert InferenceJob.objects.count() == 1
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]


def test_a_key_sent_again_with_another_file_is_an_error_with_a_fresh_key(signed_in, version):
    _submit(signed_in, version, _csv(10), key="reused")

    response = _submit(signed_in, version, _csv(11), key="reused")

    assert response.status_code == 422
    page = response.content.decode()
    assert "idempotency_key_reused" in page
    assert _key(page) != "reused"
    assert InferenceJob.objects.count() == 1


def test_a_refused_submit_shows_the_form_again_and_makes_nothing(signed_in, version):
    response = _submit(signed_in, version, b"sepal length (cm),x\n1,2\n")

    assert response.status_code == 422
    page = response.content.decode()
    assert 'class="field has-error"' in page
    assert "columns_missing" in page
    assert not InferenceJob.objects.exists()


def test_a_version_not_offered_is_a_form_error(signed_in, version, org_b, upload):
    estimator, _ = _iris()
    other = services.model_create(organization=org_b, name="Other", task="classification")
    theirs = upload(other, serialize(estimator, "joblib"), filename="m.joblib")
    services.version_publish(version=theirs)

    response = _submit(signed_in, theirs, _csv(3))

    assert response.status_code == 422
    assert "Select a valid choice" in response.content.decode()
    assert not InferenceJob.objects.exists()


# --- the job page, its fragment, cancel, download -----------------------------------------------


def test_a_live_job_polls_its_fragment_and_an_ended_one_does_not(signed_in, staff, version):
    job = _job_of(staff, version)

    page = signed_in.get(reverse("jobs:detail", args=[job.public_id])).content.decode()
    fragment = signed_in.get(reverse("jobs:status", args=[job.public_id])).content.decode()

    status_url = reverse("jobs:status", args=[job.public_id])
    for html in (page, fragment):
        assert f'hx-get="{status_url}" hx-trigger="every 1s" hx-swap="outerHTML"' in html
        assert '<progress id="job-progress-bar" max="100" value="0.0">' in html
        assert 'id="job-cancel"' in html
    assert "<html" not in fragment

    jobs_kit.run_inline(job)
    ended = signed_in.get(status_url).content.decode()
    assert "hx-trigger" not in ended
    assert '<progress id="job-progress-bar" max="100" value="100.0">' in ended
    assert "10 of 10" in ended
    assert 'id="job-download"' in ended
    assert 'id="job-cancel"' not in ended


def test_a_failed_job_shows_its_reason_chunk_row_and_column(signed_in, staff, version, settings):
    # given a job whose bad cell is found by a worker (the file is past the inline check)
    settings.JOB_INLINE_CHECK_BYTES = 0
    settings.JOB_CHUNK_ROWS = 4
    frame = _rows(10).copy().astype({"sepal width (cm)": object})
    frame.loc[6, "sepal width (cm)"] = "n/a"
    job = jobs_kit.run_inline(_job_of(staff, version, jobs_kit.csv_bytes(frame)))
    assert job.status == JobStatus.FAILED

    page = signed_in.get(reverse("jobs:detail", args=[job.public_id])).content.decode()

    assert "Why it failed" in page
    assert "<code>not_numeric</code>" in page
    assert "<dt>Chunk</dt><dd>1 (rows 5 to 8)</dd>" in page
    assert "<dt>Row</dt><dd>7 " in page
    assert "<dt>Column</dt><dd><code>sepal width (cm)</code></dd>" in page
    assert "hx-trigger" not in page


def test_cancel_stops_the_job(signed_in, staff, version, settings):
    settings.JOB_CHUNK_ROWS = 4
    job = _job_of(staff, version)

    response = signed_in.post(reverse("jobs:cancel", args=[job.public_id]))

    assert response.status_code == 302
    assert response["Location"] == reverse("jobs:detail", args=[job.public_id])
    job.refresh_from_db()
    assert job.cancelled_at is not None
    assert set(job.chunks.values_list("status", flat=True)) == {ChunkStatus.CANCELLED}
    jobs.job_join(job_id=job.pk, attempt=str(job.join_attempt))  # the join task's work
    page = signed_in.get(response["Location"]).content.decode()
    assert "Cancelled: chunks not started will not start." in page
    assert "The job was cancelled" in page
    assert 'id="job-cancel"' not in page
    # cancelling an ended job says why not
    again = signed_in.post(reverse("jobs:cancel", args=[job.public_id]), follow=True)
    assert "The job is cancelled." in again.content.decode()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_download_streams_the_output(signed_in, staff, version, fmt):
    frame = _rows(12)
    data = jobs_kit.csv_bytes(frame) if fmt == "csv" else jobs_kit.parquet_bytes(frame)
    job = jobs_kit.run_inline(_job_of(staff, version, data, name=f"rows.{fmt}"))

    response = signed_in.get(reverse("jobs:download", args=[job.public_id]))

    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    expected = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}
    assert response["Content-Type"] == expected[fmt]
    name = f"iris-species-1.0.0-{job.public_id.hex[:8]}.{fmt}"
    assert response["Content-Disposition"] == f'attachment; filename="{name}"'
    assert response["X-Content-Type-Options"] == "nosniff"
    out = pd.read_csv(io.BytesIO(content)) if fmt == "csv" else pd.read_parquet(io.BytesIO(content))
    assert list(out["row"]) == list(range(1, 13))
    estimator, _ = _iris()
    assert list(out["prediction"]) == list(estimator.predict(frame.to_numpy()))


def test_download_before_the_output_is_409_and_after_retention_410(
    signed_in, staff, version, settings
):
    job = _job_of(staff, version)
    url = reverse("jobs:download", args=[job.public_id])

    early = signed_in.get(url)
    assert early.status_code == 409
    assert "job_output_not_ready" in early.content.decode()

    jobs_kit.run_inline(job)
    later = timezone.now() + timedelta(days=settings.JOB_RETENTION_DAYS + 1)
    assert jobs.jobs_purge(now=later) == 1

    gone = signed_in.get(url)
    assert gone.status_code == 410
    assert "job_files_expired" in gone.content.decode()
    page = signed_in.get(reverse("jobs:detail", args=[job.public_id])).content.decode()
    assert 'id="job-files-deleted"' in page
    assert 'id="job-download"' not in page


def test_another_callers_job_is_404_everywhere(client, version, make_staff, org_a):
    # given a finished job of one member, and another member of the same organization
    owner = make_staff(org_a, Role.MANAGER)
    job = jobs_kit.run_inline(_job_of(owner, version))
    client.force_login(make_staff(org_a, Role.MANAGER))

    for name in ("detail", "status", "download"):
        assert client.get(reverse(f"jobs:{name}", args=[job.public_id])).status_code == 404, name
    cancel = client.post(reverse("jobs:cancel", args=[job.public_id]))
    assert cancel.status_code == 404
    live = _job_of(owner, version)
    assert client.post(reverse("jobs:cancel", args=[live.public_id])).status_code == 404
    live.refresh_from_db()
    assert live.status == JobStatus.QUEUED


# --- the links to the pages ---------------------------------------------------------------------


def test_the_market_page_links_to_a_job_on_its_newest_version(client, version):
    model = version.model
    page = client.get(reverse("market:detail", args=[model.organization.slug, model.slug]))

    assert f'href="{LIST}?version={version.pk}#new-job"' in page.content.decode()


def test_my_account_links_to_the_jobs(client, django_user_model):
    client.force_login(django_user_model.objects.create_user(username="customer"))

    page = client.get("/account/")

    assert page.status_code == 200
    assert f'<a href="{LIST}">Batch jobs</a>' in page.content.decode()
