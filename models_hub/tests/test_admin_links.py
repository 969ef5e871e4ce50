"""Every link on the tenant admin's pages opens for the member who sees it (no 403 links), and
the registry's pages link where staff go next."""

from __future__ import annotations

import io
import re

import pytest
from django.urls import reverse

from models_hub import services
from models_hub.choices import VersionStatus
from portal.choices import Role
from portal.models import ApiKey
from portal.services import api_key_create

HREF = re.compile(r'href="(/admin/[^"#?]*)(?:\?[^"]*)?"')
SKIP = ("/admin/logout/", "/admin/jsi18n/")


@pytest.fixture
def pages(org_a, make_staff, classifier):
    """The organization, model, version and key pages of org A, as their URLs."""
    uploader = make_staff(org_a, Role.MANAGER)
    version = services.version_upload(
        model=classifier,
        version="1.0.0",
        fileobj=io.BytesIO(b"not validated"),
        filename="m.skops",
        uploaded_by=uploader,
    )
    api_key_create(organization=org_a, owner=uploader, name="ci", scopes=["org:read"])
    return [
        reverse("admin:index"),
        reverse("admin:portal_organization_change", args=[org_a.pk]),
        reverse("admin:portal_membership_changelist"),
        reverse("admin:portal_apikey_change", args=[ApiKey.objects.get().pk]),
        reverse("admin:models_hub_aimodel_change", args=[classifier.pk]),
        reverse("admin:models_hub_modelversion_changelist"),
        reverse("admin:models_hub_modelversion_change", args=[version.pk]),
    ]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MANAGER])
def test_no_link_on_a_members_pages_answers_403(client, org_a, make_staff, pages, role):
    member = make_staff(org_a, role)
    client.force_login(member)
    links = set()
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        body = response.content.decode()
        assert "/admin/auth/user/" not in body, f"{page} links to a user's page"
        links |= {match for match in HREF.findall(body) if not match.startswith(SKIP)}

    refused = {link: client.get(link).status_code for link in sorted(links)}
    refused = {link: status for link, status in refused.items() if status >= 400}
    assert not refused, f"links that do not open for a {role}: {refused}"


def test_uploaded_by_shows_the_uploaders_email(client, org_a, make_staff, classifier):
    uploader = make_staff(org_a, Role.MANAGER)
    version = services.version_upload(
        model=classifier, version="1.0.0", fileobj=io.BytesIO(b"x"), filename="m.joblib",
        uploaded_by=uploader,
    )  # fmt: skip
    client.force_login(make_staff(org_a, Role.VIEWER))

    body = client.get(reverse("admin:models_hub_modelversion_change", args=[version.pk]))

    assert uploader.email in body.content.decode()


def test_a_model_page_links_to_uploading_a_version_for_writers_only(
    client, org_a, make_staff, classifier
):
    url = reverse("admin:models_hub_aimodel_change", args=[classifier.pk])
    add_version = f"{reverse('admin:models_hub_modelversion_add')}?model={classifier.pk}"

    client.force_login(make_staff(org_a, Role.MANAGER))
    assert add_version in client.get(url).content.decode()
    upload_page = client.get(add_version)
    assert upload_page.context["adminform"].form.initial["model"] == str(classifier.pk)

    client.force_login(make_staff(org_a, Role.VIEWER))
    assert add_version not in client.get(url).content.decode()


def test_the_status_endpoint_answers_for_the_users_own_versions_only(
    client, org_a, org_b, make_staff, classifier
):
    ours = services.version_upload(
        model=classifier, version="1.0.0", fileobj=io.BytesIO(b"x"), filename="m.joblib"
    )
    theirs_model = services.model_create(organization=org_b, name="Theirs", task="regression")
    theirs = services.version_upload(
        model=theirs_model, version="1.0.0", fileobj=io.BytesIO(b"x"), filename="m.joblib"
    )
    client.force_login(make_staff(org_a, Role.VIEWER))
    url = reverse("admin:models_hub_modelversion_status")

    response = client.get(url, {"id": [ours.pk, theirs.pk, "junk"]})

    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    assert response.json() == {
        "badges": {
            str(ours.pk): {"status": "uploaded", "label": "Uploaded", "live": True, "reason": ""}
        }
    }
    services.version_validate(version_id=ours.pk)
    state = client.get(url, {"id": ours.pk}).json()["badges"][str(ours.pk)]
    assert state == {
        "status": VersionStatus.REJECTED,
        "label": "Rejected",
        "live": False,
        "reason": "",
    }

    client.logout()
    assert client.get(url, {"id": ours.pk}).status_code == 302  # to the sign-in page
