"""What the publishing tests build on: two anvil nodes with the suite deployed (node-signed, the
operator holding every operating role), their Network and Deployment rows, currencies, terms, a
model with a published version, and the outbox sender and sync run until they are done."""

from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal

from eth_account import Account
from web3 import Web3
from web3.providers import HTTPProvider

from chain import abi
from chain.choices import TX_OPEN
from chain.models import Deployment, Network, OutboundTransaction
from chain.plan import MAX_PLATFORM_FEE_BPS, SuiteConfig
from chain.sender import outbox_process
from chain.sync import sync_network
from chain.testing import contracts
from chain.testing.devnode import AnvilNode
from licensing.models import Currency, LicenseTerms
from licensing.services.terms import terms_create
from models_hub import services as registry
from models_hub.choices import Task

# Anvil's published development key #0 (a public test key, never a secret): the operator.
OPERATOR_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
OPERATOR = Account.from_key(OPERATOR_KEY).address
TREASURY = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"  # anvil account #3
DAY = 86_400


@dataclass
class Chain:
    """One node with the suite: the contracts, the test ERC-20, the admin (account #9)."""

    node: AnvilNode
    w3: Web3
    suite: contracts.Suite
    usd: object
    admin: str
    accounts: list[str]

    def snapshot(self) -> str:
        return self.w3.provider.make_request("evm_snapshot", [])["result"]

    def revert(self, snapshot_id: str) -> None:
        assert self.w3.provider.make_request("evm_revert", [snapshot_id])["result"] is True


def start_chain() -> Chain:
    """A fresh node (a random chain id) with the suite and a test ERC-20 deployed."""
    node = AnvilNode()
    w3 = Web3(HTTPProvider(node.url, request_kwargs={"timeout": 30}))
    accounts = w3.eth.accounts
    admin = accounts[9]
    config = SuiteConfig(
        admin=admin,
        platform=accounts[8],
        platform_fee_bps=250,
        max_platform_fee_bps=MAX_PLATFORM_FEE_BPS,
        registrar=OPERATOR,
        publisher=OPERATOR,
        meter=OPERATOR,
        split_manager=OPERATOR,
    )
    suite = contracts.deploy_suite(w3, config)
    usd = contracts.deploy_contract(w3, contracts.TEST_TOKEN, "Test USD", "TUSD", 6, sender=admin)
    return Chain(node=node, w3=w3, suite=suite, usd=usd, admin=admin, accounts=accounts)


def network_for(chain: Chain, name: str) -> Network:
    """The node as a Network with its contracts recorded (settings name its RPC URL)."""
    network = Network.objects.create(name=name, chain_id=chain.node.chain_id, confirmation_depth=1)
    for contract_name, address in chain.suite.addresses.items():
        Deployment.objects.create(
            network=network,
            contract_name=contract_name,
            address=address,
            deploy_block=0,
            code_hash="0x",
            sources_sha256=abi.load_artifact(contract_name).sources_sha256,
        )
    return network


def fake_network(name: str = "nowhere", *, deployed=abi.CONTRACTS) -> Network:
    """A network without a node: planning and queueing never call one (nothing is sent)."""
    network = Network.objects.create(name=name, chain_id=4242, confirmation_depth=1)
    for number, contract_name in enumerate(deployed, start=1):
        Deployment.objects.create(
            network=network,
            contract_name=contract_name,
            address="0x" + f"{number:02x}" * 20,
            deploy_block=0,
            code_hash="0x",
        )
    return network


def native(network: Network) -> Currency:
    currency = Currency(network=network, symbol="ETH", decimals=18)
    currency.full_clean()
    currency.save()
    return currency


def erc20(network: Network, address: str, symbol: str = "TUSD", decimals: int = 6) -> Currency:
    currency = Currency(network=network, symbol=symbol, address=address, decimals=decimals)
    currency.full_clean()
    currency.save()
    return currency


def terms_for(organization, name: str = "Standard license", *, hashed: bool = True):
    """Terms through the terms service; ``hashed=False`` blanks the content hash afterwards
    (terms written around the service, which publishing refuses)."""
    terms = terms_create(
        organization=organization, name=name, commercial_use=True, transferable=True
    )
    if not hashed:
        LicenseTerms.objects.filter(pk=terms.pk).update(content_hash="")
        terms.refresh_from_db()
    return terms


def trained_artifact(seed: int = 0) -> bytes:
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    estimator = LogisticRegression(max_iter=500, C=1.0 + seed).fit(X, y)
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    return buffer.getvalue()


def published_version(model, version: str = "1.0.0", *, seed: int = 0, publish: bool = True):
    """A ready version of ``model`` (validated in this process), published unless told not."""
    row = registry.version_upload(
        model=model,
        version=version,
        fileobj=io.BytesIO(trained_artifact(seed)),
        filename="model.joblib",
    )
    row = registry.version_validate(version_id=row.pk)
    if publish:
        registry.version_publish(version=row)
        row.refresh_from_db()
    return row


def listed_model(organization, name: str = "Iris species"):
    return registry.model_create(
        organization=organization, name=name, task=Task.CLASSIFICATION, listed=True
    )


def drain(network: Network, *, rounds: int = 30) -> None:
    """Run the outbox sender until nothing is open on ``network``, then sync it."""
    leased = True
    for _ in range(rounds):
        if not OutboundTransaction.objects.filter(network=network, status__in=TX_OPEN).exists():
            break
        leased = outbox_process(network=network).leased
    else:
        held = "" if leased else " (another sender holds the outbox lease)"
        raise AssertionError(f"transactions still open on {network.name}{held}")
    sync_network(network=network)


def wei(amount: str, decimals: int = 18) -> int:
    return int(Decimal(amount).scaleb(decimals))
