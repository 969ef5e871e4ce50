"""A batch job's files: checking an input, reading one chunk of it, writing parts and joining them.

Nothing here holds a whole file. ``inspect`` reads the input once, in blocks, to check it and to
find where each chunk's rows start; ``read_chunk`` reads one chunk's rows (a byte range of a
CSV, a row range of a Parquet file), ``chunk_part`` writes a chunk's predictions, and ``join``
streams the parts, in order, into the output. Memory is bounded by the chunk size.

**CSV** is UTF-8 (a BOM is allowed), comma-separated, with a header line naming the columns;
rows are lines (``\\n`` or ``\\r\\n``), blank lines only at the end of the file, and a quoted
cell never holds a line break (a cell of a numeric table has none, and this lets a row's line
be found without parsing every cell). The header names every feature of the version, in any
order, and may name one id column (``id`` by default) that is carried into the output; any
other column is refused. Cells of features are finite numbers.

**Parquet** columns of features are integers or floats (never bools, strings or nulls); the
schema and the row groups' null counts are checked from the footer alone.

**Outputs** hold ``row`` (the input's 1-based data row), the id column when there is one,
``prediction`` and, for classifiers, ``probability_<class>`` per class. A text cell of a CSV
output that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return, and not a plain number) is prefixed with ``'`` (OWASP's CSV
injection advice); numbers are never touched.

Problems are ``DomainError``s (``JobErrorCode``, ``ModelsErrorCode.NOT_NUMERIC``) whose details
name the row (1-based, counting data rows) and the column.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import hashlib
import io
import math
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from models_hub.choices import JobFormat
from models_hub.errors import JobErrorCode, ModelsErrorCode
from portal.errors import DomainError, detail

BLOCK = 16 * 1024 * 1024
HEADER_MAX = 1024 * 1024  # the header line is in the first MiB
BOM = codecs.BOM_UTF8
PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
FORMULA_START = r"^[=+\-@\t\r]"
BARE_CR = re.compile(rb"\r(?!\n)")
NUMBER_TYPES = (pa.types.is_integer, pa.types.is_floating)


@dataclass(frozen=True)
class ChunkSpan:
    """Where one chunk's rows are: data rows ``first_row`` .. ``first_row + rows - 1`` (0-based),
    and for a CSV the byte range of their lines."""

    first_row: int
    rows: int
    byte_start: int | None = None
    byte_end: int | None = None


@dataclass
class Layout:
    """What ``inspect`` found: the checked columns, the row count, the chunks, the sha256."""

    format: str
    columns: list[str]  # the file's own columns, in its order
    features: list[str]
    id_column: str
    rows: int
    chunks: list[ChunkSpan] = field(default_factory=list)
    sha256: str = ""
    size: int = 0


@dataclass(frozen=True)
class ChunkRows:
    """One chunk's rows: the feature matrix in the version's order and the ids, if any."""

    matrix: np.ndarray
    ids: pa.Array | None


def _error(code, message: str, *, field_name: str | None = None) -> DomainError:
    return DomainError(code, message, details=[detail(field_name, code.code, message)])


# --- columns --------------------------------------------------------------------------------
def check_columns(columns: list[str], features: list[str], id_column: str) -> str:
    """The id column the file holds ('' for none), once the columns match the features."""
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise _error(
                JobErrorCode.COLUMNS_DUPLICATE,
                f"The column {name!r} is named twice.",
                field_name=name,
            )
        seen.add(name)
    wanted = set(features)
    missing = [name for name in features if name not in seen]
    extra = [name for name in columns if name not in wanted and name != id_column]
    if missing:
        hints = []
        for name in missing:
            close = difflib.get_close_matches(name, extra, n=1)
            hints.append(f"{name!r}" + (f" (is {close[0]!r} it?)" if close else ""))
        message = f"The file lacks {len(missing)} column(s) of this version: {', '.join(hints)}."
        if extra:
            message += f" It has {len(extra)} it does not take: {', '.join(map(repr, extra))}."
        raise DomainError(
            JobErrorCode.COLUMNS_MISSING,
            message,
            details=[detail(name, "columns_missing", f"No column {name!r}.") for name in missing],
        )
    if extra:
        message = (
            f"The file has {len(extra)} column(s) this version does not take: "
            f"{', '.join(map(repr, extra))} (it takes {len(features)} features"
            + (f" and an optional {id_column!r} column" if id_column else "")
            + ")."
        )
        raise DomainError(
            JobErrorCode.COLUMNS_UNKNOWN,
            message,
            details=[
                detail(name, "columns_unknown", f"Unknown column {name!r}.") for name in extra
            ],
        )
    return id_column if id_column in seen else ""


# --- inspecting an input --------------------------------------------------------------------
def inspect(
    handle, *, fmt: str, features: list[str], id_column: str, chunk_rows: int, max_rows: int
) -> Layout:
    """Check a CSV or Parquet input (from its start) and split it into chunks of rows."""
    if fmt == JobFormat.PARQUET:
        return _inspect_parquet(handle, features, id_column, chunk_rows, max_rows)
    return _inspect_csv(handle, features, id_column, chunk_rows, max_rows)


def _decode_header(raw: bytes) -> str:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _error(JobErrorCode.BAD_ENCODING, "The file is UTF-16: save the CSV as UTF-8.")
    if b"\x00" in raw:
        raise _error(
            JobErrorCode.BAD_ENCODING,
            "The header holds NUL bytes (UTF-16 or a binary file?): save the CSV as UTF-8.",
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _error(
            JobErrorCode.BAD_ENCODING,
            f"The header is not UTF-8 (byte {exc.start + 1} of the line): save the CSV as UTF-8.",
        ) from None


def _header_columns(text: str, n_features: int) -> list[str]:
    try:
        columns = next(csv.reader([text.rstrip("\r")]))
    except csv.Error as exc:
        raise _error(JobErrorCode.MALFORMED_CSV, f"The header could not be read ({exc}).") from None
    if len(columns) == 1 and n_features > 1:
        for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
            if sep in text:
                raise _error(
                    JobErrorCode.MALFORMED_CSV,
                    f"The header is separated by {name}: cells of a CSV are separated by commas.",
                )
    if all(PLAIN_NUMBER.fullmatch(name.strip()) for name in columns if name.strip()):
        raise _error(
            JobErrorCode.COLUMNS_MISSING,
            "The first line holds numbers: it must be a header naming the columns.",
        )
    return [name.strip() for name in columns]


def _inspect_csv(handle, features, id_column, chunk_rows, max_rows) -> Layout:
    digest = hashlib.sha256()
    head = handle.read(HEADER_MAX)
    digest.update(head)
    if not head.strip():
        raise _error(JobErrorCode.EMPTY_FILE, "The file is empty.")
    start = len(BOM) if head.startswith(BOM) else 0
    newline = head.find(b"\n", start)
    if newline < 0 and len(head) == HEADER_MAX:
        raise _error(JobErrorCode.MALFORMED_CSV, "The first line is over 1 MiB: is this a CSV?")
    header_end = len(head) if newline < 0 else newline + 1
    columns = _header_columns(_decode_header(head[start:header_end].rstrip(b"\r\n")), len(features))
    id_found = check_columns(columns, features, id_column)
    scan = _LineScan(base=header_end, chunk_rows=chunk_rows, max_rows=max_rows)
    scan.feed(head[header_end:])
    # sha256 releases the GIL: each block is hashed in a thread while the next is scanned
    with ThreadPoolExecutor(max_workers=1) as hasher:
        hashed = None
        while block := handle.read(BLOCK):
            if hashed is not None:
                hashed.result()  # in order, and at most two blocks held
            hashed = hasher.submit(digest.update, block)
            scan.feed(block)
        if hashed is not None:
            hashed.result()
    scan.finish()
    if scan.rows == 0:
        raise _error(JobErrorCode.EMPTY_FILE, "The file has a header and no rows.")
    return Layout(
        format=JobFormat.CSV,
        columns=columns,
        features=list(features),
        id_column=id_found,
        rows=scan.rows,
        chunks=scan.chunks,
        sha256=digest.hexdigest(),
        size=scan.offset,
    )


class _LineScan:
    """Counts the data lines of a CSV fed in blocks and notes where every ``chunk_rows``-th
    line starts, with fast byte operations (``bytes.count``, ``isascii``, one numpy pass over
    a block where a chunk ends: no per-line Python work), and checks that the text is UTF-8.
    A blank line before the end is found when its chunk is read (at submission for a file the
    cells of which are all checked then, ``JOB_INLINE_CHECK_BYTES``)."""

    def __init__(self, *, base: int, chunk_rows: int, max_rows: int) -> None:
        self.base = base
        self.offset = base  # file offset of the next byte fed
        self.chunk_rows = chunk_rows
        self.max_rows = max_rows
        self.lines = 0  # line breaks (\n) seen in the data
        self.tail_breaks = 0  # of them, those after the last byte that is not a line break
        self.boundaries = [base]  # file offsets where chunks start
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.last_byte = b"\n"  # the byte before the next block (the header ended a line)
        self.end_of_data = base  # file offset past the last byte that is not a line break
        self.rows = 0
        self.chunks: list[ChunkSpan] = []

    def feed(self, block: bytes) -> None:
        if not block:
            return
        if not block.isascii() or self.decoder.getstate()[0]:
            self._check_utf8(block)
        count = block.count(b"\n")
        next_cut = len(self.boundaries) * self.chunk_rows
        if self.lines + count >= next_cut:  # chunks end in this block: where its lines end
            ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
            while self.lines + count >= next_cut:
                self.boundaries.append(self.offset + int(ends[next_cut - self.lines - 1]) + 1)
                next_cut += self.chunk_rows
        self.lines += count
        if self.lines > self.max_rows + 1:
            raise _error(
                JobErrorCode.JOB_TOO_MANY_ROWS,
                f"The file has more than {self.max_rows:,} rows, the most one job may take.",
            )
        data_end = _data_end(block)
        if data_end:
            self.end_of_data = self.offset + data_end
            self.tail_breaks = block.count(b"\n", data_end)
        else:
            self.tail_breaks += count
        self.offset += len(block)
        self.last_byte = block[-1:]

    def _check_utf8(self, block: bytes) -> None:
        try:
            self.decoder.decode(block)
        except UnicodeDecodeError as exc:
            row = self.lines + block.count(b"\n", 0, max(exc.start, 0)) + 1
            raise _error(
                JobErrorCode.BAD_ENCODING,
                f"Row {row} is not UTF-8 text: save the CSV as UTF-8.",
                field_name=f"rows.{row}",
            ) from None

    def finish(self) -> None:
        """The row count (the last line may lack its line break) and the chunks' spans."""
        try:
            self.decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise _error(
                JobErrorCode.BAD_ENCODING, "The file ends inside a UTF-8 character."
            ) from None
        if self.end_of_data <= self.base:
            return
        self.rows = self.lines - self.tail_breaks + 1
        if self.rows > self.max_rows:
            raise _error(
                JobErrorCode.JOB_TOO_MANY_ROWS,
                f"The file has {self.rows:,} rows: one job may take at most {self.max_rows:,}.",
            )
        cuts = [cut for cut in self.boundaries if cut < self.end_of_data]
        for index, cut in enumerate(cuts):
            first = index * self.chunk_rows
            end = cuts[index + 1] if index + 1 < len(cuts) else self.end_of_data
            self.chunks.append(
                ChunkSpan(
                    first_row=first,
                    rows=min(self.chunk_rows, self.rows - first),
                    byte_start=cut,
                    byte_end=end,
                )
            )


def _data_end(block: bytes) -> int:
    """The length of ``block`` without its trailing line breaks (0: nothing but breaks)."""
    end = len(block)
    while end and block[end - 1] in (10, 13):
        end -= 1
    return end


def _inspect_parquet(handle, features, id_column, chunk_rows, max_rows) -> Layout:
    digest = hashlib.sha256()
    size = 0
    while block := handle.read(BLOCK):
        digest.update(block)
        size += len(block)
    if size == 0:
        raise _error(JobErrorCode.EMPTY_FILE, "The file is empty.")
    handle.seek(0)
    try:
        parquet = pq.ParquetFile(handle)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _error(
            JobErrorCode.UNREADABLE_FILE, f"The file is not a readable Parquet file ({exc})."
        ) from None
    schema = parquet.schema_arrow
    columns = list(schema.names)
    id_found = check_columns(columns, features, id_column)
    for name in features:
        kind = schema.field(name).type
        if not any(test(kind) for test in NUMBER_TYPES):
            raise _error(
                JobErrorCode.PARQUET_SCHEMA,
                f"The column {name!r} is {kind}: a feature is an integer or a float column.",
                field_name=name,
            )
    rows = parquet.metadata.num_rows
    if rows == 0:
        raise _error(JobErrorCode.EMPTY_FILE, "The file has no rows.")
    if rows > max_rows:
        raise _error(
            JobErrorCode.JOB_TOO_MANY_ROWS,
            f"The file has {rows:,} rows: one job may take at most {max_rows:,}.",
        )
    _check_parquet_nulls(parquet, features)
    spans = [
        ChunkSpan(first_row=first, rows=min(chunk_rows, rows - first))
        for first in range(0, rows, chunk_rows)
    ]
    return Layout(
        format=JobFormat.PARQUET,
        columns=columns,
        features=list(features),
        id_column=id_found,
        rows=rows,
        chunks=spans,
        sha256=digest.hexdigest(),
        size=size,
    )


def _check_parquet_nulls(parquet: pq.ParquetFile, features: list[str]) -> None:
    """Nulls in a feature column, from the footer's statistics (row groups without statistics
    are checked when their chunk is read); the first null's row is read from that one column
    of that one row group, so the error names the row and the column like a CSV's does."""
    metadata = parquet.metadata
    positions = {metadata.schema.column(i).name: i for i in range(metadata.num_columns)}
    first = 0
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for name in features:
            stats = row_group.column(positions[name]).statistics
            if stats is not None and stats.has_null_count and stats.null_count:
                column = parquet.read_row_group(group, columns=[name]).column(name)
                index = pc.index(pc.is_null(column), True).as_py()
                raise _not_numeric(first + index + 1, name, "an empty (null) cell")
        first += row_group.num_rows


# --- reading a chunk ------------------------------------------------------------------------
def read_chunk(
    handle, *, fmt: str, columns: list[str], features: list[str], id_column: str, span: ChunkSpan
) -> ChunkRows:
    """One chunk's rows, checked: every feature cell a finite number."""
    if fmt == JobFormat.PARQUET:
        table = _parquet_rows(
            handle, columns=features + ([id_column] if id_column else []), span=span
        )
        return _checked_rows(table, features, id_column, span, text=None)
    handle.seek(span.byte_start)
    data = handle.read(span.byte_end - span.byte_start)
    table = _csv_rows(data, columns, features, id_column, span)
    return _checked_rows(table, features, id_column, span, text=data)


def _csv_rows(data: bytes, columns, features, id_column, span) -> pa.Table:
    types = {name: pa.float64() for name in features}
    if id_column:
        types[id_column] = pa.string()
    try:
        table = pa_csv.read_csv(
            io.BytesIO(data),
            read_options=pa_csv.ReadOptions(
                column_names=columns, use_threads=False, block_size=1 << 20
            ),
            parse_options=pa_csv.ParseOptions(newlines_in_values=False),
            convert_options=pa_csv.ConvertOptions(
                column_types=types,
                include_columns=features + ([id_column] if id_column else []),
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raise _first_bad_cell(data, columns, features, span) from None
    if table.num_rows != span.rows:
        raise _first_bad_cell(data, columns, features, span)
    return table


def _first_bad_cell(data: bytes, columns, features, span) -> DomainError:
    """The slow pass, only on a failed read: walk the rows to name the first problem."""
    bare = BARE_CR.search(data)
    if bare is not None:  # a reader would take it for a line break, and split the row
        row = span.first_row + data.count(b"\n", 0, bare.start()) + 1
        message = (
            f"Row {row} holds a carriage return that does not end a line: quote the cell, "
            "or end lines with \\n or \\r\\n."
        )
        return _error(JobErrorCode.MALFORMED_CSV, message, field_name=f"rows.{row}")
    text = data.decode("utf-8", errors="replace")
    wanted = set(features)
    try:
        return _first_bad_row(text, columns, wanted, span)
    except csv.Error as exc:
        return _error(JobErrorCode.MALFORMED_CSV, f"The rows could not be read ({exc}).")


def _first_bad_row(text: str, columns, wanted: set, span) -> DomainError:
    for offset, cells in enumerate(csv.reader(io.StringIO(text))):
        row = span.first_row + offset + 1
        if not cells:
            message = f"Row {row} is blank: only the end of the file may have blank lines."
            return _error(JobErrorCode.MALFORMED_CSV, message, field_name=f"rows.{row}")
        if len(cells) != len(columns):
            message = f"Row {row} has {len(cells)} cells; the header names {len(columns)} columns."
            return _error(JobErrorCode.MALFORMED_CSV, message, field_name=f"rows.{row}")
        for name, cell in zip(columns, cells, strict=True):
            if name in wanted and not _finite(cell):
                return _not_numeric(row, name, repr(cell) if cell else "an empty cell")
    return _error(JobErrorCode.MALFORMED_CSV, f"Rows {span.first_row + 1}.. could not be read.")


def _finite(cell: str) -> bool:
    try:
        return math.isfinite(float(cell))
    except ValueError:
        return False


def _not_numeric(row: int, column: str, what: str) -> DomainError:
    message = f"Row {row}, column {column!r}: {what} is not a finite number."
    return DomainError(
        ModelsErrorCode.NOT_NUMERIC,
        message,
        details=[detail(f"rows.{row}.{column}", "not_numeric", message)],
    )


def _parquet_rows(handle, *, columns: list[str], span: ChunkSpan) -> pa.Table:
    parquet = pq.ParquetFile(handle)
    metadata = parquet.metadata
    groups, first_of_groups, start = [], None, 0
    for group in range(metadata.num_row_groups):
        count = metadata.row_group(group).num_rows
        if start + count > span.first_row and start < span.first_row + span.rows:
            groups.append(group)
            first_of_groups = start if first_of_groups is None else first_of_groups
        start += count
    batches, seen = [], first_of_groups or 0
    for batch in parquet.iter_batches(batch_size=65536, row_groups=groups, columns=columns):
        lo = max(span.first_row - seen, 0)
        hi = min(span.first_row + span.rows - seen, batch.num_rows)
        if hi > lo:
            batches.append(batch.slice(lo, hi - lo))
        seen += batch.num_rows
        if seen >= span.first_row + span.rows:
            break
    return pa.Table.from_batches(batches, schema=batches[0].schema if batches else None)


def _checked_rows(table: pa.Table, features, id_column, span, *, text) -> ChunkRows:
    arrays = []
    for name in features:
        column = table.column(name)
        if column.null_count:
            index = pc.index(pc.is_null(column), True).as_py()
            raise _not_numeric(span.first_row + index + 1, name, "an empty (null) cell")
        values = column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        arrays.append(values)
    matrix = np.column_stack(arrays) if arrays else np.empty((table.num_rows, 0))
    finite = np.isfinite(matrix)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        raise _not_numeric(
            span.first_row + int(row) + 1, features[col], repr(float(matrix[row, col]))
        )
    ids = None
    if id_column:
        ids = table.column(id_column).combine_chunks().cast(pa.string())
    return ChunkRows(matrix=np.ascontiguousarray(matrix), ids=ids)


# --- writing ----------------------------------------------------------------------------------
def output_columns(*, id_column: str, classes: list | None, probabilities: bool) -> list[str]:
    names = ["row"] + ([id_column] if id_column else []) + ["prediction"]
    if classes is not None and probabilities:
        names += [f"probability_{label}" for label in classes]
    return names


def prediction_table(
    *,
    first_row: int,
    ids: pa.Array | None,
    id_column: str,
    predictions: np.ndarray,
    probabilities: np.ndarray | None,
    classes: list | None,
) -> pa.Table:
    count = len(predictions)
    arrays = [pa.array(np.arange(first_row + 1, first_row + count + 1, dtype=np.int64))]
    if id_column:
        arrays.append(ids)
    arrays.append(_label_array(predictions))
    if probabilities is not None:
        arrays += [pa.array(probabilities[:, i]) for i in range(probabilities.shape[1])]
    names = output_columns(
        id_column=id_column, classes=classes, probabilities=probabilities is not None
    )
    return pa.Table.from_arrays(arrays, names=names)


def _label_array(predictions: np.ndarray) -> pa.Array:
    if predictions.dtype.kind in "iuf":
        return pa.array(predictions)
    if predictions.dtype.kind == "b":
        return pa.array(predictions.astype(np.int64))
    return pa.array([str(value) for value in predictions.tolist()], type=pa.string())


def neutralized(table: pa.Table) -> pa.Table:
    """Text cells a spreadsheet would run as formulas, prefixed with ``'``."""
    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            risky = pc.and_(
                pc.match_substring_regex(column, FORMULA_START),
                pc.invert(pc.match_substring_regex(column, f"^{PLAIN_NUMBER.pattern}$")),
            )
            column = pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


def neutralize_cell(text: str) -> str:
    if re.match(FORMULA_START, text) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_part(table: pa.Table) -> bytes:
    """A chunk's rows as CSV lines without a header (the join writes one)."""
    sink = io.BytesIO()
    pa_csv.write_csv(
        neutralized(table), sink, write_options=pa_csv.WriteOptions(include_header=False)
    )
    return sink.getvalue()


def matrix_csv(matrix: np.ndarray, names: list[str]) -> bytes:
    """Checked rows (JSON rows sent to the API) as a CSV input: a header and exact floats."""
    table = pa.Table.from_arrays([pa.array(matrix[:, i]) for i in range(matrix.shape[1])], names)
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow(names)  # the names as they are
    sink = io.BytesIO()
    sink.write(header.getvalue().encode())
    pa_csv.write_csv(table, sink, write_options=pa_csv.WriteOptions(include_header=False))
    return sink.getvalue()


def csv_header(names: list[str]) -> bytes:
    sink = io.StringIO()
    csv.writer(sink, lineterminator="\n").writerow([neutralize_cell(name) for name in names])
    return sink.getvalue().encode()


def parquet_part(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def join_csv(parts: Iterator, out, names: list[str]) -> int:
    """Write the header and each part (a readable binary file), in order; returns bytes. Parts
    that are local files are copied by the kernel (``os.copy_file_range``), others in blocks."""
    header = csv_header(names)
    out.write(header)
    out.flush()
    written = len(header)
    for part in parts:
        written += _copy(part, out)
    return written


def _copy(source, target) -> int:
    target.flush()
    start = target.seek(0, os.SEEK_END)
    try:
        size = os.fstat(source.fileno()).st_size
        copied = 0
        while copied < size:
            step = os.copy_file_range(source.fileno(), target.fileno(), size - copied)
            if step == 0:
                break
            copied += step
        if copied == size:
            target.seek(0, os.SEEK_END)
            return copied
    except (AttributeError, OSError, io.UnsupportedOperation):
        pass  # not a local file (object storage), or the kernel cannot: copy in blocks
    target.seek(start)
    target.truncate()
    source.seek(0)
    copied = 0
    while block := source.read(BLOCK):
        target.write(block)
        copied += len(block)
    return copied


def join_parquet(parts: Iterator, out) -> None:
    """Each part's table as the output's row groups, in order (one part in memory at a time)."""
    writer = None
    try:
        for part in parts:
            table = pq.read_table(io.BytesIO(part.read()))
            if writer is None:
                writer = pq.ParquetWriter(out, _widened(table.schema))
            writer.write_table(table.cast(writer.schema))
    finally:
        if writer is not None:
            writer.close()


def _widened(schema: pa.Schema) -> pa.Schema:
    """Predictions of every part fit: an integer label column becomes int64, a float float64."""
    fields = []
    for item in schema:
        kind = item.type
        if pa.types.is_integer(kind):
            kind = pa.int64()
        elif pa.types.is_floating(kind):
            kind = pa.float64()
        fields.append(pa.field(item.name, kind))
    return pa.schema(fields)
