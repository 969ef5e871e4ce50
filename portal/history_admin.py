"""django-simple-history's admin views inside a tenant admin: scoped, and read-only.

``SimpleHistoryAdmin`` (3.13) looks the object of its history page up with ``get_queryset``
and, when that misses, takes it from the (unscoped) history table, so another organization's
history URL answered 403 after reading its rows; its per-record page (``history/<id>/``) reads
the history table directly and saves a POST (a "revert") without asking for the change
permission and without the service. ``TenantHistoryMixin`` goes before ``SimpleHistoryAdmin``
in the bases (``class A(TenantAdminMixin, TenantHistoryMixin, SimpleHistoryAdmin,
ServiceAdmin)``) and makes both pages

- answer 404 outside the user's organizations, like the change page (a deleted row's history
  is found through its last record, so its organization can still read who deleted it);
- read-only: reverting is off, a POST to a record's page answers 403, and its fields are shown
  as text (a change is made on the change page, through the service, so its rules hold);
- name who made a change as text: the user admin it used to link to is for superusers only;
- say what each record changed, field by field, in words ("Price: 0.05 ETH → 0.06 ETH": choices
  by label, relations by name; admins with amounts override ``history_value``).

``TenantHistoryAdmin`` is the whole stack, for tenant admins whose rows keep their history.
"""

from __future__ import annotations

from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.http import Http404
from django.utils.text import capfirst
from simple_history.admin import SimpleHistoryAdmin

from portal.choices import Role
from portal.selectors import organization_ids_for
from portal.service_admin import ServiceAdmin
from portal.tenancy import TenantAdminMixin, organization_of

_VIEW_ONLY = "_history_view_only"
HIDDEN = {"id", "updated_at", "created_at"}  # bookkeeping, not a change anyone made


class TenantHistoryMixin:
    """Scope simple-history's pages like the tenant admin's own (see the module doc)."""

    object_history_list_template = "admin/tenant_object_history_list.html"
    history_list_display = []  # "What changed" is a column of the template above

    def _history_scope(self, request, object_id) -> None:
        """404 unless the object (or, once deleted, its last record) is in the view scope: a
        deleted row's history stays readable by its organization (who deleted it, and when)."""
        if request.user.is_active and request.user.is_superuser:
            return
        pk = unquote(object_id)
        try:
            if self.get_queryset(request).filter(pk=pk).exists():
                return
            last = self.model.history.filter(id=pk).order_by("-history_date").first()
        except (ValueError, ValidationError):
            last = None
        viewable = organization_ids_for(user=request.user, min_role=Role.VIEWER)
        if last is None or organization_of(last.instance, self.tenant_field) not in viewable:
            raise Http404("No such object in your organizations.")

    def history_view(self, request, object_id, extra_context=None):
        self._history_scope(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._history_scope(request, object_id)
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied("History is read-only: change the row on its own page.")
        setattr(request, _VIEW_ONLY, True)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request, obj=None):
        return True

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not getattr(request, _VIEW_ONLY, False):
            return fields
        if self.fieldsets:
            shown = flatten_fieldsets(self.fieldsets)
        else:
            shown = self.fields or [f.name for f in self.model._meta.fields if f.editable]
        return fields + [name for name in shown if name not in fields]

    # --- "What changed" ---

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=True):
        """Describe each record of the page against the one before it (the page's oldest
        record is compared with its previous record: one query)."""
        records = list(historical_records)
        for index, record in enumerate(records):
            older = records[index + 1] if index + 1 < len(records) else None
            record.what_changed = self.describe_change(record, older)

    def describe_change(self, record, older=None) -> str:
        """What ``record`` changed, field by field: ``Price: 0.05 ETH → 0.06 ETH``."""
        if record.history_type == "+":
            return "created"
        if record.history_type == "-":
            return "deleted"
        older = older if older is not None else record.prev_record
        if older is None:
            return "changed (no earlier record)"
        parts = []
        for field in record.tracked_fields:  # every tracked field, those services keep too
            old, new = getattr(older, field.attname), getattr(record, field.attname)
            if field.name in HIDDEN or old == new:
                continue
            before = self.history_value(older, field.name, old)
            after = self.history_value(record, field.name, new)
            parts.append(f"{capfirst(field.verbose_name)}: {before} → {after}")
        return "; ".join(parts) or "no change"

    def history_value(self, record, name: str, value) -> str:
        """A value as a person reads it (choices by label, relations by name); admins with
        amounts override this."""
        if value is None or value == "":
            return "—"
        if isinstance(value, bool):
            return "yes" if value else "no"
        try:
            field = self.model._meta.get_field(name)
        except FieldDoesNotExist:
            return str(value)
        if field.choices:
            return str(dict(field.flatchoices).get(value, value))
        if field.is_relation:
            related = field.related_model.objects.filter(pk=value).first()
            return str(related) if related is not None else f"#{value} (deleted)"
        return str(value)


class TenantHistoryAdmin(TenantAdminMixin, TenantHistoryMixin, SimpleHistoryAdmin, ServiceAdmin):
    """A tenant admin whose rows keep their history (who, when, before and after): its pages
    scoped and read-only, the changes in words, its writes through services."""
