"""The governance API over HTTP: the typed data a wallet signs, a ballot posted back (its
weight, or why it is refused), and the published tally."""

from __future__ import annotations

import json

from django.utils import timezone

from licensing.models import Ballot
from licensing.tasks import governance_tally_task
from licensing.tests.governance_kit import FOR, propose

BASE = "/api/governance/proposals"


def _signed(shop, client, proposal, voter, support):
    typed = client.get(f"{BASE}/{proposal.proposal_id}/ballot", {"support": support}).json()
    signature = shop.env.w3.provider.make_request(
        "eth_signTypedData_v4", [voter, json.dumps(typed)]
    )["result"]
    return typed, {
        "voter": voter,
        "support": support,
        "issued_at": typed["message"]["issuedAt"],
        "signature": signature,
    }


def test_a_wallet_votes_over_the_api(client, governed):
    shop, a = governed, governed.env.acct
    proposal = propose(shop)
    typed, ballot = _signed(shop, client, proposal, a.alice, FOR)

    response = client.post(
        f"{BASE}/{proposal.proposal_id}/ballots", ballot, content_type="application/json"
    )

    assert typed["domain"]["chainId"] == shop.network.chain_id
    assert typed["domain"]["verifyingContract"] == shop.env.governor.address
    assert abs(typed["message"]["issuedAt"] - timezone.now().timestamp()) < 5
    assert response.status_code == 201, response.content
    assert response.json() == {
        "voter": a.alice,
        "support": "for",
        "weight": "600",
        "replaced": False,
        "message": response.json()["message"],
    }
    detail = client.get(f"{BASE}/{proposal.proposal_id}").json()
    assert (detail["status"], detail["ballots"], detail["total_weight"]) == ("open", 1, "1000")
    assert client.get(f"{BASE}/{proposal.proposal_id}/tally").status_code == 404


def test_bad_ballots_have_their_codes_and_write_nothing(client, governed):
    shop, a = governed, governed.env.acct
    proposal = propose(shop)
    _, ballot = _signed(shop, client, proposal, a.alice, FOR)
    url = f"{BASE}/{proposal.proposal_id}/ballots"

    def post(**changes):
        return client.post(url, {**ballot, **changes}, content_type="application/json")

    assert post(voter=a.bob).json()["code"] == "ballot_wrong_signer"
    assert post(support=0).json()["code"] == "ballot_wrong_signer"  # signed "for"
    assert post(signature="0x1234").json()["code"] == "bad_ballot"
    assert post(voter="not an address").json()["code"] == "bad_ballot"
    assert post(support=7).status_code == 422
    unknown = client.post(f"{BASE}/0x{'00' * 32}/ballots", ballot, content_type="application/json")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "proposal_not_found"
    assert not Ballot.objects.exists()


def test_the_beat_tallies_what_closed_and_the_tally_is_published(client, governed):
    shop, a = governed, governed.env.acct
    proposal = propose(shop)
    _, ballot = _signed(shop, client, proposal, a.alice, FOR)
    client.post(f"{BASE}/{proposal.proposal_id}/ballots", ballot, content_type="application/json")
    from licensing.models import Proposal

    Proposal.objects.filter(pk=proposal.pk).update(closes_at=timezone.now())

    assert governance_tally_task() == {"tallied": 1, "finished": 0}

    tally = client.get(f"{BASE}/{proposal.proposal_id}/tally").json()
    assert tally["totals"] == {"for": "600", "against": "0", "abstain": "0"}
    assert tally["outcome"]["status"] == "passed"
    assert [b["voter"] for b in tally["ballots"]] == [a.alice]
    assert client.get(f"{BASE}/{proposal.proposal_id}/ballot", {"support": 1}).status_code == 409
