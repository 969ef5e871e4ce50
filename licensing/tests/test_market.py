"""The marketplace (``/market/``) and a model's page (``/market/<org>/<model>/``): what is for
sale, search, filters, pagination, bad input, query counts, 404s, and the page's security
header."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chain.choices import OfferKind
from chain.models import Network
from licensing import market as selectors
from licensing.models import ChainOffer, Currency
from licensing.tests.marketplace import (
    DAY,
    ETH,
    USDC,
    hold,
    market_setup,
    model_for_sale,
    published_version,
    sell,
)
from models_hub.choices import Task, VersionStatus
from models_hub.models import AIModel
from portal.choices import OrganizationStatus
from portal.services import organization_create

URL = reverse("market:list")


@pytest.fixture
def shelf(db, org_a, org_b):
    """Org A sells three models; org B (the marker) sells nothing public. Around them, every
    way of not being for sale."""
    m = market_setup()
    fraud = model_for_sale(
        org_a, "Fraud detector", summary="Flags card transactions", tags=("finance", "tabular")
    )
    sell(m, fraud, OfferKind.LICENSE, price=ETH // 20, tier="Perpetual")
    sell(m, fraud, OfferKind.LICENSE, price=ETH // 10, tier="Monthly", duration=30 * DAY)
    sell(m, fraud, OfferKind.ACCESS_PASS, price=12_500_000, currency=m.usdc, tier="Month pass")
    sell(m, fraud, OfferKind.SHARES, tier="Shares")
    churn = model_for_sale(org_a, "Churn scorer", summary="Who leaves next month", tags=("crm",))
    sell(m, churn, OfferKind.CREDITS, price=ETH // 100, credits=100, tier="100 calls")
    prices = model_for_sale(org_a, "House prices", task=Task.REGRESSION, tags=("realestate",))
    sell(m, prices, OfferKind.LICENSE, price=2 * ETH, currency=m.test_eth, tier="Test license")
    # not for sale:
    unlisted = model_for_sale(org_a, "Alpha internal", listed=False)
    sell(m, unlisted, OfferKind.LICENSE)
    secret = model_for_sale(org_b, "LEAK secret model", listed=False, tags=("finance",))
    sell(m, secret, OfferKind.LICENSE)
    sell(m, model_for_sale(org_a, "Not yet on chain"), OfferKind.LICENSE, on_chain=False)
    sell(m, model_for_sale(org_a, "Deactivated on chain"), OfferKind.LICENSE, active=False)
    model_for_sale(org_a, "Never offered")
    suspended = organization_create(name="Gone Corp", slug="gone")
    sell(m, model_for_sale(suspended, "Gone model"), OfferKind.LICENSE)
    suspended.status = OrganizationStatus.SUSPENDED
    suspended.save()
    retired = Network.objects.create(name="retired", chain_id=991_009)
    retired_eth = Currency.objects.create(network=retired, symbol="rETH", address="")
    sell(m, model_for_sale(org_a, "Retired network model"), OfferKind.LICENSE, currency=retired_eth)
    Network.objects.filter(pk=retired.pk).update(is_active=False)  # its offers leave the market
    return m, {"fraud": fraud, "churn": churn, "prices": prices}


def _names(response) -> list[str]:
    return [card.model.name for card in response.context["cards"]]


def _errors(response) -> dict:
    return response.context["form"].errors


def test_only_listed_models_of_active_organizations_with_an_active_chain_offer(shelf, client):
    response = client.get(URL)
    assert response.status_code == 200
    assert _names(response) == ["Churn scorer", "Fraud detector", "House prices"]
    page = response.content.decode()
    hidden = ("LEAK", "Alpha internal", "Not yet on chain", "Deactivated", "Gone", "Retired")
    for name in hidden:
        assert name not in page
    assert "3 models for sale" in page


def test_each_card_has_name_organization_task_summary_cheapest_offer_per_kind_and_networks(
    shelf, client
):
    cards = {card.model.name: card for card in client.get(URL).context["cards"]}
    fraud = cards["Fraud detector"]
    cheapest = [(c.kind_label, c.price.text if c.price else None, c.count) for c in fraud.cheapest]
    assert cheapest == [
        ("License", "0.05 ETH", 2),  # the perpetual one, not the 0.1 ETH monthly one
        ("Access pass", "12.5 USDC", 1),
        ("Ownership shares", None, 1),
    ]
    assert fraud.networks == ["mainnet-like"]
    # a credits pack is priced per pack: 100 credits at 0.0001 ETH each on chain
    assert [c.price.text for c in cards["Churn scorer"].cheapest] == ["0.01 ETH"]
    page = client.get(URL).content.decode()
    assert "Alpha Models · Classification" in page
    assert "Flags card transactions" in page
    assert "from 0.05 ETH" in page
    assert "not for sale" in page
    assert 'href="/market/alpha/fraud-detector/"' in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("fraud", ["Fraud detector"]),  # name
        ("LEAVES", ["Churn scorer"]),  # summary, any case
        ("alpha", ["Churn scorer", "Fraud detector", "House prices"]),  # organization name
        ("crm", ["Churn scorer"]),  # tag
        ("finance card", ["Fraud detector"]),  # every word
        ("finance crm", []),
        ("LEAK", []),  # org B's unlisted model has the tag finance and the marker
    ],
)
def test_search_looks_in_name_summary_organization_and_tags(shelf, client, query, expected):
    assert _names(client.get(URL, {"q": query})) == expected


def test_filters_by_task_organization_kind_and_network(shelf, client, org_a):
    m, _ = shelf
    assert _names(client.get(URL, {"task": "regression"})) == ["House prices"]
    assert _names(client.get(URL, {"organization": "alpha", "task": "classification"})) == [
        "Churn scorer",
        "Fraud detector",
    ]
    assert _names(client.get(URL, {"kind": OfferKind.CREDITS})) == ["Churn scorer"]
    assert _names(client.get(URL, {"kind": OfferKind.SHARES})) == ["Fraud detector"]
    assert _names(client.get(URL, {"kind": OfferKind.ACCESS_PASS})) == ["Fraud detector"]
    assert _names(client.get(URL, {"network": m.testnet.pk})) == ["House prices"]
    both = {"network": m.mainnet.pk, "kind": OfferKind.CREDITS}
    assert _names(client.get(URL, both)) == ["Churn scorer"]


def test_price_range_is_in_whole_units_of_the_native_coin_or_of_the_currency_chosen(shelf, client):
    # native coins of every network: 0.05 ETH and 0.1 ETH licenses, a 0.01 ETH pack, 2 tETH
    assert _names(client.get(URL, {"min_price": "1"})) == ["House prices"]
    assert _names(client.get(URL, {"max_price": "0.01"})) == ["Churn scorer"]
    assert _names(client.get(URL, {"min_price": "0.06", "max_price": "0.1"})) == ["Fraud detector"]
    # in USDC: only the 12.5 USDC pass
    assert _names(client.get(URL, {"currency": "USDC"})) == ["Fraud detector"]
    assert _names(client.get(URL, {"currency": "USDC", "max_price": "12.49"})) == []
    assert _names(client.get(URL, {"currency": "USDC", "min_price": "12.5"})) == ["Fraud detector"]
    # the kind and the price hold for the same offer: no 0.01 ETH access pass
    assert _names(client.get(URL, {"kind": OfferKind.ACCESS_PASS, "max_price": "1"})) == []
    # more decimals than the currency has: the bound rounds inwards
    assert _names(client.get(URL, {"currency": "USDC", "max_price": "12.5000001"})) == [
        "Fraud detector"
    ]
    page = client.get(URL).content.decode()
    assert "whole units of the currency chosen" in page
    assert "native coin (ETH)" in page


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"min_price": "-1"}, "min_price"),
        ({"min_price": "1e999"}, "min_price"),
        ({"max_price": "NaN"}, "max_price"),
        ({"max_price": "Infinity"}, "max_price"),
        ({"min_price": "abc"}, "min_price"),
        ({"min_price": "0." + "1" * 40}, "min_price"),
        ({"task": "nope"}, "task"),
        ({"kind": "nope"}, "kind"),
        ({"kind": "9"}, "kind"),
        ({"network": "999999"}, "network"),
        ({"network": "-1"}, "network"),
        ({"network": "9" * 5000}, "network"),
        ({"organization": "beta-leak"}, "organization"),  # it lists nothing
        ({"organization": "x" * 10_000}, "organization"),
        ({"currency": "DOGE"}, "currency"),
        ({"q": "fraud" * 1000}, "q"),
    ],
)
def test_a_bad_filter_is_a_form_error_and_the_list_is_not_filtered_by_it(
    shelf, client, params, field
):
    response = client.get(URL, {**params, "task": params.get("task", "classification")})
    assert response.status_code == 200
    assert field in _errors(response)
    expected = ["Churn scorer", "Fraud detector"]  # by task: classification
    if field == "task":
        expected = ["Churn scorer", "Fraud detector", "House prices"]
    assert _names(response) == expected
    page = response.content.decode()
    assert "Some filters were not applied" in page
    assert 'aria-invalid="true"' in page


def test_a_bad_filter_leaves_the_good_ones_applied(shelf, client):
    response = client.get(URL, {"kind": "nope", "q": "churn"})
    assert _names(response) == ["Churn scorer"]
    assert list(_errors(response)) == ["kind"]
    # a range upside down: the highest price is the error, the lowest still applies
    response = client.get(URL, {"min_price": "0.02", "max_price": "0.01"})
    assert _names(response) == ["Fraud detector", "House prices"]
    assert _errors(response) == {"max_price": ["The highest price is below the lowest."]}


@pytest.mark.parametrize(
    "raw", ["?page=abc", "?page=99999", "?page=-3", "?page=1e999", "?page=" + "9" * 5000,
            "?" + "x" * 8000 + "=1", "?q=%00%ff", "?page=2&page=abc"],
)  # fmt: skip
def test_odd_query_strings_never_fail(shelf, client, raw):
    response = client.get(URL + raw)
    assert response.status_code == 200


def test_pages_of_the_page_size_keep_the_filters(shelf, client, settings, org_a):
    m, _ = shelf
    settings.MARKET_PAGE_SIZE = 2
    for number in range(3):
        sell(m, model_for_sale(org_a, f"Extra {number}", tags=("extra",)), OfferKind.LICENSE)
    first = client.get(URL, {"q": "alpha"})
    assert first.context["page"].paginator.count == 6
    assert len(first.context["cards"]) == 2
    page = first.content.decode()
    assert "page 1 of 3" in page
    assert 'href="?q=alpha&amp;page=2"' in page
    third = client.get(URL, {"q": "alpha", "page": 3})
    assert _names(third) == ["Fraud detector", "House prices"]
    assert third.context["page"].number == 3
    # out of range: the last page; not a number: the first
    assert client.get(URL, {"q": "alpha", "page": 99999}).context["page"].number == 3
    assert client.get(URL, {"q": "alpha", "page": "abc"}).context["page"].number == 1


def test_the_page_size_defaults_to_12(shelf, client, org_a):
    m, _ = shelf
    for number in range(12):
        sell(m, model_for_sale(org_a, f"Bulk {number:02d}"), OfferKind.LICENSE)
    response = client.get(URL)
    assert len(response.context["cards"]) == 12
    assert response.context["page"].paginator.num_pages == 2


def _queries(client, params=None) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL, params or {})
    assert response.status_code == 200
    return len(queries)


def _stock(m, organization, count: int, prefix: str):
    for number in range(count):
        model = model_for_sale(organization, f"{prefix} {number}", tags=("bulk",))
        sell(m, model, OfferKind.LICENSE)
        sell(m, model, OfferKind.ACCESS_PASS, price=5 * USDC, currency=m.usdc)
        sell(m, model, OfferKind.CREDITS, price=ETH // 100)


def test_the_list_costs_the_same_queries_for_2_or_12_models(
    db, client, org_a, django_assert_max_num_queries
):
    m = market_setup()
    _stock(m, org_a, 2, "Small")
    small = _queries(client)
    small_filtered = _queries(client, {"q": "bulk", "currency": "USDC", "max_price": "9"})
    second = organization_create(name="Second Org", slug="second")
    _stock(m, second, 10, "Large")
    assert _queries(client) == small
    assert _queries(client, {"q": "bulk", "currency": "USDC", "max_price": "9"}) == small_filtered
    with django_assert_max_num_queries(8):
        client.get(URL, {"kind": OfferKind.CREDITS, "network": m.mainnet.pk})


def test_the_selectors_read_a_page_in_a_fixed_number_of_queries(shelf, django_assert_num_queries):
    with django_assert_num_queries(3):  # the models, their offers, the currencies
        models = list(selectors.models_for_sale()[:12])
        cards = selectors.market_cards(models=models)
    assert len(cards) == 3
    with django_assert_num_queries(0):
        assert selectors.market_cards(models=[]) == []


# --- a model's page ---


CARD = """# Fraud detector

Trained on **card** transactions.

<script>alert("x")</script><img src="x" onerror="alert(1)">
[docs](javascript:alert(1)) [site](https://example.com)
"""


@pytest.fixture
def fraud_page(shelf):
    m, models = shelf
    fraud = models["fraud"]
    fraud.model_card = CARD
    fraud.save()
    published_version(fraud, "1.0.0", features=["amount", "merchant"], classes=[0, 1])
    published_version(
        fraud,
        "2.0.0",
        features=["amount", "merchant", "hour"],
        classes=["fraud", "ok"],
        schema_change={"summary": 'features 2 → 3; added "hour"'},
    )
    published_version(fraud, "2.1.0", features=["amount", "merchant", "hour"], published=False)
    published_version(
        fraud, "3.0.0", features=["x"], status=VersionStatus.REJECTED, published=False
    )
    return m, fraud


def _detail(model) -> str:
    return reverse("market:detail", args=[model.organization.slug, model.slug])


def test_the_page_shows_the_sanitized_card_and_the_published_versions_with_their_schema(
    fraud_page, client
):
    _, fraud = fraud_page
    response = client.get(_detail(fraud))
    assert response.status_code == 200
    page = response.content.decode()
    assert "<strong>card</strong>" in page
    assert "<script>alert" not in page
    assert "onerror" not in page
    assert "javascript:" not in page
    assert 'href="https://example.com"' in page
    assert [v.version for v in response.context["view"].versions] == ["2.0.0", "1.0.0"]
    assert "2.1.0" not in page  # a draft
    assert "3.0.0" not in page  # rejected
    assert "sklearn.ensemble.RandomForestClassifier" in page
    assert "<code>hour</code>" in page
    assert "fraud, ok" in page
    assert "Change from the previous version: features 2 → 3" in page


def test_each_offer_has_price_duration_network_supply_terms_and_a_buy_link(fraud_page, client):
    m, fraud = fraud_page
    monthly = fraud.offers.get(tier_name="Monthly")
    ChainOffer.objects.filter(network=monthly.network, token_id=monthly.token_id).update(
        max_supply=10
    )
    hold(monthly, 3)
    hold(monthly, 1)
    response = client.get(_detail(fraud))
    offers = {offer.name: offer for offer in response.context["view"].offers}
    assert set(offers) == {"Perpetual", "Monthly", "Month pass", "Shares"}
    assert offers["Monthly"].price.text == "0.1 ETH"
    assert offers["Monthly"].duration == "30 days"
    assert offers["Monthly"].remaining == 6
    assert offers["Perpetual"].duration == "perpetual"
    assert offers["Perpetual"].remaining is None
    assert offers["Month pass"].price.text == "12.5 USDC"
    terms = m.terms[fraud.organization_id]
    assert offers["Monthly"].terms == terms
    assert offers["Monthly"].terms_hash == terms.content_hash
    page = response.content.decode()
    assert "6 of 10 left" in page
    assert "mainnet-like (chain id 991001)" in page
    assert (
        "You may use the model commercially, crediting the publisher, and owe 5.00% of that "
        "revenue back." in page
    )
    assert "Each license covers 3 wallets." in page
    assert terms.content_hash in page
    assert f'href="{reverse("market:buy", args=[monthly.pk])}"' in page
    shares = fraud.offers.get(tier_name="Shares")
    assert reverse("market:buy", args=[shares.pk]) not in page
    assert "Not for sale: minted to the cap table" in page


def test_a_credits_pack_shows_its_price_and_size(shelf, client):
    _, models = shelf
    page = client.get(_detail(models["churn"])).content.decode()
    assert "0.01 ETH for 100 credits" in page
    assert "until used" in page


def test_the_page_shows_terms_the_chain_has_not_those_configured_since(fraud_page, client):
    _, fraud = fraud_page
    perpetual = fraud.offers.get(tier_name="Perpetual")
    ChainOffer.objects.filter(network=perpetual.network, token_id=perpetual.token_id).update(
        terms_hash="0x" + "ab" * 32
    )
    response = client.get(_detail(fraud))
    offer = next(o for o in response.context["view"].offers if o.name == "Perpetual")
    assert offer.terms is None
    assert offer.terms_hash == "0x" + "ab" * 32
    assert "The publisher has not published these terms here." in response.content.decode()


def test_a_listed_model_without_offers_on_chain_has_a_page_that_says_so(shelf, client, org_a):
    model = model_for_sale(org_a, "Coming soon")
    response = client.get(_detail(model))
    assert response.status_code == 200
    assert "Nothing is for sale on chain yet." in response.content.decode()


def test_the_page_costs_the_same_queries_with_more_offers_and_versions(fraud_page, client):
    m, fraud = fraud_page
    with CaptureQueriesContext(connection) as before:
        client.get(_detail(fraud))
    for number in range(5):
        offer = sell(m, fraud, OfferKind.ACCESS_PASS, price=USDC, currency=m.usdc)
        hold(offer, number + 1)
        published_version(fraud, f"2.2.{number}", features=["amount", "merchant", "hour"])
    with CaptureQueriesContext(connection) as after:
        response = client.get(_detail(fraud))
    assert len(response.context["view"].offers) == 9
    assert len(after) == len(before)


def test_unlisted_models_inactive_organizations_and_unknown_addresses_are_404(
    shelf, client, org_a, org_b
):
    _, models = shelf
    secret = org_b.models.get()
    gone = AIModel.objects.get(name="Gone model")
    internal = org_a.models.get(name="Alpha internal")
    for path in (
        _detail(secret),
        _detail(gone),
        _detail(internal),
        reverse("market:detail", args=["alpha", "no-such-model"]),
        reverse("market:detail", args=["beta-leak", "fraud-detector"]),  # another org's slug
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "LEAK secret" not in response.content.decode()
    # the buy page of an unlisted model's offer is no way round
    assert client.get(reverse("market:buy", args=[secret.offers.get().pk])).status_code == 404
    listed_offer = models["fraud"].offers.first()
    assert client.get(reverse("market:buy", args=[listed_offer.pk])).status_code == 200


def test_only_get(shelf, client):
    assert client.post(URL).status_code == 405
    assert client.post(_detail(shelf[1]["fraud"])).status_code == 405


# --- the shell: navigation and the security header ---


def test_every_page_has_the_marketplace_in_its_navigation_and_landmarks(client, db):
    page = client.get("/").content.decode()
    assert f'href="{URL}">Marketplace</a>' in page
    assert '<a class="skip-link" href="#main">' in page
    for landmark in ('<header class="site-header">', '<nav class="site-nav" aria-label="Main">',
                     '<main id="main"', "<footer"):  # fmt: skip
        assert landmark in page
    assert 'aria-current="page">Marketplace' in client.get(URL).content.decode()


EXPECTED_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "font-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def _policy(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    parts = (part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return {name: value for name, value in parts}


@pytest.mark.parametrize("path", ["/", URL, "/admin/login/", "/accounts/login/", "/api/docs"])
def test_the_content_security_policy_covers_the_whole_site(db, client, path):
    response = client.get(path, follow=True)
    assert response.status_code == 200
    assert _policy(response) == EXPECTED_POLICY


def test_customer_templates_have_no_inline_script_style_or_handler():
    root = Path(__file__).resolve().parents[2] / "templates"
    for template in [root / "base.html", *sorted((root / "market").glob("*.html"))]:
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template
        assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", text), template


def test_the_vendored_axe_core_is_the_pinned_package(settings):
    vendored = Path(settings.BASE_DIR) / "portal/tests/vendor/axe-core"
    package = Path(settings.BASE_DIR) / "node_modules/axe-core"
    assert (package / "axe.min.js").exists(), "npm ci installs axe-core (make setup)"
    assert (vendored / "LICENSE").exists()
    for name in ("axe.min.js", "LICENSE"):
        assert (vendored / name).read_bytes() == (package / name).read_bytes(), "run `make vendor`"
