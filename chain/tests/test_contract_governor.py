"""ModelGovernor and the LicenseToken's governed setters on anvil: the publisher's bounds set and
enforced, tallies recorded once, only a passed proposal executed and only once, the offer's
model checked, and each action's effect (a new price, payees that split the next payment, an
offer paused then resumed, a version published)."""

from __future__ import annotations

import pytest
from web3 import Web3

from chain import abi
from chain.choices import OfferKind
from chain.testing.market import (
    LICENSE_NATIVE,
    MODEL,
    OTHER_MODEL,
    PASS_TOKEN,
    SHARES,
    TERMS,
    ZERO,
    expect_revert,
)

PRICE = 10**16  # LICENSE_NATIVE's price in the standard market
OTHER_OFFER = 9  # a license of OTHER_MODEL (see `other_offer`)
BALLOTS = Web3.keccak(text="the counted ballots")
NO_ID = b"\x00" * 32
SET_PRICE, SET_PAYEES, SET_ACTIVE, PUBLISH_VERSION = 1, 2, 3, 4


def proposal(name: str) -> bytes:
    return Web3.keccak(text=f"proposal {name}")


def tally(env, proposal_id: bytes, *, passed: bool = True, model: bytes = MODEL, sender=None):
    """Record a tally (60 for, 30 against, 10 abstaining) of ``proposal_id`` as the tallier."""
    call = env.governor.functions.recordTally(model, proposal_id, BALLOTS, 60, 30, 10, passed)
    return env.send(call, sender or env.acct.publisher)


def passed(env, name: str) -> bytes:
    """A proposal of ``MODEL`` whose tally passed."""
    proposal_id = proposal(name)
    tally(env, proposal_id)
    return proposal_id


def price_bounds(env, offer_id=LICENSE_NATIVE, low=PRICE // 2, high=PRICE * 2):
    return env.send(env.governor.functions.setPriceBounds(offer_id, low, high), env.acct.publisher)


def split_bounds(env, low=1000, high=3000, model=MODEL):
    return env.send(env.governor.functions.setSplitBounds(model, low, high), env.acct.publisher)


def buy(env, buyer, offer_id=LICENSE_NATIVE, price=PRICE):
    return env.send(env.token.functions.purchase(offer_id, 1, price), buyer, value=price)


@pytest.fixture
def other_offer(market):
    """A license of another model (``OTHER_OFFER``)."""
    config = market.offer(OTHER_MODEL, OfferKind.LICENSE, PRICE)
    market.send(market.token.functions.configureOffer(OTHER_OFFER, config), market.acct.publisher)
    return OTHER_OFFER


def _unauthorized(env, call, role, senders) -> None:
    for sender in senders:
        expect_revert(
            lambda sender=sender: env.send(call, sender),
            "AccessControlUnauthorizedAccount",
            account=sender,
            neededRole=bytes(role),
        )


# --- Bounds -------------------------------------------------------------------------------
def test_bounds_are_set_replaced_and_read_back_with_their_events(market):
    env = market
    assert env.governor.functions.priceBounds(LICENSE_NATIVE).call() == [0, 0, False]
    assert env.governor.functions.splitBounds(MODEL).call() == [0, 0, False]

    receipt = price_bounds(env, low=1, high=PRICE)
    (event,) = env.events(env.governor, receipt, "PriceBoundsSet")
    assert event == {"modelId": MODEL, "offerId": LICENSE_NATIVE, "minPrice": 1, "maxPrice": PRICE}
    receipt = split_bounds(env, 500, 9000)
    (event,) = env.events(env.governor, receipt, "SplitBoundsSet")
    assert event == {"modelId": MODEL, "minPayeesBps": 500, "maxPayeesBps": 9000}

    # new bounds replace the old; equal ends and a zero price are allowed
    price_bounds(env, low=0, high=0)
    split_bounds(env, 10_000, 10_000)
    assert env.governor.functions.priceBounds(LICENSE_NATIVE).call() == [0, 0, True]
    assert env.governor.functions.splitBounds(MODEL).call() == [10_000, 10_000, True]


def test_bounds_refuse_an_unknown_or_shares_offer_and_inverted_ranges(market):
    env = market
    set_price_bounds = env.governor.functions.setPriceBounds
    set_split_bounds = env.governor.functions.setSplitBounds
    publisher = env.acct.publisher

    expect_revert(lambda: env.send(set_price_bounds(77, 1, 2), publisher), "UnknownOffer", id=77)
    expect_revert(
        lambda: env.send(set_price_bounds(SHARES, 0, 0), publisher),
        "SharesHaveNoPrice",
        id=SHARES,
    )
    expect_revert(
        lambda: env.send(set_price_bounds(LICENSE_NATIVE, 3, 2), publisher),
        "InvalidBounds",
        minimum=3,
        maximum=2,
    )
    expect_revert(
        lambda: env.send(set_split_bounds(MODEL, 2000, 1000), publisher),
        "InvalidBounds",
        minimum=2000,
        maximum=1000,
    )
    expect_revert(
        lambda: env.send(set_split_bounds(MODEL, 0, 10_001), publisher),
        "InvalidBounds",
        minimum=0,
        maximum=10_001,
    )
    expect_revert(lambda: env.send(set_split_bounds(NO_ID, 0, 1), publisher), "ZeroModelId")
    assert not env.governor.functions.priceBounds(LICENSE_NATIVE).call()[2]
    assert not env.governor.functions.splitBounds(MODEL).call()[2]


def test_only_the_bounds_role_sets_bounds(market):
    env, a = market, market.acct
    senders = (a.outsider, a.admin, a.splits)
    _unauthorized(
        env, env.governor.functions.setPriceBounds(LICENSE_NATIVE, 1, 2), abi.BOUNDS_ROLE, senders
    )
    _unauthorized(env, env.governor.functions.setSplitBounds(MODEL, 1, 2), abi.BOUNDS_ROLE, senders)


# --- Tallies ------------------------------------------------------------------------------
def test_a_tally_is_recorded_once_with_its_event(market):
    env = market
    proposal_id = proposal("lower the price")
    assert env.governor.functions.tallyOf(proposal_id).call() == [
        NO_ID,
        NO_ID,
        0,
        0,
        0,
        False,
        False,
    ]

    receipt = tally(env, proposal_id, passed=False)

    (event,) = env.events(env.governor, receipt, "ProposalTallied")
    assert event == {
        "modelId": MODEL,
        "proposalId": proposal_id,
        "ballotsHash": BALLOTS,
        "forVotes": 60,
        "againstVotes": 30,
        "abstainVotes": 10,
        "passed": False,
    }
    assert env.governor.functions.tallyOf(proposal_id).call() == [
        MODEL,
        BALLOTS,
        60,
        30,
        10,
        False,
        False,
    ]
    # once: not even a corrected tally replaces it
    expect_revert(
        lambda: tally(env, proposal_id, passed=True),
        "TallyAlreadyRecorded",
        proposalId=proposal_id,
    )
    expect_revert(lambda: tally(env, proposal("x"), model=NO_ID), "ZeroModelId")
    expect_revert(lambda: tally(env, NO_ID), "ZeroProposalId")


def test_only_the_tallier_records_and_executes(market):
    env, a = market, market.acct
    proposal_id = passed(env, "anything")
    governor = env.governor.functions
    calls = [
        governor.recordTally(MODEL, proposal("other"), BALLOTS, 1, 0, 0, True),
        governor.executeSetPrice(proposal_id, LICENSE_NATIVE, PRICE),
        governor.executeSetActive(proposal_id, LICENSE_NATIVE, False),
        governor.executeSetPayees(proposal_id, [a.alice], [1000]),
        governor.executePublishVersion(proposal_id, 1, TERMS, "1.0.0"),
    ]
    for call in calls:
        _unauthorized(env, call, abi.TALLIER_ROLE, (a.outsider, a.admin, a.meter))
    assert not env.governor.functions.tallyOf(proposal_id).call()[6]


# --- Execution: once, passed only, the proposal's model --------------------------------------
def test_only_a_recorded_passed_proposal_executes(market):
    env = market
    rejected = proposal("rejected")
    tally(env, rejected, passed=False)
    execute = env.governor.functions.executeSetActive

    for proposal_id in (proposal("never tallied"), rejected):
        expect_revert(
            lambda proposal_id=proposal_id: env.send(
                execute(proposal_id, LICENSE_NATIVE, False), env.acct.publisher
            ),
            "ProposalNotPassed",
            proposalId=proposal_id,
        )
    assert env.token.functions.offers(LICENSE_NATIVE).call()[5] is True  # still active


def test_a_proposal_executes_once_whatever_the_action(market):
    env, a = market, market.acct
    price_bounds(env)
    split_bounds(env)
    proposal_id = passed(env, "pause sales")
    governor = env.governor.functions

    receipt = env.send(governor.executeSetActive(proposal_id, LICENSE_NATIVE, False), a.publisher)

    (event,) = env.events(env.governor, receipt, "ProposalExecuted")
    assert event == {"modelId": MODEL, "proposalId": proposal_id, "action": SET_ACTIVE}
    assert env.governor.functions.tallyOf(proposal_id).call()[6] is True
    again = [
        governor.executeSetActive(proposal_id, LICENSE_NATIVE, True),
        governor.executeSetPrice(proposal_id, LICENSE_NATIVE, PRICE),
        governor.executeSetPayees(proposal_id, [a.alice], [1000]),
        governor.executePublishVersion(proposal_id, 1, TERMS, "1.0.0"),
    ]
    for call in again:
        expect_revert(
            lambda call=call: env.send(call, a.publisher),
            "AlreadyExecuted",
            proposalId=proposal_id,
        )


def test_an_offer_of_another_model_is_refused_and_the_proposal_stays_open(market, other_offer):
    env = market
    proposal_id = passed(env, "pause the other model")
    governor = env.governor.functions
    env.send(governor.setPriceBounds(other_offer, 0, PRICE), env.acct.publisher)

    for call in (
        governor.executeSetActive(proposal_id, other_offer, False),
        governor.executeSetPrice(proposal_id, other_offer, PRICE),
    ):
        expect_revert(
            lambda call=call: env.send(call, env.acct.publisher),
            "WrongModel",
            proposalId=proposal_id,
            modelId=OTHER_MODEL,
        )
    expect_revert(
        lambda: env.send(governor.executeSetActive(proposal_id, 77, False), env.acct.publisher),
        "UnknownOffer",
        id=77,
    )
    # a refused execution changed nothing: the proposal can still be executed on its model
    assert env.governor.functions.tallyOf(proposal_id).call()[6] is False
    env.send(governor.executeSetActive(proposal_id, LICENSE_NATIVE, False), env.acct.publisher)
    assert env.token.functions.offers(other_offer).call()[5] is True


# --- Execution: each action's effect -------------------------------------------------------
def test_a_price_change_must_be_within_the_bounds_and_is_configured_on_the_offer(market):
    env, a = market, market.acct
    proposal_id = passed(env, "double the price")
    execute = env.governor.functions.executeSetPrice

    def set_price(price):
        return env.send(execute(proposal_id, LICENSE_NATIVE, price), a.publisher)

    expect_revert(lambda: set_price(PRICE * 2), "NoPriceBounds", offerId=LICENSE_NATIVE)
    price_bounds(env, low=PRICE, high=PRICE * 2)
    for price in (PRICE - 1, PRICE * 2 + 1):
        expect_revert(
            lambda price=price: set_price(price),
            "PriceOutOfBounds",
            offerId=LICENSE_NATIVE,
            price=price,
            minPrice=PRICE,
            maxPrice=PRICE * 2,
        )
    before = env.token.functions.offers(LICENSE_NATIVE).call()

    receipt = set_price(PRICE * 2)

    (configured,) = env.events(env.token, receipt, "OfferConfigured")
    assert configured == {
        "id": LICENSE_NATIVE,
        "modelId": MODEL,
        "kind": OfferKind.LICENSE,
        "price": PRICE * 2,
        "currency": ZERO,
        "duration": 30 * 86_400,
        "maxSupply": 0,
        "transferable": True,
        "termsHash": TERMS,
        "active": True,
    }
    (executed,) = env.events(env.governor, receipt, "ProposalExecuted")
    assert executed == {"modelId": MODEL, "proposalId": proposal_id, "action": SET_PRICE}
    after = env.token.functions.offers(LICENSE_NATIVE).call()
    assert after[7] == PRICE * 2  # price
    assert after[:7] + after[8:] == before[:7] + before[8:]  # nothing else changed
    # buyers pay the new price (a quote at the old one is refused)
    expect_revert(lambda: buy(env, a.dave), "PriceAboveMax", price=PRICE * 2, maxPrice=PRICE)
    buy(env, a.dave, price=PRICE * 2)


def test_payees_set_by_vote_split_the_next_payment(market):
    env, a = market, market.acct
    proposal_id = passed(env, "new payees")
    execute = env.governor.functions.executeSetPayees

    def set_payees(accounts, bps):
        return env.send(execute(proposal_id, accounts, bps), a.publisher)

    expect_revert(lambda: set_payees([a.alice], [1500]), "NoSplitBounds", modelId=MODEL)
    split_bounds(env, 1000, 3000)
    for bps in ([500, 400], [2000, 1001]):
        expect_revert(
            lambda bps=bps: set_payees([a.alice, a.bob], bps),
            "SplitOutOfBounds",
            modelId=MODEL,
            totalBps=sum(bps),
            minPayeesBps=1000,
            maxPayeesBps=3000,
        )
    # within the bounds, the vault's own checks still apply
    expect_revert(lambda: set_payees([a.alice, ZERO], [1000, 500]), "ZeroAddress")
    expect_revert(lambda: set_payees([a.alice], [1000, 500]), "LengthMismatch")

    receipt = set_payees([a.alice, a.bob], [500, 1500])

    (configured,) = env.events(env.vault, receipt, "PayeesConfigured")
    assert configured == {"modelId": MODEL, "accounts": [a.alice, a.bob], "bps": [500, 1500]}
    (executed,) = env.events(env.governor, receipt, "ProposalExecuted")
    assert executed == {"modelId": MODEL, "proposalId": proposal_id, "action": SET_PAYEES}
    assert env.vault.functions.payeesOf(MODEL).call() == [[a.alice, a.bob], [500, 1500]]
    # the next payment is split by them (carol, the payee before, gets nothing of it)
    buy(env, a.dave)
    withdrawable = env.vault.functions.withdrawable
    assert withdrawable(a.alice, abi.NATIVE).call() == PRICE * 500 // 10_000
    assert withdrawable(a.bob, abi.NATIVE).call() == PRICE * 1500 // 10_000
    assert withdrawable(a.carol, abi.NATIVE).call() == 0


def test_an_offer_paused_by_vote_refuses_purchases_until_resumed(market):
    env, a = market, market.acct
    pause, resume = passed(env, "pause"), passed(env, "resume")
    execute = env.governor.functions.executeSetActive

    receipt = env.send(execute(pause, LICENSE_NATIVE, False), a.publisher)

    (configured,) = env.events(env.token, receipt, "OfferConfigured")
    assert (configured["id"], configured["price"], configured["active"]) == (
        LICENSE_NATIVE,
        PRICE,
        False,
    )
    expect_revert(lambda: buy(env, a.dave), "OfferInactive", id=LICENSE_NATIVE)
    # the other offers sell on (this is not the token's pause)
    env.send(env.token.functions.purchase(PASS_TOKEN, 1, 5 * 10**6), a.dave)

    receipt = env.send(execute(resume, LICENSE_NATIVE, True), a.publisher)

    (configured,) = env.events(env.token, receipt, "OfferConfigured")
    assert configured["active"] is True
    (executed,) = env.events(env.governor, receipt, "ProposalExecuted")
    assert executed == {"modelId": MODEL, "proposalId": resume, "action": SET_ACTIVE}
    buy(env, a.dave)
    assert env.token.functions.balanceOf(a.dave, LICENSE_NATIVE).call() == 1


def test_a_version_published_by_vote_is_in_the_registry(market):
    env, a = market, market.acct
    proposal_id = passed(env, "version 2")
    artifact = Web3.keccak(text="model bytes v2")
    execute = env.governor.functions.executePublishVersion

    receipt = env.send(execute(proposal_id, 2, artifact, "2.0.0"), a.publisher)

    (published,) = env.events(env.registry, receipt, "VersionPublished")
    assert published == {
        "modelId": MODEL,
        "version": 2,
        "artifactSha256": artifact,
        "label": "2.0.0",
    }
    (executed,) = env.events(env.governor, receipt, "ProposalExecuted")
    assert executed == {"modelId": MODEL, "proposalId": proposal_id, "action": PUBLISH_VERSION}
    assert env.registry.functions.artifactHashOf(MODEL, 2).call() == artifact
    # the registry's checks still apply (write-once versions)
    again = passed(env, "version 2 again")
    expect_revert(
        lambda: env.send(execute(again, 2, TERMS, "2.0.1"), a.publisher),
        "VersionAlreadyPublished",
        version=2,
    )


# --- LicenseToken's governed setters ---------------------------------------------------------
def test_only_the_governor_sets_a_price_or_the_active_flag(market):
    env, a = market, market.acct
    token = env.token.functions
    senders = (a.publisher, a.admin, a.outsider)
    _unauthorized(env, token.governSetPrice(LICENSE_NATIVE, 1), abi.GOVERNOR_ROLE, senders)
    _unauthorized(env, token.governSetActive(LICENSE_NATIVE, False), abi.GOVERNOR_ROLE, senders)
    assert token.hasRole(abi.GOVERNOR_ROLE, env.governor.address).call()
    assert token.offers(LICENSE_NATIVE).call()[7] == PRICE


def test_governed_setters_refuse_shares_prices_unknown_offers_and_overflow(market):
    env, a = market, market.acct
    token = env.token.functions
    env.send(token.grantRole(abi.GOVERNOR_ROLE, a.dave), a.admin)  # a stand-in governor

    expect_revert(
        lambda: env.send(token.governSetPrice(SHARES, 1), a.dave), "SharesHaveNoPrice", id=SHARES
    )
    expect_revert(lambda: env.send(token.governSetPrice(77, 1), a.dave), "UnknownOffer", id=77)
    expect_revert(lambda: env.send(token.governSetActive(77, True), a.dave), "UnknownOffer", id=77)
    expect_revert(
        lambda: env.send(token.governSetPrice(LICENSE_NATIVE, 2**128), a.dave),
        "SafeCastOverflowedUintDowncast",
    )
