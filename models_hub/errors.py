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


class JobErrorCode(ErrorCode):
    """Batch inference jobs (``models_hub.jobs``): each input problem is refused at submission,
    before anything is reserved or charged; the run-time ones are a failed job's reason."""

    UNKNOWN_FILE_FORMAT = (
        "unknown_file_format",
        422,
        "Send a CSV (.csv) or Parquet (.parquet) file.",
    )
    EMPTY_FILE = ("empty_file", 422, "The file is empty or holds a header and no rows.")
    FILE_TOO_LARGE = ("file_too_large", 413, "The file is over the size limit for a job.")
    JOB_TOO_MANY_ROWS = ("job_too_many_rows", 422, "The file has more rows than one job may.")
    BAD_ENCODING = ("bad_encoding", 422, "The file is not UTF-8 text: save the CSV as UTF-8.")
    MALFORMED_CSV = (
        "malformed_csv",
        422,
        "The CSV could not be split into rows of comma-separated cells.",
    )
    COLUMNS_MISSING = ("columns_missing", 422, "The file lacks columns the version needs.")
    COLUMNS_UNKNOWN = ("columns_unknown", 422, "The file has columns the version does not take.")
    COLUMNS_DUPLICATE = ("columns_duplicate", 422, "The file names a column twice.")
    PARQUET_SCHEMA = ("parquet_schema", 422, "A Parquet column is not a numeric type.")
    UNREADABLE_FILE = ("unreadable_file", 422, "The file could not be read as CSV or Parquet.")
    JOB_NOT_FOUND = ("job_not_found", 404, "No such job.")
    JOB_NOT_CANCELLABLE = ("job_not_cancellable", 409, "The job has ended: nothing to cancel.")
    JOB_OUTPUT_NOT_READY = ("job_output_not_ready", 409, "The job has no output (yet).")
    JOB_FILES_EXPIRED = (
        "job_files_expired",
        410,
        "The job's files were deleted after the retention period.",
    )
    # a failed job's reasons (never an HTTP answer of their own)
    JOB_WORKER_LOST = (
        "job_worker_lost",
        503,
        "A chunk's worker stopped too many times; the job was given up.",
    )
    JOB_TIMED_OUT = ("job_timed_out", 503, "The job ran past the time a job may run.")
    JOB_CHUNK_FAILED = (
        "job_chunk_failed",
        503,
        "A chunk failed on every attempt for a reason of ours (not its input's).",
    )


class PaymentErrorCode(ErrorCode):
    """Pay-per-call over HTTP 402 (x402 v2, ``models_hub.x402``): each a 402 with a fresh
    ``PAYMENT-REQUIRED`` header whose ``error`` is the code, as the protocol asks."""

    PAYMENT_REQUIRED = (
        "payment_required",
        402,
        "This call costs a payment: sign the PAYMENT-REQUIRED header's authorization and send "
        "it as PAYMENT-SIGNATURE.",
    )
    PAYMENT_MALFORMED = ("payment_malformed", 400, "The PAYMENT-SIGNATURE header is malformed.")
    PAYMENT_INVALID = ("payment_invalid", 402, "The payment was not accepted.")
    PAYMENT_INVALID_SIGNATURE = (
        "payment_invalid_signature",
        402,
        "The authorization's signature is not the payer's (EOA or EIP-1271 wallet).",
    )
    PAYMENT_EXPIRED = ("payment_expired", 402, "The authorization has expired (validBefore).")
    PAYMENT_NOT_YET_VALID = (
        "payment_not_yet_valid",
        402,
        "The authorization is not valid yet (validAfter).",
    )
    PAYMENT_AMOUNT = (
        "payment_amount_mismatch",
        402,
        "The authorization's amount is not the call's price.",
    )
    PAYMENT_WRONG_RECIPIENT = (
        "payment_wrong_recipient",
        402,
        "The authorization pays another address than the required payTo.",
    )
    PAYMENT_WRONG_NETWORK = ("payment_wrong_network", 402, "The payment is for another network.")
    PAYMENT_WRONG_ASSET = ("payment_wrong_asset", 402, "The payment is in another token.")
    PAYMENT_WRONG_SCHEME = ("payment_wrong_scheme", 402, "Only the exact scheme is accepted.")
    PAYMENT_NONCE_USED = (
        "payment_nonce_used",
        402,
        "The authorization's nonce has been used: sign a new one.",
    )
    PAYMENT_INSUFFICIENT_BALANCE = (
        "payment_insufficient_balance",
        402,
        "The payer's token balance is below the price.",
    )
    PAYMENT_SETTLEMENT_FAILED = (
        "payment_settlement_failed",
        402,
        "The payment was verified but its settlement failed: nothing was charged and no "
        "result is returned.",
    )
