"""Audit of the tokenomics admins: every change made through them keeps who made it and the
before and after (django-simple-history), readable on each row's history page, and only by the
staff of the row's organization."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext

from licensing.models import (
    Contributor,
    Currency,
    LicenseOperation,
    LicenseTerms,
    ModelTokenomics,
    Offer,
    Payee,
    ShareAllocation,
)
from licensing.tests import factories
from licensing.tests.admin_forms import admin_url, change_data
from portal.choices import Role

EDITS = [
    pytest.param(ModelTokenomics, factories.tokenomics_row, "metadata_uri", "Metadata uri",
                 id="tokenomics"),
    pytest.param(Offer, factories.offer_row, "tier_name", "Tier name", id="offer"),
    pytest.param(Payee, factories.payee_row, "label", "Label", id="payee"),
    pytest.param(Contributor, factories.contributor_row, "name", "Name", id="contributor"),
    pytest.param(ShareAllocation, factories.share_allocation_row, "label", "Label",
                 id="cap-table-line"),
    pytest.param(LicenseTerms, factories.terms_row, "name", "Name", id="terms"),
    pytest.param(LicenseOperation, factories.license_operation_row, "note", "Note",
                 id="license-operation"),
]  # fmt: skip


def _edit(client, user, row, field, value):
    model_admin = admin.site._registry[type(row)]
    data = change_data(model_admin, row, user)
    before = data.get(field, "")
    data[field] = value
    client.force_login(user)
    response = client.post(admin_url(type(row), "change", row.pk), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    return before


@pytest.mark.parametrize(("model", "factory", "field", "label"), EDITS)
def test_a_change_keeps_who_and_the_before_and_after(
    client, org_a, make_staff, model, factory, field, label
):
    row = factory(org_a, "Alpha")
    owner = make_staff(org_a, Role.OWNER)

    before = _edit(client, owner, row, field, "after the edit")

    record = row.history.latest()
    assert record.history_type == "~"
    assert record.history_user == owner
    delta = record.diff_against(record.prev_record)
    assert [(c.field, c.old, c.new) for c in delta.changes] == [(field, before, "after the edit")]

    page = client.get(admin_url(model, "history", row.pk))
    body = page.content.decode()
    assert page.status_code == 200
    assert "What changed" in body
    assert f"{label}: {before or '—'} → after the edit" in body
    assert owner.email in body
    assert "/admin/auth/user/" not in body  # staff cannot open the user admin


@pytest.mark.parametrize(("model", "factory", "field", "label"), EDITS)
def test_another_organizations_history_answers_404(
    client, org_a, org_b, make_staff, model, factory, field, label
):
    theirs = factory(org_b, "Beta")
    record = theirs.history.earliest()
    client.force_login(make_staff(org_a, Role.OWNER))

    assert client.get(admin_url(model, "history", theirs.pk)).status_code == 404
    revert = admin_url(model, "simple_history", theirs.pk, record.pk)
    assert client.get(revert).status_code == 404
    assert client.post(revert, {}).status_code == 404


def test_a_deleted_rows_history_stays_with_its_organization(client, org_a, org_b, make_staff):
    payee = factories.payee_row(org_a, "Alpha")
    owner = make_staff(org_a, Role.OWNER)
    client.force_login(owner)
    client.post(admin_url(Payee, "delete", payee.pk), {"post": "yes"})
    url = admin_url(Payee, "history", payee.pk)

    own = client.get(url)
    client.force_login(make_staff(org_b, Role.OWNER))
    other = client.get(url)

    assert own.status_code == 200
    assert "deleted" in own.content.decode()
    assert other.status_code == 404


def test_a_price_change_reads_in_currency_units(client, org_a, make_staff):
    offer = factories.offer_row(org_a, "Alpha")
    owner = make_staff(org_a, Role.OWNER)

    _edit(client, owner, offer, "price_amount", "0.06")

    body = client.get(admin_url(Offer, "history", offer.pk)).content.decode()
    assert "Price: 0.05 ETH → 0.06 ETH" in body


def test_choices_and_relations_read_by_name(client, org_a, make_staff):
    offer = factories.offer_row(org_a, "Alpha")
    usdc = Currency.objects.create(
        network=offer.network, symbol="USDC", address="0x" + "5c" * 20, decimals=6
    )
    owner = make_staff(org_a, Role.OWNER)

    _edit(client, owner, offer, "currency", str(usdc.pk))

    body = client.get(admin_url(Offer, "history", offer.pk)).content.decode()
    assert "Currency: ETH on matrix → USDC on matrix" in body
    assert "Price: 0.05 ETH → 0.05 USDC" in body  # the same number, read in each currency


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def test_the_history_page_costs_the_same_for_few_and_many_records(client, org_a, make_staff):
    payee = factories.payee_row(org_a, "Alpha")
    owner = make_staff(org_a, Role.OWNER)
    url = admin_url(Payee, "history", payee.pk)
    for index in range(3):
        _edit(client, owner, payee, "label", f"label {index}")
    _queries(client, url)  # warm caches (content types)
    few = _queries(client, url)
    for index in range(20):
        _edit(client, owner, payee, "label", f"more {index}")

    assert _queries(client, url) == few


def test_a_record_page_is_read_only_and_shows_the_offer_in_words(client, org_a, make_staff):
    offer = factories.offer_row(org_a, "Alpha")
    owner = make_staff(org_a, Role.OWNER)
    _edit(client, owner, offer, "tier_name", "Renamed")
    first = offer.history.earliest()
    url = admin_url(Offer, "simple_history", offer.pk, first.pk)

    page = client.get(url)
    posted = client.post(url, {"tier_name": "Reverted"})

    body = page.content.decode()
    assert page.status_code == 200
    assert "0.05 ETH" in body
    assert "30 days" not in body  # a license tier: perpetual
    assert "perpetual" in body
    assert 'name="_save"' not in body
    assert posted.status_code == 403
    assert Offer.objects.get(pk=offer.pk).tier_name == "Renamed"
