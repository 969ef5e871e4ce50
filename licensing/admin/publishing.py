"""Publishing to chain in the admin.

- ``PublishToChainMixin`` (mixed into the model tokenomics admin): the "Publish to chain…"
  action and a button on a model's page, both leading to a page where staff pick one or more
  networks and see what each would queue; a "Publishing" section on the model's page lists the
  newest step per network and target with its status. Managers and owners publish; viewers see
  no button, and their POSTs answer 403.
- ``PublishStepAdmin``: every step (read-only), its status badge (queued, sent, mined, confirmed
  by the sync, failed with the decoded reason) and a "Retry" action for failed ones.

Badges of steps still on their way refresh themselves (``static/js/live-badges.js`` polls
``status/``, the same way the version badges do).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from licensing.admin.status import TxStatusFilter
from licensing.choices import PublishStepStatus
from licensing.models import ModelTokenomics, PublishStep
from licensing.services import publishing as services
from licensing.services.status import INDEXED, tx_status, with_indexed
from portal.live_badges import SCRIPT as LIVE_BADGES_SCRIPT
from portal.live_badges import asked_ids, badge_states, live_badge
from portal.selectors import organization_ids_for
from portal.service_admin import ServiceAdmin, error_text
from portal.tenancy import TenantAdminMixin

LIVE = (PublishStepStatus.QUEUED, PublishStepStatus.SENT, PublishStepStatus.MINED)
STATUS_URL = "admin:licensing_publishstep_status"


def step_badge(step: PublishStep, status: str, reason: str = ""):
    """The status as a badge; a step still on its way refreshes itself (``portal.live_badges``)."""
    return live_badge(
        "publish-badge",
        status,
        PublishStepStatus(status).label,
        pk=step.pk,
        status_url=reverse(STATUS_URL) if status in LIVE else "",
        reason=reason,
    )


def step_target(step: PublishStep) -> str:
    """What the step sets, for people: the offer's tier, the version, or the kind."""
    if step.offer_id:
        return step.offer.tier_name
    if step.version_id:
        return step.version.version
    return step.payload.get("function", "")


# --- the model's page: publish to one or more networks ---


class PublishToChainMixin:
    """The publishing action, button, page and section of the model tokenomics admin."""

    change_form_template = "admin/licensing/modeltokenomics/change_form.html"
    publish_template = "admin/licensing/modeltokenomics/publish.html"

    def has_publish_permission(self, request, obj=None) -> bool:
        return self.has_change_permission(request, obj)

    @admin.action(description="Publish to chain…", permissions=["publish"])
    def publish_to_chain(self, request, queryset):
        """Pick networks (and see what each would queue), then queue it."""
        rows = list(queryset.select_related("model__organization"))
        if request.POST.get("post") == "yes" and self._publish(request, rows):
            return None  # back to the changelist, with the messages
        return self._publish_page(request, rows, action=True)

    def publish_view(self, request, object_id):
        """The button's page: the same as the action, for one model."""
        tokenomics = self.get_object(request, object_id)  # 404 outside the user's organizations
        if not self.has_publish_permission(request, tokenomics):
            raise PermissionDenied
        if request.method == "POST" and self._publish(request, [tokenomics]):
            return redirect("admin:licensing_modeltokenomics_change", tokenomics.pk)
        return self._publish_page(request, [tokenomics], action=False)

    def changelist_view(self, request, extra_context=None):
        action = request.POST.get("action") if request.method == "POST" else None
        if action == "publish_to_chain" and not self.has_publish_permission(request):
            raise PermissionDenied
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        tokenomics = self.get_object(request, object_id)
        if tokenomics is not None:
            extra_context["publishing_rows"] = [
                {
                    "network": view.step.network.name,
                    "kind": view.step.get_kind_display(),
                    "target": step_target(view.step),
                    "status": step_badge(view.step, view.status, view.reason),
                    "when": view.step.created_at,
                }
                for view in services.latest_steps(model=tokenomics.model)
            ]
            if self.has_publish_permission(request, tokenomics):
                url = reverse("admin:licensing_modeltokenomics_publish", args=[tokenomics.pk])
                extra_context["publish_url"] = url
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        publish = self.admin_site.admin_view(self.publish_view)
        return [
            path("<path:object_id>/publish/", publish, name="licensing_modeltokenomics_publish"),
            *super().get_urls(),
        ]

    def _chosen_networks(self, request):
        ids = [pk for pk in request.POST.getlist("network") if pk.isdigit()]
        return list(services.publishable_networks().filter(pk__in=ids))

    def _publish(self, request, rows: list[ModelTokenomics]) -> bool:
        """Queue publishing of ``rows`` on the chosen networks; False when none was chosen."""
        networks = self._chosen_networks(request)
        if not networks:
            self.message_user(request, "Pick at least one network.", messages.ERROR)
            return False
        for network in networks:

            def publish(tokenomics, network=network):
                steps = services.model_publish(
                    model=tokenomics.model, network=network, by=request.user
                )
                return steps or False

            self.act_with_service(
                request,
                rows,
                publish,
                done=f"{network.name}: queued what the chain lacks of {{count}} {{items}}; "
                "the steps are listed on each model's page.",
                unchanged=f"{network.name}: {{count}} {{items}} already as configured on "
                "chain; nothing queued.",
            )
        return True

    def _publish_page(self, request, rows: list[ModelTokenomics], *, action: bool):
        networks = list(services.publishable_networks())
        previews = [
            (row, [(network, _preview(row, network)) for network in networks]) for row in rows
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Publish to chain",
            "opts": self.model._meta,
            "networks": networks,
            "chosen": {int(pk) for pk in request.POST.getlist("network") if pk.isdigit()},
            "previews": previews,
            "action": action,
            "selected": [row.pk for row in rows],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, self.publish_template, context)


def _preview(tokenomics: ModelTokenomics, network) -> dict:
    """What publishing would queue on ``network`` (nothing is written), or why it cannot."""
    try:
        calls = services.model_publish_plan(model=tokenomics.model, network=network)
    except ValidationError as exc:
        return {"error": error_text(exc)}
    return {"calls": [call.describe() for call in calls]}


# --- the steps ---


@admin.register(PublishStep)
class PublishStepAdmin(TenantAdminMixin, ServiceAdmin):
    """Publishing steps are written by the publishing service only: this admin reads them and
    retries failed ones."""

    tenant_read_only = True

    tenant_field = "model__organization"
    list_display = ["step", "model", "network_name", "status", "tx_hash", "created_at"]
    list_filter = [TxStatusFilter, "kind", "network", "model"]
    list_select_related = ["model", "network", "offer", "version", "transaction", "requested_by"]
    search_fields = ["model__name", "offer__tier_name", "version__version", "transaction__tx_hash"]
    fields = [
        "model",
        "network",
        "kind",
        "target",
        "status",
        "function",
        "payload",
        "tx_hash",
        "block_number",
        "requested_by",
        "created_at",
    ]
    readonly_fields = fields
    actions = ["retry"]

    class Media:
        js = [LIVE_BADGES_SCRIPT]

    def get_queryset(self, request):
        return with_indexed(super().get_queryset(request))

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # the view permission opens the read-only page

    def has_delete_permission(self, request, obj=None):
        return False

    def has_retry_permission(self, request) -> bool:
        if self._is_super(request):
            return True
        return bool(organization_ids_for(user=request.user, min_role=self.tenant_write_role))

    def save_with_service(self, request, obj, form, change):
        raise PermissionDenied  # never reached: nobody may change a step

    @admin.action(description="Retry failed steps (once the cause is fixed)", permissions=["retry"])
    def retry(self, request, queryset):
        self.act_with_service(
            request,
            queryset.order_by("pk"),  # in publishing order: a version after its model's entry
            lambda step: services.step_retry(step=step, by=request.user) or False,
            done="Queued {count} new attempt(s).",
            unchanged="{count} step(s) need nothing any more: the chain has their state.",
        )

    def get_urls(self):
        status = self.admin_site.admin_view(self.status_view)
        return [
            path("status/", status, name="licensing_publishstep_status"),
            *super().get_urls(),
        ]

    def status_view(self, request):
        """``GET status/?id=1&id=2``: statuses of steps the user may view (for the badges)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        steps = self.get_queryset(request).filter(pk__in=asked_ids(request))
        return badge_states(
            (view.step.pk, view.status, view.status_label, view.status in LIVE, view.reason)
            for view in services.step_views(steps)
        )

    def _status(self, obj) -> tuple[str, str]:
        return tx_status(obj.transaction, obj.network, is_indexed=getattr(obj, INDEXED, None))

    @admin.display(description="Status")
    def status(self, obj):
        return step_badge(obj, *self._status(obj))

    @admin.display(description="Sets")
    def target(self, obj):
        return step_target(obj)

    @admin.display(description="Step")
    def step(self, obj):
        return f"{obj.get_kind_display()}: {step_target(obj)}"

    @admin.display(description="Network", ordering="network__name")
    def network_name(self, obj):
        return obj.network.name

    @admin.display(description="Call")
    def function(self, obj):
        tx = obj.transaction
        return f"{tx.contract_name}.{tx.function}"

    @admin.display(description="Transaction")
    def tx_hash(self, obj):
        tx_hash = obj.transaction.tx_hash
        if not tx_hash:
            return "-"
        explorer = obj.network.explorer_url
        if explorer:
            url = f"{explorer.rstrip('/')}/tx/{tx_hash}"
            return format_html('<a href="{}" rel="noopener">{}…</a>', url, tx_hash[:12])
        return format_html('<code title="{}">{}…</code>', tx_hash, tx_hash[:12])

    @admin.display(description="Block")
    def block_number(self, obj):
        return obj.transaction.block_number or "-"
