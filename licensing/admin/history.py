"""The history pages of tenant admins (django-simple-history): who changed what, when, and the
before and after of each field, scoped like the rest of the admin.

simple-history's views need three corrections in a tenant admin:

- its history page falls back to the last historical record of an object the queryset does
  not hold and then answers 403; here another organization's object answers 404 (a deleted
  object's history stays readable by the staff of its organization);
- its revert page (``<id>/history/<history id>/``) saves a POST after checking only the view
  permission; here a POST needs the change permission of the object (and saves through the
  admin's service, like every form of a ``ServiceAdmin``);
- its list shows raw values (ids, atomic amounts) and links the user to the user admin that
  staff may not open; ours says "What changed" in words and names the user.
"""

from __future__ import annotations

from django.contrib.admin.utils import unquote
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.http import Http404
from django.utils.text import capfirst
from simple_history.admin import SimpleHistoryAdmin

from portal.choices import Role
from portal.selectors import organization_ids_for
from portal.service_admin import ServiceAdmin
from portal.tenancy import TenantAdminMixin, organization_of

HIDDEN = {"id", "updated_at", "created_at"}  # bookkeeping, not a change anyone made


class TenantHistoryAdmin(TenantAdminMixin, SimpleHistoryAdmin, ServiceAdmin):
    """A tenant admin whose rows keep their history (who, when, before and after)."""

    object_history_list_template = "admin/licensing/object_history_list.html"
    history_list_display = []  # "What changed" is a column of the template above

    # --- scoping ---

    def _history_scope(self, request, object_id) -> None:
        """404 unless the object (or, once deleted, its last record) is in the view scope."""
        if self._is_super(request):
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
        if request.method == "POST":
            current = self.get_queryset(request).filter(pk=unquote(object_id)).first()
            if current is None or not self.has_change_permission(request, current):
                raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

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
