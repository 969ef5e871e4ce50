"""Organization scoping for the admin: one mixin that every tenant ModelAdmin uses.

A tenant admin names the lookup from its model to ``portal.Organization`` in ``tenant_field``
("organization", "model__organization", or "pk" for Organization itself). The mixin then scopes:

- the changelist, search, date hierarchy and actions (they all start from ``get_queryset``);
- object URLs: change, delete and history of another organization's row answer 404;
- foreign-key and many-to-many choices (organizations the user may write to; other tenant
  models through their own admin's scoped queryset; users who share an organization);
- list filters on relations (only related rows that the scoped rows use);
- autocomplete (Django asks the target model's admin, which is scoped too);
- inlines (``TenantInlineMixin``), and permissions by role: viewers only view, managers write,
  owners also manage members (``tenant_write_role``).

Superusers see and change everything. Admins must not use ``raw_id_fields`` (its widget looks
rows up without scoping); a system check enforces that.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core import checks
from django.db.models import Model, QuerySet
from django.http import Http404

from portal.choices import Role
from portal.models import Organization
from portal.selectors import organization_ids_for


def _org_ids(request, min_role: Role) -> set[int]:
    return organization_ids_for(user=request.user, min_role=min_role)


def _scope(queryset: QuerySet, tenant_field: str, org_ids: set[int]) -> QuerySet:
    return queryset.filter(**{f"{tenant_field}__in": org_ids})


def organization_of(obj: Model, tenant_field: str) -> int | None:
    """The organization id a row belongs to, following ``tenant_field``."""
    if tenant_field == "pk":
        return obj.pk
    target = obj
    parts = tenant_field.split("__")
    for part in parts[:-1]:
        target = getattr(target, part, None)
        if target is None:
            return None
    return getattr(target, f"{parts[-1]}_id", None)


class _TenantScoping:
    """What the ModelAdmin and inline mixins share: choices limited to the user's organizations."""

    tenant_field: str = "organization"
    tenant_write_role: Role = Role.MANAGER

    def _is_super(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def _related_queryset(self, request, related_model) -> QuerySet | None:
        if self._is_super(request):
            return None
        if related_model is Organization:
            return Organization.objects.filter(pk__in=_org_ids(request, self.tenant_write_role))
        if related_model is get_user_model():
            return (
                get_user_model()
                .objects.filter(memberships__organization_id__in=_org_ids(request, Role.VIEWER))
                .distinct()
            )
        related_admin = self.admin_site._registry.get(related_model)
        if isinstance(related_admin, TenantAdminMixin):
            return related_admin.get_queryset(request)
        return None

    def _scope_choices(self, db_field, request, kwargs: dict) -> dict:
        if "queryset" not in kwargs:
            scoped = self._related_queryset(request, db_field.remote_field.model)
            if scoped is not None:
                kwargs["queryset"] = scoped
        return kwargs

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs = self._scope_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs = self._scope_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class TenantAdminMixin(_TenantScoping):
    """Scope a ModelAdmin to the organizations the signed-in staff member belongs to."""

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if self._is_super(request):
            return queryset
        return _scope(queryset, self.tenant_field, _org_ids(request, Role.VIEWER))

    def writable_queryset(self, request, queryset: QuerySet) -> QuerySet:
        """Narrow a (scoped) queryset to rows the user may change; actions start from this."""
        if self._is_super(request):
            return queryset
        return _scope(queryset, self.tenant_field, _org_ids(request, self.tenant_write_role))

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such object in your organizations.")
        return obj

    # Permissions come from roles, not from Django's per-model permissions.
    def has_module_permission(self, request):
        return self._is_super(request) or bool(_org_ids(request, Role.VIEWER))

    def has_view_permission(self, request, obj=None):
        if self._is_super(request):
            return True
        if obj is None:
            return bool(_org_ids(request, Role.VIEWER))
        return organization_of(obj, self.tenant_field) in _org_ids(request, Role.VIEWER)

    def has_add_permission(self, request, *args):
        return self._is_super(request) or bool(_org_ids(request, self.tenant_write_role))

    def has_change_permission(self, request, obj=None):
        if self._is_super(request):
            return True
        writable = _org_ids(request, self.tenant_write_role)
        if obj is None:
            return bool(writable)
        return organization_of(obj, self.tenant_field) in writable

    def has_delete_permission(self, request, obj=None):
        return self.has_change_permission(request, obj)

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, self.writable_queryset(request, queryset))

    def get_list_filter(self, request):
        """Filters on relations list only related rows that the user's own rows use."""
        filters = []
        for item in super().get_list_filter(request):
            if isinstance(item, str) and self._is_relation(item):
                item = (item, admin.RelatedOnlyFieldListFilter)
            filters.append(item)
        return filters

    def _is_relation(self, path: str) -> bool:
        model = self.model
        field = None
        for part in path.split("__"):
            field = model._meta.get_field(part)
            model = field.related_model
            if model is None:
                break
        return field is not None and field.is_relation

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if self.tenant_field == "organization" and not self._is_super(request):
            writable = _org_ids(request, self.tenant_write_role)
            if len(writable) == 1:
                initial.setdefault("organization", next(iter(writable)))
        return initial

    def check(self, **kwargs):
        errors = super().check(**kwargs)
        if self.raw_id_fields:
            errors.append(
                checks.Error(
                    "Tenant admins must use autocomplete_fields, not raw_id_fields "
                    "(the raw id widget looks rows up without organization scoping).",
                    obj=self.__class__,
                    id="portal.E001",
                )
            )
        return errors


class TenantInlineMixin(_TenantScoping):
    """Inlines follow their parent's organization: choices scoped, writes by role."""

    def _parent_writable(self, request, obj) -> bool:
        if self._is_super(request):
            return True
        parent_admin = self.admin_site._registry.get(self.parent_model)
        if obj is None or parent_admin is None:
            return bool(_org_ids(request, self.tenant_write_role))
        return parent_admin.has_change_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return self._parent_writable(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._parent_writable(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._parent_writable(request, obj)

    def has_view_permission(self, request, obj=None):
        return self._is_super(request) or bool(_org_ids(request, Role.VIEWER))
