"""Rejected (and retired, never public) versions are deleted with their file, never one without
the other."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import reverse

from models_hub import services
from models_hub.choices import VersionStatus
from models_hub.demo_models import serialize, train
from models_hub.models import ModelVersion
from portal.choices import ApiScope, Role
from portal.services import api_key_create


@pytest.fixture(scope="module")
def cancer_bytes():
    return serialize(train("breast-cancer")[0], "joblib")


@pytest.fixture
def rejected(classifier, upload):
    version = upload(classifier, b"junk", version="0.1.0")
    assert version.status == VersionStatus.REJECTED
    assert default_storage.exists(version.artifact.name)
    return version


def _gone(version) -> bool:
    row = ModelVersion.objects.filter(pk=version.pk).exists()
    stored = default_storage.exists(version.artifact.name)
    assert row == stored, "a row without its file, or a file without its row"
    return not row


def test_a_rejected_version_goes_with_its_file(rejected, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.version_delete(version=rejected)

    assert _gone(rejected)


def test_a_retired_version_that_was_never_public_can_be_deleted(
    classifier, upload, cancer_bytes, django_capture_on_commit_callbacks
):
    version = upload(classifier, cancer_bytes)
    services.version_retire(version=version)

    with django_capture_on_commit_callbacks(execute=True):
        services.version_delete(version=version)

    assert _gone(version)


@pytest.mark.parametrize("state", ["ready", "published-then-retired", "uploaded"])
def test_other_versions_are_kept(classifier, upload, cancer_bytes, state):
    version = upload(classifier, cancer_bytes, validate=state != "uploaded")
    if state == "published-then-retired":
        services.version_publish(version=version)
        services.version_unpublish(version=version)
        services.version_retire(version=version)
    status = ModelVersion.objects.get(pk=version.pk).status

    with pytest.raises(ValidationError) as caught:
        services.version_delete(version=version)

    assert caught.value.code == "version_not_deletable"
    if state == "published-then-retired":
        assert "was public once: it is kept" in caught.value.messages[0]
    assert not _gone(version)
    assert ModelVersion.objects.get(pk=version.pk).status == status


def test_a_rolled_back_deletion_keeps_the_row_and_the_file(
    rejected, django_capture_on_commit_callbacks
):
    def delete_then_fail():
        with transaction.atomic():
            services.version_delete(version=rejected)
            raise RuntimeError("the caller's transaction fails")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        delete_then_fail()

    assert not _gone(rejected)
    assert ModelVersion.objects.get(pk=rejected.pk).status == VersionStatus.REJECTED


def test_a_failed_file_delete_leaves_the_row_marked_and_a_retry_finishes(
    rejected, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(self, name):
        raise OSError("the object store is down")

    monkeypatch.setattr("portal.storage.PrivateFileSystemStorage.delete", broken)
    on_commit = django_capture_on_commit_callbacks
    with pytest.raises(ValidationError) as caught, on_commit(execute=True):
        services.version_delete(version=rejected)

    assert caught.value.code == "version_delete_incomplete"

    row = ModelVersion.objects.get(pk=rejected.pk)
    assert row.status == VersionStatus.DELETING  # marked: not served, not validated, not retired
    assert default_storage.exists(rejected.artifact.name)
    assert services.version_retire(version=row) is False
    assert services.version_revalidate(version=row) is False
    with pytest.raises(FileNotFoundError):
        services.artifact_read(version=row)

    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        services.version_delete(version=row)
    assert _gone(rejected)


def test_managers_delete_in_the_admin_after_a_confirmation(
    client, org_a, make_staff, rejected, upload, cancer_bytes, django_capture_on_commit_callbacks
):
    ready = upload(rejected.model, cancer_bytes, version="1.0.0")
    client.force_login(make_staff(org_a, Role.MANAGER))
    changelist = reverse("admin:models_hub_modelversion_changelist")
    selected = {"action": "delete_versions", "_selected_action": [rejected.pk, ready.pk]}

    confirm = client.post(changelist, selected)
    body = confirm.content.decode()
    assert confirm.status_code == 200
    assert "Yes, delete 1 version(s)" in body
    assert "These stay" in body
    assert not _gone(rejected)

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(changelist, {**selected, "post": "yes"}, follow=True)

    messages = [str(m) for m in done.context["messages"]]
    assert "Deleted 1 version(s)." in messages
    assert any("only rejected or retired versions are deleted" in m for m in messages)
    assert _gone(rejected)
    assert not _gone(ready)


def test_viewers_cannot_delete(client, org_a, make_staff, rejected):
    client.force_login(make_staff(org_a, Role.VIEWER))

    client.post(
        reverse("admin:models_hub_modelversion_changelist"),
        {"action": "delete_versions", "_selected_action": [rejected.pk], "post": "yes"},
    )

    assert not _gone(rejected)


def test_a_pipeline_deletes_a_rejected_version_through_the_api(
    client,
    classifier,
    rejected,
    org_a,
    make_staff,
    upload,
    cancer_bytes,
    django_capture_on_commit_callbacks,
):
    ready = upload(classifier, cancer_bytes, version="1.0.0")
    issued = api_key_create(
        organization=org_a,
        owner=make_staff(org_a, Role.MANAGER),
        name="ci",
        scopes=[ApiScope.MODELS_WRITE],
    )
    headers = {"Authorization": f"Bearer {issued.raw_key}"}
    base = f"/api/models/alpha/{classifier.slug}/versions"

    with django_capture_on_commit_callbacks(execute=True):
        deleted = client.delete(f"{base}/0.1.0", headers=headers)
    kept = client.delete(f"{base}/1.0.0", headers=headers)
    missing = client.delete(f"{base}/0.1.0", headers=headers)

    assert deleted.status_code == 204
    assert _gone(rejected)
    assert (kept.status_code, kept.json()["code"]) == (409, "version_not_deletable")
    assert not _gone(ready)
    assert (missing.status_code, missing.json()["code"]) == (404, "version_not_found")
