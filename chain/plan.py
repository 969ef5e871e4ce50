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
DEPLOY_ORDER = (
    abi.REGISTRY,
    abi.REVENUE_VAULT,
    abi.LICENSE_TOKEN,
    abi.PAY_PER_CALL,
    abi.MODEL_GOVERNOR,
)


@dataclass(frozen=True)
class SuiteConfig:
    """What one deployment is made with: the admin (deploys, holds every admin role), the
    platform's fee account and fee, the token URI template, the accounts that get the
    operating roles (``None``: nobody), and whether the test-only contracts of the local anvil
    (``abi.LOCAL_ONLY_CONTRACTS``: the demo's EIP-3009 token) are deployed too."""

    admin: str
    platform: str
    platform_fee_bps: int = 250
    max_platform_fee_bps: int = MAX_PLATFORM_FEE_BPS
    uri: str = ""
    registrar: str | None = None
    publisher: str | None = None
    meter: str | None = None
    split_manager: str | None = None
    settler: str | None = None
    tallier: str | None = None
    bounds_setter: str | None = None
    local_test_contracts: bool = False


def deploy_order(config: SuiteConfig) -> tuple[str, ...]:
    """The contracts ``config`` deploys, in order: the suite, then the local-only test ones."""
    return DEPLOY_ORDER + (abi.LOCAL_ONLY_CONTRACTS if config.local_test_contracts else ())


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
    if name == abi.PAY_PER_CALL:
        return [config.admin, addresses[abi.REVENUE_VAULT]]
    if name == abi.MODEL_GOVERNOR:
        return [
            config.admin,
            addresses[abi.LICENSE_TOKEN],
            addresses[abi.REVENUE_VAULT],
            addresses[abi.REGISTRY],
        ]
    if name == abi.TEST_USD3009:
        return []
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


def _grant(
    contract_name: str, role: bytes, role_name: str, account: str, grantee: str = ""
) -> WiringStep:
    """``grantRole(role, account)``; ``grantee`` names the account in the label (and so in the
    outbox's idempotency key) when the contract grants that role to several of ours."""
    return WiringStep(
        label=f"{contract_name}.grantRole({role_name}{', ' + grantee if grantee else ''})",
        contract_name=contract_name,
        function="grantRole",
        args=(role, account),
        check="hasRole",
        check_args=(role, account),
        expected=True,
    )


def wiring_steps(config: SuiteConfig, addresses: Mapping[str, str]) -> list[WiringStep]:
    """The wiring after the deploys, in order: the vault learns the share token and lets it
    and the pay-per-call settler deposit; the governor gets the roles its executions call
    with; then the operating roles go to the accounts ``config`` names."""
    token, settler = addresses[abi.LICENSE_TOKEN], addresses[abi.PAY_PER_CALL]
    governor = addresses[abi.MODEL_GOVERNOR]
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
        _grant(abi.REVENUE_VAULT, abi.DEPOSITOR_ROLE, "DEPOSITOR_ROLE", settler, abi.PAY_PER_CALL),
        _grant(abi.LICENSE_TOKEN, abi.GOVERNOR_ROLE, "GOVERNOR_ROLE", governor),
        _grant(
            abi.REVENUE_VAULT,
            abi.SPLIT_MANAGER_ROLE,
            "SPLIT_MANAGER_ROLE",
            governor,
            abi.MODEL_GOVERNOR,
        ),
        _grant(abi.REGISTRY, abi.REGISTRAR_ROLE, "REGISTRAR_ROLE", governor, abi.MODEL_GOVERNOR),
    ]
    roles = [
        (abi.REGISTRY, abi.REGISTRAR_ROLE, "REGISTRAR_ROLE", config.registrar),
        (abi.LICENSE_TOKEN, abi.PUBLISHER_ROLE, "PUBLISHER_ROLE", config.publisher),
        (abi.LICENSE_TOKEN, abi.METER_ROLE, "METER_ROLE", config.meter),
        (abi.REVENUE_VAULT, abi.SPLIT_MANAGER_ROLE, "SPLIT_MANAGER_ROLE", config.split_manager),
        (abi.PAY_PER_CALL, abi.SETTLER_ROLE, "SETTLER_ROLE", config.settler),
        (abi.MODEL_GOVERNOR, abi.TALLIER_ROLE, "TALLIER_ROLE", config.tallier),
        (abi.MODEL_GOVERNOR, abi.BOUNDS_ROLE, "BOUNDS_ROLE", config.bounds_setter),
    ]
    steps += [
        _grant(name, role, role_name, account)
        for name, role, role_name, account in roles
        if account is not None
    ]
    return steps
