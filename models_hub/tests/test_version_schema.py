"""A version's features match its model's, or it is a new MAJOR version with the change shown."""

from __future__ import annotations

import pytest
from django.urls import reverse

from models_hub import services
from models_hub.choices import RejectionCode, Task, VersionStatus
from models_hub.demo_models import IRIS_PETALS, serialize, train
from models_hub.feature_schema import SchemaFacts, check_schema, schema_diff
from models_hub.models import version_sort_key
from portal.choices import ApiScope, Role
from portal.services import api_key_create


def _facts(version, names, classes=None):
    return SchemaFacts(version, version_sort_key(version), list(names), classes)


# --- the rules, on their own -------------------------------------------------------------------


def test_a_diff_names_renamed_and_reordered_features_and_changed_classes():
    before = _facts("1.0.0", ["a", "b", "c", "d"], [0, 1])
    after = _facts("2.0.0", ["b", "a", "x", "d"], [0, 1, 2])

    diff = schema_diff(before, after)

    assert diff["features_changed"] is True
    assert diff["features_renamed"] == [{"before": "c", "after": "x"}]
    assert diff["features_added"] == diff["features_removed"] == []
    assert diff["features_reordered"] is True
    assert diff["classes_added"] == [2]
    assert diff["summary"] == (
        'Compared with 1.0.0: 4 features; renamed "c" → "x"; in another order; classes added "2".'
    )


def test_a_diff_with_another_count_names_what_left_and_what_arrived():
    diff = schema_diff(_facts("1.0.0", ["a", "b", "c"]), _facts("2.0.0", ["a", "x", "y", "z"]))

    assert diff["features_renamed"] == []
    assert diff["features_removed"] == ["b", "c"]
    assert diff["features_added"] == ["x", "y", "z"]
    assert diff["features_reordered"] is False
    assert diff["summary"] == (
        'Compared with 1.0.0: features 3 → 4; removed "b", "c"; added "x", "y", "z".'
    )


def test_the_same_features_are_no_change_and_long_lists_are_cut():
    names = [f"f{i}" for i in range(20)]
    same = schema_diff(_facts("1.0.0", names), _facts("1.0.1", names))
    fewer = schema_diff(_facts("1.0.0", names), _facts("2.0.0", names[:2]))

    assert same["features_changed"] is False
    assert same["summary"] == "Compared with 1.0.0: the same 20 features."
    assert fewer["features_removed"] == names[2:]
    assert "and 10 more" in fewer["summary"]


@pytest.mark.parametrize(
    ("candidate", "accepted", "problem"),
    [
        ("1.2.0", ["1.0.0"], True),  # a MINOR version may not change the features
        ("1.0.1", ["1.0.0"], True),  # nor may a PATCH
        ("2.0.0", ["1.0.0"], False),  # a new MAJOR may
        ("1.5.0", ["1.0.0", "2.0.0"], True),  # 1.x has the old features
        ("0.9.0", ["1.0.0"], False),  # an older MAJOR line
        ("1.5.0", ["2.0.0"], False),  # no 1.x yet: 1.x takes these features
    ],
)
def test_only_a_new_major_version_changes_the_features(candidate, accepted, problem):
    old = ["a", "b"]

    verdict = check_schema(_facts(candidate, ["z"]), [_facts(v, old) for v in accepted])

    assert bool(verdict.problem) is problem
    if problem:
        assert "new MAJOR version" in verdict.problem


def test_the_change_is_recorded_against_the_previous_version_in_version_order():
    accepted = [_facts("1.0.0", ["a"]), _facts("2.0.0", ["b"]), _facts("3.0.0", ["c"])]

    verdict = check_schema(_facts("2.1.0", ["b"]), accepted)

    assert verdict.problem is None
    assert verdict.change["compared_with"] == "2.0.0"
    assert verdict.change["features_changed"] is False


def test_the_first_version_has_nothing_to_compare_with():
    verdict = check_schema(_facts("1.0.0", ["a"]), [])

    assert verdict == verdict.__class__(change=None, problem=None)


# --- in the validation service -------------------------------------------------------------------


@pytest.fixture(scope="module")
def artifacts():
    wine, iris = train("wine")[0], train("iris")[0]
    return {
        "wine": serialize(wine, "skops"),
        "wine-joblib": serialize(wine, "joblib"),
        "iris": serialize(iris, "skops"),
        "iris-petals": serialize(train("iris", IRIS_PETALS)[0], "skops"),
    }


@pytest.fixture
def wine(org_a, upload, artifacts):
    model = services.model_create(organization=org_a, name="Wine", task=Task.CLASSIFICATION)
    first = upload(model, artifacts["wine"], version="1.0.0", filename="w.skops")
    assert first.status == VersionStatus.READY
    return model


def test_an_iris_model_is_not_published_as_wine(wine, upload, artifacts):
    version = upload(wine, artifacts["iris"], version="1.2.0", filename="i.skops")

    assert version.status == VersionStatus.REJECTED
    assert version.rejection_code == RejectionCode.SCHEMA_MISMATCH
    reason = version.rejection_reason
    assert reason.startswith("The features differ from version 1.0.0 of this model")
    assert "features 13 → 4" in reason
    assert '"alcohol"' in reason
    assert '"sepal length (cm)"' in reason
    assert "upload this file as a new MAJOR version (2.0.0)" in reason
    assert version.schema_change["features_changed"] is True


def test_a_new_major_version_may_change_the_features_and_records_the_change(
    wine, upload, artifacts
):
    version = upload(wine, artifacts["iris"], version="2.0.0", filename="i.skops")

    assert version.status == VersionStatus.READY, version.rejection_reason
    change = version.schema_change
    assert change["compared_with"] == "1.0.0"
    assert (change["n_features_before"], change["n_features_after"]) == (13, 4)
    assert "alcohol" in change["features_removed"]
    assert change["summary"].startswith("Compared with 1.0.0: features 13 → 4;")
    assert change["classes_changed"] is False  # both have the classes 0, 1 and 2


def test_a_patch_with_the_same_features_is_ready_and_says_so(wine, upload, artifacts):
    version = upload(wine, artifacts["wine-joblib"], version="1.0.1")

    assert version.status == VersionStatus.READY
    assert version.schema_change["summary"] == (
        "Compared with 1.0.0: the same 13 features; the same classes."
    )


def test_classes_may_change_within_a_major_version_and_the_change_is_shown(
    org_a, upload, artifacts
):
    from sklearn.datasets import load_wine
    from sklearn.linear_model import LogisticRegression

    X, y = load_wine(return_X_y=True, as_frame=True)
    two_classes = LogisticRegression(max_iter=5000).fit(X[y < 2], y[y < 2])
    model = services.model_create(organization=org_a, name="Wine", task=Task.CLASSIFICATION)
    upload(model, artifacts["wine"], version="1.0.0", filename="w.skops")

    version = upload(model, serialize(two_classes, "joblib"), version="1.1.0")

    assert version.status == VersionStatus.READY, version.rejection_reason
    assert version.schema_change["classes_removed"] == [2]
    assert 'classes removed "2"' in version.schema_change["summary"]


def test_retired_versions_still_hold_their_major_versions_features(wine, upload, artifacts):
    services.version_retire(version=wine.versions.get(version="1.0.0"))

    version = upload(wine, artifacts["iris"], version="1.3.0", filename="i.skops")

    assert version.rejection_code == RejectionCode.SCHEMA_MISMATCH


def test_a_revalidated_version_is_compared_with_the_others_not_itself(wine, upload):
    version = wine.versions.get(version="1.0.0")
    services.version_revalidate(version=version)

    services.version_validate(version_id=version.pk)

    version.refresh_from_db()
    assert version.status == VersionStatus.READY
    assert version.schema_change is None


def test_the_schema_change_shows_in_the_api_and_the_admin(
    client, wine, upload, artifacts, org_a, make_staff
):
    version = upload(wine, artifacts["iris-petals"], version="2.0.0", filename="p.skops")
    manager = make_staff(org_a, Role.MANAGER)
    issued = api_key_create(
        organization=org_a, owner=manager, name="ci", scopes=[ApiScope.MODELS_READ]
    )
    headers = {"Authorization": f"Bearer {issued.raw_key}"}

    body = client.get(f"/api/models/alpha/{wine.slug}/versions/2.0.0", headers=headers).json()
    client.force_login(manager)
    page = client.get(reverse("admin:models_hub_modelversion_change", args=[version.pk]))

    change = body["schema_change"]
    assert change["n_features_after"] == 2
    assert change["features_added"] == list(IRIS_PETALS)
    assert change["summary"] == version.schema_change_summary
    assert "Compared with 1.0.0: features 13 → 2" in page.content.decode()
