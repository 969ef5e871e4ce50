"""Entitlement: one service decides whether a caller may use a model version now, from the
projected licenses, passes, seats and credits; it fails closed with a reason, and its decisions
are cached without ever serving an expiry stale."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.utils import timezone

from chain.choices import OfferKind
from chain.sender import outbox_process
from chain.testing.market import LICENSE_NATIVE
from licensing import entitlement
from licensing.choices import RevocationReason
from licensing.entitlement import Caller, check
from licensing.models import CreditAccount, License, LicenseTerms
from licensing.services.operations import license_revoke
from licensing.services.seats import seat_add
from licensing.tests.factories import (
    TOKEN_ADDRESS,
    address,
    checksum,
    offer_for,
    treasury_license,
    treasury_of,
)
from models_hub.choices import VersionStatus
from models_hub.models import ModelVersion
from portal.choices import OrganizationStatus, Role


@pytest.fixture(autouse=True)
def _fresh_cache(settings):
    settings.ENTITLEMENT_CACHE_SECONDS = 5
    entitlement.invalidate()
    yield
    entitlement.invalidate()


def _version(model, *, published: bool = True) -> ModelVersion:
    """The version a caller asks for (in memory: the check reads its model, status and date)."""
    return ModelVersion(
        model=model,
        version="1.0.0",
        status=VersionStatus.READY,
        published_at=timezone.now() if published else None,
    )


def _customer(*wallets: str) -> Caller:
    """The customer who signs in with ``wallets`` (the same one when asked again)."""
    known = SocialAccount.objects.filter(provider="siwe", uid__in=wallets).first()
    user = (
        known.user if known else get_user_model().objects.create_user(username=f"c{time.time_ns()}")
    )
    for wallet in wallets:
        SocialAccount.objects.get_or_create(provider="siwe", uid=wallet, defaults={"user": user})
    return Caller.of_user(user)


def _license(offer, holder: str, *, days: float = 30, revoked: bool = False) -> License:
    expires = 0 if days == 0 else int(time.time() + days * 86_400)
    return License.objects.create(
        network=offer.network,
        token_address=TOKEN_ADDRESS,
        token_id=offer.token_id,
        holder=holder,
        expires_at=expires,
        terms_hash=offer.terms.content_hash,
        revoked=revoked,
        block_number=7,
    )


def _refused(decision, code: str) -> None:
    assert not decision.allowed
    assert decision.error.code == code
    assert decision.message


# --- rights ---


def test_a_valid_license_of_one_of_the_callers_wallets(org_a):
    offer = offer_for(org_a, "A", "monthly")
    wallet = checksum(address())
    _license(offer, wallet)

    decision = check(caller=_customer(checksum(address()), wallet), version=_version(offer.model))

    assert decision.allowed
    assert (decision.right.kind, decision.right.holder) == ("license", wallet)
    assert not decision.metered


def test_without_a_wallet_or_a_license_it_fails_closed(org_a):
    offer = offer_for(org_a, "A", "monthly")
    _license(offer, checksum(address()))  # someone else's

    nobody = check(caller=_customer(), version=_version(offer.model))
    stranger = check(caller=_customer(checksum(address())), version=_version(offer.model))

    _refused(nobody, "no_license")
    assert "Link a wallet" in nobody.message
    _refused(stranger, "no_license")


def test_an_expired_or_revoked_license(org_a):
    offer = offer_for(org_a, "A", "monthly")
    expired, revoked = checksum(address()), checksum(address())
    _license(offer, expired, days=-1)
    _license(offer, revoked, revoked=True)

    _refused(check(caller=_customer(expired), version=_version(offer.model)), "license_expired")
    _refused(check(caller=_customer(revoked), version=_version(offer.model)), "license_revoked")


def test_a_perpetual_license_and_an_access_pass(org_a):
    license_offer = offer_for(org_a, "A", "forever")
    pass_offer = offer_for(org_a, "A", "week", kind=OfferKind.ACCESS_PASS)
    forever, weekly = checksum(address()), checksum(address())
    _license(license_offer, forever, days=0)
    _license(pass_offer, weekly, days=7)

    assert (
        check(caller=_customer(forever), version=_version(license_offer.model)).right.expires_at
        == 0
    )
    assert check(caller=_customer(weekly), version=_version(pass_offer.model)).right.kind == "pass"


def test_the_license_whose_terms_ended(org_a):
    offer = offer_for(org_a, "A", "monthly")
    LicenseTerms.objects.filter(pk=offer.terms_id).update(
        expires_on=date.today() - timedelta(days=1)
    )
    wallet = checksum(address())
    _license(offer, wallet)

    _refused(check(caller=_customer(wallet), version=_version(offer.model)), "terms_ended")


def _credits(offer, holder: str, delta: int) -> None:
    """The ledger's account of ``holder`` for ``offer``, ``delta`` more (or fewer) available."""
    account, _ = CreditAccount.objects.get_or_create(
        network=offer.network, token_id=offer.token_id, holder=holder
    )
    CreditAccount.objects.filter(pk=account.pk).update(available=account.available + delta)


def test_credits_are_a_metered_right_until_used_up(org_a):
    offer = offer_for(org_a, "A", "credits", kind=OfferKind.CREDITS)
    rich, spent = checksum(address()), checksum(address())
    _credits(offer, rich, 100)
    _credits(offer, spent, 10)
    _credits(offer, spent, -10)

    decision = check(caller=_customer(rich), version=_version(offer.model))
    assert decision.allowed
    assert decision.metered
    assert decision.right.credits == 100
    refused = check(caller=_customer(spent), version=_version(offer.model))
    _refused(refused, "no_credits")
    assert refused.error.status == 402


def test_a_license_comes_before_credits(org_a):
    license_offer = offer_for(org_a, "A", "monthly")
    credit_offer = offer_for(org_a, "A", "credits", kind=OfferKind.CREDITS)
    wallet = checksum(address())
    _license(license_offer, wallet)
    _credits(credit_offer, wallet, 5)

    assert (
        check(caller=_customer(wallet), version=_version(license_offer.model)).right.kind
        == "license"
    )


def test_a_seat_on_the_treasurys_license(org_a, org_b):
    # org B's treasury holds a license of org A's model and seats a member wallet on it
    license = treasury_license(org_b, "B")
    member, other = checksum(address()), checksum(address())
    seat_add(organization=org_b, license=license, wallet=member)
    model = license_model(license)

    decision = check(caller=_customer(member), version=_version(model))
    assert decision.allowed
    assert decision.right.via_seat
    assert decision.right.holder == org_b.treasury_address
    _refused(check(caller=_customer(other), version=_version(model)), "no_license")

    # the seat follows the license: revoked, it gives nothing
    License.objects.filter(pk=license.pk).update(revoked=True)
    entitlement.invalidate()
    _refused(check(caller=_customer(member), version=_version(model)), "license_revoked")


def license_model(license):
    from licensing.models import Offer

    return Offer.objects.get(network=license.network, token_id=license.token_id).model


def test_a_seat_on_another_license_of_the_treasury_gives_nothing_here(org_a, org_b):
    seated = treasury_license(org_b, "B")
    other_model_license = treasury_license(org_b, "B2")
    member = checksum(address())
    seat_add(organization=org_b, license=seated, wallet=member)

    other_model = license_model(other_model_license)
    _refused(check(caller=_customer(member), version=_version(other_model)), "no_license")


def test_the_publishers_staff_use_their_own_model(org_a, org_b, make_staff):
    offer = offer_for(org_a, "A", "monthly")
    ours = Caller.of_user(make_staff(org_a, Role.VIEWER))
    theirs = Caller.of_user(make_staff(org_b, Role.OWNER))

    assert check(caller=ours, version=_version(offer.model)).right.kind == "publisher"
    _refused(check(caller=theirs, version=_version(offer.model)), "no_license")

    org_a.status = OrganizationStatus.SUSPENDED
    org_a.save()
    entitlement.invalidate()
    _refused(check(caller=ours, version=_version(offer.model)), "no_license")


def test_an_organizations_api_key_uses_its_treasurys_licenses(org_a, org_b):
    from portal.choices import ApiScope
    from portal.services import api_key_create

    offer = offer_for(org_a, "A", "monthly")  # org A's model, licensed to org B's treasury
    license = _license(offer, treasury_of(org_b))
    owner = get_user_model().objects.create_user(username="keyowner")
    key = api_key_create(
        organization=org_b, owner=owner, name="k", scopes=[ApiScope.PREDICT]
    ).api_key

    decision = check(caller=Caller.of_api_key(key), version=_version(license_model(license)))

    assert decision.allowed
    assert (decision.right.kind, decision.right.holder) == ("license", org_b.treasury_address)


def test_an_unpublished_version(org_a):
    offer = offer_for(org_a, "A", "monthly")
    wallet = checksum(address())
    _license(offer, wallet)

    decision = check(caller=_customer(wallet), version=_version(offer.model, published=False))

    _refused(decision, "version_not_available")


# --- the cache ---


def test_a_warm_check_runs_no_query(org_a, django_assert_num_queries):
    offer = offer_for(org_a, "A", "monthly")
    wallet = checksum(address())
    _license(offer, wallet)
    caller, version = _customer(wallet), _version(offer.model)
    check(caller=caller, version=version)

    with django_assert_num_queries(0):
        for _ in range(100):
            assert check(caller=caller, version=version).allowed


def test_an_expiry_is_evaluated_at_check_time_never_stale(org_a, django_assert_num_queries):
    offer = offer_for(org_a, "A", "monthly")
    wallet = checksum(address())
    license = _license(offer, wallet, days=1)
    caller, version = _customer(wallet), _version(offer.model)
    assert check(caller=caller, version=version).allowed

    with django_assert_num_queries(0):
        later = check(caller=caller, version=version, now=license.expires_at)
    _refused(later, "license_expired")


def test_a_change_reaches_the_cache_within_the_staleness_bound(org_a, settings):
    offer = offer_for(org_a, "A", "monthly")
    wallet = checksum(address())
    license = _license(offer, wallet)
    caller, version = _customer(wallet), _version(offer.model)
    assert check(caller=caller, version=version).allowed

    License.objects.filter(pk=license.pk).update(revoked=True)  # another process synced it
    assert check(caller=caller, version=version).allowed  # still within the bound

    settings.ENTITLEMENT_CACHE_SECONDS = 0  # the bound passed
    _refused(check(caller=caller, version=version), "license_revoked")


def test_a_purchase_is_seen_at_once_after_invalidation(org_a):
    offer = offer_for(org_a, "A", "monthly")
    wallet = checksum(address())
    caller, version = _customer(wallet), _version(offer.model)
    _refused(check(caller=caller, version=version), "no_license")

    _license(offer, wallet)
    entitlement.invalidate()

    assert check(caller=caller, version=version).allowed


# --- with the chain: the sync invalidates this process's cache ---


def test_a_revocation_on_chain_is_refused_right_after_the_sync(
    shop, network, org_a, django_capture_on_commit_callbacks
):
    env = shop.env
    price = 10**16  # the shop's monthly license
    env.send(env.token.functions.purchase(LICENSE_NATIVE, 1, price), env.acct.carol, value=price)
    shop.sync()
    offer = shop.offers[LICENSE_NATIVE]
    caller = _customer(env.acct.carol)
    version = _version(offer.model)
    assert check(caller=caller, version=version).allowed

    license_revoke(
        offer=offer, holder=env.acct.carol, reason=RevocationReason.TERMS_BREACH, by=shop.manager
    )
    outbox_process(network=network)
    with django_capture_on_commit_callbacks(execute=True) as committed:
        shop.sync()
    assert entitlement.invalidate in committed

    # the bound is 5 s, but this process synced the revocation: refused at once
    _refused(check(caller=caller, version=version), "license_revoked")


def test_a_callers_wallets_are_cached_until_one_is_linked(db, django_assert_num_queries):
    from allauth.socialaccount.signals import social_account_added

    user = get_user_model().objects.create_user(username="cached-caller")
    first = checksum(address())
    SocialAccount.objects.create(user=user, provider="siwe", uid=first)
    assert Caller.of_user(user).wallets == {first}

    with django_assert_num_queries(0):
        assert Caller.of_user(user).wallets == {first}

    second = checksum(address())
    account = SocialAccount.objects.create(user=user, provider="siwe", uid=second)
    social_account_added.send(sender=None, request=None, sociallogin=account)
    assert Caller.of_user(user).wallets == {first, second}
