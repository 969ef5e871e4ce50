"""The governor through the chain sync: its own events are indexed (no projection of them yet:
harmless), and what its executions change is projected by the token's, vault's and registry's
existing handlers."""

from __future__ import annotations

from decimal import Decimal

from web3 import Web3

from chain import abi
from chain.models import IndexedEvent, SyncCursor
from chain.sync import sync_network
from chain.testing.market import LICENSE_NATIVE, MODEL
from licensing.models import ChainOffer, ChainPayees, PublishedVersion

PRICE = 10**16  # LICENSE_NATIVE's price in the standard market


def _passed(env, name: str) -> bytes:
    proposal_id = Web3.keccak(text=name)
    call = env.governor.functions.recordTally(
        MODEL, proposal_id, Web3.keccak(text="ballots"), 7, 2, 1, True
    )
    env.send(call, env.acct.publisher)
    return proposal_id


def test_governed_changes_are_projected_and_the_governors_events_indexed(network, market):
    env, a, governor = market, market.acct, market.governor.functions
    env.send(governor.setPriceBounds(LICENSE_NATIVE, PRICE, 3 * PRICE), a.publisher)
    env.send(governor.setSplitBounds(MODEL, 0, 5000), a.publisher)
    sync_network(network=network)
    assert ChainOffer.objects.get(token_id=LICENSE_NATIVE).price == PRICE

    price, pause, payees, version = (
        _passed(env, name) for name in ("price", "pause", "payees", "version")
    )
    env.send(governor.executeSetPrice(price, LICENSE_NATIVE, 2 * PRICE), a.publisher)
    env.send(governor.executeSetActive(pause, LICENSE_NATIVE, False), a.publisher)
    env.send(governor.executeSetPayees(payees, [a.dave], [1234]), a.publisher)
    artifact = Web3.keccak(text="v7")
    env.send(governor.executePublishVersion(version, 7, artifact, "7.0.0"), a.publisher)

    sync_network(network=network)

    offer = ChainOffer.objects.get(token_id=LICENSE_NATIVE)
    assert (offer.price, offer.active) == (Decimal(2 * PRICE), False)
    latest = ChainPayees.objects.order_by("-block_number", "-log_index").first()
    assert latest.pairs() == [(a.dave, 1234)]
    published = PublishedVersion.objects.get(version=7)
    assert (published.artifact_sha256, published.label) == (artifact.hex(), "7.0.0")
    names = IndexedEvent.objects.filter(contract_name=abi.MODEL_GOVERNOR).values_list(
        "name", flat=True
    )
    assert sorted(set(names)) == [
        "PriceBoundsSet",
        "ProposalExecuted",
        "ProposalTallied",
        "RoleGranted",
        "SplitBoundsSet",
    ]
    assert list(names).count("ProposalExecuted") == 4
    cursor = SyncCursor.objects.get(contract_name=abi.MODEL_GOVERNOR)
    assert cursor.last_error == ""
