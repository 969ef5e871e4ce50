"""The deployment plan: our contracts in deployment order, their constructor arguments, and the
wiring steps after them (chain/contracts/README.md, "Deployment and wiring order").

One plan serves both ways of deploying: ``manage.py deploy_contracts`` sends it through the
outbox (``chain/deploy.py``), tests and benches send it from anvil's node-signed accounts
(``chain/testing/contracts.py``). Neither writes the order again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chain import abi

MAX_PLATFORM_FEE_BPS = 1000

# Each contract's constructor needs the addresses of those before it.
DEPLOY_ORDER = (abi.REGISTRY, abi.REVENUE_VAULT, abi.LICENSE_TOKEN)


@dataclass(frozen=True)
class SuiteConfig:
    """What one deployment is made with: the admin (deploys, holds every admin role), the
    platform's fee account and fee, the token URI template, and the accounts that get the
    operating roles (``None``: nobody)."""

    admin: str
    platform: str
    platform_fee_bps: int = 250
    max_platform_fee_bps: int = MAX_PLATFORM_FEE_BPS
    uri: str = ""
    registrar: str | None = None
    publisher: str | None = None
    meter: str | None = None
    split_manager: str | None = None


def constructor_args(name: str, config: SuiteConfig, addresses: Mapping[str, str]) -> list:
    """The constructor arguments of contract ``name``; ``addresses`` holds those deployed before."""
    if name == abi.REGISTRY:
        return [config.admin]
    if name == abi.REVENUE_VAULT:
        return [
            config.admin,
            config.platform,
            config.platform_fee_bps,
            config.max_platform_fee_bps,
            addresses[abi.REGISTRY],
        ]
    if name == abi.LICENSE_TOKEN:
        return [config.admin, addresses[abi.REVENUE_VAULT], config.uri]
    raise KeyError(f"{name} is not part of the deployment plan")


@dataclass(frozen=True)
class WiringStep:
    """One call that wires the deployed contracts, and the view call that shows it is done
    (``check(*check_args)`` answers ``expected``)."""

    label: str
    contract_name: str
    function: str
    args: tuple[Any, ...]
    check: str
    check_args: tuple[Any, ...]
    expected: Any

    def is_done(self, contract: Any) -> bool:
        """Whether the chain already shows this step (``contract`` is ``contract_name``'s)."""
        return getattr(contract.functions, self.check)(*self.check_args).call() == self.expected


def _grant(contract_name: str, role: bytes, role_name: str, account: str) -> WiringStep:
    return WiringStep(
        label=f"{contract_name}.grantRole({role_name})",
        contract_name=contract_name,
        function="grantRole",
        args=(role, account),
        check="hasRole",
        check_args=(role, account),
        expected=True,
    )


def wiring_steps(config: SuiteConfig, addresses: Mapping[str, str]) -> list[WiringStep]:
    """The wiring after the deploys, in order: the vault learns the share token and lets it
    deposit, then the operating roles go to the accounts ``config`` names."""
    token = addresses[abi.LICENSE_TOKEN]
    steps = [
        WiringStep(
            label="vault.setShareToken",
            contract_name=abi.REVENUE_VAULT,
            function="setShareToken",
            args=(token,),
            check="shareToken",
            check_args=(),
            expected=token,
        ),
        _grant(abi.REVENUE_VAULT, abi.DEPOSITOR_ROLE, "DEPOSITOR_ROLE", token),
    ]
    roles = [
        (abi.REGISTRY, abi.REGISTRAR_ROLE, "REGISTRAR_ROLE", config.registrar),
        (abi.LICENSE_TOKEN, abi.PUBLISHER_ROLE, "PUBLISHER_ROLE", config.publisher),
        (abi.LICENSE_TOKEN, abi.METER_ROLE, "METER_ROLE", config.meter),
        (abi.REVENUE_VAULT, abi.SPLIT_MANAGER_ROLE, "SPLIT_MANAGER_ROLE", config.split_manager),
    ]
    steps += [
        _grant(name, role, role_name, account)
        for name, role, role_name, account in roles
        if account is not None
    ]
    return steps
