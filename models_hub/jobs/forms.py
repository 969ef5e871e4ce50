"""The "New job" form of the batch-job pages: a version the caller may run, a file, and an
idempotency key (a fresh one per rendered form, so a double submit makes one job).

The form checks only what it shows (a choice, a file); the rules of the input and the right
live once, in ``models_hub.jobs.services``: a ``DomainError`` it raises becomes form errors
(``add_domain_error``) with its stable code, naming the row and column a detail points at.
"""

from __future__ import annotations

import uuid
from itertools import groupby

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from licensing.errors import CreditErrorCode, EntitlementErrorCode
from models_hub.errors import JobErrorCode, ModelsErrorCode
from models_hub.jobs.selectors import Runnable
from models_hub.jobs.services import JobSource
from models_hub.models import ModelVersion
from portal.errors import DomainError

ACCEPT = ".csv,.parquet,.pq,text/csv"

# Refusals about the right to run the version go on the version field; the idempotency key's on
# the form; every other refusal is about the file.
_VERSION_ERRORS = (EntitlementErrorCode,)
_VERSION_CODES = {
    CreditErrorCode.INSUFFICIENT_CREDITS,
    ModelsErrorCode.VERSION_NOT_PUBLISHED,
    ModelsErrorCode.MODEL_UNAVAILABLE,
}
_FORM_CODES = {CreditErrorCode.IDEMPOTENCY_KEY_REUSED}
_MESSAGES = {
    CreditErrorCode.IDEMPOTENCY_KEY_REUSED: (
        "This form was sent before with another file or version: send it again."
    ),
}


def fresh_key() -> str:
    return uuid.uuid4().hex


class JobForm(forms.Form):
    version = forms.TypedChoiceField(
        label="Model version",
        coerce=int,
        empty_value=None,
        help_text="The published versions you may run now: your licenses, passes and credits.",
    )
    file = forms.FileField(
        label="Input file (CSV or Parquet)",
        widget=forms.FileInput(attrs={"accept": ACCEPT}),
        allow_empty_file=True,  # the service refuses it, with its code (empty_file)
        help_text="One column per feature of the version (their names as the header), and an "
        "optional id column. The quote below appears once the file is chosen.",
    )
    idempotency_key = forms.CharField(
        widget=forms.HiddenInput, max_length=255, required=False, initial=fresh_key
    )

    def __init__(self, *args, runnable: list[Runnable], too_large: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.runnable = {item.version.pk: item for item in runnable}
        self.too_large = too_large
        field = self.fields["version"]
        field.choices = [("", "Choose a version…")] + [
            (group, [(item.version.pk, _option(item)) for item in items])
            for group, items in groupby(runnable, key=_group)
        ]

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if self.too_large:
            raise ValidationError(
                JobErrorCode.FILE_TOO_LARGE.message, code=JobErrorCode.FILE_TOO_LARGE.code
            )
        return upload

    def full_clean(self):
        # the size handler dropped the file: say so, not "this field is required"
        if self.too_large and self.is_bound:
            self.fields["file"].required = False
        super().full_clean()

    @property
    def chosen(self) -> Runnable | None:
        return self.runnable.get(self.cleaned_data.get("version"))

    @property
    def chosen_version(self) -> ModelVersion:
        return self.chosen.version

    def source(self) -> JobSource:
        """The upload as a job's input (``DomainError``: not a .csv or .parquet, empty, large)."""
        return JobSource.of_upload(self.cleaned_data["file"])

    def sent_key(self) -> str | None:
        return self.cleaned_data.get("idempotency_key") or None

    def with_fresh_key(self) -> JobForm:
        """Shown again (after an error): a new key, so the next send may make a job."""
        if self.is_bound:
            self.data = self.data.copy()
            self.data[self.add_prefix("idempotency_key")] = fresh_key()
        return self

    def problems(self) -> list[dict]:
        """Every error as {field label, message, code}, the form's own first."""
        labels = {name: field.label for name, field in self.fields.items()}
        out = []
        for name, errors in sorted(self.errors.as_data().items(), key=lambda i: i[0] != "__all__"):
            for error in errors:
                for message in error.messages:
                    out.append(
                        {
                            "field": labels.get(name, ""),
                            "message": message,
                            "code": error.code or "",
                        }
                    )
        return out


def _group(item: Runnable) -> str:
    model = item.version.model
    return f"{model.organization.name} · {model.name}"


def _option(item: Runnable) -> str:
    right = item.right_label
    if item.right.kind == "credits":
        right = f"your credits ({item.right.credits:,} available)"
    return f"{item.version.model.name} {item.version.version} — {right}"


def add_domain_error(form: JobForm, error: DomainError) -> None:
    """A service's refusal as an error on the field it is about, with its stable code."""
    code = error.error
    if code in _FORM_CODES:
        field = NON_FIELD_ERRORS
    elif isinstance(code, _VERSION_ERRORS) or code in _VERSION_CODES:
        field = "version"
    else:
        field = "file"
    message = _MESSAGES.get(code, error.message)
    where = _where(error.details)
    if where and where.lower() not in message.lower():
        message = f"{message} ({where})"
    form.add_error(
        None if field == NON_FIELD_ERRORS else field, ValidationError(message, code.code)
    )


def _where(details: list) -> str:
    """'row 12, column "mean radius"' for a detail's ``rows.12.mean radius``."""
    for item in details:
        parts = (item.get("field") or "").split(".", 2)
        if parts[0] == "rows" and len(parts) > 1 and parts[1].isdigit():
            if len(parts) > 2:
                return f"row {parts[1]}, column {parts[2]!r}"
            return f"row {parts[1]}"
    return ""
