"""Deploy and wire our contracts on a network through the outbox (safe to run again).

The order and the wiring are ``chain.plan``'s (see chain/contracts/README.md); here the
operator deploys, and gets the registrar, publisher, meter, split manager, settler, tallier and
bounds roles. On the local anvil (chain id 31337) the test-only EIP-3009 token is deployed too,
for the demo. A deployment whose recorded address still holds the recorded code is kept; each
wiring step is skipped when the chain already shows it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from web3 import Web3

from chain import abi
from chain.choices import TxStatus
from chain.client import web3_for
from chain.models import Deployment, Network, OutboundTransaction
from chain.operator import operator_account
from chain.plan import SuiteConfig, constructor_args, deploy_order, wiring_steps
from chain.sender import outbox_process
from chain.services import ANVIL_CHAIN_ID, deployment_record, enqueue_call, enqueue_deploy


class DeployError(RuntimeError):
    pass


@dataclass
class DeployReport:
    deployed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    wired: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.deployed or self.wired)


def suite_config(operator: str, *, chain_id: int | None = None) -> SuiteConfig:
    """The plan's configuration from settings: the operator deploys and holds every role; the
    local anvil (``chain_id`` 31337) gets the test-only contracts too."""
    return SuiteConfig(
        admin=operator,
        platform=settings.CHAIN_PLATFORM_ADDRESS or operator,
        platform_fee_bps=settings.CHAIN_PLATFORM_FEE_BPS,
        uri=settings.CHAIN_TOKEN_URI,
        registrar=operator,
        publisher=operator,
        meter=operator,
        split_manager=operator,
        settler=operator,
        tallier=operator,
        bounds_setter=operator,
        local_test_contracts=chain_id == ANVIL_CHAIN_ID,
    )


def _is_live(w3: Web3, deployment: Deployment | None) -> bool:
    if deployment is None:
        return False
    code = w3.eth.get_code(Web3.to_checksum_address(deployment.address))
    return bool(code) and Web3.keccak(code).to_0x_hex() == deployment.code_hash


@dataclass
class DeployRun:
    """One ``deploy_contracts`` run: where it deploys, with what, and what it did so far."""

    network: Network
    w3: Web3
    config: SuiteConfig
    timeout: float
    log: Callable[[str], object] | None = None
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    addresses: dict[str, str] = field(default_factory=dict)
    report: DeployReport = field(default_factory=DeployReport)

    def say(self, message: str) -> None:
        if self.log:
            self.log(message)

    def deploy_missing(self) -> None:
        """Deploy, in the plan's order, each contract whose recorded code is not on chain."""
        for name in deploy_order(self.config):
            deployment = Deployment.objects.filter(network=self.network, contract_name=name).first()
            if _is_live(self.w3, deployment):
                self.addresses[name] = deployment.address
                self.report.kept.append(name)
                continue
            row = enqueue_deploy(
                network=self.network,
                contract_name=name,
                args=constructor_args(name, self.config, self.addresses),
                idempotency_key=f"deploy:{self.network.name}:{name}:{self.run}",
            )
            self.drain([row])
            row.refresh_from_db()
            recorded = deployment_record(network=self.network, contract_name=name, row=row)
            self.addresses[name] = recorded.address
            self.report.deployed.append(name)
            self.say(f"deployed {name} at {self.addresses[name]}")

    def wire(self) -> None:
        """Queue the plan's wiring steps the chain does not show yet, and wait for them."""
        contracts = {
            name: abi.contract_at(self.w3, name, address)
            for name, address in self.addresses.items()
        }
        steps = wiring_steps(self.config, self.addresses)
        missing = [step for step in steps if not step.is_done(contracts[step.contract_name])]
        rows = []
        for step in missing:
            key = f"wire:{self.network.name}:{self.addresses[step.contract_name]}:{step.label}"
            rows.append(
                enqueue_call(
                    network=self.network,
                    contract_name=step.contract_name,
                    function=step.function,
                    args=list(step.args),
                    idempotency_key=key,
                )
            )
            self.report.wired.append(step.label)
            self.say(f"wiring {step.label}")
        if rows:
            self.drain(rows)

    def drain(self, rows: list[OutboundTransaction]) -> None:
        """Run the sender in this process until ``rows`` are finished (the worker may not run)."""
        deadline = time.monotonic() + self.timeout
        pending = {row.pk for row in rows}
        while True:
            outbox_process(network=self.network)
            done = OutboundTransaction.objects.filter(pk__in=pending).exclude(
                status__in=[TxStatus.PENDING, TxStatus.SUBMITTED]
            )
            for row in done:
                if row.status != TxStatus.CONFIRMED:
                    reason = row.revert_reason or row.last_error
                    raise DeployError(f"transaction #{row.pk} {row.status}: {reason}")
                pending.discard(row.pk)
            if not pending:
                return
            if time.monotonic() > deadline:
                message = f"transactions {sorted(pending)} are still open after {self.timeout}s"
                raise DeployError(message)
            time.sleep(0.5)


def deploy_contracts(
    *, network: Network, timeout: float = 120, log: Callable[[str], object] | None = None
) -> DeployReport:
    """Deploy what is missing of the plan on ``network`` and wire it (see the module doc)."""
    run = DeployRun(
        network=network,
        w3=web3_for(network.rpc_url),
        config=suite_config(operator_account().address, chain_id=network.chain_id),
        timeout=timeout,
        log=log,
    )
    run.deploy_missing()
    run.wire()
    return run.report
