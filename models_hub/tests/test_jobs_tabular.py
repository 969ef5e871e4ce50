"""The input scan over every way a CSV can fall into blocks: whatever the block size, the line
endings, the trailing line breaks and the chunk size, the rows are counted exactly, the chunks
cover them in order, and each chunk reads back exactly its rows (ids with multi-byte UTF-8
characters split between blocks included). Blank lines and bad bytes are named by row."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models_hub.jobs import tabular
from portal.errors import DomainError

FEATURES = ["a", "b"]


def _csv(values, ids, *, newline: str, trailing: str) -> bytes:
    lines = ["id,a,b"] + [f"{i},{x!r},{y!r}" for i, (x, y) in zip(ids, values, strict=True)]
    return (newline.join(lines) + trailing).encode()


def _layout(data: bytes, chunk_rows: int):
    return tabular.inspect(
        io.BytesIO(data),
        fmt="csv",
        features=FEATURES,
        id_column="id",
        chunk_rows=chunk_rows,
        max_rows=10**6,
    )


floats = st.floats(allow_nan=False, allow_infinity=False, width=64)
ids = st.text(alphabet="aé€𝄞z", min_size=1, max_size=4)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.tuples(floats, floats, ids), min_size=1, max_size=40),
    newline=st.sampled_from(["\n", "\r\n"]),
    trailing=st.sampled_from(["", "\n", "\r\n", "\n\n", "\r\n\r\n\r\n"]),
    block=st.integers(min_value=1, max_value=64),
    chunk_rows=st.integers(min_value=1, max_value=12),
)
def test_every_row_is_counted_once_and_read_back_in_its_chunk(
    rows, newline, trailing, block, chunk_rows
):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tabular, "BLOCK", block)
        _check_round_trip(rows, newline, trailing, chunk_rows)


def _check_round_trip(rows, newline, trailing, chunk_rows):
    values = [(x, y) for x, y, _ in rows]
    data = _csv(values, [i for _, _, i in rows], newline=newline, trailing=trailing)

    layout = _layout(data, chunk_rows)

    assert layout.rows == len(rows)
    assert [span.first_row for span in layout.chunks] == list(range(0, len(rows), chunk_rows))
    assert sum(span.rows for span in layout.chunks) == len(rows)
    read, read_ids = [], []
    for span in layout.chunks:
        chunk = tabular.read_chunk(
            io.BytesIO(data),
            fmt="csv",
            columns=layout.columns,
            features=FEATURES,
            id_column="id",
            span=span,
        )
        read.append(chunk.matrix)
        read_ids += chunk.ids.to_pylist()
    assert np.array_equal(np.vstack(read), np.array(values))
    assert read_ids == [i for _, _, i in rows]


@pytest.mark.parametrize("block", [1, 3, 7, 4096])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_blank_line_before_the_end_is_named_when_its_chunk_is_read(monkeypatch, block, newline):
    monkeypatch.setattr(tabular, "BLOCK", block)
    data = newline.join(["id,a,b", "x,1,2", "y,3,4", "", "z,5,6"]).encode()
    layout = _layout(data, 100)

    with pytest.raises(DomainError) as refused:
        tabular.read_chunk(
            io.BytesIO(data),
            fmt="csv",
            columns=layout.columns,
            features=FEATURES,
            id_column="id",
            span=layout.chunks[0],
        )

    assert refused.value.code == "malformed_csv"
    assert refused.value.details[0]["field"] == "rows.3"


@pytest.mark.parametrize("block", [1, 2, 5, 4096])
def test_a_byte_that_is_not_utf8_is_named_by_its_row(monkeypatch, block):
    monkeypatch.setattr(tabular, "BLOCK", block)
    data = b"id,a,b\nx,1,2\ny,3,4\n" + b"caf\xe9,5,6\n"  # Latin-1

    with pytest.raises(DomainError) as refused:
        _layout(data, 100)

    assert refused.value.code == "bad_encoding"
    assert refused.value.details[0]["field"] == "rows.3"


def test_a_utf8_character_cut_off_at_the_end_is_refused():
    with pytest.raises(DomainError) as refused:
        _layout("id,a,b\n€,1,2".encode()[:-5] + b"\xe2\x82", 100)
    assert refused.value.code == "bad_encoding"


cells = st.sampled_from(
    [
        "1",
        "-2.5",
        "1e3",
        "",
        " ",
        "nan",
        "inf",
        "x",
        '"3"',
        '"4,5"',
        "\r",
        "\n",
        "\x00",
        "é",
        "\xff",
        ",",
        '"',
        "\r\n",
        "1.0e",
        "--1",
        "0x10",
        "1_000",
        "\t2",
    ]
) | st.text(max_size=4)


@settings(max_examples=300, deadline=None)
@given(
    header=st.sampled_from(["id,a,b", "a,b", "b,a", "a,b,c", "a;b", "\ufeffa,b", '"a","b"', ""]),
    body=st.lists(st.lists(cells, min_size=0, max_size=4), max_size=8),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    chunk_rows=st.integers(min_value=1, max_value=4),
)
def test_any_text_is_read_or_refused_with_a_code(header, body, newline, chunk_rows):
    """Whatever the cells: a layout whose chunks read, or a DomainError; never another error."""
    text = newline.join([header] + [",".join(row) for row in body])
    data = text.encode("utf-8", errors="surrogateescape")
    assert _read_all(data, "csv", chunk_rows) in {
        None,
        "bad_encoding",
        "malformed_csv",
        "columns_missing",
        "columns_unknown",
        "columns_duplicate",
        "empty_file",
        "not_numeric",
    }


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300))
def test_any_bytes_named_parquet_are_read_or_refused_with_a_code(data):
    assert _read_all(data, "parquet", 2) in {None, "empty_file", "unreadable_file"}


def _read_all(data: bytes, fmt: str, chunk_rows: int) -> str | None:
    """Inspect and read every chunk: None when all reads, else the refusal's code."""
    try:
        layout = tabular.inspect(
            io.BytesIO(data),
            fmt=fmt,
            features=FEATURES,
            id_column="id",
            chunk_rows=chunk_rows,
            max_rows=100,
        )
        for span in layout.chunks:
            tabular.read_chunk(
                io.BytesIO(data),
                fmt=fmt,
                columns=layout.columns,
                features=FEATURES,
                id_column=layout.id_column,
                span=span,
            )
    except DomainError as refused:
        return refused.code
    return None
