"""A file may change only the objects it creates: never a class, a function or a module.

A pickle built only from allow-listed names can still aim a state-changing opcode (BUILD,
SETITEM(S), APPEND(S), ADDITEMS) at a class it named; unchecked, that changes the class for
the whole worker process (``IdentityLink.inverse = numpy.int64`` truncates every later
histogram-boosting prediction). These tests throw every such opcode at every global the
allow-list resolves and prove, by reading every library's classes and functions before and
after, that nothing changed.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn._loss.link import IdentityLink

from models_hub.choices import VersionStatus
from models_hub.demo_models import serialize
from models_hub.loading import deserialize
from models_hub.safety import ALLOWED_GLOBALS, SKLEARN_HELPERS, ForbiddenStateChange
from models_hub.services import estimator_for
from models_hub.tests import pickles as p

# Estimator classes and helpers the allow-list resolves, and joblib's own wrapper.
TARGETS = sorted(
    ALLOWED_GLOBALS
    | SKLEARN_HELPERS
    | {
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
        "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn.pipeline.Pipeline",
    }
)
VALUE = p.glob("numpy", "int64")


def _split(qualified: str) -> tuple[str, str]:
    module, _, name = qualified.rpartition(".")
    return module, name


@pytest.fixture(scope="module")
def hgb():
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import HistGradientBoostingRegressor

    X, y = load_diabetes(return_X_y=True)
    return HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(X, y), X


def test_the_proof_sees_a_changed_class_attribute(monkeypatch):
    # given a reading of every library's classes
    before = p.library_state()
    # when a class attribute changes, as the attack would change it
    monkeypatch.setattr(IdentityLink, "inverse", np.int64)
    # then the next reading names it
    assert "sklearn._loss.link.IdentityLink.inverse" in p.changed(before, p.library_state())


def test_no_state_change_on_any_resolved_global_goes_through(hgb):
    deserialize(serialize(hgb[0], "joblib"), "joblib")  # lazy imports and caches settle
    before = p.library_state()
    refused = []
    for qualified in TARGETS:
        target = p.glob(*_split(qualified))
        for opcode, attack in p.state_changes(target, VALUE).items():
            with pytest.raises(ForbiddenStateChange) as exc_info:
                deserialize(p.stream(attack), "joblib")
            refused.append((qualified, opcode))
            assert qualified.rpartition(".")[2] in str(exc_info.value)
    assert p.changed(before, p.library_state()) == []
    assert len(refused) == len(TARGETS) * 8


@pytest.mark.parametrize("opcode", ["BUILD-dict", "BUILD-slots", "SETITEMS", "BUILD-memo"])
def test_an_attack_in_front_of_a_valid_model_is_rejected_and_changes_nothing(
    upload, regressor, hgb, opcode
):
    estimator, X = hgb
    expected = estimator.predict(X)
    attack = p.state_changes(p.glob("sklearn._loss.link", "IdentityLink"), VALUE)[opcode]
    data = p.then(attack, estimator)  # pickling caches __slotnames__ on classes: do it first
    before = p.library_state()

    poisoned = upload(regressor, data, version="0.0.1")

    assert poisoned.status == VersionStatus.REJECTED
    assert "sklearn._loss.link.IdentityLink" in poisoned.rejection_reason
    assert p.changed(before, p.library_state()) == []
    # the same worker goes on predicting floats for everyone
    good = upload(regressor, serialize(estimator, "joblib"), version="1.0.0")
    assert good.status == VersionStatus.READY
    predicted = estimator_for(version=good).predict(X)
    assert predicted.dtype == np.float64
    np.testing.assert_array_equal(predicted, expected)


def test_joblibs_array_wrapper_cannot_be_changed(upload, regressor, hgb):
    wrapper = p.glob("joblib.numpy_pickle", "NumpyArrayWrapper")
    attack = p.state_changes(wrapper, p.glob("builtins", "int"))["BUILD-slots"]
    attack = attack.replace(p.text(p.ATTR), p.text("read_array"))

    poisoned = upload(regressor, p.then(attack, hgb[0]), version="0.0.1")

    assert poisoned.status == VersionStatus.REJECTED
    assert "NumpyArrayWrapper" in poisoned.rejection_reason
    good = upload(regressor, serialize(hgb[0], "joblib"), version="1.0.0")
    assert good.status == VersionStatus.READY


def test_the_nested_stream_of_an_object_array_has_the_same_guard(regressor):
    attack = p.state_changes(p.glob("sklearn._loss.link", "IdentityLink"), VALUE)["BUILD-slots"]
    data = p.joblib_object_array(attack + b".")
    before = p.library_state()

    with pytest.raises(ForbiddenStateChange):
        deserialize(data, "joblib")

    assert p.changed(before, p.library_state()) == []


def test_new_instances_still_take_state():
    # an instance the file creates may be given state: that is how every estimator loads
    obj = deserialize(
        p.stream(
            p.glob("copyreg", "_reconstructor")
            + p.embed((IdentityLink, object, None))
            + b"R"
            + p.embed({"note": 1})
            + b"b"
        ),
        "joblib",
    ).estimator
    assert isinstance(obj, IdentityLink)
    assert obj.note == 1
    assert "note" not in vars(IdentityLink)
