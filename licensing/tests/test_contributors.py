"""Contributors: wallets credited on a model version with a role and a share of the contributors'
part; the shares of one version add up to at most 100%, and the latest published version's
contributors are paid by the vault beside the payees."""

from __future__ import annotations

import io

import pytest
from django.db import IntegrityError, transaction

from licensing.models import Contributor
from licensing.services import tokenomics as services
from licensing.tests import factories
from licensing.tests.admin_forms import admin_url, error_codes, error_text, form_errors
from models_hub import services as models_services


@pytest.fixture
def version(store):
    """A draft version (rejected by validation: contributors do not need a loadable one)."""
    return factories.contributor_row(store.org, "Shop").version


def _post(client, user, version, *, share, address=None, role="data"):
    client.force_login(user)
    data = {
        "version": version.pk,
        "address": address or factories.address(),
        "name": "Ada",
        "role": role,
        "share_bps": str(share),
    }
    return client.post(admin_url(Contributor), data)


def test_a_manager_credits_a_contributor(client, store, version):
    response = _post(client, store.manager, version, share=5_000)

    assert response.status_code == 302, form_errors(response)
    added = Contributor.objects.get(name="Ada")
    assert added.history.get().history_user == store.manager


def test_shares_of_one_version_add_up_to_at_most_100_percent(client, store, version):
    # the fixture's contributor has 25%
    response = _post(client, store.manager, version, share=7_501)

    assert error_codes(response, "share_bps") == ["contributor_shares_over_100pct"]
    assert "already share 25.00%" in error_text(response, "share_bps")
    assert "at most 75.00%" in error_text(response, "share_bps")
    assert not Contributor.objects.filter(name="Ada").exists()
    assert _post(client, store.manager, version, share=7_500).status_code == 302


def test_another_version_has_its_own_100_percent(client, store, version):
    other = models_services.version_upload(
        model=version.model, version="2.0.0", fileobj=io.BytesIO(b"x"), filename="m.joblib"
    )

    response = _post(client, store.manager, other, share=10_000)

    assert response.status_code == 302, form_errors(response)


def test_changing_a_share_counts_it_once(client, store, version):
    contributor = version.contributors.get()
    client.force_login(store.manager)
    data = {"address": contributor.address, "name": "", "role": "data", "share_bps": "10000"}

    response = client.post(admin_url(Contributor, "change", contributor.pk), data)

    assert response.status_code == 302, form_errors(response)
    assert version.contributors.get().share_bps == 10_000


@pytest.mark.parametrize("share", [0, 10_001])
def test_a_share_outside_basis_points(client, store, version, share):
    response = _post(client, store.manager, version, share=share)

    assert "bps_out_of_range" in error_codes(response, "share_bps")


def test_the_zero_address_is_not_credited(client, store, version):
    response = _post(client, store.manager, version, share=100, address=factories.ZERO)

    assert error_codes(response, "address") == ["zero_address"]
    assert version.contributors.count() == 1


def test_a_wallet_is_credited_once_per_version_whatever_its_case(client, store, version):
    existing = version.contributors.get().address  # stored checksummed

    response = _post(client, store.manager, version, share=100, address=existing.lower())

    assert error_codes(response, "__all__") == ["unique_together"]


def test_contributors_of_the_published_version_share_the_contributors_part(store, estimator_bytes):
    version = factories.ready_version_of(store.model, estimator_bytes)
    first, second = factories.address(), factories.address()
    services.contributor_create(version=version, address=first, role="author", share_bps=6_667)
    services.contributor_create(version=version, address=second, role="data", share_bps=3_333)
    tokenomics = services.tokenomics_for(model=store.model)
    tokenomics.contributors_bps = 2_000
    services.tokenomics_save(tokenomics=tokenomics)

    payees = dict(services.onchain_payees(store.model))

    # floor(2000 * 6667 / 10000) = 1333, floor(2000 * 3333 / 10000) = 666; the rest to holders
    assert payees == {factories.checksum(first): 1_333, factories.checksum(second): 666}


def test_a_draft_versions_contributors_are_not_paid_yet(store, version):
    tokenomics = services.tokenomics_for(model=store.model)
    tokenomics.contributors_bps = 2_000
    services.tokenomics_save(tokenomics=tokenomics)

    assert services.onchain_payees(version.model) == []


def test_contributors_of_the_current_version_are_bounded_with_the_payees(
    client, store, estimator_bytes
):
    version = factories.ready_version_of(store.model, estimator_bytes)
    for index in range(10):
        account = factories.address()
        services.payee_create(model=store.model, address=account, label=f"P{index}", bps=10)

    response = _post(client, store.manager, version, share=100)

    assert error_codes(response, "__all__") == ["too_many_payees"]


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"share_bps": 0}, "contributor_share_range"),
        ({"share_bps": 10_001}, "contributor_share_range"),
        ({"address": factories.ZERO}, "contributor_not_zero"),
    ],
)
def test_contributor_constraints_hold_without_the_service(version, fields, constraint):
    values = {"address": factories.address(), "share_bps": 1, "role": "data", **fields}
    row = Contributor(version=version, **values)

    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        row.save()
