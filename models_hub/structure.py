"""What a loaded estimator's Cython parts must look like before anything predicts with it.

scikit-learn's trees, histogram-boosting predictors and neighbour search trees take their
arrays from the file as they are and index them without bounds checks: a child index past the
end, a feature past the input's width, or a child that points back up (a loop) would make a
prediction read outside its arrays, crash the worker or never return. ``check_structure``
walks the loaded object graph and refuses any such part, naming it.
"""

from __future__ import annotations

import functools

import numpy as np

from models_hub.safety import MalformedArtifact

MAX_OBJECTS = 2_000_000  # a walk over more objects than this is a malformed file
# What a functools.partial in a loaded estimator may wrap (the allow-list admits partial for
# histogram boosting's categorical preprocessing, and nothing else).
PARTIAL_FUNCTIONS = ("sklearn.utils.validation.check_array",)


def _fail(what: str) -> None:
    raise MalformedArtifact(f"the estimator's {what}")


def _children_below(left, right, internal, n: int, what: str) -> None:
    """Each internal node's children come after it and inside the node array."""
    index = np.arange(n)
    for child in (left, right):
        bad = internal & ((child <= index) | (child >= n))
        if bad.any():
            _fail(f"{what} has a node whose child is outside the tree or above it")


def check_tree(tree, width: int | None) -> None:
    """A fitted ``sklearn.tree._tree.Tree``."""
    n = int(tree.node_count)
    if n < 1:
        _fail("decision tree has no nodes")
    n_features = int(tree.n_features)
    if n_features < 1 or (width is not None and n_features > width):
        _fail(f"decision tree reads {n_features} features of an input of {width}")
    left = np.asarray(tree.children_left)
    right = np.asarray(tree.children_right)
    leaf = left == -1
    if (leaf != (right == -1)).any():
        _fail("decision tree has a node with one child")
    _children_below(left, right, ~leaf, n, "decision tree")
    feature = np.asarray(tree.feature)
    if ((feature < 0) | (feature >= n_features))[~leaf].any():
        _fail("decision tree splits on a feature outside its input")


def check_predictor(predictor, width: int | None) -> None:
    """A histogram-boosting ``TreePredictor``."""
    from sklearn.ensemble._hist_gradient_boosting.common import (
        PREDICTOR_RECORD_DTYPE,
        X_BITSET_INNER_DTYPE,
    )

    nodes = getattr(predictor, "nodes", None)
    if not (
        isinstance(nodes, np.ndarray)
        and nodes.dtype == PREDICTOR_RECORD_DTYPE
        and nodes.ndim == 1
        and nodes.size
    ):
        _fail("boosting tree's nodes are malformed")
    n = len(nodes)
    internal = nodes["is_leaf"] == 0
    _children_below(nodes["left"], nodes["right"], internal, n, "boosting tree")
    if width is not None and (nodes["feature_idx"][internal] >= width).any():
        _fail("boosting tree splits on a feature outside its input")
    bitsets = [predictor.binned_left_cat_bitsets, predictor.raw_left_cat_bitsets]
    for bitset in bitsets:
        if (
            not (isinstance(bitset, np.ndarray) and bitset.dtype == X_BITSET_INNER_DTYPE)
            or bitset.ndim != 2
            or bitset.shape[1] != 8
        ):
            _fail("boosting tree's category sets are malformed")
    categorical = internal & (nodes["is_categorical"] != 0)
    rows = min(len(b) for b in bitsets)
    if (nodes["bitset_idx"][categorical] >= rows).any():
        _fail("boosting tree names a category set it does not have")


def check_search_tree(tree) -> None:
    """A nearest-neighbour ``KDTree`` or ``BallTree`` (and its metric)."""
    data, idx_array, node_data, node_bounds = (np.asarray(a) for a in tree.get_arrays())
    if data.ndim != 2 or idx_array.ndim != 1 or len(idx_array) != len(data):
        _fail("neighbour tree's data and index do not match")
    n_samples, n_features = data.shape
    if len(idx_array) and ((idx_array < 0) | (idx_array >= n_samples)).any():
        _fail("neighbour tree indexes a sample it does not have")
    n_nodes = len(node_data)
    if n_nodes < 1 or node_bounds.ndim != 3 or node_bounds.shape[1:] != (n_nodes, n_features):
        _fail("neighbour tree's nodes and bounds do not match")
    start, end = node_data["idx_start"], node_data["idx_end"]
    if ((start < 0) | (start > end) | (end > n_samples)).any():
        _fail("neighbour tree has a node outside its samples")
    internal = np.flatnonzero(node_data["is_leaf"] == 0)
    if (2 * internal + 2 >= n_nodes).any():
        _fail("neighbour tree has a node whose children are outside the tree")
    _check_metric(tree.__getstate__()[11], n_features)


def _check_metric(metric, n_features: int) -> None:
    from sklearn.metrics._dist_metrics import DistanceMetric

    if not isinstance(metric, DistanceMetric):
        _fail("neighbour tree has no distance metric")
    _p, vec, mat = metric.__getstate__()[:3]
    vec, mat = np.asarray(vec), np.asarray(mat)
    name = type(metric).__name__
    if name.startswith("SEuclidean") and vec.shape != (n_features,):
        _fail("distance metric's variances do not match its input")
    if name.startswith("Mahalanobis") and mat.shape != (n_features, n_features):
        _fail("distance metric's matrix does not match its input")
    if name.startswith("Minkowski") and vec.size not in (0, 1, n_features):
        _fail("distance metric's weights do not match its input")


def check_structure(estimator) -> None:
    """Walk everything the estimator holds and check each tree-like part."""
    try:
        _walk(estimator)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
        raise MalformedArtifact(
            f"the estimator's parts are malformed ({type(exc).__name__}: {exc})"
        ) from None


def _walk(estimator) -> None:
    from sklearn.base import BaseEstimator
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.neighbors._ball_tree import BallTree
    from sklearn.neighbors._kd_tree import KDTree
    from sklearn.tree._tree import Tree

    # (object, the input width of the nearest estimator, whether it shares that input)
    stack = [(estimator, None, False)]
    seen: set[int] = set()
    while stack:
        obj, width, shared = stack.pop()
        if id(obj) in seen or isinstance(obj, (str, bytes, int, float, bool, type(None))):
            continue
        seen.add(id(obj))
        if len(seen) > MAX_OBJECTS:
            raise MalformedArtifact("the estimator holds too many objects")
        if isinstance(obj, Tree):
            check_tree(obj, width)
        elif isinstance(obj, TreePredictor):
            check_predictor(obj, width)
        elif isinstance(obj, (KDTree, BallTree)):
            check_search_tree(obj)
        elif isinstance(obj, functools.partial):
            _check_partial(obj)
            stack.extend((item, width, False) for item in (*obj.args, *obj.keywords.values()))
        elif isinstance(obj, np.ndarray):
            if obj.dtype.hasobject:
                stack.extend((item, width, shared) for item in obj.ravel())
        elif isinstance(obj, dict):
            stack.extend((item, width, shared) for item in obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend((item, width, shared) for item in obj)
        elif isinstance(obj, BaseEstimator):
            stack.extend(_estimator_children(obj, width, shared))
        elif hasattr(obj, "__dict__"):
            stack.extend((item, width, False) for item in vars(obj).values())


def _check_partial(partial: functools.partial) -> None:
    func = partial.func
    name = f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', '')}"
    if name not in PARTIAL_FUNCTIONS:
        _fail(f"partial function wraps {name}, which an estimator may not call")


def _estimator_children(estimator, width, shared):
    own = getattr(estimator, "n_features_in_", None)
    if isinstance(own, (int, np.integer)):
        own = int(own)
        if shared and width is not None and own > width:
            _fail(f"ensemble member reads {own} features of an input of {width}")
        width = own
    for name, value in vars(estimator).items():
        # an ensemble's members see (a subset of) the ensemble's own input
        yield value, width, name == "estimators_"
