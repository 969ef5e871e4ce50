"""What an uploaded artifact may contain, and the scans that check it before anything loads it.

One allow-list serves both formats. A global (``module.name``) is trusted when it is

- in ``ALLOWED_GLOBALS`` (containers, numpy arrays, dtypes, scalars and random generators);
- a scikit-learn class that is an estimator (``BaseEstimator``) or one of the helper classes
  estimators are made of (``SKLEARN_HELPERS``: trees, losses, binners);
- a Cython ``__pyx_unpickle_<Class>`` helper whose ``<Class>`` in the same module is trusted.

Anything else (``os.system``, ``builtins.eval``, a class of a package we do not know) rejects
the version and is named in the reason.
"""

from __future__ import annotations

import importlib
import inspect
import io
import json
import pickle
import re
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache

ALLOWED_GLOBALS = frozenset(
    {
        "builtins.bool",
        "builtins.bytearray",
        "builtins.bytes",
        "builtins.complex",
        "builtins.dict",
        "builtins.float",
        "builtins.frozenset",
        "builtins.int",
        "builtins.list",
        "builtins.object",
        "builtins.set",
        "builtins.slice",
        "builtins.str",
        "builtins.tuple",
        "collections.OrderedDict",
        "copyreg._reconstructor",
        "joblib.numpy_pickle.NumpyArrayWrapper",
        "numpy.dtype",
        "numpy.ndarray",
        "numpy._core.multiarray._reconstruct",
        "numpy._core.multiarray.scalar",
        "numpy.core.multiarray._reconstruct",
        "numpy.core.multiarray.scalar",
        "numpy.bool_",
        "numpy.float16",
        "numpy.float32",
        "numpy.float64",
        "numpy.int8",
        "numpy.int16",
        "numpy.int32",
        "numpy.int64",
        "numpy.uint8",
        "numpy.uint16",
        "numpy.uint32",
        "numpy.uint64",
        "numpy.str_",
        "numpy.random._pickle.__bit_generator_ctor",
        "numpy.random._pickle.__generator_ctor",
        "numpy.random._pickle.__randomstate_ctor",
        "numpy.random._generator.Generator",
        "numpy.random._mt19937.MT19937",
        "numpy.random._pcg64.PCG64",
        "numpy.random._pcg64.PCG64DXSM",
        "numpy.random._philox.Philox",
        "numpy.random._sfc64.SFC64",
        "numpy.random.mtrand.RandomState",
        "numpy.random.bit_generator.SeedSequence",
        "numpy.random.bit_generator.__pyx_unpickle_SeedSequence",
    }
)

# Classes estimators are built from that are not estimators themselves.
SKLEARN_HELPERS = frozenset(
    {
        "sklearn._loss._loss.CyHalfBinomialLoss",
        "sklearn._loss._loss.CyHalfMultinomialLoss",
        "sklearn._loss._loss.CyHalfSquaredError",
        "sklearn._loss._loss.CyHalfPoissonLoss",
        "sklearn._loss._loss.CyAbsoluteError",
        "sklearn._loss._loss.CyPinballLoss",
        "sklearn._loss.link.IdentityLink",
        "sklearn._loss.link.Interval",
        "sklearn._loss.link.LogLink",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.link.MultinomialLogit",
        "sklearn._loss.loss.AbsoluteError",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn._loss.loss.HalfMultinomialLoss",
        "sklearn._loss.loss.HalfPoissonLoss",
        "sklearn._loss.loss.HalfSquaredError",
        "sklearn._loss.loss.PinballLoss",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.tree._tree.Tree",
        "sklearn.utils._bunch.Bunch",
    }
)

_SKLEARN_MODULE = re.compile(r"^sklearn(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_EXCLUDED_PARTS = {"tests", "_testing", "datasets", "externals", "_build_utils", "conftest"}
_PYX_UNPICKLE = "__pyx_unpickle_"


@lru_cache(maxsize=4096)
def is_allowed(module: str, name: str) -> bool:
    """Whether ``module.name`` may be resolved while loading an artifact."""
    qualified = f"{module}.{name}"
    if qualified in ALLOWED_GLOBALS:
        return True
    if name.startswith(_PYX_UNPICKLE):
        return is_allowed(module, name.removeprefix(_PYX_UNPICKLE)) and _is_sklearn(module)
    if not _is_sklearn(module) or "." in name:
        return False
    if qualified in SKLEARN_HELPERS:
        return True
    return _is_sklearn_estimator_class(module, name)


def _is_sklearn(module: str) -> bool:
    return bool(_SKLEARN_MODULE.match(module)) and not (_EXCLUDED_PARTS & set(module.split(".")))


def _is_sklearn_estimator_class(module: str, name: str) -> bool:
    from sklearn.base import BaseEstimator

    try:
        target = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return False
    return (
        inspect.isclass(target)
        and target.__module__.startswith("sklearn.")
        and issubclass(target, BaseEstimator)
    )


class UntrustedContent(Exception):
    """The artifact names globals outside the allow-list."""

    def __init__(self, names: list[str]):
        self.names = sorted(set(names))
        super().__init__(
            f"untrusted types or functions in the file: {', '.join(self.names[:20])}"
            + (f" and {len(self.names) - 20} more" if len(self.names) > 20 else "")
        )


class MalformedArtifact(Exception):
    """The file is not a readable artifact of its format."""


@dataclass
class ScanReport:
    """What a scan found: every global the file names, and those outside the allow-list."""

    names: set[str] = field(default_factory=set)
    untrusted: set[str] = field(default_factory=set)

    def record(self, module: str, name: str) -> bool:
        qualified = f"{module}.{name}"
        self.names.add(qualified)
        allowed = is_allowed(module, name)
        if not allowed:
            self.untrusted.add(qualified)
        return allowed


# --- skops ---------------------------------------------------------------------------------


def scan_skops(data: bytes) -> ScanReport:
    """Read every type the skops schema names, without loading anything."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise MalformedArtifact(f"not a skops file: {exc}") from None
    report = ScanReport()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            module, name = node.get("__module__"), node.get("__class__")
            if isinstance(module, str) and isinstance(name, str):
                report.record(module, name)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    if not report.names:
        raise MalformedArtifact("the skops schema names no object")
    return report


# --- joblib (pickles) ------------------------------------------------------------------------


class _Inert:
    """Stands in for an untrusted global during the scan: accepts anything, does nothing."""

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass


def _restricted_unpickler_class():
    from joblib.numpy_pickle import NumpyUnpickler

    class RestrictedUnpickler(NumpyUnpickler):
        """joblib's unpickler resolving only allowed globals.

        In scan mode an untrusted global is recorded and replaced by ``_Inert`` (so the rest
        of the file is still read and every untrusted name is reported); in load mode it
        raises at once. Nested object arrays go through the same ``find_class``.
        """

        def __init__(self, file_handle, *, report: ScanReport, scan: bool, max_array_bytes: int):
            super().__init__("", file_handle, ensure_native_byte_order=True)
            self.report = report
            self.scan = scan
            self.max_array_bytes = max_array_bytes

        def find_class(self, module, name):
            if self.report.record(module, name):
                return super().find_class(module, name)
            if self.scan:
                return _Inert
            raise pickle.UnpicklingError(f"untrusted global {module}.{name}")

        def load_build(self):
            from joblib.numpy_pickle import NumpyArrayWrapper

            instance, state = self.stack[-2], self.stack[-1]
            if isinstance(instance, NumpyArrayWrapper) and isinstance(state, dict):
                self._check_array_size(state)
            NumpyUnpickler.load_build(self)

        def _check_array_size(self, state: dict) -> None:
            import numpy as np

            shape, dtype = state.get("shape"), state.get("dtype")
            try:
                count = int(np.prod([int(n) for n in shape], dtype=object))
                size = count * np.dtype(dtype).itemsize
            except (TypeError, ValueError) as exc:
                raise MalformedArtifact(f"an array header is malformed: {exc}") from None
            if size > self.max_array_bytes:
                raise MalformedArtifact(f"an array of {size} bytes is over the load limit")

        dispatch = NumpyUnpickler.dispatch.copy()
        dispatch[pickle.BUILD[0]] = load_build

    return RestrictedUnpickler


def unpickle_joblib(data: bytes, *, scan: bool, max_array_bytes: int):
    """Read a joblib file with the allow-list; returns (object or None, report)."""
    from joblib.numpy_pickle_utils import _validate_fileobject_and_memmap

    report = ScanReport()
    unpickler_class = _restricted_unpickler_class()
    raw = io.BytesIO(data)
    try:
        with _validate_fileobject_and_memmap(raw, "", None) as (handle, _):
            if isinstance(handle, str):
                raise MalformedArtifact("joblib files older than 0.10 are not accepted")
            obj = unpickler_class(
                handle, report=report, scan=scan, max_array_bytes=max_array_bytes
            ).load()
    except MalformedArtifact:
        raise
    except Exception as exc:
        if report.untrusted:
            raise UntrustedContent(sorted(report.untrusted)) from None
        reason = f"not a readable joblib file ({type(exc).__name__}: {exc})"
        raise MalformedArtifact(reason) from None
    if report.untrusted:
        raise UntrustedContent(sorted(report.untrusted))
    return obj, report


def load_joblib(data: bytes, *, max_array_bytes: int):
    """Scan and load in one pass: no untrusted global is ever resolved, and any found rejects.

    Every global is checked when the unpickler meets it, before it could be called; an
    untrusted one is replaced by an inert stand-in so the walk goes on and the reason can name
    all of them. The object is returned only when the walk found none.
    """
    obj, _ = unpickle_joblib(data, scan=True, max_array_bytes=max_array_bytes)
    return obj
