"""The batch-job API: quote and submit a job on a version, list, poll, cancel, download.

``POST /api/models/{org}/{slug}/versions/{version}/jobs/quote`` and ``.../jobs`` take a
multipart body with a ``file`` field (a ``.csv`` or ``.parquet`` file) or a JSON body
``{"rows": [...]}`` (the predict API's row shapes; JSON rows give a CSV output). The version is
resolved like the predict endpoints resolve it; the input and the caller's right are checked by
``models_hub.jobs.services`` before anything is reserved, and every refusal is a 4xx with a
stable code. ``GET /api/jobs`` lists the caller's jobs, ``GET /api/jobs/{id}`` is what a client
polls, ``POST /api/jobs/{id}/cancel`` cancels and ``GET /api/jobs/{id}/output`` streams the
output. Another caller's job is ``job_not_found`` (404, never 403).

Auth is the predict API's: an API key with ``predict``, or a signed-in session (CSRF checked).
The endpoints parse, call one service and render; the request body is read here (not bound by
ninja) because one operation takes either of two media types.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from django.conf import settings
from django.http import FileResponse, HttpResponse
from django.urls import reverse
from ninja import Field, Header, Path, Router, Schema, Status
from ninja.pagination import paginate

from models_hub import metering, predict, selectors
from models_hub.api import ModelSlug, OrgSlug, VersionLabel, _model_or_404, _own_org_id
from models_hub.choices import JobFormat, JobStatus
from models_hub.errors import JobErrorCode, ModelsErrorCode
from models_hub.jobs import services as jobs
from models_hub.jobs.services import RUNNABLE, JobSource
from models_hub.models import InferenceJob, ModelVersion
from models_hub.predict_api import IDEMPOTENCY_KEY_MAX, SignedInSession, rows_body_schema
from portal.api_errors import errors
from portal.auth import ApiKeyAuth
from portal.choices import ApiScope
from portal.errors import DomainError, PortalErrorCode, detail
from portal.pagination import BoundedPageNumberPagination
from portal.uploads import oversized_uploads

# an API key with `predict`, or a signed-in session (CSRF); never an agent's x402 payment
JOB_AUTH = [ApiKeyAuth(ApiScope.PREDICT), SignedInSession()]
router = Router(tags=["jobs"])

RightKind = Literal["publisher", "license", "pass", "credits"]  # licensing.entitlement's kinds
OutputFormat = Literal["csv", "parquet"]

FILE_FIELD = "file"
MULTIPART = "multipart/form-data"

JobId = Annotated[
    str,
    Path(
        example="0b5e4f3c-7a8d-4d2b-9a51-3f0c2f1d8e6a",
        description="The job's id (a UUID, as the job's `id` says).",
    ),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=IDEMPOTENCY_KEY_MAX,
        description="A retry with the same key and the same input answers the job the first "
        "request made (200, `Idempotent-Replayed: true`), reserved once; the same key with "
        "another input is 409 `idempotency_key_reused` (up to 255 characters).",
    ),
]


# --- schemas ----------------------------------------------------------------------------------
class QuoteOut(Schema):
    """What a job on this input would cost; nothing is reserved."""

    rows: int
    chunks: int
    units: int = Field(description="Units of use the job is receipted for.")
    unit: Literal["row", "call"] = Field(
        description="What a unit is: a row, or a call of up to `PREDICT_MAX_ROWS` rows."
    )
    right: RightKind = Field(description="What it runs under.")
    credits_needed: int = Field(description="Credits the job reserves (0 under a license).")
    credits_available: int | None = Field(description="A credits right's balance; else null.")
    enough: bool


class ProgressOut(Schema):
    percent: float
    rows_done: int
    rows_total: int
    rows_per_second: float | None
    eta_seconds: int | None


class JobErrorOut(Schema):
    """Why a job failed: which chunk, which 1-based data row, which column."""

    code: str
    message: str
    chunk: int | None
    row: int | None
    column: str | None


class JobLinksOut(Schema):
    self: str
    output: str | None = Field(description="The output's download, once there is one.")
    cancel: str | None = Field(description="Where to cancel it, while it can be cancelled.")


class JobOut(Schema):
    id: uuid.UUID
    model: str = Field(description="The model's address: `org/slug`.")
    version: str
    status: JobStatus
    input_format: JobFormat
    output_format: OutputFormat
    rows_total: int
    chunks_total: int
    units_quoted: int
    units_charged: int
    right: RightKind = Field(description="What it runs under (its credits are charged).")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: ProgressOut
    error: JobErrorOut | None
    links: JobLinksOut

    @staticmethod
    def resolve_id(job: InferenceJob) -> uuid.UUID:
        return job.public_id

    @staticmethod
    def resolve_model(job: InferenceJob) -> str:
        model = job.version.model
        return f"{model.organization.slug}/{model.slug}"

    @staticmethod
    def resolve_version(job: InferenceJob) -> str:
        return job.version.version

    @staticmethod
    def resolve_right(job: InferenceJob) -> str:
        return job.right_kind

    @staticmethod
    def resolve_progress(job: InferenceJob) -> dict:
        return jobs.job_progress(job).as_dict()

    @staticmethod
    def resolve_error(job: InferenceJob) -> dict | None:
        if not job.error_code:
            return None
        return {
            "code": job.error_code,
            "message": job.error_message,
            "chunk": job.error_chunk,
            "row": job.error_row,
            "column": job.error_column or None,
        }

    @staticmethod
    def resolve_links(job: InferenceJob) -> dict:
        kwargs = {"job_id": str(job.public_id)}
        has_output = bool(job.output_file) and job.files_deleted_at is None
        return {
            "self": reverse("api:job_detail", kwargs=kwargs),
            "output": reverse("api:job_output", kwargs=kwargs) if has_output else None,
            "cancel": reverse("api:job_cancel", kwargs=kwargs) if job.status in RUNNABLE else None,
        }


# --- the request body: a file, or JSON rows --------------------------------------------------
JOB_BODY = {
    "required": True,
    "description": "A file (multipart, field `file`) or JSON rows. Columns are checked against "
    "the version's features (names, count, numeric cells), and the rows and size against "
    "`JOB_MAX_ROWS` and `JOB_MAX_BYTES`, before anything is reserved.",
    "content": {
        MULTIPART: {
            "schema": {
                "type": "object",
                "required": [FILE_FIELD],
                "properties": {
                    FILE_FIELD: {
                        "type": "string",
                        "format": "binary",
                        "description": "A UTF-8, comma-separated CSV with a header naming "
                        "every feature (any order) and optionally an `id` column, or a Parquet "
                        "file of integer or float feature columns; named `.csv` or `.parquet`.",
                    }
                },
            }
        },
        "application/json": {
            "schema": rows_body_schema(
                max_rows=settings.JOB_MAX_ROWS,
                description="Objects keyed by feature name, or arrays of the version's values "
                "in its feature order (the predict API's rows). The output is a CSV.",
            )
        },
    },
}
JOB_OPENAPI = {"requestBody": JOB_BODY}


def _source(request, version: ModelVersion) -> JobSource:
    """What the request sent: the multipart ``file``, or the JSON body's rows."""
    if request.content_type == MULTIPART:
        upload = request.FILES.get(FILE_FIELD)  # parses the body: the size handler runs now
        if FILE_FIELD in oversized_uploads(request):
            raise DomainError(
                JobErrorCode.FILE_TOO_LARGE,
                f"The file is over {settings.JOB_MAX_BYTES:,} bytes, the most a job's input "
                "may be.",
                details=[detail(FILE_FIELD, JobErrorCode.FILE_TOO_LARGE.code, "Too large.")],
            )
        if upload is None:
            message = f"Send the file as the multipart field '{FILE_FIELD}'."
            raise DomainError(
                PortalErrorCode.VALIDATION_ERROR,
                message,
                details=[detail(FILE_FIELD, "missing", message)],
            )
        return JobSource.of_upload(upload)
    body = request.body
    rows = predict.rows_from_body(body)
    return JobSource.of_rows(version=version, rows=rows, text=body)


def _version(request, org: str, slug: str, version: str) -> ModelVersion:
    found = selectors.version_addressed(
        org_slug=org, slug=slug, version=version, own_organization_id=_own_org_id(request)
    )
    if found is None:
        _model_or_404(request, org, slug)  # the model, or 404 model_not_found
        raise DomainError(
            ModelsErrorCode.VERSION_NOT_FOUND, f"No version {version} of {org}/{slug}."
        )
    return found


# --- quoting and submitting -------------------------------------------------------------------
@router.post(
    "/models/{org}/{slug}/versions/{version}/jobs/quote",
    response={200: QuoteOut, **errors(400, 401, 402, 403, 404, 409, 413, 422)},
    auth=JOB_AUTH,
    openapi_extra=JOB_OPENAPI,
    url_name="job_quote",
)
def job_quote(request, org: OrgSlug, slug: ModelSlug, version: VersionLabel):
    """What a job on this input would cost (nothing is reserved): the rows, the chunks, the
    units and, under a credits right, the credits needed and available. The input and the
    caller's right are checked as a submission checks them."""
    found = _version(request, org, slug, version)
    source = _source(request, found)
    caller, _, _ = metering.caller_of(request)
    return jobs.job_quote(caller=caller, version=found, source=source).as_dict()


@router.post(
    "/models/{org}/{slug}/versions/{version}/jobs",
    response={
        200: JobOut,
        202: JobOut,
        **errors(400, 401, 402, 403, 404, 409, 413, 422, 429),
    },
    auth=JOB_AUTH,
    openapi_extra=JOB_OPENAPI,
    url_name="job_submit",
)
def job_submit(
    request,
    response: HttpResponse,
    org: OrgSlug,
    slug: ModelSlug,
    version: VersionLabel,
    idempotency_key: IdempotencyKey = None,
):
    """Submit a job (202, `Location` names it): the input is checked, the credits it needs are
    reserved, and its chunks are queued; poll `links.self` for its progress. A retry with the same
    `Idempotency-Key` and input answers the first job (200, `Idempotent-Replayed: true`)."""
    found = _version(request, org, slug, version)
    source = _source(request, found)
    caller, api_key, user = metering.caller_of(request)
    job, created = jobs.job_submit(
        caller=caller,
        version=found,
        source=source,
        user=user,
        api_key=api_key,
        idempotency_key=idempotency_key,
    )
    if created:
        response["Location"] = reverse("api:job_detail", kwargs={"job_id": str(job.public_id)})
    else:
        response["Idempotent-Replayed"] = "true"  # the first request's job, reserved once
    return Status(202 if created else 200, _loaded(job))


def _loaded(job: InferenceJob) -> InferenceJob:
    """The job as ``job_for`` reads it (its version, model and organization in one query)."""
    return InferenceJob.objects.select_related("version__model__organization").get(pk=job.pk)


# --- reading, cancelling, downloading ---------------------------------------------------------
@router.get("/jobs", response={200: list[JobOut], **errors(401, 403, 422)}, auth=JOB_AUTH)
@paginate(BoundedPageNumberPagination, page_size=50)
def job_list(request):
    """Your jobs (the API key's organization or customer, or your sign-in), newest first."""
    caller, _, _ = metering.caller_of(request)
    return jobs.jobs_of(caller=caller)


@router.get(
    "/jobs/{job_id}",
    response={200: JobOut, **errors(401, 403, 404)},
    auth=JOB_AUTH,
    url_name="job_detail",
)
def job_detail(request, job_id: JobId):
    """A job of yours and its progress (percent, rows done, rate, ETA): what a client polls.
    Another caller's job is 404 `job_not_found`."""
    caller, _, _ = metering.caller_of(request)
    return jobs.job_for(caller=caller, public_id=job_id)


@router.post(
    "/jobs/{job_id}/cancel",
    response={200: JobOut, **errors(401, 403, 404, 409)},
    auth=JOB_AUTH,
    url_name="job_cancel",
)
def job_cancel(request, job_id: JobId):
    """Cancel a job of yours: chunks not started never start, running ones stop at their next
    batch; the rows done are charged and the rest of the reservation released. Cancelling a
    cancelled job answers it again; 409 `job_not_cancellable` once it has ended."""
    caller, _, _ = metering.caller_of(request)
    job = jobs.job_for(caller=caller, public_id=job_id)
    return jobs.job_cancel(job=job)


OUTPUT_OK = {
    200: {
        "description": "The output file (an attachment): CSV, or Parquet for a Parquet input.",
        "content": {
            "text/csv": {"schema": {"type": "string", "format": "binary"}},
            "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
CONTENT_TYPES = {JobFormat.CSV: "text/csv", JobFormat.PARQUET: "application/vnd.apache.parquet"}


@router.get(
    "/jobs/{job_id}/output",
    response=errors(401, 403, 404, 409, 410),
    auth=JOB_AUTH,
    openapi_extra={"responses": OUTPUT_OK},
    url_name="job_output",
)
def job_output(request, job_id: JobId):
    """Download a job's output: `row`, the `id` column when the input had one, `prediction`
    and a classifier's `probability_<class>` columns. 409 `job_output_not_ready` before the
    job has ended with an output; 410 `job_files_expired` after the retention period."""
    caller, _, _ = metering.caller_of(request)
    job = jobs.job_for(caller=caller, public_id=job_id)
    handle, filename = jobs.job_output(job=job)
    return FileResponse(
        handle,
        as_attachment=True,
        filename=filename,
        content_type=CONTENT_TYPES[job.output_format],
    )
