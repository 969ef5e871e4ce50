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
