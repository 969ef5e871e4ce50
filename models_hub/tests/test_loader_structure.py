"""Trees, boosting predictors and neighbour trees whose indices would read outside their
arrays (or loop forever) are refused after loading, before anything predicts with them.

scikit-learn takes these arrays from the file as they are; its Cython prediction code does no
bounds checks. Each case edits one index of a real fitted estimator.
"""

from __future__ import annotations

import copy
import functools
import io

import joblib
import numpy as np
import pytest
import skops.io
from sklearn.datasets import load_breast_cancer

from models_hub.choices import VersionStatus
from models_hub.loading import deserialize
from models_hub.safety import MalformedArtifact

X, Y = load_breast_cancer(return_X_y=True)
X4 = X[:, :4]


def _dump(estimator, fmt: str) -> bytes:
    if fmt == "skops":
        return skops.io.dumps(estimator)
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    return buffer.getvalue()


def _refused(estimator, fmt: str, match: str) -> None:
    with pytest.raises(MalformedArtifact, match=match):
        deserialize(_dump(estimator, fmt), fmt)


def _rebuilt_tree(tree, *, n_features=None, edit=None):
    """A ``Tree`` like ``tree`` with its node array edited (scikit-learn accepts it)."""
    from sklearn.tree._tree import Tree

    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    if edit:
        edit(nodes)
    new = Tree(n_features or tree.n_features, tree.n_classes.copy(), tree.n_outputs)
    new.__setstate__({**state, "nodes": nodes})
    return new


@pytest.fixture(scope="module")
def decision_tree():
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(max_depth=4, random_state=0).fit(X, Y)


def _set(field, index, value):
    def edit(nodes):
        nodes[field][index] = value

    return edit


@pytest.mark.parametrize("fmt", ["joblib", "skops"])
@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (_set("feature", 0, 10**6), "feature outside its input"),
        (_set("left_child", 0, 0), "child is outside the tree or above it"),
        (_set("right_child", 0, 10**6), "child is outside the tree or above it"),
        (_set("right_child", 0, -1), "a node with one child"),
    ],
    ids=["feature", "loop", "past-the-end", "one-child"],
)
def test_a_decision_tree_with_a_bad_index_is_refused(decision_tree, fmt, edit, match):
    estimator = copy.deepcopy(decision_tree)
    estimator.tree_ = _rebuilt_tree(decision_tree.tree_, edit=edit)

    _refused(estimator, fmt, match)


def test_a_tree_wider_than_its_estimators_input_is_refused(decision_tree):
    estimator = copy.deepcopy(decision_tree)
    estimator.tree_ = _rebuilt_tree(decision_tree.tree_, n_features=10**6)

    _refused(estimator, "joblib", "reads 1000000 features of an input of 30")


def test_an_ensemble_member_wider_than_the_ensemble_is_refused():
    from sklearn.ensemble import GradientBoostingClassifier

    boosting = GradientBoostingClassifier(n_estimators=3).fit(X, Y)
    stage = boosting.estimators_[0, 0]
    stage.n_features_in_ = 10**6
    stage.tree_ = _rebuilt_tree(stage.tree_, n_features=10**6, edit=_set("feature", 0, 10**5))

    _refused(boosting, "joblib", "ensemble member reads 1000000 features of an input of 30")


@pytest.fixture(scope="module")
def hist_boosting():
    from sklearn.ensemble import HistGradientBoostingClassifier

    categories = np.column_stack([X[:, :3], (X[:, 5] * 40).astype(int) % 4])
    return HistGradientBoostingClassifier(max_iter=3, categorical_features=[3]).fit(categories, Y)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("left", 0, "child is outside the tree or above it"),
        ("right", 10**6, "child is outside the tree or above it"),
        ("feature_idx", 10**4, "feature outside its input"),
        ("bitset_idx", 10**4, "category set it does not have"),
    ],
)
def test_a_boosting_tree_with_a_bad_index_is_refused(hist_boosting, field, value, match):
    estimator = copy.deepcopy(hist_boosting)
    nodes = estimator._predictors[0][0].nodes
    internal = np.flatnonzero(nodes["is_leaf"] == 0)
    if field == "bitset_idx":
        nodes["is_categorical"][internal[0]] = 1
    nodes[field][internal[0]] = value

    _refused(estimator, "joblib", match)


def _neighbours(**kwargs):
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(**kwargs).fit(X4, Y)


def _rebuilt_search_tree(search_tree, edit):
    state = list(search_tree.__getstate__())
    edit(state)
    new = type(search_tree).__new__(type(search_tree))
    new.__setstate__(tuple(state))
    return new


@pytest.mark.parametrize("algorithm", ["kd_tree", "ball_tree"])
@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda state: state[1].__setitem__(0, 10**6), "indexes a sample it does not have"),
        (
            lambda state: state[2]["idx_end"].__setitem__(0, 10**6),
            "a node outside its samples",
        ),
        (
            lambda state: state[2]["is_leaf"].__setitem__(len(state[2]) - 1, 0),
            "children are outside the tree",
        ),
    ],
    ids=["sample-index", "node-range", "leaf-with-children"],
)
def test_a_neighbour_tree_with_a_bad_index_is_refused(algorithm, edit, match):
    estimator = _neighbours(algorithm=algorithm)
    estimator._tree = _rebuilt_search_tree(estimator._tree, edit)

    _refused(estimator, "joblib", match)


def test_a_metric_sized_for_another_input_is_refused():
    from sklearn.metrics import DistanceMetric

    estimator = _neighbours(
        algorithm="ball_tree", metric="seuclidean", metric_params={"V": np.ones(4)}
    )
    wrong = DistanceMetric.get_metric("seuclidean", V=np.ones(2))

    def edit(state):
        state[11] = wrong

    estimator._tree = _rebuilt_search_tree(estimator._tree, edit)

    _refused(estimator, "joblib", "variances do not match its input")


@pytest.mark.parametrize("fmt", ["joblib", "skops"])
def test_a_partial_of_anything_but_check_array_is_refused(fmt):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    pipeline = make_pipeline(
        FunctionTransformer(functools.partial(np.float64)), LogisticRegression()
    )
    pipeline.fit(np.eye(4), [0, 1, 0, 1])

    _refused(pipeline, fmt, "partial function wraps numpy.float64")


def test_a_bad_tree_upload_is_rejected_with_the_reason(upload, classifier, decision_tree):
    estimator = copy.deepcopy(decision_tree)
    estimator.tree_ = _rebuilt_tree(decision_tree.tree_, edit=_set("left_child", 0, 0))

    version = upload(classifier, _dump(estimator, "joblib"))

    assert version.status == VersionStatus.REJECTED
    assert "child is outside the tree or above it" in version.rejection_reason
