"""Access control of every writing function of our contracts.

Every non-view function in each ABI must appear below, either as restricted (an account
without the role reverts with ``AccessControlUnauthorizedAccount(account, role)``) or as
public on purpose, so a new function cannot slip in unclassified.
"""

from __future__ import annotations

import pytest

from chain import abi
from chain.choices import OfferKind
from chain.testing.market import CREDITS, MODEL, SHARES, TERMS, expect_revert

ADMIN = abi.DEFAULT_ADMIN_ROLE

# (contract attribute, function, role, args factory taking the Env)
RESTRICTED = [
    ("registry", "registerModel", abi.REGISTRAR_ROLE, lambda e: (MODEL, e.acct.alice, "ipfs://m")),
    ("registry", "updateModel", abi.REGISTRAR_ROLE, lambda e: (MODEL, e.acct.alice, "ipfs://m")),
    ("registry", "publishVersion", abi.REGISTRAR_ROLE, lambda e: (MODEL, 1, TERMS, "1.0.0")),
    ("registry", "grantRole", ADMIN, lambda e: (abi.REGISTRAR_ROLE, e.acct.outsider)),
    ("registry", "revokeRole", ADMIN, lambda e: (abi.REGISTRAR_ROLE, e.acct.publisher)),
    (
        "token",
        "configureOffer",
        abi.PUBLISHER_ROLE,
        lambda e: (9, e.offer(MODEL, OfferKind.LICENSE, 1)),
    ),
    ("token", "grant", abi.PUBLISHER_ROLE, lambda e: (e.acct.alice, CREDITS, 1, 0)),
    ("token", "revoke", abi.PUBLISHER_ROLE, lambda e: (e.acct.alice, 1, b"\x01" * 32)),
    ("token", "extend", abi.PUBLISHER_ROLE, lambda e: (e.acct.alice, 1, 2**40)),
    ("token", "mintShares", abi.PUBLISHER_ROLE, lambda e: (SHARES, [e.acct.alice], [1])),
    ("token", "pause", abi.PUBLISHER_ROLE, lambda e: ()),
    ("token", "unpause", abi.PUBLISHER_ROLE, lambda e: ()),
    ("token", "setURI", ADMIN, lambda e: ("https://elsewhere/{id}",)),
    ("token", "burnCredits", abi.METER_ROLE, lambda e: (e.acct.alice, CREDITS, 1, TERMS)),
    ("token", "governSetPrice", abi.GOVERNOR_ROLE, lambda e: (1, 1)),
    ("token", "governSetActive", abi.GOVERNOR_ROLE, lambda e: (1, False)),
    ("token", "grantRole", ADMIN, lambda e: (abi.METER_ROLE, e.acct.outsider)),
    ("token", "revokeRole", ADMIN, lambda e: (abi.METER_ROLE, e.acct.meter)),
    ("vault", "setPlatform", ADMIN, lambda e: (e.acct.outsider, 0)),
    ("vault", "setShareToken", ADMIN, lambda e: (e.acct.outsider,)),
    (
        "vault",
        "configurePayees",
        abi.SPLIT_MANAGER_ROLE,
        lambda e: (MODEL, [e.acct.outsider], [9000]),
    ),
    ("vault", "deposit", abi.DEPOSITOR_ROLE, lambda e: (MODEL, abi.NATIVE, 1)),
    ("vault", "grantRole", ADMIN, lambda e: (abi.DEPOSITOR_ROLE, e.acct.outsider)),
    ("vault", "revokeRole", ADMIN, lambda e: (abi.DEPOSITOR_ROLE, e.acct.admin)),
    (
        "pay_per_call",
        "settle",
        abi.SETTLER_ROLE,
        lambda e: (MODEL, e.usdc.address, e.acct.alice, 1, 0, 2**40, TERMS, b"", TERMS),
    ),
    (
        "pay_per_call",
        "recover",
        abi.SETTLER_ROLE,
        lambda e: (MODEL, e.usdc.address, e.acct.alice, TERMS, 1, TERMS),
    ),
    ("pay_per_call", "grantRole", ADMIN, lambda e: (abi.SETTLER_ROLE, e.acct.outsider)),
    ("pay_per_call", "revokeRole", ADMIN, lambda e: (abi.SETTLER_ROLE, e.acct.meter)),
    ("governor", "setPriceBounds", abi.BOUNDS_ROLE, lambda e: (1, 0, 1)),
    ("governor", "setSplitBounds", abi.BOUNDS_ROLE, lambda e: (MODEL, 0, 1)),
    (
        "governor",
        "recordTally",
        abi.TALLIER_ROLE,
        lambda e: (MODEL, TERMS, TERMS, 1, 0, 0, True),
    ),
    ("governor", "executeSetPrice", abi.TALLIER_ROLE, lambda e: (TERMS, 1, 1)),
    ("governor", "executeSetActive", abi.TALLIER_ROLE, lambda e: (TERMS, 1, False)),
    (
        "governor",
        "executeSetPayees",
        abi.TALLIER_ROLE,
        lambda e: (TERMS, [e.acct.outsider], [1000]),
    ),
    ("governor", "executePublishVersion", abi.TALLIER_ROLE, lambda e: (TERMS, 1, TERMS, "1")),
    ("governor", "grantRole", ADMIN, lambda e: (abi.TALLIER_ROLE, e.acct.outsider)),
    ("governor", "revokeRole", ADMIN, lambda e: (abi.TALLIER_ROLE, e.acct.publisher)),
]
# Roles the meter account holds (it is also the pay-per-call settler in the test market).
METER_HOLDS = (abi.METER_ROLE, abi.SETTLER_ROLE)

# Open to anyone by design, each covered by its own tests.
PUBLIC = {
    "registry": {"renounceRole"},
    "token": {
        "purchase",
        "safeTransferFrom",
        "safeBatchTransferFrom",
        "setApprovalForAll",
        "renounceRole",
    },
    # onSharesMoved is restricted to the share token itself (tested below).
    "vault": {"withdraw", "renounceRole", "onSharesMoved"},
    "pay_per_call": {"renounceRole"},
    "governor": {"renounceRole"},
}


def _writing_functions(contract) -> set[str]:
    return {
        item["name"]
        for item in contract.abi
        if item["type"] == "function" and item["stateMutability"] in {"nonpayable", "payable"}
    }


@pytest.mark.parametrize("attr", ["registry", "token", "vault", "pay_per_call", "governor"])
def test_every_writing_function_is_classified(deployed, attr):
    contract = getattr(deployed, attr)
    restricted = {name for owner, name, _, _ in RESTRICTED if owner == attr}
    assert _writing_functions(contract) == restricted | PUBLIC[attr]


@pytest.mark.parametrize(
    ("attr", "name", "role", "args"),
    RESTRICTED,
    ids=[f"{attr}.{name}" for attr, name, _, _ in RESTRICTED],
)
def test_restricted_function_rejects_an_account_without_the_role(market, attr, name, role, args):
    env = market
    call = getattr(getattr(env, attr).functions, name)(*args(env))
    # The outsider holds no role; the publisher and meter hold only their own.
    for account in (env.acct.outsider, env.acct.bob if role in METER_HOLDS else env.acct.meter):
        expect_revert(
            lambda account=account: env.send(call, account),
            "AccessControlUnauthorizedAccount",
            account=account,
            neededRole=bytes(role),
        )


def test_role_holders_hold_exactly_their_roles(deployed):
    env, a = deployed, deployed.acct
    assert env.registry.functions.hasRole(abi.REGISTRAR_ROLE, a.publisher).call()
    assert env.token.functions.hasRole(abi.PUBLISHER_ROLE, a.publisher).call()
    assert env.token.functions.hasRole(abi.METER_ROLE, a.meter).call()
    assert env.vault.functions.hasRole(abi.SPLIT_MANAGER_ROLE, a.splits).call()
    assert env.vault.functions.hasRole(abi.DEPOSITOR_ROLE, env.token.address).call()
    assert env.vault.functions.hasRole(abi.DEPOSITOR_ROLE, env.pay_per_call.address).call()
    assert env.pay_per_call.functions.hasRole(abi.SETTLER_ROLE, a.meter).call()
    assert env.governor.functions.hasRole(abi.TALLIER_ROLE, a.publisher).call()
    assert env.governor.functions.hasRole(abi.BOUNDS_ROLE, a.publisher).call()
    # the governor holds what its executions call with, and nothing more
    governor = env.governor.address
    assert env.token.functions.hasRole(abi.GOVERNOR_ROLE, governor).call()
    assert env.vault.functions.hasRole(abi.SPLIT_MANAGER_ROLE, governor).call()
    assert env.registry.functions.hasRole(abi.REGISTRAR_ROLE, governor).call()
    assert not env.token.functions.hasRole(abi.PUBLISHER_ROLE, governor).call()
    assert not env.token.functions.hasRole(abi.GOVERNOR_ROLE, a.publisher).call()
    for contract in (env.registry, env.token, env.vault, env.pay_per_call, env.governor):
        assert contract.functions.hasRole(ADMIN, a.admin).call()
        assert not contract.functions.hasRole(ADMIN, a.publisher).call()
    assert not env.token.functions.hasRole(abi.METER_ROLE, a.publisher).call()


def test_only_the_share_token_reports_share_moves(chain):
    env = chain
    call = env.vault.functions.onSharesMoved(MODEL, env.acct.alice, env.acct.bob, 1)
    for account in (env.acct.outsider, env.acct.admin):
        expect_revert(
            lambda account=account: env.send(call, account),
            "UnauthorizedShareSource",
            caller=account,
        )


def test_renounce_role_only_for_oneself(chain):
    env = chain
    call = env.token.functions.renounceRole(abi.METER_ROLE, env.acct.meter)
    expect_revert(lambda: env.send(call, env.acct.outsider), "AccessControlBadConfirmation")
    env.send(call, env.acct.meter)
    assert not env.token.functions.hasRole(abi.METER_ROLE, env.acct.meter).call()


def test_admin_can_grant_and_revoke(chain):
    env, a = chain, chain.acct
    env.send(env.token.functions.grantRole(abi.METER_ROLE, a.outsider), a.admin)
    assert env.token.functions.hasRole(abi.METER_ROLE, a.outsider).call()
    env.send(env.token.functions.revokeRole(abi.METER_ROLE, a.outsider), a.admin)
    assert not env.token.functions.hasRole(abi.METER_ROLE, a.outsider).call()
