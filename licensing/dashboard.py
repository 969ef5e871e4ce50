"""What an organization's models earn, who holds them, and what is stuck: the dashboard's reads.

Every sum and count is the database's (``values().annotate()`` with ``Sum``, ``Count`` and
``PeriodStart``, a day, week or month in the database's own date functions; nothing loops over
rows), so the page costs the same number of queries whatever the organization's size. Revenue,
customers and credits are read from the running totals the projections keep
(``licensing.models.rollups``: a row per model, currency and day; per buyer; per credits offer)
rather than from every payment, so a hundred times the payments costs little more; active
licenses are counted over a partial index. Amounts are wei-exact on PostgreSQL
(``numeric(78,0)`` sums). SQLite reads decimals through a float (15 significant digits), and its
``SUM`` of integers fails past 2**63, so there the sums are ``TOTAL()`` (``rollups.WeiSum``):
the same precision as any decimal SQLite returns.

Revenue comes through two channels, both split by the vault: purchases (licenses, passes,
credits) and agents paying per call over HTTP 402 (x402, ``AgentDay``); the channel table sets
them side by side.

An organization's rows are found through the projections' join-only links: revenue and
customers by their bytes32 model id (``listing``: the model's ``ModelTokenomics``), licenses and
credits by (network, token id) (``offer``: the configured ``Offer``). Amounts are shown in units
of the ``Currency`` configured for their network and address (``''`` = the native coin, the
zero address on chain); an unknown currency shows its raw amount and its address.

Each figure is a ``Table`` (the truth, also the CSV export) and, for charts, a JSON-able
``chart`` drawn by ``static/js/dashboard.js``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Count, DateField, Func, Max, Q, QuerySet, Sum
from django.db.models.functions import Trunc
from django.utils import timezone

from chain.choices import TX_OPEN, OfferKind, TxStatus
from licensing.models import (
    AgentDay,
    CreditTotal,
    Currency,
    CustomerTotal,
    License,
    PublishStep,
    RevenueDay,
)
from licensing.rollups import WeiSum

ZERO_ADDRESS = "0x" + "0" * 40
TX_DEAD = (TxStatus.REVERTED, TxStatus.FAILED)
TOP_CUSTOMERS = 10  # per model and currency
MAX_RANKINGS = 60  # (model, currency) rankings in one query (SQLite allows 500 compound parts)
STEPS_SHOWN = 25
PURCHASES, AGENTS = "Purchases", "Agents (x402)"  # the channels revenue comes through
SUMMARY_DAYS = 30
# period -> how far back the revenue chart goes
PERIODS = {"day": timedelta(days=30), "week": timedelta(weeks=26), "month": timedelta(days=365)}
DEFAULT_PERIOD = "week"


class PeriodStart(Func):
    """The first day of the day, week (from Monday) or month a date falls in, in the database's
    own functions (Django's ``Trunc*`` call a Python function per row on SQLite)."""

    output_field = DateField()
    SQLITE = {
        "day": "date(%(expressions)s)",
        "week": "date(%(expressions)s, '-6 days', 'weekday 1')",
        "month": "date(%(expressions)s, 'start of month')",
    }

    def __init__(self, expression, period: str):
        if period not in PERIODS:
            raise ValueError(f"unknown period {period!r}")
        super().__init__(expression)
        self.period = period

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template=self.SQLITE[self.period])

    def as_postgresql(self, compiler, connection, **extra_context):
        template = f"(DATE_TRUNC('{self.period}', %(expressions)s))::date"
        return self.as_sql(compiler, connection, template=template)

    def as_sql(self, compiler, connection, template=None, **extra_context):
        if template is None:  # another backend: Django's own truncation
            trunc = Trunc(self.source_expressions[0], self.period, output_field=DateField())
            return compiler.compile(trunc)
        return super().as_sql(compiler, connection, template=template, **extra_context)


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


def _revenue(organization) -> QuerySet:
    return RevenueDay.objects.filter(listing__model__organization=organization)


def _period_start(period: str, now: datetime) -> date:
    """The first day of the chart: the start of the period ``PERIODS[period]`` ago (UTC)."""
    start = (now.astimezone(UTC) - PERIODS[period]).date()
    if period == "month":
        return start.replace(day=1)
    return start - timedelta(days=start.weekday()) if period == "week" else start


def revenue_over_time(*, organization, book: CurrencyBook, period: str, now: datetime) -> dict:
    """Revenue the vault split (every channel) per period, model and currency, from
    ``_period_start``: the table and one chart per currency (its models as datasets)."""
    rows = (
        _revenue(organization)
        .filter(day__gte=_period_start(period, now))
        .annotate(period=PeriodStart("day", period))
        .values("period", "network_id", "currency", "listing__model__name")
        .annotate(total=WeiSum("amount"), payments=Sum("payments"))
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


def _period_label(day: date | None, period: str) -> str:
    if day is None:
        return ""
    return day.strftime("%Y-%m" if period == "month" else "%Y-%m-%d")


def revenue_by_model(*, organization, book: CurrencyBook) -> tuple[Table, list[tuple]]:
    """All-time revenue per model and currency, and how the vault split it; and the (network,
    model id, currency, model name) of each row, for ``top_customers``."""
    rows = (
        _revenue(organization)
        .values("network_id", "model_id", "currency", "listing__model__name", "network__name")
        .annotate(
            total=WeiSum("amount"),
            fee=WeiSum("fee"),
            payees=WeiSum("to_payees"),
            holders=WeiSum("to_holders"),
            payments=Sum("payments"),
            last=Max("day"),
        )
        .order_by("listing__model__name", "network_id", "currency")
    )
    table = Table(
        "revenue_by_model",
        "Revenue per model and currency, all time, as the vault split it",
        ("Model", "Network", "Currency", "Amount", "Platform fee", "Payees",
         "Holders or publisher", "Payments", "Last payment (day)"),
    )  # fmt: skip
    sold = []
    for row in rows:
        sold.append(
            (row["network_id"], row["model_id"], row["currency"], row["listing__model__name"])
        )
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
                row["last"].strftime("%Y-%m-%d") if row["last"] else "",
            )
        )
    return table, sold


def revenue_by_channel(*, organization, book: CurrencyBook) -> Table:
    """All-time revenue per model and currency by the channel it came through: purchases of
    licenses, passes and credits (the buyers' running totals), and agents paying per call over
    HTTP 402 (x402, settled by PayPerCall; its running totals per day). Both reach the vault's
    split, so together they are the revenue above (two queries)."""
    fields = ("network_id", "model_id", "currency", "listing__model__name", "network__name")
    purchases = (
        CustomerTotal.objects.filter(listing__model__organization=organization)
        .values(*fields)
        .annotate(total=WeiSum("paid"), payments=Sum("purchases"))
        .order_by(*fields)
    )
    agents = (
        AgentDay.objects.filter(listing__model__organization=organization)
        .values(*fields)
        .annotate(total=WeiSum("amount"), payments=Sum("payments"))
        .order_by(*fields)
    )
    found = [(PURCHASES, row) for row in purchases] + [(AGENTS, row) for row in agents]
    found.sort(
        key=lambda item: (
            item[1]["listing__model__name"],
            item[1]["network_id"],
            book.symbol(item[1]["network_id"], item[1]["currency"]),
            item[0] != PURCHASES,
        )
    )
    table = Table(
        "revenue_by_channel",
        "Revenue per model and currency by channel (purchases, agents paying per call), all time",
        ("Model", "Network", "Currency", "Channel", "Amount", "Payments"),
    )
    for channel, row in found:
        table.rows.append(
            (
                row["listing__model__name"],
                row["network__name"],
                book.symbol(row["network_id"], row["currency"]),
                channel,
                book.amount(row["network_id"], row["currency"], row["total"]),
                row["payments"],
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
    """Credits sold (every positive ledger line: bought, or granted by the publisher) and
    consumed (burned by the meter), and what is left, per credits offer."""
    rows = (
        CreditTotal.objects.filter(offer__model__organization=organization)
        .values("offer__model__name", "offer__tier_name", "offer__network__name")
        .annotate(sold=WeiSum("issued"), consumed=WeiSum("burned"))
        .order_by("offer__model__name", "offer__tier_name", "offer__network__name")
    )
    table = Table(
        "credits",
        "Credits sold and consumed, by offer",
        ("Model", "Offer", "Network", "Sold", "Consumed", "Left"),
    )
    for row in rows:
        sold, consumed = int(row["sold"] or 0), int(row["consumed"] or 0)
        table.rows.append(
            (
                row["offer__model__name"],
                row["offer__tier_name"],
                row["offer__network__name"],
                sold,
                consumed,
                sold - consumed,
            )
        )
    chart = {
        "labels": [f"{r[0]} · {r[1]}" for r in table.rows],
        "sold": [r[3] for r in table.rows],
        "consumed": [r[4] for r in table.rows],
    }
    return {"table": table, "chart": chart}


def top_customers(*, sold: list[tuple], book: CurrencyBook, limit: int = TOP_CUSTOMERS) -> Table:
    """The buyers who paid the most for each model, per currency: for each (network, model,
    currency) in ``sold``, the ``limit`` highest totals, read in index order (one query of
    ``UNION ALL`` parts: a part per model and currency, none per buyer)."""
    table = Table(
        "customers",
        f"Top customers of each model, per currency (at most {limit} each)",
        ("Model", "Currency", "Rank", "Buyer", "Paid", "Purchases"),
    )
    names = {(network_id, model_id): name for network_id, model_id, _c, name in sold}
    parts = [
        CustomerTotal.objects.filter(network_id=network_id, model_id=model_id, currency=currency)
        .values("network_id", "model_id", "currency", "buyer", "paid", "purchases")
        .order_by("-paid", "buyer")[:limit]
        for network_id, model_id, currency, _name in sold[:MAX_RANKINGS]
    ]
    if not parts:
        return table
    found = _union_all(parts)
    order = {key[:3]: index for index, key in enumerate(sold)}
    found.sort(
        key=lambda r: (
            order[(r["network_id"], r["model_id"], r["currency"])],
            -r["paid"],
            r["buyer"],
        )
    )
    rank, previous = 0, None
    for row in found:
        group = (row["network_id"], row["model_id"], row["currency"])
        rank = rank + 1 if group == previous else 1
        previous = group
        table.rows.append(
            (
                names[(row["network_id"], row["model_id"])],
                book.symbol(row["network_id"], row["currency"]),
                rank,
                row["buyer"],
                book.amount(row["network_id"], row["currency"], row["paid"]),
                row["purchases"],
            )
        )
    return table


def _union_all(parts: list[QuerySet]) -> list[dict]:
    """The rows of every ``values()`` queryset in ``parts``, in one ``UNION ALL`` statement:
    each part a subquery with its own ``ORDER BY ... LIMIT`` (which Django's ``union()`` cannot
    compile for SQLite). Amounts come back as Decimals."""
    statements, params = [], []
    for index, part in enumerate(parts):
        sql, part_params = part.query.sql_with_params()
        statements.append(f"SELECT * FROM ({sql}) AS ranking_{index}")  # noqa: S608 - Django's SQL
        params.extend(part_params)
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(statements), params)
        columns = [column[0] for column in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:  # SQLite answers an integer (exact) or, past 2**63, a float
        row["paid"] = Decimal(row["paid"] if isinstance(row["paid"], int) else str(row["paid"]))
    return rows


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
    by_channel: Table
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
            self.by_channel,
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
    by_model, sold = revenue_by_model(organization=organization, book=book)
    return Dashboard(
        organization=organization,
        period=period,
        revenue=revenue_over_time(organization=organization, book=book, period=period, now=now),
        by_model=by_model,
        by_channel=revenue_by_channel(organization=organization, book=book),
        licenses=active_licenses(organization=organization, now=now),
        credits=credits_by_offer(organization=organization),
        customers=top_customers(sold=sold, book=book),
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
    since = (now.astimezone(UTC) - timedelta(SUMMARY_DAYS)).date()
    revenue = (
        RevenueDay.objects.filter(listing__model__organization__in=list(boxes), day__gt=since)
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
