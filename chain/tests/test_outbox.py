"""The transaction outbox against a real anvil node: deploy, idempotency, nonces, reverts,
replacement of stuck transactions, retries with backoff, one sender at a time."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from eth_account import Account
from web3 import Web3

from chain import abi
from chain.choices import TxStatus
from chain.client import web3_for
from chain.deploy import deploy_contracts
from chain.models import Deployment, OutboundTransaction, SenderState, SyncCursor
from chain.sender import outbox_process
from chain.services import ANVIL_CHAIN_ID, IdempotencyConflict, enqueue_call, network_ensure
from chain.sync import sync_network
from chain.testing.devnode import ANVIL, AnvilNode, free_port
from chain.testing.required import require_service

# Anvil's published development key #0 (a public test key, never a secret).
OPERATOR_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
OPERATOR = Account.from_key(OPERATOR_KEY).address
PUBLISHER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # anvil account #1


@pytest.fixture(scope="module")
def node():
    require_service(ANVIL.exists(), "anvil is not installed (npm ci)")
    with AnvilNode() as started:
        yield started


@pytest.fixture
def w3(node):
    node.check()  # still our node: its port was never taken over
    client = web3_for(node.url)
    snapshot = client.provider.make_request("evm_snapshot", [])["result"]
    yield client
    client.provider.make_request("evm_setAutomine", [True])
    client.provider.make_request("evm_revert", [snapshot])


@pytest.fixture
def network(db, settings, node, w3):
    settings.CHAIN_RPC_URLS = {"anvil": node.url}
    settings.CHAIN_OPERATOR_KEY = OPERATOR_KEY
    settings.CHAIN_TX_RECEIPT_WAIT = 5
    return network_ensure(name="anvil")


@pytest.fixture
def deployed(network):
    deploy_contracts(network=network)
    return network


def _register(network, key: str, model: str = "acme/model"):
    return enqueue_call(
        network=network,
        contract_name=abi.REGISTRY,
        function="registerModel",
        args=[Web3.keccak(text=model), PUBLISHER, f"https://portal.example/{model}"],
        idempotency_key=key,
    )


def _registry(w3, network):
    address = Deployment.objects.get(network=network, contract_name=abi.REGISTRY).address
    return abi.contract_at(w3, abi.REGISTRY, address)


def test_deploy_contracts_deploys_once_and_wires_roles(network, w3):
    first = deploy_contracts(network=network)
    nonce = w3.eth.get_transaction_count(OPERATOR)

    second = deploy_contracts(network=network)

    assert first.deployed == [
        abi.REGISTRY,
        abi.REVENUE_VAULT,
        abi.LICENSE_TOKEN,
        abi.PAY_PER_CALL,
        abi.MODEL_GOVERNOR,
    ]
    assert len(first.wired) == 13
    assert second.deployed == []
    assert second.wired == []
    assert w3.eth.get_transaction_count(OPERATOR) == nonce  # the second run sent nothing
    token = Deployment.objects.get(network=network, contract_name=abi.LICENSE_TOKEN)
    vault = abi.contract_at(
        w3, abi.REVENUE_VAULT, Deployment.objects.get(contract_name=abi.REVENUE_VAULT).address
    )
    assert vault.functions.shareToken().call() == token.address
    assert vault.functions.hasRole(abi.DEPOSITOR_ROLE, token.address).call()
    assert Web3.keccak(w3.eth.get_code(token.address)).to_0x_hex() == token.code_hash
    settler = Deployment.objects.get(network=network, contract_name=abi.PAY_PER_CALL)
    assert vault.functions.hasRole(abi.DEPOSITOR_ROLE, settler.address).call()
    pay_per_call = abi.contract_at(w3, abi.PAY_PER_CALL, settler.address)
    assert pay_per_call.functions.hasRole(abi.SETTLER_ROLE, OPERATOR).call()
    assert pay_per_call.functions.vault().call() == vault.address
    # the governor holds what its executions call with; the operator tallies and sets bounds
    governor = Deployment.objects.get(network=network, contract_name=abi.MODEL_GOVERNOR).address
    registry = _registry(w3, network)
    token_contract = abi.contract_at(w3, abi.LICENSE_TOKEN, token.address)
    assert token_contract.functions.hasRole(abi.GOVERNOR_ROLE, governor).call()
    assert vault.functions.hasRole(abi.SPLIT_MANAGER_ROLE, governor).call()
    assert registry.functions.hasRole(abi.REGISTRAR_ROLE, governor).call()
    governor_contract = abi.contract_at(w3, abi.MODEL_GOVERNOR, governor)
    assert governor_contract.functions.hasRole(abi.TALLIER_ROLE, OPERATOR).call()
    assert governor_contract.functions.hasRole(abi.BOUNDS_ROLE, OPERATOR).call()
    assert governor_contract.functions.licenseToken().call() == token.address
    # not the local anvil (a random chain id): no test token
    assert not Deployment.objects.filter(contract_name=abi.TEST_USD3009).exists()


def test_on_the_local_anvil_the_test_eip3009_token_is_deployed_too(db, settings):
    require_service(ANVIL.exists(), "anvil is not installed (npm ci)")
    with AnvilNode(chain_id=ANVIL_CHAIN_ID) as node:
        settings.CHAIN_RPC_URLS = {"local": node.url}
        settings.CHAIN_OPERATOR_KEY = OPERATOR_KEY
        settings.CHAIN_TX_RECEIPT_WAIT = 5
        network = network_ensure(name="local")

        first = deploy_contracts(network=network)
        again = deploy_contracts(network=network)
        stats = sync_network(network=network)

        assert first.deployed == [*abi.CONTRACTS, abi.TEST_USD3009]
        assert (again.deployed, again.wired) == ([], [])
        usdc = Deployment.objects.get(network=network, contract_name=abi.TEST_USD3009)
        token = abi.contract_at(web3_for(node.url), abi.TEST_USD3009, usdc.address)
        assert (token.functions.symbol().call(), token.functions.decimals().call()) == ("TUSDC", 6)
        assert list(token.functions.eip712Domain().call())[1:3] == ["Test USD Coin", "2"]
        # the sync indexes our contracts, never the test token
        cursors = set(SyncCursor.objects.values_list("contract_name", flat=True))
        assert cursors == set(abi.CONTRACTS)
        assert stats.events > 0


def test_a_lost_deployment_is_deployed_again(network, w3):
    deploy_contracts(network=network)
    Deployment.objects.filter(contract_name=abi.REGISTRY).update(code_hash="0x" + "00" * 32)

    report = deploy_contracts(network=network)

    assert report.deployed == [abi.REGISTRY]
    assert "RevenueVault" in report.kept


def test_an_idempotency_key_sends_once(deployed, w3):
    nonce = w3.eth.get_transaction_count(OPERATOR)

    first = _register(deployed, "register:acme/model")
    again = _register(deployed, "register:acme/model")
    outbox_process(network=deployed)
    outbox_process(network=deployed)

    assert first.pk == again.pk
    first.refresh_from_db()
    assert first.status == TxStatus.CONFIRMED
    assert w3.eth.get_transaction_count(OPERATOR) == nonce + 1
    assert _registry(w3, deployed).functions.isRegistered(Web3.keccak(text="acme/model")).call()
    with pytest.raises(IdempotencyConflict):
        _register(deployed, "register:acme/model", model="acme/other")


def test_a_revert_at_estimation_is_recorded_with_its_reason_and_spends_nothing(deployed, w3):
    _register(deployed, "first")
    outbox_process(network=deployed)
    nonce = w3.eth.get_transaction_count(OPERATOR)

    again = _register(deployed, "second")  # the same model id: the registry refuses
    result = outbox_process(network=deployed)

    again.refresh_from_db()
    assert result.reverted == [again.pk]
    assert again.status == TxStatus.REVERTED
    assert again.revert_reason.startswith("ModelAlreadyRegistered(modelId=0x")
    assert w3.eth.get_transaction_count(OPERATOR) == nonce


def test_a_revert_when_mined_is_decoded_by_replaying_it(deployed, w3, settings):
    """The chain moved between the estimate and the block: a rival registrar took the model id
    first (it paid more, so the block puts it first), and the outbox's transaction reverts."""
    settings.CHAIN_TX_RECEIPT_WAIT = 0
    registry = _registry(w3, deployed)
    registry.functions.grantRole(abi.REGISTRAR_ROLE, PUBLISHER).transact({"from": OPERATOR})
    w3.provider.make_request("evm_setAutomine", [False])
    one = _register(deployed, "one")
    outbox_process(network=deployed)  # estimated against the pending state, and sent
    rival = registry.functions.registerModel(
        Web3.keccak(text="acme/model"), PUBLISHER, "https://rival.example/acme/model"
    ).transact({"from": PUBLISHER, "maxPriorityFeePerGas": 10**11, "maxFeePerGas": 10**12})

    w3.provider.make_request("evm_mine", [])
    outbox_process(network=deployed)

    one.refresh_from_db()
    assert w3.eth.get_transaction_receipt(rival)["status"] == 1
    assert one.status == TxStatus.REVERTED
    assert one.revert_reason.startswith("ModelAlreadyRegistered(")
    assert one.block_number == w3.eth.get_transaction_receipt(rival)["blockNumber"]


def test_a_row_that_depends_on_one_sent_in_the_same_tick_is_estimated_after_it(
    deployed, w3, settings
):
    """Estimates see the pending state: a version hash queued right after its model's
    registration passes estimation even while the registration is not mined yet."""
    settings.CHAIN_TX_RECEIPT_WAIT = 0
    w3.provider.make_request("evm_setAutomine", [False])
    model_id = Web3.keccak(text="acme/model")
    register = _register(deployed, "register")
    version = enqueue_call(
        network=deployed,
        contract_name=abi.REGISTRY,
        function="publishVersion",
        args=[model_id, 1, "0x" + "ab" * 32, "1.0.0"],
        idempotency_key="version",
    )

    result = outbox_process(network=deployed)
    w3.provider.make_request("evm_mine", [])
    outbox_process(network=deployed)

    assert result.sent == [register.pk, version.pk]
    register.refresh_from_db()
    version.refresh_from_db()
    assert (register.status, version.status) == (TxStatus.CONFIRMED, TxStatus.CONFIRMED)
    assert _registry(w3, deployed).functions.artifactHashOf(model_id, 1).call() == bytes.fromhex(
        "ab" * 32
    )


def test_a_restarted_sender_recovers_its_nonce_from_the_node(deployed, w3, node):
    # given a transaction sent from the operator key outside the outbox, and lost local state
    outside = Account.from_key(OPERATOR_KEY).sign_transaction(
        {
            "to": PUBLISHER,
            "value": 1,
            "gas": 21_000,
            "chainId": node.chain_id,
            "nonce": w3.eth.get_transaction_count(OPERATOR),
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 10**9,
        }
    )
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(outside.raw_transaction))
    SenderState.objects.filter(address=OPERATOR).update(next_nonce=0, lease_owner="")

    # when the sender starts again
    row = _register(deployed, "after-restart")
    outbox_process(network=deployed)

    # then it used the node's next nonce
    row.refresh_from_db()
    assert row.status == TxStatus.CONFIRMED
    assert row.nonce == w3.eth.get_transaction_count(OPERATOR) - 1
    assert SenderState.objects.get(address=OPERATOR).next_nonce == row.nonce + 1


def test_a_stuck_transaction_is_replaced_with_a_higher_fee_and_tracked(deployed, w3, settings):
    settings.CHAIN_TX_RECEIPT_WAIT = 0
    settings.CHAIN_TX_STUCK_AFTER = 1
    w3.provider.make_request("evm_setAutomine", [False])
    row = _register(deployed, "stuck")
    outbox_process(network=deployed)
    row.refresh_from_db()
    first_hash, first_fee = row.tx_hash, int(row.max_fee_per_gas)

    OutboundTransaction.objects.filter(pk=row.pk).update(
        submitted_at=timezone.now() - timedelta(seconds=5)
    )
    result = outbox_process(network=deployed)
    w3.provider.make_request("evm_mine", [])
    outbox_process(network=deployed)

    row.refresh_from_db()
    assert result.replaced == [row.pk]
    assert row.replaced_hashes == [first_hash]
    assert row.tx_hash != first_hash
    assert int(row.max_fee_per_gas) > first_fee
    assert row.status == TxStatus.CONFIRMED
    assert w3.eth.get_transaction_receipt(row.tx_hash)["status"] == 1


def test_a_transient_error_is_retried_with_backoff(deployed, w3, settings, node):
    row = _register(deployed, "flaky-node")
    settings.CHAIN_RPC_URLS = {"anvil": f"http://127.0.0.1:{free_port()}"}  # nothing listens

    outbox_process(network=deployed)

    row.refresh_from_db()
    assert row.status == TxStatus.PENDING
    assert row.attempts == 1
    assert row.next_attempt_at > timezone.now()
    assert "Connection" in row.last_error

    settings.CHAIN_RPC_URLS = {"anvil": node.url}
    assert outbox_process(network=deployed).sent == []  # not before its backoff ends
    OutboundTransaction.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    outbox_process(network=deployed)
    row.refresh_from_db()
    assert row.status == TxStatus.CONFIRMED


def test_retries_end_in_failed(deployed, settings):
    settings.CHAIN_TX_MAX_ATTEMPTS = 2
    settings.CHAIN_RPC_URLS = {"anvil": f"http://127.0.0.1:{free_port()}"}
    row = _register(deployed, "doomed")

    for _ in range(2):
        OutboundTransaction.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        outbox_process(network=deployed)

    row.refresh_from_db()
    assert row.status == TxStatus.FAILED
    assert row.last_error


def test_only_one_sender_runs_per_address(deployed, w3):
    row = _register(deployed, "leased")
    SenderState.objects.filter(address=OPERATOR).update(
        lease_owner="another-worker", lease_expires_at=timezone.now() + timedelta(minutes=1)
    )

    result = outbox_process(network=deployed)

    assert result.leased is False
    row.refresh_from_db()
    assert row.status == TxStatus.PENDING

    SenderState.objects.filter(address=OPERATOR).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)  # the other worker died
    )
    outbox_process(network=deployed)
    row.refresh_from_db()
    assert row.status == TxStatus.CONFIRMED


def test_a_nonce_used_by_another_transaction_fails_the_row(deployed, w3, settings, node):
    settings.CHAIN_TX_RECEIPT_WAIT = 0
    w3.provider.make_request("evm_setAutomine", [False])
    row = _register(deployed, "overtaken")
    outbox_process(network=deployed)
    row.refresh_from_db()
    # someone holding the same key replaces it in the mempool with a plain transfer
    rival = Account.from_key(OPERATOR_KEY).sign_transaction(
        {
            "to": PUBLISHER,
            "value": 1,
            "gas": 21_000,
            "chainId": node.chain_id,
            "nonce": row.nonce,
            "maxFeePerGas": int(row.max_fee_per_gas) * 3,
            "maxPriorityFeePerGas": int(row.max_priority_fee_per_gas) * 3,
        }
    )
    w3.eth.send_raw_transaction(rival.raw_transaction)
    w3.provider.make_request("evm_mine", [])

    outbox_process(network=deployed)

    row.refresh_from_db()
    assert row.status == TxStatus.FAILED
    assert "nonce used by another transaction" in row.last_error


def test_the_admin_retry_action_queues_a_reverted_row_again(deployed, client, make_staff):
    _register(deployed, "a")
    twin = _register(deployed, "b")
    outbox_process(network=deployed)
    twin.refresh_from_db()
    assert twin.status == TxStatus.REVERTED
    client.force_login(make_staff(superuser=True))

    client.post(
        "/admin/chain/outboundtransaction/",
        {"action": "retry", "_selected_action": [twin.pk]},
    )

    twin.refresh_from_db()
    assert twin.status == TxStatus.PENDING
    assert twin.revert_reason == ""


# --- the commands ---


def test_the_deploy_contracts_command_deploys_once_then_has_nothing_to_do(network):
    first, again = StringIO(), StringIO()

    call_command("deploy_contracts", "--network", "anvil", stdout=first)
    call_command("deploy_contracts", "--network", "anvil", stdout=again)

    assert f"deployed {list(abi.CONTRACTS)}, wired 13" in first.getvalue()
    assert "wiring RevenueVault.grantRole(DEPOSITOR_ROLE)" in first.getvalue()
    assert "every contract is deployed and wired; nothing to do" in again.getvalue()
    assert Deployment.objects.filter(network=network).count() == len(abi.CONTRACTS)


def test_the_deploy_contracts_command_refuses_a_network_without_a_node(db):
    with pytest.raises(CommandError, match="no RPC URL for network 'nowhere'"):
        call_command("deploy_contracts", "--network", "nowhere")


def test_the_outbox_send_command_sends_until_nothing_is_open(deployed):
    row = _register(deployed, "register:by-command")
    out = StringIO()

    call_command("outbox_send", "--network", "anvil", "--until-done", stdout=out)

    row.refresh_from_db()
    assert row.status == TxStatus.CONFIRMED
    assert "sent 1, confirmed 1" in out.getvalue()


def test_the_outbox_send_command_refuses_an_unknown_network(db):
    with pytest.raises(CommandError, match="no network 'nowhere'"):
        call_command("outbox_send", "--network", "nowhere")
