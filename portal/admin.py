from django.contrib import admin, messages
from django.db.models import Count
from django.utils.html import format_html

from portal import services
from portal.choices import Role
from portal.forms import ApiKeyCreateForm, MembershipChangeForm, MembershipInviteForm
from portal.models import ApiKey, Membership, Organization
from portal.tenancy import TenantAdminMixin, TenantInlineMixin

admin.site.site_header = "Model Licensing Portal"
admin.site.site_title = "Model Licensing Portal admin"
admin.site.index_title = "Your organizations"


class MembershipInline(TenantInlineMixin, admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = ["user", "created_at"]
    tenant_write_role = Role.OWNER

    def has_add_permission(self, request, obj=None):
        return False  # members are invited from the membership page, by e-mail


@admin.register(Organization)
class OrganizationAdmin(TenantAdminMixin, admin.ModelAdmin):
    tenant_field = "pk"
    tenant_write_role = Role.OWNER
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

    def save_model(self, request, obj, form, change):
        if obj.treasury_address:
            obj.treasury_address = services.normalize_eth_address(obj.treasury_address)
        super().save_model(request, obj, form, change)


@admin.register(Membership)
class MembershipAdmin(TenantAdminMixin, admin.ModelAdmin):
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

    def save_model(self, request, obj, form, change):
        if change:
            services.membership_set(organization=obj.organization, user=obj.user, role=obj.role)
            return
        membership = services.membership_invite(
            organization=form.cleaned_data["organization"],
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
        )
        obj.pk = membership.pk
        obj.user = membership.user


@admin.register(ApiKey)
class ApiKeyAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = [
        "name", "prefix_shown", "organization", "owner", "scope_list", "state",
        "expires_at", "last_used_at", "created_at",
    ]  # fmt: skip
    list_filter = ["organization", "revoked_at"]
    list_select_related = ["organization", "owner"]
    search_fields = ["name", "prefix", "organization__name", "owner__email"]
    autocomplete_fields = ["organization"]
    actions = ["revoke_keys"]
    readonly_fields = [
        "organization", "owner", "name", "prefix", "scopes", "expires_at",
        "last_used_at", "revoked_at", "created_at",
    ]  # fmt: skip

    @admin.display(description="Key")
    def prefix_shown(self, obj):
        return f"mlp_{obj.prefix}_…"

    @admin.display(description="Scopes")
    def scope_list(self, obj):
        return ", ".join(obj.scopes)

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

    def save_model(self, request, obj, form, change):
        issued = services.api_key_create(
            organization=form.cleaned_data["organization"],
            owner=request.user,
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            expires_at=form.cleaned_data.get("expires_at"),
        )
        obj.pk = issued.api_key.pk
        messages.warning(
            request,
            format_html(
                "Copy this key now; it is shown only once: <code>{}</code>", issued.raw_key
            ),
        )

    def log_addition(self, request, obj, message):
        obj.refresh_from_db()
        return super().log_addition(request, obj, message)

    @admin.action(description="Revoke selected keys", permissions=["revoke"])
    def revoke_keys(self, request, queryset):
        revoked = 0
        for api_key in queryset:  # the tenant mixin narrows it to writable rows
            revoked += services.api_key_revoke(api_key=api_key)  # a conditional update: no errors
        self.message_user(request, f"Revoked {revoked} key(s).", messages.SUCCESS)

    def has_revoke_permission(self, request):
        return super().has_change_permission(request)
