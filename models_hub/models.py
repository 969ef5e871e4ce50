from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from models_hub.choices import ArtifactFormat, RejectionCode, Task, VersionStatus

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
