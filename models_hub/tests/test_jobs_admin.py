"""The jobs' admin, as an organization's staff use it: a read-only changelist with each job's
status and progress (in a number of queries that does not grow with the page), a job's page
with its chunks and a failed job's reason and no link to the customer's files, the cancel
action for managers and owners, and the live badges' endpoints. (Org B's rows never reaching
org A's staff: ``portal/tests/test_tenant_matrix.py``.)"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from licensing.entitlement import Caller
from models_hub.choices import ChunkStatus, JobStatus
from models_hub.jobs import services as jobs
from models_hub.models import InferenceJob
from models_hub.tests import factories, jobs_kit
from portal.choices import ApiScope, Role
from portal.services import api_key_create

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:models_hub_inferencejob_changelist")


def change_url(job: InferenceJob) -> str:
    return reverse("admin:models_hub_inferencejob_change", args=[job.pk])


@pytest.fixture(autouse=True)
def small_chunks(settings):
    settings.JOB_CHUNK_ROWS = 10
    settings.JOB_BATCH_ROWS = 5


@pytest.fixture
def version(org_a):
    return factories.published_version(org_a, "Iris batch")


def rows_csv(count: int = 30, *, bad_row: int | None = None) -> bytes:
    return jobs_kit.iris_csv(count, bad_row=bad_row, bad_column=3)


@dataclass
class Jobs:
    succeeded: InferenceJob
    failed: InferenceJob
    running: InferenceJob
    key_name: str
    staff_email: str


def running_job(version, **kwargs) -> InferenceJob:
    """Chunk 0 done, chunk 1 on worker-2 one batch in (5 of its 10 rows), chunk 2 pending."""
    job = jobs_kit.submit(version, rows_csv(), **kwargs)
    first, second = job.chunks.order_by("index")[:2]
    assert jobs.chunk_run(chunk_id=first.pk, worker="worker-1") == ChunkStatus.DONE
    attempt = jobs._claim(second.pk, "worker-2")
    assert jobs._heartbeat(job.pk, second.pk, attempt, 5)  # what a worker does after a batch
    job.refresh_from_db()
    return job


@pytest.fixture
def three(version, org_a, make_staff, settings) -> Jobs:
    """A succeeded job (the org's API key), a failed one (a bad cell in row 25, found by its
    chunk) and a running one (a staff member, signed in)."""
    staff = make_staff(org_a, Role.MANAGER)
    key = api_key_create(
        organization=org_a, owner=staff, name="nightly batch", scopes=[ApiScope.PREDICT]
    ).api_key
    by_key = {"caller": Caller.of_api_key(key), "api_key": key, "user": staff}
    succeeded = jobs_kit.run_inline(jobs_kit.submit(version, rows_csv(), **by_key))
    settings.JOB_INLINE_CHECK_BYTES = 0
    failed = jobs_kit.run_inline(jobs_kit.submit(version, rows_csv(bad_row=25)))
    running = running_job(version, user=staff)
    assert (succeeded.status, failed.status, running.status) == (
        JobStatus.SUCCEEDED,
        JobStatus.FAILED,
        JobStatus.RUNNING,
    )
    return Jobs(succeeded, failed, running, key.name, staff.email)


def cells(body: str, job: InferenceJob) -> str:
    """The text of the job's row on the changelist."""
    short = job.public_id.hex[:8]
    rows = re.findall(r"<tr>.*?</tr>", body, flags=re.S)
    row = next(row for row in rows if f">{short}</code>" in row)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row))


def test_the_changelist_shows_each_jobs_status_progress_and_customer(client, make_staff, three):
    client.force_login(make_staff(three.running.version.model.organization, Role.VIEWER))

    response = client.get(CHANGELIST)

    assert response.status_code == 200
    body = response.content.decode()
    succeeded = cells(body, three.succeeded)
    assert "Iris batch 1.0.0" in succeeded
    assert "1.0.0" in succeeded
    assert f"API key “{three.key_name}”" in succeeded
    assert "Succeeded" in succeeded
    assert "100% · 30 / 30 rows" in succeeded
    assert "free" in succeeded
    failed = cells(body, three.failed)
    assert "Failed" in failed
    assert "66.7% · 20 / 30 rows" in failed
    running = cells(body, three.running)
    assert "Running" in running
    assert "50% · 15 / 30 rows" in running
    assert "rows/s" in running
    assert "ETA" in running
    assert three.staff_email in running.replace(" ", "")
    # only the running job's badges ask for updates
    assert body.count("data-status-url") == 2
    assert f'data-badge-id="{three.running.pk}"' in body
    assert reverse("admin:models_hub_inferencejob_progress") in body


def test_the_changelist_reads_a_page_in_a_fixed_number_of_queries(
    client, make_staff, version, three
):
    client.force_login(make_staff(version.model.organization, Role.VIEWER))
    client.get(CHANGELIST)  # the session and the sign-in's own first queries

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(CHANGELIST).status_code == 200
        return len(captured)

    few = queries()
    for _ in range(3):  # three more running jobs, three more ended ones
        running_job(version)
        jobs_kit.run_inline(jobs_kit.submit(version, rows_csv(10)))
    assert InferenceJob.objects.count() == 9
    assert queries() == few


def test_search_and_filters(client, make_staff, org_a, version, three):
    other = factories.published_version(org_a, "Second model")
    elsewhere = jobs_kit.submit(other, rows_csv(10))
    client.force_login(make_staff(org_a, Role.VIEWER))

    def listed(**query) -> set[int]:
        response = client.get(CHANGELIST, query)
        assert response.status_code == 200
        return {job.pk for job in response.context["cl"].result_list}

    assert listed(q=three.failed.public_id.hex[:8]) == {three.failed.pk}
    assert listed(q=str(three.running.public_id)) == {three.running.pk}
    assert listed(q="second") == {elsewhere.pk}
    assert listed(status="failed") == {three.failed.pk}
    assert listed(model=other.model_id) == {elsewhere.pk}
    assert len(listed()) == 4


def test_a_failed_jobs_page_shows_its_reason(client, make_staff, three):
    client.force_login(make_staff(three.failed.version.model.organization, Role.VIEWER))

    response = client.get(change_url(three.failed))

    assert response.status_code == 200
    text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode())))
    assert "Why it failed" in text
    assert "not_numeric" in text
    assert three.failed.error_message
    assert three.failed.error_message in text
    assert f"chunk 2, row 25, column “{three.failed.error_column}”" in text
    assert three.failed.error_column == "petal width (cm)"


def test_a_running_jobs_page_shows_its_chunks(client, make_staff, three):
    client.force_login(make_staff(three.running.version.model.organization, Role.VIEWER))

    response = client.get(change_url(three.running))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Why it failed" not in body
    formset = response.context["inline_admin_formsets"][0].formset
    chunks = [form.instance for form in formset.forms]
    assert [(c.index, c.status, c.worker, c.rows_done) for c in chunks] == [
        (0, ChunkStatus.DONE, "worker-1", 10),
        (1, ChunkStatus.RUNNING, "worker-2", 5),
        (2, ChunkStatus.PENDING, "", 0),
    ]
    assert 'class="chunk-badge status-running"' in body
    assert "data-reload-when-settled" in body  # the page reloads to show how it ended


@pytest.mark.parametrize("which", ["succeeded", "failed", "running"])
def test_no_page_links_to_the_customers_files(client, make_staff, three, which):
    job = getattr(three, which)
    client.force_login(make_staff(job.version.model.organization, Role.OWNER))

    for url in (CHANGELIST, change_url(job)):
        body = client.get(url).content.decode()

        assert "/private-media/" not in body
        assert job.folder not in body
        assert job.input_file.name not in body
        if job.output_file:
            assert job.output_file.name not in body
        assert "download" not in body.lower()


def test_nobody_adds_changes_or_deletes_a_job_here(client, make_staff, three):
    job = three.succeeded
    organization = job.version.model.organization
    for user in (make_staff(organization, Role.OWNER), make_staff(superuser=True)):
        client.force_login(user)
        page = client.get(change_url(job))
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()

        assert client.get(reverse("admin:models_hub_inferencejob_add")).status_code == 403
        assert client.post(change_url(job), {"status": "cancelled"}).status_code == 403
        delete = reverse("admin:models_hub_inferencejob_delete", args=[job.pk])
        assert client.post(delete, {"post": "yes"}).status_code == 403
        job.refresh_from_db()
        assert job.status == JobStatus.SUCCEEDED


def cancel(client, *selected: InferenceJob):
    return client.post(
        CHANGELIST,
        {"action": "cancel_jobs", ACTION_CHECKBOX_NAME: [job.pk for job in selected]},
        follow=True,
    )


@pytest.mark.parametrize("role", [Role.MANAGER, Role.OWNER])
def test_a_manager_cancels_live_jobs_and_an_ended_one_is_a_message(
    client, make_staff, version, three, role
):
    queued = jobs_kit.submit(version, rows_csv(20))
    client.force_login(make_staff(version.model.organization, role))

    response = cancel(client, three.running, queued, three.succeeded, three.failed)

    assert response.status_code == 200
    messages = [str(message) for message in response.context["messages"]]
    assert messages[0].startswith("Cancelled 2 job(s)")
    short = three.succeeded.public_id.hex[:8], three.failed.public_id.hex[:8]
    assert any(
        message.startswith("2 job(s) had ended and were not cancelled")
        and all(part in message for part in short)
        for message in messages
    ), messages
    three.running.refresh_from_db()
    assert three.running.status == JobStatus.CANCELLING  # its running chunk stops at its batch
    assert three.running.chunks.get(index=2).status == ChunkStatus.CANCELLED
    queued.refresh_from_db()
    assert queued.status == JobStatus.JOINING  # nothing ran: the join settles it
    assert queued.cancelled_at is not None

    again = cancel(client, three.running)
    assert [str(m) for m in again.context["messages"]] == ["1 job(s) were being cancelled already."]


def test_a_viewer_is_not_offered_the_cancel_action(client, make_staff, three):
    client.force_login(make_staff(three.running.version.model.organization, Role.VIEWER))

    page = client.get(CHANGELIST)
    assert "cancel_jobs" not in page.content.decode()
    response = cancel(client, three.running)

    assert response.status_code == 200
    three.running.refresh_from_db()
    assert three.running.status == JobStatus.RUNNING


def test_the_live_endpoints_answer_for_own_jobs_only(client, make_staff, org_b, three):
    theirs = jobs_kit.submit(factories.published_version(org_b, "Their model"), rows_csv(10))
    client.force_login(make_staff(three.running.version.model.organization, Role.VIEWER))
    asked = {"id": [three.running.pk, three.succeeded.pk, theirs.pk]}

    status = client.get(reverse("admin:models_hub_inferencejob_status"), asked).json()
    progress = client.get(reverse("admin:models_hub_inferencejob_progress"), asked).json()

    running, succeeded = str(three.running.pk), str(three.succeeded.pk)
    assert set(status["badges"]) == set(progress["badges"]) == {running, succeeded}
    assert status["badges"][running] == {
        "status": "running",
        "label": "Running",
        "live": True,
        "reason": "",
    }
    assert status["badges"][succeeded]["live"] is False
    assert progress["badges"][running]["label"] == "50% · 15 / 30 rows"
    assert progress["badges"][running]["reason"].startswith(tuple("0123456789"))
    assert "ETA" in progress["badges"][running]["reason"]
    assert progress["badges"][succeeded]["label"] == "100% · 30 / 30 rows"

    client.force_login(make_staff(org_b, Role.OWNER))
    assert client.get(reverse("admin:models_hub_inferencejob_status"), asked).json() == {
        "badges": {
            str(theirs.pk): {"status": "queued", "label": "Queued", "live": True, "reason": ""}
        }
    }
