"""The guarded model loader against the libraries' own loaders, on the same bytes.

Each case loads one artifact with ``models_hub.loading.deserialize`` (allow-list, state and
size guards, structure checks) and with the library's unguarded loader (``joblib.load``, or
``skops.io.loads`` trusting every type), interleaved in one process. The ratio is what the
guards cost a worker per load (a cache miss: loaded estimators are cached by sha256).
"""

from __future__ import annotations

import io

from bench._common import case, measure, setup_django

TARGET = "<=1.5"
QUICK = {"warmup": 2, "samples": 15, "budget_s": 20.0, "trees": 20}
FULL = {"warmup": 3, "samples": 60, "budget_s": 120.0, "trees": 200}


def _artifacts(trees: int) -> dict[str, tuple[str, bytes]]:
    import joblib
    import skops.io
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import (
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )

    X, y = load_breast_cancer(return_X_y=True)
    estimators = {
        "forest": RandomForestClassifier(n_estimators=trees, random_state=0),
        "gradient_boosting": GradientBoostingClassifier(n_estimators=trees, random_state=0),
        "hist_boosting": HistGradientBoostingClassifier(max_iter=trees, random_state=0),
    }
    out = {}
    for name, estimator in estimators.items():
        estimator.fit(X, y)
        buffer = io.BytesIO()
        joblib.dump(estimator, buffer, compress=3)
        out[f"joblib_{name}"] = ("joblib", buffer.getvalue())
    out["skops_forest"] = ("skops", skops.io.dumps(estimators["forest"]))
    return out


def _plain_loader(fmt: str, data: bytes):
    import joblib
    import skops.io

    if fmt == "joblib":
        return lambda: joblib.load(io.BytesIO(data))
    trusted = skops.io.get_untrusted_types(data=data)
    return lambda: skops.io.loads(data, trusted=trusted)


def run(quick: bool) -> list[dict]:
    setup_django()
    from models_hub.loading import deserialize

    params = QUICK if quick else FULL
    results = []
    for name, (fmt, data) in _artifacts(params["trees"]).items():
        timings = measure(
            {
                "guarded": lambda fmt=fmt, data=data: deserialize(data, fmt),
                "plain": _plain_loader(fmt, data),
            },
            samples=params["samples"],
            warmup=params["warmup"],
            budget_s=params["budget_s"],
        )
        guarded, plain = timings["guarded"], timings["plain"]
        results.append(
            case(
                f"loader.{name}",
                ratio=guarded.median_ms / plain.median_ms,
                target=TARGET,
                detail={
                    "meaning": "median guarded deserialize / median unguarded library load",
                    "mode": "quick" if quick else "full",
                    "trees": params["trees"],
                    "artifact_bytes": len(data),
                    "samples": guarded.count,
                    "guarded": guarded.summary(),
                    "plain": plain.summary(),
                },
            )
        )
    return results
