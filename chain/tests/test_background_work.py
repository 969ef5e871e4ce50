"""Tasks and admin actions of the chain app: tasks fetch by id and call one service; actions
call services that queue work once the transaction commits (never before)."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from chain import services, tasks
from chain.choices import TxStatus
from chain.models import Deployment, Network, OutboundTransaction

ANVIL_KEY_0 = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # public test key
)
ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


class Sent(list):
    """What was handed to the broker: (task name, args, countdown)."""


@pytest.fixture
def sent(monkeypatch):
    """Record tasks sent to the broker instead of sending them (the edge we do not own)."""
    record = Sent()

    def fake(task):
        def apply_async(args=(), countdown=None, **options):
            record.append((task.name, list(args), countdown))

        return apply_async

    for task in (tasks.outbox_send_task, tasks.chain_sync_task):
        apply_async = fake(task)
        monkeypatch.setattr(task, "apply_async", apply_async)
        monkeypatch.setattr(task, "delay", lambda *args, _send=apply_async: _send(args))
    return record


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _network(name: str, chain_id: int, *, deployed=True, active=True) -> Network:
    network = Network.objects.create(name=name, chain_id=chain_id, is_active=active)
    if deployed:
        Deployment.objects.create(
            network=network, contract_name="ModelRegistry", address=ADDRESS, deploy_block=1,
            code_hash="0x" + "00" * 32,
        )  # fmt: skip
    return network


def _open_transaction(network: Network, key: str) -> OutboundTransaction:
    return OutboundTransaction.objects.create(
        network=network, idempotency_key=key, sender=ADDRESS, to=ADDRESS, data="0x",
        status=TxStatus.PENDING,
    )  # fmt: skip


def test_sync_now_queues_once_the_transaction_commits(
    client, make_staff, sent, django_capture_on_commit_callbacks
):
    network = _network("probe", 99_001)
    client.force_login(make_staff(superuser=True))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            reverse("admin:chain_network_changelist"),
            {"action": "sync_now", ACTION_CHECKBOX_NAME: [network.pk]},
        )
    assert response.status_code == 302
    assert sent == []  # nothing before the commit
    for callback in callbacks:
        callback()

    assert sent == [("chain.sync_network", [network.pk], None)]


def test_sync_all_queues_active_networks_with_deployments(sent, db, run_on_commit):
    wanted = _network("probe", 99_001)
    _network("idle", 99_002, active=False)
    _network("empty", 99_003, deployed=False)

    with run_on_commit():  # a worker runs tasks in autocommit: on_commit runs at once
        tasks.chain_sync_all_task()

    assert sent == [("chain.sync_network", [wanted.pk], None)]


def test_the_sweep_wakes_senders_of_networks_with_open_transactions(sent, db, run_on_commit):
    busy, _quiet = _network("busy", 99_001), _network("quiet", 99_002)
    _open_transaction(busy, "a")
    _open_transaction(busy, "b")

    with run_on_commit():
        tasks.outbox_sweep_task()

    assert sent == [("chain.outbox_send", [busy.pk], None)]


@pytest.mark.parametrize("open_rows", [0, 1])
def test_the_sender_task_comes_back_while_transactions_are_open(
    sent, db, settings, run_on_commit, open_rows
):
    settings.CHAIN_OPERATOR_KEY = ANVIL_KEY_0
    settings.CHAIN_RPC_URLS = {"nowhere": "http://127.0.0.1:9"}  # no node: the run ends early
    network = _network("nowhere", 99_001)
    for index in range(open_rows):
        _open_transaction(network, f"k{index}")

    with run_on_commit():
        tasks.outbox_send_task(network.pk)

    expected = [("chain.outbox_send", [network.pk], services.SENDER_COME_BACK_AFTER)]
    assert sent == (expected if open_rows else [])


def test_retry_queues_the_sender_after_commit(
    client, make_staff, sent, django_capture_on_commit_callbacks
):
    network = _network("probe", 99_001)
    row = _open_transaction(network, "failed")
    OutboundTransaction.objects.filter(pk=row.pk).update(status=TxStatus.FAILED)
    client.force_login(make_staff(superuser=True))

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:chain_outboundtransaction_changelist"),
            {"action": "retry", ACTION_CHECKBOX_NAME: [row.pk]},
        )

    assert OutboundTransaction.objects.get(pk=row.pk).status == TxStatus.PENDING
    assert sent == [("chain.outbox_send", [network.pk], None)]
