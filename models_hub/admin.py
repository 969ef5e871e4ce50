from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from models_hub import services
from models_hub.cards import render_model_card
from models_hub.choices import VersionStatus
from models_hub.forms import AIModelForm, VersionUploadForm
from models_hub.jobs import admin as jobs_admin  # noqa: F401 - registers the batch jobs' admin
from models_hub.loading import ArtifactTampered
from models_hub.models import AIModel, ModelVersion, PayPerCallOffer
from portal.live_badges import SCRIPT as LIVE_BADGES_SCRIPT
from portal.live_badges import asked_ids, badge_states, live_badge
from portal.service_admin import ServiceAdmin, ServiceModelForm
from portal.tenancy import TenantAdminMixin, TenantInlineMixin
from portal.uploads import oversized_uploads

# Statuses a worker is still working on: their badges ask the admin again until they settle.
LIVE_STATUSES = (VersionStatus.UPLOADED, VersionStatus.VALIDATING)


def status_badge(version: ModelVersion, *, reload_when_settled: bool = False):
    """The status as a coloured badge (static/css/admin.css); live ones refresh themselves
    (``portal.live_badges``), and on the version's own page the page reloads once they settle."""
    live = version.status in LIVE_STATUSES
    return live_badge(
        "version-badge",
        version.status,
        version.get_status_display(),
        pk=version.pk,
        status_url=reverse("admin:models_hub_modelversion_status") if live else "",
        reload_when_settled=reload_when_settled,
    )


def human_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


class ModelVersionInline(TenantInlineMixin, admin.TabularInline):
    model = ModelVersion
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["version", "format", "badge", "size", "sklearn_version", "created_at"]
    readonly_fields = fields

    class Media:
        js = [LIVE_BADGES_SCRIPT]

    @admin.display(description="Status")
    def badge(self, obj):
        return status_badge(obj)

    @admin.display(description="Size")
    def size(self, obj):
        return human_size(obj.size_bytes)

    def has_add_permission(self, request, obj=None):
        return False  # versions are uploaded from their own add page (streamed and hashed)

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AIModel)
class AIModelAdmin(TenantAdminMixin, ServiceAdmin):
    tenant_field = "organization"
    form = AIModelForm
    list_display = ["name", "organization", "task", "listed", "version_count", "ready_count"]
    list_filter = ["task", "listed", "organization"]
    list_select_related = ["organization"]
    search_fields = ["name", "slug", "summary", "organization__name"]
    autocomplete_fields = ["organization"]
    readonly_fields = ["card_preview", "created_at", "updated_at"]
    inlines = [ModelVersionInline]
    fieldsets = [
        (None, {"fields": ["organization", "name", "slug", "task", "summary", "tags", "listed"]}),
        ("Model card", {"fields": ["model_card", "card_preview"]}),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                version_count=Count("versions"),
                ready_count=Count("versions", filter=Q(versions__status=VersionStatus.READY)),
            )
            .order_by("organization__name", "name")
        )

    def get_prepopulated_fields(self, request, obj=None):
        return {"slug": ["name"]} if obj is None else {}

    @admin.display(description="Versions", ordering="version_count")
    def version_count(self, obj):
        return obj.version_count

    @admin.display(description="Ready", ordering="ready_count")
    def ready_count(self, obj):
        return obj.ready_count

    @admin.display(description="Preview (sanitized)")
    def card_preview(self, obj):
        if not obj.model_card:
            return "-"
        return format_html('<div class="model-card">{}</div>', render_model_card(obj.model_card))

    def save_with_service(self, request, obj, form, change):
        if change:
            return services.model_save(model=obj)  # the form's values are on obj
        data = form.cleaned_data
        return services.model_create(
            organization=data["organization"],
            name=data["name"],
            slug=data.get("slug", ""),
            task=data["task"],
            summary=data.get("summary", ""),
            model_card=data.get("model_card", ""),
            tags=data.get("tags", []),
            listed=data.get("listed", False),
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            version_admin = self.admin_site._registry[ModelVersion]
            if version_admin.has_add_permission(request) and self.has_change_permission(
                request, obj
            ):
                add_url = reverse("admin:models_hub_modelversion_add")
                context["add_version_url"] = f"{add_url}?model={obj.pk}"
        return super().render_change_form(request, context, add, change, form_url, obj)


class PublicationFilter(admin.SimpleListFilter):
    title = "publication"
    parameter_name = "published"

    def lookups(self, request, model_admin):
        return [("yes", "Published"), ("no", "Draft (not public)")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(published_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(published_at__isnull=True)
        return queryset


@admin.register(ModelVersion)
class ModelVersionAdmin(TenantAdminMixin, ServiceAdmin):
    tenant_field = "model__organization"
    form = VersionUploadForm
    list_display = [
        "model", "version", "badge", "published", "format_code", "size", "short_sha256",
        "uploaded",
    ]  # fmt: skip
    list_filter = ["status", PublicationFilter, "format", "model"]
    list_select_related = ["model", "model__organization"]
    search_fields = ["version", "model__name", "sha256"]
    autocomplete_fields = ["model"]
    actions = ["revalidate", "publish", "unpublish", "retire", "delete_versions"]
    readonly_fields = [
        "model", "version", "format", "status_on_page", "publication", "rejection_reason",
        "schema_change_text", "download", "sha256", "size", "original_filename",
        "estimator_class", "n_features", "feature_names", "classes", "sklearn_version",
        "uploaded_by_email", "created_at", "validated_at",
    ]  # fmt: skip

    class Media:
        js = [LIVE_BADGES_SCRIPT]

    @admin.display(description="Status", ordering="status")
    def badge(self, obj):
        return status_badge(obj)

    @admin.display(description="Status")
    def status_on_page(self, obj):
        return status_badge(obj, reload_when_settled=True)  # to show the validation's results

    @admin.display(description="Size", ordering="size_bytes")
    def size(self, obj):
        return human_size(obj.size_bytes)

    @admin.display(description="Published", boolean=True, ordering="published_at")
    def published(self, obj):
        return obj.is_published

    @admin.display(description="Publication")
    def publication(self, obj):
        if obj.is_published:
            by = f" by {obj.published_by}" if obj.published_by else ""
            return f"Published {obj.published_at:%Y-%m-%d %H:%M} UTC{by}."
        if obj.status == VersionStatus.READY:
            return "Draft: not public until a manager publishes it (action Publish)."
        return "Not public."

    @admin.display(description="Schema change")
    def schema_change_text(self, obj):
        if obj.schema_change:
            return obj.schema_change_summary
        return "Nothing to compare with (no earlier accepted version)." if obj.is_ready else "-"

    @admin.display(description="sha256")
    def short_sha256(self, obj):
        return format_html('<code title="{}">{}…</code>', obj.sha256, obj.sha256[:8])

    @admin.display(description="Format", ordering="format")
    def format_code(self, obj):
        return obj.format

    @admin.display(description="Uploaded", ordering="created_at")
    def uploaded(self, obj):
        return format_html(
            '<time datetime="{}">{}</time>',
            obj.created_at.isoformat(),
            f"{obj.created_at:%Y-%m-%d}",
        )

    @admin.display(description="Uploaded by")
    def uploaded_by_email(self, obj):
        # text, not a link: a user's own admin page is for superusers only
        return obj.uploaded_by.email if obj.uploaded_by else "-"

    @admin.display(description="Artifact")
    def download(self, obj):
        url = reverse("admin:models_hub_modelversion_download", args=[obj.pk])
        return format_html('<a href="{}">Download {}</a>', url, obj.original_filename or "file")

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        form_class.too_large = "upload" in oversized_uploads(request)
        return form_class

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["model", "version", "upload", "format"]
        return self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def has_change_permission(self, request, obj=None):
        # Versions are immutable; staff act on them through the actions.
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # retire instead: licenses may point at a version

    def has_manage_permission(self, request):
        return super().has_change_permission(request)

    def save_with_service(self, request, obj, form, change):
        data = form.cleaned_data
        return services.version_upload(
            model=data["model"],
            version=data["version"],
            fileobj=data["upload"],
            filename=data["upload"].name,
            fmt=data.get("format") or None,
            uploaded_by=request.user,
        )

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(request, f"Uploaded {obj}: validation runs in a worker.")
        return super().response_add(request, obj, post_url_continue)

    # Actions get only the selected rows the user may change (the tenant mixin narrows them).
    @admin.action(description="Validate again", permissions=["manage"])
    def revalidate(self, request, queryset):
        self.act_with_service(
            request,
            queryset,
            lambda version: services.version_revalidate(version=version),
            done="Queued {count} version(s) for validation.",
            unchanged="{count} version(s) are waiting for validation already or retired.",
        )

    @admin.action(description="Publish (public on a listed model)", permissions=["manage"])
    def publish(self, request, queryset):
        published, not_ready = 0, 0
        for version in queryset:
            try:
                published += services.version_publish(version=version, published_by=request.user)
            except ValidationError:
                not_ready += 1
        self.message_user(request, f"Published {published} version(s).", messages.SUCCESS)
        if not_ready:
            message = f"{not_ready} version(s) are not ready and were not published."
            self.message_user(request, message, messages.WARNING)

    @admin.action(description="Unpublish (back to draft)", permissions=["manage"])
    def unpublish(self, request, queryset):
        count = sum(services.version_unpublish(version=version) for version in queryset)
        self.message_user(request, f"Unpublished {count} version(s).", messages.SUCCESS)

    @admin.action(description="Retire", permissions=["manage"])
    def retire(self, request, queryset):
        self.act_with_service(
            request,
            queryset,
            lambda version: services.version_retire(version=version),
            done="Retired {count} version(s).",
            unchanged="{count} version(s) were retired already.",
        )

    @admin.action(description="Delete rejected or retired versions", permissions=["manage"])
    def delete_versions(self, request, queryset):
        """Ask first (listing what goes and what stays), then delete through the service."""
        if request.POST.get("post") != "yes":
            return TemplateResponse(
                request,
                "admin/models_hub/modelversion/delete_versions.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Delete model versions?",
                    "opts": self.model._meta,
                    "deletable": list(queryset.select_related("model").filter(services.DELETABLE)),
                    "kept": list(queryset.select_related("model").exclude(services.DELETABLE)),
                    "selected": list(queryset.values_list("pk", flat=True)),
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                },
            )
        deleted, kept = 0, []
        for version in queryset:
            try:
                services.version_delete(version=version)
                deleted += 1
            except ValidationError as exc:
                kept.append(exc.messages[0])
        self.message_user(request, f"Deleted {deleted} version(s).", messages.SUCCESS)
        for reason in kept:
            self.message_user(request, reason, messages.WARNING)

    def get_urls(self):
        download = self.admin_site.admin_view(self.download_view)
        status = self.admin_site.admin_view(self.status_view)
        return [
            path("status/", status, name="models_hub_modelversion_status"),
            path("<path:object_id>/download/", download, name="models_hub_modelversion_download"),
            *super().get_urls(),
        ]

    def status_view(self, request):
        """``GET status/?id=1&id=2``: the statuses of versions the user may view (for badges)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        rows = self.get_queryset(request).filter(pk__in=asked_ids(request))
        labels = dict(VersionStatus.choices)
        return badge_states(
            (pk, status, labels[status], status in LIVE_STATUSES, "")
            for pk, status in rows.values_list("pk", "status")
        )

    def download_view(self, request, object_id):
        version = self.get_object(request, object_id)  # 404 outside the user's organizations
        try:
            data = services.artifact_read(version=version)
        except ArtifactTampered:
            self.message_user(
                request,
                "The stored file no longer matches its sha256: it was not served, and the "
                "version is marked tampered.",
                messages.ERROR,
            )
            return redirect("admin:models_hub_modelversion_change", version.pk)
        except FileNotFoundError:
            self.message_user(request, "The stored file is missing.", messages.ERROR)
            return redirect("admin:models_hub_modelversion_change", version.pk)
        response = HttpResponse(data, content_type="application/octet-stream")
        filename = f"{version.model.slug}-{version.version}.{version.format}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["X-Content-Type-Options"] = "nosniff"
        return response


# --- pay per call for agents (x402) ------------------------------------------------------------
class PayPerCallOfferForm(ServiceModelForm):
    class Meta:
        model = PayPerCallOffer
        fields = ["model", "network", "currency", "price", "per_row", "timeout_seconds", "active"]
        help_texts = {
            "price": "In the token's smallest unit: 1000 is 0.001 of a 6-decimals token "
            "(TUSDC, USDC).",
        }


@admin.register(PayPerCallOffer)
class PayPerCallOfferAdmin(TenantAdminMixin, ServiceAdmin):
    """What a model charges AI agents per call over HTTP 402 (managers and owners edit)."""

    tenant_field = "model__organization"
    form = PayPerCallOfferForm
    list_display = ["model", "network", "currency", "price", "per_row", "active", "updated_at"]
    list_filter = ["active", "per_row", "network"]
    list_select_related = ["model", "network", "currency"]
    search_fields = ["model__name"]
    autocomplete_fields = ["model"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "currency":
            from licensing.models import Currency

            kwargs["queryset"] = Currency.objects.filter(eip3009=True, active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_with_service(self, request, obj, form, change):
        from models_hub.x402.services import pay_per_call_offer_save

        return pay_per_call_offer_save(offer=obj, data=form.cleaned_data)
