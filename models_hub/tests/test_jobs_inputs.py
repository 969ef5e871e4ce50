"""Every bad input of a batch job is a 4xx with its stable code, from the quote and the submit
endpoint alike, before anything is reserved or written.

The caller is a customer holding credits for the model (in the ledger, as the chain sync
credits them: ``licensing.tests.test_credit_ledger`` does the same), so "nothing reserved" is
checked against a real balance: after each refusal there is no ``InferenceJob``, no
``CreditReservation``, no file under ``jobs/``, and every credit is still available. A good
input, sent the same way, is accepted and reserves its rows (the control case).
"""

from __future__ import annotations

import io
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage

from chain.choices import OfferKind
from licensing import entitlement
from licensing.choices import UsageUnit
from licensing.models import CreditAccount, CreditEntry, CreditReservation, Offer
from licensing.services.credits import credits_sync_from_chain
from licensing.services.tokenomics import offer_create
from licensing.tests import factories
from models_hub import services
from models_hub.demo_models import serialize, train
from models_hub.models import InferenceJob
from models_hub.tests import jobs_kit
from portal.services import customer_api_key_create

pytestmark = pytest.mark.django_db

TOKEN_ID = 4
CREDITS = 1_000
ENDPOINTS = ["jobs", "jobs/quote"]

_trained: dict = {}


def _cancer():
    if "cancer" not in _trained:
        _trained["cancer"] = train("breast-cancer")
    return _trained["cancer"]


def _frame(n: int = 6) -> pd.DataFrame:
    """The first rows of breast-cancer: 30 features, "mean radius" .. "worst fractal dimension"."""
    return _cancer()[1].head(n).reset_index(drop=True)


@pytest.fixture
def version(classifier, upload):
    estimator, _ = _cancer()
    row = upload(classifier, serialize(estimator, "joblib"), filename="m.joblib")
    services.version_publish(version=row)
    return row


@pytest.fixture
def customer(version, settings):
    """A customer's API key, their wallet holding CREDITS credits of the model's credit offer."""
    settings.ENTITLEMENT_CACHE_SECONDS = 0
    entitlement.invalidate()
    network = factories.matrix_network()
    offer = offer_create(
        model=version.model,
        network=network,
        kind=OfferKind.CREDITS,
        tier_name="Credits",
        price=10**12,
        currency=factories.native_currency(network),
        credits_per_unit=1,
        usage_unit=UsageUnit.ROW,
        terms=factories.plain_terms_row(version.model.organization, "Jobs"),
    )
    Offer.objects.filter(pk=offer.pk).update(token_id=TOKEN_ID)  # as the chain numbered it
    wallet = factories.checksum(factories.address())
    CreditEntry.objects.create(
        event=factories.event_row(network, "Purchased"),
        network=network,
        token_id=TOKEN_ID,
        holder=wallet,
        delta=CREDITS,
    )
    credits_sync_from_chain(network=network)
    user = get_user_model().objects.create_user(username="jobs-inputs")
    SocialAccount.objects.create(user=user, provider="siwe", uid=wallet)
    issued = customer_api_key_create(owner=user, name="jobs")
    return {"Authorization": f"Bearer {issued.raw_key}"}


@pytest.fixture(params=ENDPOINTS)
def send(request, client, version, customer):
    """Send a file (bytes and a name) or a JSON body to the quote or the submit endpoint."""
    model = version.model
    url = f"/api/models/{model.organization.slug}/{model.slug}/versions/1.0.0/{request.param}"

    def post(data: bytes | None = None, name: str = "rows.csv", *, rows=None, body=None):
        if rows is not None or body is not None:
            text = body if body is not None else json.dumps({"rows": rows})
            return client.post(url, text, content_type="application/json", headers=customer)
        upload = io.BytesIO(data)
        upload.name = name
        return client.post(url, {"file": upload}, headers=customer)

    return post


def _refused(response, status: int, code: str) -> dict:
    """The answer is ``status`` ``code``, and nothing was reserved or written."""
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    assert not InferenceJob.objects.exists()
    assert not CreditReservation.objects.exists()
    account = CreditAccount.objects.get()
    assert (account.available, account.reserved) == (CREDITS, 0)
    assert not default_storage.exists("jobs")
    return body


def _fields(body: dict) -> list:
    return [item["field"] for item in body["details"]]


def _csv(frame: pd.DataFrame) -> bytes:
    return jobs_kit.csv_bytes(frame)


def _lines(frame: pd.DataFrame) -> list[bytes]:
    return _csv(frame).splitlines(keepends=True)


# --- the control case -------------------------------------------------------------------------
def test_a_good_file_is_accepted(client, version, customer):
    url = f"/api/models/alpha/{version.model.slug}/versions/1.0.0"
    upload = io.BytesIO(_csv(_frame(6)))
    upload.name = "rows.csv"

    quote = client.post(f"{url}/jobs/quote", {"file": upload}, headers=customer)
    upload.seek(0)
    submitted = client.post(f"{url}/jobs", {"file": upload}, headers=customer)

    assert quote.status_code == 200, quote.content
    assert quote.json()["credits_needed"] == 6
    assert quote.json()["credits_available"] == CREDITS
    assert submitted.status_code == 202, submitted.content
    assert CreditAccount.objects.get().reserved == 6


# --- columns ----------------------------------------------------------------------------------
def test_missing_columns(send):
    body = _refused(
        send(_csv(_frame().drop(columns=["mean radius", "worst area"]))), 422, "columns_missing"
    )

    assert set(_fields(body)) == {"mean radius", "worst area"}
    assert "lacks 2 column(s)" in body["message"]


def test_extra_columns(send):
    body = _refused(send(_csv(_frame().assign(colour=1, size=2))), 422, "columns_unknown")

    assert _fields(body) == ["colour", "size"]


def test_a_misnamed_column_is_hinted_at_its_close_match(send):
    frame = _frame().rename(columns={"mean radius": "mean radus"})

    body = _refused(send(_csv(frame)), 422, "columns_missing")

    assert _fields(body) == ["mean radius"]
    assert "'mean radius' (is 'mean radus' it?)" in body["message"]


def test_duplicate_columns(send):
    data = _csv(_frame()).replace(b"mean texture,", b"mean radius,", 1)

    body = _refused(send(data), 422, "columns_duplicate")

    assert _fields(body) == ["mean radius"]


def test_a_csv_without_a_header(send):
    data = b"".join(_lines(_frame())[1:])

    body = _refused(send(data), 422, "columns_missing")

    assert "must be a header" in body["message"]


# --- cells ------------------------------------------------------------------------------------
def test_a_non_numeric_cell_names_the_first_bad_row_and_column(send):
    frame = _frame().astype({"mean area": object, "worst symmetry": object})
    frame.loc[3, "mean area"] = "large"  # data row 4
    frame.loc[5, "worst symmetry"] = "x"  # a later one

    body = _refused(send(_csv(frame)), 422, "not_numeric")

    assert _fields(body) == ["rows.4.mean area"]
    assert "'large'" in body["message"]


def test_an_empty_cell(send):
    frame = _frame().astype({"mean texture": object})
    frame.loc[1, "mean texture"] = ""

    body = _refused(send(_csv(frame)), 422, "not_numeric")

    assert _fields(body) == ["rows.2.mean texture"]
    assert "an empty cell" in body["message"]


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e999"])
def test_nan_and_inf_are_not_numbers(send, value):
    frame = _frame().astype({"mean smoothness": object})
    frame.loc[2, "mean smoothness"] = value

    body = _refused(send(_csv(frame)), 422, "not_numeric")

    assert _fields(body) == ["rows.3.mean smoothness"]


# --- sizes ------------------------------------------------------------------------------------
def test_an_empty_file(send):
    _refused(send(b""), 422, "empty_file")


def test_a_file_of_blank_lines(send):
    _refused(send(b"\n\n\n"), 422, "empty_file")


def test_a_header_only_file(send):
    body = _refused(send(_lines(_frame())[0]), 422, "empty_file")

    assert "no rows" in body["message"]


def test_a_file_over_the_job_limit(send, settings):
    data = _csv(_frame(6))
    settings.JOB_MAX_BYTES = len(data) - 1

    body = _refused(send(data), 413, "file_too_large")

    assert f"{len(data):,} bytes" in body["message"]


def test_a_file_the_upload_handler_dropped_is_too_large_not_missing(send, settings):
    data = _csv(_frame(6))
    settings.JOB_MAX_BYTES = settings.FILE_UPLOAD_MAX_BYTES = len(data) - 1

    body = _refused(send(data), 413, "file_too_large")

    assert _fields(body) == ["file"]


def test_a_missing_file_field(client, version, customer):
    url = f"/api/models/alpha/{version.model.slug}/versions/1.0.0/jobs"

    response = client.post(url, {"other": "x"}, headers=customer)

    body = _refused(response, 422, "validation_error")
    assert _fields(body) == ["file"]


def test_more_rows_than_a_job_may_take(send, settings):
    settings.JOB_MAX_ROWS = 5

    _refused(send(_csv(_frame(6))), 422, "job_too_many_rows")


def test_a_parquet_file_with_more_rows_than_a_job_may_take(send, settings):
    settings.JOB_MAX_ROWS = 5

    _refused(send(jobs_kit.parquet_bytes(_frame(6)), "rows.parquet"), 422, "job_too_many_rows")


# --- text -------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
def test_a_utf16_file(send, encoding):
    data = _csv(_frame()).decode().encode(encoding)

    _refused(send(data), 422, "bad_encoding")


def test_latin1_bytes_in_a_row(send):
    frame = _frame().assign(id=["a", "b", "café", "d", "e", "f"])
    data = frame.to_csv(index=False).encode("latin-1")

    body = _refused(send(data), 422, "bad_encoding")

    assert _fields(body) == ["rows.3"]


def test_latin1_bytes_in_the_header(send):
    data = _csv(_frame()).decode().replace("mean radius", "mean radiús", 1).encode("latin-1")

    _refused(send(data), 422, "bad_encoding")


def test_a_semicolon_separated_file(send):
    data = jobs_kit.csv_bytes(_frame(), sep=";")

    body = _refused(send(data), 422, "malformed_csv")

    assert "semicolons" in body["message"]


def test_a_blank_line_in_the_middle(send):
    lines = _lines(_frame())
    data = b"".join([*lines[:3], b"\n", *lines[3:]])  # after data row 2

    body = _refused(send(data), 422, "malformed_csv")

    assert _fields(body) == ["rows.3"]


def test_blank_lines_at_the_end_are_allowed(client, version, customer):
    upload = io.BytesIO(_csv(_frame()) + b"\n\n")
    upload.name = "rows.csv"
    url = f"/api/models/alpha/{version.model.slug}/versions/1.0.0/jobs/quote"

    response = client.post(url, {"file": upload}, headers=customer)

    assert response.status_code == 200, response.content
    assert response.json()["rows"] == 6


def test_a_ragged_row(send):
    lines = _lines(_frame())
    lines[4] = lines[4].rsplit(b",", 1)[0] + b"\n"  # data row 4 lacks its last cell

    body = _refused(send(b"".join(lines)), 422, "malformed_csv")

    assert _fields(body) == ["rows.4"]
    assert "29 cells" in body["message"]


# --- Parquet ----------------------------------------------------------------------------------
def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def test_a_parquet_string_feature_column(send):
    frame = _frame().astype({"mean radius": str})

    body = _refused(send(jobs_kit.parquet_bytes(frame), "rows.parquet"), 422, "parquet_schema")

    assert _fields(body) == ["mean radius"]


def test_a_parquet_bool_feature_column(send):
    frame = _frame().assign(**{"mean radius": [True, False] * 3})

    body = _refused(send(jobs_kit.parquet_bytes(frame), "rows.parquet"), 422, "parquet_schema")

    assert "bool" in body["message"]


def test_a_parquet_null_cell(send):
    frame = _frame()
    frame.loc[4, "mean area"] = None  # a null in the file, in data row 5 (row group 2)
    data = jobs_kit.parquet_bytes(frame, row_group_size=3)

    body = _refused(send(data, "rows.parquet"), 422, "not_numeric")

    assert _fields(body) == ["rows.5.mean area"]
    assert "empty (null) cell" in body["message"]


def test_a_parquet_nan_cell(send):
    table = pa.Table.from_pandas(_frame(), preserve_index=False)
    values = table.column("mean area").to_pylist()
    values[4] = float("nan")
    index = table.column_names.index("mean area")
    table = table.set_column(index, "mean area", pa.array(values, from_pandas=False))

    body = _refused(send(_parquet(table), "rows.parquet"), 422, "not_numeric")

    assert _fields(body) == ["rows.5.mean area"]


def test_a_parquet_file_missing_a_column(send):
    frame = _frame().drop(columns=["worst area"])

    body = _refused(send(jobs_kit.parquet_bytes(frame), "rows.parquet"), 422, "columns_missing")

    assert _fields(body) == ["worst area"]


def test_a_file_named_parquet_that_is_not(send):
    _refused(send(_csv(_frame()), "rows.parquet"), 422, "unreadable_file")


@pytest.mark.parametrize("name", ["rows.xlsx", "rows.txt", "rows", "rows.csv.gz"])
def test_an_unknown_extension(send, name):
    _refused(send(_csv(_frame()), name), 422, "unknown_file_format")


# --- JSON rows --------------------------------------------------------------------------------
def test_json_rows_with_a_bad_cell(send):
    rows = _frame(3).to_numpy().tolist()
    rows[1][2] = "wide"

    body = _refused(send(rows=rows), 422, "not_numeric")

    assert _fields(body) == [f"rows.1.{_frame().columns[2]}"]


def test_json_rows_with_a_bool(send):
    rows = _frame(2).to_dict(orient="records")
    rows[0]["mean radius"] = True

    _refused(send(rows=rows), 422, "not_numeric")


def test_json_rows_missing_a_feature(send):
    rows = _frame(2).drop(columns=["mean radius"]).to_dict(orient="records")

    _refused(send(rows=rows), 422, "feature_missing")


def test_no_json_rows(send):
    _refused(send(rows=[]), 422, "empty_rows")


def test_more_json_rows_than_a_job_may_take(send, settings):
    settings.JOB_MAX_ROWS = 2

    _refused(send(rows=_frame(3).to_numpy().tolist()), 422, "too_many_rows")


def test_a_json_body_over_the_size_limit(send, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    _refused(send(rows=_frame(6).to_numpy().tolist()), 413, "payload_too_large")


def test_a_body_that_is_not_json(send):
    _refused(send(body='{"rows": ['), 400, "bad_request")
