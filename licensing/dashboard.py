"""What an organization's models earn, who holds them, and what is stuck: the dashboard's reads.

Every sum and count is the database's (``values().annotate()`` with ``Sum``, ``Count`` and
``TruncDay``/``TruncWeek``/``TruncMonth``; nothing loops over payment, sale, license or credit
rows), so the page costs the same number of queries whatever the organization's size. Amounts
are wei-exact on PostgreSQL (``numeric(78,0)`` sums). SQLite reads decimals through a float
(15 significant digits), and its ``SUM`` of integers fails past 2**63, so there the sums are
``TOTAL()``: the same precision as any decimal SQLite returns.

An organization's rows are found through the projections' join-only links: payments and sales
by their bytes32 model id (``listing``: the model's ``ModelTokenomics``), licenses, credits and
sales by (network, token id) (``offer``: the configured ``Offer``). Amounts are shown in units
of the ``Currency`` configured for their network and address (``''`` = the native coin, the
zero address on chain); an unknown currency shows its raw amount and its address.

Each figure is a ``Table`` (the truth, also the CSV export) and, for charts, a JSON-able
``chart`` drawn by ``static/js/dashboard.js``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, F, Max, Q, QuerySet, Sum, Window
from django.db.models.functions import RowNumber, TruncDay, TruncMonth, TruncWeek
from django.utils import timezone

from chain.choices import TX_OPEN, OfferKind, TxStatus
from licensing.models import CreditEntry, Currency, License, Payment, PublishStep, Sale

ZERO_ADDRESS = "0x" + "0" * 40
TX_DEAD = (TxStatus.REVERTED, TxStatus.FAILED)
TOP_CUSTOMERS = 10  # per currency
STEPS_SHOWN = 25
SUMMARY_DAYS = 30
# period -> (truncation, how far back the chart goes)
PERIODS = {
    "day": (TruncDay, timedelta(days=30)),
    "week": (TruncWeek, timedelta(weeks=26)),
    "month": (TruncMonth, timedelta(days=365)),
}
DEFAULT_PERIOD = "week"


class WeiSum(Sum):
    """``SUM`` of a ``numeric(78,0)`` column: exact on PostgreSQL. On SQLite ``TOTAL()``, whose
    float is what Django reads any SQLite decimal through anyway, where ``SUM`` of integers
    raises once a total passes 2**63 (ten thousand payments of 0.001 ETH)."""

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="TOTAL", **extra_context)


# --- currencies ---


def units(amount: Decimal | int, decimals: int) -> str:
    """``amount`` of the smallest unit in whole units, exactly (no float, no rounding)."""
    value = int(amount)
    sign, value = ("-" if value < 0 else ""), abs(value)
    whole, fraction = divmod(value, 10**decimals)
    if not fraction:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{str(fraction).rjust(decimals, '0').rstrip('0')}"


class CurrencyBook:
    """The configured currencies (one query), to name amounts by network and chain address."""

    def __init__(self) -> None:
        rows = Currency.objects.values_list("network_id", "address", "symbol", "decimals")
        self._known = {
            (network_id, (address or ZERO_ADDRESS).lower()): (symbol, decimals)
            for network_id, address, symbol, decimals in rows
        }

    def _find(self, network_id: int, address: str) -> tuple[str, int] | None:
        return self._known.get((network_id, (address or ZERO_ADDRESS).lower()))

    def symbol(self, network_id: int, address: str) -> str:
        """The currency's symbol, or its address when it is not configured."""
        known = self._find(network_id, address)
        return known[0] if known else address

    def amount(self, network_id: int, address: str, value) -> str:
        """``value`` (smallest unit) in the currency's units; raw when it is not configured."""
        known = self._find(network_id, address)
        return units(value or 0, known[1]) if known else str(int(value or 0))


# --- tables ---


@dataclass(frozen=True)
class Table:
    """One of the dashboard's tables: its export name, caption, column titles and rows (strings
    and integers, amounts exact in units)."""

    name: str
    caption: str
    columns: tuple[str, ...]
    rows: list[tuple] = field(default_factory=list)


def _payments(organization) -> QuerySet:
    return Payment.objects.filter(listing__model__organization=organization)


def _period_start(period: str, now: datetime) -> datetime:
    _trunc, span = PERIODS[period]
    start = now - span
    if period == "month":
        return start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = start.replace(hour=0, minute=0, second=0, microsecond=0)
    return start - timedelta(days=start.weekday()) if period == "week" else start


def revenue_over_time(*, organization, book: CurrencyBook, period: str, now: datetime) -> dict:
    """Revenue the vault split (every channel) per period, model and currency, from
    ``_period_start``: the table and one chart per currency (its models as datasets)."""
    trunc, _span = PERIODS[period]
    rows = (
        _payments(organization)
        .filter(paid_at__gte=_period_start(period, now))
        .annotate(period=trunc("paid_at"))
        .values("period", "network_id", "currency", "listing__model__name")
        .annotate(total=WeiSum("amount"), payments=Count("pk"))
        .order_by("period", "network_id", "currency", "listing__model__name")
    )
    table = Table(
        "revenue",
        f"Revenue per {period}, by model and currency",
        ("Period", "Model", "Currency", "Amount", "Payments"),
    )
    charts: dict[tuple, dict] = {}
    for row in rows:
        symbol = book.symbol(row["network_id"], row["currency"])
        amount = book.amount(row["network_id"], row["currency"], row["total"])
        label = _period_label(row["period"], period)
        model = row["listing__model__name"]
        table.rows.append((label, model, symbol, amount, row["payments"]))
        chart = charts.setdefault(
            (row["network_id"], row["currency"]), {"currency": symbol, "series": {}, "rows": []}
        )
        chart["series"].setdefault(model, {})[label] = amount
        chart["rows"].append(table.rows[-1])  # the table beside the currency's chart
    return {"table": table, "charts": list(charts.values())}


def _period_label(moment: datetime | None, period: str) -> str:
    if moment is None:
        return ""
    return moment.strftime("%Y-%m" if period == "month" else "%Y-%m-%d")


def revenue_by_model(*, organization, book: CurrencyBook) -> Table:
    """All-time revenue per model and currency, and how the vault split it."""
    rows = (
        _payments(organization)
        .values("network_id", "currency", "listing__model__name", "network__name")
        .annotate(
            total=WeiSum("amount"),
            fee=WeiSum("fee"),
            payees=WeiSum("to_payees"),
            holders=WeiSum(F("to_holders") + F("to_residual")),
            payments=Count("pk"),
            last=Max("paid_at"),
        )
        .order_by("listing__model__name", "network_id", "currency")
    )
    table = Table(
        "revenue_by_model",
        "Revenue per model and currency, all time, as the vault split it",
        ("Model", "Network", "Currency", "Amount", "Platform fee", "Payees",
         "Holders or publisher", "Payments", "Last payment"),
    )  # fmt: skip
    for row in rows:
        money = [
            book.amount(row["network_id"], row["currency"], row[key])
            for key in ("total", "fee", "payees", "holders")
        ]
        table.rows.append(
            (
                row["listing__model__name"],
                row["network__name"],
                book.symbol(row["network_id"], row["currency"]),
                *money,
                row["payments"],
                row["last"].strftime("%Y-%m-%d %H:%M") if row["last"] else "",
            )
        )
    return table


def _active_licenses(now: datetime) -> Q:
    return Q(revoked=False) & (Q(expires_at=0) | Q(expires_at__gt=int(now.timestamp())))


def active_licenses(*, organization, now: datetime) -> dict:
    """Licenses and passes valid now (perpetual or not yet expired, not revoked), by offer."""
    soon = int((now + timedelta(days=7)).timestamp())
    rows = (
        License.objects.filter(_active_licenses(now), offer__model__organization=organization)
        .values("offer__model__name", "offer__tier_name", "offer__kind", "offer__network__name")
        .annotate(
            holders=Count("pk"),
            perpetual=Count("pk", filter=Q(expires_at=0)),
            expiring=Count("pk", filter=Q(expires_at__gt=0, expires_at__lte=soon)),
        )
        .order_by("offer__model__name", "offer__tier_name", "offer__network__name")
    )
    table = Table(
        "licenses",
        "Active licenses and passes, by offer",
        ("Model", "Offer", "Kind", "Network", "Active", "Perpetual", "Expiring within 7 days"),
    )
    for row in rows:
        table.rows.append(
            (
                row["offer__model__name"],
                row["offer__tier_name"],
                OfferKind(row["offer__kind"]).label,
                row["offer__network__name"],
                row["holders"],
                row["perpetual"],
                row["expiring"],
            )
        )
    chart = {
        "labels": [f"{r[0]} · {r[1]}" for r in table.rows],
        "values": [r[4] for r in table.rows],
    }
    return {"table": table, "chart": chart}


def credits_by_offer(*, organization) -> dict:
    """Credits bought (grants included: every positive ledger line) and consumed (burned by
    the meter), and what is left, per credits offer."""
    rows = (
        CreditEntry.objects.filter(offer__model__organization=organization)
        .values("offer__model__name", "offer__tier_name", "offer__network__name")
        .annotate(
            sold=WeiSum("delta", filter=Q(delta__gt=0)),
            consumed=WeiSum("delta", filter=Q(delta__lt=0)),
            holders=Count("holder", distinct=True),
        )
        .order_by("offer__model__name", "offer__tier_name", "offer__network__name")
    )
    table = Table(
        "credits",
        "Credits sold and consumed, by offer",
        ("Model", "Offer", "Network", "Sold", "Consumed", "Left", "Holders"),
    )
    for row in rows:
        sold, consumed = int(row["sold"] or 0), -int(row["consumed"] or 0)
        table.rows.append(
            (
                row["offer__model__name"],
                row["offer__tier_name"],
                row["offer__network__name"],
                sold,
                consumed,
                sold - consumed,
                row["holders"],
            )
        )
    chart = {
        "labels": [f"{r[0]} · {r[1]}" for r in table.rows],
        "sold": [r[3] for r in table.rows],
        "consumed": [r[4] for r in table.rows],
    }
    return {"table": table, "chart": chart}


def top_customers(*, organization, book: CurrencyBook, limit: int = TOP_CUSTOMERS) -> Table:
    """The buyers who paid the most, per currency (a window over the per-buyer sums, so one
    query whatever the number of currencies)."""
    totals = (
        Sale.objects.filter(listing__model__organization=organization)
        .values("network_id", "currency", "buyer")
        .annotate(paid_total=WeiSum("paid"), purchases=Count("pk"), last=Max("sold_at"))
        .annotate(  # a second annotate: the window ranks the groups, it is not grouped by
            rank=Window(
                RowNumber(),
                partition_by=[F("network_id"), F("currency")],
                order_by=[F("paid_total").desc(), F("buyer").asc()],
            )
        )
        .filter(rank__lte=limit)
        .order_by("network_id", "currency", "rank")
    )
    table = Table(
        "customers",
        f"Top customers per currency (at most {limit} each)",
        ("Currency", "Rank", "Buyer", "Paid", "Purchases", "Last purchase"),
    )
    for row in totals:
        table.rows.append(
            (
                book.symbol(row["network_id"], row["currency"]),
                row["rank"],
                row["buyer"],
                book.amount(row["network_id"], row["currency"], row["paid_total"]),
                row["purchases"],
                row["last"].strftime("%Y-%m-%d %H:%M") if row["last"] else "",
            )
        )
    return table


def publishing(*, organization, limit: int = STEPS_SHOWN) -> dict:
    """Publishing steps not done: pending (queued or sent) and failed (reverted or given up),
    with their counts and the latest ``limit`` of them."""
    steps = PublishStep.objects.filter(model__organization=organization)
    counts = steps.aggregate(
        pending=Count("pk", filter=Q(transaction__status__in=TX_OPEN)),
        failed=Count("pk", filter=Q(transaction__status__in=TX_DEAD)),
    )
    latest = (
        steps.filter(transaction__status__in=[*TX_OPEN, *TX_DEAD])
        .select_related("model", "network", "offer", "transaction")
        .order_by("-created_at", "-pk")[:limit]
    )
    table = Table(
        "publishing",
        "Publishing steps pending or failed (latest first)",
        ("Queued", "Model", "Network", "Step", "Offer", "State", "Transaction", "Reason"),
    )
    for step in latest:
        tx = step.transaction
        table.rows.append(
            (
                step.created_at.strftime("%Y-%m-%d %H:%M"),
                step.model.name,
                step.network.name,
                step.get_kind_display(),
                step.offer.tier_name if step.offer else "",
                "pending" if tx.status in TX_OPEN else "failed",
                tx.get_status_display(),
                (tx.revert_reason or tx.last_error)[:200],
            )
        )
    return {"table": table, "pending": counts["pending"], "failed": counts["failed"]}


# --- the page ---


@dataclass
class Dashboard:
    """Everything the dashboard page shows for one organization."""

    organization: object
    period: str
    revenue: dict
    by_model: Table
    licenses: dict
    credits: dict
    customers: Table
    steps: dict

    @property
    def tables(self) -> dict[str, Table]:
        """Every table by its export name."""
        found = [
            self.revenue["table"],
            self.by_model,
            self.licenses["table"],
            self.credits["table"],
            self.customers,
            self.steps["table"],
        ]
        return {table.name: table for table in found}


def dashboard_for(*, organization, period: str = DEFAULT_PERIOD, now=None) -> Dashboard:
    """The dashboard of ``organization`` (a fixed number of queries, whatever its size)."""
    now = now or timezone.now()
    book = CurrencyBook()
    return Dashboard(
        organization=organization,
        period=period,
        revenue=revenue_over_time(organization=organization, book=book, period=period, now=now),
        by_model=revenue_by_model(organization=organization, book=book),
        licenses=active_licenses(organization=organization, now=now),
        credits=credits_by_offer(organization=organization),
        customers=top_customers(organization=organization, book=book),
        steps=publishing(organization=organization),
    )


# --- the admin index's summary ---


@dataclass
class Summary:
    """One organization's box on the admin index."""

    organization: object
    revenue: list[str] = field(default_factory=list)  # "1.5 ETH", one per currency
    active_licenses: int = 0
    failed_steps: int = 0


def summaries(*, organizations: list, now=None) -> list[Summary]:
    """A box per organization: revenue of the last 30 days, active licenses, failed publishing
    steps (four queries for all of them)."""
    now = now or timezone.now()
    book = CurrencyBook()
    boxes = {org.pk: Summary(organization=org) for org in organizations}
    revenue = (
        Payment.objects.filter(
            listing__model__organization__in=list(boxes), paid_at__gte=now - timedelta(SUMMARY_DAYS)
        )
        .values("listing__model__organization", "network_id", "currency")
        .annotate(total=WeiSum("amount"))
        .order_by("listing__model__organization", "network_id", "currency")
    )
    for row in revenue:
        amount = book.amount(row["network_id"], row["currency"], row["total"])
        symbol = book.symbol(row["network_id"], row["currency"])
        boxes[row["listing__model__organization"]].revenue.append(f"{amount} {symbol}")
    licenses = (
        License.objects.filter(_active_licenses(now), offer__model__organization__in=list(boxes))
        .values("offer__model__organization")
        .annotate(count=Count("pk"))
        .order_by()
    )
    for row in licenses:
        boxes[row["offer__model__organization"]].active_licenses = row["count"]
    failed = (
        PublishStep.objects.filter(
            model__organization__in=list(boxes), transaction__status__in=TX_DEAD
        )
        .values("model__organization")
        .annotate(count=Count("pk"))
        .order_by()
    )
    for row in failed:
        boxes[row["model__organization"]].failed_steps = row["count"]
    return list(boxes.values())
