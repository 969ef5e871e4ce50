"""License terms in the admin: add, change (in place, or a new version once held), the page's
reading and hash, the diff view, the history, and the tenant and role boundaries."""

from __future__ import annotations

import re

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.urls import reverse

from chain.models import Network
from licensing.models import License, LicenseTerms
from licensing.services.terms import terms_create, terms_save
from licensing.terms import plain_language
from portal.choices import Role


def _url(view: str, *args) -> str:
    return reverse(f"admin:licensing_licenseterms_{view}", args=args)


def _data(terms: LicenseTerms | None = None, **changes) -> dict:
    """What the change form submits for ``terms`` (or a new row), with ``changes``."""
    values = {
        "name": terms.name if terms else "Standard",
        "commercial_use": terms.commercial_use if terms else False,
        "commercial_attribution": terms.commercial_attribution if terms else False,
        "commercial_revenue_share_bps": terms.commercial_revenue_share_bps if terms else 0,
        "derivatives_allowed": terms.derivatives_allowed if terms else False,
        "derivatives_attribution": terms.derivatives_attribution if terms else False,
        "derivatives_reciprocal": terms.derivatives_reciprocal if terms else False,
        "territory": ", ".join(terms.territory) if terms else "",
        "expires_on": terms.expires_on.isoformat() if terms and terms.expires_on else "",
        "seats": terms.seats if terms else 1,
        "usage_quota": terms.usage_quota if terms else 0,
        "usage_quota_period": terms.usage_quota_period if terms else "month",
        "transferable": terms.transferable if terms else False,
        # a browser sends a textarea back with CRLF line ends
        "legal_text": (terms.legal_text if terms else "").replace("\n", "\r\n"),
        **changes,
    }
    data = {}
    for key, value in values.items():
        if value is True:
            data[key] = "on"
        elif value is not False:
            data[key] = str(value)
    return data


@pytest.fixture
def manager(make_staff, org_a):
    return make_staff(org_a, Role.MANAGER)


@pytest.fixture
def terms(org_a):
    return terms_create(
        organization=org_a,
        name="Standard",
        commercial_use=True,
        commercial_attribution=True,
        commercial_revenue_share_bps=500,
        territory=["DE", "FR"],
        seats=3,
        usage_quota=10_000,
        legal_text="# Standard license\n\nYou may use the model.\nCredit the publisher.",
    )


@pytest.fixture
def network(db):
    return Network.objects.create(name="testnet", chain_id=31_337_002, confirmation_depth=1)


def _hold(terms, network):
    """Someone holds a license under ``terms`` (the projection row stands for the chain)."""
    License.objects.create(
        network=network, token_address="0x" + "22" * 20, token_id=1, holder="0x" + "11" * 20,
        expires_at=0, terms_hash=terms.content_hash, block_number=1,
    )  # fmt: skip


def _stored(terms) -> dict:
    return LicenseTerms.objects.filter(pk=terms.pk).values().get()


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


def test_a_manager_adds_terms(client, manager, org_a):
    client.force_login(manager)
    data = _data(
        organization=org_a.pk,
        commercial_use=True,
        commercial_revenue_share_bps=250,
        territory="fr, de",
        legal_text="# Terms\r\n\r\nText.  \r\n",
    )

    response = client.post(_url("add"), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    terms = LicenseTerms.objects.get()
    assert (terms.organization, terms.version, terms.created_by) == (org_a, 1, manager)
    assert (terms.territory, terms.legal_text) == (["DE", "FR"], "# Terms\n\nText.")
    assert terms.content_hash.startswith("0x")
    assert len(terms.content_hash) == 66
    assert terms.history.get().history_user == manager


def test_a_refused_add_shows_the_rules_on_their_fields(client, manager, org_a):
    client.force_login(manager)

    response = client.post(
        _url("add"), _data(organization=org_a.pk, territory="DE, XX", derivatives_reciprocal=True)
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors.as_data()
    assert [e.code for e in errors["territory"]] == ["territory_unknown"]
    assert [e.code for e in errors["derivatives_reciprocal"]] == [
        "derivative_terms_need_derivatives"
    ]
    assert not LicenseTerms.objects.exists()


def test_a_change_of_terms_nobody_holds_is_made_in_place(client, manager, terms):
    client.force_login(manager)

    response = client.post(_url("change", terms.pk), _data(terms, seats=5))

    assert response.status_code == 302
    assert response["Location"] == _url("changelist")
    assert LicenseTerms.objects.count() == 1
    terms.refresh_from_db()
    assert terms.seats == 5
    assert terms.version == 1
    record = terms.history.latest()
    assert record.history_user == manager


def test_a_change_of_held_terms_makes_the_next_version_and_keeps_the_old_row(
    client, manager, terms, network
):
    # given: someone holds a license under v1
    _hold(terms, network)
    before = _stored(terms)
    client.force_login(manager)

    # when: a manager saves an edit of v1's change form
    response = client.post(
        _url("change", terms.pk),
        _data(terms, seats=5, legal_text="# Standard license\r\n\r\nAmended."),
        follow=True,
    )

    # then: v1 is byte-identical; v2 carries the edit; the page says so and shows v2
    assert _stored(terms) == before
    v2 = LicenseTerms.objects.get(lineage=terms.lineage, version=2)
    assert (v2.previous, v2.seats, v2.legal_text) == (terms, 5, "# Standard license\n\nAmended.")
    assert response.redirect_chain == [(_url("change", v2.pk), 302)]
    assert _messages(response) == [
        "v1 is held by licensees and stays as it was; your changes are v2."
    ]
    assert LogEntry.objects.get(object_id=str(v2.pk)).action_flag == ADDITION


def test_saving_held_terms_unchanged_makes_no_version(client, manager, terms, network):
    _hold(terms, network)
    client.force_login(manager)

    response = client.post(_url("change", terms.pk), _data(terms))

    assert response.status_code == 302
    assert LicenseTerms.objects.count() == 1


def test_the_change_page_reads_the_terms_and_renders_the_text_sanitized(client, manager, terms):
    terms.legal_text = "# Title\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))"
    terms = terms_save(terms=terms)
    client.force_login(manager)

    response = client.get(_url("change", terms.pk))

    body = response.content.decode()
    for sentence in plain_language(terms):
        assert sentence in body
    assert terms.content_hash in body
    preview = body[body.index('<div class="legal-text">') :]
    preview = preview[: preview.index("</div>")]
    assert "<h1>Title</h1>" in preview
    assert "<script" not in preview
    assert "javascript:" not in preview
    assert "<script>alert(1)" not in body
    assert f'href="{_url("diff", terms.pk)}"' in body
    assert "Compare with…" in body
    assert "nobody holds a license under it yet" in body
    assert not INLINE_SCRIPT.search(body)


def test_the_list_shows_versions_hashes_and_whether_they_are_held(client, manager, terms, network):
    _hold(terms, network)
    free = terms_create(organization=terms.organization, name="Free terms")
    client.force_login(manager)

    held_only = client.get(_url("changelist"), {"held": "yes"})
    free_only = client.get(_url("changelist"), {"held": "no"})

    assert list(held_only.context["cl"].result_list) == [terms]
    assert list(free_only.context["cl"].result_list) == [free]
    body = held_only.content.decode()
    assert terms.content_hash[:10] in body
    assert 'alt="True"' in body


def test_the_diff_view_lists_changed_fields_and_the_text_diff(client, manager, terms, network):
    _hold(terms, network)
    terms.commercial_revenue_share_bps = 750
    terms.legal_text = "# Standard license\n\nYou may use the model.\nYou owe 7.5%."
    v2 = terms_save(terms=terms)
    client.force_login(manager)

    response = client.get(_url("diff", v2.pk), {"against": terms.pk})

    assert response.status_code == 200
    changes = {(c.field, c.before, c.after) for c in response.context["changes"]}
    assert changes == {
        ("commercial_revenue_share_bps", "5.00% of that revenue", "7.50% of that revenue"),
        ("legal_text", "4 lines", "4 lines"),
    }
    assert ("diff-removed", "-Credit the publisher.") in response.context["text_diff"]
    assert ("diff-added", "+You owe 7.5%.") in response.context["text_diff"]
    body = response.content.decode()
    assert "Revenue share from commercial use" in body
    assert "+You owe 7.5%." in body
    assert not INLINE_SCRIPT.search(body)


def test_the_diff_link_of_a_later_version_compares_with_its_previous(
    client, manager, terms, network
):
    _hold(terms, network)
    terms.seats = 4
    v2 = terms_save(terms=terms)
    client.force_login(manager)

    page = client.get(_url("change", v2.pk)).content.decode()
    chooser = client.get(_url("diff", v2.pk))

    assert f'href="{_url("diff", v2.pk)}?against={terms.pk}"' in page
    assert chooser.status_code == 200
    assert chooser.context["against"] is None
    assert list(chooser.context["candidates"]) == [terms]


def test_the_diff_view_answers_404_for_another_organizations_terms(client, manager, terms, org_b):
    theirs = terms_create(organization=org_b, name="Theirs")
    client.force_login(manager)

    assert client.get(_url("diff", theirs.pk)).status_code == 404
    assert client.get(_url("diff", theirs.pk), {"against": terms.pk}).status_code == 404
    assert client.get(_url("diff", terms.pk), {"against": theirs.pk}).status_code == 404
    assert client.get(_url("diff", terms.pk), {"against": "x"}).status_code == 404


def test_a_viewer_reads_but_cannot_edit(client, make_staff, org_a, terms):
    viewer = make_staff(org_a, Role.VIEWER)
    client.force_login(viewer)
    before = _stored(terms)

    page = client.get(_url("change", terms.pk))
    posted = client.post(_url("change", terms.pk), _data(terms, seats=9))
    added = client.post(_url("add"), _data(organization=org_a.pk))

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert plain_language(terms)[0] in page.content.decode()
    assert posted.status_code == 403
    assert added.status_code == 403
    assert _stored(terms) == before
    assert LicenseTerms.objects.count() == 1
    assert client.get(_url("diff", terms.pk)).status_code == 200


def test_the_history_shows_who_when_and_before_and_after(client, manager, terms):
    client.force_login(manager)
    client.post(_url("change", terms.pk), _data(terms, seats=7))

    response = client.get(_url("history", terms.pk))

    assert response.status_code == 200
    body = response.content.decode()
    assert manager.email in body
    assert "Seats: 3 → 7" in body
    assert 'href="/admin/auth/user/' not in body  # the user admin is for superusers only
    assert "<time datetime=" in body


def test_history_pages_of_another_organization_answer_404(client, manager, org_b):
    theirs = terms_create(organization=org_b, name="Theirs")
    record = theirs.history.get()
    client.force_login(manager)
    record_url = reverse(
        "admin:licensing_licenseterms_simple_history", args=[theirs.pk, record.history_id]
    )

    assert client.get(_url("history", theirs.pk)).status_code == 404
    assert client.get(record_url).status_code == 404
    assert client.post(record_url, _data(theirs, seats=9)).status_code == 404
    assert theirs.history.count() == 1


def test_a_history_record_opens_read_only_and_cannot_be_reverted(client, manager, terms):
    record = terms.history.get()
    terms.seats = 8
    terms_save(terms=terms)
    client.force_login(manager)
    record_url = reverse(
        "admin:licensing_licenseterms_simple_history", args=[terms.pk, record.history_id]
    )

    page = client.get(record_url)
    posted = client.post(record_url, {**_data(terms, seats=3), "_save": "Revert"})

    assert page.status_code == 200
    body = page.content.decode()
    assert 'value="Revert"' not in body
    assert 'name="seats"' not in body
    assert plain_language(record.instance)[0] in body
    assert posted.status_code == 403
    terms.refresh_from_db()
    assert terms.seats == 8
    assert LicenseTerms.objects.count() == 1


def test_held_terms_are_not_deleted_from_the_admin(client, manager, terms, network):
    _hold(terms, network)
    client.force_login(manager)

    response = client.post(_url("delete", terms.pk), {"post": "yes"}, follow=True)

    assert LicenseTerms.objects.filter(pk=terms.pk).exists()
    assert any("held by licensees" in message for message in _messages(response))
