"""Chain admin: platform-wide rows (networks, deployments, the outbox), for superusers only."""

from django.contrib import admin, messages

from chain import services
from chain.models import (
    BlockRecord,
    Deployment,
    IndexedEvent,
    Network,
    OutboundTransaction,
    Reorg,
    SenderState,
    SyncCursor,
)
from chain.paginators import CappedCountPaginator


class PlatformAdmin(admin.ModelAdmin):
    """Networks and the outbox belong to the platform, not to an organization."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser


def _queue_sync(networks) -> int:
    """Queue a sync of each network (the service enqueues once the transaction commits)."""
    networks = list(networks)
    for network in networks:
        services.chain_sync_enqueue(network=network)
    return len(networks)


@admin.register(Network)
class NetworkAdmin(PlatformAdmin):
    list_display = ["name", "chain_id", "confirmation_depth", "is_active", "rpc_configured"]
    search_fields = ["name", "chain_id"]
    actions = ["sync_now"]

    @admin.action(description="Sync now")
    def sync_now(self, request, queryset):
        count = _queue_sync(queryset.order_by("pk"))
        self.message_user(request, f"Queued a sync of {count} network(s).", messages.SUCCESS)

    @admin.display(boolean=True, description="RPC URL set")
    def rpc_configured(self, obj):
        return bool(obj.rpc_url)


@admin.register(Deployment)
class DeploymentAdmin(PlatformAdmin):
    list_display = ["contract_name", "network", "address", "deploy_block", "deployed_at"]
    list_filter = ["network", "contract_name"]
    search_fields = ["address", "contract_name"]
    readonly_fields = [f.name for f in Deployment._meta.fields]

    def has_add_permission(self, request):
        return False  # `manage.py deploy_contracts` records deployments


@admin.register(SenderState)
class SenderStateAdmin(PlatformAdmin):
    list_display = ["address", "network", "next_nonce", "lease_owner", "lease_expires_at"]
    readonly_fields = ["network", "address", "next_nonce", "lease_owner", "lease_expires_at"]

    def has_add_permission(self, request):
        return False


@admin.register(OutboundTransaction)
class OutboundTransactionAdmin(PlatformAdmin):
    list_display = [
        "id", "network", "contract_name", "function", "status", "nonce", "short_hash",
        "attempts", "revert_reason", "created_at",
    ]  # fmt: skip
    list_filter = ["status", "network", "contract_name"]
    search_fields = ["idempotency_key", "tx_hash", "function"]
    list_select_related = ["network"]
    show_full_result_count = False
    actions = ["retry"]
    readonly_fields = [f.name for f in OutboundTransaction._meta.fields]

    @admin.display(description="Tx")
    def short_hash(self, obj):
        return f"{obj.tx_hash[:12]}…" if obj.tx_hash else "-"

    def has_add_permission(self, request):
        return False  # rows come from services.enqueue_call

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Retry failed or reverted transactions")
    def retry(self, request, queryset):
        count = sum(services.outbox_retry(row=row) for row in queryset)
        left = len(queryset) - count
        self.message_user(request, f"Queued {count} transaction(s) again.", messages.SUCCESS)
        if left:
            message = (
                f"{left} selected transaction(s) had not failed or reverted; left as they are."
            )
            self.message_user(request, message, messages.INFO)


class ReadOnlyPlatformAdmin(PlatformAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(IndexedEvent)
class IndexedEventAdmin(ReadOnlyPlatformAdmin):
    list_display = ["block_number", "log_index", "contract_name", "name", "final", "short_tx"]
    list_filter = ["network", "contract_name", "name", "final"]
    search_fields = ["tx_hash", "=block_number"]
    paginator = CappedCountPaginator
    show_full_result_count = False
    list_select_related = ["network"]

    @admin.display(description="Tx")
    def short_tx(self, obj):
        return f"{obj.tx_hash[:12]}…"


@admin.register(SyncCursor)
class SyncCursorAdmin(ReadOnlyPlatformAdmin):
    list_display = ["contract_name", "network", "last_block", "head_seen", "lag", "updated_at"]
    list_filter = ["network"]
    actions = ["sync_now"]

    @admin.display(description="Blocks behind")
    def lag(self, obj):
        return obj.lag

    @admin.action(description="Sync now")
    def sync_now(self, request, queryset):
        count = _queue_sync(Network.objects.filter(pk__in=queryset.values("network_id")))
        self.message_user(request, f"Queued a sync of {count} network(s).", messages.SUCCESS)


@admin.register(Reorg)
class ReorgAdmin(ReadOnlyPlatformAdmin):
    list_display = [
        "network",
        "fork_block",
        "changed_block",
        "depth",
        "events_removed",
        "detected_at",
    ]
    list_filter = ["network"]


@admin.register(BlockRecord)
class BlockRecordAdmin(ReadOnlyPlatformAdmin):
    list_display = ["network", "number", "hash"]
    list_filter = ["network"]
