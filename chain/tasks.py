from celery import shared_task

from chain.choices import TxStatus
from chain.models import Network, OutboundTransaction
from chain.sender import outbox_process


@shared_task(name="chain.outbox_send", ignore_result=True)
def outbox_send_task(network_id: int) -> None:
    """Run the outbox sender for one network; come back while transactions are open."""
    network = Network.objects.get(pk=network_id)
    result = outbox_process(network=network)
    still_open = OutboundTransaction.objects.filter(
        network=network, status__in=[TxStatus.PENDING, TxStatus.SUBMITTED]
    ).exists()
    if result.leased and still_open:
        outbox_send_task.apply_async(args=[network_id], countdown=5)


@shared_task(name="chain.outbox_sweep", ignore_result=True)
def outbox_sweep_task() -> None:
    """Periodic safety net: wake the sender of every network with open transactions."""
    open_networks = (
        OutboundTransaction.objects.filter(status__in=[TxStatus.PENDING, TxStatus.SUBMITTED])
        .values_list("network_id", flat=True)
        .distinct()
    )
    for network_id in open_networks:
        outbox_send_task.delay(network_id)


@shared_task(name="chain.sync_network", ignore_result=True)
def chain_sync_task(network_id: int) -> None:
    """Index one network's events up to its head."""
    from chain.sync import sync_network

    sync_network(network=Network.objects.get(pk=network_id))


@shared_task(name="chain.sync_all", ignore_result=True)
def chain_sync_all_task() -> None:
    """Periodic: queue a sync of every active network with deployments."""
    networks = Network.objects.filter(is_active=True, deployments__isnull=False).distinct()
    for network_id in networks.values_list("pk", flat=True):
        chain_sync_task.delay(network_id)
