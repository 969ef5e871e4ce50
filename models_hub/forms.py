from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from models_hub import services
from models_hub.choices import ArtifactFormat
from models_hub.models import AIModel, ModelVersion


class TagsField(forms.CharField):
    """Tags typed as a comma-separated list, stored as a JSON list."""

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(value)
        return value

    def to_python(self, value):
        text = super().to_python(value) or ""
        return [tag.strip().lower() for tag in text.split(",") if tag.strip()]


class AIModelForm(forms.ModelForm):
    tags = TagsField(required=False, help_text="Comma-separated, e.g. health, tabular.")

    class Meta:
        model = AIModel
        fields = ["organization", "name", "slug", "task", "summary", "tags", "listed", "model_card"]


class VersionUploadForm(forms.ModelForm):
    """Upload a version: the file is streamed, hashed and queued for validation on save."""

    upload = forms.FileField(label="Artifact", help_text="A .joblib/.pkl or .skops file.")
    format = forms.ChoiceField(
        choices=[("", "From the file name"), *ArtifactFormat.choices], required=False
    )

    class Meta:
        model = ModelVersion
        fields = ["model", "version", "format"]

    def __init__(self, *args, user=None, too_large=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.too_large = too_large
        self.uploaded = None

    def _clean_fields(self):
        super()._clean_fields()
        if self.too_large:
            self.errors.pop("upload", None)
            limit_mb = settings.FILE_UPLOAD_MAX_BYTES / 1024 / 1024
            self.add_error("upload", f"The file is over the {limit_mb:.0f} MB limit.")

    def _post_clean(self):
        super()._post_clean()
        if self.errors:
            return
        upload = self.cleaned_data["upload"]
        try:
            self.uploaded = services.version_upload(
                model=self.cleaned_data["model"],
                version=self.cleaned_data["version"],
                fileobj=upload,
                filename=upload.name,
                fmt=self.cleaned_data.get("format") or None,
                uploaded_by=self.user,
            )
        except ValidationError as exc:
            for field, errors in exc.error_dict.items():
                target = "upload" if field == "artifact" else field
                self.add_error(target if target in self.fields else None, errors)
