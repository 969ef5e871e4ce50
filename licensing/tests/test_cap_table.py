"""The cap table: ownership shares allocated per holder until they are minted, fixed from the
moment a share mint is queued in the outbox (and again editable if that mint failed)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from chain.choices import OfferKind, TxStatus
from licensing.choices import PublishStepKind
from licensing.models import ShareAllocation
from licensing.services import tokenomics as services
from licensing.tests import factories
from licensing.tests.admin_forms import admin_url, error_codes, error_text, form_errors

UINT128 = 2**128


def _post(client, store, url=None, **values):
    client.force_login(store.owner)
    data = {"model": store.model.pk, "holder": factories.address(), "label": "", "amount": "100"}
    return client.post(url or admin_url(ShareAllocation), {**data, **values})


@pytest.fixture
def line(store):
    return services.share_allocation_create(
        model=store.model, holder=factories.address(), label="Founder", amount=600
    )


@pytest.fixture
def minted(store, line):
    """The share mint is queued in the outbox: the cap table is fixed."""
    return factories.publish_step_of(store.model, PublishStepKind.SHARES)


def test_an_owner_allocates_shares(client, store):
    response = _post(client, store, label="Seed fund", amount="400")

    assert response.status_code == 302, form_errors(response)
    row = ShareAllocation.objects.get()
    assert row.amount == 400
    assert row.history.get().history_user == store.owner


def test_a_line_cannot_be_added_once_minted(client, store, minted):
    response = _post(client, store)

    assert error_codes(response, "__all__") == ["cap_table_fixed"]
    assert "the cap table is fixed" in error_text(response, "__all__")
    assert ShareAllocation.objects.count() == 1


def test_a_line_cannot_be_changed_once_minted(client, store, line, minted):
    url = admin_url(ShareAllocation, "change", line.pk)
    history = line.history.count()

    response = _post(client, store, url, holder=line.holder, label="Founder", amount="700")

    assert error_codes(response, "__all__") == ["cap_table_fixed"]
    line.refresh_from_db()
    assert line.amount == 600
    assert line.history.count() == history


def test_a_line_cannot_be_deleted_once_minted(client, store, line, minted):
    client.force_login(store.owner)

    response = client.post(
        admin_url(ShareAllocation, "delete", line.pk), {"post": "yes"}, follow=True
    )

    assert ShareAllocation.objects.filter(pk=line.pk).exists()
    assert "Not deleted" in response.content.decode()
    assert "cap table is fixed" in response.content.decode()


def test_delete_selected_refuses_minted_lines(client, store, line, minted):
    client.force_login(store.owner)
    data = {"action": "delete_selected", "_selected_action": [line.pk], "post": "yes"}

    response = client.post(admin_url(ShareAllocation, "changelist"), data, follow=True)

    assert ShareAllocation.objects.filter(pk=line.pk).exists()
    assert "cap table is fixed" in response.content.decode()


def test_a_failed_mint_leaves_the_cap_table_editable(client, store, line):
    factories.publish_step_of(store.model, PublishStepKind.SHARES, status=TxStatus.FAILED)
    url = admin_url(ShareAllocation, "change", line.pk)

    response = _post(client, store, url, holder=line.holder, label="Founder", amount="700")

    assert response.status_code == 302, form_errors(response)
    line.refresh_from_db()
    assert line.amount == 700


def test_a_minted_line_cannot_move_to_another_model(store, line, minted):
    line.model = factories.model_of(store.org, "Shop", "fresh")

    with pytest.raises(ValidationError, match="cap table is fixed"):
        services.share_allocation_save(allocation=line)


def test_the_model_of_a_line_is_read_only_on_its_page(client, store, line):
    client.force_login(store.owner)

    form = client.get(admin_url(ShareAllocation, "change", line.pk)).context["adminform"].form

    assert "model" not in form.fields


@pytest.mark.parametrize(
    ("values", "field", "code"),
    [
        ({"holder": factories.ZERO}, "holder", "zero_address"),
        ({"amount": "0"}, "amount", "share_amount_out_of_range"),
        ({"amount": str(UINT128)}, "amount", "share_amount_out_of_range"),
    ],
)
def test_a_line_rule_shows_on_its_field(client, store, values, field, code):
    response = _post(client, store, **values)

    assert error_codes(response, field) == [code]
    assert not ShareAllocation.objects.exists()


def test_the_cap_table_fits_the_shares_offer(client, store, line):
    services.offer_create(
        model=store.model, network=store.network, kind=OfferKind.SHARES, tier_name="Shares",
        max_supply=1_000,
    )  # fmt: skip

    refused = _post(client, store, amount="401")
    kept = _post(client, store, amount="400")

    assert error_codes(refused, "amount") == ["cap_table_over_max_supply"]
    assert "1001 shares" in error_text(refused, "amount")
    assert kept.status_code == 302, form_errors(kept)


def test_one_holder_is_one_line_whatever_its_case(client, store, line):
    response = _post(client, store, holder=line.holder.lower())

    assert error_codes(response, "__all__") == ["unique_together"]


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"amount": 0}, "share_allocation_amount"),
        ({"amount": UINT128}, "share_allocation_amount"),
        ({"holder": factories.ZERO}, "share_allocation_not_zero"),
    ],
)
def test_cap_table_constraints_hold_without_the_service(store, fields, constraint):
    row = ShareAllocation(
        model=store.model, **{"holder": factories.address(), "amount": 1, **fields}
    )

    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        row.save()
