"""The model registry's error codes (see ``portal.errors`` for the vocabulary)."""

from __future__ import annotations

from portal.errors import ErrorCode


class ModelsErrorCode(ErrorCode):
    MODEL_NOT_FOUND = ("model_not_found", 404, "No such model.")
    VERSION_NOT_FOUND = ("version_not_found", 404, "No such version of this model.")
    VERSION_EXISTS = ("version_exists", 409, "This version of the model exists already.")
    VERSION_NOT_READY = ("version_not_ready", 409, "Only a ready version can be published.")
    VERSION_NOT_DELETABLE = (
        "version_not_deletable",
        409,
        "Only a rejected or retired version that was never public can be deleted.",
    )
    VERSION_DELETE_INCOMPLETE = (
        "version_delete_incomplete",
        503,
        "The file store failed while deleting; the version is marked deleting: delete it again.",
    )
    ARTIFACT_TOO_LARGE = ("artifact_too_large", 413, "The file is over the size limit.")
    EMPTY_ARTIFACT = ("empty_artifact", 422, "The file is empty.")
    UNKNOWN_FORMAT = ("unknown_format", 422, "The file's format is not joblib or skops.")
    # The real-time predict API (models_hub.predict): each a 4xx before anything is charged.
    VERSION_NOT_PUBLISHED = (
        "version_not_published",
        409,
        "Only a ready, published version answers predictions.",
    )
    EMPTY_ROWS = ("empty_rows", 422, "Send at least one row.")
    TOO_MANY_ROWS = ("too_many_rows", 422, "The request has more rows than one request may.")
    MIXED_ROW_SHAPES = (
        "mixed_row_shapes",
        422,
        "Send every row as an object keyed by feature name, or every row as an array.",
    )
    FEATURE_MISSING = ("feature_missing", 422, "A row lacks a feature of this version.")
    FEATURE_UNKNOWN = ("feature_unknown", 422, "A row names a feature this version does not take.")
    WRONG_FEATURE_COUNT = (
        "wrong_feature_count",
        422,
        "A row's array does not hold exactly one value per feature.",
    )
    NOT_NUMERIC = ("not_numeric", 422, "A value is not a finite number.")
    MODEL_UNAVAILABLE = (
        "model_unavailable",
        503,
        "The version's estimator could not be loaded; try again later.",
    )
