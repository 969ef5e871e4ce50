"""Batch-job test kit: inputs written from a demo model's rows, and a job driven in this process
(each chunk, then the join) for tests that are not about workers."""

from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from django.core.files.uploadedfile import SimpleUploadedFile

from licensing.entitlement import Caller
from models_hub.jobs import services as jobs
from models_hub.models import InferenceJob


def csv_bytes(frame: pd.DataFrame, **kwargs) -> bytes:
    """A frame as CSV text with exact floats (``repr``), no index."""
    return frame.to_csv(index=False, float_format=None, **kwargs).encode()


def parquet_bytes(frame: pd.DataFrame, *, row_group_size: int | None = None) -> bytes:
    sink = io.BytesIO()
    pq.write_table(
        pa.Table.from_pandas(frame, preserve_index=False), sink, row_group_size=row_group_size
    )
    return sink.getvalue()


def upload(data: bytes, name: str = "rows.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def publisher(version) -> Caller:
    """The version's own organization: uses it freely (nothing charged)."""
    organization = version.model.organization_id
    return Caller(key=f"org:{organization}", organization_ids=frozenset([organization]))


def submit(
    version, data: bytes, name: str = "rows.csv", *, caller: Caller | None = None, **kwargs
) -> InferenceJob:
    job, _ = jobs.job_submit(
        caller=caller or publisher(version),
        version=version,
        source=jobs.JobSource.of_upload(upload(data, name)),
        **kwargs,
    )
    return job


def run_inline(job: InferenceJob) -> InferenceJob:
    """Every chunk in order in this process, then the join."""
    for chunk in job.chunks.order_by("index"):
        jobs.chunk_run(chunk_id=chunk.pk, worker="inline")
    job.refresh_from_db()
    if job.status == "joining":
        jobs.job_join(job_id=job.pk, attempt=str(job.join_attempt))
        job.refresh_from_db()
    return job


def batched(method, matrix, size: int):
    """``method`` (an estimator's predict or predict_proba) over ``matrix`` in batches of
    ``size`` rows, as a job's chunks call it: BLAS may round the last bit differently for
    another batch shape, so "the estimator's own answer" is the answer for the same batches."""
    import numpy as np

    return np.concatenate([method(matrix[i : i + size]) for i in range(0, len(matrix), size)])


def output_frame(job: InferenceJob) -> pd.DataFrame:
    handle, _ = jobs.job_output(job=job)
    with handle:
        data = handle.read()
    if job.output_format == "parquet":
        return pq.read_table(io.BytesIO(data)).to_pandas()
    return pd.read_csv(io.BytesIO(data))


def iris_csv(count: int = 30, *, bad_row: int | None = None, bad_column: int = 3) -> bytes:
    """``count`` iris rows as a CSV; ``bad_row`` (1-based) holds "n/a" in ``bad_column``."""
    from models_hub.tests import factories

    _, rows = factories.iris()
    frame = rows.head(count).astype(object)
    if bad_row is not None:
        frame.iloc[bad_row - 1, bad_column] = "n/a"
    return csv_bytes(frame)
