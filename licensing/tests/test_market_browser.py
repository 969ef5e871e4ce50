"""The marketplace in a real browser (Debian's chromium): browse, search and filter, open a
model's page, at desktop and phone width, with axe-core on every page and the
Content-Security-Policy watched (the ``page`` fixture fails a test on any violation)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from chain.choices import OfferKind
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
from models_hub.choices import Task
from portal.services import organization_create
from portal.tests.browser import CspWatch, assert_accessible, axe_violations, screenshot

pytestmark = [pytest.mark.requires_browser]

PHONE = {"width": 375, "height": 812}
CARD = """Flags card transactions that look like fraud.

## Training data

| split | rows |
|---|---|
| train | 80,000 |
| test | 20,000 |

Use it **with a human in the loop**.
"""
FEATURES = ["amount", "merchant_category", "hour_of_day", "card_present", "distance_from_home_km"]


@pytest.fixture
def stocked(transactional_db, org_a, org_b):
    """Two organizations selling five models; org B's unlisted one must never show."""
    m = market_setup()
    fraud = model_for_sale(
        org_a, "Fraud detector", summary="Flags card transactions in real time.",
        tags=("finance", "tabular"), model_card=CARD,
    )  # fmt: skip
    monthly = sell(m, fraud, OfferKind.LICENSE, price=ETH // 10, tier="Monthly", duration=30 * DAY)
    sell(m, fraud, OfferKind.LICENSE, price=ETH // 2, tier="Perpetual")
    week = sell(
        m, fraud, OfferKind.ACCESS_PASS, price=12_500_000, currency=m.usdc, tier="Week pass",
        duration=7 * DAY, max_supply=50,
    )  # fmt: skip
    hold(week, 12)
    sell(m, fraud, OfferKind.CREDITS, price=ETH // 100, credits=1000, tier="1,000 calls")
    sell(m, fraud, OfferKind.SHARES, tier="Shares", max_supply=10_000)
    hold(monthly, 2)
    published_version(fraud, "1.0.0", features=FEATURES[:4], classes=["fraud", "ok"])
    published_version(
        fraud, "2.0.0", features=FEATURES, classes=["fraud", "ok"],
        schema_change={"summary": 'features 4 → 5; added "distance_from_home_km"'},
    )  # fmt: skip
    churn = model_for_sale(
        org_a, "Churn scorer", summary="Who is likely to leave next month.", tags=("crm",)
    )
    sell(m, churn, OfferKind.CREDITS, price=ETH // 1000, credits=100, tier="100 calls")
    house = model_for_sale(
        org_a, "House prices", summary="Sale price of a house from its features.",
        task=Task.REGRESSION, tags=("realestate",),
    )  # fmt: skip
    sell(m, house, OfferKind.LICENSE, price=2 * ETH, currency=m.test_eth, tier="Test license")
    gamma = organization_create(name="Gamma Vision", slug="gamma")
    iris = model_for_sale(gamma, "Iris species", summary="The classic, as a service.")
    sell(m, iris, OfferKind.ACCESS_PASS, price=5 * USDC, currency=m.usdc, tier="Day pass",
         duration=DAY)  # fmt: skip
    sell(m, model_for_sale(org_b, "LEAK secret model", listed=False), OfferKind.LICENSE)
    return m


def _card_names(page) -> list[str]:
    return page.locator(".market-grid .model-card h3").all_inner_texts()


def _no_sideways_scroll(page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    viewport = page.viewport_size["width"]
    assert width <= viewport, f"the page is {width}px wide in a {viewport}px viewport"


def test_browse_filter_and_open_a_model_at_desktop_width(stocked, page):
    # given the marketplace
    page.goto("/market/")
    assert _card_names(page) == ["Churn scorer", "Fraud detector", "House prices", "Iris species"]
    assert "LEAK" not in page.content()
    assert page.locator("nav[aria-label=Main] a[aria-current=page]").inner_text() == "Marketplace"
    assert_accessible(page)
    screenshot(page, "market-list-desktop")

    # when searching by tag and filtering by kind (a plain GET form)
    page.get_by_label("Search", exact=True).fill("finance")
    page.get_by_label("Offer kind").select_option(label="Usage credits")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    query = parse_qs(urlsplit(page.url).query)
    assert query["q"] == ["finance"]
    assert query["kind"] == [str(OfferKind.CREDITS.value)]
    assert _card_names(page) == ["Fraud detector"]
    card = page.locator(".model-card").first
    assert "1 model for sale" in page.locator("#results").inner_text()
    assert "0.01 ETH" in card.inner_text()  # the credits pack: 1,000 credits at 0.00001 ETH

    # a price range in USDC
    page.goto("/market/")
    page.get_by_label("Currency").select_option("USDC")
    page.get_by_label("Highest price").fill("6")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    assert _card_names(page) == ["Iris species"]
    assert_accessible(page)

    # a bad value: said on its field, the rest of the list still there
    page.goto("/market/?min_price=-1&network=999999")
    alert = page.get_by_role("alert")
    assert "Some filters were not applied" in alert.inner_text()
    assert page.get_by_label("Lowest price").get_attribute("aria-invalid") == "true"
    assert len(_card_names(page)) == 4
    assert_accessible(page)
    screenshot(page, "market-list-errors-desktop")

    # then the model's page
    page.goto("/market/")
    with page.expect_navigation():
        page.get_by_role("link", name="Fraud detector").click()
    assert urlsplit(page.url).path == "/market/alpha/fraud-detector/"
    assert page.get_by_role("heading", level=1).inner_text() == "Fraud detector"
    offers = page.locator(".offer")
    assert offers.count() == 5
    monthly = offers.filter(has_text="Monthly")
    assert "0.1 ETH" in monthly.inner_text()
    assert "30 days" in monthly.inner_text()
    assert "You may use the model commercially" in monthly.inner_text()
    assert "Unlimited" in monthly.inner_text()
    week = offers.filter(has_text="Week pass")
    assert "12.5 USDC" in week.inner_text()
    assert "38 of 50 left" in week.inner_text()
    assert "0.01 ETH for 1,000 credits" in offers.filter(has_text="1,000 calls").inner_text()
    shares = offers.filter(has_text="Ownership shares")
    assert "0 held of 10,000" in shares.inner_text()
    assert shares.get_by_role("link", name="Buy").count() == 0
    assert page.locator(".prose table").count() == 1  # the card's Markdown table
    assert page.locator("table.versions tbody tr").count() == 2
    assert_accessible(page)
    screenshot(page, "market-detail-desktop")

    # the buy link leads to the offer's buy page
    with page.expect_navigation():
        monthly.get_by_role("link", name="Buy").click()
    assert "/market/offers/" in page.url
    assert_accessible(page)


def test_the_marketplace_and_a_model_page_at_phone_width(stocked, page):
    page.set_viewport_size(PHONE)
    page.goto("/market/")
    _no_sideways_scroll(page)
    boxes = [card.bounding_box() for card in page.locator(".model-card").all()]
    assert len({round(box["x"]) for box in boxes}) == 1, "cards are one column on a phone"
    assert all(box["width"] > 300 for box in boxes)
    assert_accessible(page)
    screenshot(page, "market-list-phone")

    # the skip link is the first stop of the keyboard and leads to the content
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    assert skip.bounding_box()["y"] >= 0  # shown when focused
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"

    page.goto("/market/alpha/fraud-detector/")
    _no_sideways_scroll(page)
    table = page.locator(".table-scroll").first
    scrolls = table.evaluate("(el) => el.scrollWidth > el.clientWidth")
    assert scrolls, "the versions table scrolls inside its box on a phone"
    page.locator("details.schema summary").first.click()
    assert page.locator("details.schema").first.locator("li").count() == len(FEATURES)
    assert_accessible(page)
    screenshot(page, "market-detail-phone")


def test_the_home_page_passes_axe_at_both_widths(stocked, page):
    page.goto("/")
    assert_accessible(page)
    page.set_viewport_size(PHONE)
    _no_sideways_scroll(page)
    assert_accessible(page)
    screenshot(page, "home-phone")


def test_the_csp_watch_sees_an_inline_script_the_policy_refuses(stocked, browser, live_server):
    # given a context watched as the page fixture watches every test's
    context = browser.new_context(base_url=live_server.url)
    watch = CspWatch(context)
    page = context.new_page()
    try:
        page.goto("/market/")
        # when the page gets an inline script and a style attribute
        refused = page.expect_console_message(lambda message: "script-src" in message.text)
        with refused:
            page.evaluate(
                """() => {
                    const script = document.createElement("script");
                    script.textContent = "window.inlineRan = true";
                    document.body.append(script);
                    document.body.insertAdjacentHTML("beforeend", '<p style="color: red">x</p>');
                }"""
            )
        ran = page.evaluate("() => window.inlineRan === true")
        # axe itself still runs: page.evaluate is not governed by the policy
        assert axe_violations(page, impacts=("critical",)) == []
    finally:
        context.close()
    # then the policy refused the script, and the watch says so
    assert ran is False
    assert any("script-src" in text for text in watch.violations), watch.violations
    with pytest.raises(AssertionError, match="Content-Security-Policy violations"):
        watch.assert_clean()


def test_the_api_docs_run_under_the_policy(transactional_db, page):
    """Swagger UI (django-ninja's bundled copy) draws the API under the site's policy."""
    page.goto("/api/docs")
    page.locator(".swagger-ui .info .title").wait_for()
    assert page.locator(".swagger-ui .opblock").count() > 5


def test_assert_accessible_names_each_serious_violation(transactional_db, page):
    page.goto("/market/")
    page.evaluate(
        """() => {
            const field = document.createElement("input");
            field.type = "text";
            field.className = "unlabelled";
            document.querySelector("main").append(field);
        }"""
    )
    expected = r"- label \(critical\): Form elements must have labels \[\.unlabelled\]"
    with pytest.raises(AssertionError, match=expected):
        assert_accessible(page)
