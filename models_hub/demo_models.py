"""The demo's models, trained from scikit-learn's bundled datasets (nothing is downloaded)."""

from __future__ import annotations

import io
from dataclasses import dataclass

from models_hub.choices import Task, VersionStatus


@dataclass(frozen=True)
class DemoVersion:
    version: str
    fmt: str
    features: tuple[str, ...] | None = None  # trained on these columns only (a schema change)


# Most demo models come twice: 1.0.0 as a compressed joblib file, 1.0.1 as skops.
TWO_FORMATS = (DemoVersion("1.0.0", "joblib"), DemoVersion("1.0.1", "skops"))
IRIS_PETALS = ("petal length (cm)", "petal width (cm)")


@dataclass(frozen=True)
class DemoModel:
    organization: str  # the demo organization's slug
    name: str
    slug: str
    task: str
    summary: str
    tags: tuple[str, ...]
    card: str
    listed: bool = True
    versions: tuple[DemoVersion, ...] = TWO_FORMATS


DEMO_MODELS = [
    DemoModel(
        organization="acme",
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
        organization="acme",
        name="Wine cultivar",
        slug="wine",
        task=Task.CLASSIFICATION,
        summary="Which of three cultivars a wine comes from, from 13 chemical measurements.",
        tags=("food", "tabular", "gradient-boosting"),
        card="# Wine cultivar\n\nA `HistGradientBoostingClassifier` on the UCI wine data.",
    ),
    DemoModel(
        organization="acme",
        name="Diabetes progression",
        slug="diabetes",
        task=Task.REGRESSION,
        summary="Disease progression one year after baseline, from 10 measurements.",
        tags=("health", "tabular", "random-forest"),
        card="# Diabetes progression\n\nA `RandomForestRegressor` (50 trees) on the diabetes data.",
    ),
    DemoModel(
        organization="globex",
        name="Iris species",
        slug="iris",
        task=Task.CLASSIFICATION,
        summary="Which of three iris species a flower is, from its sepals and petals.",
        tags=("botany", "tabular", "logistic-regression"),
        card=(
            "# Iris species\n\nFisher's iris data (150 rows). Version 2.0.0 needs only the "
            "petal measurements: a new MAJOR version, since its features changed."
        ),
        versions=(
            DemoVersion("1.0.0", "joblib"),
            DemoVersion("1.1.0", "skops"),
            DemoVersion("2.0.0", "skops", features=IRIS_PETALS),
        ),
    ),
    DemoModel(
        organization="globex",
        name="Handwritten digits",
        slug="digits",
        task=Task.CLASSIFICATION,
        summary="Which digit an 8x8 grey-level image shows (64 pixel intensities).",
        tags=("vision", "in-house"),
        card="# Handwritten digits\n\nUnlisted: only Globex's own staff and API keys see it.",
        listed=False,
        versions=(DemoVersion("1.0.0", "skops"),),
    ),
]


def train(slug: str, features: tuple[str, ...] | None = None):
    """The fitted estimator and its training features for one demo model (deterministic)."""
    from sklearn.datasets import (
        load_breast_cancer,
        load_diabetes,
        load_digits,
        load_iris,
        load_wine,
    )
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestRegressor
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def scaled_logistic():
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))

    if slug == "breast-cancer":
        X, y = load_breast_cancer(return_X_y=True, as_frame=True)
        estimator = scaled_logistic()
    elif slug == "wine":
        X, y = load_wine(return_X_y=True, as_frame=True)
        estimator = HistGradientBoostingClassifier(max_iter=50, random_state=0)
    elif slug == "diabetes":
        X, y = load_diabetes(return_X_y=True, as_frame=True)
        estimator = RandomForestRegressor(n_estimators=50, max_depth=8, random_state=0)
    elif slug == "iris":
        X, y = load_iris(return_X_y=True, as_frame=True)
        estimator = scaled_logistic()
    elif slug == "digits":
        X, y = load_digits(return_X_y=True, as_frame=True)
        estimator = scaled_logistic()
    else:
        raise ValueError(f"no demo model {slug!r}")
    if features is not None:
        X = X[list(features)]
    return estimator.fit(X, y), X


def serialize(estimator, fmt: str) -> bytes:
    if fmt == "skops":
        import skops.io

        return skops.io.dumps(estimator)
    import joblib

    buffer = io.BytesIO()
    joblib.dump(estimator, buffer, compress=3)
    return buffer.getvalue()


def load_demo_models(*, organization, published_by=None, log=None) -> int:
    """Train, register, validate (here, not in a worker) and publish the organization's demo
    models through the registry's services; returns how many versions were uploaded.

    Run again, it uploads only what is missing and publishes only versions never published,
    so a version a manager has unpublished stays a draft.
    """
    from models_hub import services
    from models_hub.models import AIModel

    uploaded = 0
    for demo in DEMO_MODELS:
        if demo.organization != organization.slug:
            continue
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
                listed=demo.listed,
            )
        trained = {}  # features -> estimator: formats of one training share it
        for spec in demo.versions:  # in version order: each is compared with the one before
            version = model.versions.filter(version=spec.version).first()
            if version is None:
                if spec.features not in trained:
                    trained[spec.features] = train(demo.slug, spec.features)[0]
                estimator = trained[spec.features]
                version = services.version_upload(
                    model=model,
                    version=spec.version,
                    fileobj=io.BytesIO(serialize(estimator, spec.fmt)),
                    filename=f"{demo.slug}-{spec.version}.{spec.fmt}",
                )
                uploaded += 1
            uploaded_now = version.status == VersionStatus.UPLOADED
            if uploaded_now:  # new, or queued by an earlier run for a worker that never came
                version = services.version_validate(version_id=version.pk) or version
            if version.is_ready and version.first_published_at is None:
                services.version_publish(version=version, published_by=published_by)
            if log is not None and uploaded_now:
                state = "published" if version.is_published else version.status
                log.write(f"  {organization.slug}/{demo.slug} {spec.version} ({spec.fmt}): {state}")
    return uploaded
