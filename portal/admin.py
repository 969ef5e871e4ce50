from django.contrib import admin, messages
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from portal import services
from portal.choices import Role
from portal.forms import (
    ApiKeyCreateForm,
    MembershipChangeForm,
    MembershipInviteForm,
    OrganizationForm,
)
from portal.models import ApiKey, Membership, Organization
from portal.service_admin import ServiceAdmin
from portal.tenancy import TenantAdminMixin, TenantInlineMixin


class MembershipInline(TenantInlineMixin, admin.TabularInline):
    """The members on their organization's page; roles change on each membership's page."""

    model = Membership
    extra = 0
    can_delete = False
    fields = ["member", "role", "created_at"]
    readonly_fields = fields
    tenant_write_role = Role.OWNER

    @admin.display(description="Member")
    def member(self, obj):
        # the membership's page (every member may open it), not the user's (superusers only)
        url = reverse("admin:portal_membership_change", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.user.email or obj.user.get_username())

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")

    def has_add_permission(self, request, obj=None):
        return False  # members are invited from the membership page, by e-mail

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Organization)
class OrganizationAdmin(TenantAdminMixin, ServiceAdmin):
    tenant_field = "pk"
    tenant_write_role = Role.OWNER
    form = OrganizationForm
    list_display = ["name", "slug", "status", "treasury_address", "member_count", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "slug"]
    inlines = [MembershipInline]

    def get_queryset(self, request):
        queryset = super().get_queryset(request).annotate(member_count=Count("memberships"))
        return queryset.order_by("name")  # GROUP BY drops Meta.ordering

    def get_prepopulated_fields(self, request, obj=None):
        return {"slug": ["name"]} if request.user.is_superuser else {}

    @admin.display(description="Members", ordering="member_count")
    def member_count(self, obj):
        return obj.member_count

    def has_add_permission(self, request, *args):
        return request.user.is_superuser  # organizations are onboarded by the platform

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser:
            return ["created_at"]
        return ["slug", "status", "created_at"]

    def save_with_service(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            return services.organization_create(
                name=data["name"],
                slug=data.get("slug", ""),
                treasury_address=data.get("treasury_address", ""),
                status=data["status"],
            )
        return services.organization_update(
            organization=obj,
            name=data["name"],
            treasury_address=data.get("treasury_address", ""),
            slug=data.get("slug"),  # None (unchanged) where the form does not show it
            status=data.get("status"),
        )


@admin.register(Membership)
class MembershipAdmin(TenantAdminMixin, ServiceAdmin):
    tenant_write_role = Role.OWNER
    list_display = ["user_email", "organization", "role", "created_at"]
    list_filter = ["role", "organization"]
    list_select_related = ["user", "organization"]
    search_fields = ["user__email", "organization__name"]
    autocomplete_fields = ["organization"]

    @admin.display(description="E-mail", ordering="user__email")
    def user_email(self, obj):
        return obj.user.email

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = MembershipChangeForm if obj is not None else MembershipInviteForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return ["role"] if obj is not None else ["organization", "email", "role"]

    def get_readonly_fields(self, request, obj=None):
        return []

    def has_delete_permission(self, request, obj=None):
        if obj is not None and services.is_last_owner(membership=obj):
            return False  # an organization keeps at least one owner
        return super().has_delete_permission(request, obj)

    def save_with_service(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            return services.membership_set(
                organization=obj.organization, user=obj.user, role=data["role"]
            )
        return services.membership_invite(
            organization=data["organization"],
            email=data["email"],
            role=data["role"],
            invited_by=request.user,
        )

    def delete_with_service(self, request, obj):
        services.membership_remove(membership=obj)

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(
            request, f"Invited {obj.user.email}: an e-mail with their sign-in link is on its way."
        )
        return super().response_add(request, obj, post_url_continue)


class ApiKeyKindFilter(admin.SimpleListFilter):
    """Superusers tell organizations' keys from customers' own keys (staff see only the former)."""

    title = "belongs to"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [("organization", "An organization"), ("customer", "A customer")]

    def queryset(self, request, queryset):
        if self.value() in ("organization", "customer"):
            return queryset.filter(organization__isnull=self.value() == "customer")
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(TenantAdminMixin, ServiceAdmin):
    """Staff see and make their organizations' keys only (the tenant scoping filters on the
    organization, so a customer's key, which has none, never shows); superusers see all."""

    list_display = [
        "name", "prefix_shown", "belongs_to", "owner", "scope_list", "state",
        "expires_at", "last_used_at", "created_at",
    ]  # fmt: skip
    list_filter = ["organization", "revoked_at"]
    list_select_related = ["organization", "owner"]
    search_fields = ["name", "prefix", "organization__name", "owner__email"]
    autocomplete_fields = ["organization"]
    actions = ["revoke_keys"]
    readonly_fields = [
        "organization", "owner_email", "name", "prefix", "scopes", "expires_at",
        "last_used_at", "revoked_at", "created_at",
    ]  # fmt: skip

    @admin.display(description="Key")
    def prefix_shown(self, obj):
        return f"mlp_{obj.prefix}_…"

    @admin.display(description="Organization", ordering="organization__name")
    def belongs_to(self, obj):
        return obj.organization.name if obj.organization_id else "— (a customer's own key)"

    def get_list_filter(self, request):
        filters = super().get_list_filter(request)
        return [ApiKeyKindFilter, *filters] if self._is_super(request) else filters

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "organization":
            kwargs["required"] = True  # staff keys act for an organization (the service says so)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="Scopes")
    def scope_list(self, obj):
        return ", ".join(obj.scopes)

    @admin.display(description="Owner")
    def owner_email(self, obj):
        return obj.owner.email  # text: the user's own page is for superusers only

    @admin.display(description="State")
    def state(self, obj):
        if obj.revoked_at:
            return format_html('<span class="badge badge-bad">{}</span>', "revoked")
        if not obj.is_usable():
            return format_html('<span class="badge badge-bad">{}</span>', "expired")
        return format_html('<span class="badge badge-ok">{}</span>', "active")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyCreateForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["organization", "name", "scopes", "expires_at"]
        return self.readonly_fields

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)

    def save_with_service(self, request, obj, form, change):
        data = form.cleaned_data
        issued = services.api_key_create(
            organization=data["organization"],
            owner=request.user,
            name=data["name"],
            scopes=data["scopes"],
            expires_at=data.get("expires_at"),
        )
        issued.api_key.raw_key_once = issued.raw_key  # shown by response_add, never stored
        return issued.api_key

    def response_add(self, request, obj, post_url_continue=None):
        messages.warning(
            request,
            format_html(
                "Copy this key now; it is shown only once: <code>{}</code>", obj.raw_key_once
            ),
        )
        return super().response_add(request, obj, post_url_continue)

    @admin.action(description="Revoke selected keys", permissions=["revoke"])
    def revoke_keys(self, request, queryset):
        self.act_with_service(
            request,
            queryset,  # the tenant mixin narrows it to writable rows
            lambda api_key: services.api_key_revoke(api_key=api_key),
            done="Revoked {count} key(s).",
            unchanged="{count} key(s) were revoked already.",
        )

    def has_revoke_permission(self, request):
        return super().has_change_permission(request)
