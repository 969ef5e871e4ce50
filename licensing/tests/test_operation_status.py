"""An operation's status follows its transaction: queued, sent, mined, confirmed by the sync,
or failed with a reason (a real outbox and a real node, with mining held back)."""

from __future__ import annotations

from chain.sender import outbox_process
from chain.testing.devnode import free_port
from chain.testing.market import LICENSE_NATIVE
from licensing.choices import PublishStepStatus
from licensing.models import LicenseOperation
from licensing.services.operations import license_grant, license_operation_status
from licensing.tests.test_license_operations import later


def _grant(shop) -> LicenseOperation:
    offer = shop.offers[LICENSE_NATIVE]
    return license_grant(
        offer=offer, holder=shop.env.acct.dave, expires_at=later(shop, 20), by=shop.manager
    )


def _status(operation) -> str:
    operation.refresh_from_db()
    if operation.transaction is not None:
        operation.transaction.refresh_from_db()
    return license_operation_status(operation)[0]


def test_sent_then_mined_then_confirmed(shop, settings):
    settings.CHAIN_TX_RECEIPT_WAIT = 0
    rpc = shop.env.w3.provider
    rpc.make_request("evm_setAutomine", [False])
    try:
        operation = _grant(shop)
        assert _status(operation) == PublishStepStatus.QUEUED

        outbox_process(network=shop.network)
        assert _status(operation) == PublishStepStatus.SENT

        rpc.make_request("evm_mine", [])
        outbox_process(network=shop.network)
        assert _status(operation) == PublishStepStatus.MINED
    finally:
        rpc.make_request("evm_setAutomine", [True])

    shop.sync()
    assert _status(operation) == PublishStepStatus.CONFIRMED


def test_a_transaction_that_could_not_be_sent_says_so(shop, settings):
    operation = _grant(shop)
    settings.CHAIN_RPC_URLS = {"anvil": f"http://127.0.0.1:{free_port()}"}  # nothing listens
    settings.CHAIN_TX_MAX_ATTEMPTS = 1

    outbox_process(network=shop.network)

    operation.refresh_from_db()
    status, reason = license_operation_status(operation)
    assert status == PublishStepStatus.FAILED
    assert reason.startswith("It could not be sent: ")
    assert "Connection" in reason
