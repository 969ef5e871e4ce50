"""Revenue splits: the platform's fee, the payees and the contributors' part share at most 100% of
each payment (in the forms, and as the ModelTokenomics check constraint), the vault pays at most
10 accounts per model, and nobody pays the zero address."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from licensing.models import ModelTokenomics, Payee
from licensing.services import tokenomics as services
from licensing.tests import factories
from licensing.tests.admin_forms import admin_url, error_codes, error_text, form_errors

FEE = 1_000  # chain.plan.MAX_PLATFORM_FEE_BPS: every new model's platform fee


def _post_payee(client, store, *, bps, address=None, label="Studio", user=None):
    client.force_login(user or store.owner)
    data = {
        "model": store.model.pk,
        "label": label,
        "address": address or factories.address(),
        "bps": str(bps),
    }
    return client.post(admin_url(Payee), data)


def _payee(store, bps: int, label: str = "A") -> Payee:
    account = factories.address()
    return services.payee_create(model=store.model, address=account, label=label, bps=bps)


def _tokenomics(store) -> ModelTokenomics:
    return services.tokenomics_for(model=store.model)


def test_a_payee_within_the_bound_is_saved_and_summed(client, store):
    response = _post_payee(client, store, bps=2_500)

    assert response.status_code == 302, form_errors(response)
    payee = Payee.objects.get()
    assert payee.history.get().history_user == store.owner
    assert _tokenomics(store).payees_bps == 2_500


def test_payees_over_the_bound_are_refused_on_the_share(client, store):
    _payee(store, 8_000)

    response = _post_payee(client, store, bps=1_001)

    assert error_codes(response, "bps") == ["split_over_100pct"]
    text = error_text(response, "bps")
    assert "platform may take up to 10.00%" in text
    assert "at most 90.00%" in text
    assert "gives them 90.01%" in text
    assert Payee.objects.count() == 1
    assert _tokenomics(store).payees_bps == 8_000


def test_payees_up_to_the_bound_exactly(client, store):
    _payee(store, 8_000)

    assert _post_payee(client, store, bps=1_000).status_code == 302
    assert _tokenomics(store).payees_bps == 10_000 - FEE


def test_the_contributors_part_counts_against_the_payees(client, store):
    tokenomics = _tokenomics(store)
    tokenomics.contributors_bps = 3_000
    services.tokenomics_save(tokenomics=tokenomics)

    response = _post_payee(client, store, bps=6_001)

    assert error_codes(response, "bps") == ["split_over_100pct"]
    assert "contributors 30.00%" in error_text(response, "bps")


def test_the_contributors_part_is_refused_over_the_bound(client, store):
    _payee(store, 6_000)
    tokenomics = _tokenomics(store)
    history = tokenomics.history.count()
    client.force_login(store.owner)
    url = admin_url(ModelTokenomics, "change", tokenomics.pk)

    response = client.post(url, {"metadata_uri": "", "contributors_bps": "3001"})

    assert error_codes(response, "contributors_bps") == ["split_over_100pct"]
    tokenomics.refresh_from_db()
    assert tokenomics.contributors_bps == 0
    assert tokenomics.history.count() == history


def test_changing_a_payee_counts_its_new_share_once(client, store):
    payee = _payee(store, 9_000)
    client.force_login(store.owner)
    url = admin_url(Payee, "change", payee.pk)

    response = client.post(url, {"label": "A", "address": payee.address, "bps": "8000"})

    assert response.status_code == 302, form_errors(response)
    assert _tokenomics(store).payees_bps == 8_000


def test_deleting_a_payee_frees_its_share(client, store):
    payee = _payee(store, 9_000)
    client.force_login(store.owner)

    client.post(admin_url(Payee, "delete", payee.pk), {"post": "yes"})

    assert not Payee.objects.exists()
    assert _tokenomics(store).payees_bps == 0
    assert payee.history.filter(history_type="-").get().history_user == store.owner


@pytest.mark.parametrize("bps", [0, 10_001])
def test_a_share_outside_basis_points(client, store, bps):
    response = _post_payee(client, store, bps=bps)

    assert "bps_out_of_range" in error_codes(response, "bps")
    assert not Payee.objects.exists()


def test_the_zero_address_is_not_paid(client, store):
    response = _post_payee(client, store, bps=100, address=factories.ZERO)

    assert error_codes(response, "address") == ["zero_address"]
    assert not Payee.objects.exists()


def test_one_account_is_one_payee_whatever_its_case(client, store):
    account = factories.address()  # lowercase
    services.payee_create(model=store.model, address=account, label="A", bps=100)

    response = _post_payee(client, store, bps=100, address=account.upper().replace("0X", "0x"))

    assert error_codes(response, "__all__") == ["unique_together"]
    assert Payee.objects.get().address == factories.checksum(account)


def test_more_than_ten_onchain_payees(client, store):
    for index in range(10):
        _payee(store, 10, f"P{index}")

    response = _post_payee(client, store, bps=10)

    assert error_codes(response, "__all__") == ["too_many_payees"]
    assert "at most 10 accounts" in error_text(response, "__all__")
    assert Payee.objects.count() == 10


def test_the_current_versions_contributors_count_as_payees(client, store, estimator_bytes):
    version = factories.ready_version_of(store.model, estimator_bytes)
    for _ in range(2):
        services.contributor_create(
            version=version, address=factories.address(), role="data", share_bps=1_000
        )
    for index in range(8):
        _payee(store, 10, f"P{index}")

    response = _post_payee(client, store, bps=10)

    assert error_codes(response, "__all__") == ["too_many_payees"]
    assert services.onchain_payee_count(store.model) == 10


# --- as database constraints ---


def test_the_split_bound_is_a_constraint(store):
    tokenomics = _tokenomics(store)
    tokenomics.payees_bps, tokenomics.contributors_bps = 5_000, 4_001

    with pytest.raises(IntegrityError), transaction.atomic():
        tokenomics.save()


def test_the_split_constraint_allows_exactly_100_percent(store):
    tokenomics = _tokenomics(store)
    tokenomics.payees_bps, tokenomics.contributors_bps = 5_000, 4_000

    tokenomics.save()

    assert ModelTokenomics.objects.get(pk=tokenomics.pk).contributors_bps == 4_000


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"bps": 0}, "payee_bps_range"),
        ({"bps": 10_001}, "payee_bps_range"),
        ({"address": factories.ZERO}, "payee_not_zero"),
    ],
)
def test_payee_constraints_hold_without_the_service(store, fields, constraint):
    values = {"address": factories.address(), "bps": 1, **fields}
    payee = Payee(model=store.model, label="raw", **values)

    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        payee.save()
