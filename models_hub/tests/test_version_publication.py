"""A ready version is a draft until a manager publishes it; only published versions are public."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from models_hub import services
from models_hub.demo_models import serialize, train
from models_hub.models import ModelVersion
from portal.choices import ApiScope, Role
from portal.services import api_key_create


@pytest.fixture(scope="module")
def cancer_bytes():
    return serialize(train("breast-cancer")[0], "joblib")


@pytest.fixture
def draft(classifier, upload, cancer_bytes):
    version = upload(classifier, cancer_bytes, version="1.0.0")
    assert version.is_ready
    assert not version.is_published
    return version


@pytest.fixture
def headers_for(make_staff):
    def make(organization, *scopes):
        owner = make_staff(organization, Role.MANAGER)
        issued = api_key_create(
            organization=organization, owner=owner, name="ci", scopes=list(scopes)
        )
        return {"Authorization": f"Bearer {issued.raw_key}"}

    return make


def _public_versions(client, model):
    detail = client.get(f"/api/models/{model.organization.slug}/{model.slug}").json()
    return [v["version"] for v in detail["versions"]]


def test_a_draft_is_seen_only_by_its_organization(client, classifier, draft, org_a, headers_for):
    own = headers_for(org_a, ApiScope.MODELS_READ)
    path = f"/api/models/alpha/{classifier.slug}/versions/1.0.0"

    public = client.get(path)
    theirs = client.get(path, headers=own)

    assert public.status_code == 404
    assert public.json()["code"] == "version_not_found"
    assert _public_versions(client, classifier) == []
    assert theirs.status_code == 200
    assert theirs.json()["published"] is False
    assert theirs.json()["published_at"] is None


def test_publishing_makes_it_public_and_unpublishing_a_draft_again(classifier, draft, client):
    assert services.version_publish(version=draft) is True
    assert services.version_publish(version=draft) is False  # already published: no change
    first = draft.first_published_at
    assert _public_versions(client, classifier) == ["1.0.0"]

    assert services.version_unpublish(version=draft) is True
    assert services.version_unpublish(version=draft) is False
    assert _public_versions(client, classifier) == []
    draft.refresh_from_db()
    assert draft.published_at is None
    assert draft.first_published_at == first  # it was public once: kept, not deletable


def test_only_ready_versions_are_published(classifier, upload):
    rejected = upload(classifier, b"junk", version="0.1.0")

    with pytest.raises(ValidationError) as caught:
        services.version_publish(version=rejected)

    assert caught.value.code == "version_not_ready"
    rejected.refresh_from_db()
    assert rejected.published_at is None


def test_a_published_version_of_an_unlisted_model_stays_private(org_a, upload, client):
    from models_hub.choices import Task

    model = services.model_create(organization=org_a, name="Private", task=Task.CLASSIFICATION)
    version = upload(model, serialize(train("breast-cancer")[0], "joblib"))
    services.version_publish(version=version)

    assert client.get(f"/api/models/alpha/{model.slug}").status_code == 404


def test_managers_publish_and_unpublish_in_the_admin(client, org_a, make_staff, draft, upload):
    manager = make_staff(org_a, Role.MANAGER)
    rejected = upload(draft.model, b"junk", version="0.1.0")
    client.force_login(manager)
    changelist = reverse("admin:models_hub_modelversion_changelist")

    response = client.post(
        changelist,
        {"action": "publish", "_selected_action": [draft.pk, rejected.pk]},
        follow=True,
    )

    draft.refresh_from_db()
    assert draft.published_by == manager
    messages = [str(m) for m in response.context["messages"]]
    assert "Published 1 version(s)." in messages
    assert "1 version(s) are not ready and were not published." in messages
    page = client.get(reverse("admin:models_hub_modelversion_change", args=[draft.pk]))
    assert f"by {manager}" in page.content.decode()
    drafts = client.get(changelist, {"published": "no"}).context["cl"].result_list
    assert list(drafts) == [rejected]

    client.post(changelist, {"action": "unpublish", "_selected_action": [draft.pk]})
    draft.refresh_from_db()
    assert draft.published_at is None


def test_viewers_cannot_publish(client, org_a, make_staff, draft):
    client.force_login(make_staff(org_a, Role.VIEWER))

    client.post(
        reverse("admin:models_hub_modelversion_changelist"),
        {"action": "publish", "_selected_action": [draft.pk]},
    )

    draft.refresh_from_db()
    assert draft.published_at is None


def test_a_pipeline_publishes_through_the_api(client, classifier, draft, org_a, headers_for):
    headers = headers_for(org_a, ApiScope.MODELS_WRITE)
    path = f"/api/models/alpha/{classifier.slug}/versions/1.0.0"

    published = client.post(f"{path}/publish", headers=headers)
    again = client.post(f"{path}/publish", headers=headers)

    assert published.status_code == 200, published.content
    assert published.json()["published"] is True
    assert again.status_code == 200
    assert _public_versions(client, classifier) == ["1.0.0"]
    unpublished = client.post(f"{path}/unpublish", headers=headers)
    assert unpublished.json()["published"] is False
    assert _public_versions(client, classifier) == []


def test_api_publication_errors(client, classifier, upload, org_a, org_b, headers_for, draft):
    upload(classifier, b"junk", version="0.1.0")
    base = f"/api/models/alpha/{classifier.slug}/versions"
    write = headers_for(org_a, ApiScope.MODELS_WRITE)

    not_ready = client.post(f"{base}/0.1.0/publish", headers=write)
    missing = client.post(f"{base}/9.9.9/publish", headers=write)
    read_only = client.post(f"{base}/1.0.0/publish", headers=headers_for(org_a, "models:read"))
    other_org = client.post(
        f"{base}/1.0.0/publish", headers=headers_for(org_b, ApiScope.MODELS_WRITE)
    )
    anonymous = client.post(f"{base}/1.0.0/publish")

    assert (not_ready.status_code, not_ready.json()["code"]) == (409, "version_not_ready")
    assert "only ready versions are published" in not_ready.json()["message"]
    assert (missing.status_code, missing.json()["code"]) == (404, "version_not_found")
    assert (read_only.status_code, read_only.json()["code"]) == (403, "insufficient_scope")
    assert (other_org.status_code, other_org.json()["code"]) == (403, "forbidden")
    assert anonymous.status_code == 401
    assert not ModelVersion.objects.filter(published_at__isnull=False).exists()


def test_versions_ready_before_drafts_existed_stay_public(classifier, draft):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("models_hub.migrations.0002_version_schema_and_publication")

    migration.publish_ready_versions(apps, None)

    draft.refresh_from_db()
    assert draft.published_at == draft.first_published_at == draft.validated_at
