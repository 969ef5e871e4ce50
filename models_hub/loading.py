"""Reading artifacts: integrity first, then the safe loaders, behind a bounded cache.

Every load reads the file from storage and compares its sha256 with the stored one; a
mismatch refuses to load (the caller marks the version tampered). The cache is keyed by the
stored sha256, so a cached estimator is always the one those exact bytes described.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings
from django.core.files.storage import default_storage

from models_hub.choices import ArtifactFormat
from models_hub.safety import LoadLimits, MalformedArtifact, UntrustedContent, scan_skops
from models_hub.structure import check_structure
from models_hub.unpickler import load_joblib

__all__ = [
    "ArtifactTampered",
    "LoadedEstimator",
    "MalformedArtifact",
    "UntrustedContent",
    "deserialize",
    "model_cache",
    "read_verified",
]

CHUNK = 1024 * 1024


class ArtifactTampered(Exception):
    """The stored file's sha256 differs from the one recorded at upload."""


@dataclass(frozen=True)
class LoadedEstimator:
    """A loaded estimator and the scikit-learn version it was saved with."""

    estimator: object
    sklearn_version: str


def read_verified(*, name: str, sha256: str) -> bytes:
    """The file's bytes, after checking them against ``sha256``."""
    digest = hashlib.sha256()
    parts = []
    with default_storage.open(name, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            parts.append(chunk)
    if digest.hexdigest() != sha256:
        raise ArtifactTampered(
            f"the stored file's sha256 is {digest.hexdigest()}, not the {sha256} recorded at upload"
        )
    return b"".join(parts)


def deserialize(data: bytes, fmt: str) -> LoadedEstimator:
    """Scan, then load with the allow-list; raises UntrustedContent or MalformedArtifact."""
    from sklearn.exceptions import InconsistentVersionWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InconsistentVersionWarning)
        limits = LoadLimits.from_settings()
        if fmt == ArtifactFormat.SKOPS:
            estimator = _load_skops(data, limits)
        elif fmt == ArtifactFormat.JOBLIB:
            estimator = load_joblib(data, limits=limits)
        else:
            raise MalformedArtifact(f"unknown format {fmt!r}")
    check_structure(estimator)
    return LoadedEstimator(estimator=estimator, sklearn_version=_saved_sklearn_version(caught))


def _load_skops(data: bytes, limits: LoadLimits):
    import skops.io

    report = scan_skops(data, limits=limits)
    if report.untrusted:
        raise UntrustedContent(sorted(report.untrusted))
    try:
        estimator = skops.io.loads(data, trusted=sorted(report.names))
    except Exception as exc:  # skops raises many kinds on a broken file
        raise MalformedArtifact(
            f"not a readable skops file ({type(exc).__name__}: {exc})"
        ) from None
    return estimator


def _saved_sklearn_version(caught) -> str:
    import sklearn
    from sklearn.exceptions import InconsistentVersionWarning

    for warning in caught:
        if isinstance(warning.message, InconsistentVersionWarning):
            return str(warning.message.original_sklearn_version)
    return sklearn.__version__


class ModelCache:
    """A bounded LRU of loaded estimators keyed by sha256 (count and bytes)."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[object, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0  # how many times an artifact was actually deserialized

    def get_or_load(self, *, sha256: str, size: int, load) -> object:
        with self._lock:
            if sha256 in self._entries:
                self._entries.move_to_end(sha256)
                return self._entries[sha256][0]
        estimator = load()
        with self._lock:
            self.loads += 1
            self._entries[sha256] = (estimator, size)
            self._entries.move_to_end(sha256)
            self._evict()
        return estimator

    def _evict(self) -> None:
        max_entries = settings.MODEL_CACHE_MAX_ENTRIES
        max_bytes = settings.MODEL_CACHE_MAX_BYTES
        while len(self._entries) > max_entries or (
            len(self._entries) > 1 and self.total_bytes > max_bytes
        ):
            self._entries.popitem(last=False)

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self._entries.values())

    def __contains__(self, sha256: str) -> bool:
        return sha256 in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.loads = 0


model_cache = ModelCache()
