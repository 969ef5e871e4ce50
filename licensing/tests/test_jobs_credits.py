"""A customer's job charged in credits, end to end on anvil (bought on chain, synced into the
ledger). The sweep: a chunk out of attempts fails the job and its whole reservation goes back; a
lost join claimed again charges once (one consume, one receipt), whatever the lost attempt does
later; a superseded chunk attempt adds nothing to the charge. The jobs' admin shows the
customer's wallet and the credits held, then charged.
(The sweep's other cases, on the publisher's free jobs: ``models_hub/tests/test_jobs_sweep.py``.)
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from sklearn.datasets import load_iris

from chain.testing.market import CREDITS
from licensing import entitlement
from licensing.choices import CreditLedgerKind, CreditReservationStatus
from licensing.models import CreditAccount, CreditLedgerEntry, UsageReceipt
from licensing.tests.publishing_setup import published_version
from models_hub.choices import ChunkStatus, JobStatus
from models_hub.jobs import services as jobs
from models_hub.models import AIModel, JobChunk
from models_hub.tests import jobs_kit

CREDIT_PRICE = 10**12  # the shop's price of one credit
BOUGHT = 100
ROWS = 30  # three chunks of ten rows: 30 credits (one a row)


@pytest.fixture
def dave(shop, settings):
    """A customer who bought 100 credits of the shop's model, signed in with his wallet."""
    settings.ENTITLEMENT_CACHE_SECONDS = 0  # every check reads what the test just synced
    settings.JOB_CHUNK_ROWS = 10
    settings.JOB_BATCH_ROWS = 5
    entitlement.invalidate()
    model = shop.offers[CREDITS].model
    AIModel.objects.filter(pk=model.pk).update(listed=True)
    wallet = shop.env.acct.dave
    env = shop.env
    purchase = env.token.functions.purchase(CREDITS, BOUGHT, CREDIT_PRICE)
    env.send(purchase, wallet, value=CREDIT_PRICE * BOUGHT)
    shop.sync()
    user = get_user_model().objects.create_user(username=wallet.lower())
    SocialAccount.objects.create(user=user, provider="siwe", uid=wallet)
    return SimpleNamespace(
        wallet=wallet,
        user=user,
        version=published_version(model),
        account=lambda: CreditAccount.objects.get(
            network=shop.network, token_id=CREDITS, holder=wallet
        ),
    )


@pytest.fixture
def job(dave):
    rows = load_iris(as_frame=True).data.head(ROWS)
    job = jobs_kit.submit(
        dave.version,
        jobs_kit.csv_bytes(rows),
        caller=entitlement.Caller.of_user(dave.user),
        user=dave.user,
    )
    assert (job.right_kind, job.units_quoted, job.holder) == ("credits", ROWS, dave.wallet)
    assert dave.account().available == BOUGHT - ROWS  # reserved
    return job


def later(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


def go_quiet(chunk, seconds: float) -> None:
    JobChunk.objects.filter(pk=chunk.pk).update(
        heartbeat_at=F("heartbeat_at") - timedelta(seconds=seconds)
    )


def consumed_lines(job) -> list[int]:
    lines = CreditLedgerEntry.objects.filter(
        reservation_id=job.reservation_id, kind=CreditLedgerKind.CONSUME
    )
    return list(lines.values_list("units", flat=True))


def test_a_chunk_out_of_attempts_fails_the_job_and_releases_its_reservation(dave, job, settings):
    # given: chunk 0 done; two workers in turn took chunk 1 and died
    settings.JOB_CHUNK_MAX_ATTEMPTS = 2
    first, second = job.chunks.order_by("index")[:2]
    assert jobs.chunk_run(chunk_id=first.pk, worker="worker-a") == ChunkStatus.DONE
    for worker in ("worker-b", "worker-c"):
        assert jobs._claim(second.pk, worker) is not None
        go_quiet(second, settings.JOB_CHUNK_STALE_SECONDS + 1)

    # when
    assert jobs.jobs_sweep().failed == 1

    # then: a failed job is not charged: the whole reservation is back
    job.refresh_from_db()
    assert (job.status, job.error_code, job.error_chunk) == (JobStatus.FAILED, "job_worker_lost", 1)
    assert job.reservation.status == CreditReservationStatus.RELEASED
    assert (job.units_charged, job.receipt_id) == (0, None)
    assert dave.account().available == BOUGHT
    assert consumed_lines(job) == []


def test_a_lost_join_claimed_again_charges_once(dave, job, settings):
    # given: every chunk done and the join claimed, but its task was lost
    for chunk in job.chunks.order_by("index"):
        jobs.chunk_run(chunk_id=chunk.pk, worker="worker-a")
    job.refresh_from_db()
    assert job.status == JobStatus.JOINING
    lost = str(job.join_attempt)

    # when: the sweep claims it again, the new attempt joins, and the lost one turns up late
    assert jobs.jobs_sweep(now=later(settings.JOB_CHUNK_STALE_SECONDS + 1)).rejoined == 1
    job.refresh_from_db()
    fresh = str(job.join_attempt)
    assert jobs.job_join(job_id=job.pk, attempt=fresh) == "succeeded"
    assert jobs.job_join(job_id=job.pk, attempt=lost) == "not-mine"
    assert jobs.job_join(job_id=job.pk, attempt=fresh) == "not-mine"

    # then: one charge, for the rows done
    job.refresh_from_db()
    assert (job.status, job.units_charged) == (JobStatus.SUCCEEDED, ROWS)
    assert consumed_lines(job) == [-ROWS]
    assert job.reservation.status == CreditReservationStatus.CONSUMED
    assert job.reservation.consumed == ROWS
    receipt = UsageReceipt.objects.get(holder=dave.wallet)
    assert (receipt.pk, receipt.units) == (job.receipt_id, ROWS)
    assert dave.account().available == BOUGHT - ROWS
    assert len(jobs_kit.output_frame(job)) == ROWS


def test_a_superseded_chunk_attempt_adds_nothing_to_the_charge(dave, job, settings):
    # given: worker A took chunk 0 and went quiet; worker B ran it after the sweep
    first = job.chunks.get(index=0)
    attempt_a = jobs._claim(first.pk, "worker-a")
    go_quiet(first, settings.JOB_CHUNK_STALE_SECONDS + 1)
    assert jobs.jobs_sweep().requeued == 1
    assert jobs.chunk_run(chunk_id=first.pk, worker="worker-b") == ChunkStatus.DONE
    first.refresh_from_db()

    # when: A commits the same rows late
    with default_storage.open(first.part_file, "rb") as part:
        name_a = default_storage.save(
            f"{job.folder}/parts/{first.index:06d}-{attempt_a.hex}.csv", ContentFile(part.read())
        )
    assert jobs._commit(job.pk, first, attempt_a, name_a) == "superseded"
    job = jobs_kit.run_inline(job)

    # then
    assert (job.status, job.rows_done, job.units_charged) == (JobStatus.SUCCEEDED, ROWS, ROWS)
    assert consumed_lines(job) == [-ROWS]
    assert dave.account().available == BOUGHT - ROWS
    assert list(jobs_kit.output_frame(job)["row"]) == list(range(1, ROWS + 1))


def test_the_jobs_admin_shows_the_wallet_and_the_credits(client, shop, dave, job):
    client.force_login(shop.manager)
    changelist = reverse("admin:models_hub_inferencejob_changelist")
    short = f"{dave.wallet[:6]}…{dave.wallet[-4:]}"

    live = client.get(changelist).content.decode()
    assert f'<code title="{dave.wallet}">{short}</code>' in live
    assert f"{ROWS} held" in live

    jobs_kit.run_inline(job)
    ended = client.get(changelist).content.decode()
    assert f'<td class="field-credits">{ROWS}</td>' in ended
    page = client.get(reverse("admin:models_hub_inferencejob_change", args=[job.pk]))
    assert f"<code>{dave.wallet}</code>" in page.content.decode()
