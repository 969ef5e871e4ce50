"""Seats: an organization's owners put member wallets on the licenses its treasury holds, as
many as the terms give, through the service and the admin; each refusal says why."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from licensing.models import License, Seat
from licensing.services.seats import seat_add, seat_remove, seats_allowed, seats_of_wallet
from licensing.tests.admin_forms import form_errors
from licensing.tests.factories import address, checksum, treasury_license
from portal.choices import Role

ADD = reverse("admin:licensing_seat_add")


def _codes(error: ValidationError) -> set[str]:
    return {e.code for errors in error.error_dict.values() for e in errors}


def _refused(code: str, **kwargs) -> None:
    with pytest.raises(ValidationError) as caught:
        seat_add(**kwargs)
    assert code in _codes(caught.value)


# --- the service ---


def test_seats_fill_up_to_what_the_terms_give(org_a):
    license = treasury_license(org_a, "A", seats=2)
    assert seats_allowed(license) == 2
    first = seat_add(organization=org_a, license=license, wallet=checksum(address()))
    seat_add(organization=org_a, license=license, wallet=checksum(address()))

    _refused("seat_limit_reached", organization=org_a, license=license, wallet=checksum(address()))

    seat_remove(seat=first)
    seat_add(organization=org_a, license=license, wallet=checksum(address()))
    assert Seat.objects.count() == 2


def test_a_wallet_is_stored_checksummed_and_seated_once(org_a):
    license = treasury_license(org_a, "A")
    wallet = address()  # lower case, as wallets hand it out

    seat = seat_add(organization=org_a, license=license, wallet=wallet, label=" Ada ")

    assert seat.wallet == checksum(wallet)
    assert seat.label == "Ada"
    assert list(seats_of_wallet(checksum(wallet))) == [seat]
    _refused(
        "seat_exists",
        organization=org_a,
        license=license,
        wallet=wallet.upper()[:2].lower() + wallet[2:].upper(),
    )


@pytest.mark.parametrize(
    ("wallet", "code"),
    [
        ("0x1234", "invalid_address"),
        ("not an address", "invalid_address"),
        ("0x" + "00" * 20, "zero_address"),
    ],
)
def test_a_bad_wallet(org_a, wallet, code):
    _refused(code, organization=org_a, license=treasury_license(org_a, "A"), wallet=wallet)


def test_a_wallet_with_a_wrong_checksum(org_a):
    good = checksum(address())
    letters = [i for i, c in enumerate(good) if i > 1 and c.isalpha()]
    bad = list(good)
    bad[letters[0]] = bad[letters[0]].swapcase()
    _refused(
        "bad_checksum",
        organization=org_a,
        license=treasury_license(org_a, "A"),
        wallet="".join(bad),
    )


def test_the_treasury_needs_no_seat(org_a):
    license = treasury_license(org_a, "A")
    _refused("seat_is_holder", organization=org_a, license=license, wallet=license.holder.lower())


def test_only_licenses_the_treasury_holds(org_a, org_b):
    theirs = treasury_license(org_b, "B")
    _refused(
        "seat_license_not_held", organization=org_a, license=theirs, wallet=checksum(address())
    )


@pytest.mark.parametrize("state", ["expired", "revoked"])
def test_not_on_a_license_that_ended(org_a, state):
    license = treasury_license(org_a, "A")
    License.objects.filter(pk=license.pk).update(
        **({"expires_at": 1_000_000} if state == "expired" else {"revoked": True})
    )
    license.refresh_from_db()
    _refused(
        "seat_license_inactive", organization=org_a, license=license, wallet=checksum(address())
    )


def test_each_change_is_in_the_history_with_who(org_a, make_staff):
    owner = make_staff(org_a, Role.OWNER)
    seat = seat_add(
        organization=org_a, license=treasury_license(org_a, "A"), wallet=address(), by=owner
    )
    seat_remove(seat=seat, by=owner)

    history = list(Seat.history.order_by("history_date"))
    assert [h.history_type for h in history] == ["+", "-"]
    assert {h.history_user for h in history} == {owner}


# --- the admin ---


def _add(client, license, **changes):
    data = {
        "organization": license_org(license),
        "license": license.pk,
        "wallet": address(),
        "label": "",
    }
    data.update(changes)
    return client.post(ADD, data)


def license_org(license) -> int:
    from portal.models import Organization

    return Organization.objects.get(treasury_address__iexact=license.holder).pk


def test_an_owner_adds_a_seat_in_the_admin(client, org_a, make_staff):
    license = treasury_license(org_a, "A", seats=1)
    client.force_login(make_staff(org_a, Role.OWNER))

    response = _add(client, license, label="Grace")

    assert response.status_code == 302, form_errors(response)
    seat = Seat.objects.get()
    assert (seat.organization, seat.token_id, seat.label) == (org_a, license.token_id, "Grace")
    page = client.get(reverse("admin:licensing_seat_change", args=[seat.pk])).content.decode()
    assert "Valid; 1 seat(s) under its terms." in page


def test_a_full_license_is_a_form_error_and_writes_nothing(client, org_a, make_staff):
    license = treasury_license(org_a, "A", seats=1)
    seat_add(organization=org_a, license=license, wallet=address())
    client.force_login(make_staff(org_a, Role.OWNER))

    errors = form_errors(_add(client, license))

    assert "All 1 seat(s) of this license are taken" in str(errors["license"])
    assert Seat.objects.count() == 1


def test_the_license_choices_are_the_own_treasurys_only(client, org_a, org_b, make_staff):
    ours = treasury_license(org_a, "A")
    theirs = treasury_license(org_b, "B")
    client.force_login(make_staff(org_a, Role.OWNER))

    form = client.get(ADD).context["adminform"].form
    assert list(form.fields["license"].licenses.values()) == [ours]

    errors = form_errors(_add(client, theirs, organization=org_a.pk))
    assert "license" in errors
    assert not Seat.objects.exists()


def test_managers_see_seats_but_only_owners_add(client, org_a, make_staff):
    seat_add(organization=org_a, license=treasury_license(org_a, "A"), wallet=address())
    client.force_login(make_staff(org_a, Role.MANAGER))

    assert client.get(reverse("admin:licensing_seat_changelist")).status_code == 200
    assert client.get(ADD).status_code == 403
