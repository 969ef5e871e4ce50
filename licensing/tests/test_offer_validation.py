"""Offers: each rule through the admin's form (the error on its field, nothing written, no history)
and, for rules about one row, as a database constraint (a save that skips validation fails)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from chain.choices import OfferKind
from chain.models import Network
from licensing.amounts import plain, to_atomic, to_units
from licensing.choices import PublishStepKind, UsageUnit
from licensing.models import Currency, Holding, Offer
from licensing.services import tokenomics as services
from licensing.tests import factories
from licensing.tests.admin_forms import admin_url, error_codes, error_text, form_errors, offer_data

UINT128 = 2**128
ETH = 10**18
PASS = OfferKind.ACCESS_PASS.value
CREDITS = OfferKind.CREDITS.value
SHARES = OfferKind.SHARES.value
CREDITS_PACK = {"kind": CREDITS, "credits_per_unit": "100", "usage_unit": UsageUnit.CALL}
SHARES_CLASS = {"kind": SHARES, "currency": "", "price_amount": "", "terms": ""}


def _post(client, user, data, url=None):
    client.force_login(user)
    return client.post(url or admin_url(Offer), data)


def _nothing_written():
    assert not Offer.objects.exists()
    assert not Offer.history.exists()


# --- rules of one offer, through the form ---

FORM_RULES = [
    pytest.param({"kind": PASS, "duration_days": "0"}, "duration_days", "pass_needs_duration",
                 "must expire", id="perpetual-access-pass"),
    pytest.param({"price_amount": "0"}, "price_amount", "price_required", "price above zero",
                 id="zero-price-on-a-paid-tier"),
    pytest.param({**CREDITS_PACK, "credits_per_unit": "0"}, "credits_per_unit",
                 "credits_need_unit", "number of credits", id="credits-without-pack-size"),
    pytest.param({**CREDITS_PACK, "usage_unit": ""}, "usage_unit", "credits_need_unit",
                 "what one credit pays for", id="credits-without-usage-unit"),
    pytest.param({**CREDITS_PACK, "transferable": "on"}, "transferable",
                 "credits_not_transferable", "cannot be transferable", id="transferable-credits"),
    pytest.param({**SHARES_CLASS, "price_amount": "3"}, "price_amount", "shares_have_no_price",
                 "no price", id="shares-with-a-price"),
    pytest.param({"kind": SHARES, "price_amount": "", "terms": ""}, "currency",
                 "shares_have_no_price", "leave the currency empty", id="shares-with-a-currency"),
    pytest.param({"transferable": "on"}, "transferable", "terms_forbid_transfer",
                 "do not allow transfers", id="transferable-under-non-transferable-terms"),
    pytest.param({"price_amount": plain(to_units(UINT128, 18))}, "price_amount",
                 "price_too_large", "128 bits", id="price-over-uint128"),
    pytest.param({"max_supply": str(UINT128)}, "max_supply", "max_supply_too_large", "128 bits",
                 id="max-supply-over-uint128"),
    pytest.param({**CREDITS_PACK, "max_supply": str(UINT128 // 100 + 1)}, "max_supply",
                 "max_supply_too_large", "packs times credits", id="credits-supply-over-uint128"),
    pytest.param({**CREDITS_PACK, "price_amount": "0.000000000000000101"}, "price_amount",
                 "price_not_divisible", "divide evenly", id="credits-price-not-divisible"),
    pytest.param({"price_amount": "0.0000000000000000001"}, "price_amount", "too_many_decimals",
                 "ETH has 18 decimals", id="too-many-decimals"),
    pytest.param({"terms": ""}, "terms", "terms_required", "license terms",
                 id="paid-without-terms"),
    pytest.param({"currency": ""}, "currency", "currency_required", "needs a currency",
                 id="paid-without-currency"),
    pytest.param({"credits_per_unit": "5"}, "credits_per_unit", "credits_fields_on_other_kind",
                 "Only credits packs", id="pack-size-on-a-license"),
    pytest.param({**CREDITS_PACK, "duration_days": "30"}, "duration_days",
                 "duration_not_allowed", "do not expire", id="credits-that-expire"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "field", "code", "says"), FORM_RULES)
def test_offer_rule_shows_on_its_field(client, store, changes, field, code, says):
    response = _post(client, store.manager, offer_data(store, **changes))

    assert code in error_codes(response, field), form_errors(response)
    assert says in error_text(response, field)
    _nothing_written()


def test_a_valid_offer_is_saved_with_its_history(client, store):
    response = _post(client, store.manager, offer_data(store))

    assert response.status_code == 302
    offer = Offer.objects.get()
    assert offer.price == ETH // 20
    assert offer.history.get().history_user == store.manager


# --- rules across rows ---


def test_currency_of_another_network(client, store):
    other = Network.objects.create(name="other", chain_id=990_002)
    elsewhere = Currency.objects.create(network=other, symbol="oETH", decimals=18)

    response = _post(client, store.manager, offer_data(store, currency=elsewhere.pk))

    assert error_codes(response, "currency") == ["currency_not_on_network"]
    assert "not a currency of matrix" in error_text(response, "currency")
    _nothing_written()


def test_inactive_currency_for_a_new_price(client, store):
    Currency.objects.filter(pk=store.usdc.pk).update(active=False)

    response = _post(client, store.manager, offer_data(store, currency=store.usdc.pk))

    assert error_codes(response, "currency") == ["currency_inactive"]
    _nothing_written()


def test_an_offer_keeps_its_currency_once_it_is_inactive(client, store):
    offer = services.offer_create(**_license(store, currency=store.usdc, price=5_000_000))
    Currency.objects.filter(pk=store.usdc.pk).update(active=False)
    data = offer_data(store, currency=store.usdc.pk, price_amount="5", active=None)

    response = _post(client, store.manager, data, admin_url(Offer, "change", offer.pk))

    assert response.status_code == 302, form_errors(response)
    offer.refresh_from_db()
    assert offer.active is False


def test_terms_of_another_organization(client, store, org_b, make_staff):
    """Staff are offered only their own terms; a superuser's form offers every organization's,
    and the service refuses another organization's."""
    theirs = factories.plain_terms_row(org_b, "Beta")
    staff = _post(client, store.manager, offer_data(store, terms=theirs.pk))
    assert error_codes(staff, "terms") == ["invalid_choice"]

    response = _post(client, make_staff(superuser=True), offer_data(store, terms=theirs.pk))

    assert error_codes(response, "terms") == ["terms_of_other_organization"]
    _nothing_written()


def test_second_shares_offer_for_a_model_and_network(client, store):
    services.offer_create(model=store.model, network=store.network, kind=SHARES, tier_name="A")

    response = _post(client, store.manager, offer_data(store, **SHARES_CLASS, tier_name="B"))

    assert error_codes(response, "kind") == ["one_share_class"]
    assert "one share class per network" in error_text(response, "kind")
    assert Offer.objects.count() == 1


def test_shares_max_supply_under_the_cap_table(client, store):
    services.share_allocation_create(model=store.model, holder=factories.address(), amount=500)

    response = _post(client, store.manager, offer_data(store, **SHARES_CLASS, max_supply="499"))

    assert error_codes(response, "max_supply") == ["max_supply_below_cap_table"]
    _nothing_written()


# --- what publishing fixes ---


def _license(store, **fields) -> dict:
    base = {
        "model": store.model,
        "network": store.network,
        "kind": OfferKind.LICENSE,
        "tier_name": "Standard",
        "price": ETH // 20,
        "currency": store.eth,
        "terms": store.terms,
    }
    return base | fields


@pytest.fixture
def published(store):
    """A license tier whose configuration is queued in the outbox (published)."""
    offer = services.offer_create(**_license(store))
    factories.publish_step_of(store.model, PublishStepKind.OFFER, offer=offer)
    return offer


def _change(client, store, offer, **changes):
    url = admin_url(Offer, "change", offer.pk)
    return _post(client, store.manager, offer_data(store, **changes), url)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"kind": PASS, "duration_days": "30"}, "kind", id="kind"),
        pytest.param({"duration_days": "30"}, "duration_days", id="timed-ness"),
    ],
)
def test_published_offer_fields_are_fixed(client, store, published, changes, field):
    history = published.history.count()

    response = _change(client, store, published, **changes)

    assert "offer_field_fixed" in error_codes(response, field), form_errors(response)
    assert "fixed on chain" in error_text(response, field) or "timed" in error_text(response, field)
    assert Offer.objects.get(pk=published.pk).kind == OfferKind.LICENSE
    assert published.history.count() == history


def test_published_offer_stays_on_its_model_and_network(client, store, published):
    other_model = factories.model_of(store.org, "Shop", "other")
    network = Network.objects.create(name="second", chain_id=990_003)
    currency = Currency.objects.create(network=network, symbol="ETH", decimals=18)

    response = _change(
        client, store, published, model=other_model.pk, network=network.pk, currency=currency.pk
    )

    assert error_codes(response, "model") == ["offer_field_fixed"]
    assert error_codes(response, "network") == ["offer_field_fixed"]


def test_published_offer_may_change_its_price(client, store, published):
    response = _change(client, store, published, price_amount="0.06")

    assert response.status_code == 302, form_errors(response)
    assert Offer.objects.get(pk=published.pk).price == 6 * ETH // 100


def test_a_failed_publication_fixes_nothing(client, store):
    offer = services.offer_create(**_license(store))
    factories.publish_step_of(store.model, PublishStepKind.OFFER, offer=offer, status="failed")

    response = _change(client, store, offer, kind=PASS, duration_days="30")

    assert response.status_code == 302, form_errors(response)


def test_max_supply_cannot_go_under_the_supply(client, store, published):
    for holder in (factories.address(), factories.address()):
        Holding.objects.create(
            network=store.network,
            token_address=factories.TOKEN_ADDRESS,
            token_id=published.token_id,
            holder=holder,
            balance=3,
        )

    response = _change(client, store, published, max_supply="5")

    assert error_codes(response, "max_supply") == ["max_supply_below_supply"]
    assert "6 units exist already" in error_text(response, "max_supply")
    assert _change(client, store, published, max_supply="6").status_code == 302


def test_credits_supply_counts_credits_not_packs(client, store):
    """A credits pack's holdings are credits (one token each); its maximum supply is in packs."""
    pack = _license(store, kind=CREDITS, tier_name="Pack", credits_per_unit=100, usage_unit="call")
    offer = services.offer_create(**pack)
    factories.chain_offer_of(offer)
    Holding.objects.create(
        network=store.network,
        token_address=factories.TOKEN_ADDRESS,
        token_id=offer.token_id,
        holder=factories.address(),
        balance=250,
    )
    data = {**CREDITS_PACK, "tier_name": "Pack"}

    refused = _change(client, store, offer, **data, max_supply="2")
    kept = _change(client, store, offer, **data, max_supply="3")

    assert error_codes(refused, "max_supply") == ["max_supply_below_supply"]
    assert "250 credits (3 packs)" in error_text(refused, "max_supply")
    assert kept.status_code == 302, form_errors(kept)


def test_deleting_a_published_offer_is_refused(client, store):
    offer = services.offer_create(**_license(store))
    factories.chain_offer_of(offer)  # the chain has it
    client.force_login(store.manager)

    response = client.post(admin_url(Offer, "delete", offer.pk), {"post": "yes"}, follow=True)

    assert Offer.objects.filter(pk=offer.pk).exists()
    assert "is published: deactivate it instead" in response.content.decode()
    assert not offer.history.filter(history_type="-").exists()


def test_deleting_an_offer_being_published_is_refused(client, store, published):
    client.force_login(store.manager)

    response = client.post(admin_url(Offer, "delete", published.pk), {"post": "yes"})

    assert Offer.objects.filter(pk=published.pk).exists()
    assert "<title>Cannot delete offer" in response.content.decode()  # its publishing step


def test_an_unpublished_offer_can_be_deleted(client, store):
    offer = services.offer_create(**_license(store))
    client.force_login(store.manager)

    response = client.post(admin_url(Offer, "delete", offer.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not Offer.objects.exists()
    assert offer.history.filter(history_type="-").get().history_user == store.manager


# --- prices and durations in people's units ---


@pytest.mark.parametrize(
    ("text", "decimals", "atomic"),
    [
        ("340282366920938463463.374607431768211455", 18, UINT128 - 1),
        ("115792089237316195423570985008687907853269984665640564039457.584007913129639935", 18,
         2**256 - 1),
        ("0.000001", 6, 1),
        ("1E+3", 6, 10**9),
        ("12", 0, 12),
    ],
)  # fmt: skip
def test_amounts_convert_exactly_at_any_size(text, decimals, atomic):
    """Decimal arithmetic rounds to 28 digits; the conversions use none."""
    assert to_atomic(Decimal(text), decimals) == atomic
    assert to_units(atomic, decimals) == Decimal(text)
    assert Decimal(plain(to_units(atomic, decimals))) == Decimal(text)


def test_a_fraction_of_the_smallest_unit_is_refused():
    with pytest.raises(ValueError, match="more than 6 decimals"):
        to_atomic(Decimal("0.0000001"), 6)


@pytest.mark.parametrize(
    ("entered", "currency", "atomic"),
    [
        ("0.1", "eth", 10**17),
        ("12.345678", "usdc", 12_345_678),
        ("1E-18", "eth", 1),
    ],
)
def test_price_is_converted_exactly(client, store, entered, currency, atomic):
    currency = getattr(store, currency)

    response = _post(
        client, store.manager, offer_data(store, currency=currency.pk, price_amount=entered)
    )

    assert response.status_code == 302, form_errors(response)
    offer = Offer.objects.get()
    assert offer.price == atomic
    page = client.get(admin_url(Offer, "change", offer.pk))
    shown = page.context["adminform"].form["price_amount"].value()
    assert Decimal(shown) == Decimal(entered)
    assert "E" not in str(shown) or entered.startswith("1E")


@pytest.mark.parametrize(
    ("entered", "unit", "seconds", "shown"),
    [
        ("30", "days", 30 * 86_400, ("30", "days")),
        ("1.5", "days", 129_600, ("36", "hours")),
        ("1", "hours", 3_600, ("1", "hours")),
        ("90", "seconds", 90, ("90", "seconds")),
    ],
)
def test_duration_is_converted_exactly(client, store, entered, unit, seconds, shown):
    data = offer_data(store, kind=PASS, duration_days=entered, duration_unit=unit)

    response = _post(client, store.manager, data)

    assert response.status_code == 302, form_errors(response)
    offer = Offer.objects.get()
    assert offer.duration == seconds
    form = client.get(admin_url(Offer, "change", offer.pk)).context["adminform"].form
    assert (str(form["duration_days"].value()), form["duration_unit"].value()) == shown


def test_duration_days_alone_still_means_days(client, store):
    data = offer_data(store, kind=PASS, duration_days="7", duration_unit=None)

    assert _post(client, store.manager, data).status_code == 302
    assert Offer.objects.get().duration == 7 * 86_400


def test_duration_must_be_whole_seconds(client, store):
    response = _post(client, store.manager, offer_data(store, kind=PASS, duration_days="0.00001"))

    assert "whole number of seconds" in error_text(response, "duration_days")
    _nothing_written()


# --- the same rules as constraints: a save that skips every check ---


def _raw_offer(store, **fields) -> Offer:
    return Offer(**_license(store, **{"token_id": 7, **fields}))


CONSTRAINTS = [
    pytest.param({"kind": OfferKind.ACCESS_PASS}, id="offer_pass_has_duration"),
    pytest.param({"price": 0}, id="offer_paid_has_price_currency_terms"),
    pytest.param({"kind": OfferKind.CREDITS, "usage_unit": "call"}, id="offer_credits_pack"),
    pytest.param({"kind": OfferKind.CREDITS, "credits_per_unit": 10, "usage_unit": "call",
                  "transferable": True}, id="offer_credits_pack-transferable"),
    pytest.param({"kind": OfferKind.SHARES, "terms": None}, id="offer_shares_unpriced"),
    pytest.param({"kind": OfferKind.CREDITS, "credits_per_unit": 3, "usage_unit": "call",
                  "price": 10}, id="offer_credits_price_divisible"),
    pytest.param({"price": UINT128}, id="offer_price_uint128"),
    pytest.param({"max_supply": UINT128}, id="offer_max_supply_uint128"),
    pytest.param({"credits_per_unit": 5}, id="offer_credits_fields_only_on_packs"),
    pytest.param({"kind": OfferKind.CREDITS, "credits_per_unit": 10, "usage_unit": "call",
                  "duration": 60}, id="offer_untimed_kinds"),
]  # fmt: skip


@pytest.mark.parametrize("fields", CONSTRAINTS)
def test_offer_constraint_holds_without_the_service(store, fields):
    offer = _raw_offer(store, **fields)

    with pytest.raises(IntegrityError), transaction.atomic():
        offer.save()


def test_one_share_class_is_a_constraint(store):
    shares = {"kind": OfferKind.SHARES, "price": 0, "currency": None, "terms": None}
    _raw_offer(store, **shares, tier_name="A").save()

    with pytest.raises(IntegrityError), transaction.atomic():
        _raw_offer(store, **shares, tier_name="B", token_id=8).save()


def test_the_constraints_accept_a_valid_row(store):
    pack = {"kind": OfferKind.CREDITS, "credits_per_unit": 4, "usage_unit": "call", "price": 12}
    _raw_offer(store, **pack).save()

    assert Offer.objects.get().price == 12


def test_a_revert_by_a_viewer_is_refused(client, store, published):
    """simple-history's revert page saves a POST after checking only the view permission."""
    record = published.history.earliest()
    client.force_login(store.viewer)
    url = admin_url(Offer, "simple_history", published.pk, record.pk)
    data = offer_data(store, tier_name="Hijacked")

    assert client.get(url).status_code == 200
    assert client.post(url, data).status_code == 403
    assert Offer.objects.get(pk=published.pk).tier_name == "Standard"


def test_token_ids_read_back_as_the_chain_has_them(store):
    """Django reads SQLite's decimals through a float (15 significant digits): ids stay under."""
    offers = [
        services.offer_create(**_license(store, tier_name=f"Tier {index}")) for index in range(20)
    ]

    stored = dict(Offer.objects.values_list("pk", "token_id"))

    assert all(0 < offer.token_id < services.TOKEN_ID_BOUND for offer in offers)
    assert {offer.pk: offer.token_id for offer in offers} == stored
