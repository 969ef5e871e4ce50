"""Licensing state as the chain has it (read-only; platform-wide until offers are tied to
organizations' models by the tokenomics issue, when these admins become tenant-scoped)."""

from django.contrib import admin, messages

from chain.admin import ReadOnlyPlatformAdmin
from chain.models import Network
from chain.paginators import CappedCountPaginator
from licensing import services
from licensing.models import (
    ChainModel,
    ChainOffer,
    CreditEntry,
    Holding,
    License,
    Mismatch,
    Payment,
    PublishedVersion,
    VaultEntry,
)


class ProjectionAdmin(ReadOnlyPlatformAdmin):
    """Projections change only through the chain."""

    paginator = CappedCountPaginator
    show_full_result_count = False


@admin.register(ChainModel)
class ChainModelAdmin(ProjectionAdmin):
    list_display = ["model_id", "publisher", "metadata_uri", "network"]
    search_fields = ["model_id", "publisher"]


@admin.register(PublishedVersion)
class PublishedVersionAdmin(ProjectionAdmin):
    list_display = ["model_id", "version", "label", "artifact_sha256", "model_version"]
    search_fields = ["model_id", "artifact_sha256"]
    list_select_related = ["model_version__model"]


@admin.register(ChainOffer)
class ChainOfferAdmin(ProjectionAdmin):
    list_display = ["token_id", "kind", "price", "currency", "duration", "active", "network"]
    list_filter = ["kind", "active", "network"]
    search_fields = ["model_id", "=token_id"]


@admin.register(License)
class LicenseAdmin(ProjectionAdmin):
    list_display = ["holder", "token_id", "expires_at", "revoked", "network"]
    list_filter = ["revoked", "network"]
    search_fields = ["holder", "=token_id"]


@admin.register(Holding)
class HoldingAdmin(ProjectionAdmin):
    list_display = ["holder", "token_id", "balance", "network"]
    list_filter = ["network"]
    search_fields = ["holder", "=token_id"]


@admin.register(CreditEntry)
class CreditEntryAdmin(ProjectionAdmin):
    list_display = ["holder", "token_id", "delta", "receipt_root", "network"]
    search_fields = ["holder"]


@admin.register(Payment)
class PaymentAdmin(ProjectionAdmin):
    list_display = ["model_id", "currency", "amount", "fee", "to_payees", "to_holders"]
    search_fields = ["model_id"]


@admin.register(VaultEntry)
class VaultEntryAdmin(ProjectionAdmin):
    list_display = ["account", "kind", "amount", "currency", "model_id"]
    list_filter = ["kind"]
    search_fields = ["account"]


@admin.register(Mismatch)
class MismatchAdmin(ProjectionAdmin):
    list_display = [
        "kind",
        "key",
        "projected",
        "on_chain",
        "block_number",
        "detected_at",
        "resolved_at",
    ]
    list_filter = ["kind", "network", "resolved_at"]
    actions = ["reconcile_now"]

    @admin.action(description="Reconcile these networks now")
    def reconcile_now(self, request, queryset):
        networks = Network.objects.filter(pk__in=queryset.values("network_id")).order_by("pk")
        for network in networks:
            services.reconcile_enqueue(network=network)
        self.message_user(
            request, f"Queued a reconciliation of {len(networks)} network(s).", messages.SUCCESS
        )
