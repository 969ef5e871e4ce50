"""The status list filter of the publishing steps and the license operations: each of its five
values lists exactly the rows whose status column shows that value (queued, sent, mined,
confirmed by the sync, failed), and nothing of another organization's."""

from __future__ import annotations

import secrets

import pytest
from django.urls import reverse

from chain.choices import TxStatus
from licensing.choices import LicenseOperationKind, PublishStepKind, PublishStepStatus
from licensing.models import LicenseOperation
from licensing.services.status import tx_status
from licensing.tests.factories import (
    HOLDER,
    event_row,
    license_offer_row,
    listed_model,
    outbox_row,
    publish_step_of,
)
from portal.choices import Role

# the transaction each status comes from: (outbox status, mined, indexed by the sync)
STATES = {
    PublishStepStatus.QUEUED: [(TxStatus.PENDING, False, False)],
    PublishStepStatus.SENT: [(TxStatus.SUBMITTED, False, False)],
    PublishStepStatus.MINED: [(TxStatus.CONFIRMED, True, False)],
    PublishStepStatus.CONFIRMED: [(TxStatus.CONFIRMED, True, True)],
    PublishStepStatus.FAILED: [(TxStatus.REVERTED, True, False), (TxStatus.FAILED, False, False)],
}


def _settle(transaction, *, mined: bool, is_indexed: bool) -> None:
    if mined:
        transaction.tx_hash = "0x" + secrets.token_hex(32)
        transaction.save(update_fields=["tx_hash"])
    if is_indexed:
        event_row(transaction.network, "OfferConfigured", tx_hash=transaction.tx_hash)


def _steps(organization) -> dict[str, set[int]]:
    model = listed_model(organization, f"{organization.slug} filtered")
    rows: dict[str, set[int]] = {}
    for status, states in STATES.items():
        for tx_state, mined, is_indexed in states:
            step = publish_step_of(model, PublishStepKind.REGISTER, status=tx_state)
            _settle(step.transaction, mined=mined, is_indexed=is_indexed)
            rows.setdefault(status, set()).add(step.pk)
    return rows


def _operations(organization) -> dict[str, set[int]]:
    offer = license_offer_row(organization, f"{organization.slug} filtered")
    rows: dict[str, set[int]] = {}

    def operation(transaction):
        row = LicenseOperation.objects.create(
            offer=offer, kind=LicenseOperationKind.GRANT, holder=HOLDER, transaction=transaction
        )
        return row.pk

    # an operation refused before it was queued has no transaction: it counts as queued
    rows[PublishStepStatus.QUEUED] = {operation(None)}
    for status, states in STATES.items():
        for tx_state, mined, is_indexed in states:
            transaction = outbox_row(offer.network, tx_state)
            _settle(transaction, mined=mined, is_indexed=is_indexed)
            rows.setdefault(status, set()).add(operation(transaction))
    return rows


ADMINS = {
    "admin:licensing_publishstep_changelist": _steps,
    "admin:licensing_licenseoperation_changelist": _operations,
}


@pytest.mark.parametrize("changelist", ADMINS)
def test_each_status_lists_exactly_its_rows(changelist, client, make_staff, org_a, org_b):
    ours = ADMINS[changelist](org_a)
    ADMINS[changelist](org_b)  # the same rows in another organization, never listed
    client.force_login(make_staff(org_a, Role.VIEWER))
    url = reverse(changelist)

    for status in PublishStepStatus.values:
        response = client.get(url, {"status": status})
        assert response.status_code == 200
        listed = response.context["cl"].result_list
        assert {row.pk for row in listed} == ours[status], status
        # and the filter agrees with the status the list shows
        for row in listed:
            shown, _ = tx_status(row.transaction, row.offer.network if row.offer else row.network)
            assert shown == status

    everything = client.get(url).context["cl"].result_list
    assert {row.pk for row in everything} == set().union(*ours.values())


def test_an_unknown_status_lists_everything_and_never_fails(client, make_staff, org_a):
    ours = _steps(org_a)
    client.force_login(make_staff(org_a, Role.VIEWER))
    url = reverse("admin:licensing_publishstep_changelist")

    response = client.get(url, {"status": "exploded"})

    assert response.status_code == 200
    assert {row.pk for row in response.context["cl"].result_list} == set().union(*ours.values())
