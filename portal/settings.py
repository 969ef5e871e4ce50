"""Settings for the model licensing portal, read strictly from the environment.

Every variable is listed in README.md. A malformed value stops start-up with a message
that names the variable (see ``portal.env``).
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import dj_database_url
from csp.constants import NONE as CSP_NONE
from csp.constants import SELF as CSP_SELF
from django.core.exceptions import ImproperlyConfigured

from portal.env import (
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_secret,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)


def _secret_key() -> tuple[str, bool]:
    """The key and whether it came from the environment (a generated key is for one machine)."""
    configured = env_secret("SECRET_KEY")
    if configured:
        return configured, True
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_urlsafe(50))
    return key_file.read_text().strip(), False


SECRET_KEY, SECRET_KEY_FROM_ENV = _secret_key()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_url("SITE_URL", "http://localhost:8000", schemes=("http", "https"))
# The portal's name: the admin's header, e-mails (with SITE_URL; through the django.contrib.sites
# row, see portal/sites.py, and the account adapter) and authenticator apps unless
# MFA_TOTP_ISSUER says otherwise.
PORTAL_NAME = env_str("PORTAL_NAME", "Model Licensing Portal")

INSTALLED_APPS = [
    "portal.apps.PortalAdminConfig",  # django.contrib.admin with the portal's admin site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.headless",
    "django_celery_beat",
    "django_celery_results",
    "ninja",
    "simple_history",
    "csp",  # the Content-Security-Policy header (CONTENT_SECURITY_POLICY below)
    # Ours. Imports run one way: models_hub -> licensing -> portal, licensing -> chain.
    "portal",
    "portal.siwe",
    "chain",
    "models_hub",
    "licensing",
]

MIDDLEWARE = [
    "portal.api_errors.ApiErrorMiddleware",  # first: any error under /api/ answers JSON
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",  # every page, the admin's too: own scripts and styles only
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files, before anything else runs
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",  # who made a change, for the audit
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
SITE_ID = 1

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------
_DEFAULT_DATABASE_URL = f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"
DATABASE_URL = env_url(
    "DATABASE_URL", _DEFAULT_DATABASE_URL, schemes=("sqlite", "postgres", "postgresql")
)
try:
    _database = dj_database_url.parse(
        DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
    )
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
if _database["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and an IMMEDIATE write lock let the web process and a worker share the file. A 64 MiB
    # page cache (the default is 2 MiB), memory-mapped reads and in-memory temporary tables keep
    # the index pages a sync's batches write into (tens of thousands of rows) from being read
    # from the file again for every batch.
    _database["CONN_MAX_AGE"] = 0
    _database["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536; "
            "PRAGMA temp_store=MEMORY; PRAGMA mmap_size=268435456;"
        ),
    }
    # A file, not memory, so a real Celery worker started by a test sees the test database;
    # one per test process, so two test runs on one machine do not share it.
    _database["TEST"] = {"NAME": str(VAR_DIR / f"test-portal-{os.getpid()}.sqlite3")}
else:
    _database["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _database}
DATABASE_IS_POSTGRES = _database["ENGINE"] == "django.db.backends.postgresql"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ------------------------------------------------------------------------------
# One process's memory by default; set CACHE_URL (redis://...) when several web processes run,
# so rate limits (the sign-in endpoints') count across them.
CACHE_URL = env_url("CACHE_URL", None, schemes=("redis", "rediss"))
if CACHE_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth (staff: allauth password + TOTP; customers: Sign-In with Ethereum) -------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_ADAPTER = "portal.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{PORTAL_NAME}] "
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
# Customers: a wallet is an allauth social account of the ``siwe`` provider (portal.siwe).
SOCIALACCOUNT_ADAPTER = "portal.adapters.SocialAccountAdapter"
SOCIALACCOUNT_EMAIL_REQUIRED = False  # a wallet has no e-mail address
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
HEADLESS_SERVE_SPECIFICATION = False
SIWE_SIGNUP_OPEN = env_bool("SIWE_SIGNUP_OPEN", True)
SIWE_NONCE_TTL = env_int("SIWE_NONCE_TTL", 300, minimum=30)  # seconds
SIWE_CLOCK_SKEW = env_int("SIWE_CLOCK_SKEW", 60, minimum=0)  # seconds a wallet's clock may be off
SIWE_STATEMENT = env_str("SIWE_STATEMENT", f"Sign in to {PORTAL_NAME}.")
SIWE_RATE_PER_CLIENT = env_str("SIWE_RATE_PER_CLIENT", "30/m")  # django-ratelimit rates
SIWE_RATE_PER_WALLET = env_str("SIWE_RATE_PER_WALLET", "10/m")
# Behind a proxy every request comes from the proxy's address: name the header that carries the
# client's (django-ratelimit reads the first address of X-Forwarded-For from HTTP_X_FORWARDED_FOR).
RATELIMIT_IP_META_KEY = env_str("RATELIMIT_IP_META_KEY", "REMOTE_ADDR")
SIWE_LOGIN_REDIRECT_URL = env_str("SIWE_LOGIN_REDIRECT_URL", "/")
# --- Entitlement (licensing.entitlement): how stale a cached decision may be, at most ---------
ENTITLEMENT_CACHE_SECONDS = env_int("ENTITLEMENT_CACHE_SECONDS", 5, minimum=0)
ENTITLEMENT_CACHE_MAX_ENTRIES = env_int("ENTITLEMENT_CACHE_MAX_ENTRIES", 100_000, minimum=1)
# How portal asks the chain app, without importing it, for the networks a wallet may sign in
# on and a network's node (to check contract wallets' signatures).
SIWE_CHAINS = "chain.client.active_chains"
SIWE_CHAIN_RPC_URL = "chain.client.chain_rpc_url"
MFA_TOTP_ISSUER = env_str("MFA_TOTP_ISSUER", PORTAL_NAME)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "portal@localhost")

# --- Internationalization ---------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media (media is private: never served under a public URL) -----------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
# No URL pattern serves this prefix and the storage refuses to build URLs: downloads go through
# views that check who is asking.
MEDIA_URL = "/private-media/"
MEDIA_S3_BUCKET = env_str("MEDIA_S3_BUCKET")
if MEDIA_S3_BUCKET:  # optional integration: needs `pip install django-storages[s3]`
    _media_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": MEDIA_S3_BUCKET,
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
            "endpoint_url": env_url("MEDIA_S3_ENDPOINT_URL", None, schemes=("http", "https")),
        },
    }
else:
    _media_storage = {
        "BACKEND": "portal.storage.PrivateFileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT)},
    }
# Static files are served by WhiteNoise (gunicorn needs no proxy for them). In production
# `collectstatic` writes them to STATIC_ROOT compressed and with hashed names (cached for a
# year); with DEBUG they come straight from the apps' folders, no collectstatic needed.
_static_storage = (
    "django.contrib.staticfiles.storage.StaticFilesStorage"
    if DEBUG
    else "whitenoise.storage.CompressedManifestStaticFilesStorage"
)
STORAGES = {"default": _media_storage, "staticfiles": {"BACKEND": _static_storage}}
# Decided here, from the environment's DEBUG (tests switch settings.DEBUG off at run time).
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
if DEBUG:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise looks there first
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_HANDLERS = [
    "portal.uploads.MaxSizeUploadHandler",  # drops a file past FILE_UPLOAD_MAX_BYTES early
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# --- Celery -----------------------------------------------------------------------------
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env_url(
    "CELERY_BROKER_URL",
    "filesystem://",
    schemes=("filesystem", "redis", "rediss", "amqp", "amqps", "pyamqp"),
)
CELERY_BROKER_IS_FILESYSTEM = CELERY_BROKER_URL.startswith("filesystem://")
if CELERY_BROKER_IS_FILESYSTEM:
    for _folder in ("queue", "processed", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# The queue tasks go to when nothing routes them elsewhere (a worker's own tasks too: a job's
# last chunk queues its join). Tests set it for the worker they start (conftest.py).
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TASK_TRACK_STARTED = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# --- Chain ------------------------------------------------------------------------------
CHAIN_RPC_URL = env_url("CHAIN_RPC_URL", "http://127.0.0.1:8545", schemes=("http", "https"))
CHAIN_RPC_TIMEOUT = env_int("CHAIN_RPC_TIMEOUT", 5, minimum=1)
# The network `make run` and the demo use; CHAIN_RPC_URL is its RPC URL.
CHAIN_NETWORK = env_str("CHAIN_NETWORK", "anvil")
# Other networks: CHAIN_RPC_URLS="sepolia=https://...,base=https://..." (URLs may hold API keys,
# so they live in the environment, never in the database).
CHAIN_RPC_URLS = {CHAIN_NETWORK: CHAIN_RPC_URL}
for _pair in env_list("CHAIN_RPC_URLS", []):
    _name, _, _url = _pair.partition("=")
    if not _name or not _url.startswith(("http://", "https://")):
        raise ImproperlyConfigured(f"CHAIN_RPC_URLS needs name=http(s)://url pairs: {_pair!r}")
    CHAIN_RPC_URLS[_name.strip()] = _url.strip()
# The operator key that signs the outbox's transactions: a hex key (or a file holding one), or
# an encrypted keystore file with a password file. The demo uses anvil's published key #0.
CHAIN_OPERATOR_KEY = env_secret("CHAIN_OPERATOR_KEY")
CHAIN_OPERATOR_KEYSTORE = env_str("CHAIN_OPERATOR_KEYSTORE")
CHAIN_OPERATOR_KEYSTORE_PASSWORD = env_secret("CHAIN_OPERATOR_KEYSTORE_PASSWORD")
if CHAIN_OPERATOR_KEY and CHAIN_OPERATOR_KEYSTORE:
    raise ImproperlyConfigured("set CHAIN_OPERATOR_KEY or CHAIN_OPERATOR_KEYSTORE, not both")
# The outbox: a submitted transaction without a receipt after this long is replaced with a
# higher fee; transient errors are retried with exponential backoff up to the attempt limit.
CHAIN_TX_STUCK_AFTER = env_int("CHAIN_TX_STUCK_AFTER", 120, minimum=1)
CHAIN_TX_MAX_ATTEMPTS = env_int("CHAIN_TX_MAX_ATTEMPTS", 8, minimum=1)
CHAIN_TX_RECEIPT_WAIT = env_int("CHAIN_TX_RECEIPT_WAIT", 10, minimum=0)
# Chain sync: eth_getLogs spans (blocks) start here, shrink when the provider refuses, and are
# sized from the density of logs seen to hold about CHAIN_SYNC_SPARSE logs (70% of a result cap
# the provider states), up to the maximum.
CHAIN_SYNC_INITIAL_SPAN = env_int("CHAIN_SYNC_INITIAL_SPAN", 2000, minimum=1)
CHAIN_SYNC_MAX_SPAN = env_int("CHAIN_SYNC_MAX_SPAN", 100_000, minimum=1)
CHAIN_SYNC_SPARSE = env_int("CHAIN_SYNC_SPARSE", 500, minimum=1)
CHAIN_SYNC_INTERVAL = env_int("CHAIN_SYNC_INTERVAL", 10, minimum=1)
CHAIN_PLATFORM_FEE_BPS = env_int("CHAIN_PLATFORM_FEE_BPS", 250, minimum=0)
# Who receives the platform fee; the operator account when unset.
CHAIN_PLATFORM_ADDRESS = env_str("CHAIN_PLATFORM_ADDRESS", "")
if CHAIN_PLATFORM_ADDRESS and not re.fullmatch(r"0x[0-9a-fA-F]{40}", CHAIN_PLATFORM_ADDRESS):
    raise ImproperlyConfigured("CHAIN_PLATFORM_ADDRESS must be a 0x-prefixed 20-byte address")
CHAIN_TOKEN_URI = env_str("CHAIN_TOKEN_URI", f"{SITE_URL}/api/licensing/tokens/{{id}}.json")

# Seconds between settlements of usage receipts (a period each: licensing.services.settlement).
USAGE_SETTLE_INTERVAL = env_int("USAGE_SETTLE_INTERVAL", 3600, minimum=10)

# The one place periodic tasks are defined; beat copies them into the database, where the
# admin edits them. Every periodic task is also a management command.
CELERY_BEAT_SCHEDULE = {
    "outbox-sweep": {"task": "chain.outbox_sweep", "schedule": 30.0},  # manage.py outbox_send
    "chain-sync": {"task": "chain.sync_all", "schedule": float(CHAIN_SYNC_INTERVAL)},  # chain_sync
    "chain-reconcile": {"task": "licensing.reconcile_all", "schedule": 600.0},  # reconcile
    # settle_usage: close the usage receipts into a period, burn its credits with the root
    "usage-settle": {
        "task": "licensing.settle_usage_all",
        "schedule": float(USAGE_SETTLE_INTERVAL),
    },
    # credits_release_expired
    "credits-release-expired": {"task": "licensing.credits_release_expired", "schedule": 30.0},
    "idempotency-purge": {"task": "licensing.idempotency_purge", "schedule": 3600.0},
    "jobs-sweep": {"task": "models_hub.jobs_sweep", "schedule": 30.0},  # jobs_sweep
    "jobs-purge": {"task": "models_hub.jobs_purge", "schedule": 3600.0},  # jobs_purge
    # payments_finish: x402 settlements mined or failed -> settled and receipted, or failed
    "payments-finish": {"task": "models_hub.payments_finish", "schedule": 10.0},
    # governance_tally: closed proposals tallied and published; executions applied when mined
    "governance-tally": {"task": "licensing.governance_tally", "schedule": 10.0},
}

# --- Credit ledger and idempotency keys ---------------------------------------------------
# Seconds a credit reservation may stay open before the sweep releases it.
CREDIT_RESERVATION_TTL = env_int("CREDIT_RESERVATION_TTL", 60, minimum=1)
# Seconds an Idempotency-Key's answer is kept (a retry after that runs again).
IDEMPOTENCY_KEY_TTL = env_int("IDEMPOTENCY_KEY_TTL", 24 * 3600, minimum=60)
# Seconds after which a request still marked running (its process died) may be taken over.
IDEMPOTENCY_RUNNING_TIMEOUT = env_int("IDEMPOTENCY_RUNNING_TIMEOUT", 300, minimum=1)

# --- Model registry ---------------------------------------------------------------------
MODEL_ARTIFACT_MAX_BYTES = env_int("MODEL_ARTIFACT_MAX_BYTES", 500 * 1024 * 1024, minimum=1)

# --- Pay-per-call for agents (x402, models_hub.x402) -------------------------------------
# Whether a paid call waits for its settlement to be mined before it answers (the protocol's
# way: no result unpaid), and for how long; without it the answer goes once verified.
X402_AWAIT_SETTLEMENT = env_bool("X402_AWAIT_SETTLEMENT", True)
X402_SETTLE_TIMEOUT = env_int("X402_SETTLE_TIMEOUT", 30, minimum=1)

# --- Batch inference jobs (models_hub.jobs) -----------------------------------------------
# The largest input file of a job, and the most rows one job may take.
JOB_MAX_BYTES = env_int("JOB_MAX_BYTES", 1024 * 1024 * 1024, minimum=1)
JOB_MAX_ROWS = env_int("JOB_MAX_ROWS", 20_000_000, minimum=1)
# Rows per chunk (one worker task each: a worker's memory is bounded by it), and rows per
# batch within a chunk (the chunk's heartbeat, progress and cancellation are checked after each).
JOB_CHUNK_ROWS = env_int("JOB_CHUNK_ROWS", 100_000, minimum=1)
JOB_BATCH_ROWS = env_int("JOB_BATCH_ROWS", 50_000, minimum=1)
# A running chunk whose heartbeat is older than this is taken over by another worker (its
# worker died); after this many attempts the job fails (job_worker_lost).
JOB_CHUNK_STALE_SECONDS = env_int("JOB_CHUNK_STALE_SECONDS", 120, minimum=1)
JOB_CHUNK_MAX_ATTEMPTS = env_int("JOB_CHUNK_MAX_ATTEMPTS", 3, minimum=1)
# A chunk still pending this long after it was queued is queued again (its message was lost).
JOB_PENDING_REQUEUE_SECONDS = env_int("JOB_PENDING_REQUEUE_SECONDS", 900, minimum=1)
# A job still running after this long fails (job_timed_out); its credits are held that long.
JOB_MAX_RUNTIME = env_int("JOB_MAX_RUNTIME", 24 * 3600, minimum=60)
# Inputs and outputs are deleted this many days after the job ended.
JOB_RETENTION_DAYS = env_int("JOB_RETENTION_DAYS", 7, minimum=1)
# Files up to this size have every cell checked at submission (a bad cell is a form error or
# a 422 before anything is reserved); larger ones have their header, rows and encoding checked
# then, and their cells by the chunks (a bad cell fails the job, and nothing is charged).
JOB_INLINE_CHECK_BYTES = env_int("JOB_INLINE_CHECK_BYTES", 32 * 1024 * 1024, minimum=0)
# The input column carried into the output beside the row number (when the file has it).
JOB_ID_COLUMN = env_str("JOB_ID_COLUMN", "id")
# BLAS/OpenMP threads one chunk's estimator may use (one per worker process by default).
JOB_THREADS = env_int("JOB_THREADS", 1, minimum=1)
# Any uploaded file is dropped while it arrives once it passes this (the largest limit).
FILE_UPLOAD_MAX_BYTES = env_int(
    "FILE_UPLOAD_MAX_BYTES", max(MODEL_ARTIFACT_MAX_BYTES, JOB_MAX_BYTES), minimum=1
)
MODEL_LOAD_MAX_ARRAY_BYTES = env_int("MODEL_LOAD_MAX_ARRAY_BYTES", 4 * 1024**3, minimum=1)
# What one artifact may unpack to (a compressed joblib stream, a skops archive's members):
# at most this many bytes, and past 16 MiB at most this ratio times the file's own size.
MODEL_LOAD_MAX_UNPACKED_BYTES = env_int("MODEL_LOAD_MAX_UNPACKED_BYTES", 4 * 1024**3, minimum=1)
MODEL_LOAD_MAX_COMPRESSION_RATIO = env_int("MODEL_LOAD_MAX_COMPRESSION_RATIO", 100, minimum=1)
MODEL_CACHE_MAX_ENTRIES = env_int("MODEL_CACHE_MAX_ENTRIES", 8, minimum=1)
MODEL_CACHE_MAX_BYTES = env_int("MODEL_CACHE_MAX_BYTES", 2 * 1024**3, minimum=1)
MODEL_VALIDATION_TIME_LIMIT = env_int("MODEL_VALIDATION_TIME_LIMIT", 600, minimum=10)
# The real-time predict API: rows one request may send (more answers 422 too_many_rows).
PREDICT_MAX_ROWS = env_int("PREDICT_MAX_ROWS", 5000, minimum=1)
# Largest request body that is not a file (Django reads it whole; past it: 413
# payload_too_large). Predict bodies are JSON: 5,000 rows of 30 named features fit.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 8 * 1024 * 1024, minimum=1)

# --- Health -----------------------------------------------------------------------------
HEALTHZ_REQUIRED = env_list("HEALTHZ_REQUIRED", ["database", "broker", "chain"])
_unknown_checks = set(HEALTHZ_REQUIRED) - {"database", "broker", "chain"}
if _unknown_checks:
    raise ImproperlyConfigured(
        f"HEALTHZ_REQUIRED names unknown checks: {', '.join(sorted(_unknown_checks))}"
    )

# --- API keys ---------------------------------------------------------------------------
API_KEY_LAST_USED_RESOLUTION = env_int("API_KEY_LAST_USED_RESOLUTION", 60, minimum=0)
# How many live (neither revoked nor expired) keys one customer may hold.
CUSTOMER_API_KEYS_MAX = env_int("CUSTOMER_API_KEYS_MAX", 10, minimum=1)

# --- Security (secure by default once DEBUG is off) -------------------------------------------
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp 4), for the whole site, the admin included: scripts,
# styles, fonts and connections from the portal's own origin only, so no inline <script>, no
# inline event handler and no style attribute runs (JSON for scripts goes through json_script);
# images also as data: URLs (allauth's TOTP QR code). See docs/ARCHITECTURE.md.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [CSP_SELF],
        "script-src": [CSP_SELF],
        "style-src": [CSP_SELF],
        "img-src": [CSP_SELF, "data:"],
        "connect-src": [CSP_SELF],
        "font-src": [CSP_SELF],
        "object-src": [CSP_NONE],
        "base-uri": [CSP_NONE],
        "frame-ancestors": [CSP_NONE],
        "form-action": [CSP_SELF],
    }
}
# Preloading HSTS is a one-way decision for the operator (SECURE_HSTS_PRELOAD), not a default.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {
        "handlers": ["console"],
        "level": env_choice(
            "LOG_LEVEL", "INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        ),
    },
}
