"""The signed-in customer's batch-job pages (thin: parse, call one service, render).

Mounted at ``account/jobs/`` by ``portal/urls.py`` (namespace ``jobs``):

- ``jobs:list`` (GET ``/account/jobs/``): the caller's jobs and the "New job" form;
  ``?version=<pk>`` or ``?model=<org>/<slug>`` preselects a version.
- ``jobs:quote`` (POST, htmx): the form as it is, quoted (``job_quote``): a fragment.
- ``jobs:submit`` (POST): ``job_submit``, then a redirect to the job; errors show the form again.
- ``jobs:detail`` (GET ``/account/jobs/<uuid>/``), ``jobs:status`` (its fragment, polled every
  second by htmx while the job is live), ``jobs:cancel`` (POST), ``jobs:download`` (GET).

Every job view finds the job with ``job_for``: another caller's job is a 404. Pages need a
signed-in user (the wallet sign-in page otherwise, with ``?next=``); an htmx request without
one is told to go there (``HX-Redirect``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from licensing.entitlement import CREDITS, Caller
from models_hub.choices import JobFormat, JobStatus
from models_hub.errors import JobErrorCode
from models_hub.jobs import selectors
from models_hub.jobs import services as jobs
from models_hub.jobs.forms import JobForm, add_domain_error
from models_hub.models import InferenceJob
from portal.errors import DomainError
from portal.uploads import oversized_uploads

JOBS_PER_PAGE = 20
CONTENT_TYPES = {
    JobFormat.CSV: "text/csv; charset=utf-8",
    JobFormat.PARQUET: "application/vnd.apache.parquet",
}


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def signed_in(view):
    """A signed-in user (customer or staff); the wallet sign-in page otherwise, then back."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if _is_htmx(request):  # a fragment: send the whole page to the sign-in, and back
            back = urlsplit(request.headers.get("HX-Current-URL", "")).path
            if not back.startswith("/") or back.startswith("//"):
                back = reverse("jobs:list")
            login = redirect_to_login(back, reverse("siwe_login"))
            response = HttpResponse(status=401)
            response["HX-Redirect"] = login["Location"]
            return response
        back = request.get_full_path() if request.method == "GET" else reverse("jobs:list")
        return redirect_to_login(back, reverse("siwe_login"))

    return wrapped


def _caller(request: HttpRequest) -> Caller:
    return Caller.of_user(request.user)


def _job_or_404(request: HttpRequest, public_id) -> InferenceJob:
    try:
        return jobs.job_for(caller=_caller(request), public_id=public_id)
    except DomainError as exc:
        raise Http404(exc.message) from None


def _form(request: HttpRequest, caller: Caller) -> JobForm:
    runnable = selectors.versions_runnable(caller=caller)
    if request.method == "POST":
        files = request.FILES  # parsed first: the size handler notes what it dropped
        too_large = "file" in oversized_uploads(request)
        return JobForm(request.POST, files, runnable=runnable, too_large=too_large)
    return JobForm(runnable=runnable, initial={"version": _preselected(request, runnable)})


def _preselected(request: HttpRequest, runnable) -> int | None:
    """``?version=<pk>``, or the newest runnable version of ``?model=<org>/<slug>``; the one
    version there is when nothing is asked for."""
    if len(runnable) == 1 and not request.GET.get("version") and not request.GET.get("model"):
        return runnable[0].version.pk
    wanted = _pk(request.GET.get("version"))
    if wanted is not None:
        return next((r.version.pk for r in runnable if r.version.pk == wanted), None)
    address = request.GET.get("model", "")
    for item in runnable:
        model = item.version.model
        if f"{model.organization.slug}/{model.slug}" == address:
            return item.version.pk
    return None


def _pk(value: str | None) -> int | None:
    """A primary key from a query string (a database's 64-bit integer), or None."""
    if value and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def _refusal(request: HttpRequest, caller: Caller, form: JobForm):
    """Why the version the link asked for is not in the list (when the caller may see it)."""
    if form.initial.get("version") is not None:
        return None
    wanted = _pk(request.GET.get("version"))
    if wanted is not None:
        return selectors.refusal_for(caller=caller, version_id=wanted)
    if request.GET.get("model"):
        return selectors.refusal_for(caller=caller, model_address=request.GET["model"])
    return None


@dataclass(frozen=True)
class JobRow:
    job: InferenceJob
    progress: jobs.Progress


def _list_page(request: HttpRequest, caller: Caller, form: JobForm, *, status: int = 200):
    page = Paginator(jobs.jobs_of(caller=caller), JOBS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "rows": [JobRow(job, jobs.job_progress(job)) for job in page.object_list],
        "refusal": _refusal(request, caller, form) if request.method == "GET" else None,
    }
    return render(request, "jobs/list.html", context, status=status)


@require_GET
@never_cache
@signed_in
def jobs_home(request: HttpRequest) -> HttpResponse:
    caller = _caller(request)
    return _list_page(request, caller, _form(request, caller))


@require_POST
@never_cache
@signed_in
def job_quote(request: HttpRequest) -> HttpResponse:
    """The quote fragment: rows, chunks and what it costs, or why the job cannot run."""
    caller = _caller(request)
    form = _form(request, caller)
    quote = None
    waiting = not request.FILES.get("file") and not form.too_large
    if not waiting and form.is_valid():
        try:
            quote = jobs.job_quote(caller=caller, version=form.chosen_version, source=form.source())
        except DomainError as exc:
            add_domain_error(form, exc)
    context = {
        "form": form,
        "quote": quote,
        "waiting": waiting,
        "chosen": form.chosen if quote else None,
        "max_rows": settings.PREDICT_MAX_ROWS,
        "chunk_rows": settings.JOB_CHUNK_ROWS,
    }
    return render(request, "jobs/_quote.html", context)


@require_POST
@never_cache
@signed_in
def job_submit(request: HttpRequest) -> HttpResponse:
    caller = _caller(request)
    form = _form(request, caller)
    if form.is_valid():
        try:
            job, _created = jobs.job_submit(
                caller=caller,
                version=form.chosen_version,
                source=form.source(),
                user=request.user,
                idempotency_key=form.sent_key(),
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            return redirect("jobs:detail", public_id=job.public_id)
    return _list_page(request, caller, form.with_fresh_key(), status=422)


def _status_context(job: InferenceJob) -> dict:
    progress = jobs.job_progress(job)
    retention = settings.JOB_RETENTION_DAYS
    context = {
        "job": job,
        "progress": progress,
        "eta_text": _duration(progress.eta_seconds),
        "can_cancel": job.status in jobs.RUNNABLE,
        "output_ready": bool(job.output_file) and job.files_deleted_at is None,
        "output_format_label": JobFormat(job.output_format).label,
        "metered": job.right_kind == CREDITS,
        "failed": job.status == JobStatus.FAILED,
        "retention_days": retention,
        "delete_after": None,
        "error_rows": "",
    }
    if job.finished_at and job.files_deleted_at is None:
        context["delete_after"] = job.finished_at + timedelta(days=retention)
    if job.error_chunk is not None:
        first = job.error_chunk * job.chunk_rows + 1
        context["error_rows"] = f"{first:,} to {min(first + job.chunk_rows - 1, job.rows_total):,}"
    return context


def _duration(seconds: int | None) -> str:
    """'45 s', '3 min 20 s', '2 h 5 min'."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


@require_GET
@never_cache
@signed_in
def job_detail(request: HttpRequest, public_id) -> HttpResponse:
    job = _job_or_404(request, public_id)
    return render(request, "jobs/detail.html", _status_context(job))


@require_GET
@never_cache
@signed_in
def job_status(request: HttpRequest, public_id) -> HttpResponse:
    """The job's status panel: htmx polls it while the job is live (the ended one stops it)."""
    job = _job_or_404(request, public_id)
    return render(request, "jobs/_status.html", _status_context(job))


@require_POST
@never_cache
@signed_in
def job_cancel(request: HttpRequest, public_id) -> HttpResponse:
    job = _job_or_404(request, public_id)
    try:
        jobs.job_cancel(job=job)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            "Cancelled: chunks not started will not start. The rows already predicted are "
            "joined into the output and charged; the rest of the reservation goes back.",
        )
    return redirect("jobs:detail", public_id=job.public_id)


@require_GET
@never_cache
@signed_in
def job_download(request: HttpRequest, public_id) -> HttpResponse:
    """The output file, streamed as an attachment (409 before it exists, 410 once deleted)."""
    job = _job_or_404(request, public_id)
    try:
        handle, filename = jobs.job_output(job=job)
    except DomainError as exc:
        expired = exc.error == JobErrorCode.JOB_FILES_EXPIRED
        context = {"job": job, "error": exc, "expired": expired}
        return render(request, "jobs/unavailable.html", context, status=exc.status)
    response = FileResponse(
        handle, as_attachment=True, filename=filename, content_type=CONTENT_TYPES[job.output_format]
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
