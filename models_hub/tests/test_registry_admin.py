"""The registry in the admin: upload, reasons, actions, private downloads, safe model cards."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from models_hub import services
from models_hub.choices import Task, VersionStatus
from models_hub.demo_models import serialize, train
from models_hub.models import ModelVersion
from portal.choices import Role
from portal.services import membership_set


def _upload_url():
    return reverse("admin:models_hub_modelversion_add")


def test_manager_uploads_a_version_in_the_admin(client, org_a, make_staff, classifier):
    manager = make_staff(org_a, Role.MANAGER)
    client.force_login(manager)
    data = serialize(train("breast-cancer")[0], "skops")

    response = client.post(
        _upload_url(),
        {"model": classifier.pk, "version": "2.1.0", "upload": SimpleUploadedFile("m.skops", data)},
    )

    assert response.status_code == 302, response.content[:2000]
    version = ModelVersion.objects.get(model=classifier, version="2.1.0")
    assert version.status == VersionStatus.UPLOADED
    assert version.format == "skops"
    assert version.size_bytes == len(data)
    assert version.uploaded_by == manager


def test_a_manager_elsewhere_cannot_upload_where_they_only_view(
    client, org_a, org_b, make_staff, classifier
):
    # given: a manager of org A who only views org B, and a model of org B
    theirs = services.model_create(organization=org_b, name="Theirs", task=Task.CLASSIFICATION)
    user = make_staff(org_a, Role.MANAGER)
    membership_set(organization=org_b, user=user, role=Role.VIEWER)
    client.force_login(user)
    data = serialize(train("breast-cancer")[0], "skops")

    # when: a complete, valid upload names org B's model
    response = client.post(
        _upload_url(),
        {"model": theirs.pk, "version": "1.0.0", "upload": SimpleUploadedFile("m.skops", data)},
    )

    # then: a form error on the model, and nothing stored
    assert response.status_code == 200
    assert response.context["adminform"].form.errors.as_data()["model"][0].code == (
        "invalid_choice"
    )
    assert not ModelVersion.objects.filter(model__organization=org_b).exists()
    page = client.get(_upload_url())
    offered = page.context["adminform"].form.fields["model"].queryset
    assert classifier in offered
    assert theirs not in offered


def test_upload_errors_are_form_errors_and_save_nothing(client, org_a, make_staff, classifier):
    client.force_login(make_staff(org_a, Role.MANAGER))

    response = client.post(
        _upload_url(),
        {"model": classifier.pk, "version": "1.0.0", "upload": SimpleUploadedFile("m.pkl", b"")},
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert "The submitted file is empty" in body or "The file is empty" in body
    assert not ModelVersion.objects.exists()

    response = client.post(
        _upload_url(),
        {"model": classifier.pk, "version": "v1", "upload": SimpleUploadedFile("m.pkl", b"x")},
    )
    assert response.status_code == 200
    assert "MAJOR.MINOR.PATCH" in response.content.decode()
    assert not ModelVersion.objects.exists()


def test_rejection_reasons_show_in_the_admin(client, org_a, make_staff, classifier, upload):
    version = upload(classifier, b"definitely not a pickle")
    client.force_login(make_staff(org_a, Role.VIEWER))

    body = client.get(reverse("admin:models_hub_modelversion_change", args=[version.pk]))

    assert "not a readable joblib file" in body.content.decode()
    listing = client.get(reverse("admin:models_hub_modelversion_changelist")).content.decode()
    assert "Rejected" in listing


def test_revalidate_and_retire_actions(client, org_a, make_staff, classifier, upload):
    version = upload(classifier, serialize(train("breast-cancer")[0], "joblib"))
    client.force_login(make_staff(org_a, Role.MANAGER))
    changelist = reverse("admin:models_hub_modelversion_changelist")

    client.post(changelist, {"action": "revalidate", "_selected_action": [version.pk]})
    version.refresh_from_db()
    assert version.status == VersionStatus.UPLOADED  # queued again

    services.version_validate(version_id=version.pk)
    client.post(changelist, {"action": "retire", "_selected_action": [version.pk]})
    version.refresh_from_db()
    assert version.status == VersionStatus.RETIRED


def test_a_viewer_has_no_actions(client, org_a, make_staff, classifier, upload):
    version = upload(classifier, b"junk")
    client.force_login(make_staff(org_a, Role.VIEWER))
    changelist = reverse("admin:models_hub_modelversion_changelist")

    client.post(changelist, {"action": "retire", "_selected_action": [version.pk]})

    version.refresh_from_db()
    assert version.status == VersionStatus.REJECTED


def test_staff_of_the_owning_organization_download_the_exact_bytes(
    client, org_a, make_staff, classifier, upload
):
    data = serialize(train("breast-cancer")[0], "joblib")
    version = upload(classifier, data)
    client.force_login(make_staff(org_a, Role.VIEWER))

    response = client.get(reverse("admin:models_hub_modelversion_download", args=[version.pk]))

    assert response.status_code == 200
    assert response.content == data
    assert "attachment" in response["Content-Disposition"]


def test_everyone_else_gets_404_or_the_sign_in_page(
    client, org_a, org_b, make_staff, classifier, upload
):
    version = upload(classifier, b"junk")
    url = reverse("admin:models_hub_modelversion_download", args=[version.pk])

    assert client.get(url).status_code == 302  # anonymous: to the sign-in page
    client.force_login(make_staff(org_b, Role.OWNER))
    assert client.get(url).status_code == 404
    assert client.get(f"/private-media/{version.artifact.name}").status_code == 404


def test_a_tampered_file_is_not_served(client, org_a, make_staff, classifier, upload):
    from django.core.files.storage import default_storage

    version = upload(classifier, serialize(train("breast-cancer")[0], "joblib"))
    with open(default_storage.path(version.artifact.name), "ab") as handle:
        handle.write(b"appended")
    client.force_login(make_staff(org_a, Role.OWNER))

    response = client.get(reverse("admin:models_hub_modelversion_download", args=[version.pk]))

    assert response.status_code == 302
    version.refresh_from_db()
    assert version.status == VersionStatus.TAMPERED
    page = client.get(reverse("admin:models_hub_modelversion_change", args=[version.pk]))
    assert "Tampered" in page.content.decode()


def test_model_card_preview_is_sanitized(client, org_a, make_staff):
    model = services.model_create(
        organization=org_a,
        name="Card",
        task="classification",
        model_card=(
            "# Title\n\n<script>alert('x')</script>\n\n"
            '<img src=x onerror="alert(1)">\n\n[click](javascript:alert(1)) **bold**'
        ),
    )
    client.force_login(make_staff(org_a, Role.VIEWER))

    body = client.get(reverse("admin:models_hub_aimodel_change", args=[model.pk])).content.decode()
    preview = body.split('class="model-card"', 1)[1].split("</div>", 1)[0]

    assert "<h1>Title</h1>" in preview
    assert "<strong>bold</strong>" in preview
    assert "<script" not in preview
    assert "onerror" not in preview
    assert "javascript:" not in preview


def test_a_file_over_the_limit_is_dropped_while_it_arrives(
    client, org_a, make_staff, classifier, settings
):
    settings.FILE_UPLOAD_MAX_BYTES = 4096
    client.force_login(make_staff(org_a, Role.MANAGER))
    big = SimpleUploadedFile("m.joblib", b"x" * 100_000)

    response = client.post(
        _upload_url(), {"model": classifier.pk, "version": "1.0.0", "upload": big}
    )

    assert response.status_code == 200
    assert "is over the" in response.content.decode()
    assert not ModelVersion.objects.exists()
