"""Batch jobs gated and metered, end to end on anvil (the ``shop``): a caller without a right,
with an expired pass, with too few credits or with a revoked key is refused before anything is
reserved; credits are quoted, reserved at submission, consumed for the rows done once the job is
joined (the rest released) and receipted with the input's sha256; a per-call offer costs a unit
per ``PREDICT_MAX_ROWS`` rows; a job cancelled mid-way is charged the rows done only.

Jobs run in this process (``jobs_kit.run_inline``, or ``chunk_run`` chunk by chunk): the chunk
tasks are queued on commit, which a test's transaction never reaches."""

from __future__ import annotations

import hashlib
import io
import time

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from sklearn.datasets import load_iris

from chain.testing.market import CREDITS, DAY, LICENSE_NATIVE, PASS_TOKEN
from licensing import entitlement
from licensing.choices import CreditLedgerKind, UsageUnit
from licensing.models import (
    CreditAccount,
    CreditLedgerEntry,
    CreditReservation,
    Offer,
    UsageReceipt,
)
from licensing.tests.publishing_setup import published_version
from models_hub.jobs import services as jobs
from models_hub.models import AIModel, InferenceJob
from models_hub.tests import jobs_kit
from portal.services import api_key_revoke, customer_api_key_create

LICENSE_PRICE = 10**16  # the shop's monthly license
PASS_PRICE = 5 * 10**6  # the shop's week pass (test dollars)
CREDIT_PRICE = 10**12  # one credit


@pytest.fixture
def served(shop, settings):
    """The shop's model listed with a published iris version; its jobs' base URL."""
    settings.ENTITLEMENT_CACHE_SECONDS = 0  # every call reads what the test just synced
    entitlement.invalidate()
    model = shop.offers[LICENSE_NATIVE].model
    AIModel.objects.filter(pk=model.pk).update(listed=True)
    version = published_version(model)
    return f"/api/models/{model.organization.slug}/{model.slug}/versions/{version.version}"


def _issued(wallet: str):
    user = get_user_model().objects.create_user(username=wallet.lower())
    SocialAccount.objects.create(user=user, provider="siwe", uid=wallet)
    return customer_api_key_create(owner=user, name="jobs")


def _key_for(wallet: str) -> dict:
    return {"Authorization": f"Bearer {_issued(wallet).raw_key}"}


def _csv(n: int) -> bytes:
    return jobs_kit.csv_bytes(load_iris(as_frame=True).data.head(n))


def _post(client, url: str, data: bytes, headers: dict):
    upload = io.BytesIO(data)
    upload.name = "rows.csv"
    return client.post(url, {"file": upload}, headers=headers)


def _buy(shop, buyer, offer, amount, price, *, native: bool = True):
    """Buy on chain (in ETH, or the test dollars every buyer approved) and sync."""
    env = shop.env
    value = price * amount if native else 0
    env.send(env.token.functions.purchase(offer, amount, price), buyer, value=value)
    shop.sync()


def _account(shop, holder) -> CreditAccount:
    return CreditAccount.objects.get(network=shop.network, token_id=CREDITS, holder=holder)


def _refused(response, status: int, code: str) -> None:
    """``status`` ``code``, and nothing reserved, receipted or written."""
    assert response.status_code == status, response.content
    assert response.json()["code"] == code, response.json()
    assert not InferenceJob.objects.exists()
    assert not CreditReservation.objects.exists()
    assert not UsageReceipt.objects.exists()


# --- refusals ---------------------------------------------------------------------------------
def test_a_caller_without_a_right_is_refused(client, shop, served):
    key = _key_for(shop.env.acct.outsider)

    _refused(_post(client, f"{served}/jobs/quote", _csv(5), key), 403, "no_license")
    _refused(_post(client, f"{served}/jobs", _csv(5), key), 403, "no_license")


@pytest.fixture
def backdated(shop):
    """Sets the chain's clock back (a purchase then expires in the past); puts it back after."""
    w3 = shop.env.w3

    def to(seconds_ago: int) -> None:
        w3.provider.make_request("evm_setTime", [int(time.time()) - seconds_ago])
        w3.provider.make_request("evm_mine", [])

    yield to
    w3.provider.make_request("evm_setTime", [int(time.time())])
    w3.provider.make_request("evm_mine", [])


def test_an_expired_pass_is_refused(client, shop, served, backdated):
    # given a week pass bought eight days ago (by the chain's clock)
    carol = shop.env.acct.carol
    backdated(8 * DAY)
    _buy(shop, carol, PASS_TOKEN, 1, PASS_PRICE, native=False)
    key = _key_for(carol)

    # then its week has passed: the quote and the job are refused
    _refused(_post(client, f"{served}/jobs/quote", _csv(5), key), 403, "license_expired")
    _refused(_post(client, f"{served}/jobs", _csv(5), key), 403, "license_expired")


def test_too_few_credits_for_the_quote_is_402_and_reserves_nothing(client, shop, served):
    dave = shop.env.acct.dave
    _buy(shop, dave, CREDITS, 5, CREDIT_PRICE)
    key = _key_for(dave)

    quote = _post(client, f"{served}/jobs/quote", _csv(6), key)
    submitted = _post(client, f"{served}/jobs", _csv(6), key)

    assert quote.status_code == 200, quote.content
    assert quote.json()["credits_needed"] == 6
    assert quote.json()["credits_available"] == 5
    assert quote.json()["enough"] is False
    _refused(submitted, 402, "insufficient_credits")
    account = _account(shop, dave)
    assert (account.available, account.reserved) == (5, 0)


def test_a_revoked_key_is_401(client, shop, served):
    dave = shop.env.acct.dave
    _buy(shop, dave, CREDITS, 20, CREDIT_PRICE)
    issued = _issued(dave)
    api_key_revoke(api_key=issued.api_key)
    key = {"Authorization": f"Bearer {issued.raw_key}"}

    _refused(_post(client, f"{served}/jobs/quote", _csv(5), key), 401, "api_key_revoked")
    _refused(_post(client, f"{served}/jobs", _csv(5), key), 401, "api_key_revoked")
    _refused(client.get("/api/jobs", headers=key), 401, "api_key_revoked")
    assert _account(shop, dave).available == 20


def test_a_bad_cell_reserves_nothing_from_a_credit_holder(client, shop, served):
    dave = shop.env.acct.dave
    _buy(shop, dave, CREDITS, 20, CREDIT_PRICE)
    data = _csv(5).replace(b"5.1", b"five", 1)

    _refused(_post(client, f"{served}/jobs", data, _key_for(dave)), 422, "not_numeric")
    assert _account(shop, dave).available == 20


# --- charging ---------------------------------------------------------------------------------
def test_credits_are_quoted_reserved_consumed_once_and_receipted(client, shop, served, settings):
    # given 20 credits and a file of 12 rows, in chunks of 5
    settings.JOB_CHUNK_ROWS = 5
    dave = shop.env.acct.dave
    _buy(shop, dave, CREDITS, 20, CREDIT_PRICE)
    key = _key_for(dave)
    data = _csv(12)

    # the quote says 12 rows need 12 credits, and reserves nothing
    quote = _post(client, f"{served}/jobs/quote", data, key)
    assert quote.status_code == 200, quote.content
    assert quote.json() == {
        "rows": 12,
        "chunks": 3,
        "units": 12,
        "unit": "row",
        "right": "credits",
        "credits_needed": 12,
        "credits_available": 20,
        "enough": True,
    }
    assert _account(shop, dave).reserved == 0

    # submitting reserves them
    submitted = _post(client, f"{served}/jobs", data, key)
    assert submitted.status_code == 202, submitted.content
    assert (submitted.json()["right"], submitted.json()["units_quoted"]) == ("credits", 12)
    account = _account(shop, dave)
    assert (account.available, account.reserved, account.unsettled) == (8, 12, 0)

    # running it consumes the 12, releases nothing, and writes one receipt
    job = jobs_kit.run_inline(InferenceJob.objects.get(public_id=submitted.json()["id"]))
    assert job.status == "succeeded", (job.error_code, job.error_message)
    account = _account(shop, dave)
    assert (account.available, account.reserved, account.unsettled) == (8, 0, 12)
    lines = CreditLedgerEntry.objects.filter(reservation=job.reservation)
    assert lines.get(kind=CreditLedgerKind.CONSUME).units == -12
    assert not lines.filter(kind=CreditLedgerKind.RELEASE).exists()  # nothing left to release
    receipt = UsageReceipt.objects.get()
    assert (receipt.holder, int(receipt.token_id), receipt.units) == (dave, CREDITS, 12)
    assert receipt.input_hash == "0x" + hashlib.sha256(data).hexdigest()
    assert job.receipt == receipt
    polled = client.get(f"/api/jobs/{job.public_id}", headers=key).json()
    assert (polled["status"], polled["units_charged"]) == ("succeeded", 12)

    # joining again charges nothing more
    assert jobs.job_join(job_id=job.pk, attempt=str(job.join_attempt)) == "not-mine"
    assert _account(shop, dave).unsettled == 12
    assert UsageReceipt.objects.count() == 1


def test_a_per_call_offer_costs_a_unit_per_predict_max_rows(client, shop, served, settings):
    # given the credit offer priced per call of at most 5 rows, and a file of 12 rows
    settings.PREDICT_MAX_ROWS = 5
    Offer.objects.filter(pk=shop.offers[CREDITS].pk).update(usage_unit=UsageUnit.CALL)
    entitlement.invalidate()
    dave = shop.env.acct.dave
    _buy(shop, dave, CREDITS, 10, CREDIT_PRICE)
    key = _key_for(dave)

    quote = _post(client, f"{served}/jobs/quote", _csv(12), key)
    submitted = _post(client, f"{served}/jobs", _csv(12), key)

    # then it costs ceil(12 / 5) = 3 credits, reserved and then consumed
    assert quote.status_code == 200, quote.content
    assert (quote.json()["unit"], quote.json()["units"], quote.json()["credits_needed"]) == (
        "call",
        3,
        3,
    )
    assert submitted.status_code == 202, submitted.content
    assert _account(shop, dave).reserved == 3
    job = jobs_kit.run_inline(InferenceJob.objects.get(public_id=submitted.json()["id"]))
    account = _account(shop, dave)
    assert (job.units_charged, account.available, account.reserved, account.unsettled) == (
        3,
        7,
        0,
        3,
    )
    assert UsageReceipt.objects.get().units == 3


def test_a_job_cancelled_mid_way_consumes_the_rows_done_and_releases_the_rest(
    client, shop, served, settings
):
    # given a job of 12 rows in 3 chunks of 4, on 20 credits
    settings.JOB_CHUNK_ROWS = 4
    dave = shop.env.acct.dave
    _buy(shop, dave, CREDITS, 20, CREDIT_PRICE)
    key = _key_for(dave)
    submitted = _post(client, f"{served}/jobs", _csv(12), key)
    assert submitted.status_code == 202, submitted.content
    job = InferenceJob.objects.get(public_id=submitted.json()["id"])
    assert _account(shop, dave).reserved == 12

    # when its first chunk has run and it is cancelled
    first = job.chunks.get(index=0)
    assert jobs.chunk_run(chunk_id=first.pk, worker="inline") == "done"
    cancelled = client.post(f"/api/jobs/{job.public_id}/cancel", headers=key)
    assert cancelled.status_code == 200, cancelled.content
    job = jobs_kit.run_inline(job)  # the chunks left are cancelled; the join settles

    # then the 4 rows done are consumed and exactly the 8 not done are released
    assert job.status == "cancelled"
    assert (job.output_rows, job.units_charged) == (4, 4)
    account = _account(shop, dave)
    assert (account.available, account.reserved, account.unsettled) == (16, 0, 4)
    released = CreditLedgerEntry.objects.get(
        reservation=job.reservation, kind=CreditLedgerKind.RELEASE
    )
    assert released.units == 8
    assert UsageReceipt.objects.get().units == 4
    assert list(jobs_kit.output_frame(job)["row"]) == [1, 2, 3, 4]


def test_a_license_holders_job_is_receipted_and_not_charged(client, shop, served):
    carol = shop.env.acct.carol
    _buy(shop, carol, LICENSE_NATIVE, 1, LICENSE_PRICE)
    key = _key_for(carol)

    quote = _post(client, f"{served}/jobs/quote", _csv(7), key)
    submitted = _post(client, f"{served}/jobs", _csv(7), key)

    assert quote.json()["right"] == "license"
    assert (quote.json()["credits_needed"], quote.json()["credits_available"]) == (0, None)
    assert submitted.status_code == 202, submitted.content
    job = jobs_kit.run_inline(InferenceJob.objects.get(public_id=submitted.json()["id"]))
    assert (job.status, job.units_charged, job.reservation) == ("succeeded", 0, None)
    receipt = UsageReceipt.objects.get()
    assert (receipt.holder, int(receipt.token_id), receipt.units) == (carol, LICENSE_NATIVE, 7)


def test_a_bad_cell_a_chunk_finds_fails_the_job_and_releases_every_credit(
    client, shop, served, settings
):
    # given a file too large to check every cell at submission, with a bad cell in row 7
    settings.JOB_INLINE_CHECK_BYTES = 0
    settings.JOB_CHUNK_ROWS = 4
    dave = shop.env.acct.dave
    _buy(shop, dave, CREDITS, 20, CREDIT_PRICE)
    key = _key_for(dave)
    lines = _csv(12).splitlines(keepends=True)
    lines[7] = b"x" + lines[7][1:]  # data row 7, the first cell
    submitted = _post(client, f"{served}/jobs", b"".join(lines), key)
    assert submitted.status_code == 202, submitted.content
    assert _account(shop, dave).reserved == 12

    # when it runs, the second chunk fails it
    job = jobs_kit.run_inline(InferenceJob.objects.get(public_id=submitted.json()["id"]))

    # then it says where, and nothing is charged
    assert (job.status, job.error_code, job.error_chunk, job.error_row) == (
        "failed",
        "not_numeric",
        1,
        7,
    )
    account = _account(shop, dave)
    assert (account.available, account.reserved, account.unsettled) == (20, 0, 0)
    assert not UsageReceipt.objects.exists()


def test_a_license_quota_too_small_for_the_job_is_429(client, shop, served):
    from licensing.models import LicenseTerms

    carol = shop.env.acct.carol
    _buy(shop, carol, LICENSE_NATIVE, 1, LICENSE_PRICE)
    LicenseTerms.objects.filter(pk=shop.terms.pk).update(usage_quota=10, usage_quota_period="day")
    entitlement.invalidate()
    key = _key_for(carol)

    _refused(_post(client, f"{served}/jobs", _csv(11), key), 429, "quota_exceeded")
    assert _post(client, f"{served}/jobs", _csv(10), key).status_code == 202
