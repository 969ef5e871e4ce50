"""The model registry's error codes (see ``portal.errors`` for the vocabulary)."""

from __future__ import annotations

from portal.errors import ErrorCode


class ModelsErrorCode(ErrorCode):
    MODEL_NOT_FOUND = ("model_not_found", 404, "No such model.")
    VERSION_NOT_FOUND = ("version_not_found", 404, "No such version of this model.")
    VERSION_EXISTS = ("version_exists", 409, "This version of the model exists already.")
    ARTIFACT_TOO_LARGE = ("artifact_too_large", 413, "The file is over the size limit.")
    EMPTY_ARTIFACT = ("empty_artifact", 422, "The file is empty.")
    UNKNOWN_FORMAT = ("unknown_format", 422, "The file's format is not joblib or skops.")
