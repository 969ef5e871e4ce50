"""The predict endpoint's rows per second against the floor, on the same 1,000-row body.

For the demo's RandomForest (diabetes, a regressor) and its breast-cancer pipeline
(StandardScaler + LogisticRegression), a 1,000-row body is sent through Django's test client to
``POST /api/models/{org}/{slug}/versions/{version}/predict`` with an API key (authentication,
the model and version look-ups, the row checks, the metering gate, the cached estimator, the
answer), and handed in the same process to the floor: stdlib ``json.loads``, the numpy array
(objects: one list comprehension in feature order), the estimator's ``predict`` (and
``predict_proba``), ``json.dumps`` of the answer. Interleaved; the ratio is the endpoint's
rows per second over the floor's (the floor's median time over the endpoint's): target >= 0.7.
The figure is arrays (``predict.forest``, ``predict.cancer``); objects are cases of their own.
"""

from __future__ import annotations

import io
import json

from bench._common import case, measure, migrate

TARGET = ">=0.7"
ROWS = 1000
QUICK = {"warmup": 3, "samples": 40, "budget_s": 8.0}
FULL = {"warmup": 10, "samples": 400, "budget_s": 60.0}
MODELS = {"forest": "diabetes", "cancer": "breast-cancer"}


def _world():
    """An organization, the two demo models published (joblib, as the demo uploads 1.0.0),
    and a key with ``predict``."""
    from django.contrib.auth import get_user_model

    from models_hub import services
    from models_hub.demo_models import DEMO_MODELS, serialize, train
    from portal.choices import ApiScope
    from portal.services import api_key_create, organization_create

    organization = organization_create(name="Bench Models", slug="bench")
    owner = get_user_model().objects.create_user(username="bench", email="bench@example.com")
    issued = api_key_create(
        organization=organization, owner=owner, name="bench", scopes=[str(ApiScope.PREDICT)]
    )
    demos = {demo.slug: demo for demo in DEMO_MODELS}
    world = {}
    for name, slug in MODELS.items():
        estimator, X = train(slug)
        model = services.model_create(
            organization=organization, name=demos[slug].name, task=demos[slug].task, listed=True
        )
        row = services.version_upload(
            model=model,
            version="1.0.0",
            fileobj=io.BytesIO(serialize(estimator, "joblib")),
            filename="m.joblib",
        )
        version = services.version_validate(version_id=row.pk)
        services.version_publish(version=version)
        sample = X.sample(ROWS, replace=True, random_state=0)
        world[name] = {
            "path": f"/api/models/bench/{model.slug}/versions/1.0.0/predict",
            "estimator": services.estimator_for(version=version),  # the cached one
            "names": list(X.columns),
            "arrays": json.dumps({"rows": sample.to_numpy().tolist()}).encode(),
            "objects": json.dumps({"rows": sample.to_dict(orient="records")}).encode(),
        }
    return world, {"Authorization": f"Bearer {issued.raw_key}"}


def _floor(estimator, names: list[str], body: bytes):
    import numpy as np

    def run() -> str:
        rows = json.loads(body)["rows"]
        if type(rows[0]) is dict:
            rows = [[row[name] for name in names] for row in rows]
        matrix = np.array(rows, dtype=np.float64)
        answer = {"predictions": estimator.predict(matrix).tolist()}
        if hasattr(estimator, "predict_proba"):
            answer["probabilities"] = estimator.predict_proba(matrix).tolist()
        return json.dumps(answer)

    return run


def run(quick: bool) -> list[dict]:
    import warnings

    migrate()
    from django.conf import settings
    from django.test import Client

    import models_hub.predict  # noqa: F401  (its warning filter: the floor gets it too)

    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    params = QUICK if quick else FULL
    world, headers = _world()
    client = Client(HTTP_HOST="localhost")  # in the default ALLOWED_HOSTS
    settings.DEBUG = False  # no query log
    results = []
    for name, item in world.items():
        for shape in ("arrays", "objects"):
            body = item[shape]

            def endpoint(path=item["path"], body=body):
                return client.post(path, body, content_type="application/json", headers=headers)

            def check(which, result, item=item):
                if which == "endpoint" and result.status_code != 200:
                    raise RuntimeError(f"{item['path']}: {result.status_code} {result.content!r}")

            timings = measure(
                {"endpoint": endpoint, "floor": _floor(item["estimator"], item["names"], body)},
                samples=params["samples"],
                warmup=params["warmup"],
                budget_s=params["budget_s"],
                check=check,
            )
            api, floor = timings["endpoint"], timings["floor"]
            bench = f"predict.{name}" if shape == "arrays" else f"predict.{name}_objects"
            results.append(
                case(
                    bench,
                    ratio=floor.median_ms / api.median_ms,
                    target=TARGET,
                    detail={
                        "meaning": "endpoint rows/s / floor rows/s (json.loads, numpy, "
                        "predict[_proba], json.dumps), same body, interleaved",
                        "mode": "quick" if quick else "full",
                        "model": MODELS[name],
                        "rows": ROWS,
                        "shape": shape,
                        "body_bytes": len(body),
                        "endpoint_rows_per_s": round(ROWS / api.median_ms * 1000),
                        "floor_rows_per_s": round(ROWS / floor.median_ms * 1000),
                        "endpoint": api.summary(),
                        "floor": floor.summary(),
                    },
                )
            )
    return results
