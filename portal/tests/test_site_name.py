"""E-mails name the portal (PORTAL_NAME) and its address (SITE_URL), never example.com."""

from __future__ import annotations

from django.contrib.sites.models import Site
from django.urls import reverse

from portal.sites import site_sync


def test_after_migrate_the_site_is_the_portal(db, settings):
    site = Site.objects.get_current()

    assert site.name == settings.PORTAL_NAME == "Model Licensing Portal"
    assert site.domain == "localhost:8000"  # from SITE_URL's default


def test_a_password_reset_email_names_the_portal(client, make_staff, org_a, mailoutbox):
    user = make_staff(org_a, "manager")

    client.post(reverse("account_reset_password"), {"email": user.email})

    (message,) = mailoutbox
    assert message.subject.startswith("[Model Licensing Portal]")
    assert "example.com" not in message.subject
    assert "Model Licensing Portal" in message.body
    assert "example.com]" not in message.body


def test_the_site_follows_the_settings_and_a_second_sync_writes_nothing(db, settings):
    settings.SITE_URL = "https://models.acme.test"
    settings.PORTAL_NAME = "Acme Model Exchange"

    assert site_sync() is True
    assert site_sync() is False

    site = Site.objects.get_current()
    assert (site.domain, site.name) == ("models.acme.test", "Acme Model Exchange")
