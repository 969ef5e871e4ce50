"""Governance in the admin: owners set the rules and the price bounds (queued to the governor),
managers open proposals (bad changes are form errors, never a 500), and the organization reads
the result, the ballots and the history."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chain.models import OutboundTransaction
from chain.testing.market import LICENSE_NATIVE
from licensing.choices import ProposalAction, ProposalStatus
from licensing.models import GovernanceSettings, Proposal
from licensing.tests.governance_kit import AGAINST, FOR, PRICE, close, propose, vote
from licensing.tests.publishing_setup import drain
from portal.choices import Role


def _add(client, shop, **fields):
    offer = shop.offers[LICENSE_NATIVE]
    data = {
        "model": offer.model.pk,
        "network": shop.network.pk,
        "title": "Raise the monthly price",
        "body": "",
        "action": ProposalAction.SET_PRICE,
        "offer": offer.pk,
        "price": str(PRICE * 2),
        "active": "",
        "payees": "",
        "version": "",
        **fields,
    }
    return client.post(reverse("admin:licensing_proposal_add"), data)


def test_a_manager_opens_a_proposal_in_the_admin(client, governed):
    client.force_login(governed.manager)

    response = _add(client, governed)

    assert response.status_code == 302, response.context["adminform"].form.errors
    proposal = Proposal.objects.get()
    assert (proposal.action, proposal.params["price"]) == (ProposalAction.SET_PRICE, str(PRICE * 2))
    assert proposal.created_by == governed.manager
    assert proposal.snapshot_block >= 0
    assert int(proposal.total_weight) == 1000


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"price": str(PRICE * 50)}, "price", "publisher's bounds"),
        ({"price": ""}, "price", "whole number"),
        (
            {"action": ProposalAction.SET_PAYEES, "payees": "0xnot-an-address 500"},
            "payees",
            "address",
        ),
        ({"title": ""}, "title", "required"),
    ],
)
def test_a_bad_change_is_a_form_error_and_nothing_is_opened(client, governed, fields, field, words):
    client.force_login(governed.manager)

    response = _add(client, governed, **fields)

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert words in " ".join(form.errors.get(field, []) + form.non_field_errors()), form.errors
    assert not Proposal.objects.exists()


def test_the_result_ballots_and_history_show_on_the_proposal(client, governed):
    shop, a = governed, governed.env.acct
    proposal = propose(shop, title="A signal vote")
    vote(shop, a.alice, proposal, FOR)
    vote(shop, a.bob, proposal, AGAINST)
    close(proposal)
    drain(shop.network)
    client.force_login(shop.manager)

    page = client.get(reverse("admin:licensing_proposal_change", args=[proposal.pk]))
    history = client.get(reverse("admin:licensing_proposal_history", args=[proposal.pk]))

    assert page.status_code == 200
    text = page.content.decode()
    assert "600 / 400 / 0" in text
    assert ProposalStatus.PASSED.label in text
    assert a.alice in text
    assert a.bob in text
    assert "The tally document (JSON)" in text
    assert history.status_code == 200
    assert "Status: Open for votes → Passed" in history.content.decode()


def test_an_owner_sets_the_split_bounds_and_they_are_queued(client, governed, make_staff):
    shop = governed
    rules = GovernanceSettings.objects.get(model=shop.offers[LICENSE_NATIVE].model)
    client.force_login(make_staff(shop.organization, Role.OWNER))
    url = reverse("admin:licensing_governancesettings_change", args=[rules.pk])
    data = {
        "model": rules.model.pk,
        "enabled": "on",
        "voting_period_seconds": "86400",
        "quorum_bps": "2000",
        "pass_threshold_bps": "5000",
        "proposal_threshold_bps": "100",
        "min_payees_bps": "500",
        "max_payees_bps": "2000",
    }

    upside_down = client.post(url, {**data, "min_payees_bps": "3000"})
    saved = client.post(url, data)

    assert upside_down.status_code == 200
    assert "above the most" in str(upside_down.context["adminform"].form.errors)
    assert saved.status_code == 302
    queued = OutboundTransaction.objects.get(function="setSplitBounds", status="pending")
    assert queued.args[1:] == [500, 2000]
    drain(shop.network)
    model_id = shop.offers[LICENSE_NATIVE].model.tokenomics.chain_model_id
    assert shop.env.governor.functions.splitBounds(model_id).call() == [500, 2000, True]


def test_the_tokenomics_page_shows_the_models_governance(client, governed):
    shop = governed
    model = shop.offers[LICENSE_NATIVE].model
    propose(shop, title="On the tokenomics page")
    client.force_login(shop.manager)

    page = client.get(reverse("admin:licensing_modeltokenomics_change", args=[model.tokenomics.pk]))
    proposals = client.get(
        reverse("admin:licensing_proposal_changelist"), {"model__id__exact": model.pk}
    )

    text = page.content.decode()
    assert "Governance by the share holders" in text
    assert "votes stay open 3 days, quorum 30%" in text
    assert "1 offer price bound(s); 1 proposal(s)" in text
    assert proposals.status_code == 200
    assert "On the tokenomics page" in proposals.content.decode()
