"""Celery tasks of the chain app: each takes ids, fetches, and calls one service."""

from celery import shared_task

from chain import services
from chain.models import Network


@shared_task(name="chain.outbox_send", ignore_result=True)
def outbox_send_task(network_id: int) -> None:
    """Run the outbox sender for one network (the service queues the next run while needed)."""
    services.outbox_send(network=Network.objects.get(pk=network_id))


@shared_task(name="chain.outbox_sweep", ignore_result=True)
def outbox_sweep_task() -> None:
    """Periodic safety net: wake the sender of every network with open transactions."""
    services.outbox_wake_open()


@shared_task(name="chain.sync_network", ignore_result=True)
def chain_sync_task(network_id: int) -> None:
    """Index one network's events up to its head."""
    from chain.sync import sync_network

    sync_network(network=Network.objects.get(pk=network_id))


@shared_task(name="chain.sync_all", ignore_result=True)
def chain_sync_all_task() -> None:
    """Periodic: queue a sync of every active network with deployments."""
    services.chain_sync_enqueue_all()
