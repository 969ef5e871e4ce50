"""Real-time predictions: rows checked against a version's schema, then its cached estimator.

Rows are JSON objects keyed by feature name (every feature, no other key) or arrays in the
version's feature order (exactly ``n_features`` values); every value is a finite number (an
int or a float, never a bool). Everything is checked before the estimator runs, and each
problem is a ``DomainError`` with a stable code and ``details`` naming the row and the feature
(``rows.3.mean radius``).

It is fast on purpose (``bench/predict.py`` holds it to 70% of a bare ``json.loads`` + numpy +
``predict`` floor): the array is built by numpy in one go and checked with numpy (dtype, shape,
``np.isfinite``); only when that fast check fails does a slow pass walk every value to say
exactly what is wrong. Bools are the one thing numpy cannot tell from numbers (``[1, true]``
becomes ``[1, 1]``); a JSON body without the words ``true`` or ``false`` holds none, so
``rows_matrix`` is handed the body's text to know whether it must look for them; a body of
arrays of plain numbers (checked in one pass) holds no string either, so numpy is told the
dtype (it would read a string ``"1.5"`` as 1.5 otherwise).

The steps are separate so that the API can check rows, then charge, then predict:
``rows_from_body`` -> ``rows_matrix`` -> (the gate) -> ``predict_matrix``; ``predict_rows`` does
the last two for callers that charge nothing.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass

import numpy as np
from django.conf import settings

from models_hub import services
from models_hub.errors import ModelsErrorCode
from models_hub.loading import ArtifactTampered, MalformedArtifact, UntrustedContent
from models_hub.models import ModelVersion
from portal.errors import DomainError, ErrorCode, ErrorDetail, PortalErrorCode, detail

# Rows arrive in the version's feature order, so an estimator fitted on a DataFrame is handed
# a plain array (a DataFrame per request costs ~10%): its warning about that says nothing here.
warnings.filterwarnings(
    "ignore", message="X does not have valid feature names", category=UserWarning
)

# At most this many items in ``details`` (the first problems, in row order).
DETAILS_SHOWN = 20
BODY_KEYS = frozenset({"rows"})
# What a body of arrays of JSON numbers is written with, besides its {"rows": } wrapper.
NUMBER_TEXT = b"0123456789.-+eE[], \t\r\n"


@dataclass(frozen=True)
class Prediction:
    """What a version answered for some rows (every value JSON-safe)."""

    version: ModelVersion
    rows: int
    predictions: list
    classes: list | None  # a classifier's classes, in the order of ``probabilities``' columns
    probabilities: list[list[float]] | None  # None for regressors and classifiers without them

    def as_dict(self, **extra) -> dict:
        """The answer's fields (the API adds ``model`` and ``units_charged``)."""
        return {
            "version": self.version.version,
            "rows": self.rows,
            "predictions": self.predictions,
            "classes": self.classes,
            "probabilities": self.probabilities,
            **extra,
        }


def max_rows() -> int:
    return settings.PREDICT_MAX_ROWS


# --- the body ------------------------------------------------------------------------------
def rows_from_body(body: bytes) -> list:
    """The rows of a ``{"rows": [...]}`` body (not checked yet: ``rows_matrix``)."""
    if not body.strip():
        raise DomainError(PortalErrorCode.BAD_REQUEST, 'The body is empty: send {"rows": [...]}.')
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        reason = exc if isinstance(exc, ValueError) else "it nests too deep"
        raise DomainError(PortalErrorCode.BAD_REQUEST, f"The body is not JSON: {reason}.") from None
    if type(payload) is not dict:
        raise _invalid(None, "model_attributes_type", 'The body is a JSON object: {"rows": [...]}.')
    if "rows" not in payload:
        raise _invalid("rows", "missing", 'The body lacks "rows": a list of rows.')
    extra = sorted(set(payload) - BODY_KEYS)
    if extra:
        raise _invalid(extra[0], "extra_forbidden", f"Unknown field {extra[0]!r}: send only rows.")
    rows = payload["rows"]
    if type(rows) is not list:
        raise _invalid("rows", "list_type", '"rows" is a list of objects or of arrays.')
    return rows


def _invalid(field: str | None, code: str, message: str) -> DomainError:
    return DomainError(
        PortalErrorCode.VALIDATION_ERROR, message, details=[detail(field, code, message)]
    )


# --- the rows ------------------------------------------------------------------------------
def rows_matrix(
    *, version: ModelVersion, rows: list, text: bytes | None = None, limit: int | None = None
) -> np.ndarray:
    """The rows as a float64 matrix in the version's feature order, after every check.

    ``text`` is the JSON the rows were parsed from (``rows_from_body``'s body), when there is
    one: a text without ``true`` or ``false`` holds no bool, and an arrays body whose only
    quotes are those of ``"rows"`` holds no string, so numpy can be trusted to convert it.
    """
    check_published(version)
    names = version.feature_names
    count = len(rows)
    limit = limit or max_rows()
    if count == 0:
        raise DomainError(ModelsErrorCode.EMPTY_ROWS, details=[detail("rows", "empty_rows", "")])
    if count > limit:
        message = f"{count} rows: one request may send at most {limit}."
        raise DomainError(
            ModelsErrorCode.TOO_MANY_ROWS,
            message,
            details=[detail("rows", "too_many_rows", message)],
        )
    if text is not None and _only_numbers(text):
        may_hold_bools = may_hold_strings = False  # an arrays body of plain numbers
    else:
        may_hold_bools = text is None or b"true" in text or b"false" in text
        may_hold_strings = True
    matrix = _fast_matrix(rows, names, may_hold_strings)
    if matrix is None or (may_hold_bools and _holds_bool(rows)):
        return _checked_matrix(rows, names)  # raises, naming each problem
    return matrix


def _only_numbers(text: bytes) -> bool:
    """Whether a body is ``{"rows": ...}`` holding only numbers, brackets, commas and spaces
    (one pass in C: what is left once those characters are deleted is the wrapper)."""
    return text.translate(None, NUMBER_TEXT) == b'{"rows":}'


def check_published(version: ModelVersion) -> None:
    if not (version.is_ready and version.is_published):
        state = "a draft" if version.is_ready else version.status
        raise DomainError(
            ModelsErrorCode.VERSION_NOT_PUBLISHED,
            f"Version {version.version} is {state}: only a ready, published version predicts.",
        )


def _fast_matrix(rows: list, names: list[str], may_hold_strings: bool) -> np.ndarray | None:
    """The matrix when every check passes, else None (then the slow pass says why)."""
    first = type(rows[0])
    if first is dict:
        try:
            values = [[row[name] for name in names] for row in rows]
        except (KeyError, TypeError):  # a missing name; a row that is not an object
            return None
        # every row holds every name; the same total then means no row holds another key
        if sum(map(len, rows)) != len(names) * len(rows):
            return None
    elif first is list:
        if set(map(type, rows)) != {list}:
            return None
        values = rows
    else:
        return None
    try:
        # numpy reads "1.5" as 1.5 when told the dtype: only when no string can be there
        matrix = np.array(values, dtype=None if may_hold_strings else np.float64)
    except (ValueError, TypeError, OverflowError):  # ragged rows, nested values, huge ints
        return None
    if matrix.ndim != 2 or matrix.shape[1] != len(names) or matrix.dtype.kind not in "iuf":
        return None
    matrix = matrix.astype(np.float64, copy=False)
    if not np.isfinite(matrix).all():
        return None
    return matrix


def _holds_bool(rows: list) -> bool:
    if type(rows[0]) is dict:
        return any(type(value) is bool for row in rows for value in row.values())
    return any(type(value) is bool for row in rows for value in row)


def _checked_matrix(rows: list, names: list[str]) -> np.ndarray:
    """Walk every row and value; raise with the first problems, or build the matrix."""
    problems: list[tuple[ErrorCode, ErrorDetail]] = []
    shape = type(rows[0]) if type(rows[0]) in (dict, list) else None
    for index, row in enumerate(rows):
        if len(problems) >= DETAILS_SHOWN:
            break
        problems.extend(_row_problems(index, row, shape, names))
    if problems:
        details = [item for _, item in problems[:DETAILS_SHOWN]]
        error = problems[0][0]
        raise DomainError(error, f"{details[0]['message']}", details=details)
    ordered = rows if shape is list else [[row[name] for name in names] for row in rows]
    return np.array(ordered, dtype=np.float64)


def _row_problems(index: int, row, shape, names: list[str]):
    field = f"rows.{index}"
    if type(row) is not shape or shape is None:
        kind = _json_kind(row)
        want = "an object" if shape is dict else "an array" if shape is list else "a row"
        message = (
            f"Row {index} is {kind}; every row is {want}"
            if shape is not None
            else f"Row {index} is {kind}: a row is an object keyed by feature name or an array."
        )
        yield ModelsErrorCode.MIXED_ROW_SHAPES, detail(field, "mixed_row_shapes", message)
        return
    if shape is dict:
        known = set(names)
        for name in names:
            if name not in row:
                message = f"Row {index} lacks the feature {name!r}."
                yield (
                    ModelsErrorCode.FEATURE_MISSING,
                    detail(f"{field}.{name}", "feature_missing", message),
                )
        for key in row:
            if key not in known:
                message = f"Row {index} names {key!r}, which is not a feature of this version."
                yield (
                    ModelsErrorCode.FEATURE_UNKNOWN,
                    detail(f"{field}.{key}", "feature_unknown", message),
                )
        pairs = [(name, row[name]) for name in names if name in row]
    else:
        if len(row) != len(names):
            message = f"Row {index} holds {len(row)} values; this version takes {len(names)}."
            yield ModelsErrorCode.WRONG_FEATURE_COUNT, detail(field, "wrong_feature_count", message)
            return
        pairs = list(zip(names, row, strict=True))
    for name, value in pairs:
        if not _finite_number(value):
            message = f"Row {index}, feature {name!r}: {_json_kind(value)} is not a finite number."
            yield ModelsErrorCode.NOT_NUMERIC, detail(f"{field}.{name}", "not_numeric", message)


def _finite_number(value) -> bool:
    if type(value) is float:
        return math.isfinite(value)
    if type(value) is int:
        try:
            return math.isfinite(float(value))
        except OverflowError:
            return False
    return False


def _json_kind(value) -> str:
    if value is None:
        return "null"
    if type(value) is bool:
        return "a bool"
    if type(value) is str:
        return "a string"
    if type(value) is dict:
        return "an object"
    if type(value) is list:
        return "an array"
    if type(value) is float and not math.isfinite(value):
        return repr(value)
    return "a number"


# --- the estimator -------------------------------------------------------------------------
def predict_matrix(*, version: ModelVersion, matrix: np.ndarray) -> Prediction:
    """The estimator's answer for a checked matrix (``rows_matrix``), from the process cache."""
    check_published(version)
    estimator = estimator_of(version)
    predictions = estimator.predict(matrix).tolist()
    classes = probabilities = None
    if hasattr(estimator, "classes_"):
        classes = estimator.classes_.tolist()
        if hasattr(estimator, "predict_proba"):
            probabilities = estimator.predict_proba(matrix).tolist()
    return Prediction(
        version=version,
        rows=len(predictions),
        predictions=predictions,
        classes=classes,
        probabilities=probabilities,
    )


def predict_rows(*, version: ModelVersion, rows: list) -> Prediction:
    """Check the rows (objects or arrays), then predict: for callers that charge nothing."""
    return predict_matrix(version=version, matrix=rows_matrix(version=version, rows=rows))


def estimator_of(version: ModelVersion):
    """The version's estimator from this process's cache (``model_unavailable`` 503 when its
    file cannot be loaded)."""
    try:
        return services.estimator_for(version=version)
    except (ArtifactTampered, FileNotFoundError, MalformedArtifact, UntrustedContent) as exc:
        raise DomainError(
            ModelsErrorCode.MODEL_UNAVAILABLE,
            f"Version {version.version}'s estimator could not be loaded ({type(exc).__name__}).",
        ) from None
