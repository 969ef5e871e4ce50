"""Hand-made pickle streams for the loader's attack tests: opcodes spelled out, nothing run.

Each helper returns opcodes that leave one object on the stack; ``stream`` wraps them into a
whole protocol-4 pickle. ``embed`` turns a real object into opcodes (pickle's own output
without its header and STOP), so an attack can sit in front of a real model.
"""

from __future__ import annotations

import io
import pickle
import pickletools
import sys
import types
import zipfile

import numpy as np


def glob(module: str, name: str) -> bytes:
    return pickle.GLOBAL + f"{module}\n{name}\n".encode()


def text(value: str) -> bytes:
    data = value.encode()
    return pickle.BINUNICODE + len(data).to_bytes(4, "little") + data


def integer(value: int) -> bytes:
    data = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
    return pickle.LONG4 + len(data).to_bytes(4, "little") + data


def embed(obj) -> bytes:
    body = pickletools.optimize(pickle.dumps(obj, protocol=3))  # 3: no frames, no py2 names
    assert body[:2] == b"\x80\x03"
    assert body[-1:] == pickle.STOP
    return body[2:-1]


def stream(*parts: bytes) -> bytes:
    return b"\x80\x04" + b"".join(parts) + pickle.STOP


def then(attack: bytes, obj) -> bytes:
    """The attack, its result dropped, then a real object: what loads is ``obj``."""
    return stream(attack, pickle.POP, embed(obj))


# --- state changes onto a target (the opcodes that write into an existing object) ----------

ATTR = "inverse"


def state_changes(target: bytes, value: bytes) -> dict[str, bytes]:
    """Every state-changing opcode applied to ``target``, with ``value`` as what it writes."""
    attr_dict = pickle.EMPTY_DICT + text(ATTR) + value + pickle.SETITEM
    slot_state = pickle.NONE + attr_dict + pickle.TUPLE2 + pickle.BUILD  # setattr() per key
    through_memo = pickle.BINPUT + b"\x07" + pickle.POP + pickle.BINGET + b"\x07"
    return {
        "BUILD-dict": target + attr_dict + pickle.BUILD,
        "BUILD-slots": target + slot_state,
        "SETITEM": target + text(ATTR) + value + pickle.SETITEM,
        "SETITEMS": target + pickle.MARK + text(ATTR) + value + pickle.SETITEMS,
        "APPEND": target + value + pickle.APPEND,
        "APPENDS": target + pickle.MARK + value + pickle.APPENDS,
        "ADDITEMS": target + pickle.MARK + value + pickle.ADDITEMS,
        "BUILD-memo": target + through_memo + slot_state,
    }


# --- calls that allocate from a number ------------------------------------------------------


def call(func: bytes, *args: bytes) -> bytes:
    return func + pickle.MARK + b"".join(args) + pickle.TUPLE + pickle.REDUCE


# --- a joblib array wrapper followed by a nested (object array) stream ----------------------


def joblib_object_array(inner: bytes, *, shape=(1,)) -> bytes:
    """A joblib file holding one object array whose nested stream is ``inner``."""
    state = {
        "subclass": np.ndarray,
        "shape": shape,
        "order": "C",
        "dtype": np.dtype(object),
        "allow_mmap": False,
        "numpy_array_alignment_bytes": None,
    }
    wrapper = (
        glob("joblib.numpy_pickle", "NumpyArrayWrapper")
        + pickle.EMPTY_TUPLE
        + pickle.NEWOBJ
        + embed(state)
        + pickle.BUILD
    )
    return b"\x80\x02" + wrapper + inner + pickle.STOP


# --- skops archives -------------------------------------------------------------------------


def skops_with(data: bytes, *, extra_files=(), compression=zipfile.ZIP_STORED, edit=None):
    """A skops archive rewritten: its schema changed by ``edit``, members added."""
    import json

    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as target:
        for member in source.infolist():
            content = source.read(member)
            if member.filename == "schema.json" and edit is not None:
                schema = json.loads(content)
                edit(schema)
                content = json.dumps(schema).encode()
            target.writestr(member.filename, content)
        for name, content in extra_files:
            target.writestr(name, content)
    return out.getvalue()


# --- the proof: what every library's classes and functions hold -----------------------------

LIBRARIES = ("sklearn", "numpy", "scipy", "joblib", "skops", "pickle", "copyreg", "collections")


def _fingerprint(value):
    if isinstance(value, dict | list | tuple | set | frozenset):
        try:
            items = value.items() if isinstance(value, dict) else enumerate(value)
            return (type(value), tuple((repr(k), id(v)) for k, v in items))
        except RuntimeError:  # changed while read: another thread's cache
            return (type(value), None)
    return id(value)


def library_state() -> dict:
    """Every attribute of every class and function that the libraries define, by identity.

    A load that set ``IdentityLink.inverse`` or replaced ``NumpyArrayWrapper.read`` changes
    an entry; the attribute values themselves are compared by identity (containers by their
    items), so a mutated default or a swapped method shows too.
    """
    state = {}
    seen = set()
    for module_name, module in list(sys.modules.items()):
        if module is None or module_name.split(".")[0] not in (*LIBRARIES, "builtins"):
            continue
        for attr, value in list(vars(module).items()):
            if id(value) in seen:
                continue
            if isinstance(value, type):
                seen.add(id(value))
                state[f"{value.__module__}.{value.__qualname__}"] = {
                    k: _fingerprint(v) for k, v in list(vars(value).items())
                }
            elif isinstance(value, types.FunctionType):
                seen.add(id(value))
                state[f"{module_name}.{attr}()"] = {
                    "__code__": id(value.__code__),
                    "__defaults__": _fingerprint(value.__defaults__),
                    "__kwdefaults__": _fingerprint(value.__kwdefaults__),
                    "__dict__": _fingerprint(vars(value)),
                }
    return state


def changed(before: dict, after: dict) -> list[str]:
    """What differs between two ``library_state`` readings (classes present in both)."""
    out = []
    for key in before.keys() & after.keys():
        old, new = before[key], after[key]
        for attr in old.keys() | new.keys():
            if old.get(attr) != new.get(attr):
                out.append(f"{key}.{attr}")
    return sorted(out)
