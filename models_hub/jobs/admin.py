"""Batch jobs in the admin: an organization's staff see the jobs customers run on its models.

Read-only (jobs are made by customers, through the form or the API, never here) and scoped by
``portal.tenancy`` to ``version__model__organization``. The changelist shows each job's status
and progress (percent, rows done of the total, rate, ETA: ``services.jobs_progress``, one query
for the page's live jobs, none for the ended ones) and refreshes both in place while jobs run
(``portal.live_badges``: a status and a progress endpoint). A job's page shows its chunks and,
for a failed job, its reason. Neither page links to the customer's input or output: their data
is private to them. Managers and owners may cancel live jobs (``services.job_cancel``).
"""

from __future__ import annotations

import re
from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.template.defaultfilters import filesizeformat
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from chain.paginators import CappedCountPaginator
from licensing.entitlement import CREDITS, LICENSE, PASS, PUBLISHER
from models_hub.choices import JOB_LIVE, JobStatus
from models_hub.jobs import services as jobs
from models_hub.models import AIModel, InferenceJob, JobChunk
from portal.errors import DomainError
from portal.live_badges import SCRIPT as LIVE_BADGES_SCRIPT
from portal.live_badges import asked_ids, badge_states, live_badge
from portal.selectors import organization_ids_for
from portal.service_admin import ServiceAdmin
from portal.tenancy import TenantAdminMixin, TenantInlineMixin

RIGHTS = {
    PUBLISHER: "Publisher (free)",
    LICENSE: "License",
    PASS: "Access pass",
    CREDITS: "Credits",
}
PROGRESS = "_progress"  # the attribute of a listed job that holds its Progress
# the job's page: what it is and how it goes, why it failed (if it did), then the details
HEAD = [
    (None, {"fields": ["full_id", "model_link", "version_link", "customer_whole"]}),
    ("Progress", {"fields": ["status_on_page", "progress_on_page"]}),
]
INPUT = ["input_format", "input_name", "input_size", "rows_total", "chunks_total", "chunk_rows"]
FAILURE = ("Why it failed", {"fields": ["error_code", "error_message", "error_where"]})
BODY = [
    ("Input", {"fields": INPUT}),
    ("Charge", {"fields": ["right", "units_quoted", "units_charged", "unit"]}),
    ("Times", {"fields": ["created_at", "started_at", "finished_at", "cancelled_at"]}),
    ("Output", {"fields": ["output_rows", "output_size", "files"]}),
]


# --- what a job looks like in a cell ---


def short_id(job: InferenceJob) -> str:
    return job.public_id.hex[:8]


def duration(seconds: int) -> str:
    """``45 s``, ``12 min``, ``3 h 20 min``: an ETA to the minute past a minute."""
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def progress_texts(progress: jobs.Progress, *, live: bool) -> tuple[str, str]:
    """``("42% · 1,260 / 3,000 rows", "50.5 rows/s · ETA 35 s")``."""
    done = f"{progress.percent:g}% · {progress.rows_done:,} / {progress.rows_total:,} rows"
    pace = []
    if progress.rate:
        pace.append(f"{progress.rate:,} rows/s")
    if live and progress.eta_seconds is not None:
        pace.append(f"ETA {duration(progress.eta_seconds)}")
    return done, " · ".join(pace)


def job_badge(job: InferenceJob, *, reload_when_settled: bool = False):
    """The status as a coloured badge (static/css/admin.css); a live job's refreshes itself."""
    return live_badge(
        "job-badge",
        job.status,
        job.get_status_display(),
        pk=job.pk,
        status_url=reverse("admin:models_hub_inferencejob_status") if job.is_live else "",
        reload_when_settled=reload_when_settled,
    )


def progress_cell(job: InferenceJob, progress: jobs.Progress):
    """Percent and rows, then rate and ETA; a live job's refresh themselves."""
    done, pace = progress_texts(progress, live=job.is_live)
    return live_badge(
        "job-progress",
        job.status,
        done,
        pk=job.pk,
        status_url=reverse("admin:models_hub_inferencejob_progress") if job.is_live else "",
        reason=pace,
    )


def customer(job: InferenceJob, *, whole: bool = False) -> str:
    """Who ran it: the API key's name, else the wallet its right is held by (shortened in the
    list), else the publisher's staff member (a publisher's job holds no wallet)."""
    if job.api_key_id is not None:
        return format_html("API key “{}”", job.api_key.name)
    if job.holder and whole:
        return format_html("<code>{}</code>", job.holder)
    if job.holder:
        return format_html(
            '<code title="{}">{}…{}</code>', job.holder, job.holder[:6], job.holder[-4:]
        )
    if job.user_id is not None:
        # a narrow column breaks an address before its @ and its dots, not anywhere
        parts = re.split(r"(?=[@.])", job.user.email or job.user.get_username())
        return format_html_join(mark_safe("<wbr>"), "{}", ((part,) for part in parts))
    return "-"


# --- the list's filters and rows ---


class JobModelFilter(admin.SimpleListFilter):
    """The models of the user's organizations (the small table), not a DISTINCT over jobs."""

    title = "model"
    parameter_name = "model"

    def lookups(self, request, model_admin):
        models = AIModel.objects.order_by("name")
        user = request.user
        if not (user.is_active and user.is_superuser):
            models = models.filter(organization_id__in=organization_ids_for(user=user))
        return [(model.pk, model.name) for model in models[:200]]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(version__model_id=value) if value and value.isdigit() else queryset


class JobChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        progress = jobs.jobs_progress(self.result_list)
        for job in self.result_list:
            setattr(job, PROGRESS, progress[job.pk])


class JobChunkInline(TenantInlineMixin, admin.TabularInline):
    model = JobChunk
    extra = 0
    can_delete = False
    fields = ["index", "rows", "chunk_status", "attempts", "worker", "heartbeat", "rows_done"]
    readonly_fields = fields
    ordering = ["index"]
    verbose_name_plural = "chunks"

    @admin.display(description="Status")
    def chunk_status(self, obj):
        return format_html(
            '<span class="chunk-badge status-{}">{}</span>', obj.status, obj.get_status_display()
        )

    @admin.display(description="Heartbeat (UTC)")
    def heartbeat(self, obj):
        return f"{obj.heartbeat_at:%Y-%m-%d %H:%M:%S}" if obj.heartbeat_at else "-"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- the admin ---


@admin.register(InferenceJob)
class InferenceJobAdmin(TenantAdminMixin, ServiceAdmin):
    """Jobs are the customers' (made by their form or API calls): staff read them and cancel
    live ones."""

    tenant_field = "version__model__organization"
    tenant_read_only = True
    paginator = CappedCountPaginator  # jobs pile up: no full COUNT, no facet counts
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER

    list_display = [
        "job_id", "model_and_version", "customer_cell", "status_and_progress", "credits", "times",
    ]  # fmt: skip
    list_display_links = ["job_id"]
    list_filter = ["status", JobModelFilter, "created_at"]
    list_select_related = ["version__model", "api_key", "user"]
    search_fields = ["^public_id", "version__model__name"]
    search_help_text = "A job's id (or its first characters), or a model's name."
    actions = ["cancel_jobs"]
    inlines = [JobChunkInline]
    readonly_fields = [
        "full_id", "model_link", "version_link", "customer_whole", "status_on_page",
        "progress_on_page", "input_format", "input_name", "input_size", "rows_total",
        "chunks_total", "chunk_rows", "right", "units_quoted", "units_charged", "unit",
        "created_at", "started_at", "finished_at", "cancelled_at", "output_rows",
        "output_size", "files", "error_code", "error_message", "error_where",
    ]  # fmt: skip

    class Media:
        js = [LIVE_BADGES_SCRIPT]

    def get_fieldsets(self, request, obj=None):
        failed = [FAILURE] if obj is not None and obj.error_code else []
        return [*HEAD, *failed, *BODY]

    def get_changelist(self, request, **kwargs):
        return JobChangeList

    # nobody adds, changes or deletes a job here (superusers included): the cancel action and
    # the services are the only ways a job moves
    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_cancel_permission(self, request) -> bool:
        if self._is_super(request):
            return True
        return bool(organization_ids_for(user=request.user, min_role=self.tenant_write_role))

    def save_with_service(self, request, obj, form, change):
        raise PermissionDenied("Jobs are made by their customers' submissions.")

    # --- the list's columns ---

    @admin.display(description="Job", ordering="created_at")
    def job_id(self, obj):
        return format_html('<code title="{}">{}</code>', obj.public_id, short_id(obj))

    @admin.display(description="Model", ordering="version__model__name")
    def model_link(self, obj):
        model = obj.version.model
        url = reverse("admin:models_hub_aimodel_change", args=[model.pk])
        return format_html('<a href="{}">{}</a>', url, model.name)

    @admin.display(description="Model", ordering="version__model__name")
    def model_and_version(self, obj):
        return format_html(
            '{} <span class="job-quiet">{}</span>', self.model_link(obj), self.version_link(obj)
        )

    @admin.display(description="Version")
    def version_link(self, obj):
        url = reverse("admin:models_hub_modelversion_change", args=[obj.version_id])
        return format_html('<a href="{}">{}</a>', url, obj.version.version)

    @admin.display(description="Customer")
    def customer_cell(self, obj):
        return customer(obj)

    @admin.display(description="Customer")
    def customer_whole(self, obj):
        return customer(obj, whole=True)

    @admin.display(description="Status and progress", ordering="status")
    def status_and_progress(self, obj):
        progress = getattr(obj, PROGRESS, None) or jobs.job_progress(obj)
        return format_html("{}{}", job_badge(obj), progress_cell(obj, progress))

    @admin.display(description="Credits charged", ordering="units_charged")
    def credits(self, obj):
        if obj.right_kind != CREDITS:
            return format_html(
                '<span class="job-quiet" title="Charged under: {}">{}</span>',
                RIGHTS.get(obj.right_kind, obj.right_kind),
                "free" if obj.right_kind == PUBLISHER else obj.right_kind,
            )
        if obj.is_live:
            return format_html('<span class="job-quiet">{} held</span>', f"{obj.units_quoted:,}")
        return f"{obj.units_charged:,}"

    @admin.display(description="Submitted / finished", ordering="created_at")
    def times(self, obj):
        submitted = _time(obj.created_at)
        if not obj.finished_at:
            return submitted
        same_day = obj.finished_at.date() == obj.created_at.date()
        shown = f"{obj.finished_at:%H:%M}" if same_day else f"{obj.finished_at:%Y-%m-%d %H:%M}"
        return format_html(
            '{}<span class="job-quiet job-finished">finished {}</span>',
            submitted,
            _time(obj.finished_at, shown),
        )

    # --- the job's page ---

    @admin.display(description="Job id")
    def full_id(self, obj):
        return format_html("<code>{}</code>", obj.public_id)

    @admin.display(description="Status")
    def status_on_page(self, obj):
        return job_badge(obj, reload_when_settled=True)  # to show the output, charge or reason

    @admin.display(description="Progress")
    def progress_on_page(self, obj):
        return progress_cell(obj, jobs.job_progress(obj))

    @admin.display(description="Size")
    def input_size(self, obj):
        return filesizeformat(obj.input_bytes)

    @admin.display(description="Charged under")
    def right(self, obj):
        return RIGHTS.get(obj.right_kind, obj.right_kind)

    @admin.display(description="Output size")
    def output_size(self, obj):
        return filesizeformat(obj.output_bytes) if obj.output_file else "-"

    @admin.display(description="Files")
    def files(self, obj):
        days = settings.JOB_RETENTION_DAYS
        private = "The input and output are private to the customer."
        if obj.files_deleted_at:
            return f"Deleted {obj.files_deleted_at:%Y-%m-%d %H:%M} UTC, {days} days after the end."
        if obj.finished_at:
            until = obj.finished_at + timedelta(days=days)
            return f"Kept until {until:%Y-%m-%d %H:%M} UTC. {private}"
        return f"Kept while the job runs and {days} days after. {private}"

    @admin.display(description="Where")
    def error_where(self, obj):
        parts = []
        if obj.error_chunk is not None:
            parts.append(f"chunk {obj.error_chunk}")
        if obj.error_row is not None:
            parts.append(f"row {obj.error_row:,}")
        if obj.error_column:
            parts.append(f"column “{obj.error_column}”")
        return ", ".join(parts) or "-"

    # --- the action ---

    @admin.action(description="Cancel selected jobs", permissions=["cancel"])
    def cancel_jobs(self, request, queryset):
        """Cancel each live job (``services.job_cancel``); an ended one is a message."""
        cancelled, already, refused = 0, 0, []
        for job in queryset.select_related("version__model"):
            was_cancelled = job.cancelled_at is not None
            try:
                jobs.job_cancel(job=job)
            except DomainError as error:
                refused.append(f"{short_id(job)} ({error.message.rstrip('.').lower()})")
                continue
            if was_cancelled:
                already += 1
            else:
                cancelled += 1
        if cancelled or not (already or refused):
            self.message_user(
                request,
                f"Cancelled {cancelled} job(s): their chunks not started will not start, and "
                "running ones stop at their next batch; the rows done are charged.",
                messages.SUCCESS if cancelled else messages.WARNING,
            )
        if already:
            self.message_user(
                request, f"{already} job(s) were being cancelled already.", messages.INFO
            )
        if refused:
            self.message_user(
                request,
                f"{len(refused)} job(s) had ended and were not cancelled: {', '.join(refused)}.",
                messages.WARNING,
            )

    # --- the live badges' endpoints ---

    def get_urls(self):
        status = self.admin_site.admin_view(self.status_view)
        progress = self.admin_site.admin_view(self.progress_view)
        return [
            path("status/", status, name="models_hub_inferencejob_status"),
            path("progress/", progress, name="models_hub_inferencejob_progress"),
            *super().get_urls(),
        ]

    def _asked(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return self.get_queryset(request).filter(pk__in=asked_ids(request))

    def status_view(self, request):
        """``GET status/?id=1&id=2``: the statuses of jobs the user may view (for badges)."""
        labels = dict(JobStatus.choices)
        return badge_states(
            (pk, status, labels[status], status in JOB_LIVE, "")
            for pk, status in self._asked(request).values_list("pk", "status")
        )

    def progress_view(self, request):
        """``GET progress/?id=1&id=2``: the progress of jobs the user may view."""
        rows = list(self._asked(request))
        progress = jobs.jobs_progress(rows)
        states = []
        for job in rows:
            done, pace = progress_texts(progress[job.pk], live=job.is_live)
            states.append((job.pk, job.status, done, job.is_live, pace))
        return badge_states(states)


def _time(moment, shown: str = ""):
    return format_html(
        '<time datetime="{}">{}</time>', moment.isoformat(), shown or f"{moment:%Y-%m-%d %H:%M}"
    )
