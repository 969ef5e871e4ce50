"""The batch-job pages for customers whose right is on chain (anvil, the synced shop): the quote
shows the credits a job needs against the balance, too few credits is a form error before any
reservation, a job reserves its credits and is charged for its rows; a license covers a job;
a customer without a right is offered nothing and told why."""

from __future__ import annotations

import re

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.urls import reverse
from sklearn.datasets import load_iris

from chain.testing.market import CREDITS, LICENSE_NATIVE
from licensing import entitlement
from licensing.models import CreditAccount, UsageReceipt
from licensing.tests.publishing_setup import published_version
from models_hub.models import AIModel, InferenceJob
from models_hub.tests import jobs_kit

LICENSE_PRICE = 10**16  # the shop's monthly license
CREDIT_PRICE = 10**12  # one credit
LIST = "/account/jobs/"


@pytest.fixture
def runnable(shop, settings):
    """The shop's model listed with a published iris version."""
    settings.ENTITLEMENT_CACHE_SECONDS = 0  # every page reads what the test just synced
    entitlement.invalidate()
    model = shop.offers[LICENSE_NATIVE].model
    AIModel.objects.filter(pk=model.pk).update(listed=True)
    return published_version(model)


def _customer(client, wallet: str):
    user = get_user_model().objects.create_user(username=wallet.lower())
    SocialAccount.objects.create(user=user, provider="siwe", uid=wallet)
    client.force_login(user)
    return user


def _buy(shop, buyer, offer, amount, price):
    env = shop.env
    env.send(env.token.functions.purchase(offer, amount, price), buyer, value=price * amount)
    shop.sync()


def _csv(n: int) -> bytes:
    X, _ = load_iris(return_X_y=True, as_frame=True)
    return jobs_kit.csv_bytes(X.head(n))


def _post(client, name, version, data, key=""):
    payload = {"version": str(version.pk), "file": jobs_kit.upload(data), "idempotency_key": key}
    return client.post(reverse(name), payload, headers={"HX-Request": "true"})


def _account(shop, holder) -> CreditAccount:
    return CreditAccount.objects.get(network=shop.network, token_id=CREDITS, holder=holder)


def test_the_quote_shows_credits_needed_against_the_balance(client, shop, runnable):
    # given a customer holding 5 credits of the model
    dave = shop.env.acct.dave
    _buy(shop, dave, CREDITS, 5, CREDIT_PRICE)
    _customer(client, dave)

    # the form offers the version under the credits, with the balance
    page = client.get(LIST, {"version": runnable.pk}).content.decode()
    assert re.search(
        rf'<option value="{runnable.pk}" selected>[^<]*your credits \(5 available\)', page
    )

    # a job of 3 rows needs 3 credits of the 5
    enough = _post(client, "jobs:quote", runnable, _csv(3)).content.decode()
    assert re.search(r'class="quote-rows">3<', enough)
    assert "3 credits needed · 5 available" in enough
    assert "Ready to start: 3 credits will be reserved" in enough

    # a job of 8 rows needs more than there are: said before anything is reserved
    short = _post(client, "jobs:quote", runnable, _csv(8)).content.decode()
    assert "8 credits needed · 5 available" in short
    assert "Not enough credits: this job needs 8 and 5 are available." in short
    model = runnable.model
    assert reverse("market:detail", args=[model.organization.slug, model.slug]) in short
    assert _account(shop, dave).available == 5


def test_too_few_credits_is_a_form_error_and_a_job_reserves_then_charges(client, shop, runnable):
    dave = shop.env.acct.dave
    _buy(shop, dave, CREDITS, 5, CREDIT_PRICE)
    user = _customer(client, dave)

    # too many rows for the balance: the form again, nothing reserved
    refused = _post(client, "jobs:submit", runnable, _csv(8), key="a")
    assert refused.status_code == 422
    assert "insufficient_credits" in refused.content.decode()
    assert not InferenceJob.objects.exists()
    assert _account(shop, dave).available == 5

    # 3 rows: a job, 3 credits reserved while it runs
    made = _post(client, "jobs:submit", runnable, _csv(3), key="b")
    assert made.status_code == 302
    job = InferenceJob.objects.get()
    assert (job.user, job.right_kind, job.units_quoted) == (user, "credits", 3)
    assert _account(shop, dave).available == 2
    live = client.get(made["Location"]).content.decode()
    assert '<dd id="job-credits">3 reserved</dd>' in live

    # run: the rows done are charged, the page says so
    jobs_kit.run_inline(job)
    assert _account(shop, dave).available == 2
    assert UsageReceipt.objects.get(holder=dave).units == 3
    ended = client.get(made["Location"]).content.decode()
    assert '<dd id="job-credits">3 charged of 3 reserved</dd>' in ended
    listing = client.get(LIST).content.decode()
    assert re.search(r'data-label="Credits charged" class="num">3\s*</td>', listing)


def test_a_license_covers_the_job(client, shop, runnable):
    carol = shop.env.acct.carol
    _buy(shop, carol, LICENSE_NATIVE, 1, LICENSE_PRICE)
    _customer(client, carol)

    fragment = _post(client, "jobs:quote", runnable, _csv(4)).content.decode()

    assert "Covered by your license: no credits." in fragment
    assert "your license" in client.get(LIST).content.decode()


def test_a_customer_without_a_right_is_offered_nothing_and_told_why(client, shop, runnable):
    _customer(client, shop.env.acct.outsider)

    page = client.get(LIST, {"version": runnable.pk}).content.decode()

    assert "You hold no right to run a model now" in page
    assert "no_license" in page
    assert 'name="file"' not in page
    submitted = _post(client, "jobs:submit", runnable, _csv(2), key="x")
    assert submitted.status_code == 422
    assert not InferenceJob.objects.exists()
