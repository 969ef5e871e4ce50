"""Deploy and wire our contracts on a network through the outbox (safe to run again).

Order (see chain/contracts/README.md): ModelRegistry(admin), RevenueVault(admin, platform, fee,
max fee, registry), LicenseToken(admin, vault, uri); then the vault learns the share token
and lets the token deposit, and the operator gets the registrar, publisher, meter and split
manager roles. A deployment whose recorded address still holds the recorded code is kept; each
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
from chain.sender import outbox_process
from chain.services import deployment_record, enqueue_call, enqueue_deploy

MAX_PLATFORM_FEE_BPS = 1000


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


def _is_live(w3: Web3, deployment: Deployment | None) -> bool:
    if deployment is None:
        return False
    code = w3.eth.get_code(Web3.to_checksum_address(deployment.address))
    return bool(code) and Web3.keccak(code).to_0x_hex() == deployment.code_hash


def _drain(network: Network, rows: list[OutboundTransaction], timeout: float) -> None:
    """Run the sender in this process until ``rows`` are finished (the worker may not run)."""
    deadline = time.monotonic() + timeout
    pending = {row.pk for row in rows}
    while True:
        outbox_process(network=network)
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
            raise DeployError(f"transactions {sorted(pending)} are still open after {timeout}s")
        time.sleep(0.5)


def deploy_contracts(*, network: Network, timeout: float = 120, log=None) -> DeployReport:
    w3 = web3_for(network.rpc_url)
    operator = operator_account().address
    platform = settings.CHAIN_PLATFORM_ADDRESS or operator
    report = DeployReport()
    run = uuid.uuid4().hex[:12]
    plan: list[tuple[str, Callable[[dict[str, str]], list]]] = [
        (abi.REGISTRY, lambda a: [operator]),
        (
            abi.REVENUE_VAULT,
            lambda a: [
                operator,
                platform,
                settings.CHAIN_PLATFORM_FEE_BPS,
                MAX_PLATFORM_FEE_BPS,
                a[abi.REGISTRY],
            ],
        ),
        (abi.LICENSE_TOKEN, lambda a: [operator, a[abi.REVENUE_VAULT], settings.CHAIN_TOKEN_URI]),
    ]
    addresses: dict[str, str] = {}
    for name, constructor_args in plan:
        deployment = Deployment.objects.filter(network=network, contract_name=name).first()
        if _is_live(w3, deployment):
            addresses[name] = deployment.address
            report.kept.append(name)
            continue
        row = enqueue_deploy(
            network=network,
            contract_name=name,
            args=constructor_args(addresses),
            idempotency_key=f"deploy:{network.name}:{name}:{run}",
        )
        _drain(network, [row], timeout)
        row.refresh_from_db()
        addresses[name] = deployment_record(network=network, contract_name=name, row=row).address
        report.deployed.append(name)
        if log:
            log(f"deployed {name} at {addresses[name]}")
    _wire(w3, network, addresses, operator, report, timeout, log)
    return report


def _wire(w3, network, addresses, operator, report, timeout, log) -> None:
    registry = abi.contract_at(w3, abi.REGISTRY, addresses[abi.REGISTRY])
    vault = abi.contract_at(w3, abi.REVENUE_VAULT, addresses[abi.REVENUE_VAULT])
    token = abi.contract_at(w3, abi.LICENSE_TOKEN, addresses[abi.LICENSE_TOKEN])
    steps = [
        (
            "vault.setShareToken",
            vault.functions.shareToken().call() != token.address,
            (abi.REVENUE_VAULT, "setShareToken", [token.address]),
        ),
    ]
    grants = [
        (vault, abi.REVENUE_VAULT, abi.DEPOSITOR_ROLE, token.address, "DEPOSITOR_ROLE"),
        (registry, abi.REGISTRY, abi.REGISTRAR_ROLE, operator, "REGISTRAR_ROLE"),
        (token, abi.LICENSE_TOKEN, abi.PUBLISHER_ROLE, operator, "PUBLISHER_ROLE"),
        (token, abi.LICENSE_TOKEN, abi.METER_ROLE, operator, "METER_ROLE"),
        (vault, abi.REVENUE_VAULT, abi.SPLIT_MANAGER_ROLE, operator, "SPLIT_MANAGER_ROLE"),
    ]
    for contract, name, role, account, label in grants:
        missing = not contract.functions.hasRole(role, account).call()
        steps.append((f"{name}.grantRole({label})", missing, (name, "grantRole", [role, account])))
    rows = []
    for label, needed, (name, function, args) in steps:
        if not needed:
            continue
        key = f"wire:{network.name}:{addresses[name]}:{label}"
        rows.append(
            enqueue_call(
                network=network,
                contract_name=name,
                function=function,
                args=args,
                idempotency_key=key,
            )
        )
        report.wired.append(label)
        if log:
            log(f"wiring {label}")
    if rows:
        _drain(network, rows, timeout)
