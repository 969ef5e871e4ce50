"""The audit as staff read it: an offer's history page in a real browser (the one list template
of ``portal.history_admin.TenantHistoryAdmin``), "What changed" in words."""

from __future__ import annotations

import pytest

from licensing.services.tokenomics import offer_save
from licensing.tests.factories import offer_row
from portal.choices import Role
from portal.tests.browser import PASSWORD, screenshot, sign_in

pytestmark = [pytest.mark.requires_browser]


def test_an_offers_history_says_what_changed_in_words(page, make_staff, org_a):
    manager = make_staff(org_a, Role.MANAGER, password=PASSWORD)
    offer = offer_row(org_a, "Alpha")
    before = offer.tier_name
    offer.tier_name = "Enterprise"
    offer_save(offer=offer, by=manager)

    sign_in(page, manager, f"/admin/licensing/offer/{offer.pk}/history/")

    table = page.locator("#change-history")
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    assert [h.lower() for h in headers] == [
        "version", "date/time", "action", "changed by", "what changed"
    ]  # fmt: skip
    changes = [c.strip() for c in table.locator("td.what-changed").all_inner_texts()]
    assert changes == [f"Tier name: {before} → Enterprise", "created"]
    assert manager.email in table.inner_text()
    screenshot(page, "offer-history")
