"""django-simple-history's admin views inside a tenant admin: scoped, and read-only.

``SimpleHistoryAdmin`` (3.13) looks the object of its history page up with ``get_queryset``
and, when that misses, takes it from the (unscoped) history table, so another organization's
history URL answered 403 after reading its rows; its per-record page (``history/<id>/``) reads
the history table directly and saves a POST (a "revert") without asking for the change
permission and without the service. ``TenantHistoryMixin`` goes before ``SimpleHistoryAdmin``
in the bases (``class A(TenantAdminMixin, TenantHistoryMixin, SimpleHistoryAdmin,
ServiceAdmin)``) and makes both pages

- look the object up through the tenant admin's ``get_object`` first (404 outside the user's
  organizations, like the change page); a deleted object's history page stays open to the
  staff of the organization its last record names (and to superusers);
- read-only: reverting is off, a POST to a record's page answers 403, and its fields are shown
  as text (a change is made on the change page, through the service, so its rules hold);
- name who made a change as text: the user admin it used to link to is for superusers only.
"""

from __future__ import annotations

from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from portal.choices import Role
from portal.selectors import organization_ids_for
from portal.tenancy import organization_of

_VIEW_ONLY = "_history_view_only"


class TenantHistoryMixin:
    """Scope simple-history's pages like the tenant admin's own (see the module doc)."""

    object_history_list_template = "admin/tenant_object_history_list.html"

    def history_view(self, request, object_id, extra_context=None):
        try:
            self.get_object(request, unquote(object_id))  # 404 outside the user's organizations
        except Http404:
            if not self._deleted_in_scope(request, unquote(object_id)):
                raise
        return super().history_view(request, object_id, extra_context)

    def _deleted_in_scope(self, request, object_id) -> bool:
        """Whether a deleted object's last record belongs to the user's organizations."""
        history = getattr(self.model, self.model._meta.simple_history_manager_attribute)
        try:
            last = history.filter(**{self.model._meta.pk.attname: object_id}).latest()
        except (history.model.DoesNotExist, ValueError, ValidationError):
            return False
        if self._is_super(request):
            return True
        viewable = organization_ids_for(user=request.user, min_role=Role.VIEWER)
        return organization_of(last.instance, self.tenant_field) in viewable

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self.get_object(request, unquote(object_id))  # 404 outside the user's organizations
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
