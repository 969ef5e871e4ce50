"""Planning a publication without a node: what is queued, in what order, once; and each
refusal with its code. (Nothing is sent: the outbox rows stay queued, so they count as what the
chain will have.)"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from web3 import Web3

from chain import abi
from chain.choices import OfferKind, TxStatus
from chain.models import IndexedEvent, OutboundTransaction
from licensing.choices import ContributorRole, PublishStepKind, PublishStepStatus, UsageUnit
from licensing.models import Offer, Payee, PublishedVersion, PublishStep
from licensing.services import tokenomics
from licensing.services.publishing import (
    model_publish,
    model_publish_plan,
    step_retry,
    step_views,
)
from licensing.tests.publishing_setup import (
    DAY,
    OPERATOR_KEY,
    TREASURY,
    fake_network,
    listed_model,
    native,
    published_version,
    terms_for,
)
from portal.choices import OrganizationStatus

HOLDERS = ["0x" + "a1" * 20, "0x" + "b2" * 20]


@pytest.fixture(autouse=True)
def _operator(settings):
    settings.CHAIN_OPERATOR_KEY = OPERATOR_KEY


@pytest.fixture
def network(db):
    return fake_network()


@pytest.fixture
def model(org_a):
    org_a.treasury_address = TREASURY
    org_a.save()
    model = listed_model(org_a)
    published_version(model)
    return model


@pytest.fixture
def offers(model, network):
    """A license tier, a 30-day pass, a credits pack and shares with a cap table."""
    eth, terms = native(network), terms_for(model.organization)
    paid = {"model": model, "network": network, "currency": eth, "terms": terms}
    made = {
        "license": tokenomics.offer_create(
            kind=OfferKind.LICENSE, tier_name="Pro", price=10**16, **paid
        ),
        "pass": tokenomics.offer_create(
            kind=OfferKind.ACCESS_PASS, tier_name="Month", price=10**15, duration=30 * DAY, **paid
        ),
        "credits": tokenomics.offer_create(
            kind=OfferKind.CREDITS,
            tier_name="1k calls",
            price=10**15,
            credits_per_unit=1000,
            usage_unit=UsageUnit.CALL,
            **paid,
        ),
        "shares": tokenomics.offer_create(
            model=model, network=network, kind=OfferKind.SHARES, tier_name="Shares"
        ),
    }
    for holder, amount in zip(HOLDERS, (600, 400), strict=True):
        tokenomics.share_allocation_create(model=model, holder=holder, amount=amount)
    tokenomics.payee_create(model=model, address="0x" + "c3" * 20, label="Data partner", bps=500)
    return made


def _kinds(steps) -> list[str]:
    return [step.kind for step in steps]


def test_publishing_queues_each_step_in_order_once(model, network, offers):
    steps = model_publish(model=model, network=network)

    assert _kinds(steps) == [
        PublishStepKind.REGISTER,
        PublishStepKind.VERSION,
        *[PublishStepKind.OFFER] * 4,
        PublishStepKind.PAYEES,
        PublishStepKind.SHARES,
    ]
    assert [s.transaction_id for s in steps] == sorted(s.transaction_id for s in steps)
    register, version = steps[0], steps[1]
    assert register.transaction.function == "registerModel"
    assert register.payload["state"]["publisher"] == Web3.to_checksum_address(TREASURY)
    assert version.payload["state"]["version"] == version.version.sort_key == 100_000_000
    shares = offers["shares"]
    shares.refresh_from_db()
    assert shares.max_supply == 1000  # the cap table's total
    assert steps[-1].transaction.args[1] == [Web3.to_checksum_address(h) for h in HOLDERS]
    assert {v.status for v in step_views(PublishStep.objects.all())} == {PublishStepStatus.QUEUED}
    assert model_publish(model=model, network=network) == []  # queued counts as on its way


def test_a_changed_offer_queues_one_configure_offer_and_changing_back_sends_it_again(
    model, network, offers
):
    model_publish(model=model, network=network)
    license_offer = offers["license"]
    original = license_offer.price

    license_offer.price = 2 * original
    tokenomics.offer_save(offer=license_offer)
    changed = model_publish(model=model, network=network)
    license_offer.price = original
    tokenomics.offer_save(offer=license_offer)
    back = model_publish(model=model, network=network)

    assert [(s.kind, s.offer) for s in changed] == [(PublishStepKind.OFFER, license_offer)]
    assert [(s.kind, s.offer) for s in back] == [(PublishStepKind.OFFER, license_offer)]
    first_key = PublishStep.objects.filter(offer=license_offer).order_by("pk")[0]
    assert back[0].transaction.idempotency_key.endswith(":1")
    assert back[0].transaction.idempotency_key[:-1] == first_key.transaction.idempotency_key[:-1]


def test_an_inactive_offer_the_chain_never_had_is_not_listed(model, network, offers):
    offers["credits"].active = False
    tokenomics.offer_save(offer=offers["credits"])

    steps = model_publish(model=model, network=network)

    assert offers["credits"] not in [s.offer for s in steps]


def test_the_plan_preview_writes_nothing(model, network, offers):
    calls = model_publish_plan(model=model, network=network)

    assert [c.function for c in calls][:2] == ["registerModel", "publishVersion"]
    assert "configureOffer: Pro (license)" in [c.describe() for c in calls]
    assert not PublishStep.objects.exists()
    assert not OutboundTransaction.objects.exists()
    offers["shares"].refresh_from_db()
    assert offers["shares"].max_supply == 0


def test_without_a_treasury_the_operator_publishes(org_b, network, settings):
    model = listed_model(org_b, "Treasury-less")
    published_version(model)

    register = model_publish(model=model, network=network)[0]

    assert register.payload["state"]["publisher"] == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


# --- refusals ---


def _refused(code: str, **kwargs) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        model_publish(**kwargs)
    assert [e.code for e in info.value.error_list] == [code]
    assert not PublishStep.objects.exists()
    return info.value


def test_refused_without_the_contracts_on_that_network(model, db):
    network = fake_network("bare", deployed=[abi.REGISTRY])

    error = _refused("contracts_not_deployed", model=model, network=network)

    assert "LicenseToken, RevenueVault" in error.messages[0]


def test_refused_on_an_inactive_network(model, network):
    network.is_active = False
    network.save()

    _refused("network_inactive", model=model, network=network)


def test_refused_for_a_suspended_organization(model, network):
    organization = model.organization
    organization.status = OrganizationStatus.SUSPENDED
    organization.save()

    _refused("organization_inactive", model=model, network=network)


def test_refused_without_a_published_ready_version(org_a, network):
    model = listed_model(org_a, "Draft only")
    published_version(model, publish=False)

    _refused("nothing_to_list", model=model, network=network)


def test_refused_for_a_paid_offer_whose_terms_have_no_hash(model, network):
    tokenomics.offer_create(
        model=model,
        network=network,
        kind=OfferKind.LICENSE,
        tier_name="Unhashed",
        price=5,
        currency=native(network),
        terms=terms_for(model.organization, "Draft terms", hashed=False),
    )

    _refused("terms_not_hashed", model=model, network=network)


def test_refused_for_shares_without_a_cap_table(model, network):
    tokenomics.offer_create(model=model, network=network, kind=OfferKind.SHARES, tier_name="S")

    _refused("cap_table_empty", model=model, network=network)


def test_refused_for_a_cap_table_above_the_shares_maximum(model, network):
    shares = tokenomics.offer_create(
        model=model, network=network, kind=OfferKind.SHARES, tier_name="S"
    )
    tokenomics.share_allocation_create(model=model, holder=HOLDERS[0], amount=150)
    # the services refuse this state (cap_table_over_max_supply, max_supply_below_cap_table):
    # rows written before those rules still reach the plan
    Offer.objects.filter(pk=shares.pk).update(max_supply=100)

    _refused("cap_table_over_max_supply", model=model, network=network)


def test_refused_when_a_new_version_brings_more_payees_than_the_vault_pays(model, network):
    tokenomics.tokenomics_save(tokenomics=_tokenomics(model, contributors_bps=1000))
    for number in range(8):
        tokenomics.payee_create(model=model, address=f"0x{number + 1:040x}", label="p", bps=10)
    version = published_version(model, "1.1.0", seed=1, publish=False)
    for number in range(5):
        tokenomics.contributor_create(
            version=version,
            address=f"0x{number + 100:040x}",
            role=ContributorRole.DATA,
            share_bps=2000,
        )
    from models_hub import services as registry

    registry.version_publish(version=version)  # its five contributors join the eight payees

    error = _refused("too_many_payees", model=model, network=network)

    assert "13" in error.messages[0]


def test_refused_for_payees_above_the_vaults_bound(model, network):
    # payees written around the services (the vault would refuse their sum)
    Payee.objects.create(model=model, address="0x" + "d4" * 20, label="Too much", bps=9500)

    _refused("payees_over_bounds", model=model, network=network)


def test_refused_without_an_operator_key(model, network, settings):
    settings.CHAIN_OPERATOR_KEY = None

    _refused("operator_key_missing", model=model, network=network)


def test_refused_when_the_version_number_holds_another_hash_on_chain(model, network):
    model_id = tokenomics.tokenomics_for(model=model).chain_model_id
    event = IndexedEvent.objects.create(
        network=network,
        chain_id=network.chain_id,
        contract_name=abi.REGISTRY,
        address="0x" + "01" * 20,
        name="VersionPublished",
        args={},
        block_number=1,
        block_hash="0x" + "00" * 32,
        tx_hash="0x" + "ee" * 32,
        log_index=0,
    )
    PublishedVersion.objects.create(
        event=event,
        network=network,
        model_id=model_id,
        version=100_000_000,
        artifact_sha256="f" * 64,
    )

    _refused("version_number_taken", model=model, network=network)


# --- retries ---


def test_a_step_that_has_not_failed_is_not_retried(model, network, offers):
    step = model_publish(model=model, network=network)[0]

    with pytest.raises(ValidationError) as info:
        step_retry(step=step)

    assert info.value.code == "step_not_failed"


def test_a_retry_is_a_new_attempt_and_only_the_latest_may_be_retried(model, network, offers):
    step = model_publish(model=model, network=network)[2]  # the first offer
    OutboundTransaction.objects.filter(pk=step.transaction_id).update(
        status=TxStatus.REVERTED, revert_reason="AccessControlUnauthorizedAccount(...)"
    )

    again = step_retry(step=step)

    assert again.offer == step.offer
    assert again.transaction.idempotency_key == step.transaction.idempotency_key[:-1] + "1"
    assert model_publish(model=model, network=network) == []
    with pytest.raises(ValidationError) as info:
        step_retry(step=step)
    assert info.value.code == "step_superseded"


def _tokenomics(model, **fields):
    row = tokenomics.tokenomics_for(model=model)
    for name, value in fields.items():
        setattr(row, name, value)
    return row


def test_an_inactive_shares_offer_never_listed_needs_no_cap_table(model, network):
    tokenomics.offer_create(
        model=model, network=network, kind=OfferKind.SHARES, tier_name="Later", active=False
    )

    steps = model_publish(model=model, network=network)

    assert [s.kind for s in steps] == [PublishStepKind.REGISTER, PublishStepKind.VERSION]


def test_the_step_status_endpoint_answers_own_steps_in_the_badges_shape(
    client, org_a, org_b, make_staff
):
    from django.urls import reverse

    from licensing.tests.factories import publish_step_row

    ours, theirs = publish_step_row(org_a, "Alpha"), publish_step_row(org_b, "Beta")
    client.force_login(make_staff(org_a, "viewer"))
    url = reverse("admin:licensing_publishstep_status")

    answer = client.get(url, {"id": [ours.pk, theirs.pk, "junk"]}).json()

    # another organization's step and a junk id are left out; a failed step says why
    assert list(answer["badges"]) == [str(ours.pk)]
    state = answer["badges"][str(ours.pk)]
    assert (state["status"], state["live"]) == (PublishStepStatus.FAILED, False)
    assert "AccessControlUnauthorizedAccount" in state["reason"]
