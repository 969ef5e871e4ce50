"""The batch-job API: quote, submit (a file or JSON rows), idempotency, the caller's list, the
progress a client polls, cancel, the output's download, auth, and another caller's job is 404.

The model's own organization submits here (its key uses its model free); metered callers are in
``licensing/tests/test_jobs_metered.py`` and every bad input in ``test_jobs_inputs.py``. Chunk
tasks are queued on commit, which a test's transaction never reaches: each job is run in this
process (``jobs_kit.run_inline``).
"""

from __future__ import annotations

import io
import json
from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from models_hub import services
from models_hub.demo_models import serialize, train
from models_hub.jobs import services as jobs
from models_hub.models import InferenceJob
from models_hub.tests import jobs_kit
from portal.choices import ApiScope, Role
from portal.services import api_key_create, customer_api_key_create

pytestmark = pytest.mark.django_db

_trained: dict = {}


def _cancer():
    if "cancer" not in _trained:
        _trained["cancer"] = train("breast-cancer")
    return _trained["cancer"]


@pytest.fixture
def version(classifier, upload):
    """A published breast-cancer classifier of org A (listed)."""
    estimator, _ = _cancer()
    row = upload(classifier, serialize(estimator, "joblib"), filename="m.joblib")
    services.version_publish(version=row)
    return row


@pytest.fixture
def base(version):
    model = version.model
    return f"/api/models/{model.organization.slug}/{model.slug}/versions/{version.version}"


@pytest.fixture
def key(make_staff):
    def make(organization, *scopes):
        owner = make_staff(organization, Role.MANAGER)
        issued = api_key_create(
            organization=organization,
            owner=owner,
            name="jobs",
            scopes=[str(s) for s in scopes or [ApiScope.PREDICT]],
        )
        return {"Authorization": f"Bearer {issued.raw_key}"}

    return make


@pytest.fixture
def own(key, org_a):
    """The publisher's key (org A's, with `predict`): nothing is charged."""
    return key(org_a)


@pytest.fixture
def other(key, org_b):
    """Another organization's key with `predict`."""
    return key(org_b)


def _frame(n: int = 30) -> pd.DataFrame:
    return _cancer()[1].head(n)


def _post_file(client, url, data: bytes, name="rows.csv", headers=None):
    upload = io.BytesIO(data)
    upload.name = name
    return client.post(url, {"file": upload}, headers=headers or {})


def _post_rows(client, url, rows, headers=None):
    body = json.dumps({"rows": rows})
    return client.post(url, body, content_type="application/json", headers=headers or {})


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    return body


def _job(body) -> InferenceJob:
    return InferenceJob.objects.get(public_id=body["id"])


# --- quote ------------------------------------------------------------------------------------
def test_a_quote_counts_rows_and_chunks_and_reserves_nothing(client, base, own, settings):
    settings.JOB_CHUNK_ROWS = 8

    response = _post_file(client, f"{base}/jobs/quote", jobs_kit.csv_bytes(_frame(30)), headers=own)

    assert response.status_code == 200, response.content
    assert response.json() == {
        "rows": 30,
        "chunks": 4,
        "units": 0,
        "unit": "row",
        "right": "publisher",
        "credits_needed": 0,
        "credits_available": None,
        "enough": True,
    }
    assert not InferenceJob.objects.exists()


def test_a_quote_of_json_rows(client, base, own):
    response = _post_rows(client, f"{base}/jobs/quote", _frame(3).to_numpy().tolist(), own)

    assert response.status_code == 200, response.content
    assert response.json()["rows"] == 3


# --- submit, poll, download -------------------------------------------------------------------
def test_a_csv_job_is_submitted_polled_and_downloaded(client, base, own, version, settings):
    # given a CSV of 30 rows with an id column, in chunks of 8
    settings.JOB_CHUNK_ROWS = 8
    frame = _frame(30)
    data = jobs_kit.csv_bytes(frame.assign(id=[f"r{i}" for i in range(30)]))

    # when it is submitted
    submitted = _post_file(client, f"{base}/jobs", data, headers=own)

    # then it is queued with its chunks, and polling it says so
    assert submitted.status_code == 202, submitted.content
    body = submitted.json()
    job = _job(body)
    assert body["model"] == f"alpha/{version.model.slug}"
    assert (body["version"], body["status"], body["right"]) == ("1.0.0", "queued", "publisher")
    assert (body["input_format"], body["output_format"]) == ("csv", "csv")
    assert (body["rows_total"], body["chunks_total"]) == (30, 4)
    assert (body["units_quoted"], body["units_charged"]) == (0, 0)
    assert body["error"] is None
    assert body["progress"] == {
        "percent": 0.0,
        "rows_done": 0,
        "rows_total": 30,
        "rows_per_second": None,
        "eta_seconds": None,
    }
    links = body["links"]
    assert submitted["Location"] == links["self"]
    assert links == {
        "self": f"/api/jobs/{job.public_id}",
        "output": None,
        "cancel": f"/api/jobs/{job.public_id}/cancel",
    }
    assert _error(client.get(f"{links['self']}/output", headers=own), 409, "job_output_not_ready")

    # when it runs, polling shows it done, with its output's link
    jobs_kit.run_inline(job)
    polled = client.get(links["self"], headers=own)

    assert polled.status_code == 200, polled.content
    done = polled.json()
    assert done["status"] == "succeeded"
    assert done["progress"]["percent"] == 100.0
    assert done["progress"]["rows_done"] == 30
    assert done["finished_at"] is not None
    assert done["links"]["output"] == f"/api/jobs/{job.public_id}/output"
    assert done["links"]["cancel"] is None

    # and the output is the estimator's answer, as an attachment
    download = client.get(done["links"]["output"], headers=own)
    assert download.status_code == 200
    assert download["Content-Type"] == "text/csv"
    assert download["Content-Disposition"].startswith("attachment; filename=")
    out = pd.read_csv(io.BytesIO(b"".join(download.streaming_content)))
    assert list(out.columns[:3]) == ["row", "id", "prediction"]
    assert list(out["id"]) == [f"r{i}" for i in range(30)]
    estimator, _ = _cancer()
    expected = jobs_kit.batched(estimator.predict, frame.to_numpy(), 8)
    assert np.array_equal(out["prediction"].to_numpy(), expected)


def test_a_parquet_job_answers_a_parquet_output(client, base, own):
    data = jobs_kit.parquet_bytes(_frame(12))

    submitted = _post_file(client, f"{base}/jobs", data, "rows.parquet", own)
    assert submitted.status_code == 202, submitted.content
    jobs_kit.run_inline(_job(submitted.json()))
    download = client.get(f"/api/jobs/{submitted.json()['id']}/output", headers=own)

    assert submitted.json()["output_format"] == "parquet"
    assert download.status_code == 200
    assert download["Content-Type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(b"".join(download.streaming_content)))
    assert table.num_rows == 12
    assert table.column_names[:2] == ["row", "prediction"]


@pytest.mark.parametrize("shape", ["arrays", "objects"])
def test_json_rows_make_a_csv_job(client, base, own, shape):
    frame = _frame(5)
    rows = frame.to_numpy().tolist() if shape == "arrays" else frame.to_dict(orient="records")

    submitted = _post_rows(client, f"{base}/jobs", rows, own)

    assert submitted.status_code == 202, submitted.content
    body = submitted.json()
    assert (body["input_format"], body["output_format"], body["rows_total"]) == ("json", "csv", 5)
    job = jobs_kit.run_inline(_job(body))
    assert job.status == "succeeded"
    estimator, _ = _cancer()
    out = jobs_kit.output_frame(job)
    assert list(out["prediction"]) == estimator.predict(frame.to_numpy()).tolist()


def test_a_failed_job_says_which_chunk_row_and_column(client, base, own, settings):
    # given a file too large to check every cell at submission, with a bad cell in row 11
    settings.JOB_INLINE_CHECK_BYTES = 0
    settings.JOB_CHUNK_ROWS = 8
    frame = _frame(20).copy()
    frame = frame.astype({"mean area": object})
    frame.loc[frame.index[10], "mean area"] = "n/a"

    submitted = _post_file(client, f"{base}/jobs", jobs_kit.csv_bytes(frame), headers=own)
    assert submitted.status_code == 202, submitted.content
    jobs_kit.run_inline(_job(submitted.json()))
    body = client.get(f"/api/jobs/{submitted.json()['id']}", headers=own).json()

    assert body["status"] == "failed"
    error = body["error"]
    assert (error["code"], error["chunk"], error["row"]) == ("not_numeric", 1, 11)
    assert error["column"] == "mean area"
    assert "'n/a'" in error["message"]
    assert body["units_charged"] == 0
    assert body["links"]["output"] is None


# --- idempotency ------------------------------------------------------------------------------
def test_an_idempotency_key_answers_the_same_job(client, base, own):
    data = jobs_kit.csv_bytes(_frame(10))
    headers = {**own, "Idempotency-Key": "batch-7"}

    first = _post_file(client, f"{base}/jobs", data, headers=headers)
    again = _post_file(client, f"{base}/jobs", data, headers=headers)
    other = _post_file(client, f"{base}/jobs", jobs_kit.csv_bytes(_frame(11)), headers=headers)

    assert first.status_code == 202, first.content
    assert "Idempotent-Replayed" not in first
    assert again.status_code == 200, again.content
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    _error(other, 409, "idempotency_key_reused")
    assert InferenceJob.objects.count() == 1


def test_an_idempotency_key_is_1_to_255_characters(client, base, own):
    data = jobs_kit.csv_bytes(_frame(3))

    longest = _post_file(
        client, f"{base}/jobs", data, headers={**own, "Idempotency-Key": "k" * 255}
    )
    too_long = _post_file(
        client, f"{base}/jobs", data, headers={**own, "Idempotency-Key": "k" * 256}
    )

    assert longest.status_code == 202, longest.content
    body = _error(too_long, 422, "validation_error")
    assert body["details"][0]["field"] == "Idempotency-Key"
    assert InferenceJob.objects.count() == 1


# --- the caller's jobs ------------------------------------------------------------------------
def test_the_list_holds_the_callers_own_jobs_newest_first(client, base, own, other, key, org_a):
    data = jobs_kit.csv_bytes(_frame(4))
    first = _post_file(client, f"{base}/jobs", data, headers=own).json()
    second = _post_rows(client, f"{base}/jobs", _frame(2).to_numpy().tolist(), own).json()

    mine = client.get("/api/jobs", headers=own)
    theirs = client.get("/api/jobs", headers=other)
    colleague = client.get("/api/jobs", headers=key(org_a))  # another key of org A
    paged = client.get("/api/jobs?page=2&page_size=1", headers=own)

    assert mine.status_code == 200, mine.content
    assert mine.json()["count"] == 2
    assert [item["id"] for item in mine.json()["items"]] == [second["id"], first["id"]]
    assert theirs.json() == {"items": [], "count": 0}
    assert colleague.json()["count"] == 2  # an organization's jobs are its keys' jobs
    assert [item["id"] for item in paged.json()["items"]] == [first["id"]]


def test_another_callers_job_is_not_found(client, base, own, other):
    body = _post_file(client, f"{base}/jobs", jobs_kit.csv_bytes(_frame(4)), headers=own).json()
    path = f"/api/jobs/{body['id']}"

    _error(client.get(path, headers=other), 404, "job_not_found")
    _error(client.post(f"{path}/cancel", headers=other), 404, "job_not_found")
    _error(client.get(f"{path}/output", headers=other), 404, "job_not_found")
    _error(client.get("/api/jobs/not-a-uuid", headers=own), 404, "job_not_found")
    _error(client.get(f"/api/jobs/{'0' * 32}", headers=own), 404, "job_not_found")
    assert _job(body).status == "queued"  # the other caller's cancel did nothing


# --- cancel -----------------------------------------------------------------------------------
def test_a_cancelled_job_ends_cancelled_and_cannot_be_cancelled_again(client, base, own, settings):
    settings.JOB_CHUNK_ROWS = 4
    body = _post_file(client, f"{base}/jobs", jobs_kit.csv_bytes(_frame(12)), headers=own).json()
    job = _job(body)
    first_chunk = job.chunks.get(index=0)
    jobs.chunk_run(chunk_id=first_chunk.pk, worker="inline")

    cancelled = client.post(body["links"]["cancel"], headers=own)

    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["status"] == "joining"  # the rows done are being joined
    assert cancelled.json()["links"]["cancel"] is None
    assert client.post(body["links"]["cancel"], headers=own).status_code == 200  # still ending
    jobs_kit.run_inline(job)
    ended = client.get(body["links"]["self"], headers=own).json()
    assert ended["status"] == "cancelled"
    assert ended["progress"]["rows_done"] == 4
    _error(client.post(body["links"]["cancel"], headers=own), 409, "job_not_cancellable")
    download = client.get(ended["links"]["output"], headers=own)
    out = pd.read_csv(io.BytesIO(b"".join(download.streaming_content)))
    assert list(out["row"]) == [1, 2, 3, 4]


# --- retention --------------------------------------------------------------------------------
def test_an_output_past_retention_is_gone(client, base, own, settings):
    body = _post_file(client, f"{base}/jobs", jobs_kit.csv_bytes(_frame(4)), headers=own).json()
    jobs_kit.run_inline(_job(body))

    purged = jobs.jobs_purge(now=timezone.now() + timedelta(days=settings.JOB_RETENTION_DAYS + 1))

    assert purged == 1
    _error(client.get(f"/api/jobs/{body['id']}/output", headers=own), 410, "job_files_expired")
    assert client.get(f"/api/jobs/{body['id']}", headers=own).json()["links"]["output"] is None


# --- addressing -------------------------------------------------------------------------------
def test_an_unknown_model_or_version_is_404(client, own, version):
    data = jobs_kit.csv_bytes(_frame(3))
    slug = version.model.slug
    no_version = f"/api/models/alpha/{slug}/versions/9.9.9/jobs"
    no_model = f"/api/models/alpha/{slug}-x/versions/1.0.0/jobs"

    _error(_post_file(client, no_version, data, headers=own), 404, "version_not_found")
    _error(_post_file(client, no_model, data, headers=own), 404, "model_not_found")
    assert not InferenceJob.objects.exists()


def test_a_draft_is_invisible_to_other_organizations(client, version, upload, other):
    estimator, _ = _cancer()
    upload(version.model, serialize(estimator, "joblib"), version="1.1.0", filename="m.joblib")
    url = f"/api/models/alpha/{version.model.slug}/versions/1.1.0/jobs"
    data = jobs_kit.csv_bytes(_frame(3))

    _error(_post_file(client, url, data, headers=other), 404, "version_not_found")
    assert not InferenceJob.objects.exists()


# --- auth -------------------------------------------------------------------------------------
def test_no_key_is_401_and_a_key_without_predict_is_403(client, base, key, org_a):
    data = jobs_kit.csv_bytes(_frame(3))

    _error(_post_file(client, f"{base}/jobs", data), 401, "unauthenticated")
    _error(client.get("/api/jobs"), 401, "unauthenticated")
    reader = key(org_a, ApiScope.MODELS_READ)
    _error(_post_file(client, f"{base}/jobs", data, headers=reader), 403, "insufficient_scope")
    _error(client.get("/api/jobs", headers=reader), 403, "insufficient_scope")
    assert not InferenceJob.objects.exists()


def test_another_organizations_key_needs_a_right(client, base, other):
    response = _post_file(client, f"{base}/jobs", jobs_kit.csv_bytes(_frame(3)), headers=other)

    _error(response, 403, "no_license")
    assert not InferenceJob.objects.exists()


def test_a_signed_in_session_submits_with_its_csrf_token(base, make_staff, org_a):
    staff = make_staff(org_a, Role.MANAGER)  # staff of the model's organization: the publisher
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(staff)
    browser.get("/account/keys/")  # any page that sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    data = jobs_kit.csv_bytes(_frame(3))

    refused = _post_file(browser, f"{base}/jobs", data)
    submitted = _post_file(browser, f"{base}/jobs", data, headers={"X-CSRFToken": token})

    _error(refused, 403, "forbidden")
    assert submitted.status_code == 202, submitted.content
    job = _job(submitted.json())
    assert (job.owner_key, job.user) == (f"user:{staff.pk}", staff)
    assert browser.get("/api/jobs").json()["count"] == 1
    assert browser.get(submitted.json()["links"]["self"]).status_code == 200


def test_a_customers_key_owns_its_jobs_as_the_customer(client, base, version):
    # a customer's key acts for the customer: without a right the submission is refused, and
    # the customer's list is theirs alone
    user = get_user_model().objects.create_user(username="jobs-customer")
    SocialAccount.objects.create(user=user, provider="siwe", uid=f"0x{9:040x}")
    issued = customer_api_key_create(owner=user, name="mine")
    headers = {"Authorization": f"Bearer {issued.raw_key}"}

    _error(
        _post_file(client, f"{base}/jobs", jobs_kit.csv_bytes(_frame(3)), headers=headers),
        403,
        "no_license",
    )
    assert client.get("/api/jobs", headers=headers).json() == {"items": [], "count": 0}


# --- the document -----------------------------------------------------------------------------
def _answer_schema(document: dict, path: str, method: str, status: int) -> dict:
    """The documented JSON schema of one answer, with the document's components beside it."""
    answer = document["paths"][path][method]["responses"][str(status)]
    schema = answer["content"]["application/json"]["schema"]
    return {**schema, "components": document["components"]}


def test_the_answers_are_the_documented_ones(client, base, own, settings):
    """Schemathesis (portal/tests/test_api_schemathesis.py) reaches the jobs' 4xx answers; the
    200 and 202 bodies of every state are checked against the document here."""
    import jsonschema_rs  # schemathesis' own validator

    settings.JOB_CHUNK_ROWS = 8
    document = client.get("/api/openapi.json").json()
    submit = "/api/models/{org}/{slug}/versions/{version}/jobs"

    def conforms(response, path: str, method: str = "get", status: int = 200) -> None:
        assert response.status_code == status, response.content
        validator = jsonschema_rs.Draft202012Validator(
            _answer_schema(document, path, method, status)
        )
        errors = [error.message for error in validator.iter_errors(response.json())]
        assert not errors, errors

    data = jobs_kit.csv_bytes(_frame(20))
    conforms(_post_file(client, f"{base}/jobs/quote", data, headers=own), f"{submit}/quote", "post")
    submitted = _post_file(client, f"{base}/jobs", data, headers={**own, "Idempotency-Key": "d"})
    conforms(submitted, submit, "post", 202)
    replayed = _post_file(client, f"{base}/jobs", data, headers={**own, "Idempotency-Key": "d"})
    conforms(replayed, submit, "post", 200)
    job = _job(submitted.json())
    jobs.chunk_run(chunk_id=job.chunks.get(index=0).pk, worker="inline")
    detail = "/api/jobs/{job_id}"
    conforms(client.get(f"/api/jobs/{job.public_id}", headers=own), detail)  # running
    conforms(
        client.post(f"/api/jobs/{job.public_id}/cancel", headers=own), f"{detail}/cancel", "post"
    )
    jobs_kit.run_inline(job)
    conforms(client.get(f"/api/jobs/{job.public_id}", headers=own), detail)  # cancelled
    conforms(client.get("/api/jobs", headers=own), "/api/jobs")
    output = document["paths"][f"{detail}/output"]["get"]["responses"]["200"]["content"]
    assert set(output) == {"text/csv", "application/vnd.apache.parquet"}
    body = document["paths"][submit]["post"]["requestBody"]["content"]
    assert body["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"
    assert body["multipart/form-data"]["schema"]["required"] == ["file"]
    assert body["application/json"]["schema"]["required"] == ["rows"]
