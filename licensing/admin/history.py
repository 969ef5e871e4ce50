"""The history pages of tenant admins (django-simple-history): who changed what, when, and the
before and after of each field, in words.

Scoping and read-only pages come from ``portal.history_admin.TenantHistoryMixin`` (another
organization's history answers 404; reverting is off, a POST to a record's page answers 403:
changes go through the change page and its service). This module adds the "What changed"
column: values as a person reads them (choices by label, relations by name, amounts in their
currency), and the user named without a link to the superusers' user admin.
"""

from __future__ import annotations

from django.core.exceptions import FieldDoesNotExist
from django.utils.text import capfirst
from simple_history.admin import SimpleHistoryAdmin

from portal.history_admin import TenantHistoryMixin
from portal.service_admin import ServiceAdmin
from portal.tenancy import TenantAdminMixin

HIDDEN = {"id", "updated_at", "created_at"}  # bookkeeping, not a change anyone made


class TenantHistoryAdmin(TenantAdminMixin, TenantHistoryMixin, SimpleHistoryAdmin, ServiceAdmin):
    """A tenant admin whose rows keep their history (who, when, before and after): the pages
    scoped and read-only by ``portal.history_admin.TenantHistoryMixin``, the changes in words."""

    object_history_list_template = "admin/licensing/object_history_list.html"
    history_list_display = []  # "What changed" is a column of the template above

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
