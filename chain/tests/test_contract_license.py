"""LicenseToken: offers, purchases (native and ERC-20), expiry, grants, extensions,
revocation, transfers, pause, supply, credits and shares, on a real anvil node."""

from __future__ import annotations

from chain.choices import OfferKind
from chain.testing.market import (
    CREDITS,
    DAY,
    LICENSE_NATIVE,
    MODEL,
    OTHER_MODEL,
    PASS_TOKEN,
    PERPETUAL,
    SHARES,
    TERMS,
    ZERO,
    expect_revert,
)

PRICE = 10**16  # LICENSE_NATIVE
PASS_PRICE = 5 * 10**6  # PASS_TOKEN, in TUSD (6 decimals)
REASON = b"abuse".ljust(32, b"\x00")


def block_time(env, receipt) -> int:
    return env.w3.eth.get_block(receipt["blockNumber"])["timestamp"]


def buy(env, buyer, offer_id=LICENSE_NATIVE, amount=1, price=PRICE, value=None):
    value = price * amount if value is None else value
    return env.send(env.token.functions.purchase(offer_id, amount, price), buyer, value=value)


# --- Offers -------------------------------------------------------------------------------
def test_configure_offer_stores_and_emits_every_field(chain):
    env = chain
    config = env.offer(
        MODEL,
        OfferKind.ACCESS_PASS,
        123,
        currency=env.usd.address,
        duration=3600,
        max_supply=7,
        transferable=True,
        active=False,
    )
    receipt = env.send(env.token.functions.configureOffer(42, config), env.acct.publisher)
    (event,) = env.events(env.token, receipt, "OfferConfigured")
    assert event == {
        "id": 42,
        "modelId": MODEL,
        "kind": OfferKind.ACCESS_PASS,
        "price": 123,
        "currency": env.usd.address,
        "duration": 3600,
        "maxSupply": 7,
        "transferable": True,
        "termsHash": TERMS,
        "active": False,
    }
    stored = env.token.functions.offers(42).call()
    assert stored == (MODEL, env.usd.address, 3600, 1, True, False, False, 123, 7, TERMS)


def test_offer_identity_is_immutable_and_kinds_are_checked(market):
    env, pub = market, market.acct.publisher
    configure = env.token.functions.configureOffer
    lic = OfferKind.LICENSE
    cases = [
        (0, env.offer(MODEL, lic, 1), "InvalidOfferId"),
        (9, env.offer(b"\x00" * 32, lic, 1), "ZeroModelId"),
        (LICENSE_NATIVE, env.offer(OTHER_MODEL, lic, 1, duration=DAY), "OfferFieldImmutable"),
        (
            LICENSE_NATIVE,
            env.offer(MODEL, OfferKind.ACCESS_PASS, 1, duration=DAY),
            "OfferFieldImmutable",
        ),
        (LICENSE_NATIVE, env.offer(MODEL, lic, 1, duration=0), "OfferFieldImmutable"),
        (PERPETUAL, env.offer(MODEL, lic, 1, duration=DAY), "OfferFieldImmutable"),
        (9, env.offer(MODEL, OfferKind.CREDITS, 1, duration=DAY), "DurationNotAllowed"),
        (9, env.offer(MODEL, OfferKind.SHARES, 0, duration=DAY), "DurationNotAllowed"),
        (9, env.offer(OTHER_MODEL, OfferKind.SHARES, 5), "SharesHaveNoPrice"),
        (9, env.offer(MODEL, OfferKind.SHARES, 0), "ModelAlreadyHasShares"),
    ]
    for offer_id, config, error in cases:
        expect_revert(lambda o=offer_id, c=config: env.send(configure(o, c), pub), error)
    # Price, currency, duration (staying timed), supply, flags and terms may change.
    new_terms = b"\x07" * 32
    changed = env.offer(
        MODEL,
        lic,
        2 * PRICE,
        duration=60 * DAY,
        transferable=False,
        terms=new_terms,
        max_supply=100,
    )
    env.send(configure(LICENSE_NATIVE, changed), pub)
    stored = env.token.functions.offers(LICENSE_NATIVE).call()
    assert stored[2] == 60 * DAY
    assert stored[7] == 2 * PRICE
    assert stored[9] == new_terms


def test_unknown_and_inactive_offers_are_rejected(market):
    env, alice = market, market.acct.alice
    expect_revert(lambda: buy(env, alice, offer_id=77), "UnknownOffer", id=77)
    inactive = env.offer(MODEL, OfferKind.LICENSE, PRICE, duration=30 * DAY, active=False)
    env.send(env.token.functions.configureOffer(LICENSE_NATIVE, inactive), env.acct.publisher)
    expect_revert(lambda: buy(env, alice), "OfferInactive", id=LICENSE_NATIVE)


# --- Purchases ----------------------------------------------------------------------------
def test_purchase_with_native_coin(market):
    env, a = market, market.acct
    vault_before = env.native_balance(env.vault.address)
    receipt = buy(env, a.alice)
    now = block_time(env, receipt)
    (event,) = env.events(env.token, receipt, "Purchased")
    assert event == {
        "buyer": a.alice,
        "id": LICENSE_NATIVE,
        "modelId": MODEL,
        "amount": 1,
        "paid": PRICE,
        "currency": ZERO,
        "newExpiry": now + 30 * DAY,
        "termsHash": TERMS,
    }
    assert env.token.functions.balanceOf(a.alice, LICENSE_NATIVE).call() == 1
    assert env.token.functions.totalSupply(LICENSE_NATIVE).call() == 1
    assert env.token.functions.expiresAt(LICENSE_NATIVE, a.alice).call() == now + 30 * DAY
    assert env.token.functions.isValid(a.alice, LICENSE_NATIVE).call()
    assert not env.token.functions.isValid(a.bob, LICENSE_NATIVE).call()
    # The coin went straight to the vault and was split: 2.5% fee, 10% payee, rest publisher.
    assert env.native_balance(env.token.address) == 0
    assert env.native_balance(env.vault.address) - vault_before == PRICE
    (split,) = env.events(env.vault, receipt, "PaymentSplit")
    assert split["amount"] == PRICE
    assert split["fee"] == PRICE * 250 // 10_000
    assert split["toPayees"] == PRICE // 10
    assert split["toHolders"] == 0
    assert split["residualTo"] == a.publisher
    assert split["fee"] + split["toPayees"] + split["toResidual"] == PRICE


def test_native_payment_must_match_exactly(market):
    env, alice = market, market.acct.alice
    for value in (PRICE - 1, PRICE + 1, 0):
        expect_revert(
            lambda v=value: buy(env, alice, value=v), "WrongPayment", expected=PRICE, sent=value
        )
    expect_revert(
        lambda: buy(env, alice, amount=2, value=PRICE), "WrongPayment", expected=2 * PRICE
    )
    expect_revert(lambda: buy(env, alice, amount=0, value=0), "ZeroAmount")


def test_purchase_with_erc20(market):
    env, a = market, market.acct
    usd = env.usd
    before = usd.functions.balanceOf(a.bob).call()
    receipt = env.send(env.token.functions.purchase(PASS_TOKEN, 2, PASS_PRICE), a.bob)
    now = block_time(env, receipt)
    assert before - usd.functions.balanceOf(a.bob).call() == 2 * PASS_PRICE
    assert usd.functions.balanceOf(env.vault.address).call() == 2 * PASS_PRICE
    assert usd.functions.balanceOf(env.token.address).call() == 0
    (event,) = env.events(env.token, receipt, "Purchased")
    assert event["currency"] == usd.address
    assert event["paid"] == 2 * PASS_PRICE
    assert event["newExpiry"] == now + 14 * DAY  # two units of a 7-day pass
    assert env.vault.functions.reserves(usd.address).call() == 2 * PASS_PRICE
    # ERC-20 offers take no native coin.
    expect_revert(
        lambda: env.send(env.token.functions.purchase(PASS_TOKEN, 1, PASS_PRICE), a.bob, value=1),
        "WrongPayment",
        expected=0,
        sent=1,
    )


def test_erc20_purchase_needs_allowance_and_balance(market):
    env, a = market, market.acct
    purchase = env.token.functions.purchase(PASS_TOKEN, 1, PASS_PRICE)
    env.send(env.usd.functions.approve(env.token.address, PASS_PRICE - 1), a.carol)
    expect_revert(lambda: env.send(purchase, a.carol), "ERC20InsufficientAllowance")
    env.send(env.usd.functions.approve(env.token.address, PASS_PRICE), a.publisher)
    expect_revert(lambda: env.send(purchase, a.publisher), "ERC20InsufficientBalance")


def test_max_price_protects_the_buyer_from_a_price_change(market):
    env, a = market, market.acct
    raised = env.offer(MODEL, OfferKind.LICENSE, 2 * PRICE, duration=30 * DAY, transferable=True)
    env.send(env.token.functions.configureOffer(LICENSE_NATIVE, raised), a.publisher)
    # The buyer quoted PRICE; the offer now costs 2 * PRICE.
    call = env.token.functions.purchase(LICENSE_NATIVE, 1, PRICE)
    expect_revert(
        lambda: env.send(call, a.alice, value=2 * PRICE),
        "PriceAboveMax",
        id=LICENSE_NATIVE,
        price=2 * PRICE,
        maxPrice=PRICE,
    )
    # A max above the price pays the actual price, not the max.
    receipt = env.send(
        env.token.functions.purchase(LICENSE_NATIVE, 1, 5 * PRICE), a.alice, value=2 * PRICE
    )
    assert env.events(env.token, receipt, "Purchased")[0]["paid"] == 2 * PRICE


# --- Expiry -------------------------------------------------------------------------------
def test_renewal_before_expiry_adds_to_the_remaining_time(market):
    env, alice = market, market.acct.alice
    first = block_time(env, buy(env, alice))
    expiry = first + 30 * DAY
    env.advance(10 * DAY)
    receipt = buy(env, alice, amount=2)
    assert env.events(env.token, receipt, "Purchased")[0]["newExpiry"] == expiry + 60 * DAY
    assert env.token.functions.expiresAt(LICENSE_NATIVE, alice).call() == expiry + 60 * DAY
    assert env.token.functions.balanceOf(alice, LICENSE_NATIVE).call() == 3


def test_license_expires_after_its_duration_and_renewal_restarts_from_now(market):
    env, alice = market, market.acct.alice
    start = block_time(env, buy(env, alice))
    env.advance(30 * DAY - 60)
    assert env.token.functions.isValid(alice, LICENSE_NATIVE).call()
    env.advance(120)
    assert env.now() > start + 30 * DAY
    assert not env.token.functions.isValid(alice, LICENSE_NATIVE).call()
    assert env.token.functions.balanceOf(alice, LICENSE_NATIVE).call() == 1  # kept, but expired
    receipt = buy(env, alice)
    now = block_time(env, receipt)
    assert env.token.functions.expiresAt(LICENSE_NATIVE, alice).call() == now + 30 * DAY
    assert env.token.functions.isValid(alice, LICENSE_NATIVE).call()


def test_perpetual_license_never_expires(market):
    env, alice = market, market.acct.alice
    receipt = buy(env, alice, offer_id=PERPETUAL, price=3 * PRICE)
    assert env.events(env.token, receipt, "Purchased")[0]["newExpiry"] == 0
    env.advance(3650 * DAY)
    assert env.token.functions.isValid(alice, PERPETUAL).call()
    assert env.token.functions.expiresAt(PERPETUAL, alice).call() == 0


# --- Grants and revocation ----------------------------------------------------------------
def test_grant_mints_without_payment(market):
    env, a = market, market.acct
    until = env.now() + 90 * DAY
    receipt = env.send(env.token.functions.grant(a.dave, LICENSE_NATIVE, 1, until), a.publisher)
    assert env.events(env.token, receipt, "Granted")[0] == {
        "to": a.dave,
        "id": LICENSE_NATIVE,
        "amount": 1,
        "newExpiry": until,
        "termsHash": TERMS,
    }
    assert env.token.functions.isValid(a.dave, LICENSE_NATIVE).call()
    assert env.vault.functions.reserves(ZERO).call() == 0  # nothing was paid
    # A shorter grant does not cut the holder's time.
    env.send(env.token.functions.grant(a.dave, LICENSE_NATIVE, 1, until - DAY), a.publisher)
    assert env.token.functions.expiresAt(LICENSE_NATIVE, a.dave).call() == until
    grant = env.token.functions.grant
    past = env.now() - 1
    expect_revert(
        lambda: env.send(grant(a.dave, LICENSE_NATIVE, 1, past), a.publisher), "InvalidExpiry"
    )
    expect_revert(
        lambda: env.send(grant(a.dave, PERPETUAL, 1, until), a.publisher), "InvalidExpiry"
    )
    expect_revert(lambda: env.send(grant(a.dave, CREDITS, 5, until), a.publisher), "InvalidExpiry")
    expect_revert(lambda: env.send(grant(a.dave, SHARES, 5, 0), a.publisher), "NotGrantable")
    expect_revert(lambda: env.send(grant(ZERO, CREDITS, 5, 0), a.publisher), "ZeroAddress")
    env.send(grant(a.dave, CREDITS, 5, 0), a.publisher)
    assert env.token.functions.balanceOf(a.dave, CREDITS).call() == 5


def test_extend_moves_the_expiry_later_without_minting(market):
    env, a = market, market.acct
    start = block_time(env, buy(env, a.alice))
    supply = env.token.functions.totalSupply(LICENSE_NATIVE).call()
    until = start + 90 * DAY

    receipt = env.send(env.token.functions.extend(a.alice, LICENSE_NATIVE, until), a.publisher)

    assert env.events(env.token, receipt, "Extended") == [
        {"holder": a.alice, "id": LICENSE_NATIVE, "expiry": until, "termsHash": TERMS}
    ]
    assert env.events(env.token, receipt, "TransferSingle") == []  # nothing minted
    assert env.token.functions.totalSupply(LICENSE_NATIVE).call() == supply
    assert env.token.functions.balanceOf(a.alice, LICENSE_NATIVE).call() == 1
    assert env.token.functions.expiresAt(LICENSE_NATIVE, a.alice).call() == until
    assert env.vault.functions.reserves(ZERO).call() == PRICE  # only the purchase was paid


def test_extend_never_shortens_and_needs_a_timed_holding(market):
    env, a = market, market.acct
    current = block_time(env, buy(env, a.alice)) + 30 * DAY
    buy(env, a.alice, offer_id=PERPETUAL, price=3 * PRICE)
    env.send(env.token.functions.grant(a.alice, CREDITS, 5, 0), a.publisher)
    extend = env.token.functions.extend
    later = current + DAY
    cases = [
        (a.alice, LICENSE_NATIVE, current, "ExpiryNotLater", {"current": current}),
        (a.alice, LICENSE_NATIVE, current - DAY, "ExpiryNotLater", {"expiry": current - DAY}),
        (a.alice, LICENSE_NATIVE, env.now() - 1, "InvalidExpiry", {"id": LICENSE_NATIVE}),
        (a.bob, LICENSE_NATIVE, later, "NothingToExtend", {"holder": a.bob}),
        (ZERO, LICENSE_NATIVE, later, "NothingToExtend", {"holder": ZERO}),
        (a.alice, PERPETUAL, later, "NotExtendable", {"id": PERPETUAL}),
        (a.alice, CREDITS, later, "NotExtendable", {"id": CREDITS}),
        (a.alice, SHARES, later, "NotExtendable", {"id": SHARES}),
        (a.alice, 99, later, "UnknownOffer", {"id": 99}),
    ]
    for holder, offer_id, expiry, error, expected in cases:
        expect_revert(
            lambda h=holder, o=offer_id, e=expiry: env.send(extend(h, o, e), a.publisher),
            error,
            **expected,
        )
    assert env.token.functions.expiresAt(LICENSE_NATIVE, a.alice).call() == current


def test_extend_restores_a_revoked_pass_and_works_while_paused(market):
    env, a = market, market.acct
    env.send(env.token.functions.purchase(PASS_TOKEN, 1, PASS_PRICE), a.alice)
    env.send(env.token.functions.revoke(a.alice, PASS_TOKEN, REASON), a.publisher)
    assert not env.token.functions.isValid(a.alice, PASS_TOKEN).call()
    env.send(env.token.functions.pause(), a.publisher)
    until = env.now() + 10 * DAY

    env.send(env.token.functions.extend(a.alice, PASS_TOKEN, until), a.publisher)

    assert env.token.functions.isValid(a.alice, PASS_TOKEN).call()
    assert env.token.functions.expiresAt(PASS_TOKEN, a.alice).call() == until


def test_revocation_ends_a_timed_license_now(market):
    env, a = market, market.acct
    buy(env, a.alice)
    receipt = env.send(env.token.functions.revoke(a.alice, LICENSE_NATIVE, REASON), a.publisher)
    now = block_time(env, receipt)
    assert env.events(env.token, receipt, "Revoked")[0] == {
        "holder": a.alice,
        "id": LICENSE_NATIVE,
        "reason": REASON,
        "expiry": now,
    }
    assert env.token.functions.expiresAt(LICENSE_NATIVE, a.alice).call() == now
    assert not env.token.functions.isValid(a.alice, LICENSE_NATIVE).call()
    # A new purchase starts a new term from now.
    receipt = buy(env, a.alice)
    assert env.token.functions.expiresAt(LICENSE_NATIVE, a.alice).call() == (
        block_time(env, receipt) + 30 * DAY
    )


def test_revocation_of_a_perpetual_license(market):
    env, a = market, market.acct
    buy(env, a.alice, offer_id=PERPETUAL, price=3 * PRICE)
    env.send(env.token.functions.revoke(a.alice, PERPETUAL, REASON), a.publisher)
    assert not env.token.functions.isValid(a.alice, PERPETUAL).call()
    env.advance(DAY)
    assert not env.token.functions.isValid(a.alice, PERPETUAL).call()
    # Buying again grants a new perpetual license.
    buy(env, a.alice, offer_id=PERPETUAL, price=3 * PRICE)
    assert env.token.functions.isValid(a.alice, PERPETUAL).call()
    assert env.token.functions.expiresAt(PERPETUAL, a.alice).call() == 0


def test_revoke_needs_a_holder_of_a_license_or_pass(market):
    env, a = market, market.acct
    revoke = env.token.functions.revoke
    expect_revert(
        lambda: env.send(revoke(a.bob, LICENSE_NATIVE, REASON), a.publisher),
        "NothingToRevoke",
        holder=a.bob,
        id=LICENSE_NATIVE,
    )
    expect_revert(lambda: env.send(revoke(a.bob, CREDITS, REASON), a.publisher), "NotRevocable")
    expect_revert(lambda: env.send(revoke(a.bob, 99, REASON), a.publisher), "UnknownOffer")


# --- Transfers ----------------------------------------------------------------------------
def test_non_transferable_offer_cannot_be_transferred(market):
    env, a = market, market.acct
    env.send(env.token.functions.purchase(PASS_TOKEN, 1, PASS_PRICE), a.alice)
    single = env.token.functions.safeTransferFrom(a.alice, a.bob, PASS_TOKEN, 1, b"")
    expect_revert(lambda: env.send(single, a.alice), "NonTransferable", id=PASS_TOKEN)
    batch = env.token.functions.safeBatchTransferFrom(a.alice, a.bob, [PASS_TOKEN], [1], b"")
    expect_revert(lambda: env.send(batch, a.alice), "NonTransferable", id=PASS_TOKEN)
    # Even an approved operator cannot move it.
    env.send(env.token.functions.setApprovalForAll(a.dave, True), a.alice)
    expect_revert(lambda: env.send(single, a.dave), "NonTransferable")
    assert env.token.functions.balanceOf(a.alice, PASS_TOKEN).call() == 1


def test_transferable_timed_license_moves_with_its_remaining_time(market):
    env, a = market, market.acct
    buy(env, a.alice, amount=2)  # 60 days on two units
    env.advance(10 * DAY)
    receipt = env.send(
        env.token.functions.safeTransferFrom(a.alice, a.bob, LICENSE_NATIVE, 1, b""), a.alice
    )
    now = block_time(env, receipt)
    alice_expiry = env.token.functions.expiresAt(LICENSE_NATIVE, a.alice).call()
    bob_expiry = env.token.functions.expiresAt(LICENSE_NATIVE, a.bob).call()
    (moved,) = env.events(env.token, receipt, "ExpiryTransferred")
    # Half the units carry half the remaining time (remaining is ~50 days).
    remaining = alice_expiry + moved["secondsMoved"] - now
    assert moved["secondsMoved"] == remaining // 2
    assert bob_expiry == now + remaining // 2
    assert moved["toExpiry"] == bob_expiry
    assert moved["fromExpiry"] == alice_expiry
    assert env.token.functions.balanceOf(a.bob, LICENSE_NATIVE).call() == 1
    assert env.token.functions.isValid(a.bob, LICENSE_NATIVE).call()
    assert env.token.functions.isValid(a.alice, LICENSE_NATIVE).call()
    # The last unit takes all of the remaining time with it (at its own block's time: on a
    # busy machine the second transfer can be mined a second after the first).
    last = env.send(
        env.token.functions.safeTransferFrom(a.alice, a.bob, LICENSE_NATIVE, 1, b""), a.alice
    )
    later = block_time(env, last)
    assert not env.token.functions.isValid(a.alice, LICENSE_NATIVE).call()
    assert env.token.functions.expiresAt(LICENSE_NATIVE, a.bob).call() == bob_expiry + (
        alice_expiry - later
    )


def test_revoked_perpetual_license_cannot_be_passed_on(market):
    env, a = market, market.acct
    transferable = env.offer(MODEL, OfferKind.LICENSE, PRICE, transferable=True)
    env.send(env.token.functions.configureOffer(11, transferable), a.publisher)
    buy(env, a.alice, offer_id=11)
    env.send(env.token.functions.revoke(a.alice, 11, REASON), a.publisher)
    transfer = env.token.functions.safeTransferFrom(a.alice, a.bob, 11, 1, b"")
    expect_revert(lambda: env.send(transfer, a.alice), "LicenseNotValid", holder=a.alice, id=11)


def test_pause_blocks_purchases_and_transfers(market):
    env, a = market, market.acct
    buy(env, a.alice)
    receipt = env.send(env.token.functions.pause(), a.publisher)
    assert env.events(env.token, receipt, "Paused")[0]["account"] == a.publisher
    expect_revert(lambda: buy(env, a.alice), "EnforcedPause")
    transfer = env.token.functions.safeTransferFrom(a.alice, a.bob, LICENSE_NATIVE, 1, b"")
    expect_revert(lambda: env.send(transfer, a.alice), "EnforcedPause")
    # Privileged mints stay possible during an incident.
    env.send(env.token.functions.grant(a.bob, CREDITS, 1, 0), a.publisher)
    env.send(env.token.functions.unpause(), a.publisher)
    env.send(transfer, a.alice)
    buy(env, a.alice)
    assert env.token.functions.balanceOf(a.bob, LICENSE_NATIVE).call() == 1


# --- Supply -------------------------------------------------------------------------------
def test_max_supply_is_enforced(market):
    env, a = market, market.acct
    purchase = env.token.functions.purchase
    env.send(purchase(PASS_TOKEN, 3, PASS_PRICE), a.alice)
    expect_revert(
        lambda: env.send(purchase(PASS_TOKEN, 3, PASS_PRICE), a.bob),
        "MaxSupplyExceeded",
        id=PASS_TOKEN,
        supply=3,
        amount=3,
        maxSupply=5,
    )
    until = env.now() + DAY
    env.send(env.token.functions.grant(a.bob, PASS_TOKEN, 2, until), a.publisher)
    expect_revert(lambda: env.send(purchase(PASS_TOKEN, 1, PASS_PRICE), a.bob), "MaxSupplyExceeded")
    lower = env.offer(
        MODEL,
        OfferKind.ACCESS_PASS,
        PASS_PRICE,
        currency=env.usd.address,
        duration=7 * DAY,
        max_supply=4,
    )
    expect_revert(
        lambda: env.send(env.token.functions.configureOffer(PASS_TOKEN, lower), a.publisher),
        "MaxSupplyBelowSupply",
        maxSupply=4,
        supply=5,
    )
    assert env.token.functions.totalSupply(PASS_TOKEN).call() == 5


# --- Credits ------------------------------------------------------------------------------
def test_credits_are_burned_by_the_meter_with_the_receipt_root(market):
    env, a = market, market.acct
    env.send(env.token.functions.purchase(CREDITS, 1000, 10**12), a.alice, value=1000 * 10**12)
    assert env.token.functions.isValid(a.alice, CREDITS).call()
    root = b"\xab" * 32
    receipt = env.send(env.token.functions.burnCredits(a.alice, CREDITS, 400, root), a.meter)
    assert env.events(env.token, receipt, "CreditsBurned")[0] == {
        "holder": a.alice,
        "id": CREDITS,
        "amount": 400,
        "receiptRoot": root,
    }
    assert env.token.functions.balanceOf(a.alice, CREDITS).call() == 600
    assert env.token.functions.totalSupply(CREDITS).call() == 600
    burn = env.token.functions.burnCredits
    expect_revert(
        lambda: env.send(burn(a.alice, CREDITS, 601, root), a.meter), "ERC1155InsufficientBalance"
    )
    expect_revert(lambda: env.send(burn(a.alice, LICENSE_NATIVE, 1, root), a.meter), "NotCredits")
    expect_revert(lambda: env.send(burn(a.alice, CREDITS, 0, root), a.meter), "ZeroAmount")
    # Credits are not the holder's to burn: only the meter's role can.
    expect_revert(
        lambda: env.send(burn(a.alice, CREDITS, 1, root), a.alice),
        "AccessControlUnauthorizedAccount",
    )


# --- Shares -------------------------------------------------------------------------------
def test_shares_are_minted_once_and_never_sold(market):
    env, a = market, market.acct
    expect_revert(
        lambda: buy(env, a.alice, offer_id=SHARES, price=0, value=0),
        "SharesNotPurchasable",
        id=SHARES,
    )
    mint = env.token.functions.mintShares
    expect_revert(lambda: env.send(mint(SHARES, [a.alice], [1, 2]), a.publisher), "LengthMismatch")
    expect_revert(lambda: env.send(mint(SHARES, [], []), a.publisher), "EmptyCapTable")
    expect_revert(lambda: env.send(mint(CREDITS, [a.alice], [1]), a.publisher), "NotShares")
    expect_revert(lambda: env.send(mint(SHARES, [a.alice], [0]), a.publisher), "ZeroAmount")
    receipt = env.send(mint(SHARES, [a.alice, a.bob], [700, 300]), a.publisher)
    assert env.events(env.token, receipt, "SharesMinted")[0] == {
        "id": SHARES,
        "modelId": MODEL,
        "supply": 1000,
    }
    assert env.token.functions.shareInfo(MODEL).call() == [SHARES, 1000]
    assert env.token.functions.shareInfo(OTHER_MODEL).call() == [0, 0]
    assert env.token.functions.isValid(a.alice, SHARES).call()
    expect_revert(
        lambda: env.send(mint(SHARES, [a.carol], [1]), a.publisher), "SharesAlreadyMinted"
    )
    assert env.vault.functions.shareModelsOf(a.alice).call() == [MODEL]


def test_erc1155_interfaces_and_uri(deployed):
    token = deployed.token
    assert token.functions.supportsInterface(bytes.fromhex("d9b67a26")).call()  # ERC-1155
    assert token.functions.supportsInterface(bytes.fromhex("7965db0b")).call()  # AccessControl
    assert token.functions.uri(5).call() == "https://portal.example/api/tokens/{id}.json"
    assert token.functions.vault().call() == deployed.vault.address
