"""The governance tab in a real browser: a holder signs in with the injected test wallet, sees
her weight at the proposal's snapshot, votes (the wallet signs the EIP-712 ballot: anvil's
``eth_signTypedData_v4``), changes her vote, and opens a proposal of her own; a signed-out
visitor reads the results."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.urls import reverse
from playwright.sync_api import expect

from chain.testing.market import LICENSE_NATIVE
from licensing.choices import ProposalStatus, VoteSupport
from licensing.models import Ballot, Proposal
from licensing.tests.governance_kit import close, propose, vote
from models_hub.models import AIModel
from portal.choices import Role
from portal.tests.browser import PASSWORD, assert_accessible, screenshot, sign_in

pytestmark = [pytest.mark.requires_browser]


@pytest.fixture
def listed(governed):
    cache.clear()  # the sign-in's rate limits
    AIModel.objects.filter(pk=governed.offers[LICENSE_NATIVE].model_id).update(listed=True)
    return governed


def _tab(shop) -> str:
    model = shop.offers[LICENSE_NATIVE].model
    return reverse("market:governance", args=[model.organization.slug, model.slug])


def _sign_in(page, wallet, account: str, back_to: str) -> None:
    wallet.use_account(account, connect=False)
    page.goto("/account/")
    assert urlsplit(page.url).path == reverse("siwe_login"), page.url
    page.locator(".wallet-button").first.click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/account/")
    page.goto(back_to)


def test_a_holder_votes_changes_her_vote_and_proposes(page, wallet, listed):
    shop, a = listed, listed.env.acct
    proposal = propose(
        shop, title="Open a data-partner programme", body="Share **10%** with data partners."
    )
    tab = _tab(shop)
    _sign_in(page, wallet, a.alice, tab)

    article = page.locator(f"article[data-proposal='{proposal.proposal_id}']")
    expect(article.get_by_role("heading", name="Open a data-partner programme")).to_be_visible()
    expect(article.locator(".my-weights")).to_contain_text("600 shares at the snapshot")
    expect(article.locator(".proposal-body strong")).to_have_text("10%")
    assert_accessible(page)

    article.get_by_role("button", name="Vote for").click()
    expect(article.locator(".vote-status")).to_contain_text("counts 600 share(s)")
    ballot = Ballot.objects.get(proposal=proposal, voter=a.alice, current=True)
    assert ballot.support == VoteSupport.FOR
    screenshot(page, "governance-voted")

    page.wait_for_timeout(1100)  # a later second: the next ballot replaces this one
    article.get_by_role("button", name="Vote against").click()
    expect(article.locator(".vote-status")).to_contain_text("replaces your earlier vote")
    assert Ballot.objects.get(proposal=proposal, voter=a.alice, current=True).support == 0
    page.reload()
    expect(article.locator(".my-weights")).to_contain_text("you voted against")

    # she holds 60%, above the 1% threshold: she may propose (a signal vote)
    form = page.locator(".propose-form")
    form.get_by_label("Title").fill("Publish a model card in French")
    with page.expect_navigation():
        form.get_by_role("button", name="Open the proposal").click()
    expect(page.locator(".messages")).to_contain_text("is open for votes")
    mine = Proposal.objects.get(title="Publish a model card in French")
    assert mine.proposer == a.alice
    assert mine.created_by is None
    expect(page.locator(f"article[data-proposal='{mine.proposal_id}']")).to_be_visible()
    screenshot(page, "governance-proposed")


def test_the_results_read_without_signing_in(page, listed):
    shop, a = listed, listed.env.acct
    proposal = propose(shop, title="Keep the current split")
    vote(shop, a.alice, proposal, VoteSupport.FOR)
    vote(shop, a.bob, proposal, VoteSupport.AGAINST)
    closed = close(proposal)
    assert closed.status == ProposalStatus.PASSED

    page.goto(_tab(shop))

    result = page.locator("article.is-closed")
    expect(result.get_by_role("heading")).to_contain_text("Keep the current split")
    expect(result.locator(".outcome")).to_have_text("Passed")
    expect(result).to_contain_text("Turnout")
    expect(result.get_by_role("link", name="every ballot (JSON)")).to_have_attribute(
        "href", f"/api/governance/proposals/{proposal.proposal_id}/tally"
    )
    expect(page.get_by_role("link", name="sign in with your wallet")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "governance-results")


def test_the_organization_reads_the_result_in_the_admin(page, listed, make_staff):
    shop, a = listed, listed.env.acct
    proposal = propose(shop, title="Pause the weekly pass")
    vote(shop, a.alice, proposal, VoteSupport.AGAINST)
    vote(shop, a.bob, proposal, VoteSupport.FOR)
    close(proposal)
    path = reverse("admin:licensing_proposal_change", args=[proposal.pk])

    sign_in(page, make_staff(shop.organization, Role.VIEWER, password=PASSWORD), path)

    expect(page.locator(".field-votes")).to_contain_text("400 / 600 / 0")
    expect(page.locator(".field-status")).to_contain_text("Rejected")
    expect(page.locator(".ballots-table")).to_contain_text(a.alice)
    expect(page.get_by_role("link", name="The tally document (JSON)")).to_have_attribute(
        "href", f"/api/governance/proposals/{proposal.proposal_id}/tally"
    )
    screenshot(page, "governance-admin-proposal")
    tokenomics = shop.offers[LICENSE_NATIVE].model.tokenomics
    page.goto(reverse("admin:licensing_modeltokenomics_change", args=[tokenomics.pk]))
    rules = page.locator(".field-governance")
    expect(rules).to_contain_text("1 proposal(s)")
    screenshot(page, "governance-admin-tokenomics")
