"""What an uploaded artifact may contain, and the scans that check it before anything loads it.

One allow-list serves both formats. A global (``module.name``) is trusted when it is

- in ``ALLOWED_GLOBALS`` (containers, numpy arrays, dtypes, scalars and random generators);
- a scikit-learn class that is an estimator (``BaseEstimator``) or one of the helper classes
  estimators are made of (``SKLEARN_HELPERS``: trees, losses, binners);
- a Cython ``__pyx_unpickle_<Class>`` helper whose ``<Class>`` in the same module is trusted.

Anything else (``os.system``, ``builtins.eval``, a class of a package we do not know) rejects
the version and is named in the reason.

Trusting a name is not enough: a trusted class can still be handed absurd sizes or, in a
pickle, be the *target* of a state change. ``LoadLimits`` and ``check_call_size`` bound what a
file may make the process allocate (shared by both formats); ``models_hub.unpickler`` keeps
joblib files from changing shared objects; ``check_skops_archive`` bounds what a skops archive
may unpack before anything reads it.
"""

from __future__ import annotations

import importlib
import inspect
import io
import json
import math
import re
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache

ALLOWED_GLOBALS = frozenset(
    {
        "_codecs.encode",  # protocol 2 spells bytes as encode(text, "latin1"); checked below
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
        # histogram boosting with categories keeps partial(check_array, ...); a loaded
        # partial must wrap one of PARTIAL_FUNCTIONS (models_hub.structure checks)
        "functools.partial",
        "sklearn.utils.validation.check_array",
        "joblib.numpy_pickle.NumpyArrayWrapper",
        "numpy.dtype",
        "numpy.ndarray",
        "numpy._core.multiarray._reconstruct",
        "numpy._core.multiarray.scalar",
        "numpy._core.numeric._frombuffer",
        "numpy.core.numeric._frombuffer",
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
        # nearest neighbours: the search trees and their metrics (PyFuncDistance, which calls
        # a Python function, is left out); ``newObj`` is their pickle constructor
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.neighbors._ball_tree.newObj",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._kd_tree.newObj",
        "sklearn.metrics._dist_metrics.newObj",
    }
    | {
        f"sklearn.metrics._dist_metrics.{metric}Distance{bits}"
        for bits in (32, 64)
        for metric in [
            "BrayCurtis",
            "Canberra",
            "Chebyshev",
            "Dice",
            "Euclidean",
            "Hamming",
            "Haversine",
            "Jaccard",
            "Kulsinski",
            "Mahalanobis",
            "Manhattan",
            "Matching",
            "Minkowski",
            "RogersTanimoto",
            "RussellRao",
            "SEuclidean",
            "SokalMichener",
            "SokalSneath",
        ]
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


class ForbiddenStateChange(UntrustedContent):
    """The artifact tries to change an object the whole process shares (a class, a function)."""

    def __init__(self, target: str):
        self.names = [target]
        Exception.__init__(
            self,
            f"the file tries to change {target}; an artifact may set state only on the "
            "objects it creates",
        )


class MalformedArtifact(Exception):
    """The file is not a readable artifact of its format, or asks for more than the limits."""


@dataclass(frozen=True)
class LoadLimits:
    """How much one artifact may make the loader allocate and unpack.

    ``max_array_bytes`` bounds any one array or allocation; the bytes a file unpacks to (a
    compressed joblib stream, a skops archive's members) are bounded by ``max_unpacked_bytes``
    and, past ``ratio_floor`` bytes, by ``max_ratio`` times the file's own size.
    """

    max_array_bytes: int
    max_unpacked_bytes: int
    max_ratio: int
    ratio_floor: int = 16 * 1024 * 1024

    @classmethod
    def from_settings(cls) -> LoadLimits:
        from django.conf import settings

        return cls(
            max_array_bytes=settings.MODEL_LOAD_MAX_ARRAY_BYTES,
            max_unpacked_bytes=settings.MODEL_LOAD_MAX_UNPACKED_BYTES,
            max_ratio=settings.MODEL_LOAD_MAX_COMPRESSION_RATIO,
        )

    def unpacked_limit(self, packed: int) -> int:
        """The most a file of ``packed`` bytes may unpack to."""
        return min(self.max_unpacked_bytes, max(self.ratio_floor, packed * self.max_ratio))

    def unpacked_reason(self, packed: int) -> str:
        return (
            f"a {packed}-byte file may unpack to at most {self.unpacked_limit(packed)} bytes: "
            f"MODEL_LOAD_MAX_COMPRESSION_RATIO = {self.max_ratio} times its size past "
            f"{self.ratio_floor} bytes, and MODEL_LOAD_MAX_UNPACKED_BYTES = "
            f"{self.max_unpacked_bytes}"
        )

    def check_array(self, size: int, what: str = "an array") -> None:
        if size > self.max_array_bytes:
            raise MalformedArtifact(
                f"{what} of {size} bytes is over the load limit "
                f"(MODEL_LOAD_MAX_ARRAY_BYTES = {self.max_array_bytes})"
            )


# --- sizes -----------------------------------------------------------------------------------


def element_count(shape) -> int:
    """The element count of a numpy shape, in Python integers (no overflow)."""
    try:
        dims = (shape,) if isinstance(shape, int) else tuple(shape)
    except TypeError:
        dims = (None,)
    for n in dims:
        if type(n) is not int or n < 0:  # numpy hands shapes as plain ints; bool is refused
            raise MalformedArtifact(f"an array shape is malformed: {shape!r}")
    return math.prod(dims)


def array_nbytes(shape, dtype) -> int:
    import numpy as np

    try:
        itemsize = np.dtype(dtype).itemsize
    except (TypeError, ValueError) as exc:
        raise MalformedArtifact(f"an array dtype is malformed: {exc}") from None
    return element_count(shape) * max(itemsize, 1)


def _first_int(args, kwargs) -> int:
    value = args[0] if args else kwargs.get("source", 0)
    return value if isinstance(value, int) else 0


def _tree_bytes(args, kwargs) -> int:
    if len(args) != 3 or not isinstance(args[2], int) or len(args[1]) != args[2]:
        raise MalformedArtifact("a decision tree's outputs do not match its classes")
    return args[2] * 16


def _class_only(args, kwargs) -> int:
    if len(args) != 1 or not isinstance(args[0], type):
        raise MalformedArtifact("the file calls newObj with something other than a class")
    return 0


def _latin1_only(args, kwargs) -> int:
    if len(args) != 2 or not isinstance(args[0], str) or args[1] not in ("latin1", "latin-1"):
        raise MalformedArtifact("the file calls _codecs.encode other than as pickle does")
    return len(args[0])


_CHECKED_CALLS: dict = {}


def _checked_calls() -> dict:
    """Trusted callables whose arguments from the file are checked: what they may allocate."""
    import _codecs

    import numpy as np
    from numpy._core.multiarray import _reconstruct
    from sklearn.metrics import _dist_metrics
    from sklearn.neighbors import _ball_tree, _kd_tree
    from sklearn.tree._tree import Tree

    _CHECKED_CALLS.update(
        {
            _codecs.encode: _latin1_only,
            _ball_tree.newObj: _class_only,
            _kd_tree.newObj: _class_only,
            _dist_metrics.newObj: _class_only,
            bytearray: _first_int,
            bytes: _first_int,
            np.ndarray: lambda args, kwargs: array_nbytes(
                args[0] if args else kwargs.get("shape", ()),
                args[1] if len(args) > 1 else kwargs.get("dtype", float),
            ),
            _reconstruct: lambda args, kwargs: array_nbytes(args[1], args[2]),
            Tree: _tree_bytes,
        }
    )
    return _CHECKED_CALLS


def check_call_size(func, args: tuple, kwargs: dict, limits: LoadLimits) -> None:
    """Refuse a call that would allocate more than the limit from a number in the file."""
    try:
        sizer = (_CHECKED_CALLS or _checked_calls()).get(func)
    except TypeError:  # an unhashable callable is none of ours
        return
    if sizer is None:
        return
    try:
        size = sizer(args, kwargs)
    except (IndexError, KeyError, TypeError) as exc:
        raise MalformedArtifact(f"a call in the file has malformed arguments: {exc}") from None
    name = getattr(func, "__qualname__", repr(func))
    limits.check_array(size, f"a call to {name} asking for memory")


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


def check_skops_archive(archive: zipfile.ZipFile, *, packed: int, limits: LoadLimits) -> None:
    """Bound what the archive unpacks to, from its directory, before any member is read.

    A member's declared size bounds what reading it yields (zipfile stops there and checks
    the CRC), so the declared sizes are what reading the archive can cost.
    """
    members = archive.infolist()
    total = 0
    for member in members:
        limits.check_array(member.file_size, f"the archive member {member.filename!r}")
        total += member.file_size
    if total > limits.unpacked_limit(packed):
        raise MalformedArtifact(
            f"the archive unpacks to {total} bytes; {limits.unpacked_reason(packed)}"
        )


def scan_skops(data: bytes, *, limits: LoadLimits) -> ScanReport:
    """Check the archive's sizes and read every type its schema names, without loading."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            check_skops_archive(archive, packed=len(data), limits=limits)
            schema = json.loads(archive.read("schema.json"))
            report = ScanReport()
            for node in _schema_nodes(schema):
                module, name = node.get("__module__"), node.get("__class__")
                named = isinstance(module, str) and isinstance(name, str)
                if named and report.record(module, name):
                    _check_skops_call(node, module, name, archive, limits)
    except (zipfile.BadZipFile, KeyError, ValueError, RecursionError) as exc:
        raise MalformedArtifact(f"not a skops file: {exc}") from None
    if not report.names:
        raise MalformedArtifact("the skops schema names no object")
    return report


def _schema_nodes(schema):
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


# skops calls a type with arguments from the file for these loaders (the others create an
# empty instance and give it state).
_SKOPS_CALLING_LOADERS = {"ConstructorFromReduceNode", "TreeNode", "ReduceNode"}


class _ArrayHeader:
    """An array argument of a skops call, known by its .npy header alone."""

    def __init__(self, shape):
        self.shape = shape

    def __len__(self) -> int:
        return self.shape[0] if self.shape else 0


def _check_skops_call(node: dict, module: str, name: str, archive, limits) -> None:
    if node.get("__loader__") not in _SKOPS_CALLING_LOADERS:
        return
    func = getattr(importlib.import_module(module), name, None)
    content = (node.get("__reduce__") or {}).get("args") or node.get("content")
    if not isinstance(content, dict) or not isinstance(content.get("content"), list):
        return
    args = tuple(_skops_value(item, archive) for item in content["content"])
    check_call_size(func, args, {}, limits)


def _skops_value(node, archive):
    """A call argument's value: JSON scalars as they are, arrays by their header."""
    if not isinstance(node, dict):
        return None
    if node.get("__loader__") == "JsonNode" and node.get("is_json"):
        return json.loads(node.get("content", "null"))
    if node.get("__loader__") == "NdArrayNode" and isinstance(node.get("file"), str):
        import numpy as np

        readers = {
            (1, 0): np.lib.format.read_array_header_1_0,
            (2, 0): np.lib.format.read_array_header_2_0,
        }
        with archive.open(node["file"]) as handle:
            reader = readers.get(np.lib.format.read_magic(handle))
            if reader is None:
                raise MalformedArtifact(f"the array {node['file']!r} has an unknown header")
            shape, _, _ = reader(handle)
        return _ArrayHeader(shape)
    return None
