"""Roles in the tokenomics admins: viewers see every page and change nothing; managers edit
offers, contributors and a model's tokenomics (but not the contributors' part of its split);
owners also manage payees and the cap table. And what their lists cost."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test.utils import CaptureQueriesContext

from licensing.models import Contributor, ModelTokenomics, Offer, Payee, ShareAllocation
from licensing.tests import factories
from licensing.tests.admin_forms import admin_url, change_data, error_codes
from portal.choices import Role

# (model, its row factory, a text field to edit, the weakest role that writes it)
ADMINS = [
    (ModelTokenomics, factories.tokenomics_row, "metadata_uri", Role.MANAGER),
    (Offer, factories.offer_row, "tier_name", Role.MANAGER),
    (Contributor, factories.contributor_row, "name", Role.MANAGER),
    (Payee, factories.payee_row, "label", Role.OWNER),
    (ShareAllocation, factories.share_allocation_row, "label", Role.OWNER),
]
CASES = [
    pytest.param(model, factory, field, role, role in Role.at_least(weakest),
                 id=f"{model.__name__}-{role}")
    for model, factory, field, weakest in ADMINS
    for role in (Role.VIEWER, Role.MANAGER, Role.OWNER)
]  # fmt: skip


@pytest.mark.parametrize(("model", "factory", "field", "role", "writes"), CASES)
def test_role_decides_what_staff_may_do(
    client, org_a, make_staff, model, factory, field, role, writes
):
    row = factory(org_a, "Alpha")
    model_admin = admin.site._registry[model]
    data = change_data(model_admin, row, make_staff(org_a, Role.OWNER))
    data[field] = "edited by a member"
    client.force_login(make_staff(org_a, role))

    listed = client.get(admin_url(model, "changelist"))
    page = client.get(admin_url(model, "change", row.pk))
    add = client.get(admin_url(model, "add"))
    saved = client.post(admin_url(model, "change", row.pk), data)
    deleting = client.get(admin_url(model, "delete", row.pk))

    assert listed.status_code == 200
    assert page.status_code == 200
    assert ('name="_save"' in page.content.decode()) is writes
    assert add.status_code == (200 if writes else 403)
    assert saved.status_code == (302 if writes else 403)
    deletable = writes and model is not ModelTokenomics  # the model's chain id stays
    assert deleting.status_code == (200 if deletable else 403)
    row.refresh_from_db()
    assert (getattr(row, field) == "edited by a member") is writes


@pytest.mark.parametrize(("model", "factory", "field", "role", "writes"), CASES)
def test_actions_follow_the_role(client, org_a, make_staff, model, factory, field, role, writes):
    row = factory(org_a, "Alpha")
    client.force_login(make_staff(org_a, role))
    data = {"action": "delete_selected", ACTION_CHECKBOX_NAME: [row.pk]}

    client.post(admin_url(model, "changelist"), data)
    shown = client.get(admin_url(model, "changelist")).content.decode()

    assert ('value="delete_selected"' in shown) is (writes and model is not ModelTokenomics)
    assert model.objects.filter(pk=row.pk).exists()  # the first step only asks


def _tokenomics_page(client, user, tokenomics):
    client.force_login(user)
    return client.get(admin_url(ModelTokenomics, "change", tokenomics.pk))


def test_the_contributors_part_is_read_only_for_managers(client, org_a, make_staff):
    tokenomics = factories.tokenomics_row(org_a, "Alpha")
    owner, manager = make_staff(org_a, Role.OWNER), make_staff(org_a, Role.MANAGER)

    owners_form = _tokenomics_page(client, owner, tokenomics).context["adminform"].form
    managers_form = _tokenomics_page(client, manager, tokenomics).context["adminform"].form
    data = {"metadata_uri": "ipfs://new", "contributors_bps": "2000"}
    client.post(admin_url(ModelTokenomics, "change", tokenomics.pk), data)

    assert "contributors_bps" in owners_form.fields
    assert "contributors_bps" not in managers_form.fields
    tokenomics.refresh_from_db()
    assert tokenomics.metadata_uri == "ipfs://new"  # the manager's part of the change
    assert tokenomics.contributors_bps == 0


def test_a_manager_cannot_set_the_contributors_part_from_the_add_form(client, org_a, make_staff):
    model = factories.model_of(org_a, "Alpha", "new")
    client.force_login(make_staff(org_a, Role.MANAGER))

    data = {"model": model.pk, "metadata_uri": "", "contributors_bps": "2000"}
    response = client.post(admin_url(ModelTokenomics), data)

    assert error_codes(response, "contributors_bps") == ["owner_only"]
    assert not ModelTokenomics.objects.filter(model=model).exists()


def test_an_owner_sets_the_contributors_part(client, org_a, make_staff):
    tokenomics = factories.tokenomics_row(org_a, "Alpha")
    client.force_login(make_staff(org_a, Role.OWNER))

    data = {"metadata_uri": "", "contributors_bps": "2000"}
    response = client.post(admin_url(ModelTokenomics, "change", tokenomics.pk), data)

    assert response.status_code == 302
    tokenomics.refresh_from_db()
    assert tokenomics.contributors_bps == 2_000


def _count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize(
    ("model", "make"),
    [
        (ModelTokenomics, lambda org, index: factories.tokenomics_row(org, f"M{index}")),
        (Offer, lambda org, index: factories.offer_for(org, "A", f"tier {index}")),
        (Payee, lambda org, index: factories.payee_row(org, f"M{index}")),
        (Contributor, lambda org, index: factories.contributor_row(org, f"M{index}")),
        (ShareAllocation, lambda org, index: factories.share_allocation_row(org, "A")),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_a_list_costs_the_same_queries_for_2_or_12_rows(client, org_a, make_staff, model, make):
    client.force_login(make_staff(org_a, Role.VIEWER))
    url = admin_url(model, "changelist")
    for index in range(2):
        make(org_a, index)
    _count_queries(client, url)
    few = _count_queries(client, url)
    for index in range(2, 12):
        row = make(org_a, index)
        if model is Offer and index % 2:
            factories.chain_offer_of(row)  # published ones show their pending diff

    assert _count_queries(client, url) == few
