"""The demo's models, trained from scikit-learn's bundled datasets (nothing is downloaded)."""

from __future__ import annotations

import io
from dataclasses import dataclass

from models_hub.choices import Task


@dataclass(frozen=True)
class DemoModel:
    name: str
    slug: str
    task: str
    summary: str
    tags: tuple[str, ...]
    card: str


DEMO_MODELS = [
    DemoModel(
        name="Breast cancer screening",
        slug="breast-cancer",
        task=Task.CLASSIFICATION,
        summary="Malignant or benign from 30 cell-nucleus measurements.",
        tags=("health", "tabular", "logistic-regression"),
        card=(
            "# Breast cancer screening\n\nA `StandardScaler` + `LogisticRegression` pipeline "
            "trained on the Wisconsin diagnostic dataset (569 rows).\n\n"
            "**Not for clinical use.** Classes: 0 = malignant, 1 = benign."
        ),
    ),
    DemoModel(
        name="Wine cultivar",
        slug="wine",
        task=Task.CLASSIFICATION,
        summary="Which of three cultivars a wine comes from, from 13 chemical measurements.",
        tags=("food", "tabular", "gradient-boosting"),
        card="# Wine cultivar\n\nA `HistGradientBoostingClassifier` on the UCI wine data.",
    ),
    DemoModel(
        name="Diabetes progression",
        slug="diabetes",
        task=Task.REGRESSION,
        summary="Disease progression one year after baseline, from 10 measurements.",
        tags=("health", "tabular", "random-forest"),
        card="# Diabetes progression\n\nA `RandomForestRegressor` (50 trees) on the diabetes data.",
    ),
]


def train(slug: str):
    """The fitted estimator and its training features for one demo model (deterministic)."""
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestRegressor
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if slug == "breast-cancer":
        X, y = load_breast_cancer(return_X_y=True, as_frame=True)
        estimator = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    elif slug == "wine":
        X, y = load_wine(return_X_y=True, as_frame=True)
        estimator = HistGradientBoostingClassifier(max_iter=50, random_state=0)
    elif slug == "diabetes":
        X, y = load_diabetes(return_X_y=True, as_frame=True)
        estimator = RandomForestRegressor(n_estimators=50, max_depth=8, random_state=0)
    else:
        raise ValueError(f"no demo model {slug!r}")
    return estimator.fit(X, y), X


def serialize(estimator, fmt: str) -> bytes:
    if fmt == "skops":
        import skops.io

        return skops.io.dumps(estimator)
    import joblib

    buffer = io.BytesIO()
    joblib.dump(estimator, buffer, compress=3)
    return buffer.getvalue()


# The demo registers each model twice: 1.0.0 as a compressed joblib file, 1.0.1 as skops.
DEMO_VERSIONS = (("1.0.0", "joblib"), ("1.0.1", "skops"))


def load_demo_models(*, organization, validate_now: bool = False, log=None) -> int:
    """Train and register the demo models through the registry's services; returns uploads."""
    from models_hub import services
    from models_hub.models import AIModel, ModelVersion

    uploaded = 0
    for demo in DEMO_MODELS:
        model = AIModel.objects.filter(organization=organization, slug=demo.slug).first()
        if model is None:
            model = services.model_create(
                organization=organization,
                name=demo.name,
                slug=demo.slug,
                task=demo.task,
                summary=demo.summary,
                model_card=demo.card,
                tags=demo.tags,
                listed=True,
            )
        missing = [
            (version, fmt)
            for version, fmt in DEMO_VERSIONS
            if not ModelVersion.objects.filter(model=model, version=version).exists()
        ]
        if not missing:
            continue
        estimator, _ = train(demo.slug)
        for version, fmt in missing:
            row = services.version_upload(
                model=model,
                version=version,
                fileobj=io.BytesIO(serialize(estimator, fmt)),
                filename=f"{demo.slug}-{version}.{fmt}",
            )
            uploaded += 1
            if validate_now:
                services.version_validate(version_id=row.pk)
            if log is not None:
                log.write(f"  registered {model.name} {version} ({fmt})")
    return uploaded
