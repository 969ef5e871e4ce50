"""The marketplace's reads: the listed models that are for sale on chain, their cards, and a
model's page (card, published versions, on-chain offers with their terms and supply).

For sale means: a listed model of an active organization with at least one ``ChainOffer`` that
is active on chain, on an active network, and tied (through the ``offer`` join: network and
token id) to an ``Offer`` of that model. What is shown of an offer is what the chain says (its
price, currency, duration, supply, terms hash); the configured ``Offer`` gives its name, the pk
the buy page takes and a credits pack's size.

Prices are per unit sold: a license, a pass, a credits pack (the chain prices one credit, so a
pack of N costs N times that) in the currency's whole units. Every read costs a fixed number of
queries whatever the number of models or offers (the list page: a count, a page, the page's
offers, the currencies and the filter choices).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext

from django.db.models import (
    Case,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)

from chain.choices import OfferKind
from chain.models import Network
from licensing.amounts import format_amount, format_duration, to_units
from licensing.models import ChainOffer, Currency, Holding, LicenseTerms
from licensing.terms import plain_language
from models_hub.cards import render_model_card
from models_hub.models import AIModel, ModelVersion
from models_hub.selectors import versions_visible
from portal.choices import OrganizationStatus
from portal.models import Organization

ZERO_ADDRESS = "0x" + "0" * 40
SEARCH_TERMS_MAX = 8  # words of a search that count; the rest are ignored
WEI_FIELD = DecimalField(max_digits=78, decimal_places=0)


@dataclass(frozen=True)
class MarketFilters:
    """What the marketplace's form asks for (every field optional)."""

    q: str = ""
    task: str = ""
    organization: Organization | None = None
    network: Network | None = None
    kind: int | None = None
    currency: str = ""  # a currency symbol; "" = any (a price range is then in the native coin)
    min_price: Decimal | None = None  # in whole units
    max_price: Decimal | None = None


# --- what is for sale ---


def listed_models() -> QuerySet[AIModel]:
    """The public models: listed, of an active organization."""
    return AIModel.objects.filter(listed=True, organization__status=OrganizationStatus.ACTIVE)


def _on_sale() -> QuerySet[ChainOffer]:
    """Active on-chain offers on active networks tied to a configured offer."""
    return ChainOffer.objects.filter(active=True, network__is_active=True, offer__isnull=False)


def _with_unit_price(offers: QuerySet[ChainOffer]) -> QuerySet[ChainOffer]:
    """``unit_price``: what one unit sold costs in smallest units (a credits pack: the chain's
    price of one credit times the pack's size)."""
    per_unit = Case(
        When(kind=OfferKind.CREDITS, then=F("offer__credits_per_unit")),
        default=Value(1),
    )
    return offers.annotate(
        unit_price=ExpressionWrapper(F("price") * per_unit, output_field=WEI_FIELD)
    )


def _atomic_bound(amount: Decimal, decimals: int, rounding: str) -> int:
    """``amount`` whole units in smallest units, rounded up (a lower bound) or down (an upper
    one); exact: the form keeps amounts to 30 digits, well within the context's precision."""
    with localcontext() as context:
        context.prec = 120
        return int((amount.scaleb(decimals)).to_integral_value(rounding=rounding))


def _currency_rows(filters: MarketFilters) -> list[Currency] | None:
    """The currencies a currency or price filter means; None when there is neither."""
    priced = filters.min_price is not None or filters.max_price is not None
    if not filters.currency and not priced:
        return None
    # a price range without a currency is in the native coin
    which = Q(symbol=filters.currency) if filters.currency else Q(address="")
    rows = Currency.objects.filter(which)
    if filters.network is not None:
        rows = rows.filter(network=filters.network)
    return list(rows)


def _price_condition(filters: MarketFilters, currencies: list[Currency]) -> Q:
    """Offers in one of ``currencies`` within the price range (in each one's units)."""
    condition = Q(pk__in=[])
    for currency in currencies:
        part = Q(network_id=currency.network_id, currency__iexact=currency.chain_address)
        if filters.min_price is not None:
            low = _atomic_bound(filters.min_price, currency.decimals, ROUND_CEILING)
            part &= Q(unit_price__gte=low)
        if filters.max_price is not None:
            high = _atomic_bound(filters.max_price, currency.decimals, ROUND_FLOOR)
            part &= Q(unit_price__lte=high)
        condition |= part
    return condition & ~Q(kind=OfferKind.SHARES)


def _search_condition(text: str) -> Q:
    """Every word in the name, summary, organization name or tags."""
    condition = Q()
    for word in text.split()[:SEARCH_TERMS_MAX]:
        condition &= (
            Q(name__icontains=word)
            | Q(summary__icontains=word)
            | Q(organization__name__icontains=word)
            | Q(tags__icontains=word)
        )
    return condition


def models_for_sale(*, filters: MarketFilters | None = None) -> QuerySet[AIModel]:
    """The listed models of active organizations with an active on-chain offer matching the
    filters, by organization and name (with the organization selected)."""
    filters = filters or MarketFilters()
    offers = _on_sale().filter(offer__model=OuterRef("pk"))
    if filters.network is not None:
        offers = offers.filter(network=filters.network)
    if filters.kind is not None:
        offers = offers.filter(kind=filters.kind)
    currencies = _currency_rows(filters)
    if currencies is not None:
        offers = _with_unit_price(offers).filter(_price_condition(filters, currencies))
    models = listed_models().filter(Exists(offers))
    if filters.q:
        models = models.filter(_search_condition(filters.q))
    if filters.task:
        models = models.filter(task=filters.task)
    if filters.organization is not None:
        models = models.filter(organization=filters.organization)
    return models.select_related("organization").order_by("organization__name", "name", "pk")


# --- prices in words ---


def _currencies() -> dict[tuple[int, str], Currency]:
    """Every configured currency by (network id, address on chain, lower case): a small table."""
    return {(row.network_id, row.chain_address.lower()): row for row in Currency.objects.all()}


@dataclass(frozen=True)
class Price:
    """What one unit of an offer costs, for people."""

    text: str  # "0.05 ETH"; the smallest units and the address when the currency is unknown
    units: Decimal | None  # in whole units (None for an unknown currency)
    symbol: str


def _price(chain_offer: ChainOffer, currencies: dict) -> Price:
    per_unit = chain_offer.offer.credits_per_unit if chain_offer.kind == OfferKind.CREDITS else 1
    atomic = int(chain_offer.price) * (per_unit or 1)
    currency = currencies.get((chain_offer.network_id, chain_offer.currency.lower()))
    if currency is None:
        return Price(text=f"{atomic} (token {chain_offer.currency})", units=None, symbol="")
    units = to_units(atomic, currency.decimals)
    return Price(text=format_amount(atomic, currency), units=units, symbol=currency.symbol)


# --- the list's cards ---


@dataclass(frozen=True)
class CheapestOffer:
    """The cheapest offer of one kind in one currency of a model."""

    kind: int
    kind_label: str
    price: Price | None  # None for ownership shares (not sold)
    count: int  # offers of this kind and currency


@dataclass
class MarketCard:
    """One model on the marketplace page."""

    model: AIModel
    networks: list[str] = field(default_factory=list)
    cheapest: list[CheapestOffer] = field(default_factory=list)


def _cheapest(rows: list[ChainOffer], currencies: dict) -> list[CheapestOffer]:
    groups: dict[tuple[int, str], list[tuple[Price | None, ChainOffer]]] = defaultdict(list)
    for row in rows:
        price = None if row.kind == OfferKind.SHARES else _price(row, currencies)
        groups[(row.kind, price.symbol if price else "")].append((price, row))
    result = []
    for (kind, _symbol), members in sorted(groups.items()):
        priced = [m for m in members if m[0] is not None and m[0].units is not None]
        best = min(priced, key=lambda m: m[0].units)[0] if priced else members[0][0]
        result.append(
            CheapestOffer(
                kind=kind, kind_label=OfferKind(kind).label, price=best, count=len(members)
            )
        )
    return result


def market_cards(*, models: list[AIModel]) -> list[MarketCard]:
    """The cards of ``models`` (a page): networks and the cheapest offer per kind and currency,
    in two queries whatever the number of models."""
    ids = [model.pk for model in models]
    rows = list(
        _on_sale()
        .filter(offer__model_id__in=ids)
        .select_related("offer", "network")
        .order_by("network__name", "kind", "token_id")
    )
    currencies = _currencies() if rows else {}
    by_model: dict[int, list[ChainOffer]] = defaultdict(list)
    for row in rows:
        by_model[row.offer.model_id].append(row)
    cards = []
    for model in models:
        offers = by_model.get(model.pk, [])
        networks = sorted({row.network.name for row in offers})
        cards.append(
            MarketCard(model=model, networks=networks, cheapest=_cheapest(offers, currencies))
        )
    return cards


@dataclass(frozen=True)
class FilterChoices:
    """What the form offers: organizations with listed models, active networks, currencies."""

    organizations: list[Organization]
    networks: list[Network]
    currency_symbols: list[str]


def filter_choices() -> FilterChoices:
    listed = listed_models().values("organization_id")
    organizations = Organization.objects.filter(pk__in=listed).order_by("name")
    networks = Network.objects.filter(is_active=True).order_by("name")
    symbols = Currency.objects.order_by("symbol").values_list("symbol", flat=True).distinct()
    return FilterChoices(
        organizations=list(organizations), networks=list(networks), currency_symbols=list(symbols)
    )


# --- a model's page ---


def market_model(*, org_slug: str, slug: str) -> AIModel | None:
    """A listed model of an active organization by its address, or None."""
    return (
        listed_models()
        .select_related("organization")
        .filter(organization__slug=org_slug, slug=slug)
        .first()
    )


@dataclass(frozen=True)
class OfferView:
    """One active on-chain offer of a model, as its page shows it."""

    chain_offer: ChainOffer
    name: str
    kind_label: str
    price: Price | None
    duration: str
    network: Network
    max_supply: int  # 0 = unlimited
    issued: int
    terms: LicenseTerms | None  # the organization's terms whose hash the chain has
    terms_plain: list[str]
    terms_hash: str
    buyable: bool  # shares are minted to the cap table, not sold
    offer_pk: int
    credits_per_unit: int

    @property
    def remaining(self) -> int | None:
        return max(self.max_supply - self.issued, 0) if self.max_supply else None


@dataclass(frozen=True)
class ModelPage:
    """A model's marketplace page: the card, published versions, offers."""

    model: AIModel
    card_html: str
    versions: list[ModelVersion]
    offers: list[OfferView]


def _duration(chain_offer: ChainOffer) -> str:
    if chain_offer.kind == OfferKind.CREDITS:
        return "until used"
    if chain_offer.kind == OfferKind.SHARES:
        return "held, not timed"
    return format_duration(chain_offer.duration)


def _issued(rows: list[ChainOffer]) -> dict[tuple[int, str, int], int]:
    """Tokens held now per (network, token address, token id): the supply the chain counts."""
    if not rows:
        return {}
    sums = (
        Holding.objects.filter(
            network_id__in={row.network_id for row in rows},
            token_id__in={row.token_id for row in rows},
        )
        .values("network_id", "token_address", "token_id")
        .annotate(total=Sum("balance"))
    )
    return {
        (s["network_id"], s["token_address"].lower(), int(s["token_id"])): int(s["total"] or 0)
        for s in sums
    }


def _terms_by_hash(model: AIModel, rows: list[ChainOffer]) -> dict[str, LicenseTerms]:
    hashes = {row.terms_hash.lower() for row in rows if int(row.terms_hash or "0", 16)}
    if not hashes:
        return {}
    terms = LicenseTerms.objects.filter(
        organization_id=model.organization_id, content_hash__in=hashes
    ).order_by("version")
    return {row.content_hash.lower(): row for row in terms}


def _offer_view(row: ChainOffer, currencies, issued, terms_by_hash) -> OfferView:
    terms = terms_by_hash.get(row.terms_hash.lower())
    per_unit = row.offer.credits_per_unit if row.kind == OfferKind.CREDITS else 1
    key = (row.network_id, row.token_address.lower(), int(row.token_id))
    return OfferView(
        chain_offer=row,
        name=row.offer.tier_name,
        kind_label=row.get_kind_display(),
        price=None if row.kind == OfferKind.SHARES else _price(row, currencies),
        duration=_duration(row),
        network=row.network,
        max_supply=int(row.max_supply),
        issued=issued.get(key, 0),
        terms=terms,
        terms_plain=plain_language(terms) if terms else [],
        terms_hash=row.terms_hash if int(row.terms_hash or "0", 16) else "",
        buyable=row.kind != OfferKind.SHARES,
        offer_pk=row.offer.pk,
        credits_per_unit=per_unit if row.kind == OfferKind.CREDITS else 0,
    )


def model_page(*, model: AIModel) -> ModelPage:
    """What the model's page shows, in a fixed number of queries."""
    rows = list(
        _on_sale()
        .filter(offer__model=model)
        .select_related("offer", "network")
        .order_by("network__name", "kind", "price", "token_id")
    )
    currencies = _currencies() if rows else {}
    issued = _issued(rows)
    terms_by_hash = _terms_by_hash(model, rows)
    return ModelPage(
        model=model,
        card_html=render_model_card(model.model_card),
        versions=list(versions_visible(model=model, own=False)),
        offers=[_offer_view(row, currencies, issued, terms_by_hash) for row in rows],
    )
