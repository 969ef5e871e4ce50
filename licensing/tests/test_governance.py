"""Governance end to end on anvil: holders' EIP-712 ballots (signed by anvil's own accounts,
as a wallet signs them) weighted by their shares at the snapshot block, the tally published
and recorded by ``ModelGovernor``, a passed price change executed through the outbox within the
publisher's bounds and projected by the sync, and ``verify_tally`` against the chain."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from chain.models import OutboundTransaction
from chain.testing.market import LICENSE_NATIVE
from licensing import governance
from licensing.choices import ProposalAction, ProposalStatus
from licensing.models import Ballot, ChainOffer, Offer, PriceBound, Proposal
from licensing.tests.governance_kit import (
    ABSTAIN,
    AGAINST,
    FOR,
    PRICE,
    close,
    confirm,
    move,
    propose,
    sign,
    vote,
)
from licensing.tests.publishing_setup import drain
from portal.errors import DomainError


def test_a_vote_weighs_the_shares_held_at_the_snapshot_not_now(governed):
    shop, a = governed, governed.env.acct
    move(shop, a.alice, a.carol, 100)  # before the snapshot: carol's 100 count
    confirm(shop)
    proposal = propose(shop)
    move(shop, a.alice, a.dave, 500)  # after it: alice still weighs 500, dave nothing
    confirm(shop)

    alice = vote(shop, a.alice, proposal, FOR)
    carol = vote(shop, a.carol, proposal, FOR)
    dave = vote(shop, a.dave, proposal, AGAINST)

    assert (int(alice.ballot.weight), int(carol.ballot.weight)) == (500, 100)
    assert int(dave.ballot.weight) == 0
    assert "counts zero" in dave.message
    assert f"block {proposal.snapshot_block}" in dave.message
    assert int(proposal.total_weight) == 1000


def test_a_later_ballot_replaces_the_earlier_and_an_older_one_is_refused(governed):
    shop, a = governed, governed.env.acct
    proposal = propose(shop)
    now = int(timezone.now().timestamp())
    first = sign(shop, a.bob, proposal, FOR, now - 10)
    governance.ballot_cast(proposal=proposal, **first)

    changed = vote(shop, a.bob, proposal, AGAINST, now)

    assert changed.replaced
    assert list(Ballot.objects.filter(voter=a.bob).values_list("support", "current")) == [
        (AGAINST, True),
        (FOR, False),
    ]
    with pytest.raises(DomainError) as stale:  # the first one again: a replay
        governance.ballot_cast(proposal=proposal, **first)
    assert stale.value.code == "ballot_stale"
    vote(shop, a.alice, proposal, FOR)
    closed = close(proposal)
    assert (int(closed.for_weight), int(closed.against_weight)) == (600, 400)
    assert closed.status == ProposalStatus.PASSED


def test_a_signature_for_another_proposal_or_chain_is_not_the_voters(governed):
    shop, a = governed, governed.env.acct
    proposal, other = propose(shop), propose(shop, title="Another question")
    for_other = sign(shop, a.alice, other, FOR)
    with pytest.raises(DomainError) as wrong:
        governance.ballot_cast(proposal=proposal, **for_other)
    assert wrong.value.code == "ballot_wrong_signer"

    typed = governance.ballot_typed_data(
        proposal, support=FOR, issued_at=int(timezone.now().timestamp())
    )
    typed["domain"]["chainId"] = 1  # signed for mainnet
    signature = shop.env.w3.provider.make_request(
        "eth_signTypedData_v4", [a.alice, json.dumps(typed)]
    )["result"]
    with pytest.raises(DomainError) as mainnet:
        governance.ballot_cast(
            proposal=proposal, voter=a.alice, support=FOR,
            issued_at=typed["message"]["issuedAt"], signature=signature,
        )  # fmt: skip
    assert mainnet.value.code == "ballot_wrong_signer"
    assert not Ballot.objects.exists()


def test_a_vote_after_the_window_is_refused(governed):
    shop, a = governed, governed.env.acct
    proposal = propose(shop)
    ballot = sign(shop, a.alice, proposal, FOR)
    past = timezone.now() - timedelta(seconds=1)
    Proposal.objects.filter(pk=proposal.pk).update(
        opens_at=past - timedelta(hours=1), closes_at=past
    )
    proposal.refresh_from_db()

    with pytest.raises(DomainError) as closed:
        governance.ballot_cast(proposal=proposal, **ballot)

    assert closed.value.code == "voting_closed"


def test_quorum_not_met_and_a_tie_both_fail(governed):
    shop, a = governed, governed.env.acct
    lonely = propose(shop, title="Few voters")
    move(shop, a.alice, a.carol, 200)
    confirm(shop)
    tied = propose(shop, title="Split down the middle")  # alice 400, bob 400, carol 200
    vote(shop, a.carol, lonely, FOR)  # 0 at lonely's snapshot: carol had nothing then
    vote(shop, a.alice, tied, FOR)
    vote(shop, a.bob, tied, AGAINST)
    vote(shop, a.carol, tied, ABSTAIN)

    assert close(lonely).status == ProposalStatus.NO_QUORUM
    result = close(tied)
    assert result.status == ProposalStatus.REJECTED
    assert result.tally["outcome"]["reason"] == "a tie"
    assert (int(result.for_weight), int(result.against_weight), int(result.abstain_weight)) == (
        400,
        400,
        200,
    )


def test_a_passed_price_change_is_executed_and_synced_and_the_tally_verifies(governed):
    shop, a = governed, governed.env.acct
    offer = shop.offers[LICENSE_NATIVE]
    proposal = propose(
        shop, action=ProposalAction.SET_PRICE, params={"offer": offer.pk, "price": PRICE * 2}
    )
    vote(shop, a.alice, proposal, FOR)
    vote(shop, a.bob, proposal, AGAINST)

    closed = close(proposal)
    assert closed.status == ProposalStatus.PASSED
    drain(shop.network)
    assert governance.governance_finish() == 1
    closed.refresh_from_db()

    assert closed.status == ProposalStatus.EXECUTED
    recorded = shop.env.governor.functions.tallyOf(proposal.proposal_id).call()
    assert "0x" + bytes(recorded[1]).hex() == closed.tally_hash
    assert (recorded[2], recorded[3], recorded[4], recorded[5], recorded[6]) == (
        600, 400, 0, True, True,
    )  # fmt: skip
    assert shop.env.token.functions.offers(LICENSE_NATIVE).call()[7] == PRICE * 2
    chain_offer = ChainOffer.objects.get(network=shop.network, token_id=LICENSE_NATIVE)
    assert int(chain_offer.price) == PRICE * 2  # the sync projected OfferConfigured
    assert int(Offer.objects.get(pk=offer.pk).price) == PRICE * 2  # staff's view follows
    history = closed.history.values_list("status", flat=True)
    assert {"passed", "executed"} <= set(history)
    out = io.StringIO()
    call_command("verify_tally", proposal.proposal_id, stdout=out)
    assert out.getvalue().startswith("MATCH")


def test_verify_tally_finds_a_tampered_ballot(governed, tmp_path):
    shop, a = governed, governed.env.acct
    proposal = propose(shop)
    vote(shop, a.alice, proposal, AGAINST)
    vote(shop, a.bob, proposal, FOR)
    closed = close(proposal)
    drain(shop.network)
    document = json.loads(json.dumps(closed.tally))
    for ballot in document["ballots"]:
        if ballot["voter"] == a.bob:
            ballot["weight"] = "900"  # bob "held" more
    document["totals"]["for"] = "900"
    path = tmp_path / "tally.json"
    path.write_text(json.dumps(document))
    out = io.StringIO()

    with pytest.raises(SystemExit) as exit_status:
        call_command("verify_tally", proposal.proposal_id, "--document", str(path), stdout=out)

    assert exit_status.value.code == 1
    text = out.getvalue()
    assert "MISMATCH" in text
    assert f"ballot of {a.bob}" in text
    assert "the governor recorded hash" in text


def test_an_out_of_bounds_price_is_refused_here_and_reverts_on_chain(governed):
    """The portal refuses a price outside the bounds; and when the bounds narrow on chain after
    a proposal opened, the governor reverts its execution with PriceOutOfBounds."""
    shop, a = governed, governed.env.acct
    offer = shop.offers[LICENSE_NATIVE]
    with pytest.raises(DomainError) as refused:
        propose(
            shop, action=ProposalAction.SET_PRICE, params={"offer": offer.pk, "price": PRICE * 9}
        )
    assert refused.value.code == "bad_proposal"
    proposal = propose(
        shop, action=ProposalAction.SET_PRICE, params={"offer": offer.pk, "price": PRICE * 4}
    )
    vote(shop, a.alice, proposal, FOR)
    narrowed = PriceBound.objects.get(offer=offer)
    narrowed.max_price = PRICE * 3  # the publisher narrows the bounds while the vote runs
    governance.price_bound_save(bound=narrowed)
    drain(shop.network)

    close(proposal)
    drain(shop.network)
    governance.governance_finish()
    proposal.refresh_from_db()

    assert proposal.status == ProposalStatus.EXECUTION_FAILED
    assert "PriceOutOfBounds" in proposal.failure
    execution = OutboundTransaction.objects.get(pk=proposal.execution_transaction_id)
    assert execution.status == "reverted"
    assert shop.env.token.functions.offers(LICENSE_NATIVE).call()[7] == PRICE


def test_one_proposal_that_cannot_be_tallied_holds_up_no_other(governed):
    shop = governed
    broken, fine = propose(shop, title="Broken"), propose(shop, title="Fine")
    vote(shop, shop.env.acct.alice, broken, FOR)  # it passes: its change must be queued
    past = timezone.now()
    Proposal.objects.update(opens_at=past - timedelta(hours=1), closes_at=past)
    Proposal.objects.filter(pk=broken.pk).update(
        action="set_price", params={"token_id": "not a number", "price": "1"}
    )

    assert governance.proposals_tally_due() == 1

    broken.refresh_from_db()
    fine.refresh_from_db()
    assert broken.status == ProposalStatus.OPEN  # logged, tried again at the next beat
    assert fine.status == ProposalStatus.NO_QUORUM
