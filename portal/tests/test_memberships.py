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


@pytest.fixture
def tasks_run_here():
    """Tasks queued by the code under test run in this process (as a worker would run them)."""
    from portal.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def _invite(client, organization, email, role="viewer"):
    return client.post(
        "/admin/portal/membership/add/",
        {"organization": organization.pk, "email": email, "role": role},
    )


def test_inviting_a_member_again_is_a_form_error_and_changes_nothing(client, org_a, make_staff):
    owner = make_staff(org_a, Role.OWNER)
    colleague = make_staff(org_a, Role.MANAGER)
    client.force_login(owner)

    response = _invite(client, org_a, colleague.email.upper(), role="viewer")

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "is a member of Alpha Models already (manager)" in errors["email"][0]
    assert "added successfully" not in response.content.decode()
    assert Membership.objects.get(user=colleague).role == Role.MANAGER


def test_an_invitation_mails_a_set_password_link_that_works(
    client, org_a, make_staff, mailoutbox, tasks_run_here, django_capture_on_commit_callbacks
):
    from django.conf import settings as live_settings

    owner = make_staff(org_a, Role.OWNER)
    client.force_login(owner)

    # when: the owner invites someone new
    with django_capture_on_commit_callbacks(execute=True):
        response = _invite(client, org_a, "new.member@alpha.example.com", role="manager")

    # then: one e-mail, in the portal's name, with a link to set a password on SITE_URL
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["new.member@alpha.example.com"]
    assert mail.subject == f"[{live_settings.PORTAL_NAME}] You have been added to Alpha Models"
    assert "Hello from example.com" not in mail.body
    assert f"Hello from {live_settings.PORTAL_NAME}" in mail.body
    assert owner.email in mail.body
    link = next(line for line in mail.body.split() if "/accounts/password/reset/key/" in line)
    assert link.startswith(live_settings.SITE_URL)

    # and: the link lets them choose a password and sign in to the admin
    client.logout()
    landing = client.get(link.removeprefix(live_settings.SITE_URL))
    assert landing.status_code == 302  # allauth moves the key into the session
    password = "a-new-staff-passphrase-77"
    done = client.post(landing["Location"], {"password1": password, "password2": password})
    assert done.status_code == 302, done.content[:500]
    user = get_user_model().objects.get(email="new.member@alpha.example.com")
    assert user.check_password(password)
    assert client.login(username=user.username, password=password)
    assert client.get("/admin/").status_code == 200


def test_an_existing_account_added_elsewhere_gets_a_sign_in_link(
    client, org_a, org_b, make_staff, mailoutbox, tasks_run_here, django_capture_on_commit_callbacks
):
    elsewhere = make_staff(org_b, Role.VIEWER)  # has a password already
    client.force_login(make_staff(org_a, Role.OWNER))

    with django_capture_on_commit_callbacks(execute=True):
        response = _invite(client, org_a, elsewhere.email)

    assert response.status_code == 302
    assert Membership.objects.filter(user=elsewhere, organization=org_a).exists()
    (mail,) = mailoutbox
    assert "/accounts/login/" in mail.body
    assert "/accounts/password/reset/key/" not in mail.body


def test_nothing_is_mailed_before_the_invitation_commits(
    client, org_a, make_staff, mailoutbox, tasks_run_here, django_capture_on_commit_callbacks
):
    client.force_login(make_staff(org_a, Role.OWNER))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _invite(client, org_a, "later@alpha.example.com")

    assert len(callbacks) == 1
    assert mailoutbox == []
