"""`manage.py demo`: idempotent, keeps everyone signed in, two tenants with published models.

One run of the demo trains and validates ten versions, so one test covers it all.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse

from chain.testing.devnode import free_port
from models_hub.choices import VersionStatus
from models_hub.demo_models import DEMO_MODELS
from models_hub.models import AIModel, ModelVersion
from portal.demo import DEMO_PASSWORD


def _demo() -> str:
    out = StringIO()
    call_command("demo", "--force", stdout=out)
    return out.getvalue()


def _assert_two_tenants_with_public_models(client):
    listing = client.get("/api/models").json()["items"]
    iris = client.get("/api/models/globex/iris").json()

    by_org = {}
    for model in AIModel.objects.select_related("organization"):
        by_org.setdefault(model.organization.slug, set()).add(model.slug)
    assert by_org == {
        "acme": {"breast-cancer", "wine", "diabetes"},
        "globex": {"iris", "digits"},
    }
    expected = sum(len(demo.versions) for demo in DEMO_MODELS)
    assert ModelVersion.objects.filter(status=VersionStatus.READY).count() == expected
    assert not ModelVersion.objects.filter(published_at__isnull=True).exists()
    public = {(m["organization"], m["slug"]): m["ready_versions"] for m in listing}
    assert public == {
        ("acme", "breast-cancer"): 2,
        ("acme", "diabetes"): 2,
        ("acme", "wine"): 2,
        ("globex", "iris"): 3,
    }  # globex/digits is unlisted
    change = next(v for v in iris["versions"] if v["version"] == "2.0.0")["schema_change"]
    assert change["summary"].startswith("Compared with 1.1.0: features 4 → 2;")


@pytest.fixture
def no_node(settings):
    """The demo's network points at a port where nothing listens."""
    settings.CHAIN_RPC_URLS = {settings.CHAIN_NETWORK: f"http://127.0.0.1:{free_port()}"}


def test_the_demo_fills_both_tenants_is_idempotent_and_keeps_everyone_signed_in(
    client, db, no_node
):
    # given: the demo once (no chain node), an owner signed in, and a viewer with a password
    # of their own
    first = _demo()
    users = get_user_model().objects
    owner = users.get(username="owner@acme.example.com")
    assert owner.check_password(DEMO_PASSWORD)
    client.force_login(owner)
    viewer = users.get(username="viewer@globex.example.com")
    viewer.set_password("my-own-password-2026")
    viewer.save()
    rows = sorted(ModelVersion.objects.values_list("pk", "sha256", "status", "published_at"))
    _assert_two_tenants_with_public_models(client)

    # when: the demo runs again (every `make run` does)
    second = _demo()

    # then: nothing is reset, nothing is added, and the owner is still signed in
    assert "Registered, validated and published 10 model version(s)." in first
    assert "Chain data skipped: no node answers at http://127.0.0.1:" in first
    assert "Registered" not in second
    assert users.get(pk=owner.pk).password == owner.password
    assert users.get(pk=viewer.pk).check_password("my-own-password-2026")
    assert client.get(reverse("admin:index")).status_code == 200
    assert sorted(ModelVersion.objects.values_list("pk", "sha256", "status", "published_at")) == (
        rows
    )


def test_the_chain_part_alone_needs_the_node(db, no_node):
    with pytest.raises(CommandError, match="no demo models yet"):
        call_command("demo", "--force", "--chain-only", stdout=StringIO())


def test_the_demo_refuses_to_run_without_debug(db, settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG=true"):
        call_command("demo", stdout=StringIO())
