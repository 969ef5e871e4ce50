"""RevenueVault: exact splits, share accounting across transfers, pull withdrawals, reentrancy,
and revenue conservation as a property test."""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3 import Web3

from chain import abi
from chain.choices import OfferKind
from chain.testing import contracts
from chain.testing.market import (
    LICENSE_NATIVE,
    MODEL,
    OTHER_MODEL,
    PASS_TOKEN,
    SHARES,
    ZERO,
    expect_revert,
)

PRICE = 10**16
PASS_PRICE = 5 * 10**6


def withdrawable(env, account, currency=ZERO) -> int:
    return env.vault.functions.withdrawable(account, currency).call()


def pay(env, buyer, amount=1):
    call = env.token.functions.purchase(LICENSE_NATIVE, amount, PRICE)
    return env.send(call, buyer, value=PRICE * amount)


def test_split_is_exact_fee_payees_then_holders(market):
    env, a = market, market.acct
    env.send(env.vault.functions.configurePayees(MODEL, [a.carol, a.dave], [1000, 333]), a.splits)
    env.send(env.token.functions.mintShares(SHARES, [a.alice, a.bob], [2, 1]), a.publisher)
    price = 10_007  # odd, so every part rounds
    cheap = env.offer(MODEL, OfferKind.LICENSE, price, duration=86_400, transferable=True)
    env.send(env.token.functions.configureOffer(LICENSE_NATIVE, cheap), a.publisher)
    receipt = env.send(
        env.token.functions.purchase(LICENSE_NATIVE, 1, price), a.outsider, value=price
    )
    fee, carol, dave = price * 250 // 10_000, price * 1000 // 10_000, price * 333 // 10_000
    rest = price - fee - carol - dave
    (split,) = env.events(env.vault, receipt, "PaymentSplit")
    assert split == {
        "modelId": MODEL,
        "currency": ZERO,
        "amount": price,
        "fee": fee,
        "toPayees": carol + dave,
        "toHolders": rest,
        "residualTo": ZERO,
        "toResidual": 0,
    }
    credited = {e["account"]: e["amount"] for e in env.events(env.vault, receipt, "Credited")}
    assert credited == {a.platform: fee, a.carol: carol, a.dave: dave}
    assert withdrawable(env, a.platform) == fee
    assert withdrawable(env, a.carol) == carol
    assert withdrawable(env, a.dave) == dave
    # Holders: 2/3 and 1/3 of the rest, floored; the sub-wei remainder stays as dust.
    alice, bob = withdrawable(env, a.alice), withdrawable(env, a.bob)
    assert alice == rest * 2 // 3
    assert bob == rest // 3
    pool = env.vault.functions.poolOf(MODEL, ZERO).call()
    assert pool[2] == rest
    assert pool[3] == 0
    assert env.vault.functions.reserves(ZERO).call() == price
    assert rest - alice - bob <= 1


def test_without_shares_the_rest_goes_to_the_publisher_or_the_platform(market):
    env, a = market, market.acct
    receipt = pay(env, a.alice)
    split = env.events(env.vault, receipt, "PaymentSplit")[0]
    assert split["residualTo"] == a.publisher
    assert split["toHolders"] == 0
    assert withdrawable(env, a.publisher) == split["toResidual"] == PRICE - PRICE * 1250 // 10_000
    # An offer of an unregistered model: the residual goes to the platform.
    offer = env.offer(OTHER_MODEL, OfferKind.LICENSE, PRICE, duration=86_400)
    env.send(env.token.functions.configureOffer(20, offer), a.publisher)
    receipt = env.send(env.token.functions.purchase(20, 1, PRICE), a.alice, value=PRICE)
    split = env.events(env.vault, receipt, "PaymentSplit")[0]
    assert split["residualTo"] == a.platform
    assert split["toResidual"] == PRICE - split["fee"]


def test_share_transfers_keep_earnings_with_who_held_the_shares(market):
    env, a = market, market.acct
    env.send(env.vault.functions.configurePayees(MODEL, [], []), a.splits)
    env.send(env.vault.functions.setPlatform(a.platform, 0), a.admin)
    env.send(env.token.functions.mintShares(SHARES, [a.alice, a.bob], [600, 400]), a.publisher)
    pay(env, a.outsider)  # alice 0.6, bob 0.4
    transfer = env.token.functions.safeTransferFrom(a.alice, a.carol, SHARES, 300, b"")
    env.send(transfer, a.alice)
    pay(env, a.outsider)  # alice 0.3, bob 0.4, carol 0.3
    assert withdrawable(env, a.alice) == PRICE * 6 // 10 + PRICE * 3 // 10
    assert withdrawable(env, a.bob) == 2 * PRICE * 4 // 10
    assert withdrawable(env, a.carol) == PRICE * 3 // 10
    # Bob sells everything: his earnings settle into his plain balance, the model leaves his set.
    env.send(env.token.functions.safeTransferFrom(a.bob, a.dave, SHARES, 400, b""), a.bob)
    assert env.vault.functions.shareModelsOf(a.bob).call() == []
    assert env.vault.functions.creditedOf(a.bob, ZERO).call() == 2 * PRICE * 4 // 10
    pay(env, a.outsider)
    assert withdrawable(env, a.bob) == 2 * PRICE * 4 // 10
    assert withdrawable(env, a.dave) == PRICE * 4 // 10
    total = sum(withdrawable(env, x) for x in (a.alice, a.bob, a.carol, a.dave))
    assert total == 3 * PRICE == env.vault.functions.reserves(ZERO).call()


def test_withdraw_pays_out_per_currency(market):
    env, a = market, market.acct
    env.send(env.token.functions.mintShares(SHARES, [a.alice], [1]), a.publisher)
    pay(env, a.bob)
    env.send(env.token.functions.purchase(PASS_TOKEN, 2, PASS_PRICE), a.bob)
    native_due, usd_due = withdrawable(env, a.alice), withdrawable(env, a.alice, env.usd.address)
    assert native_due > 0
    assert usd_due > 0
    before = env.native_balance(a.alice)
    receipt = env.send(env.vault.functions.withdraw(ZERO), a.alice)
    gas = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert env.native_balance(a.alice) - before + gas == native_due
    assert env.events(env.vault, receipt, "Withdrawn")[0] == {
        "account": a.alice,
        "currency": ZERO,
        "amount": native_due,
    }
    assert withdrawable(env, a.alice) == 0
    assert withdrawable(env, a.alice, env.usd.address) == usd_due  # the other currency waits
    usd_before = env.usd.functions.balanceOf(a.alice).call()
    env.send(env.vault.functions.withdraw(env.usd.address), a.alice)
    assert env.usd.functions.balanceOf(a.alice).call() - usd_before == usd_due
    expect_revert(
        lambda: env.send(env.vault.functions.withdraw(ZERO), a.alice),
        "NothingToWithdraw",
        account=a.alice,
        currency=ZERO,
    )


def test_configuration_is_validated(chain):
    env, a = chain, chain.acct
    payees = env.vault.functions.configurePayees
    cases = [
        (payees(MODEL, [a.alice], [9001]), a.splits, "PayeeBpsTooHigh"),
        (payees(MODEL, [a.alice, a.bob], [5000, 4001]), a.splits, "PayeeBpsTooHigh"),
        (payees(MODEL, [a.alice], [0]), a.splits, "ZeroBps"),
        (payees(MODEL, [ZERO], [1]), a.splits, "ZeroAddress"),
        (payees(MODEL, [a.alice], [1, 2]), a.splits, "LengthMismatch"),
        (payees(MODEL, [a.alice] * 11, [1] * 11), a.splits, "TooManyPayees"),
        (env.vault.functions.setPlatform(a.platform, 1001), a.admin, "FeeTooHigh"),
        (env.vault.functions.setPlatform(ZERO, 0), a.admin, "ZeroAddress"),
        (env.vault.functions.setShareToken(a.alice), a.admin, "ShareTokenAlreadySet"),
    ]
    for call, sender, error in cases:
        expect_revert(lambda call=call, sender=sender: env.send(call, sender), error)
    receipt = env.send(payees(MODEL, [a.alice, a.bob], [5000, 4000]), a.splits)
    assert env.events(env.vault, receipt, "PayeesConfigured")[0] == {
        "modelId": MODEL,
        "accounts": [a.alice, a.bob],
        "bps": [5000, 4000],
    }
    assert env.vault.functions.payeesOf(MODEL).call() == [[a.alice, a.bob], [5000, 4000]]
    receipt = env.send(env.vault.functions.setPlatform(a.carol, 1000), a.admin)
    assert env.events(env.vault, receipt, "PlatformConfigured")[0] == {
        "platform": a.carol,
        "feeBps": 1000,
    }


def test_deposit_checks_that_the_money_arrived(chain):
    env, a = chain, chain.acct
    env.send(env.vault.functions.grantRole(abi.DEPOSITOR_ROLE, a.admin), a.admin)
    deposit = env.vault.functions.deposit
    expect_revert(lambda: env.send(deposit(MODEL, ZERO, 5), a.admin, value=4), "WrongPayment")
    expect_revert(lambda: env.send(deposit(MODEL, ZERO, 0), a.admin), "ZeroAmount")
    usd = env.usd.address
    expect_revert(
        lambda: env.send(deposit(MODEL, usd, 5), a.admin),
        "PaymentNotReceived",
        currency=usd,
        amount=5,
        unaccounted=0,
    )
    env.send(env.usd.functions.mint(env.vault.address, 5), a.admin)
    expect_revert(lambda: env.send(deposit(MODEL, usd, 5), a.admin, value=1), "WrongPayment")
    env.send(deposit(MODEL, usd, 5), a.admin)
    # The same tokens cannot be credited twice.
    expect_revert(lambda: env.send(deposit(MODEL, usd, 1), a.admin), "PaymentNotReceived")
    assert env.vault.functions.reserves(usd).call() == 5


# --- Reentrancy ---------------------------------------------------------------------------
def test_reentrant_receiver_cannot_take_more_than_its_due(market):
    env, a = market, market.acct
    attacker = contracts.deploy_contract(
        env.w3, "ReentrantReceiver", env.vault.address, sender=a.admin
    )
    # The attacker is both a payee (10%) and holds half of the shares.
    env.send(env.vault.functions.configurePayees(MODEL, [attacker.address], [1000]), a.splits)
    env.send(
        env.token.functions.mintShares(SHARES, [attacker.address, a.alice], [500, 500]),
        a.publisher,
    )
    for _ in range(3):
        pay(env, a.bob)
    due = withdrawable(env, attacker.address)
    alice_due, platform_due = withdrawable(env, a.alice), withdrawable(env, a.platform)
    reserves = env.vault.functions.reserves(ZERO).call()
    # On receipt it re-enters withdraw (3 tries) and moves its shares to an accomplice (carol).
    env.send(attacker.functions.moveSharesOnReceipt(env.token.address, SHARES, a.carol), a.admin)
    env.send(attacker.functions.attack(3), a.admin)

    assert env.native_balance(attacker.address) == due
    assert attacker.functions.attempts().call() == 1  # the one receipt; re-entry never paid
    assert attacker.functions.successes().call() == 0
    reason = abi.decode_revert(attacker.functions.lastRevert().call())
    assert reason.name == "ReentrancyGuardReentrantCall"
    assert attacker.functions.moveSucceeded().call()
    assert env.token.functions.balanceOf(a.carol, SHARES).call() == 500
    # The accomplice got the shares but none of the earnings already withdrawn.
    assert withdrawable(env, a.carol) == 0
    assert withdrawable(env, attacker.address) == 0
    assert withdrawable(env, a.alice) == alice_due
    assert withdrawable(env, a.platform) == platform_due
    assert env.vault.functions.reserves(ZERO).call() == reserves - due
    assert env.native_balance(env.vault.address) == reserves - due
    # From now on the accomplice earns the shares' part, the attacker only its payee part.
    pay(env, a.bob)
    assert withdrawable(env, a.carol) == withdrawable(env, a.alice) - alice_due


# --- Conservation (property test) ---------------------------------------------------------
N_ACTORS = 5
ACTORS = [
    Web3.to_checksum_address(Web3.keccak(text=f"vault-actor-{i}")[12:]) for i in range(N_ACTORS)
]
MAX_FEE = 1000


@pytest.fixture(scope="module")
def actors(deployed):
    """Five fresh addresses the node signs for (anvil impersonation), funded for gas."""
    env = deployed
    env.w3.provider.make_request("anvil_autoImpersonateAccount", [True])
    for actor in ACTORS:
        env.w3.provider.make_request("anvil_setBalance", [actor, hex(10**21)])
    return ACTORS


@st.composite
def scenarios(draw):
    fee = draw(st.integers(0, MAX_FEE))
    models = []
    for _ in range(draw(st.integers(1, 2))):
        payees, left = [], 10_000 - MAX_FEE
        for _ in range(draw(st.integers(0, 3))):
            if left == 0:
                break
            bps = draw(st.integers(1, left))
            left -= bps
            payees.append((draw(st.integers(0, N_ACTORS - 1)), bps))
        holders = draw(
            st.one_of(
                st.just([]),
                st.lists(
                    st.tuples(st.integers(0, N_ACTORS - 1), st.integers(1, 10**6)),
                    min_size=1,
                    max_size=4,
                ),
            )
        )
        models.append(
            {
                "payees": payees,
                "holders": holders,
                "registered": draw(st.booleans()),
                "native_price": draw(st.one_of(st.integers(1, 999), st.integers(1, 10**18))),
                "token_price": draw(st.integers(1, 10**12)),
            }
        )
    model_index = st.integers(0, len(models) - 1)
    buy = st.tuples(st.just("buy"), model_index, st.booleans(), st.integers(1, 3))
    move = st.tuples(
        st.just("move"),
        model_index,
        st.integers(0, 10),
        st.integers(0, N_ACTORS - 1),
        st.integers(1, 100),
    )
    ops = draw(st.lists(st.one_of(buy, buy, move), min_size=1, max_size=8))
    return {"fee": fee, "models": models, "ops": ops}


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
def test_revenue_is_conserved_to_the_wei(deployed, actors, scenario):
    env = deployed
    snapshot_id = env.snapshot()
    try:
        _run_conservation_scenario(env, actors, scenario)
    finally:
        env.revert(snapshot_id)


def _run_conservation_scenario(env, actors, scenario):
    a, token, vault, usd = env.acct, env.token, env.vault, env.usd
    currencies = [ZERO, usd.address]
    buyers = {ZERO: a.alice, usd.address: a.bob}
    vault_start = {
        ZERO: env.native_balance(vault.address),
        usd.address: usd.functions.balanceOf(vault.address).call(),
    }
    reserves_start = {c: vault.functions.reserves(c).call() for c in currencies}
    env.send(vault.functions.setPlatform(a.platform, scenario["fee"]), a.admin)

    expected = defaultdict(Fraction)  # (account, currency) -> what it is owed, exactly
    paid = defaultdict(int)
    shares = defaultdict(lambda: defaultdict(int))  # model -> account -> balance
    ever_held = defaultdict(set)  # account -> models whose shares it held
    setup = []
    for m, spec in enumerate(scenario["models"]):
        model_id = Web3.keccak(text=f"property-model-{m}")
        if spec["registered"]:
            env.send(env.registry.functions.registerModel(model_id, a.publisher, ""), a.publisher)
        if spec["payees"]:
            accounts = [actors[i] for i, _ in spec["payees"]]
            bps = [b for _, b in spec["payees"]]
            env.send(vault.functions.configurePayees(model_id, accounts, bps), a.splits)
        native_offer, token_offer, share_offer = 1000 + m, 2000 + m, 3000 + m
        lic = OfferKind.LICENSE
        env.send(
            token.functions.configureOffer(
                native_offer, env.offer(model_id, lic, spec["native_price"], duration=3600)
            ),
            a.publisher,
        )
        env.send(
            token.functions.configureOffer(
                token_offer, env.offer(model_id, lic, spec["token_price"], currency=usd.address)
            ),
            a.publisher,
        )
        if spec["holders"]:
            env.send(
                token.functions.configureOffer(
                    share_offer, env.offer(model_id, OfferKind.SHARES, 0, transferable=True)
                ),
                a.publisher,
            )
            holders = [actors[i] for i, _ in spec["holders"]]
            amounts = [n for _, n in spec["holders"]]
            env.send(token.functions.mintShares(share_offer, holders, amounts), a.publisher)
            for holder, amount in zip(holders, amounts, strict=True):
                shares[m][holder] += amount
                ever_held[holder].add(m)
        setup.append((model_id, native_offer, token_offer, share_offer))

    fee_bps = scenario["fee"]
    for op in scenario["ops"]:
        m = op[1]
        spec, (model_id, native_offer, token_offer, share_offer) = scenario["models"][m], setup[m]
        if op[0] == "buy":
            _, _, native, units = op
            currency = ZERO if native else usd.address
            price = spec["native_price"] if native else spec["token_price"]
            offer_id = native_offer if native else token_offer
            total = price * units
            env.send(
                token.functions.purchase(offer_id, units, price),
                buyers[currency],
                value=total if native else 0,
            )
            paid[currency] += total
            fee = total * fee_bps // 10_000
            expected[(a.platform, currency)] += fee
            rest = total - fee
            for i, bps in spec["payees"]:
                part = total * bps // 10_000
                expected[(actors[i], currency)] += part
                rest -= part
            supply = sum(shares[m].values())
            if supply:
                for holder, balance in shares[m].items():
                    expected[(holder, currency)] += Fraction(rest * balance, supply)
            else:
                residual = a.publisher if spec["registered"] else a.platform
                expected[(residual, currency)] += rest
        else:
            _, _, pick, to_index, percent = op
            holding = sorted(h for h, b in shares[m].items() if b > 0)
            if not holding:
                continue
            sender, receiver = holding[pick % len(holding)], actors[to_index]
            amount = max(1, shares[m][sender] * percent // 100)
            env.send(
                token.functions.safeTransferFrom(sender, receiver, share_offer, amount, b""), sender
            )
            shares[m][sender] -= amount
            shares[m][receiver] += amount
            ever_held[receiver].add(m)

    everyone = sorted({*actors, a.platform, a.publisher})
    for currency in currencies:
        assert (
            vault.functions.reserves(currency).call() - reserves_start[currency] == paid[currency]
        )
        owed = {acct: withdrawable(env, acct, currency) for acct in everyone}
        deficits = {}
        for acct in everyone:
            # Plain credits are exact; share earnings are floored, at most 1 wei per pool.
            deficit = expected[(acct, currency)] - owed[acct]
            assert 0 <= deficit <= len(ever_held[acct]), (acct, currency, deficit)
            deficits[acct] = deficit
        dust = sum(deficits.values())
        assert dust.denominator == 1
        assert sum(owed.values()) + dust == paid[currency]

        withdrawn = 0
        for acct in everyone:
            if not owed[acct]:
                continue
            before = (
                env.native_balance(acct)
                if currency == ZERO
                else usd.functions.balanceOf(acct).call()
            )
            receipt = env.send(vault.functions.withdraw(currency), acct)
            (event,) = env.events(vault, receipt, "Withdrawn")
            assert event["amount"] == owed[acct]
            if currency == ZERO:
                gas = receipt["gasUsed"] * receipt["effectiveGasPrice"]
                assert env.native_balance(acct) - before + gas == owed[acct]
            else:
                assert usd.functions.balanceOf(acct).call() - before == owed[acct]
            withdrawn += owed[acct]
            assert withdrawable(env, acct, currency) == 0

        held = (
            env.native_balance(vault.address)
            if currency == ZERO
            else usd.functions.balanceOf(vault.address).call()
        ) - vault_start[currency]
        # What stays is exactly the holders' sub-wei dust, by three independent accounts.
        pools_dust = 0
        for model_id, *_ in setup:
            _, _, accrued, claimed = vault.functions.poolOf(model_id, currency).call()
            pools_dust += accrued - claimed
        assert held == paid[currency] - withdrawn == pools_dust == dust
        assert vault.functions.reserves(currency).call() - reserves_start[currency] == dust
