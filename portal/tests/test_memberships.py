"""Owners invite colleagues by e-mail; an organization always keeps an owner."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from portal.choices import Role
from portal.models import Membership
from portal.services import membership_set


def test_owner_invites_a_colleague_by_email(client, org_a, make_staff):
    client.force_login(make_staff(org_a, Role.OWNER))

    response = client.post(
        "/admin/portal/membership/add/",
        {"organization": org_a.pk, "email": "New.Colleague@Alpha.example.com", "role": "manager"},
    )

    assert response.status_code == 302
    user = get_user_model().objects.get(email__iexact="new.colleague@alpha.example.com")
    assert not user.has_usable_password()
    assert user.is_staff
    assert Membership.objects.get(user=user).role == Role.MANAGER


def test_a_manager_cannot_invite(client, org_a, make_staff):
    client.force_login(make_staff(org_a, Role.MANAGER))

    response = client.post(
        "/admin/portal/membership/add/",
        {"organization": org_a.pk, "email": "x@example.com", "role": "owner"},
    )

    assert response.status_code == 403
    assert not get_user_model().objects.filter(email="x@example.com").exists()


def test_the_last_owner_cannot_be_demoted_or_removed(client, org_a, make_staff):
    owner = make_staff(org_a, Role.OWNER)
    membership = Membership.objects.get(user=owner)
    client.force_login(owner)

    response = client.post(f"/admin/portal/membership/{membership.pk}/change/", {"role": "viewer"})

    assert response.status_code == 200
    assert "keeps at least one owner" in response.content.decode()
    assert client.get(f"/admin/portal/membership/{membership.pk}/delete/").status_code == 403
    with pytest.raises(ValidationError):
        membership_set(organization=org_a, user=owner, role=Role.VIEWER)
    assert Membership.objects.get(pk=membership.pk).role == Role.OWNER


def test_a_second_owner_makes_demotion_possible(client, org_a, make_staff):
    owner = make_staff(org_a, Role.OWNER)
    make_staff(org_a, Role.OWNER)
    membership = Membership.objects.get(user=owner)
    client.force_login(owner)

    client.post(f"/admin/portal/membership/{membership.pk}/change/", {"role": "manager"})

    assert Membership.objects.get(pk=membership.pk).role == Role.MANAGER
