"""Chain state in the admin: an organization's staff see the customers of its models (licenses,
holdings, credits, sales, payments and what each paid whom), read-only, with amounts in currency
units; rows of models not configured here are for superusers only."""

from __future__ import annotations

import secrets
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chain.choices import OfferKind
from chain.models import Network
from chain.paginators import CappedCountPaginator
from licensing.choices import LedgerKind
from licensing.models import (
    ChainModel,
    ChainOffer,
    ChainPayees,
    CreditEntry,
    Currency,
    Holding,
    License,
    Payment,
    PublishedVersion,
    Sale,
    VaultEntry,
)
from licensing.services import tokenomics as services
from licensing.tests import factories
from licensing.tests.admin_forms import admin_url
from portal.choices import Role

PROJECTIONS = [
    ChainModel, PublishedVersion, ChainOffer, License, Holding, CreditEntry, Sale, Payment,
    VaultEntry, ChainPayees,
]  # fmt: skip


def _license(offer, *, holder=None, expires_at=factories.EXPIRES_AT, revoked=False) -> License:
    return License.objects.create(
        network=offer.network,
        token_address=factories.TOKEN_ADDRESS,
        token_id=offer.token_id,
        holder=holder or factories.checksum(factories.address()),
        expires_at=expires_at,
        revoked=revoked,
        block_number=7,
    )


@pytest.fixture
def pass_offer(store):
    return factories.offer_of(store.model, kind=OfferKind.ACCESS_PASS, tier="Monthly")


def _changelist(client, user, admin_model, **query):
    client.force_login(user)
    response = client.get(admin_url(admin_model, "changelist"), query)
    assert response.status_code == 200
    return response


def _rows(response):
    return list(response.context["cl"].result_list)


def test_staff_see_who_holds_what_until_when(client, store, pass_offer):
    now = int(time.time())
    valid = _license(pass_offer)
    expired = _license(pass_offer, expires_at=now - 60)
    revoked = _license(pass_offer, revoked=True)

    response = _changelist(client, store.viewer, License)

    body = response.content.decode()
    assert set(_rows(response)) == {valid, expired, revoked}
    assert valid.holder in body
    assert "Monthly" in body
    assert store.model.name in body
    assert "2027-01-31" in body
    statuses = {row.pk: response.context["cl"].model_admin.status(row) for row in _rows(response)}
    assert statuses == {valid.pk: "valid", expired.pk: "expired", revoked.pk: "revoked"}
    filtered = _changelist(client, store.viewer, License, status="expired")
    assert _rows(filtered) == [expired]


@pytest.mark.parametrize("model", PROJECTIONS, ids=lambda m: m.__name__)
def test_projections_are_read_only_for_everyone(client, org_a, make_staff, model):
    row = factories.__dict__[f"{_snake(model.__name__)}_row"](org_a, "Alpha")
    for user in (make_staff(org_a, Role.OWNER), make_staff(superuser=True)):
        client.force_login(user)
        page = client.get(admin_url(model, "change", row.pk))
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()
        assert client.get(admin_url(model, "add")).status_code == 403
        assert client.post(admin_url(model, "change", row.pk), {}).status_code == 403
        assert client.post(admin_url(model, "delete", row.pk), {"post": "yes"}).status_code == 403
        assert model.objects.filter(pk=row.pk).exists()
        listed = client.get(admin_url(model, "changelist"))
        assert isinstance(listed.context["cl"].paginator, CappedCountPaginator)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def test_rows_of_models_not_configured_here_are_for_superusers(client, store, make_staff):
    stranger = "0x" + secrets.token_hex(32)
    row = ChainModel.objects.create(
        event=factories.event_row(store.network, "ModelRegistered", contract="ModelRegistry"),
        network=store.network,
        model_id=stranger,
        publisher=factories.address(),
    )
    unknown_offer = License.objects.create(
        network=store.network,
        token_address=factories.TOKEN_ADDRESS,
        token_id=123,
        holder=factories.address(),
        expires_at=0,
        block_number=7,
    )
    superuser = make_staff(superuser=True)

    assert _rows(_changelist(client, store.owner, ChainModel)) == []
    assert _rows(_changelist(client, store.owner, License)) == []
    assert _rows(_changelist(client, superuser, ChainModel)) == [row]
    assert _rows(_changelist(client, superuser, License)) == [unknown_offer]
    client.force_login(store.owner)
    assert client.get(admin_url(License, "change", unknown_offer.pk)).status_code == 404


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ({"q": "Monthly"}, True),  # the offer's tier, across the (network, token id) join
        ({"q": "Shop churn"}, True),  # the model's name, two joins further
        ({"q": "nothing like it"}, False),
        ({"o": "2"}, True),  # ordered by the offer's tier
        ({"o": "-3"}, True),  # by the model's name
        ({"o": "4"}, True),  # by expiry
    ],
)
def test_search_and_ordering_across_the_joins(client, store, pass_offer, query, found):
    row = _license(pass_offer)
    query = query if "o" not in query else {**query}

    response = _changelist(client, store.viewer, License, **query)

    assert _rows(response) == ([row] if found else [])


def test_search_by_holder_address(client, store, pass_offer):
    row = _license(pass_offer)
    _license(pass_offer)

    assert _rows(_changelist(client, store.viewer, License, q=row.holder)) == [row]


def _offer_on(network, model):
    currency = Currency.objects.create(network=network, symbol="ETH", decimals=18)
    return services.offer_create(
        model=model, network=network, kind=OfferKind.LICENSE, tier_name=f"On {network.name}",
        price=1, currency=currency, terms=factories.plain_terms_row(model.organization, "T"),
    )  # fmt: skip


def test_network_filter_lists_only_networks_with_own_rows(client, store, pass_offer, org_b):
    _license(pass_offer)
    second = _license(
        _offer_on(Network.objects.create(name="second", chain_id=990_008), store.model)
    )
    beta = Network.objects.create(name="beta-leak-net", chain_id=990_009)
    _license(_offer_on(beta, factories.model_of(org_b, "Beta", "x")))

    response = _changelist(client, store.viewer, License)

    body = response.content.decode()
    assert f"network={store.network.pk}" in body
    assert f"network={second.network_id}" in body
    assert f"network={beta.pk}" not in body
    assert "beta-leak-net" not in body
    filtered = _changelist(client, store.viewer, License, network=second.network_id)
    assert _rows(filtered) == [second]


def _count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("model", [License, Holding, Sale, Payment, VaultEntry, ChainOffer])
def test_a_page_costs_the_same_queries_for_2_or_20_rows(client, store, model):
    """``list_select_related`` follows the ForeignObject joins; currencies are read once."""
    make = factories.__dict__[f"{_snake(model.__name__)}_row"]
    client.force_login(store.viewer)
    url = admin_url(model, "changelist")
    for _ in range(2):
        make(store.org, "Alpha")
    _count_queries(client, url)
    few = _count_queries(client, url)
    for _ in range(18):
        make(store.org, "Alpha")

    assert _count_queries(client, url) == few


def test_payment_shows_amounts_in_currency_units_and_what_it_paid_whom(client, store):
    listing = services.tokenomics_for(model=store.model)
    studio = factories.checksum(factories.address())
    services.payee_create(model=store.model, address=studio, label="Studio", bps=1_000)
    first = factories.payment_of(listing, amount=10**18, payee=studio)
    client.force_login(store.viewer)

    listed = _changelist(client, store.viewer, Payment).content.decode()
    page = client.get(admin_url(Payment, "change", first.pk)).content.decode()

    assert "1 ETH" in listed
    assert "0.05 ETH" in listed  # the platform's fee
    assert "0.85 ETH" in listed  # to share holders
    assert "What this payment paid whom" in page
    assert studio in page
    assert "payee: Studio" in page
    assert "the platform&#x27;s fee" in page
    assert "0.1 ETH" in page


def test_two_payments_in_one_transaction_keep_their_own_credits(store):
    from licensing.admin.projections import credited_entries

    listing = services.tokenomics_for(model=store.model)
    first = factories.payment_of(listing, amount=10**18)
    tx = first.event.tx_hash
    account = factories.address()
    credited = factories.event_row(
        store.network, "Credited", contract=factories.VAULT, tx_hash=tx, log_index=3
    )
    VaultEntry.objects.create(
        event=credited, network=store.network, account=account, currency=factories.ZERO,
        model_id=listing.chain_model_id, kind=LedgerKind.CREDITED, amount=7,
    )  # fmt: skip
    second = Payment.objects.create(
        event=factories.event_row(
            store.network, "PaymentSplit", contract=factories.VAULT, tx_hash=tx, log_index=4
        ),
        network=store.network, model_id=listing.chain_model_id, currency=factories.ZERO,
        amount=7, fee=0, to_payees=7, to_holders=0, to_residual=0,
    )  # fmt: skip

    assert [e.event.log_index for e in credited_entries(first)] == [0, 1]
    assert [e.account for e in credited_entries(second)] == [account]


def test_an_unknown_currency_shows_its_smallest_units(client, store):
    listing = services.tokenomics_for(model=store.model)
    row = VaultEntry.objects.create(
        event=factories.event_row(store.network, "Credited", contract=factories.VAULT),
        network=store.network, account=factories.address(), currency="0x" + "ab" * 20,
        model_id=listing.chain_model_id, kind=LedgerKind.CREDITED, amount=1234,
    )  # fmt: skip

    body = _changelist(client, store.viewer, VaultEntry).content.decode()

    assert _rows(_changelist(client, store.viewer, VaultEntry)) == [row]
    assert "1234 (smallest units of 0xabababab…)" in body


def test_usdc_amounts_read_in_usdc(client, store):
    offer = factories.offer_of(store.model, tier="USDC tier")
    row = Sale.objects.create(
        event=factories.event_row(store.network, "Purchased"),
        network=store.network, token_address=factories.TOKEN_ADDRESS, token_id=offer.token_id,
        model_id=services.tokenomics_for(model=store.model).chain_model_id,
        buyer=factories.address(), amount=1, paid=12_500_000, currency=store.usdc.address,
    )  # fmt: skip

    body = _changelist(client, store.viewer, Sale).content.decode()

    assert row.buyer in body
    assert "12.5 USDC" in body


def test_model_filter_offers_own_models_and_filters_across_the_join(client, store, org_b):
    first = _license(factories.offer_of(store.model, kind=OfferKind.ACCESS_PASS))
    second_model = factories.model_of(store.org, "Shop", "second")
    _license(factories.offer_of(second_model, kind=OfferKind.ACCESS_PASS))
    theirs = factories.model_of(org_b, "Beta-leak", "their")
    _license(factories.offer_of(theirs, kind=OfferKind.ACCESS_PASS))

    response = _changelist(client, store.viewer, License)
    filtered = _changelist(client, store.viewer, License, model=store.model.pk)
    not_ours = _changelist(client, store.viewer, License, model=theirs.pk)

    choices = dict(response.context["cl"].filter_specs[1].lookup_choices)
    assert choices == {store.model.pk: store.model.name, second_model.pk: second_model.name}
    assert _rows(filtered) == [first]
    assert _rows(not_ours) == []


def _unconfigured_rows(network):
    """One row of each projection naming a model and an offer that are not configured here."""
    model_id, token_id = "0x" + secrets.token_hex(32), 424242
    common = {"network": network}
    token = {**common, "token_address": factories.TOKEN_ADDRESS, "token_id": token_id}

    def event(name):
        return factories.event_row(network, name)

    return [
        ChainModel.objects.create(event=event("ModelRegistered"), model_id=model_id, **common),
        PublishedVersion.objects.create(
            event=event("VersionPublished"), model_id=model_id, version=1, **common
        ),
        ChainOffer.objects.create(
            model_id=model_id, kind=0, price=5, currency=factories.ZERO, duration=0,
            max_supply=0, transferable=False, active=True, block_number=1, **token,
        ),
        License.objects.create(holder=factories.address(), expires_at=0, block_number=1, **token),
        Holding.objects.create(holder=factories.address(), balance=1, **token),
        CreditEntry.objects.create(
            event=event("TransferSingle"), token_id=token_id, holder=factories.address(),
            delta=5, **common,
        ),
        Sale.objects.create(
            event=event("Purchased"), model_id=model_id, buyer=factories.address(), amount=1,
            paid=5, currency=factories.ZERO, **token,
        ),
        Payment.objects.create(
            event=event("PaymentSplit"), model_id=model_id, currency=factories.ZERO, amount=5,
            fee=0, to_payees=0, to_holders=0, residual_to=factories.address(), to_residual=5,
            **common,
        ),
        VaultEntry.objects.create(
            event=event("Credited"), account=factories.address(), currency=factories.ZERO,
            model_id=model_id, kind=LedgerKind.CREDITED, amount=5, **common,
        ),
    ]  # fmt: skip


def test_superusers_open_rows_of_models_configured_elsewhere(client, store, make_staff):
    rows = _unconfigured_rows(store.network)
    superuser = make_staff(superuser=True)

    for row in rows:
        model = type(row)
        client.force_login(superuser)
        assert client.get(admin_url(model, "changelist")).status_code == 200
        assert client.get(admin_url(model, "change", row.pk)).status_code == 200, model
        client.force_login(store.owner)
        assert client.get(admin_url(model, "change", row.pk)).status_code == 404, model


def test_the_vaults_payee_list_reads_in_percent(client, store):
    row = factories.chain_payees_row(store.org, "Alpha")
    client.force_login(store.viewer)

    page = client.get(admin_url(ChainPayees, "change", row.pk)).content.decode()

    assert all(account in page for account in row.accounts)
    assert "5.00%" in page
    assert "2.50%" in page
