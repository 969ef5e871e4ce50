"""The standard test market: anvil's dev accounts by role, the suite deployed from them, a test
ERC-20 and the test EIP-3009 token, and one model with its payees and the standard offers (the
contract tests, the sync tests and ``chain.testing.fixtures`` build on it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD
from web3.providers import HTTPProvider

from chain import abi
from chain.choices import OfferKind
from chain.plan import SuiteConfig
from chain.testing import contracts
from chain.testing.devnode import AnvilNode

ZERO = "0x" + "00" * 20
MODEL = Web3.keccak(text="acme/churn-classifier")
OTHER_MODEL = Web3.keccak(text="globex/fraud-detector")
TERMS = Web3.keccak(text="license terms v1")
DAY = 86_400

# Offer ids of the standard offers (see `configure_standard_offers`).
LICENSE_NATIVE = 1  # timed (30 days), transferable, native coin
PASS_TOKEN = 2  # timed (7 days), non-transferable, ERC-20, max supply 5
PERPETUAL = 3  # perpetual license, non-transferable, native coin
CREDITS = 4  # credits, transferable, native coin
SHARES = 5  # the model's shares, transferable


@dataclass(frozen=True)
class Accounts:
    """Anvil's published development accounts (test keys, never secrets), by role."""

    admin: str
    platform: str
    publisher: str  # REGISTRAR_ROLE, PUBLISHER_ROLE and the governor's TALLIER_ROLE, BOUNDS_ROLE
    meter: str  # METER_ROLE and the pay-per-call SETTLER_ROLE
    splits: str  # SPLIT_MANAGER_ROLE
    alice: str
    bob: str
    carol: str
    dave: str
    outsider: str  # holds no role


@dataclass
class Env:
    """The deployed suite on a node, with the accounts by role, a test ERC-20 (``usd``) and the
    test EIP-3009 token (``usdc``, the suite's local-only contract)."""

    w3: Web3
    acct: Accounts
    suite: contracts.Suite
    usd: Any  # TestToken
    node_url: str
    chain_id: int

    @property
    def registry(self):
        return self.suite.registry

    @property
    def vault(self):
        return self.suite.vault

    @property
    def token(self):
        return self.suite.token

    @property
    def pay_per_call(self):
        return self.suite.pay_per_call

    @property
    def governor(self):
        return self.suite.governor

    @property
    def usdc(self):
        return self.suite.usdc

    # --- helpers ---
    def send(self, call, sender: str, value: int = 0):
        return contracts.send(call, sender=sender, value=value)

    def now(self) -> int:
        return self.w3.eth.get_block("latest")["timestamp"]

    def advance(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_increaseTime", [seconds])
        self.w3.provider.make_request("evm_mine", [])

    def snapshot(self) -> str:
        return self.w3.provider.make_request("evm_snapshot", [])["result"]

    def revert(self, snapshot_id: str) -> None:
        result = self.w3.provider.make_request("evm_revert", [snapshot_id])
        assert result.get("result") is True, result

    def offer(self, model: bytes, kind: int, price: int, **fields: Any) -> tuple:
        """An OfferConfig tuple (``contracts.offer_config``; the terms default to ``TERMS``)."""
        return contracts.offer_config(model, kind, price, **{"terms": TERMS, **fields})

    def events(self, contract, receipt, name: str) -> list[dict]:
        """Decoded ``name`` events emitted by ``contract`` itself in ``receipt``."""
        decoded = getattr(contract.events, name)().process_receipt(receipt, errors=DISCARD)
        return [dict(e["args"]) for e in decoded if e["address"] == contract.address]

    def native_balance(self, account: str) -> int:
        return self.w3.eth.get_balance(account)


def expect_revert(call: Callable[[], Any], error: str, **expected_args: Any) -> abi.DecodedRevert:
    """Run ``call`` and assert it reverts with custom error ``error`` (and these args)."""
    with pytest.raises(
        (ContractCustomError, ContractLogicError, contracts.TransactionFailed)
    ) as info:
        call()
    decoded = abi.decode_revert(info.value)
    assert decoded.name == error, f"expected {error}, got {decoded}"
    for key, value in expected_args.items():
        assert decoded.args[key] == value, f"{error}.{key}: {decoded.args[key]!r} != {value!r}"
    return decoded


def deploy_env(node: AnvilNode) -> Env:
    """Deploy the suite and the test ERC-20 on ``node`` from its dev accounts; fund the buyers."""
    w3 = Web3(HTTPProvider(node.url, request_kwargs={"timeout": 30}))
    accounts = w3.eth.accounts
    acct = Accounts(*accounts[:10])
    suite = contracts.deploy_suite(
        w3,
        SuiteConfig(
            admin=acct.admin,
            platform=acct.platform,
            platform_fee_bps=250,
            max_platform_fee_bps=1000,
            uri="https://portal.example/api/tokens/{id}.json",
            registrar=acct.publisher,
            publisher=acct.publisher,
            meter=acct.meter,
            split_manager=acct.splits,
            settler=acct.meter,
            tallier=acct.publisher,
            bounds_setter=acct.publisher,
            local_test_contracts=True,
        ),
    )
    usd = contracts.deploy_contract(
        w3, contracts.TEST_TOKEN, "Test USD", "TUSD", 6, sender=acct.admin
    )
    env = Env(
        w3=w3,
        acct=acct,
        suite=suite,
        usd=usd,
        node_url=node.url,
        chain_id=node.chain_id,
    )
    # Every customer holds test dollars and has approved the license token once; and holds
    # test USDC to pay per call with (no approval: EIP-3009 authorizations need none).
    for buyer in (acct.alice, acct.bob, acct.carol, acct.dave, acct.outsider):
        env.send(usd.functions.mint(buyer, 10**30), buyer)
        env.send(usd.functions.approve(suite.token.address, 2**256 - 1), buyer)
        env.send(suite.usdc.functions.mint(buyer, 10**12), buyer)
    return env


def configure_standard_offers(env: Env) -> None:
    """Register ``MODEL`` with a payee and configure the standard offers (the ids above)."""
    a = env.acct
    env.send(env.registry.functions.registerModel(MODEL, a.publisher, "ipfs://model"), a.publisher)
    env.send(env.vault.functions.configurePayees(MODEL, [a.carol], [1000]), a.splits)
    configs = {
        LICENSE_NATIVE: env.offer(
            MODEL, OfferKind.LICENSE, 10**16, duration=30 * DAY, transferable=True
        ),
        PASS_TOKEN: env.offer(
            MODEL,
            OfferKind.ACCESS_PASS,
            5 * 10**6,
            currency=env.usd.address,
            duration=7 * DAY,
            max_supply=5,
        ),
        PERPETUAL: env.offer(MODEL, OfferKind.LICENSE, 3 * 10**16),
        CREDITS: env.offer(MODEL, OfferKind.CREDITS, 10**12, transferable=True),
        SHARES: env.offer(MODEL, OfferKind.SHARES, 0, transferable=True),
    }
    for offer_id, config in configs.items():
        env.send(env.token.functions.configureOffer(offer_id, config), a.publisher)
