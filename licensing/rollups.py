"""Keeping the dashboards' running totals (``licensing.models.rollups``) equal to the ledgers.

``Totals`` collects one projected batch's additions in memory and upserts each key once,
adding to the stored sums (``ON CONFLICT DO UPDATE``); ``recompute`` rebuilds, after a
rollback, every key the removed events touched from the ledger rows that remain (or deletes it
when none remains). Payments of events without a block time (indexed before block times were
recorded) have no day and are left out of the revenue totals.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum

from chain.fastsql import adapter, upsert_rows
from licensing.models import (
    AgentDay,
    AgentPayment,
    CreditEntry,
    CreditTotal,
    CustomerTotal,
    Payment,
    RevenueDay,
    Sale,
)

REVENUE_KEY = ("network_id", "model_id", "currency", "day")
REVENUE_SUMS = ("payments", "amount", "fee", "to_payees", "to_holders")
CUSTOMER_KEY = ("network_id", "model_id", "currency", "buyer")
CUSTOMER_SUMS = ("purchases", "paid")
CREDIT_KEY = ("network_id", "token_id")
CREDIT_SUMS = ("issued", "burned")
AGENT_KEY = REVENUE_KEY
AGENT_SUMS = ("payments", "amount")


class WeiSum(Sum):
    """``SUM`` of a ``numeric(78,0)`` column: exact on PostgreSQL. On SQLite ``TOTAL()``, whose
    float is what Django reads any SQLite decimal through anyway, where ``SUM`` of integers
    raises once a total passes 2**63 (ten thousand payments of 0.001 ETH)."""

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="TOTAL", **extra_context)


def _sums(size: int):
    return lambda: [Decimal(0)] * size


class Totals:
    """One batch's additions to the running totals, by key."""

    def __init__(self, network):
        self.network_id = network.pk
        self.revenue: dict[tuple, list] = defaultdict(_sums(len(REVENUE_SUMS)))
        self.customers: dict[tuple, list] = defaultdict(_sums(len(CUSTOMER_SUMS)))
        self.credits: dict[Decimal, list] = defaultdict(_sums(len(CREDIT_SUMS)))
        self.agents: dict[tuple, list] = defaultdict(_sums(len(AGENT_SUMS)))

    def payment(self, event, amount, fee, to_payees, to_holders) -> None:
        if event.block_time is None:
            return
        key = (event.args["modelId"], event.args["currency"], event.block_time.date())
        for index, value in enumerate((1, amount, fee, to_payees, to_holders)):
            self.revenue[key][index] += value

    def sale(self, event, paid) -> None:
        key = (event.args["modelId"], event.args["currency"], event.args["buyer"])
        self.customers[key][0] += 1
        self.customers[key][1] += paid

    def credit(self, token_id: Decimal, delta: Decimal) -> None:
        self.credits[token_id][0 if delta > 0 else 1] += abs(delta)

    def agent(self, event, amount) -> None:
        if event.block_time is None:
            return
        key = (event.args["modelId"], event.args["token"], event.block_time.date())
        self.agents[key][0] += 1
        self.agents[key][1] += amount

    def flush(self) -> None:
        network_id, to_day = self.network_id, adapter(RevenueDay, "day")
        revenue = [
            (network_id, model, currency, to_day(day), *sums)
            for (model, currency, day), sums in self.revenue.items()
        ]
        customers = [(network_id, *key, *sums) for key, sums in self.customers.items()]
        credits = [(network_id, key, *sums) for key, sums in self.credits.items()]
        agents = [
            (network_id, model, currency, to_day(day), *sums)
            for (model, currency, day), sums in self.agents.items()
        ]
        for model, key, sums, rows in (
            (RevenueDay, REVENUE_KEY, REVENUE_SUMS, revenue),
            (CustomerTotal, CUSTOMER_KEY, CUSTOMER_SUMS, customers),
            (CreditTotal, CREDIT_KEY, CREDIT_SUMS, credits),
            (AgentDay, AGENT_KEY, AGENT_SUMS, agents),
        ):
            upsert_rows(model, (*key, *sums), rows, unique=key, add=sums)


# --- after a rollback ---


def recompute(network, removed: list) -> None:
    """Rebuild every running total that the removed events had added to."""
    days, customers, credits, agent_days = set(), set(), set(), set()
    for event in removed:
        args = event.args
        if event.name == "PaymentSplit" and event.block_time is not None:
            days.add((args["modelId"], args["currency"], event.block_time.date()))
        elif event.name == "AgentPaid" and event.block_time is not None:
            agent_days.add((args["modelId"], args["token"], event.block_time.date()))
        elif event.name == "Purchased":
            customers.add((args["modelId"], args["currency"], args["buyer"]))
        if event.name in ("Purchased", "Granted", "CreditsBurned"):
            credits.add(Decimal(args["id"]))
    for key in days:
        _revenue_day(network, *key)
    for key in customers:
        _customer(network, *key)
    for token_id in credits:
        _credit(network, token_id)
    for key in agent_days:
        _agent_day(network, *key)


def _revenue_day(network, model_id: str, currency: str, day: date) -> None:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    key = {"network": network, "model_id": model_id, "currency": currency}
    totals = Payment.objects.filter(
        **key, paid_at__gte=start, paid_at__lt=start + timedelta(days=1)
    ).aggregate(
        payments=Count("pk"),
        amount=WeiSum("amount"),
        fee=WeiSum("fee"),
        to_payees=WeiSum("to_payees"),
        to_holders=WeiSum("to_holders") + WeiSum("to_residual"),
    )
    _store(RevenueDay, {**key, "day": day}, totals, totals["payments"])


def _agent_day(network, model_id: str, currency: str, day: date) -> None:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    key = {"network": network, "model_id": model_id, "currency": currency}
    totals = AgentPayment.objects.filter(
        **key, paid_at__gte=start, paid_at__lt=start + timedelta(days=1)
    ).aggregate(payments=Count("pk"), amount=WeiSum("amount"))
    _store(AgentDay, {**key, "day": day}, totals, totals["payments"])


def _customer(network, model_id: str, currency: str, buyer: str) -> None:
    key = {"network": network, "model_id": model_id, "currency": currency, "buyer": buyer}
    totals = Sale.objects.filter(**key).aggregate(purchases=Count("pk"), paid=WeiSum("paid"))
    _store(CustomerTotal, key, totals, totals["purchases"])


def _credit(network, token_id: Decimal) -> None:
    key = {"network": network, "token_id": token_id}
    totals = CreditEntry.objects.filter(**key).aggregate(
        entries=Count("pk"),
        issued=WeiSum("delta", filter=Q(delta__gt=0), default=0),
        burned=-WeiSum("delta", filter=Q(delta__lt=0), default=0),
    )
    _store(CreditTotal, key, totals, totals.pop("entries"))


def _store(model, key: dict, totals: dict, found: int) -> None:
    """Set the row of ``key`` to ``totals``, or delete it when no ledger row is left."""
    if found:
        model.objects.update_or_create(**key, defaults=totals)
    else:
        model.objects.filter(**key).delete()
