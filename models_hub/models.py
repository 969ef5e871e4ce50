from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from models_hub.choices import (
    JOB_LIVE,
    ArtifactFormat,
    ChunkStatus,
    JobFormat,
    JobStatus,
    PaymentStatus,
    RejectionCode,
    Task,
    VersionStatus,
)

VERSION_RE = re.compile(r"^(0|[1-9]\d{0,3})\.(0|[1-9]\d{0,3})\.(0|[1-9]\d{0,3})$")
validate_version = RegexValidator(
    VERSION_RE, "Use MAJOR.MINOR.PATCH with numbers up to 9999, e.g. 1.2.0."
)


def version_sort_key(version: str) -> int:
    match = VERSION_RE.match(version)
    if match is None:
        raise ValidationError({"version": validate_version.message})
    major, minor, patch = (int(part) for part in match.groups())
    return major * 10**8 + minor * 10**4 + patch


def artifact_upload_to(instance: ModelVersion, filename: str) -> str:
    # The name carries no user input: a random id under the organization and model.
    extension = instance.format or "bin"
    model = instance.model
    return f"artifacts/{model.organization_id}/{model.pk}/{uuid.uuid4().hex}.{extension}"


class AIModel(models.Model):
    """A trained model that an organization registers and licenses."""

    organization = models.ForeignKey(
        "portal.Organization", on_delete=models.PROTECT, related_name="models"
    )
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80)
    summary = models.CharField(max_length=280, blank=True)
    model_card = models.TextField(blank=True, help_text="Markdown. Rendered sanitized.")
    task = models.CharField(max_length=20, choices=Task.choices)
    tags = models.JSONField(default=list, blank=True)
    listed = models.BooleanField(
        default=False, help_text="Listed models and their published ready versions are public."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization__name", "name"]
        verbose_name = "model"
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="aimodel_slug_unique"),
            models.CheckConstraint(
                condition=models.Q(task__in=Task.values), name="aimodel_task_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ModelVersion(models.Model):
    """One uploaded artifact of a model, with what validation read off the estimator."""

    model = models.ForeignKey(AIModel, on_delete=models.PROTECT, related_name="versions")
    version = models.CharField(max_length=16, validators=[validate_version])
    sort_key = models.BigIntegerField(editable=False)
    artifact = models.FileField(upload_to=artifact_upload_to, max_length=255, editable=False)
    format = models.CharField(max_length=8, choices=ArtifactFormat.choices)
    sha256 = models.CharField(max_length=64, editable=False)
    size_bytes = models.BigIntegerField(editable=False)
    original_filename = models.CharField(max_length=255, blank=True, editable=False)
    status = models.CharField(
        max_length=12, choices=VersionStatus.choices, default=VersionStatus.UPLOADED
    )
    rejection_reason = models.TextField(blank=True)
    rejection_code = models.CharField(max_length=32, choices=RejectionCode.choices, blank=True)
    estimator_class = models.CharField(max_length=255, blank=True)
    feature_names = models.JSONField(default=list, blank=True)
    n_features = models.PositiveIntegerField(null=True, blank=True)
    classes = models.JSONField(null=True, blank=True)
    sklearn_version = models.CharField(max_length=32, blank=True)
    schema_change = models.JSONField(
        null=True,
        blank=True,
        editable=False,
        help_text="How the features (and classes) differ from the previous accepted version.",
    )
    # A ready version is a draft until a manager publishes it; only published ones are public.
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set once: a version that was ever public is kept (retired), never deleted.
    first_published_at = models.DateTimeField(null=True, blank=True, editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    validated_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["model", "-sort_key"]
        constraints = [
            models.UniqueConstraint(fields=["model", "version"], name="modelversion_unique"),
            models.CheckConstraint(
                condition=models.Q(status__in=VersionStatus.values),
                name="modelversion_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(size_bytes__gt=0), name="modelversion_size_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(rejection_code="")
                | models.Q(rejection_code__in=RejectionCode.values),
                name="modelversion_rejection_code_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(published_at__isnull=True)
                | models.Q(first_published_at__isnull=False),
                name="modelversion_published_first",
            ),
        ]
        indexes = [models.Index(fields=["model", "status"])]

    def __str__(self) -> str:
        return f"{self.model.name} {self.version}"

    @property
    def is_ready(self) -> bool:
        return self.status == VersionStatus.READY

    @property
    def is_published(self) -> bool:
        return self.published_at is not None

    @property
    def schema_change_summary(self) -> str:
        return (self.schema_change or {}).get("summary", "")


def job_input_to(instance: InferenceJob, filename: str) -> str:
    # No user input in the name: the job's own id, under the model it runs.
    return (
        f"jobs/{instance.version.model_id}/{instance.public_id.hex}/input.{instance.input_format}"
    )


class InferenceJob(models.Model):
    """A batch of rows a caller sent to one model version, predicted in chunks by workers.

    Its input and output are private to ``owner_key`` (the caller's ``entitlement.Caller.key``:
    ``user:<id>`` for a customer or a customer's key, ``org:<id>`` for an organization's key).
    Credits are reserved at submission (``reservation``), consumed for the rows done when the
    output is joined, and the rest released.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="jobs")
    owner_key = models.CharField(max_length=40, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    organization = models.ForeignKey(
        "portal.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_key = models.ForeignKey(
        "portal.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    idempotency_key = models.CharField(max_length=255, blank=True, editable=False)
    # the input, checked at submission
    input_format = models.CharField(max_length=8, choices=JobFormat.choices)
    input_file = models.FileField(upload_to=job_input_to, max_length=255, editable=False)
    input_name = models.CharField(max_length=255, blank=True, editable=False)
    input_bytes = models.BigIntegerField(default=0)
    input_sha256 = models.CharField(max_length=64, editable=False)
    id_column = models.CharField(max_length=120, blank=True)
    columns = models.JSONField(default=list, editable=False, help_text="The file's columns.")
    rows_total = models.BigIntegerField()
    chunk_rows = models.PositiveIntegerField()
    chunks_total = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED)
    # what it is charged under (entitlement.Right) and what it costs
    right_kind = models.CharField(max_length=12)
    network = models.ForeignKey(
        "chain.Network", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    token_id = models.DecimalField(max_digits=78, decimal_places=0, null=True, blank=True)
    holder = models.CharField(max_length=42, blank=True)
    unit = models.CharField(max_length=8, blank=True)
    units_quoted = models.BigIntegerField(default=0)
    units_charged = models.BigIntegerField(default=0)
    reservation = models.OneToOneField(
        "licensing.CreditReservation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="job",
    )
    receipt = models.OneToOneField(
        "licensing.UsageReceipt",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="job",
    )
    # progress
    rows_done = models.BigIntegerField(default=0, help_text="Rows of the chunks written.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    join_attempt = models.UUIDField(null=True, blank=True, editable=False)
    join_heartbeat_at = models.DateTimeField(null=True, blank=True)
    # the result
    output_file = models.FileField(max_length=255, blank=True, editable=False)
    output_rows = models.BigIntegerField(default=0)
    output_bytes = models.BigIntegerField(default=0)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    error_chunk = models.PositiveIntegerField(null=True, blank=True)
    error_row = models.BigIntegerField(null=True, blank=True, help_text="1-based data row.")
    error_column = models.CharField(max_length=255, blank=True)
    files_deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "inference job"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=JobStatus.values), name="job_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(input_format__in=JobFormat.values), name="job_format_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(rows_total__gt=0) & models.Q(chunks_total__gt=0),
                name="job_has_rows",
            ),
            models.CheckConstraint(
                condition=models.Q(rows_done__gte=0, rows_done__lte=models.F("rows_total")),
                name="job_rows_done_within_total",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    units_charged__gte=0, units_charged__lte=models.F("units_quoted")
                ),
                name="job_charge_within_quote",
            ),
            models.UniqueConstraint(
                fields=["owner_key", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="job_idempotency_key_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["owner_key", "-created_at"]),
            models.Index(fields=["status", "finished_at"]),
        ]

    def __str__(self) -> str:
        return f"Job {self.public_id.hex[:8]} on {self.version}"

    @property
    def folder(self) -> str:
        """Where its files are (input, parts, output): under the model, by the job's own id."""
        return f"jobs/{self.version.model_id}/{self.public_id.hex}"

    @property
    def output_format(self) -> str:
        return JobFormat.PARQUET if self.input_format == JobFormat.PARQUET else JobFormat.CSV

    @property
    def is_live(self) -> bool:
        return self.status in JOB_LIVE


class JobChunk(models.Model):
    """One slice of a job's rows: one worker task predicts it and writes it as a part file.

    A task claims it by a conditional update that sets a fresh ``attempt``; it commits its part
    the same way (only the attempt that holds it may), so a redelivered or swept chunk never
    writes twice. ``heartbeat_at`` moves after every batch: a running chunk whose heartbeat
    stopped (its worker died) is taken over after ``JOB_CHUNK_STALE_SECONDS``.
    """

    job = models.ForeignKey(InferenceJob, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    first_row = models.BigIntegerField(help_text="0-based index of its first data row.")
    rows = models.PositiveIntegerField()
    byte_start = models.BigIntegerField(null=True, blank=True)  # CSV: where its rows are
    byte_end = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=ChunkStatus.choices, default=ChunkStatus.PENDING
    )
    attempt = models.UUIDField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    worker = models.CharField(max_length=255, blank=True)
    rows_done = models.PositiveIntegerField(default=0, help_text="Rows predicted so far.")
    part_file = models.CharField(max_length=255, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    peak_rss_kb = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="job_chunk_unique"),
            models.CheckConstraint(
                condition=models.Q(status__in=ChunkStatus.values), name="job_chunk_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(rows_done__lte=models.F("rows")), name="job_chunk_rows_done"
            ),
        ]
        indexes = [models.Index(fields=["status", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"chunk {self.index} of {self.job}"


def _new_receipt_id() -> str:
    from licensing.models.receipts import new_receipt_id

    return new_receipt_id()


class PayPerCallOffer(models.Model):
    """What a model charges AI agents per call (or per row) over HTTP 402 (x402), on one network,
    in one EIP-3009 token; paid to the PayPerCall settler, split by the vault like a purchase."""

    model = models.ForeignKey(AIModel, on_delete=models.CASCADE, related_name="pay_per_call")
    network = models.ForeignKey("chain.Network", on_delete=models.PROTECT, related_name="+")
    currency = models.ForeignKey(
        "licensing.Currency",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="An ERC-20 with EIP-3009 (transferWithAuthorization) on that network.",
    )
    price = models.DecimalField(
        max_digits=78, decimal_places=0, help_text="In the token's smallest unit (atomic)."
    )
    per_row = models.BooleanField(
        default=False, help_text="Charge the price per row predicted, not per call."
    )
    timeout_seconds = models.PositiveIntegerField(
        default=60, help_text="How long an authorization may take to reach the portal."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "pay-per-call offer"
        constraints = [
            models.UniqueConstraint(fields=["model", "network"], name="pay_per_call_unique"),
            models.CheckConstraint(condition=models.Q(price__gt=0), name="pay_per_call_price"),
            models.CheckConstraint(
                condition=models.Q(timeout_seconds__gte=10, timeout_seconds__lte=3600),
                name="pay_per_call_timeout",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model} pay-per-call on {self.network_id and self.network.name}"


class PaymentAuthorization(models.Model):
    """One EIP-3009 authorization an agent paid a predict call with: verified, then settled on
    chain at most once (unique per network, token, payer and nonce), then answered."""

    offer = models.ForeignKey(PayPerCallOffer, on_delete=models.PROTECT, related_name="payments")
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    network = models.ForeignKey("chain.Network", on_delete=models.PROTECT, related_name="+")
    token = models.CharField(max_length=42)
    payer = models.CharField(max_length=42)
    nonce = models.CharField(max_length=66)
    amount = models.DecimalField(max_digits=78, decimal_places=0)
    rows = models.PositiveIntegerField()
    payload_hash = models.CharField(max_length=64, help_text="sha256 of the PAYMENT-SIGNATURE.")
    input_hash = models.CharField(max_length=66)
    status = models.CharField(
        max_length=10, choices=PaymentStatus.choices, default=PaymentStatus.SETTLING
    )
    transaction = models.ForeignKey(
        "chain.OutboundTransaction",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    failure = models.TextField(blank=True)
    answer = models.JSONField(null=True, blank=True, editable=False)
    receipt_id = models.CharField(
        max_length=66,
        unique=True,
        default=_new_receipt_id,
        editable=False,
        help_text="The paid call's usage receipt (written once settled), as AgentPaid names it.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["network", "token", "payer", "nonce"], name="payment_authorization_once"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=PaymentStatus.values),
                name="payment_authorization_status",
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount"),
        ]

    def __str__(self) -> str:
        return f"{self.payer} paid {self.amount} ({self.status})"
