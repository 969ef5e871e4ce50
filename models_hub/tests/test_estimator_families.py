"""Every estimator family a customer would upload, in every way it is saved, loads and
predicts exactly what it predicted before it was saved.

joblib with each compression it offers, a plain protocol-2 pickle, and skops stored and
deflated; linear models, trees and forests, gradient boosting (whose trees sit in an object
array pickled with protocol 5), histogram boosting (categorical splits too), SVMs, kNN (brute
force, KD and ball trees, a Mahalanobis metric), naive Bayes and a pipeline with a column
transformer.
"""

from __future__ import annotations

import io
import pickle
import zipfile

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io

from models_hub.choices import VersionStatus
from models_hub.services import estimator_for
from models_hub.tests import pickles as p


def _families():
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_breast_cancer, load_diabetes
    from sklearn.ensemble import (
        ExtraTreesRegressor,
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
    )
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.svm import SVC, SVR
    from sklearn.tree import DecisionTreeClassifier

    Xc, yc = load_breast_cancer(return_X_y=True)
    Xr, yr = load_diabetes(return_X_y=True)
    X4 = Xc[:, :4]  # few features: neighbours are searched with a KD or ball tree
    categories = np.column_stack([Xc[:, :3], (Xc[:, 5] * 40).astype(int) % 4])
    frame = pd.DataFrame(Xc[:, :5], columns=[f"f{i}" for i in range(5)])
    frame["grade"] = (Xc[:, 5] * 40).astype(int) % 4
    columns = ColumnTransformer(
        [
            ("scale", StandardScaler(), ["f0", "f1", "f2", "f3", "f4"]),
            ("grade", OneHotEncoder(handle_unknown="ignore"), ["grade"]),
        ]
    )
    c, r = "classification", "regression"
    return {
        "logistic": (c, LogisticRegression(max_iter=5000), Xc, yc),
        "ridge": (r, Ridge(), Xr, yr),
        "tree": (c, DecisionTreeClassifier(max_depth=5, random_state=0), Xc, yc),
        "forest": (c, RandomForestClassifier(n_estimators=5, random_state=0), Xc, yc),
        "extra-trees": (r, ExtraTreesRegressor(n_estimators=5, random_state=0), Xr, yr),
        "gradient-boosting": (c, GradientBoostingClassifier(n_estimators=10), Xc, yc),
        "gradient-boosting-reg": (r, GradientBoostingRegressor(n_estimators=10), Xr, yr),
        "hist-boosting": (c, HistGradientBoostingClassifier(max_iter=10), Xc, yc),
        "hist-boosting-reg": (r, HistGradientBoostingRegressor(max_iter=10), Xr, yr),
        "svc": (c, SVC(), Xc, yc),
        "svr": (r, SVR(), Xr, yr),
        "hist-boosting-categorical": (
            c,
            HistGradientBoostingClassifier(max_iter=10, categorical_features=[3]),
            categories,
            yc,
        ),
        "knn-brute": (c, KNeighborsClassifier(), Xc, yc),
        "knn-kd-tree": (c, KNeighborsClassifier(), X4, yc),
        "knn-ball-tree-reg": (r, KNeighborsRegressor(algorithm="ball_tree"), Xr[:, :4], yr),
        "knn-mahalanobis": (
            c,
            KNeighborsClassifier(
                algorithm="ball_tree",
                metric="mahalanobis",
                metric_params={"VI": np.linalg.inv(np.cov(X4.T))},
            ),
            X4,
            yc,
        ),
        "naive-bayes": (c, GaussianNB(), Xc, yc),
        "column-pipeline": (
            c,
            make_pipeline(columns, LogisticRegression(max_iter=5000)),
            frame,
            yc,
        ),
    }


def _joblib(compress):
    def save(estimator):
        buffer = io.BytesIO()
        joblib.dump(estimator, buffer, compress=compress)
        return buffer.getvalue()

    return save


def _skops(compression):
    return lambda estimator: p.skops_with(skops.io.dumps(estimator), compression=compression)


FORMATS = {
    "joblib": (_joblib(0), "m.joblib"),
    "joblib-zlib": (_joblib(("zlib", 3)), "m.joblib"),
    "joblib-gzip": (_joblib(("gzip", 3)), "m.joblib"),
    "joblib-bz2": (_joblib(("bz2", 3)), "m.joblib"),
    "joblib-lzma": (_joblib(("lzma", 3)), "m.joblib"),
    "joblib-xz": (_joblib(("xz", 3)), "m.joblib"),
    "pickle-protocol-2": (lambda estimator: pickle.dumps(estimator, protocol=2), "m.pkl"),
    "skops": (_skops(zipfile.ZIP_STORED), "m.skops"),
    "skops-deflated": (_skops(zipfile.ZIP_DEFLATED), "m.skops"),
}


@pytest.fixture(scope="module")
def fitted():
    out = {}
    for name, (task, estimator, X, y) in _families().items():
        out[name] = (task, estimator.fit(X, y), X)
    return out


def _outputs(estimator, X) -> dict[str, np.ndarray]:
    outputs = {"predict": estimator.predict(X)}
    for method in ("predict_proba", "decision_function"):
        if hasattr(estimator, method):
            outputs[method] = getattr(estimator, method)(X)
    return outputs


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("family", list(_families()))
def test_each_family_loads_and_predicts_exactly(fitted, family, fmt, upload, classifier, regressor):
    task, estimator, X = fitted[family]
    save, filename = FORMATS[fmt]
    model = classifier if task == "classification" else regressor

    version = upload(model, save(estimator), filename=filename)

    assert version.status == VersionStatus.READY, version.rejection_reason
    loaded = estimator_for(version=version)
    expected, got = _outputs(estimator, X), _outputs(loaded, X)
    assert got.keys() == expected.keys()
    for method, values in expected.items():
        assert got[method].dtype == values.dtype, method
        np.testing.assert_array_equal(got[method], values, err_msg=method)
