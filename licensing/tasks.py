"""Celery tasks of the licensing app: each takes ids, fetches, and calls one service."""

from celery import shared_task

from chain.models import Network
from licensing import services
from licensing.reconcile import reconcile


@shared_task(name="licensing.reconcile", ignore_result=True)
def reconcile_task(network_id: int) -> None:
    """Compare one network's projections with the chain's views."""
    reconcile(network=Network.objects.get(pk=network_id))


@shared_task(name="licensing.reconcile_all", ignore_result=True)
def reconcile_all_task() -> None:
    """Periodic: reconcile every active network that has deployments."""
    services.reconcile_enqueue_all()


@shared_task(name="licensing.settle_usage", ignore_result=True)
def settle_usage_task(network_id: int) -> None:
    """Close one network's unsettled usage receipts into a period and queue its burns."""
    from licensing.services.settlement import settle_network

    settle_network(network=Network.objects.get(pk=network_id))


@shared_task(name="licensing.settle_usage_all", ignore_result=True)
def settle_usage_all_task() -> None:
    """Periodic: settle usage on every active network with deployments (one task each)."""
    networks = Network.objects.filter(is_active=True, deployments__isnull=False).distinct()
    for network_id in networks.values_list("pk", flat=True):
        settle_usage_task.delay(network_id)


@shared_task(name="licensing.credits_release_expired", ignore_result=True)
def credits_release_expired_task() -> None:
    """Periodic: release credit reservations left open past CREDIT_RESERVATION_TTL."""
    from licensing.services.credits import credits_release_expired

    credits_release_expired()


@shared_task(name="licensing.idempotency_purge", ignore_result=True)
def idempotency_purge_task() -> None:
    """Periodic: delete idempotency keys older than IDEMPOTENCY_KEY_TTL."""
    from licensing.idempotency import idempotency_purge

    idempotency_purge()


@shared_task(name="licensing.governance_tally")
def governance_tally_task() -> dict:
    """Beat: tally the proposals whose voting window closed (published, queued on chain), and
    apply the executions the chain mined (or fail the proposals whose execution failed)."""
    from licensing import governance

    return {
        "tallied": governance.proposals_tally_due(),
        "finished": governance.governance_finish(),
    }
