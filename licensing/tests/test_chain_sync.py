"""Chain sync against a real anvil node: projections, idempotency, crashes, reorgs."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as search_settings
from hypothesis import strategies as st
from web3 import Web3

from chain import abi
from chain.choices import OfferKind
from chain.models import BlockRecord, IndexedEvent, Reorg, SyncCursor
from chain.plan import SuiteConfig
from chain.sync import sync_network
from chain.testing import contracts
from chain.testing.faults import WorkerDied, crash_after_events
from chain.testing.market import CREDITS, DAY, LICENSE_NATIVE, MODEL, PERPETUAL, SHARES
from licensing.choices import LicenseChangeKind
from licensing.models import (
    ChainModel,
    ChainOffer,
    ChainPayees,
    CreditEntry,
    Holding,
    HoldingChange,
    License,
    LicenseChange,
    Payment,
    PublishedVersion,
    VaultEntry,
)

PRICE = 10**16


def _buy(env, buyer, offer=LICENSE_NATIVE, amount=1, price=PRICE):
    return env.send(env.token.functions.purchase(offer, amount, price), buyer, value=price * amount)


def activity(env) -> None:
    """A little of everything: purchases, renewal, shares, a transfer, an extension, credits, a
    revocation."""
    a = env.acct
    env.send(env.token.functions.mintShares(SHARES, [a.alice, a.bob], [60, 40]), a.publisher)
    _buy(env, a.alice)
    _buy(env, a.bob)
    _buy(env, a.alice)  # renewal: adds to the remaining time
    _buy(env, a.dave, offer=PERPETUAL, price=3 * 10**16)
    env.send(
        env.token.functions.safeTransferFrom(a.alice, a.carol, LICENSE_NATIVE, 1, b""), a.alice
    )
    until = env.now() + 400 * DAY
    env.send(env.token.functions.extend(a.alice, LICENSE_NATIVE, until), a.publisher)
    _buy(env, a.bob, offer=CREDITS, amount=500, price=10**12)
    env.send(env.token.functions.burnCredits(a.bob, CREDITS, 120, b"\x01" * 32), a.meter)
    env.send(env.token.functions.revoke(a.bob, LICENSE_NATIVE, b"\x02" * 32), a.publisher)
    env.send(env.token.functions.safeTransferFrom(a.bob, a.dave, SHARES, 10, b""), a.bob)
    env.send(env.vault.functions.withdraw(abi.NATIVE), a.carol)


def snapshot_projections() -> dict:
    """Everything projected, as comparable values (no ids, no event links)."""

    def rows(model, *fields):
        return sorted(tuple(str(v) for v in row) for row in model.objects.values_list(*fields))

    return {
        "offers": rows(
            ChainOffer,
            "token_id",
            "kind",
            "price",
            "duration",
            "active",
            "terms_hash",
            "block_number",
        ),
        "models": rows(ChainModel, "model_id", "publisher", "metadata_uri"),
        "versions": rows(PublishedVersion, "model_id", "version", "artifact_sha256", "label"),
        "holdings": rows(Holding, "token_id", "holder", "balance"),
        "holding_changes": rows(HoldingChange, "token_id", "holder", "delta"),
        "licenses": rows(
            License, "token_id", "holder", "expires_at", "revoked", "terms_hash", "block_number"
        ),
        "changes": rows(LicenseChange, "token_id", "holder", "kind", "expires_at"),
        "credits": rows(CreditEntry, "token_id", "holder", "delta", "receipt_root"),
        "payments": rows(Payment, "model_id", "amount", "fee", "to_payees", "to_holders"),
        "vault": rows(VaultEntry, "account", "currency", "kind", "amount"),
        "payees": rows(ChainPayees, "model_id", "accounts", "bps", "block_number", "log_index"),
        "events": rows(IndexedEvent, "tx_hash", "log_index", "name", "block_hash"),
    }


def fresh_index(network) -> dict:
    """Forget everything indexed and index the canonical chain from scratch."""
    IndexedEvent.objects.all().delete()
    for model in (ChainOffer, Holding, License):
        model.objects.all().delete()
    SyncCursor.objects.all().delete()
    BlockRecord.objects.all().delete()
    sync_network(network=network)
    return snapshot_projections()


def test_projections_follow_the_chain(network, market):
    activity(market)

    stats = sync_network(network=network)

    a = market.acct
    assert stats.new_events > 20
    assert ChainModel.objects.get().model_id == "0x" + MODEL.hex().removeprefix("0x")
    assert ChainOffer.objects.count() == 5
    carol = License.objects.get(token_id=LICENSE_NATIVE, holder=a.carol)
    on_chain = market.token.functions.expiresAt(LICENSE_NATIVE, a.carol).call()
    assert carol.expires_at == on_chain
    bob = License.objects.get(token_id=LICENSE_NATIVE, holder=a.bob)
    assert bob.revoked
    assert not bob.is_valid()
    assert License.objects.get(token_id=PERPETUAL, holder=a.dave).expires_at == 0
    alice = License.objects.get(token_id=LICENSE_NATIVE, holder=a.alice)
    assert alice.expires_at == market.token.functions.expiresAt(LICENSE_NATIVE, a.alice).call()
    latest = LicenseChange.objects.filter(holder=a.alice).order_by("-event__block_number").first()
    assert latest.kind == LicenseChangeKind.EXTEND
    assert latest.expires_at == alice.expires_at
    for holding in Holding.objects.all():
        balance = market.token.functions.balanceOf(holding.holder, int(holding.token_id)).call()
        assert int(holding.balance) == balance, holding
    assert sum(int(e.delta) for e in CreditEntry.objects.filter(holder=a.bob)) == 380
    assert Payment.objects.count() == 5
    withdrawn = VaultEntry.objects.get(kind="withdrawn")
    assert withdrawn.account == a.carol


def test_indexing_twice_leaves_the_same_rows(network, market):
    activity(market)
    sync_network(network=network)
    once = snapshot_projections()

    again = sync_network(network=network)
    replay = sync_network(network=network, from_block=0)

    assert again.new_events == 0
    assert replay.new_events == 0
    assert replay.events == len(once["events"])
    assert snapshot_projections() == once


@pytest.mark.parametrize("fail_after", [1, 4, 9])
def test_a_crash_mid_batch_loses_and_doubles_nothing(network, market, settings, fail_after):
    settings.CHAIN_SYNC_INITIAL_SPAN = 4
    activity(market)

    with crash_after_events(fail_after), pytest.raises(WorkerDied, match="the worker died"):
        sync_network(network=network)
    cursor_blocks = {c.contract_name: c.last_block for c in SyncCursor.objects.all()}
    assert all(
        IndexedEvent.objects.filter(contract_name=name, block_number__gt=last).count() == 0
        for name, last in cursor_blocks.items()
    )  # nothing past a cursor: each batch and its cursor were one transaction

    sync_network(network=network)

    assert snapshot_projections() == fresh_index(network)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_a_reorg_rolls_back_to_the_fork_and_matches_a_fresh_index(network, market, depth):
    a = market.acct
    activity(market)
    sync_network(network=network)
    fork_snapshot = market.snapshot()
    fork_block = market.w3.eth.block_number + 1
    # the branch that will be dropped: `depth` blocks, one transaction each
    for _ in range(depth):
        _buy(market, a.outsider)
    sync_network(network=network)
    assert License.objects.filter(holder=a.outsider).exists()

    # the node switches to another branch, longer by one block
    market.revert(fork_snapshot)
    for _ in range(depth + 1):
        _buy(market, a.dave)
    stats = sync_network(network=network)

    assert stats.reorgs == [fork_block]
    reorg = Reorg.objects.get()
    assert reorg.fork_block == fork_block
    assert reorg.events_removed > 0
    assert not License.objects.filter(holder=a.outsider).exists()
    dave = License.objects.get(token_id=LICENSE_NATIVE, holder=a.dave)
    assert dave.expires_at == market.token.functions.expiresAt(LICENSE_NATIVE, a.dave).call()
    assert snapshot_projections() == fresh_index(network)


def test_a_reorg_undoes_an_extension_on_the_dropped_branch(network, market):
    a = market.acct
    _buy(market, a.alice)
    sync_network(network=network)
    before = License.objects.get(holder=a.alice).expires_at
    fork_snapshot = market.snapshot()
    until = before + 90 * DAY
    market.send(market.token.functions.extend(a.alice, LICENSE_NATIVE, until), a.publisher)
    sync_network(network=network)
    assert License.objects.get(holder=a.alice).expires_at == until
    assert LicenseChange.objects.filter(kind=LicenseChangeKind.EXTEND).count() == 1

    market.revert(fork_snapshot)
    for _ in range(3):
        _buy(market, a.dave)
    stats = sync_network(network=network)

    assert stats.reorgs
    assert License.objects.get(holder=a.alice).expires_at == before
    assert not LicenseChange.objects.filter(kind=LicenseChangeKind.EXTEND).exists()
    assert snapshot_projections() == fresh_index(network)


def test_a_reorg_restores_offers_and_models_as_the_canonical_chain_has_them(network, market):
    a = market.acct
    sync_network(network=network)
    price = ChainOffer.objects.get(token_id=LICENSE_NATIVE).price
    fork_snapshot = market.snapshot()
    # the branch that will be dropped: a repriced offer, a new one, a model update
    repriced = market.offer(MODEL, OfferKind.LICENSE, 7 * PRICE, duration=30 * DAY)
    market.send(market.token.functions.configureOffer(LICENSE_NATIVE, repriced), a.publisher)
    market.send(market.token.functions.configureOffer(77, repriced), a.publisher)
    market.send(market.registry.functions.updateModel(MODEL, a.publisher, "ipfs://v2"), a.publisher)
    market.send(market.vault.functions.configurePayees(MODEL, [a.dave], [300]), a.splits)
    sync_network(network=network)
    assert ChainOffer.objects.get(token_id=LICENSE_NATIVE).price == 7 * PRICE
    assert ChainModel.objects.get().metadata_uri == "ipfs://v2"
    assert _payees() == [(a.dave, 300)]

    market.revert(fork_snapshot)
    for _ in range(4):
        _buy(market, a.dave)
    stats = sync_network(network=network)

    assert stats.reorgs
    assert ChainOffer.objects.get(token_id=LICENSE_NATIVE).price == price  # the earlier config
    assert not ChainOffer.objects.filter(token_id=77).exists()  # configured on the lost branch
    assert ChainModel.objects.get().metadata_uri == "ipfs://model"
    assert _payees() == [(a.carol, 1000)]  # the list configured before the fork
    assert snapshot_projections() == fresh_index(network)


def _payees() -> list[tuple[str, int]]:
    """The vault's payee list of ``MODEL`` as projected: the latest PayeesConfigured."""
    latest = ChainPayees.objects.order_by("-block_number", "-log_index").first()
    return latest.pairs() if latest else []


def _mine(env, blocks: int) -> None:
    for _ in range(blocks):
        env.w3.provider.make_request("evm_mine", [])


def _reorg(env, depth: int, purchases) -> None:
    """``anvil_reorg``: the node drops its last ``depth`` blocks and mines as many new ones,
    holding a purchase of the timed license by each (buyer, block offset from the fork)."""
    data = env.token.encode_abi("purchase", args=[LICENSE_NATIVE, 1, PRICE])
    tx = {"to": env.token.address, "data": data, "value": hex(PRICE), "gas": hex(400_000)}
    txs = [[{**tx, "from": buyer}, offset] for buyer, offset in purchases]
    answer = env.w3.provider.make_request("anvil_reorg", [depth, txs])
    assert "error" not in answer, answer


@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_a_reorg_forking_at_a_block_without_our_logs_indexes_the_new_branch(network, market, depth):
    # given an index to head H, then `depth` blocks of which only the last holds our logs
    network.confirmation_depth = 6  # every depth here is inside the unfinalized window
    network.save()
    a = market.acct
    activity(market)
    sync_network(network=network)
    fork_block = market.w3.eth.block_number + 1
    _mine(market, depth - 1)
    if depth > 1:
        _buy(market, a.outsider)
    else:
        _mine(market, 1)
    sync_network(network=network)  # keeps the hashes of H and H + depth only

    # when the node switches to a branch forking at H + 1, where dave buys in the fork block
    # and carol in the next one
    _reorg(market, depth, [(a.dave, 0), (a.carol, min(1, depth - 1))])
    stats = sync_network(network=network)

    # then the rollback starts at the fork, and the new branch is indexed from there
    assert stats.reorgs == [fork_block]
    reorg = Reorg.objects.get()
    assert (reorg.fork_block, reorg.changed_block) == (fork_block, fork_block + depth - 1)
    assert not License.objects.filter(holder=a.outsider).exists()
    for buyer in (a.dave, a.carol):
        on_chain = market.token.functions.expiresAt(LICENSE_NATIVE, buyer).call()
        assert License.objects.get(token_id=LICENSE_NATIVE, holder=buyer).expires_at == on_chain
    assert snapshot_projections() == fresh_index(network)


def test_a_reorg_below_every_kept_hash_rolls_back_to_the_finality_boundary(network, market):
    # given an index whose only kept hash is its head's (ten blocks without logs, one range)
    a = market.acct
    activity(market)
    sync_network(network=network)
    _mine(market, 10)
    sync_network(network=network)
    head = market.w3.eth.block_number
    assert list(BlockRecord.objects.values_list("number", flat=True)) == [head]

    # when the last two blocks are replaced, dave buying in the first (never kept)
    _reorg(market, 2, [(a.dave, 0)])
    stats = sync_network(network=network)

    # then everything above the last final block is indexed again
    first_unfinal = head - network.confirmation_depth + 1
    assert stats.reorgs == [first_unfinal]
    assert Reorg.objects.get().changed_block == head
    assert License.objects.filter(token_id=LICENSE_NATIVE, holder=a.dave).exists()
    assert snapshot_projections() == fresh_index(network)


def test_a_reorg_deeper_than_the_confirmation_depth_rolls_back_to_a_matching_event(network, market):
    # given the activity indexed (our logs in each of its blocks), the lowest kept hash being
    # four blocks under the head
    a = market.acct
    activity(market)
    sync_network(network=network)
    head = market.w3.eth.block_number
    depth = 7  # past the confirmation depth (3) and past every kept hash
    assert min(BlockRecord.objects.values_list("number", flat=True)) > head - depth + 1

    # when the last seven blocks are replaced, final events included
    _reorg(market, depth, [(a.dave, 0), (a.dave, 2)])
    stats = sync_network(network=network)

    # then the rollback starts just above the highest event whose block is still there
    assert stats.reorgs == [head - depth + 1]
    assert snapshot_projections() == fresh_index(network)


@st.composite
def reorg_scenarios(draw) -> dict:
    """An old branch (blocks with or without a purchase, synced now and then) and a reorg of
    any depth, down into the blocks under it, onto a branch with purchases anywhere."""
    old = draw(st.lists(st.booleans(), min_size=1, max_size=6))
    depth = draw(st.integers(1, len(old) + 3))
    return {
        "confirmation_depth": draw(st.sampled_from([2, 3, 6])),
        "span": draw(st.sampled_from([1, 2, 2000])),
        "old": old,
        "synced_after": draw(st.sets(st.integers(0, len(old) - 1))),
        "depth": depth,
        "new": draw(
            st.lists(
                st.tuples(st.sampled_from(["dave", "carol"]), st.integers(0, depth - 1)),
                max_size=3,
            )
        ),
        "mined_after": draw(st.integers(0, 2)),
    }


@search_settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=reorg_scenarios())
@example(  # the fork two blocks under the kept head, in blocks that never held our logs
    scenario={
        "confirmation_depth": 2,
        "span": 1,
        "old": [False],
        "synced_after": set(),
        "depth": 3,
        "new": [("dave", 0)],
        "mined_after": 0,
    }
)
def test_any_reorg_ends_as_a_fresh_index_would(network, market, settings, scenario):
    a = market.acct
    base = market.snapshot()
    try:
        settings.CHAIN_SYNC_INITIAL_SPAN = scenario["span"]
        network.confirmation_depth = scenario["confirmation_depth"]
        network.save()
        _buy(market, a.alice)
        _mine(market, 3)  # blocks without logs under the old branch
        sync_network(network=network)
        for number, bought in enumerate(scenario["old"]):
            if bought:
                _buy(market, a.outsider)
            else:
                _mine(market, 1)
            if number in scenario["synced_after"]:
                sync_network(network=network)
        sync_network(network=network)

        new = [(getattr(a, name), offset) for name, offset in scenario["new"]]
        _reorg(market, scenario["depth"], new)
        _mine(market, scenario["mined_after"])
        for buyer, _offset in new:  # the new branch's purchases did land
            assert market.token.functions.expiresAt(LICENSE_NATIVE, buyer).call() > 0
        sync_network(network=network)

        assert snapshot_projections() == fresh_index(network)
    finally:
        market.revert(base)
        for model in (IndexedEvent, ChainOffer, Holding, License, SyncCursor, BlockRecord, Reorg):
            model.objects.all().delete()


def test_a_sync_to_an_earlier_block_rolls_nothing_back(network, market):
    activity(market)
    sync_network(network=network)
    indexed = snapshot_projections()

    stats = sync_network(network=network, to_block=5)  # under every kept hash

    assert stats.reorgs == []
    assert not Reorg.objects.exists()
    assert snapshot_projections() == indexed


def test_events_become_final_past_the_confirmation_depth(network, market):
    _buy(market, market.acct.alice)
    sync_network(network=network)
    last = IndexedEvent.objects.order_by("-block_number").first()
    assert last.final is False

    for _ in range(network.confirmation_depth):
        market.w3.provider.make_request("evm_mine", [])
    sync_network(network=network)

    last.refresh_from_db()
    assert last.final is True


def test_expiry_moves_with_time_not_with_the_index(network, market):
    _buy(market, market.acct.alice)
    sync_network(network=network)
    license_row = License.objects.get(holder=market.acct.alice)
    now = market.now()

    assert license_row.is_valid(now)
    assert not license_row.is_valid(now + 31 * DAY)


def test_two_networks_index_apart(network, market, settings):
    from chain.models import Deployment, Network
    from chain.testing.devnode import AnvilNode

    with AnvilNode() as other:
        w3 = Web3(Web3.HTTPProvider(other.url))
        admin = w3.eth.accounts[0]
        config = SuiteConfig(admin=admin, platform=admin, publisher=admin, registrar=admin)
        suite = contracts.deploy_suite(w3, config)
        contracts.send(
            suite.registry.functions.registerModel(MODEL, admin, "ipfs://other"), sender=admin
        )
        settings.CHAIN_RPC_URLS = {**settings.CHAIN_RPC_URLS, "anvil-2": other.url}
        second = Network.objects.create(
            name="anvil-2", chain_id=other.chain_id, confirmation_depth=1
        )
        for name, address in suite.addresses.items():
            Deployment.objects.create(
                network=second, contract_name=name, address=address, deploy_block=0, code_hash="0x"
            )
        activity(market)

        sync_network(network=network)
        sync_network(network=second)

    assert ChainModel.objects.filter(network=second).get().metadata_uri == "ipfs://other"
    assert ChainModel.objects.filter(network=network).get().metadata_uri == "ipfs://model"
    assert not License.objects.filter(network=second).exists()
    assert IndexedEvent.objects.filter(chain_id=second.chain_id).count() > 0


def test_reconciliation_agrees_with_the_chain_and_flags_a_tampered_projection(network, market):
    from licensing.models import Mismatch
    from licensing.reconcile import reconcile

    activity(market)
    sync_network(network=network)

    clean = reconcile(network=network)
    assert clean.checked > 10
    assert clean.mismatches == 0

    holding = Holding.objects.filter(token_id=SHARES).first()
    Holding.objects.filter(pk=holding.pk).update(balance=holding.balance + 1)
    License.objects.filter(holder=market.acct.carol).update(expires_at=1)
    flagged = reconcile(network=network)

    assert flagged.mismatches == 2
    assert set(Mismatch.objects.values_list("kind", flat=True)) == {"balance", "expiry"}

    Holding.objects.filter(pk=holding.pk).update(balance=holding.balance)
    assert reconcile(network=network).resolved == 1


@pytest.mark.parametrize("bogus_hint_rate", [0.0, 0.5])
def test_sync_completes_through_a_strict_provider(network, market, settings, bogus_hint_rate):
    from chain.testing.rpcproxy import LimitingRpcProxy

    activity(market)
    for _ in range(30):  # a wider range of sparse blocks
        _buy(market, market.acct.dave, offer=CREDITS, amount=3, price=10**12)
    direct = fresh_index(network)

    with LimitingRpcProxy(
        market.node_url, max_block_range=7, max_results=6, bogus_hint_rate=bogus_hint_rate, seed=3
    ) as proxy:
        settings.CHAIN_RPC_URLS = {"anvil": proxy.url}
        settings.CHAIN_SYNC_INITIAL_SPAN = 1000
        through_proxy = fresh_index(network)
        counters = proxy.counters()

    assert through_proxy == direct
    assert counters["get_logs_errors"] > 0  # the limits did bite
    assert counters["get_logs_ok"] > 0


def test_a_node_error_is_shown_on_the_cursors_and_the_next_run_recovers(network, market, settings):
    from chain.testing.rpcproxy import LimitingRpcProxy

    activity(market)
    with LimitingRpcProxy(market.node_url, max_block_range=None, max_results=None) as proxy:
        settings.CHAIN_RPC_URLS = {"anvil": proxy.url}
        sync_network(network=network, to_block=5)
        proxy.fail_next(1, method="eth_getLogs", kind="rpc")
        with pytest.raises(RuntimeError, match="eth_getLogs failed"):
            sync_network(network=network)
        assert all(c.last_error for c in SyncCursor.objects.all())

        sync_network(network=network)

    assert not any(c.last_error for c in SyncCursor.objects.all())
    assert snapshot_projections() == fresh_index(network)


def test_the_chain_sync_command_reports_progress(network, market):
    from io import StringIO

    from django.core.management import call_command

    activity(market)
    out = StringIO()

    call_command("chain_sync", "--network", "anvil", stdout=out)

    text = out.getvalue()
    assert "LicenseToken" in text
    assert "new event(s)" in text
    assert IndexedEvent.objects.count() > 20


@pytest.mark.parametrize("command", ["chain_sync", "reconcile"])
def test_the_network_commands_refuse_an_unknown_network(network, command):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="no active network 'mainnet'"):
        call_command(command, "--network", "mainnet")


def test_the_reconcile_command_reports_each_network(network, market):
    from io import StringIO

    from django.core.management import call_command

    activity(market)
    sync_network(network=network)
    out = StringIO()

    call_command("reconcile", "--network", "anvil", stdout=out)

    assert f"anvil ({network.chain_id}): checked" in out.getvalue()
    assert "0 mismatch(es)" in out.getvalue()
