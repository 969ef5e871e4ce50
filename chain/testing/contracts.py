"""Node-signed deploys and calls for tests and benches, and the suite deployed by the plan.

``sender`` is always an account the node signs for (anvil's development accounts): production
sends through the outbox instead (``chain.deploy``), with the same plan (``chain.plan``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address
from web3 import Web3
from web3.contract import Contract

from chain import abi
from chain.plan import SuiteConfig, constructor_args, deploy_order, wiring_steps

# Contracts compiled for tests and the local demo only (chain/contracts/test/).
TEST_TOKEN = "TestToken"  # noqa: S105 - a contract name, not a secret
TEST_CONTRACTS = (
    TEST_TOKEN,
    abi.TEST_USD3009,
    "ReentrantReceiver",
    "TestWallet",
    "TestWalletFactory",
    "ReceiptVerifier",
)


class DeploymentFailed(RuntimeError):
    pass


class TransactionFailed(RuntimeError):
    def __init__(self, message: str, receipt: Any = None):
        super().__init__(message)
        self.receipt = receipt


def deploy_contract(
    w3: Web3,
    name: str,
    *args: Any,
    sender: str,
    transaction: dict[str, Any] | None = None,
    timeout: float = 120,
) -> Contract:
    """Deploy artifact ``name`` with constructor ``args`` from ``sender``; wait for the receipt.

    ``sender`` must be an account the node signs for (anvil's dev accounts, or a web3
    middleware that signs). ``transaction`` adds fields (gas, fees, nonce). Returns the
    contract at its new address; the receipt is at ``contract.deploy_receipt``.
    """
    artifact = abi.load_artifact(name)
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx = {"from": to_checksum_address(sender), **(transaction or {})}
    tx_hash = factory.constructor(*args).transact(tx)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)
    if receipt["status"] != 1 or not receipt.get("contractAddress"):
        raise DeploymentFailed(f"deploying {name} failed in transaction {tx_hash.hex()}")
    contract = abi.contract_at(w3, name, receipt["contractAddress"])
    contract.deploy_receipt = receipt  # type: ignore[attr-defined]
    return contract


def send(call: Any, *, sender: str, value: int = 0, timeout: float = 120, **fields: Any) -> Any:
    """Send a contract function call from ``sender`` (a node-signed account), wait, return the
    receipt. A revert at estimation raises web3's ``ContractCustomError`` / ``ContractLogicError``
    (decode it with ``abi.decode_revert``); a mined failure raises ``TransactionFailed``."""
    tx = {"from": to_checksum_address(sender), **fields}
    if value:
        tx["value"] = value
    w3 = call.w3
    tx_hash = call.transact(tx)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)
    if receipt["status"] != 1:
        raise TransactionFailed(f"transaction {tx_hash.to_0x_hex()} reverted", receipt)
    return receipt


@dataclass(frozen=True)
class Suite:
    """The contracts of one deployment, wired (``usdc``: the local-only EIP-3009 test token,
    when the configuration asked for it)."""

    registry: Contract
    vault: Contract
    token: Contract
    pay_per_call: Contract
    governor: Contract
    usdc: Contract | None = None

    @property
    def by_name(self) -> dict[str, Contract]:
        """Each deployed contract by its artifact name, in the plan's order."""
        found = {
            abi.REGISTRY: self.registry,
            abi.REVENUE_VAULT: self.vault,
            abi.LICENSE_TOKEN: self.token,
            abi.PAY_PER_CALL: self.pay_per_call,
            abi.MODEL_GOVERNOR: self.governor,
        }
        if self.usdc is not None:
            found[abi.TEST_USD3009] = self.usdc
        return found

    @property
    def addresses(self) -> dict[str, str]:
        return {name: contract.address for name, contract in self.by_name.items()}


def deploy_suite(w3: Web3, config: SuiteConfig) -> Suite:
    """Deploy and wire the plan from ``config.admin`` (a node-signed account), step by step."""
    contracts: dict[str, Contract] = {}
    for name in deploy_order(config):
        addresses = {done: contract.address for done, contract in contracts.items()}
        args = constructor_args(name, config, addresses)
        contracts[name] = deploy_contract(w3, name, *args, sender=config.admin)
    addresses = {name: contract.address for name, contract in contracts.items()}
    for step in wiring_steps(config, addresses):
        function = getattr(contracts[step.contract_name].functions, step.function)
        send(function(*step.args), sender=config.admin)
    return Suite(
        registry=contracts[abi.REGISTRY],
        vault=contracts[abi.REVENUE_VAULT],
        token=contracts[abi.LICENSE_TOKEN],
        pay_per_call=contracts[abi.PAY_PER_CALL],
        governor=contracts[abi.MODEL_GOVERNOR],
        usdc=contracts.get(abi.TEST_USD3009),
    )


def offer_config(
    model: bytes,
    kind: int,
    price: int,
    *,
    terms: bytes,
    currency: str = abi.NATIVE,
    duration: int = 0,
    max_supply: int = 0,
    transferable: bool = False,
    active: bool = True,
) -> tuple:
    """An ``OfferConfig`` tuple as ``LicenseToken.configureOffer`` takes it: (modelId, kind,
    price, currency, duration, maxSupply, transferable, termsHash, active)."""
    return (model, kind, price, currency, duration, max_supply, transferable, terms, active)
