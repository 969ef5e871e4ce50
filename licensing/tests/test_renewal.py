"""Renewal rules on anvil: renewing early adds to the remaining time, a renewal after a price or
terms change shows what changed, a lower price never blocks a renewal, and a failed one says
why in words."""

from __future__ import annotations

from types import SimpleNamespace

from django.urls import reverse

from chain.choices import OfferKind
from chain.testing.market import DAY, LICENSE_NATIVE, MODEL, expect_revert
from licensing.admin.operations import operation_add_url
from licensing.models import License, LicenseTerms, Offer
from licensing.reasons import explain
from licensing.selectors import LOWER_PRICE_NEVER_BLOCKS, renewal_preview, renewal_summary

PRICE = 10**16  # the market's 30-day license, in wei
ETH = SimpleNamespace(symbol="ETH", decimals=18)


def _reprice(env, price: int, terms: bytes | None = None) -> None:
    fields = {"duration": 30 * DAY, "transferable": True}
    if terms is not None:
        fields["terms"] = terms
    config = env.offer(MODEL, OfferKind.LICENSE, price, **fields)
    env.send(env.token.functions.configureOffer(LICENSE_NATIVE, config), env.acct.publisher)


def _renew(env, buyer, *, max_price: int, pay: int):
    return env.send(env.token.functions.purchase(LICENSE_NATIVE, 1, max_price), buyer, value=pay)


def test_a_lower_price_never_blocks_a_renewal_and_a_higher_one_is_explained(market):
    env, alice = market, market.acct.alice
    _renew(env, alice, max_price=PRICE, pay=PRICE)
    expiry = env.token.functions.expiresAt(LICENSE_NATIVE, alice).call()

    # the price dropped: the renewal quoted at the old price goes through, at the new price
    _reprice(env, PRICE // 2)
    receipt = _renew(env, alice, max_price=PRICE, pay=PRICE // 2)
    (bought,) = env.events(env.token, receipt, "Purchased")
    assert bought["paid"] == PRICE // 2
    assert bought["newExpiry"] == expiry + 30 * DAY  # early: added to the remaining time

    # the price rose above the quote: refused, and the reason reads as a sentence
    _reprice(env, 2 * PRICE)
    decoded = expect_revert(
        lambda: _renew(env, alice, max_price=PRICE, pay=2 * PRICE), "PriceAboveMax"
    )
    sentence = explain(decoded, currency=ETH)
    assert sentence.startswith("The price went up from 0.01 ETH to 0.02 ETH since the quote")
    assert "Reload" in sentence
    assert env.token.functions.expiresAt(LICENSE_NATIVE, alice).call() == expiry + 30 * DAY


def test_the_preview_shows_what_changed_and_what_a_renewal_gives(shop):
    env, alice = shop.env, shop.env.acct.alice
    _renew(env, alice, max_price=PRICE, pay=PRICE)
    env.advance(10 * DAY)
    # the publisher lowers the price and moves the offer to new terms
    v2 = LicenseTerms.objects.create(
        organization=shop.organization,
        name="Standard",
        version=2,
        lineage=shop.terms.lineage,
        transferable=True,
        content_hash="0x" + "22" * 32,
    )
    Offer.objects.filter(pk=shop.offers[LICENSE_NATIVE].pk).update(terms=v2)
    _reprice(env, PRICE // 2, terms=bytes.fromhex("22" * 32))
    shop.sync()
    license_row = License.objects.get(token_id=LICENSE_NATIVE, holder=alice)
    now = env.now()

    preview = renewal_preview(license=license_row, now=now)

    on_chain = env.token.functions.expiresAt(LICENSE_NATIVE, alice).call()
    assert preview.current_expiry == on_chain
    assert preview.remaining == on_chain - now > 0
    assert preview.renewal_start == on_chain  # early: counted from the current expiry
    assert preview.renewal_expiry == on_chain + 30 * DAY
    assert preview.price_change == "down"
    assert preview.terms_changed
    assert preview.changes == [
        "The price went down from 0.01 ETH to 0.005 ETH per unit since the last purchase.",
        "The license terms changed from Standard v1 to Standard v2: a renewal accepts the new "
        "terms.",
    ]
    assert LOWER_PRICE_NEVER_BLOCKS in renewal_summary(preview)

    # and the renewal, quoted at the old price, does what the preview said
    _renew(env, alice, max_price=PRICE, pay=PRICE // 2)
    shop.sync()
    license_row.refresh_from_db()
    assert license_row.expires_at == preview.renewal_expiry
    assert renewal_preview(license=license_row).changes == []  # bought at today's terms


def test_after_expiry_a_renewal_counts_from_now(shop):
    env, alice = shop.env, shop.env.acct.alice
    _renew(env, alice, max_price=PRICE, pay=PRICE)
    shop.sync()
    env.advance(31 * DAY)
    now = env.now()

    preview = renewal_preview(license=License.objects.get(holder=alice), now=now)

    assert preview.remaining == 0
    assert (preview.renewal_start, preview.renewal_expiry) == (now, now + 30 * DAY)
    assert preview.changes == []
    assert "It has ended" in renewal_summary(preview)[1]


def test_the_prefilled_operation_form_shows_the_holders_license(client, shop):
    env, alice = shop.env, shop.env.acct.alice
    _renew(env, alice, max_price=PRICE, pay=PRICE)
    shop.sync()
    client.force_login(shop.manager)
    offer = shop.offers[LICENSE_NATIVE]

    page = client.get(operation_add_url(offer=offer, holder=alice, kind="extend"))
    nobody = client.get(operation_add_url(offer=offer, holder=env.acct.bob, kind="grant"))
    plain = client.get(reverse("admin:licensing_licenseoperation_add"))

    assert "Renewing one unit now adds to the remaining time" in page.content.decode()
    assert "holds no license" in nobody.content.decode()
    assert 'id="holder-now"' not in plain.content.decode()
