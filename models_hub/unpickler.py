"""The joblib loader: a pickle machine that resolves only allowed globals and changes only
objects the file itself created.

Three guards stand between a file and the process that reads it:

- **Globals.** ``find_class`` resolves a name only when the allow-list trusts it
  (``models_hub.safety.is_allowed``); an untrusted one is recorded and replaced by an inert
  stand-in so the walk goes on and the reason can name every one.
- **State.** The opcodes that change an existing object (``BUILD``, ``SETITEM(S)``,
  ``APPEND(S)``, ``ADDITEMS``) are refused when their target is a global the file named, a
  class, a function or method, or a module: such objects are shared by the whole process, and
  one file setting an attribute on ``IdentityLink`` would change every later prediction. A new
  instance may be given state; nothing that outlives the load may.
- **Size.** Every byte the unpickler reads is counted (compressed files included), and each
  call that allocates from a number in the file (``bytearray(n)``, ``ndarray(shape)``, numpy's
  ``_reconstruct``, a tree's outputs) and each array header is checked against the limits
  before the memory is asked for.

Object arrays are a nested pickle stream inside a joblib file; joblib reads them with a plain
``pickle.Unpickler``, so this module reads them itself with the same guarded machine.
"""

from __future__ import annotations

import _compat_pickle
import inspect
import io
import pickle
import types
from functools import lru_cache

import numpy as np

from models_hub.safety import (
    ForbiddenStateChange,
    LoadLimits,
    MalformedArtifact,
    ScanReport,
    UntrustedContent,
    array_nbytes,
    check_call_size,
    element_count,
)

# opcode -> (name, where its target sits). A target is either ``stack[-n]`` or the object just
# below the topmost mark (the list, dict or set the marked items go into).
_STATE_OPCODES = {
    pickle.BUILD[0]: ("BUILD", 2),
    pickle.SETITEM[0]: ("SETITEM", 3),
    pickle.APPEND[0]: ("APPEND", 2),
    pickle.SETITEMS[0]: ("SETITEMS", None),
    pickle.APPENDS[0]: ("APPENDS", None),
    pickle.ADDITEMS[0]: ("ADDITEMS", None),
}


class _Inert:
    """Stands in for an untrusted global during the walk: accepts anything, does nothing."""

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass


def _is_shared(obj) -> bool:
    """Whether ``obj`` is process-wide: a class, a function or method, or a module."""
    return (
        isinstance(obj, (type, types.ModuleType, staticmethod, classmethod, property))
        or (callable(obj) and inspect.isroutine(obj))  # callable() first: it is cheap
    )


def _describe(obj) -> str:
    if isinstance(obj, types.ModuleType):
        return f"the module {obj.__name__}"
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    module = getattr(obj, "__module__", None)
    kind = "class" if isinstance(obj, type) else "function"
    if name:
        return f"the {kind} {module}.{name}" if module else f"the {kind} {name}"
    return f"a shared {type(obj).__name__}"


class _BoundedReader:
    """A file's reads, counted: past ``limit`` bytes in all, the load stops."""

    def __init__(self, handle, limit: int, what: str):
        self._handle = handle
        self._limit = limit
        self._what = what
        self.consumed = 0

    def _add(self, n: int) -> None:
        self.consumed += n
        if self.consumed > self._limit:
            raise MalformedArtifact(f"the file unpacks to more bytes than allowed: {self._what}")

    def read(self, size: int = -1) -> bytes:
        room = self._limit - self.consumed
        if size is None or size < 0:
            data = self._handle.read(room + 1)
        elif size > room:  # a length the stream declares: refused before anything unpacks
            raise MalformedArtifact(f"the file unpacks to more bytes than allowed: {self._what}")
        else:
            data = self._handle.read(size)
        self._add(len(data))
        return data

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def readline(self, size: int = -1) -> bytes:
        room = self._limit - self.consumed + 1
        line = self._handle.readline(room if size is None or size < 0 else min(size, room))
        self._add(len(line))
        return line

    def __getattr__(self, name):  # seek, tell, peek... of the wrapped handle
        return getattr(self._handle, name)


class _Guards:
    """What both the outer (joblib) and the inner (object array) machines check."""

    report: ScanReport
    limits: LoadLimits
    _named: dict[int, tuple[object, str]]

    def find_class(self, module, name):
        if self.proto < 3 and self.fix_imports:  # Python 2 names, mapped as pickle maps them
            module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        obj = self._resolve(module, name) if self.report.record(module, name) else _Inert
        # kept alive, so the id stays this object's; named as the file named it
        self._named.setdefault(id(obj), (obj, f"{module}.{name}"))
        return obj

    def _resolve(self, module, name):
        return pickle._Unpickler.find_class(self, module, name)

    def _refuse_shared(self, target, opcode: str) -> None:
        named = self._named.get(id(target))
        if named is not None:
            kind = "class" if isinstance(target, type) else "global"
            raise ForbiddenStateChange(f"the {kind} {named[1]} ({opcode})")
        if _is_shared(target):
            raise ForbiddenStateChange(f"{_describe(target)} ({opcode})")

    def _check_call(self, func, args, kwargs=None) -> None:
        if not isinstance(args, tuple) or (kwargs is not None and not isinstance(kwargs, dict)):
            raise MalformedArtifact("a call in the file has malformed arguments")
        check_call_size(func, args, kwargs or {}, self.limits)

    def _check_array_state(self, array, state) -> None:
        """``ndarray.__setstate__`` trusts its input: a short object list crashes numpy."""
        if not (isinstance(state, tuple) and len(state) in (4, 5)):
            raise MalformedArtifact("an array's state is malformed")
        shape, dtype, _fortran, raw = state[-4:]
        if not isinstance(dtype, np.dtype):
            raise MalformedArtifact("an array's state names no dtype")
        size = array_nbytes(shape, dtype)
        self.limits.check_array(size)
        if dtype.hasobject:
            if not isinstance(raw, list) or len(raw) != element_count(shape):
                raise MalformedArtifact("an object array's items do not match its shape")
        elif not isinstance(raw, (bytes, bytearray)) or len(raw) != size:
            raise MalformedArtifact("an array's data does not match its shape")

    # --- opcodes ---------------------------------------------------------------------------

    def _guard_state(self, code: int) -> None:
        opcode, depth = _STATE_OPCODES[code]
        try:
            target = self.stack[-depth] if depth else self.metastack[-1][-1]
        except IndexError:
            raise MalformedArtifact(f"the pickle stream is malformed ({opcode})") from None
        self._refuse_shared(target, opcode)
        if opcode == "BUILD" and type(target) is np.ndarray:
            self._check_array_state(target, self.stack[-1])

    def _instantiate(self, klass, args):  # OBJ and INST
        self._check_call(klass, tuple(args))
        return pickle._Unpickler._instantiate(self, klass, args)

    def load_reduce(self):
        if len(self.stack) < 2:
            raise MalformedArtifact("the pickle stream is malformed (REDUCE)")
        self._check_call(self.stack[-2], self.stack[-1])
        pickle._Unpickler.load_reduce(self)

    def load_newobj(self):
        if len(self.stack) < 2:
            raise MalformedArtifact("the pickle stream is malformed (NEWOBJ)")
        self._check_call(self.stack[-2], self.stack[-1])
        pickle._Unpickler.load_newobj(self)

    def load_newobj_ex(self):
        if len(self.stack) < 3:
            raise MalformedArtifact("the pickle stream is malformed (NEWOBJ_EX)")
        self._check_call(self.stack[-3], self.stack[-2], self.stack[-1])
        pickle._Unpickler.load_newobj_ex(self)


def _guarded_dispatch(base: dict, owner) -> dict:
    """``base`` with every state-changing and calling opcode going through the guards."""
    dispatch = base.copy()
    for code in _STATE_OPCODES:
        original = base[code]

        def guarded(self, _code=code, _original=original):
            self._guard_state(_code)
            _original(self)

        dispatch[code] = guarded
    dispatch[pickle.REDUCE[0]] = owner.load_reduce
    dispatch[pickle.NEWOBJ[0]] = owner.load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = owner.load_newobj_ex
    return dispatch


class _InnerUnpickler(_Guards, pickle._Unpickler):
    """The nested stream of an object array, read with the outer machine's guards."""

    def __init__(self, file_handle, *, outer: _Guards):
        pickle._Unpickler.__init__(self, file_handle)
        self.report, self.limits, self._named = outer.report, outer.limits, outer._named
        self._resolve = outer._resolve


_InnerUnpickler.dispatch = _guarded_dispatch(pickle._Unpickler.dispatch, _InnerUnpickler)


@lru_cache(maxsize=1)
def _joblib_unpickler_class():
    from joblib.numpy_pickle import NumpyArrayWrapper, NumpyUnpickler

    class GuardedUnpickler(_Guards, NumpyUnpickler):
        """joblib's unpickler behind the guards; it reads the arrays it wraps itself."""

        def __init__(self, file_handle, *, report: ScanReport, limits: LoadLimits):
            NumpyUnpickler.__init__(self, "", file_handle, ensure_native_byte_order=True)
            self.report, self.limits, self._named = report, limits, {}

        def _resolve(self, module, name):
            return NumpyUnpickler.find_class(self, module, name)

        def load_build(self):
            self._guard_state(pickle.BUILD[0])
            if not isinstance(self.stack[-2], NumpyArrayWrapper):
                pickle._Unpickler.load_build(self)
                return
            state = self.stack[-1]
            if not isinstance(state, dict):
                raise MalformedArtifact("an array header is malformed")
            self._check_wrapper(state)
            pickle._Unpickler.load_build(self)
            wrapper = self.stack.pop()
            self.stack.append(self._read_array(wrapper))

        def _check_wrapper(self, state: dict) -> None:
            if state.get("subclass") not in (np.ndarray, np.memmap):
                raise MalformedArtifact("an array header names no numpy array type")
            if state.get("order") not in ("C", "F"):
                raise MalformedArtifact("an array header is malformed (order)")
            dtype = state.get("dtype")
            if not isinstance(dtype, np.dtype):
                raise MalformedArtifact("an array header is malformed (dtype)")
            self.limits.check_array(array_nbytes(state.get("shape"), dtype))

        def _read_array(self, wrapper):
            if not wrapper.dtype.hasobject:
                return wrapper.read_array(self, self.ensure_native_byte_order)
            array = _InnerUnpickler(self.file_handle, outer=self).load()
            if not isinstance(array, np.ndarray) or array.shape != tuple(wrapper.shape):
                raise MalformedArtifact("an object array does not match its header")
            return array

    GuardedUnpickler.dispatch = _guarded_dispatch(NumpyUnpickler.dispatch, GuardedUnpickler)
    GuardedUnpickler.dispatch[pickle.BUILD[0]] = GuardedUnpickler.load_build
    return GuardedUnpickler


def load_joblib(data: bytes, *, limits: LoadLimits):
    """Walk a joblib file behind the guards; the object, only when nothing untrusted was met.

    Every global is checked when the unpickler meets it, before it could be called; an
    untrusted one is replaced by an inert stand-in so the walk goes on and the reason can name
    all of them. A state change of a shared object, or a size over the limits, stops the walk
    at once, before it happens.
    """
    from joblib.numpy_pickle_utils import _validate_fileobject_and_memmap

    report = ScanReport()
    try:
        with _validate_fileobject_and_memmap(io.BytesIO(data), "", None) as (handle, _):
            if isinstance(handle, str):
                raise MalformedArtifact("joblib files older than 0.10 are not accepted")
            bounded = _BoundedReader(
                handle, limits.unpacked_limit(len(data)), limits.unpacked_reason(len(data))
            )
            obj = _joblib_unpickler_class()(bounded, report=report, limits=limits).load()
    except UntrustedContent:
        raise
    except MalformedArtifact:
        if report.untrusted:  # what an untrusted stand-in broke: name the cause
            raise UntrustedContent(sorted(report.untrusted)) from None
        raise
    except RecursionError:
        raise MalformedArtifact("the pickle stream nests too deeply") from None
    except Exception as exc:
        if report.untrusted:
            raise UntrustedContent(sorted(report.untrusted)) from None
        reason = f"not a readable joblib file ({type(exc).__name__}: {exc})"
        raise MalformedArtifact(reason) from None
    if report.untrusted:
        raise UntrustedContent(sorted(report.untrusted))
    return obj
