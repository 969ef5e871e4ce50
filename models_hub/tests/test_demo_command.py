"""``manage.py demo``: the demo organizations, staff and models, loaded once however often run."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from models_hub.choices import VersionStatus
from models_hub.demo_models import DEMO_MODELS, DEMO_VERSIONS
from models_hub.models import AIModel, ModelVersion
from portal.demo import DEMO_ORGANIZATIONS
from portal.models import Membership, Organization

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    models = (Organization, Membership, get_user_model(), AIModel, ModelVersion)
    return {model.__name__: model.objects.count() for model in models}


def test_the_demo_command_refuses_to_run_without_debug(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="demo data is for local use"):
        call_command("demo")

    assert not Organization.objects.exists()


def test_the_demo_command_loads_the_demo_once(settings):
    settings.DEBUG = True
    first, again = StringIO(), StringIO()

    call_command("demo", stdout=first)
    loaded = counts()
    call_command("demo", stdout=again)

    uploads = len(DEMO_MODELS) * len(DEMO_VERSIONS)
    assert f"{uploads} model version(s) queued for validation" in first.getvalue()
    assert "queued" not in again.getvalue()  # nothing new to upload
    assert "Demo data is ready" in again.getvalue()
    assert counts() == loaded
    assert loaded["Organization"] == len(DEMO_ORGANIZATIONS)
    assert loaded["ModelVersion"] == uploads
    assert set(ModelVersion.objects.values_list("status", flat=True)) == {VersionStatus.UPLOADED}
