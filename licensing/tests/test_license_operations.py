"""License operations end to end on anvil: a manager grants, extends and revokes through the
admin; the outbox sends; the sync projects; the operation shows its status and its history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from chain import abi
from chain.models import OutboundTransaction
from chain.sender import outbox_process
from chain.testing.market import CREDITS, LICENSE_NATIVE, PASS_TOKEN, PERPETUAL, SHARES
from licensing.admin.operations import operation_add_url
from licensing.choices import LicenseChangeKind, PublishStepStatus, RevocationReason
from licensing.models import Holding, License, LicenseChange, LicenseOperation, Offer
from licensing.services.operations import license_operation_status
from licensing.tests.shop import ADMIN_KEY

ADD = "admin:licensing_licenseoperation_add"
CHANGELIST = "admin:licensing_licenseoperation_changelist"


def later(shop, days: float) -> datetime:
    """A moment ``days`` after now (by the later of the wall clock and the chain's clock)."""
    now = max(int(timezone.now().timestamp()), shop.env.now())
    return datetime.fromtimestamp(now + int(days * 86_400), tz=UTC)


def form_data(*, kind, offer, holder, amount=1, expires_at=None, reason="", note=""):
    data = {"kind": kind, "offer": offer.pk, "holder": holder, "amount": amount, "note": note}
    data["reason"] = reason
    data["expires_at_0"] = f"{expires_at:%Y-%m-%d}" if expires_at else ""
    data["expires_at_1"] = f"{expires_at:%H:%M:%S}" if expires_at else ""
    return data


def ask(client, **fields):
    return client.post(reverse(ADD), form_data(**fields))


def send_and_sync(shop):
    result = outbox_process(network=shop.network)
    shop.sync()
    return result


def license_of(shop, token_id, holder) -> License:
    return License.objects.get(network=shop.network, token_id=token_id, holder=holder)


def last_change(shop, token_id, holder) -> LicenseChange:
    changes = LicenseChange.objects.filter(network=shop.network, token_id=token_id, holder=holder)
    return changes.order_by("-event__block_number", "-event__log_index").first()


def test_grant_extend_and_revoke_through_the_admin(client, shop):
    env, dave = shop.env, shop.env.acct.dave
    offer = shop.offers[LICENSE_NATIVE]
    client.force_login(shop.manager)
    until = later(shop, 60)

    # grant: a comp license minted to dave
    response = ask(client, kind="grant", offer=offer, holder=dave.lower(), expires_at=until)
    assert response.status_code == 302, response.context and response.context["adminform"].errors
    grant = LicenseOperation.objects.get()
    assert grant.holder == dave  # stored checksummed
    assert license_operation_status(grant)[0] == PublishStepStatus.QUEUED
    assert grant.transaction.function == "grant"
    outbox_process(network=shop.network)
    grant.refresh_from_db()
    assert license_operation_status(grant)[0] == PublishStepStatus.MINED  # not synced yet
    shop.sync()
    assert license_operation_status(grant) == (PublishStepStatus.CONFIRMED, "")
    assert license_of(shop, LICENSE_NATIVE, dave).expires_at == int(until.timestamp())
    assert last_change(shop, LICENSE_NATIVE, dave).kind == LicenseChangeKind.GRANT
    assert Holding.objects.get(token_id=LICENSE_NATIVE, holder=dave).balance == 1
    with CaptureQueriesContext(connection) as one_row:
        client.get(reverse(CHANGELIST))

    # extend: more time, nothing minted
    longer = later(shop, 120)
    response = ask(client, kind="extend", offer=offer, holder=dave, expires_at=longer)
    assert response.status_code == 302
    send_and_sync(shop)
    extension = LicenseOperation.objects.get(kind="extend")
    assert license_operation_status(extension) == (PublishStepStatus.CONFIRMED, "")
    on_chain = env.token.functions.expiresAt(LICENSE_NATIVE, dave).call()
    assert license_of(shop, LICENSE_NATIVE, dave).expires_at == on_chain == int(longer.timestamp())
    assert last_change(shop, LICENSE_NATIVE, dave).kind == LicenseChangeKind.EXTEND
    assert Holding.objects.get(token_id=LICENSE_NATIVE, holder=dave).balance == 1

    # revoke, with a reason code on chain
    response = ask(
        client, kind="revoke", offer=offer, holder=dave, reason=RevocationReason.TERMS_BREACH
    )
    assert response.status_code == 302
    send_and_sync(shop)
    revoked = license_of(shop, LICENSE_NATIVE, dave)
    assert revoked.revoked
    assert not revoked.is_valid(env.now())
    change = last_change(shop, LICENSE_NATIVE, dave)
    assert change.kind == LicenseChangeKind.REVOKE
    assert bytes.fromhex(change.reason[2:]).rstrip(b"\x00") == b"terms_breach"
    assert not env.token.functions.isValid(dave, LICENSE_NATIVE).call()

    # the list shows each one's status (three confirmed), in a constant number of queries
    with CaptureQueriesContext(connection) as three_rows:
        page = client.get(reverse(CHANGELIST))
    assert page.content.decode().count('<span class="badge badge-ok"') == 3  # confirmed
    assert len(three_rows) == len(one_row)


def test_credits_and_perpetual_grants_take_no_expiry(client, shop):
    carol = shop.env.acct.carol
    client.force_login(shop.manager)

    ask(client, kind="grant", offer=shop.offers[CREDITS], holder=carol, amount=250)
    ask(client, kind="grant", offer=shop.offers[PERPETUAL], holder=carol)
    send_and_sync(shop)

    assert shop.env.token.functions.balanceOf(carol, CREDITS).call() == 250
    assert license_of(shop, PERPETUAL, carol).expires_at == 0
    assert license_of(shop, PERPETUAL, carol).is_valid()
    statuses = {license_operation_status(op)[0] for op in LicenseOperation.objects.all()}
    assert statuses == {PublishStepStatus.CONFIRMED}


def test_the_history_keeps_who_when_and_before_and_after(client, shop):
    dave = shop.env.acct.dave
    client.force_login(shop.manager)
    ask(
        client,
        kind="grant",
        offer=shop.offers[LICENSE_NATIVE],
        holder=dave,
        expires_at=later(shop, 30),
        note="Conference speaker",
    )
    operation = LicenseOperation.objects.get()
    change_url = reverse("admin:licensing_licenseoperation_change", args=[operation.pk])

    response = client.post(change_url, {"note": "Conference speaker, 2026"})

    assert response.status_code == 302
    created, edited = operation.history.order_by("history_date")
    assert (created.history_type, created.history_user) == ("+", shop.manager)
    assert (edited.history_type, edited.history_user) == ("~", shop.manager)
    delta = edited.diff_against(created)
    assert [(c.field, c.old, c.new) for c in delta.changes] == [
        ("note", "Conference speaker", "Conference speaker, 2026")
    ]
    assert created.transaction_id == edited.transaction_id  # the transaction did not change
    page = client.get(reverse("admin:licensing_licenseoperation_history", args=[operation.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert shop.manager.email in body
    assert reverse("admin:auth_user_change", args=[shop.manager.pk]) not in body  # superusers'
    assert "Conference speaker, 2026" in body
    # a revert from the history would bypass the services: refused
    record_url = reverse(
        "admin:licensing_licenseoperation_simple_history", args=[operation.pk, created.pk]
    )
    assert client.post(record_url, {"note": "reverted"}).status_code == 403
    operation.refresh_from_db()
    assert operation.note == "Conference speaker, 2026"


def test_a_failed_operation_says_why_and_is_sent_again(client, shop, settings):
    env, dave = shop.env, shop.env.acct.dave
    settings.CHAIN_OPERATOR_KEY = ADMIN_KEY  # an operator without the publisher role
    client.force_login(shop.manager)
    ask(client, kind="grant", offer=shop.offers[LICENSE_NATIVE], holder=dave,
        expires_at=later(shop, 10))  # fmt: skip
    operation = LicenseOperation.objects.get()

    outbox_process(network=shop.network)

    operation.refresh_from_db()
    status, reason = license_operation_status(operation)
    assert status == PublishStepStatus.FAILED
    assert f"{env.acct.admin} lacks the publisher role" in reason
    page = client.get(reverse("admin:licensing_licenseoperation_change", args=[operation.pk]))
    assert "lacks the publisher role" in page.content.decode()
    failed = client.get(reverse(CHANGELIST), {"status": "failed"}).context["cl"].result_list
    assert list(failed) == [operation]

    # when the operator is granted the role, the retry action sends it again
    env.send(env.token.functions.grantRole(abi.PUBLISHER_ROLE, env.acct.admin), env.acct.admin)
    response = client.post(
        reverse(CHANGELIST), {"action": "retry_failed", "_selected_action": [operation.pk]}
    )
    assert response.status_code == 302
    send_and_sync(shop)
    operation.refresh_from_db()
    assert license_operation_status(operation) == (PublishStepStatus.CONFIRMED, "")
    assert env.token.functions.isValid(dave, LICENSE_NATIVE).call()
    for status, expected in (("failed", []), ("confirmed", [operation]), ("mined", [])):
        listed = client.get(reverse(CHANGELIST), {"status": status}).context["cl"].result_list
        assert list(listed) == expected, status


def test_links_prefill_the_add_form(client, shop):
    dave = shop.env.acct.dave
    offer = shop.offers[LICENSE_NATIVE]
    client.force_login(shop.manager)

    page = client.get(operation_add_url(offer=offer, holder=dave, kind="extend"))

    form = page.context["adminform"].form
    assert (form["kind"].value(), form["holder"].value()) == ("extend", dave)
    assert str(form["offer"].value()) == str(offer.pk)


# --- bad input: each rule its case (a form error, no operation, nothing queued) ---


def _bad_cases(shop):
    a = shop.env.acct
    o = shop.offers
    soon, past = later(shop, 5), datetime.now(tz=UTC) - timedelta(days=1)
    return [
        ("offer", "offer_not_published", {"kind": "grant", "offer": "unpublished",
                                          "holder": a.dave, "expires_at": soon}),
        ("offer", "shares_not_grantable", {"kind": "grant", "offer": o[SHARES], "holder": a.dave}),
        ("expires_at", "expiry_not_allowed", {"kind": "grant", "offer": o[CREDITS],
                                              "holder": a.dave, "expires_at": soon}),
        ("expires_at", "expiry_not_allowed", {"kind": "grant", "offer": o[PERPETUAL],
                                              "holder": a.dave, "expires_at": soon}),
        ("expires_at", "expiry_required", {"kind": "grant", "offer": o[LICENSE_NATIVE],
                                           "holder": a.dave}),
        ("expires_at", "expiry_in_past", {"kind": "grant", "offer": o[LICENSE_NATIVE],
                                          "holder": a.dave, "expires_at": past}),
        ("amount", "max_supply_exceeded", {"kind": "grant", "offer": o[PASS_TOKEN],
                                           "holder": a.dave, "amount": 6, "expires_at": soon}),
        ("holder", "invalid_address", {"kind": "grant", "offer": o[CREDITS], "holder": "0x1234"}),
        ("holder", "invalid_address", {"kind": "grant", "offer": o[CREDITS],
                                       "holder": a.dave[:-4] + a.dave[-4:].swapcase()}),
        ("holder", "zero_address", {"kind": "grant", "offer": o[CREDITS],
                                    "holder": "0x" + "0" * 40}),
        ("reason", "field_not_for_kind", {"kind": "grant", "offer": o[CREDITS], "holder": a.dave,
                                          "reason": RevocationReason.FRAUD}),
        ("holder", "not_a_holder", {"kind": "extend", "offer": o[LICENSE_NATIVE],
                                    "holder": a.bob, "expires_at": soon}),
        ("expires_at", "expiry_not_later", {"kind": "extend", "offer": o[LICENSE_NATIVE],
                                            "holder": a.alice, "expires_at": soon}),
        ("offer", "offer_not_timed", {"kind": "extend", "offer": o[PERPETUAL],
                                      "holder": a.alice, "expires_at": soon}),
        ("amount", "field_not_for_kind", {"kind": "extend", "offer": o[LICENSE_NATIVE],
                                          "holder": a.alice, "amount": 3, "expires_at": soon}),
        ("expires_at", "expiry_required", {"kind": "extend", "offer": o[LICENSE_NATIVE],
                                           "holder": a.alice}),
        ("reason", "reason_required", {"kind": "revoke", "offer": o[LICENSE_NATIVE],
                                       "holder": a.alice}),
        ("note", "note_required", {"kind": "revoke", "offer": o[LICENSE_NATIVE],
                                   "holder": a.alice, "reason": RevocationReason.OTHER}),
        ("holder", "not_a_holder", {"kind": "revoke", "offer": o[LICENSE_NATIVE],
                                    "holder": a.bob, "reason": RevocationReason.FRAUD}),
        ("offer", "offer_not_revocable", {"kind": "revoke", "offer": o[CREDITS],
                                          "holder": a.alice, "reason": RevocationReason.FRAUD}),
        ("expires_at", "field_not_for_kind", {"kind": "revoke", "offer": o[LICENSE_NATIVE],
                                              "holder": a.alice, "expires_at": soon,
                                              "reason": RevocationReason.FRAUD}),
        ("kind", "required", {"kind": "", "offer": o[LICENSE_NATIVE], "holder": a.alice}),
    ]  # fmt: skip


def test_each_rule_refuses_with_a_form_error_and_queues_nothing(client, shop):
    env, a = shop.env, shop.env.acct
    env.send(env.token.functions.purchase(LICENSE_NATIVE, 1, 10**16), a.alice, value=10**16)
    env.send(env.token.functions.purchase(CREDITS, 3, 10**12), a.alice, value=3 * 10**12)
    shop.sync()
    unpublished = Offer.objects.create(
        model=shop.offers[LICENSE_NATIVE].model, network=shop.network, kind=0,
        tier_name="Draft", price=1, currency=shop.eth, terms=shop.terms, token_id=987_654,
    )  # fmt: skip
    client.force_login(shop.manager)
    queued = OutboundTransaction.objects.count()

    for field, code, fields in _bad_cases(shop):
        if fields["offer"] == "unpublished":
            fields = {**fields, "offer": unpublished}
        response = ask(client, **fields)

        assert response.status_code == 200, f"{field}/{code} was accepted"
        errors = response.context["adminform"].form.errors.as_data()
        assert field in errors, f"{code}: no error on {field}: {errors}"
        assert code in [e.code for e in errors[field]], (code, errors)
        assert not LicenseOperation.objects.exists(), code
        assert OutboundTransaction.objects.count() == queued, code


def test_a_revoked_license_is_not_revoked_twice(client, shop):
    env, alice = shop.env, shop.env.acct.alice
    offer = shop.offers[LICENSE_NATIVE]
    env.send(env.token.functions.purchase(LICENSE_NATIVE, 1, 10**16), alice, value=10**16)
    shop.sync()
    client.force_login(shop.manager)
    ask(client, kind="revoke", offer=offer, holder=alice, reason=RevocationReason.FRAUD)
    send_and_sync(shop)
    queued = OutboundTransaction.objects.count()

    response = ask(client, kind="revoke", offer=offer, holder=alice, reason=RevocationReason.FRAUD)

    errors = response.context["adminform"].form.errors.as_data()
    assert [e.code for e in errors["holder"]] == ["already_revoked"]
    assert LicenseOperation.objects.count() == 1
    assert OutboundTransaction.objects.count() == queued


def test_offers_of_another_organization_are_not_offered(client, shop, org_b, make_staff):
    from licensing.tests.factories import license_offer_row

    foreign = license_offer_row(org_b, "beta-leak")
    client.force_login(shop.manager)

    page = client.get(reverse(ADD))
    response = ask(client, kind="grant", offer=foreign, holder=shop.env.acct.dave,
                   expires_at=later(shop, 3))  # fmt: skip

    assert "beta-leak" not in page.content.decode()
    search = {"app_label": "licensing", "model_name": "licenseoperation", "field_name": "offer"}
    found = client.get(reverse("admin:autocomplete"), {**search, "term": ""}).json()["results"]
    assert {int(row["id"]) for row in found} == {offer.pk for offer in shop.offers.values()}
    errors = response.context["adminform"].form.errors.as_data()
    assert "invalid_choice" in [e.code for e in errors["offer"]]
    assert not LicenseOperation.objects.exists()


@pytest.mark.parametrize("kind", ["grant", "extend", "revoke"])
def test_viewers_cannot_start_operations(client, shop, make_staff, kind):
    from portal.choices import Role

    client.force_login(make_staff(shop.organization, Role.VIEWER))

    response = ask(client, kind=kind, offer=shop.offers[LICENSE_NATIVE], holder=shop.env.acct.dave)

    assert response.status_code == 403
    assert not LicenseOperation.objects.exists()
