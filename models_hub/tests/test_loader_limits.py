"""What a file may make the loader allocate or unpack is bounded before the memory is asked for.

Both formats: one array or allocation at most ``MODEL_LOAD_MAX_ARRAY_BYTES``; everything a file
unpacks to at most ``MODEL_LOAD_MAX_UNPACKED_BYTES`` and, past 16 MiB, at most
``MODEL_LOAD_MAX_COMPRESSION_RATIO`` times the file's size. The refusals happen before the
allocation: the tests measure the Python heap's peak while a bomb is refused.
"""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile

import joblib
import numpy as np
import pytest
import skops.io

from models_hub.choices import VersionStatus
from models_hub.demo_models import serialize, train
from models_hub.loading import deserialize
from models_hub.safety import MalformedArtifact
from models_hub.tests import pickles as p

MiB = 1024 * 1024
HUGE = 2**40  # a terabyte: never actually asked for


@pytest.fixture(scope="module")
def cancer():
    return train("breast-cancer")[0]


def _peak_while(fn) -> int:
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def _refused(data: bytes, fmt: str, match: str) -> int:
    """Refused with ``match`` in the reason; returns the heap peak of the attempt."""

    def attempt():
        with pytest.raises(MalformedArtifact, match=match):
            deserialize(data, fmt)

    return _peak_while(attempt)


@pytest.mark.parametrize(
    "attack",
    [
        p.call(p.glob("builtins", "bytearray"), p.integer(HUGE)),
        p.call(p.glob("builtins", "bytes"), p.integer(HUGE)),
        p.call(p.glob("numpy", "ndarray"), p.embed((2**20, 2**20)), p.text("f8")),
        p.call(
            p.glob("numpy._core.multiarray", "_reconstruct"),
            p.glob("numpy", "ndarray"),
            p.embed((HUGE,)),
            p.embed(b"b"),
        ),
    ],
    ids=["bytearray", "bytes", "ndarray", "_reconstruct"],
)
def test_a_call_asking_for_a_huge_allocation_is_refused_before_it(attack):
    peak = _refused(p.stream(attack), "joblib", "MODEL_LOAD_MAX_ARRAY_BYTES")
    assert peak < 16 * MiB


def test_a_tree_with_more_outputs_than_classes_is_refused():
    n_classes = p.embed(np.array([2], dtype=np.intp))
    attack = p.call(p.glob("sklearn.tree._tree", "Tree"), p.integer(3), n_classes, p.integer(HUGE))

    _refused(p.stream(attack), "joblib", "outputs do not match")


def test_an_object_array_whose_items_do_not_fill_its_shape_is_refused():
    # numpy's own __setstate__ reads past the list here and crashes the process
    array = p.call(
        p.glob("numpy._core.multiarray", "_reconstruct"),
        p.glob("numpy", "ndarray"),
        p.embed((0,)),
        p.embed(b"b"),
    )
    state = p.embed((1, (10**6,), np.dtype(object), False, [1, 2]))

    _refused(p.stream(array + state + b"b"), "joblib", "items do not match its shape")


def test_an_array_header_over_the_limit_is_refused(settings, cancer):
    settings.MODEL_LOAD_MAX_ARRAY_BYTES = 1024
    data = serialize(np.zeros(1000), "joblib")

    _refused(data, "joblib", "MODEL_LOAD_MAX_ARRAY_BYTES = 1024")


@pytest.mark.parametrize("compress", [("zlib", 3), ("lzma", 1), ("bz2", 1)])
def test_a_compressed_joblib_bomb_is_refused_while_it_unpacks(compress):
    buffer = io.BytesIO()
    joblib.dump({"pad": bytes(48 * MiB)}, buffer, compress=compress)
    data = buffer.getvalue()
    assert len(data) < MiB

    peak = _refused(data, "joblib", "MODEL_LOAD_MAX_COMPRESSION_RATIO = 100")
    assert peak < 24 * MiB  # far below the 48 MiB it holds: refused at the declared length


def test_the_unpacked_total_is_bounded_even_at_a_low_ratio(settings, cancer):
    settings.MODEL_LOAD_MAX_UNPACKED_BYTES = 512
    data = serialize(cancer, "joblib")

    _refused(data, "joblib", "MODEL_LOAD_MAX_UNPACKED_BYTES = 512")


# --- skops -----------------------------------------------------------------------------------


def _zero_skops(nbytes: int, compression) -> bytes:
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(np.zeros((2, 1)))
    scaler.pad_ = np.zeros(nbytes // 8)
    return p.skops_with(skops.io.dumps(scaler), compression=compression)


def test_a_deflated_skops_bomb_is_refused_before_it_unpacks():
    # the case, scaled: a small deflated archive holding a 64 MiB array of zeros
    data = _zero_skops(64 * MiB, zipfile.ZIP_DEFLATED)
    assert len(data) < MiB

    peak = _refused(data, "skops", "MODEL_LOAD_MAX_COMPRESSION_RATIO = 100")
    assert peak < 4 * MiB


def test_a_skops_member_over_the_array_limit_is_refused(settings):
    settings.MODEL_LOAD_MAX_ARRAY_BYTES = MiB
    data = _zero_skops(2 * MiB, zipfile.ZIP_STORED)

    _refused(data, "skops", "MODEL_LOAD_MAX_ARRAY_BYTES")


def test_the_sum_of_skops_members_is_bounded(settings, cancer):
    settings.MODEL_LOAD_MAX_UNPACKED_BYTES = 64 * 1024
    extra = [(f"pad{i}.npy", bytes(16 * 1024)) for i in range(8)]  # each small, 128 KiB in all
    data = p.skops_with(serialize(cancer, "skops"), extra_files=extra)

    _refused(data, "skops", "MODEL_LOAD_MAX_UNPACKED_BYTES")


def test_a_skops_constructor_call_asking_for_a_huge_allocation_is_refused(cancer):
    def add_bomb(schema):
        steps = schema["content"]["content"]
        steps["pad_"] = {
            "__class__": "bytearray",
            "__module__": "builtins",
            "__loader__": "ConstructorFromReduceNode",
            "content": {
                "__class__": "tuple",
                "__module__": "builtins",
                "__loader__": "TupleNode",
                "content": [
                    {
                        "__class__": "int",
                        "__module__": "builtins",
                        "__loader__": "JsonNode",
                        "content": json.dumps(HUGE),
                        "is_json": True,
                    }
                ],
            },
        }

    data = p.skops_with(serialize(cancer, "skops"), edit=add_bomb)

    peak = _refused(data, "skops", "MODEL_LOAD_MAX_ARRAY_BYTES")
    assert peak < 16 * MiB


def test_a_skops_tree_with_more_outputs_than_classes_is_refused():
    from sklearn.tree import DecisionTreeClassifier

    tree = DecisionTreeClassifier(max_depth=2).fit(np.eye(4), [0, 1, 0, 1])

    def lie_about_outputs(schema):
        args = schema["content"]["content"]["tree_"]["__reduce__"]["args"]["content"]
        args[2]["content"] = json.dumps(HUGE)

    data = p.skops_with(skops.io.dumps(tree), edit=lie_about_outputs)

    _refused(data, "skops", "outputs do not match")


def test_a_compressed_skops_file_of_a_real_model_loads(upload, classifier, cancer):
    data = p.skops_with(serialize(cancer, "skops"), compression=zipfile.ZIP_DEFLATED)

    version = upload(classifier, data, filename="m.skops")

    assert version.status == VersionStatus.READY, version.rejection_reason


def test_a_bomb_upload_is_rejected_with_the_reason(upload, classifier):
    version = upload(classifier, _zero_skops(32 * MiB, zipfile.ZIP_DEFLATED), filename="b.skops")

    assert version.status == VersionStatus.REJECTED
    assert "MODEL_LOAD_MAX_COMPRESSION_RATIO" in version.rejection_reason
