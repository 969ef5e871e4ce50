"""The sync credits the ledger as it indexes, and a reorg's rollback reverses (anvil)."""

from __future__ import annotations

from chain.sync import sync_network
from chain.testing.market import CREDITS
from licensing.choices import CreditLedgerKind
from licensing.models import CreditAccount, CreditLedgerEntry
from licensing.services.credits import credit_balance
from licensing.tests import factories
from licensing.tests.test_credit_ledger import assert_balanced


def test_the_sync_credits_a_purchase_and_reverses_a_rollback_on_anvil(network, market):
    a = market.acct
    snapshot = market.snapshot()
    _buy_credits(market, a.outsider, 500)
    market.send(market.token.functions.burnCredits(a.outsider, CREDITS, 120, b"\x01" * 32), a.meter)
    sync_network(network=network)  # no separate step: the sync's batch credits it
    holder = factories.checksum(a.outsider)
    balance = credit_balance(network_id=network.pk, token_id=CREDITS, holder=holder)
    assert (balance.available, balance.on_chain) == (380, 380)
    assert market.token.functions.balanceOf(a.outsider, CREDITS).call() == 380
    sync_network(network=network)
    assert CreditLedgerEntry.objects.count() == 2  # once

    # the node switches to a branch without those transactions
    market.revert(snapshot)
    for _ in range(3):
        _buy_credits(market, a.dave, 1)
    sync_network(network=network)

    balance = credit_balance(network_id=network.pk, token_id=CREDITS, holder=holder)
    assert balance.on_chain == 0
    assert CreditLedgerEntry.objects.filter(kind=CreditLedgerKind.REVERSAL).count() == 2
    dave = credit_balance(
        network_id=network.pk, token_id=CREDITS, holder=factories.checksum(a.dave)
    )
    assert dave.available == 3
    for account in CreditAccount.objects.all():
        assert_balanced(account)


def _buy_credits(env, buyer, amount: int, price: int = 10**12):
    return env.send(
        env.token.functions.purchase(CREDITS, amount, price), buyer, value=price * amount
    )
