"""Reconciliation is queued by services once the transaction commits; tasks call one service."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from chain.models import Deployment, Network
from licensing import tasks
from licensing.models import Mismatch

ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


@pytest.fixture
def sent(monkeypatch):
    """Network ids handed to the broker for reconciliation (instead of sending them)."""
    record = []
    monkeypatch.setattr(tasks.reconcile_task, "delay", record.append)
    return record


def _network(name, chain_id, *, deployed=True):
    network = Network.objects.create(name=name, chain_id=chain_id)
    if deployed:
        Deployment.objects.create(
            network=network, contract_name="LicenseToken", address=ADDRESS, deploy_block=1,
            code_hash="0x" + "00" * 32,
        )  # fmt: skip
    return network


def test_reconcile_now_queues_each_network_once_after_commit(
    client, make_staff, sent, django_capture_on_commit_callbacks
):
    network = _network("probe", 99_001)
    rows = [
        Mismatch.objects.create(
            network=network, kind="balance", key=key, projected="1", on_chain="2", block_number=5
        )
        for key in ("1/a", "1/b")
    ]
    client.force_login(make_staff(superuser=True))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(
            reverse("admin:licensing_mismatch_changelist"),
            {"action": "reconcile_now", ACTION_CHECKBOX_NAME: [row.pk for row in rows]},
        )
    assert sent == []
    for callback in callbacks:
        callback()

    assert sent == [network.pk]


def test_reconcile_all_queues_networks_with_deployments(
    sent, db, django_capture_on_commit_callbacks
):
    wanted = _network("probe", 99_001)
    _network("empty", 99_002, deployed=False)

    with django_capture_on_commit_callbacks(execute=True):  # a worker's autocommit
        tasks.reconcile_all_task()

    assert sent == [wanted.pk]
