"""Writes of the licensing app that staff start: queueing reconciliation with the chain.

(Projections themselves change only through the chain: ``licensing.projections``.)
"""

from __future__ import annotations

from django.db import transaction

from chain.models import Network


def reconcile_enqueue(*, network: Network) -> None:
    """Queue a reconciliation of ``network`` once the transaction commits."""
    from licensing.tasks import reconcile_task  # the task module imports this one

    network_id = network.pk
    transaction.on_commit(lambda: reconcile_task.delay(network_id))


def reconcile_enqueue_all() -> int:
    """Queue a reconciliation of every active network with deployments; returns how many."""
    networks = list(Network.objects.filter(is_active=True, deployments__isnull=False).distinct())
    for network in networks:
        reconcile_enqueue(network=network)
    return len(networks)
