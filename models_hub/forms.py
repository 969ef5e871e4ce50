"""Admin forms of the registry: they parse input; ``models_hub.services`` checks and writes."""

from django import forms
from django.conf import settings

from models_hub.choices import ArtifactFormat
from models_hub.models import AIModel, ModelVersion
from portal.service_admin import ServiceModelForm


class TagsField(forms.CharField):
    """Tags typed as a comma-separated list (the service normalizes them)."""

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(value)
        return value

    def to_python(self, value):
        text = super().to_python(value) or ""
        return [tag.strip() for tag in text.split(",") if tag.strip()]


class AIModelForm(ServiceModelForm):
    tags = TagsField(required=False, help_text="Comma-separated, e.g. health, tabular.")

    class Meta:
        model = AIModel
        fields = ["organization", "name", "slug", "task", "summary", "tags", "listed", "model_card"]


class VersionUploadForm(ServiceModelForm):
    """Upload a version: the service streams, hashes and queues the file for validation."""

    upload = forms.FileField(label="Artifact", help_text="A .joblib/.pkl or .skops file.")
    format = forms.ChoiceField(
        choices=[("", "From the file name"), *ArtifactFormat.choices], required=False
    )
    service_error_fields = {"artifact": "upload"}
    too_large = False  # the upload handler dropped the file (set by the admin per request)

    class Meta:
        model = ModelVersion
        fields = ["model", "version", "format"]

    def _clean_fields(self):
        super()._clean_fields()
        if self.too_large:
            self.errors.pop("upload", None)
            limit_mb = settings.FILE_UPLOAD_MAX_BYTES / 1024 / 1024
            self.add_error("upload", f"The file is over the {limit_mb:.0f} MB limit.")
