"""Organization scoping for the admin: one mixin that every tenant ModelAdmin uses.

A tenant admin names the lookup from its model to ``portal.Organization`` in ``tenant_field``
("organization", "model__organization", or "pk" for Organization itself) and the role that
writes in ``tenant_write_role`` (default manager). A user's memberships give two scopes:

- the *view scope*: organizations where the user holds any role;
- an admin's (or inline's) *write scope*: organizations where the user holds at least its
  ``tenant_write_role``.

The mixin then scopes:

- the changelist, search, date hierarchy and object URLs to the view scope (another
  organization's change, delete and history URLs answer 404); a row outside the write scope
  opens read-only and a POST to it answers 403;
- foreign-key and many-to-many choices of add, change and inline forms to the write scope of
  the form's admin: its organizations, other tenant models' rows there (through their own
  admin's queryset), and users who are members there. Django checks a submitted value
  against these choices, so one outside them is a form error ("Select a valid choice");
- autocomplete: Django asks the target model's admin, naming the source model of the form;
  the answer is the write scope of the tenant admins and inlines that edit that model (the
  strictest role if several do), and nothing for a model no tenant form edits;
- actions: each one receives the selection narrowed to the write scope, with a message
  counting the rows left out (actions that need only the view permission get it whole);
- list filters on relations (only related rows that the scoped rows use);
- inlines (``TenantInlineMixin``), and permissions by role: viewers only view, managers write,
  owners also manage members (``tenant_write_role``).

Superusers see and change everything. Admins must not use ``raw_id_fields`` (its widget looks
rows up without scoping) or ``list_editable`` (the changelist saves every listed row, the
read-only ones included), and must write through services (``portal.service_admin.ServiceAdmin``);
system checks enforce that.
"""

from __future__ import annotations

import functools

from django.apps import apps
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core import checks
from django.db.models import Model, QuerySet
from django.http import Http404

from portal.choices import Role
from portal.models import Organization
from portal.selectors import organization_ids_for
from portal.service_admin import ServiceAdmin

_ROLE_ORDER = Role.at_least(Role.VIEWER)  # weakest first


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


def write_role_for(admin_site, model) -> Role | None:
    """The role that writes ``model`` through the site's tenant admins and inlines.

    The strictest one if several edit it; None when no tenant form edits it.
    """
    roles = []
    for model_admin in admin_site._registry.values():
        if not isinstance(model_admin, TenantAdminMixin):
            continue
        if model_admin.model is model and not model_admin.tenant_read_only:
            roles.append(model_admin.tenant_write_role)
        roles += [
            inline.tenant_write_role
            for inline in model_admin.inlines
            if inline.model is model and issubclass(inline, TenantInlineMixin)
        ]
    return max(roles, key=_ROLE_ORDER.index) if roles else None


class _TenantScoping:
    """What the ModelAdmin and inline mixins share: choices limited to the write scope."""

    tenant_field: str = "organization"
    tenant_write_role: Role = Role.MANAGER
    # A read-only tenant admin (rows the chain writes) has no form: autocomplete asked on behalf
    # of its model serves nothing.
    tenant_read_only: bool = False

    def _is_super(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def _related_queryset(self, request, related_model) -> QuerySet | None:
        """Rows of ``related_model`` this form may point at: those of its write scope."""
        if self._is_super(request):
            return None
        org_ids = _org_ids(request, self.tenant_write_role)
        if related_model is Organization:
            return Organization.objects.filter(pk__in=org_ids)
        if related_model is get_user_model():
            members = get_user_model().objects.filter(memberships__organization_id__in=org_ids)
            return members.distinct()
        related_admin = self.admin_site._registry.get(related_model)
        if isinstance(related_admin, TenantAdminMixin):
            return _scope(related_admin.get_queryset(request), related_admin.tenant_field, org_ids)
        return None

    def _scope_choices(self, db_field, request, kwargs: dict) -> dict:
        scoped = self._related_queryset(request, db_field.remote_field.model)
        if scoped is None:
            return kwargs
        if "queryset" in kwargs:  # an admin's own choices are narrowed too, never widened
            scoped = kwargs["queryset"].filter(pk__in=scoped.values("pk"))
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
        if not self._asked_by_autocomplete(request):
            return _scope(queryset, self.tenant_field, _org_ids(request, Role.VIEWER))
        role = self._autocomplete_write_role(request)
        if role is None:
            return queryset.none()
        return _scope(queryset, self.tenant_field, _org_ids(request, role))

    def _asked_by_autocomplete(self, request) -> bool:
        match = getattr(request, "resolver_match", None)
        return match is not None and match.view_name == f"{self.admin_site.name}:autocomplete"

    def _autocomplete_write_role(self, request) -> Role | None:
        """The write role of the form that asks: Django's view names its source model."""
        try:
            source = apps.get_model(request.GET["app_label"], request.GET["model_name"])
        except (KeyError, LookupError, ValueError):
            return None  # Django's view refuses the request too
        return write_role_for(self.admin_site, source)

    def writable_queryset(self, request, queryset: QuerySet) -> QuerySet:
        """Narrow a (scoped) queryset to rows the user may change; actions get this."""
        if self._is_super(request):
            return queryset
        return _scope(queryset, self.tenant_field, _org_ids(request, self.tenant_write_role))

    def get_actions(self, request):
        actions = super().get_actions(request)
        if self._is_super(request):
            return actions
        return {
            name: (_write_scoped_action(func), name, description)
            for name, (func, _, description) in actions.items()
        }

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
        if self.list_editable:
            errors.append(
                checks.Error(
                    "Tenant admins must not use list_editable (the changelist saves every "
                    "listed row, the rows of organizations the user only views included).",
                    obj=self.__class__,
                    id="portal.E002",
                )
            )
        if not isinstance(self, ServiceAdmin):
            errors.append(
                checks.Error(
                    "Tenant admins write through the app's services: subclass ServiceAdmin.",
                    obj=self.__class__,
                    id="portal.E003",
                )
            )
        return errors


def _write_scoped_action(func):
    """Wrap an admin action so it receives only the selected rows the user may change."""
    permissions = set(getattr(func, "allowed_permissions", ()))
    if permissions and permissions <= {"view"}:
        return func  # it only reads

    @functools.wraps(func)
    def write_scoped(model_admin, request, queryset):
        writable = model_admin.writable_queryset(request, queryset)
        left_out = queryset.count() - writable.count()
        if left_out:
            model_admin.message_user(
                request,
                f"{left_out} selected row(s) belong to organizations where you may not make "
                "changes; they were left as they are.",
                messages.WARNING,
            )
        return func(model_admin, request, writable)

    return write_scoped


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
