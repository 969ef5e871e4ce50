"""Running totals of the projected ledgers, for the dashboards (``licensing.dashboard``).

The projections add each batch's payments, purchases, agents' payments per call and credit
moves to these rows (``licensing.rollups``), and a rollback recomputes every row the removed
events touched from the ledger rows that remain (``Payment``, ``Sale``, ``AgentPayment``,
``CreditEntry``), so they always equal a
``SUM`` over those. A dashboard then reads a row per day, buyer or offer instead of one per
payment: an organization with a hundred times the payments renders about as fast.
"""

from __future__ import annotations

from django.db import models

from licensing.models.chain_state import LEDGER_NETWORK, WEI, _listing, _offer


class RevenueDay(models.Model):
    """What one model earned in one currency on one day (UTC, by block time): the sums of its
    ``Payment`` rows of that day."""

    network = models.ForeignKey("chain.Network", **LEDGER_NETWORK)
    model_id = models.CharField(max_length=66)
    currency = models.CharField(max_length=42)
    day = models.DateField()
    payments = models.PositiveIntegerField()
    amount = models.DecimalField(**WEI)
    fee = models.DecimalField(**WEI)
    to_payees = models.DecimalField(**WEI)
    to_holders = models.DecimalField(
        help_text="To share holders, or to the publisher when the model has none.", **WEI
    )
    listing = _listing()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["network", "model_id", "currency", "day"], name="revenue_day_unique"
            )
        ]
        indexes = [models.Index(fields=["model_id", "day"], name="revenue_day_by_model")]

    def __str__(self) -> str:
        return f"{self.amount} of {self.currency} for {self.model_id[:12]}… on {self.day}"


class CustomerTotal(models.Model):
    """What one buyer paid for one model in one currency: the sums of its ``Sale`` rows."""

    network = models.ForeignKey("chain.Network", **LEDGER_NETWORK)
    model_id = models.CharField(max_length=66)
    currency = models.CharField(max_length=42)
    buyer = models.CharField(max_length=42)
    purchases = models.PositiveIntegerField()
    paid = models.DecimalField(**WEI)
    listing = _listing()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["network", "model_id", "currency", "buyer"], name="customer_total_unique"
            )
        ]
        indexes = [
            # a model's top customers in a currency, in index order
            models.Index(
                fields=["network", "model_id", "currency", "paid"], name="customer_total_ranking"
            )
        ]

    def __str__(self) -> str:
        return f"{self.buyer} paid {self.paid} of {self.currency} for {self.model_id[:12]}…"


class AgentDay(models.Model):
    """What agents paid per call (x402) for one model in one currency on one day (UTC, by block
    time): the sums of its ``AgentPayment`` rows of that day."""

    network = models.ForeignKey("chain.Network", **LEDGER_NETWORK)
    model_id = models.CharField(max_length=66)
    currency = models.CharField(max_length=42)
    day = models.DateField()
    payments = models.PositiveIntegerField()
    amount = models.DecimalField(**WEI)
    listing = _listing()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["network", "model_id", "currency", "day"], name="agent_day_unique"
            )
        ]
        indexes = [models.Index(fields=["model_id", "day"], name="agent_day_by_model")]

    def __str__(self) -> str:
        return (
            f"agents paid {self.amount} of {self.currency} for {self.model_id[:12]}… on {self.day}"
        )


class CreditTotal(models.Model):
    """One credits offer's ledger: credits issued (bought or granted) and burned by the meter,
    the sums of its ``CreditEntry`` rows."""

    network = models.ForeignKey("chain.Network", **LEDGER_NETWORK)
    token_id = models.DecimalField(**WEI)
    issued = models.DecimalField(max_digits=79, decimal_places=0)
    burned = models.DecimalField(max_digits=79, decimal_places=0)
    offer = _offer()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["network", "token_id"], name="credit_total_unique")
        ]

    def __str__(self) -> str:
        return f"offer {self.token_id}: {self.issued} issued, {self.burned} burned"
