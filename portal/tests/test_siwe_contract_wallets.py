"""Contract wallets sign in too: EIP-1271 for a deployed wallet, EIP-6492 for one not deployed
yet, both checked against the chain's node (a real anvil with the test wallets deployed)."""

from __future__ import annotations

import pytest
from allauth.socialaccount.models import SocialAccount
from django.core.cache import cache
from eth_abi import encode
from web3 import Web3

from chain import abi
from chain.models import Network
from chain.testing.contracts import deploy_contract
from chain.testing.devnode import free_port
from portal.tests.siwe_kit import Wallet, challenge, verify

MAGIC_6492 = bytes.fromhex("64926492" * 8)


@pytest.fixture
def node(anvil, settings, db):
    cache.clear()
    Network.objects.create(name="siwe-anvil", chain_id=anvil.chain_id, confirmation_depth=1)
    settings.CHAIN_RPC_URLS = {"siwe-anvil": anvil.url}
    return anvil


@pytest.fixture
def w3(node):
    web3 = Web3(Web3.HTTPProvider(node.url))
    assert web3.eth.chain_id == node.chain_id
    return web3


def _sign_in_as(client, address: str, chain_id: int, sign) -> object:
    fields = challenge(client, chain_id, address).json()
    return verify(client, fields["message"], sign(fields["message"]))


def test_a_deployed_contract_wallet_signs_in_through_eip1271(client, node, w3):
    owner = Wallet()
    wallet = deploy_contract(w3, "TestWallet", owner.address, sender=w3.eth.accounts[0])

    response = _sign_in_as(client, wallet.address, node.chain_id, owner.sign)

    assert response.status_code == 200, response.content
    account = SocialAccount.objects.get(provider="siwe")
    assert account.uid == wallet.address
    assert account.extra_data["contract_wallet"] is True


def test_a_contract_wallet_refuses_a_stranger(client, node, w3):
    owner = Wallet()
    wallet = deploy_contract(w3, "TestWallet", owner.address, sender=w3.eth.accounts[0])

    response = _sign_in_as(client, wallet.address, node.chain_id, Wallet().sign)

    assert response.status_code == 401
    assert response.json()["code"] == "siwe_bad_signature"


def _counterfactual(w3, owner: Wallet, salt: bytes):
    factory = deploy_contract(w3, "TestWalletFactory", sender=w3.eth.accounts[0])
    address = factory.functions.predict(owner.address, salt).call()
    assert w3.eth.get_code(address) == b""
    calldata = factory.functions.deploy(owner.address, salt)._encode_transaction_data()

    def sign(message: str) -> str:
        inner = bytes.fromhex(owner.sign(message)[2:])
        wrapped = encode(
            ["address", "bytes", "bytes"], [factory.address, bytes.fromhex(calldata[2:]), inner]
        )
        return "0x" + (wrapped + MAGIC_6492).hex()

    return address, sign


def test_an_undeployed_contract_wallet_signs_in_through_eip6492(client, node, w3):
    owner = Wallet()
    address, sign = _counterfactual(w3, owner, b"\x01" * 32)

    response = _sign_in_as(client, address, node.chain_id, sign)

    assert response.status_code == 200, response.content
    assert SocialAccount.objects.get(provider="siwe").uid == address
    assert w3.eth.get_code(address) == b""  # checked in a call, never deployed by us


def test_an_undeployed_wallet_of_another_owner_is_refused(client, node, w3):
    address, _ = _counterfactual(w3, Wallet(), b"\x02" * 32)
    _, stranger = _counterfactual(w3, Wallet(), b"\x02" * 32)

    response = _sign_in_as(client, address, node.chain_id, stranger)

    assert response.status_code == 401
    assert response.json()["code"] == "siwe_bad_signature"


def test_a_contract_wallet_whose_node_is_down_is_a_503_not_a_500(client, node, settings):
    settings.CHAIN_RPC_URLS = {"siwe-anvil": f"http://127.0.0.1:{free_port()}"}
    address = Web3.to_checksum_address("0x" + "ab" * 20)  # not an EOA we hold the key of

    response = _sign_in_as(client, address, node.chain_id, Wallet().sign)

    assert response.status_code == 503
    assert response.json()["code"] == "siwe_node_unavailable"


def test_the_test_wallets_are_test_contracts():
    assert "TestWallet" not in abi.CONTRACTS
