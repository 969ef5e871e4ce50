"""Agents' x402 payments projected from PayPerCall's AgentPaid on anvil: one AgentPayment per
event (settled or recovered), its running totals per day, idempotent indexing, and a reorg that
takes them away with their events."""

from __future__ import annotations

from decimal import Decimal

import pytest
from eth_account import Account
from web3 import Web3

from chain import abi
from chain.models import BlockRecord, IndexedEvent, SyncCursor
from chain.sync import sync_network
from chain.testing.eip3009 import Authorization
from chain.testing.market import MODEL
from licensing.models import (
    AgentDay,
    AgentPayment,
    ChainOffer,
    CreditTotal,
    CustomerTotal,
    Holding,
    License,
    Payment,
    RevenueDay,
)

PRICE = 10**16  # the market's 30-day license, in wei (the other branch's transactions)
# What a fresh index rebuilds besides the rows that go with their events
CURRENT_STATE = (ChainOffer, Holding, License, RevenueDay, CustomerTotal, CreditTotal, AgentDay)


@pytest.fixture
def agent(market):
    """An agent's wallet holding TUSDC (its own key: it never sends a transaction)."""
    wallet = Account.create()
    market.send(market.usdc.functions.mint(wallet.address, 10**9), market.acct.outsider)
    return wallet


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _pay(env, agent, value: int, receipt: str):
    """The settler submits the agent's signed authorization of ``value`` for ``MODEL``."""
    auth = Authorization.new(
        env.usdc, payer=agent.address, to=env.pay_per_call.address, value=value, now=env.now()
    )
    args = auth.settle_args(MODEL, auth.sign(agent.key), Web3.keccak(text=receipt))
    env.send(env.pay_per_call.functions.settle(*args), env.acct.meter)
    return auth


def _front_run_and_recover(env, agent, value: int, receipt: str):
    auth = Authorization.new(
        env.usdc, payer=agent.address, to=env.pay_per_call.address, value=value, now=env.now()
    )
    signature = auth.sign(agent.key)
    env.send(
        env.usdc.functions.transferWithAuthorization(*auth.token_args(signature)), env.acct.bob
    )
    recover = env.pay_per_call.functions.recover(
        MODEL, env.usdc.address, agent.address, auth.nonce, value, Web3.keccak(text=receipt)
    )
    env.send(recover, env.acct.meter)
    return auth


def _agent_rows() -> list[tuple]:
    return sorted(
        AgentPayment.objects.values_list(
            "model_id", "currency", "payer", "amount", "nonce", "receipt_id", "tx_hash",
            "log_index", "block_number",
        )
    )  # fmt: skip


def _days() -> dict:
    return {
        (r.model_id, r.currency, r.day): (r.payments, int(r.amount)) for r in AgentDay.objects.all()
    }


def test_each_agent_payment_is_projected_once_with_its_split(network, market, agent):
    env = market
    first = _pay(env, agent, 1_500_000, "receipt 1")
    second = _pay(env, agent, 250_000, "receipt 2")
    recovered = _front_run_and_recover(env, agent, 40_000, "receipt 3")

    sync_network(network=network)

    rows = {row.nonce: row for row in AgentPayment.objects.select_related("event")}
    assert set(rows) == {_hex(a.nonce) for a in (first, second, recovered)}
    one = rows[_hex(first.nonce)]
    assert (one.model_id, one.currency, one.payer) == (_hex(MODEL), env.usdc.address, agent.address)
    assert one.amount == Decimal(1_500_000)
    assert one.receipt_id == _hex(Web3.keccak(text="receipt 1"))
    assert (one.tx_hash, one.log_index, one.block_number) == (
        one.event.tx_hash,
        one.event.log_index,
        one.event.block_number,
    )
    assert one.paid_at == one.event.block_time
    assert one.event.contract_name == abi.PAY_PER_CALL
    # the vault split each one as a payment in TUSDC
    splits = Payment.objects.filter(currency=env.usdc.address)
    assert sorted(int(p.amount) for p in splits) == [40_000, 250_000, 1_500_000]
    # the day's running total is the rows' sum
    day = one.paid_at.date()
    assert _days() == {(_hex(MODEL), env.usdc.address, day): (3, 1_790_000)}

    # indexing again (or from block 0) writes nothing twice
    before = _agent_rows()
    assert sync_network(network=network, from_block=0).new_events == 0
    assert _agent_rows() == before
    assert _days() == {(_hex(MODEL), env.usdc.address, day): (3, 1_790_000)}


def test_a_reorg_takes_agent_payments_away_with_their_events(network, market, agent):
    env = market
    _pay(env, agent, 1_000_000, "kept")
    sync_network(network=network)
    fork = env.snapshot()
    fork_block = env.w3.eth.block_number + 1
    dropped = _pay(env, agent, 700_000, "dropped")
    sync_network(network=network)
    assert AgentPayment.objects.filter(nonce=_hex(dropped.nonce)).exists()
    assert next(iter(_days().values())) == (2, 1_700_000)

    # the node switches to a longer branch without the second payment
    env.revert(fork)
    for _ in range(2):
        buy = env.token.functions.purchase(1, 1, PRICE)
        env.send(buy, env.acct.dave, value=PRICE)
    stats = sync_network(network=network)

    assert stats.reorgs == [fork_block]
    assert not AgentPayment.objects.filter(nonce=_hex(dropped.nonce)).exists()
    assert AgentPayment.objects.count() == 1
    assert next(iter(_days().values())) == (1, 1_000_000)
    # ... as a fresh index of the canonical chain has them
    after = _agent_rows(), _days()
    for model in (IndexedEvent, *CURRENT_STATE, SyncCursor, BlockRecord):
        model.objects.all().delete()
    sync_network(network=network)
    assert (_agent_rows(), _days()) == after
