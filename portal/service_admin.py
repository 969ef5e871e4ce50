"""The admin's one write path: forms, saves, deletes and actions call the app's services.

``ServiceAdmin`` is the base of every tenant admin (``TenantAdminMixin`` checks it):

- Saving. Its form (a ``ServiceModelForm``) copies the submitted values onto the object and
  then, still inside form validation, calls the admin's ``save_with_service(request, obj, form,
  change)``, which hands the cleaned data to the app's service and returns the saved row. The
  service is the one place of the rules: the form runs no model validation of its own. A
  ``ValidationError`` the service raises becomes form errors (``{"field": ...}`` on that field
  when the form shows it, everything else above the form), so a refused save re-renders the
  page instead of answering 500, and the service's savepoint leaves nothing behind. A change
  page that is shown again after a POST rolls back whatever that POST wrote.
- Deleting. ``delete_with_service(request, obj)`` (default: ``obj.delete()``) serves the delete
  page and "Delete selected"; a ``ValidationError`` becomes an error message.
- Actions. ``act_with_service`` loops over the selected rows, calls a service per row in its own
  savepoint, turns a ``ValidationError`` into an error message naming the row, and reports
  how many rows changed. Services that start background work enqueue it with
  ``transaction.on_commit``; admin code never calls ``.delay``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.utils import model_ngettext
from django.core.exceptions import (
    NON_FIELD_ERRORS,
    FieldDoesNotExist,
    ImproperlyConfigured,
    ValidationError,
)
from django.db import router, transaction
from django.db.models import Model
from django.forms.models import construct_instance
from django.shortcuts import redirect
from django.utils.text import capfirst


def _label(model: type[Model] | None, name: str) -> str:
    if model is not None:
        try:
            return capfirst(model._meta.get_field(name).verbose_name)
        except FieldDoesNotExist:
            pass
    return capfirst(name.replace("_", " "))


def add_service_errors(
    form: forms.BaseForm, error: ValidationError, field_map: dict[str, str] | None = None
) -> None:
    """Put a service's ``ValidationError`` on ``form``: a key the form shows on its field (after
    ``field_map``, service names to form names), any other key above the form, named."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    model = getattr(getattr(form, "_meta", None), "model", None)
    for key, errors in error.error_dict.items():
        target = (field_map or {}).get(key, key)
        if target in form.fields:
            form.add_error(target, errors)
        elif key == NON_FIELD_ERRORS:
            form.add_error(None, errors)
        else:
            label = _label(model, key)
            form.add_error(None, [f"{label}: {message}" for e in errors for message in e.messages])


def error_text(error: ValidationError) -> str:
    """A ``ValidationError`` as one line for a message."""
    if hasattr(error, "error_dict"):
        parts = []
        for key, errors in error.error_dict.items():
            text = " ".join(message for e in errors for message in e.messages)
            parts.append(text if key == NON_FIELD_ERRORS else f"{_label(None, key)}: {text}")
        return " ".join(parts)
    return " ".join(error.messages)


class ServiceModelForm(forms.ModelForm):
    """A ModelForm whose validation ends with the save: the bound service writes the row.

    ``ServiceAdmin.get_form`` binds ``save_with_service``; ``service_error_fields`` maps keys of
    the service's errors to the form's fields where their names differ.
    """

    service_error_fields: dict[str, str] = {}
    save_with_service: Callable[[ServiceModelForm], Model] | None = None

    def _post_clean(self):
        try:
            self.instance = construct_instance(
                self, self.instance, self._meta.fields, self._meta.exclude
            )
        except ValidationError as exc:
            add_service_errors(self, exc, self.service_error_fields)
        if self.errors:
            return
        if self.save_with_service is None:
            raise ImproperlyConfigured(
                f"{type(self).__name__} saves through a service: use it from a ServiceAdmin"
            )
        try:
            with transaction.atomic():
                saved = self.save_with_service()
        except ValidationError as exc:
            add_service_errors(self, exc, self.service_error_fields)
        else:
            self.instance = saved

    def save(self, commit=True):
        """The service saved the row during validation; nothing is written again."""
        if self.errors:
            raise ValueError(f"{type(self).__name__} did not validate; nothing was saved")
        return self.instance

    def save_m2m(self):
        pass  # relations are the service's business too


_SAVED = "_service_admin_saved"


class _ServiceRefused(Exception):
    def __init__(self, error: ValidationError):
        super().__init__(error_text(error))
        self.error = error


class ServiceAdmin(admin.ModelAdmin):
    """A ModelAdmin that writes only through the app's services (see the module doc)."""

    form = ServiceModelForm

    def save_with_service(self, request, obj: Model, form: ServiceModelForm, change: bool) -> Model:
        """Hand ``form.cleaned_data`` to the app's service; return the saved row."""
        raise NotImplementedError(f"{type(self).__name__} must define save_with_service()")

    def delete_with_service(self, request, obj: Model) -> None:
        """Delete one row (an admin whose rows carry rules calls its service here)."""
        obj.delete()

    # --- saving ---

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        if not issubclass(form_class, ServiceModelForm):
            raise ImproperlyConfigured(f"{type(self).__name__}'s form must be a ServiceModelForm")
        model_admin = self

        def save(form):
            return model_admin.save_with_service(request, form.instance, form, change)

        return type(form_class.__name__, (form_class,), {"save_with_service": save})

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
            return super().changeform_view(request, object_id, form_url, extra_context)
        with transaction.atomic(using=router.db_for_write(self.model)):
            response = self._changeform_view(request, object_id, form_url, extra_context)
            if not getattr(request, _SAVED, False):  # the form is shown again: keep no writes
                transaction.set_rollback(True)
        return response

    def save_model(self, request, obj, form, change):
        # The service saved it while the form validated; Django calls this once the form and
        # its inlines are all valid, so the POST's writes may stay.
        setattr(request, _SAVED, True)

    def save_formset(self, request, form, formset, change):
        """Inlines of a service admin are read-only: their writes would bypass the service."""
        if formset.deleted_forms or any(f.has_changed() for f in formset.forms):
            raise ImproperlyConfigured(
                f"{type(formset).__name__} changed rows without a service; make it read-only"
            )
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    # --- deleting ---

    def delete_model(self, request, obj):
        try:
            self.delete_with_service(request, obj)
        except ValidationError as exc:
            raise _ServiceRefused(exc) from None  # rolls the delete page's transaction back

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except _ServiceRefused as refused:
            self.message_user(request, f"Not deleted: {refused}", messages.ERROR)
            opts = self.opts
            return redirect(f"admin:{opts.app_label}_{opts.model_name}_change", object_id)

    def delete_queryset(self, request, queryset):
        self.act_with_service(
            request,
            queryset,
            lambda obj: self.delete_with_service(request, obj),
            done="Deleted {count} {items}.",
            before=lambda obj: self.log_deletions(request, [obj]),
        )

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            _, name, description = actions["delete_selected"]
            actions["delete_selected"] = (_delete_selected_with_service, name, description)
        return actions

    # --- actions ---

    def act_with_service(
        self,
        request,
        objects: Iterable[Model],
        service: Callable[[Model], object],
        *,
        done: str,
        unchanged: str = "",
        before: Callable[[Model], object] | None = None,
    ) -> int:
        """Call ``service(obj)`` for each row, each in its own savepoint; report the count.

        ``done`` and ``unchanged`` are formatted with ``count`` and ``items`` (the model's
        name, singular or plural by the count). A service that returns ``False`` left its row
        as it was (``unchanged``).
        """
        changed = same = 0
        for obj in objects:
            try:
                with transaction.atomic():
                    if before is not None:
                        before(obj)
                    result = service(obj)
            except ValidationError as exc:
                self.message_user(request, f"{obj}: {error_text(exc)}", messages.ERROR)
                continue
            if result is False:
                same += 1
            else:
                changed += 1
        if changed or not same:
            level = messages.SUCCESS if changed else messages.WARNING
            items = model_ngettext(self.opts, changed)
            self.message_user(request, done.format(count=changed, items=items), level)
        if same and unchanged:
            items = model_ngettext(self.opts, same)
            self.message_user(request, unchanged.format(count=same, items=items), messages.INFO)
        return changed


def _delete_selected_with_service(modeladmin, request, queryset):
    """Django's "Delete selected" (its confirmation page), deleting row by row by service."""
    if not request.POST.get("post"):
        return delete_selected(modeladmin, request, queryset)
    _, _, perms_needed, protected = modeladmin.get_deleted_objects(queryset, request)
    if perms_needed or protected:
        return delete_selected(modeladmin, request, queryset)  # its page explains why not
    modeladmin.delete_queryset(request, queryset)
    return None


_delete_selected_with_service.allowed_permissions = ("delete",)
_delete_selected_with_service.short_description = delete_selected.short_description
