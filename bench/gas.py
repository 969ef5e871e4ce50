"""Gas of the contracts' everyday transactions, on a real anvil node.

Starts its own anvil node, deploys the committed artifacts (ModelRegistry, RevenueVault,
LicenseToken, a TestToken), sets up one model the way the portal would (a 2.5% platform fee,
two payees, three share holders, a 30-day transferable license sold for the native coin and a
7-day pass sold for the test token), lets the model's revenue pools receive a first payment,
then records ``gasUsed`` from the receipts of:

- ``purchase_native`` / ``purchase_erc20``: a new customer's first purchase;
- ``renewal``: the same customer buying again before expiry (the expiry is extended);
- ``transfer``: a transferable timed license moved to someone new (its time moves with it);
- ``share_transfer``: shares moved to a new holder (the vault corrects both accounts);
- ``withdraw`` / ``withdraw_holder``: a payee's and a share holder's native withdrawal.

Gas is deterministic, so one run is a measurement; the full run adds how a purchase's gas grows
with the number of payees (``detail.by_payees``).
"""

from __future__ import annotations

import sys
from typing import Any

from bench._common import FEE_BPS, case, deploy_bench_suite, setup_django

PURCHASE_TARGET = "<200000"
TARGETS = {
    "purchase_native": PURCHASE_TARGET,
    "purchase_erc20": PURCHASE_TARGET,
    "renewal": PURCHASE_TARGET,
    "transfer": "<120000",
    "share_transfer": "<300000",
    "withdraw": "<60000",
    "withdraw_holder": "<150000",
}
DAY = 86_400
PRICE = 10**16
PASS_PRICE = 5 * 10**6
PAYEE_BPS = [1000, 500]
HOLDERS = [5000, 3000, 2000]
PAYEE_SWEEP = [0, 1, 2, 4, 6, 10]


def _fresh_accounts(w3, count: int, label: str) -> list[str]:
    """Addresses the node signs for (anvil impersonation), funded for gas."""
    from web3 import Web3

    accounts = []
    for i in range(count):
        address = Web3.to_checksum_address(Web3.keccak(text=f"gas-bench-{label}-{i}")[12:])
        w3.provider.make_request("anvil_setBalance", [address, hex(10**22)])
        accounts.append(address)
    return accounts


def _market(w3, dev: list[str], payee_bps: list[int], label: str) -> dict[str, Any]:
    """Deploy and configure one model; return the contracts, offer ids and actors."""
    from web3 import Web3

    from chain.choices import OfferKind
    from chain.testing import contracts

    admin, platform, publisher = dev[0], dev[1], dev[2]
    suite = deploy_bench_suite(w3, admin=admin, platform=platform, publisher=publisher)
    usd = contracts.deploy_contract(w3, contracts.TEST_TOKEN, "Test USD", "TUSD", 6, sender=admin)
    model = Web3.keccak(text=f"bench/{label}")
    payees = _fresh_accounts(w3, len(payee_bps), f"{label}-payee")
    holders = _fresh_accounts(w3, len(HOLDERS), f"{label}-holder")
    buyers = _fresh_accounts(w3, 4, f"{label}-buyer")
    token = suite.token
    contracts.send(
        suite.registry.functions.registerModel(model, publisher, "ipfs://m"), sender=publisher
    )
    contracts.send(suite.vault.functions.configurePayees(model, payees, payee_bps), sender=admin)
    terms = Web3.keccak(text="terms")
    offer = contracts.offer_config
    offers = {
        1: offer(
            model, OfferKind.LICENSE, PRICE, terms=terms, duration=30 * DAY, transferable=True
        ),
        2: offer(
            model,
            OfferKind.ACCESS_PASS,
            PASS_PRICE,
            terms=terms,
            currency=usd.address,
            duration=7 * DAY,
        ),
        3: offer(model, OfferKind.SHARES, 0, terms=terms, transferable=True),
    }
    for offer_id, config in offers.items():
        contracts.send(token.functions.configureOffer(offer_id, config), sender=publisher)
    contracts.send(token.functions.mintShares(3, holders, HOLDERS), sender=publisher)
    for buyer in buyers:
        contracts.send(usd.functions.mint(buyer, 10**24), sender=buyer)
        contracts.send(usd.functions.approve(token.address, 2**256 - 1), sender=buyer)
    return {
        "suite": suite,
        "usd": usd,
        "payees": payees,
        "holders": holders,
        "buyers": buyers,
    }


def _gas(receipt) -> int:
    return int(receipt["gasUsed"])


def _measure(w3, dev: list[str], payee_bps: list[int], label: str) -> dict[str, int]:
    from chain import abi
    from chain.testing import contracts

    m = _market(w3, dev, payee_bps, label)
    token, vault, usd = m["suite"].token, m["suite"].vault, m["usd"]
    warm, buyer, other, newcomer = m["buyers"]

    def buy_native(account):
        return contracts.send(token.functions.purchase(1, 1, PRICE), sender=account, value=PRICE)

    def buy_token(account):
        return contracts.send(token.functions.purchase(2, 1, PASS_PRICE), sender=account)

    gas = {
        "cold_pool_native": _gas(buy_native(warm)),  # the model's first payment in the coin
        "cold_pool_erc20": _gas(buy_token(warm)),
        "purchase_native": _gas(buy_native(buyer)),
        "purchase_erc20": _gas(buy_token(buyer)),
        "renewal": _gas(buy_native(buyer)),
    }
    transfer = token.functions.safeTransferFrom(buyer, newcomer, 1, 1, b"")
    gas["transfer"] = _gas(contracts.send(transfer, sender=buyer))
    holder = m["holders"][0]
    share_move = token.functions.safeTransferFrom(holder, other, 3, 1000, b"")
    gas["share_transfer"] = _gas(contracts.send(share_move, sender=holder))
    if m["payees"]:
        gas["withdraw"] = _gas(
            contracts.send(vault.functions.withdraw(abi.NATIVE), sender=m["payees"][0])
        )
    gas["withdraw_holder"] = _gas(
        contracts.send(vault.functions.withdraw(abi.NATIVE), sender=holder)
    )
    assert usd.functions.balanceOf(vault.address).call() == 2 * PASS_PRICE
    return gas


def run(quick: bool) -> list[dict]:
    setup_django()

    from web3 import Web3
    from web3.providers import HTTPProvider

    from chain.abi import load_artifact
    from chain.testing.devnode import AnvilNode

    node = AnvilNode()
    try:
        w3 = Web3(HTTPProvider(node.url, request_kwargs={"timeout": 30}))
        w3.provider.make_request("anvil_autoImpersonateAccount", [True])
        dev = w3.eth.accounts
        print("gas: measuring the standard market", file=sys.stderr)
        gas = _measure(w3, dev, PAYEE_BPS, "standard")
        by_payees: dict[int, int] = {}
        if not quick:
            for count in PAYEE_SWEEP:
                print(f"gas: purchase with {count} payees", file=sys.stderr)
                bps = [100] * count
                by_payees[count] = _measure(w3, dev, bps, f"payees-{count}")["purchase_native"]
    finally:
        node.stop()

    compiler = load_artifact("LicenseToken").compiler
    common = {
        "mode": "quick" if quick else "full",
        "unit": "gas (receipt gasUsed)",
        "market": {
            "platform_fee_bps": FEE_BPS,
            "payees_bps": PAYEE_BPS,
            "share_holders": HOLDERS,
            "native_offer": "LICENSE, 30 days, transferable",
            "erc20_offer": "ACCESS_PASS, 7 days, TestToken (6 decimals)",
        },
        "first_payment_of_a_pool": {
            "native": gas["cold_pool_native"],
            "erc20": gas["cold_pool_erc20"],
            "note": "one-time: the vault's storage for a (model, currency) pool and each "
            "payee's first credit are initialised",
        },
        "compiler": {"version": compiler["version"], **compiler["settings"]},
        "chain": "anvil (chain.testing.devnode.AnvilNode)",
    }
    meanings = {
        "purchase_native": "a new customer's first purchase, native coin",
        "purchase_erc20": "a new customer's first purchase, ERC-20 (transferFrom to the vault)",
        "renewal": "the same customer buying again before expiry",
        "transfer": "a transferable 30-day license moved to a new holder, with its time",
        "share_transfer": "shares moved to a new holder (vault corrections, holder set)",
        "withdraw": "a payee withdraws its native coin credit",
        "withdraw_holder": "a share holder withdraws its native earnings",
    }
    results = []
    for name, target in TARGETS.items():
        detail = {"meaning": meanings[name], **common}
        if name == "purchase_native" and by_payees:
            detail["by_payees"] = by_payees
        results.append(case(f"gas.{name}", value=gas[name], target=target, detail=detail))
    return results
