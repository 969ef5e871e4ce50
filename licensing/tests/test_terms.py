"""License terms: the canonical JSON and its hash, the plain-language reading, the diff, the
sanitized legal text, and the services (versions frozen once held, validation)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections import OrderedDict
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from eth_utils import keccak

from chain.choices import OfferKind
from chain.models import Network
from licensing.countries import ISO_3166_ALPHA2
from licensing.models import ChainOffer, License, LicenseTerms
from licensing.services.terms import (
    held_annotation,
    terms_create,
    terms_delete,
    terms_is_held,
    terms_save,
)
from licensing.terms import (
    EDITABLE_FIELDS,
    canonical_json,
    legal_text_html,
    normalize_legal_text,
    plain_language,
    terms_diff,
    terms_hash,
)
from portal.choices import Role

# --- the fixed vector: computed once, checked by hand (the keys in code-point order, the
# UTF-8 of "ü" as c3 bc, no whitespace) and its keccak-256 recomputed with npm's js-sha3
# (`node -e "require('js-sha3').keccak256(fs.readFileSync(file))"`): an independent keccak.

VECTOR_INPUT = {
    "name": "  Standard licence ",
    "version": 2,
    "commercial_use": True,
    "commercial_attribution": True,
    "commercial_revenue_share_bps": 250,
    "derivatives_allowed": True,
    "derivatives_attribution": True,
    "derivatives_reciprocal": False,
    "territory": ["fr", "DE"],
    "expires_on": date(2027, 6, 30),
    "seats": 3,
    "usage_quota": 10000,
    "usage_quota_period": "month",
    "transferable": False,
    "legal_text": "# Licence\r\n\r\nUse by Zu\u0308rich AG.  \r\n",  # decomposed ü, CRLF
}
VECTOR_JSON = (
    b'{"commercial_attribution":true,"commercial_revenue_share_bps":250,"commercial_use":true,'
    b'"derivatives_allowed":true,"derivatives_attribution":true,"derivatives_reciprocal":false,'
    b'"expires_on":"2027-06-30","legal_text":"# Licence\\n\\nUse by Z\xc3\xbcrich AG.",'
    b'"name":"Standard licence","schema":"mlp.license-terms/1","seats":3,'
    b'"territory":["DE","FR"],"transferable":false,"usage_quota":10000,'
    b'"usage_quota_period":"month","version":2}'
)
VECTOR_HASH = "0x9ce863c98eaeaa9a8149bf2661f321d0b708a016e38ce4f67e2bdff0d51a632a"


def test_the_canonical_json_and_hash_are_the_fixed_vector():
    assert canonical_json(VECTOR_INPUT) == VECTOR_JSON
    assert terms_hash(VECTOR_INPUT) == VECTOR_HASH
    assert keccak(b"").hex() == (  # keccak-256, not NIST SHA3-256 (a7ffc6f8...)
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )


def test_the_hash_does_not_depend_on_key_order_or_how_the_values_were_built():
    reversed_keys = OrderedDict(reversed(list(VECTOR_INPUT.items())))
    rebuilt = dict(
        VECTOR_INPUT,
        territory=("DE", "fr", "de"),  # a tuple, repeated, other case
        expires_on="2027-06-30",  # an ISO string
        legal_text="# Licence\n\nUse by Z\u00fcrich AG.",  # composed, LF, already normal
        name="Standard licence",
    )
    row = LicenseTerms(**VECTOR_INPUT)

    assert canonical_json(reversed_keys) == VECTOR_JSON
    assert canonical_json(rebuilt) == VECTOR_JSON
    assert terms_hash(row) == VECTOR_HASH


SUBPROCESS_HASH = """
import datetime, json, sys
from licensing.terms import terms_hash
values = json.loads(sys.argv[1])
values["expires_on"] = datetime.date.fromisoformat(values["expires_on"])
values["territory"] = list(set(values["territory"]))  # set order follows PYTHONHASHSEED
print(terms_hash(values))
"""


@pytest.mark.parametrize("seed", ["0", "1", "4242", "random"])
def test_the_hash_is_the_same_in_another_process_with_another_hash_seed(seed):
    values = {**VECTOR_INPUT, "expires_on": "2027-06-30", "territory": ["FR", "DE", "fr"]}
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(settings.BASE_DIR)}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # a pure module: no Django set up needed

    result = subprocess.run(
        [sys.executable, "-c", SUBPROCESS_HASH, json.dumps(values)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        cwd=settings.BASE_DIR,
    )

    assert result.stdout.strip() == VECTOR_HASH


def test_every_editable_field_and_the_version_change_the_hash_but_ids_do_not():
    changed = {
        "name": "Other",
        "version": 3,
        "commercial_use": False,
        "commercial_attribution": False,
        "commercial_revenue_share_bps": 251,
        "derivatives_allowed": False,
        "derivatives_attribution": False,
        "derivatives_reciprocal": True,
        "territory": ["DE"],
        "expires_on": None,
        "seats": 4,
        "usage_quota": 0,
        "usage_quota_period": "day",
        "transferable": True,
        "legal_text": "Other text",
    }
    assert set(changed) == {*EDITABLE_FIELDS, "version"}
    hashes = {terms_hash({**VECTOR_INPUT, field: value}) for field, value in changed.items()}
    assert len(hashes) == len(changed)
    assert VECTOR_HASH not in hashes

    row = LicenseTerms(**VECTOR_INPUT, pk=99, organization_id=7, content_hash="0xabc")
    assert terms_hash(row) == VECTOR_HASH


@pytest.mark.parametrize(
    ("field", "value"),
    [("seats", 3.0), ("seats", True), ("commercial_revenue_share_bps", "250"),
     ("commercial_use", 1), ("territory", "DE"), ("expires_on", "2027-06-30T00:00")],
)  # fmt: skip
def test_values_of_the_wrong_type_are_refused_not_coerced(field, value):
    with pytest.raises((TypeError, ValueError)):
        canonical_json({**VECTOR_INPUT, field: value})


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("a\r\nb\rc\n", "a\nb\nc"),
        ("e\u0301t\u00e9", "\u00e9t\u00e9"),  # NFC
        ("line one  \t\nline two\u00a0\n", "line one\nline two"),
        ("\n\n  \n# Title\n\n\n", "# Title"),
        ("    indented code\n", "    indented code"),  # leading indentation stays
        ("a\n\n\nb", "a\n\n\nb"),  # blank lines inside stay
        (" \r\n\t\n", ""),
        ("", ""),
    ],
)
def test_legal_text_is_normalized_with_no_final_newline(text, normal):
    assert normalize_legal_text(text) == normal


def test_the_iso_list_matches_debians_iso_codes():
    source = Path("/usr/share/iso-codes/json/iso_3166-1.json")
    if not source.exists():
        pytest.skip("Debian's iso-codes package is not installed")
    codes = {entry["alpha_2"] for entry in json.loads(source.read_text())["3166-1"]}
    assert codes == ISO_3166_ALPHA2


# --- plain words ---

BASE = {**VECTOR_INPUT, "name": "Standard", "version": 1, "legal_text": ""}


def test_the_reading_of_the_briefs_example():
    terms = {
        **BASE,
        "commercial_revenue_share_bps": 500,
        "derivatives_allowed": False,
        "derivatives_attribution": False,
        "territory": ["FR", "DE"],
    }

    assert plain_language(terms) == [
        "You may use the model commercially, crediting the publisher, and owe 5.00% of that "
        "revenue back.",
        "You may not make derivatives.",
        "Only in: DE, FR.",
        "Each license covers 3 wallets.",
        "Up to 10,000 units of use per month.",
        "The license cannot be transferred.",
        "These terms end on 2027-06-30.",
    ]


def test_the_reading_of_the_defaults():
    terms = LicenseTerms(name="Plain", territory=[])

    assert plain_language(terms) == [
        "You may not use the model commercially.",
        "You may not make derivatives.",
        "Worldwide.",
        "Each license covers 1 wallet.",
        "Unlimited use.",
        "The license cannot be transferred.",
        "These terms do not end.",
    ]


@pytest.mark.parametrize(
    ("changes", "index", "sentence"),
    [
        ({"commercial_attribution": False, "commercial_revenue_share_bps": 0}, 0,
         "You may use the model commercially."),
        ({"commercial_attribution": False, "commercial_revenue_share_bps": 1}, 0,
         "You may use the model commercially and owe 0.01% of that revenue back."),
        ({"commercial_revenue_share_bps": 0}, 0,
         "You may use the model commercially, crediting the publisher."),
        ({"commercial_revenue_share_bps": 10000}, 0,
         "You may use the model commercially, crediting the publisher, and owe 100.00% of "
         "that revenue back."),
        ({}, 1, "You may make derivatives, crediting the publisher."),
        ({"derivatives_attribution": False}, 1, "You may make derivatives."),
        ({"derivatives_reciprocal": True}, 1,
         "You may make derivatives, crediting the publisher, and must license them under "
         "these same terms."),
        ({"derivatives_attribution": False, "derivatives_reciprocal": True}, 1,
         "You may make derivatives and must license them under these same terms."),
        ({"territory": []}, 2, "Worldwide."),
        ({"territory": ["jp"]}, 2, "Only in: JP."),
        ({"seats": 1}, 3, "Each license covers 1 wallet."),
        ({"seats": 12000}, 3, "Each license covers 12,000 wallets."),
        ({"usage_quota": 1, "usage_quota_period": "day"}, 4, "Up to 1 unit of use per day."),
        ({"usage_quota": 0, "usage_quota_period": "day"}, 4, "Unlimited use."),
        ({"transferable": True}, 5, "The license can be transferred to another wallet."),
        ({"expires_on": None}, 6, "These terms do not end."),
    ],
)  # fmt: skip
def test_the_reading_of_each_field(changes, index, sentence):
    assert plain_language({**BASE, **changes})[index] == sentence


@pytest.mark.parametrize(
    ("use", "credit", "share", "derivatives", "d_credit", "reciprocal"),
    list(itertools.product([False, True], [False, True], [0, 500], [False, True],
                           [False, True], [False, True])),
)  # fmt: skip
def test_every_combination_of_rights_reads_as_what_it_allows(
    use, credit, share, derivatives, d_credit, reciprocal
):
    terms = {
        **BASE,
        "commercial_use": use,
        "commercial_attribution": credit,
        "commercial_revenue_share_bps": share,
        "derivatives_allowed": derivatives,
        "derivatives_attribution": d_credit,
        "derivatives_reciprocal": reciprocal,
    }

    commercial, derivative, *_ = plain_language(terms)

    # what is not allowed says so and claims no condition (conditions only bind what is allowed)
    assert commercial.startswith("You may use" if use else "You may not use")
    assert ("crediting the publisher" in commercial) == (use and credit)
    assert ("owe 5.00% of that revenue back" in commercial) == (use and bool(share))
    assert derivative.startswith("You may make" if derivatives else "You may not make")
    assert ("crediting the publisher" in derivative) == (derivatives and d_credit)
    assert ("under these same terms" in derivative) == (derivatives and reciprocal)
    for sentence in (commercial, derivative):
        assert sentence.endswith(".")
        assert " ," not in sentence
        assert ",," not in sentence
        assert sentence.count(" and ") <= 1


# --- the diff ---


def test_the_diff_lists_each_changed_field_in_plain_words_and_the_text_by_line():
    old = {**BASE, "legal_text": "# Terms\n\nOne.\nTwo.\nThree."}
    new = {
        **old,
        "version": 2,
        "commercial_revenue_share_bps": 500,
        "territory": [],
        "seats": 1,
        "legal_text": "# Terms\r\n\r\nOne.\r\nTwo, amended.\r\nThree.\r\n",
    }

    changes = terms_diff(old, new)

    assert [(c.field, c.label, c.before, c.after) for c in changes] == [
        ("commercial_revenue_share_bps", "Revenue share from commercial use",
         "2.50% of that revenue", "5.00% of that revenue"),
        ("territory", "Territory", "Only in DE, FR", "Worldwide"),
        ("seats", "Wallets per license", "3 wallets", "1 wallet"),
        ("legal_text", "Legal text", "5 lines", "5 lines"),
    ]  # fmt: skip
    assert list(changes[-1].diff) == [
        "--- Standard v1",
        "+++ Standard v2",
        "@@ -1,5 +1,5 @@",
        " # Terms",
        " ",
        " One.",
        "-Two.",
        "+Two, amended.",
        " Three.",
    ]
    assert all(change.diff == () for change in changes[:-1])


def test_the_diff_of_equal_versions_is_empty_and_every_field_can_show():
    assert terms_diff(BASE, {**BASE, "version": 2, "legal_text": "\n"}) == []
    opposite = {
        "name": "Other", "commercial_use": False, "commercial_attribution": False,
        "commercial_revenue_share_bps": 0, "derivatives_allowed": False,
        "derivatives_attribution": False, "derivatives_reciprocal": True, "territory": [],
        "expires_on": None, "seats": 1, "usage_quota": 0, "usage_quota_period": "day",
        "transferable": True, "legal_text": "Text",
    }  # fmt: skip
    changes = terms_diff(BASE, {**BASE, **opposite})
    assert [change.field for change in changes] == list(EDITABLE_FIELDS)
    by_field = {change.field: (change.before, change.after) for change in changes}
    assert by_field["commercial_use"] == ("Allowed", "Not allowed")
    assert by_field["expires_on"] == ("2027-06-30", "Never")
    assert by_field["usage_quota"] == ("10,000 units", "Unlimited")
    assert by_field["usage_quota_period"] == ("per month", "per day")
    assert by_field["transferable"] == ("Not transferable", "Transferable")
    assert by_field["legal_text"] == ("Empty", "1 line")


def test_legal_text_renders_sanitized_markdown():
    html = legal_text_html(
        "# Terms\n\n**Bold** <script>alert(1)</script> [x](javascript:alert(1)) "
        '<a href="https://example.com" onclick="steal()">ok</a>'
    )

    assert "<h1>Terms</h1>" in html
    assert "<strong>Bold</strong>" in html
    assert "<script" not in html
    assert "javascript:" not in html
    assert "onclick" not in html
    assert 'href="https://example.com"' in html


# --- services: versions, holding, validation ---


@pytest.fixture
def network(db):
    return Network.objects.create(name="testnet", chain_id=31_337_001, confirmation_depth=1)


def _license_under(terms, network, holder="0x" + "11" * 20):
    return License.objects.create(
        network=network,
        token_address="0x" + "22" * 20,
        token_id=7,
        holder=holder,
        expires_at=0,
        terms_hash=terms.content_hash,
        block_number=1,
    )


def _stored(terms) -> dict:
    return LicenseTerms.objects.filter(pk=terms.pk).values().get()


def test_create_makes_version_1_with_its_hash(org_a, make_staff):
    manager = make_staff(org_a, Role.MANAGER)

    terms = terms_create(
        organization=org_a, name=" Standard ", territory=["fr"], legal_text="A\r\n", by=manager
    )

    assert (terms.version, terms.previous, terms.created_by) == (1, None, manager)
    assert (terms.name, terms.territory, terms.legal_text) == ("Standard", ["FR"], "A")
    assert terms.content_hash == terms_hash(terms) == terms_hash(_stored(terms))
    assert terms.history.get().history_user == manager


def test_an_edit_of_a_version_nobody_holds_changes_it_in_place(org_a, make_staff):
    manager = make_staff(org_a, Role.MANAGER)
    terms = terms_create(organization=org_a, name="Standard")
    first_hash = terms.content_hash

    terms.seats = 5
    saved = terms_save(terms=terms, by=manager)

    assert saved.pk == terms.pk
    assert saved.version == 1
    assert LicenseTerms.objects.count() == 1
    assert _stored(terms)["seats"] == 5
    assert saved.content_hash == terms_hash(saved) != first_hash
    latest, created = saved.history.order_by("-history_id")[:2]
    assert latest.history_user == manager
    changes = [(c.field, c.old, c.new) for c in latest.diff_against(created).changes]
    assert changes == [("seats", 1, 5)]  # simple-history compares the editable fields
    assert (created.content_hash, latest.content_hash) == (first_hash, saved.content_hash)


def test_an_edit_of_a_version_held_under_a_license_makes_the_next_version(
    org_a, make_staff, network
):
    # given: v1, under which someone holds a license (a projection row: the chain's state)
    manager = make_staff(org_a, Role.MANAGER)
    v1 = terms_create(organization=org_a, name="Standard", legal_text="Old text.")
    _license_under(v1, network)
    before = _stored(v1)
    history_before = v1.history.count()

    # when: a manager edits it
    v1.legal_text = "New text."
    v1.seats = 2
    v2 = terms_save(terms=v1, by=manager)

    # then: v1 is byte-identical, and the edit is v2 of the same lineage
    assert _stored(v1) == before
    assert v1.history.count() == history_before
    assert (v1.legal_text, v1.seats) == ("Old text.", 1)  # the caller's object was refreshed
    assert (v2.version, v2.previous, v2.lineage) == (2, v1, v1.lineage)
    assert (v2.legal_text, v2.seats, v2.created_by) == ("New text.", 2, manager)
    assert v2.content_hash == terms_hash(v2) != v1.content_hash
    record = v2.history.get()
    assert record.history_user == manager
    assert record.history_change_reason == "v1 is held by licensees: this edit of it is v2"
    assert terms_is_held(v1)
    assert not terms_is_held(v2)


def test_an_expired_or_revoked_license_still_holds_the_version(org_a, network):
    v1 = terms_create(organization=org_a, name="Standard")
    license_row = _license_under(v1, network)
    License.objects.filter(pk=license_row.pk).update(expires_at=1, revoked=True)

    assert terms_is_held(v1)


def test_an_offer_on_chain_under_the_hash_freezes_the_version(org_a, network):
    # given terms nobody holds yet
    terms = terms_create(organization=org_a, name="Pass terms")
    assert not terms_is_held(terms)
    terms.name = "Pass terms, edited"
    assert terms_save(terms=terms).pk == terms.pk  # not on chain: changed in place
    terms.refresh_from_db()
    # when an offer on chain names its hash (buyers may buy under it at any moment)
    ChainOffer.objects.create(
        network=network, token_address="0x" + "22" * 20, token_id=9, model_id="0x" + "33" * 32,
        kind=OfferKind.ACCESS_PASS, price=1, currency="0x" + "00" * 20, duration=60,
        max_supply=0, transferable=False, terms_hash=terms.content_hash, active=True,
        block_number=1,
    )  # fmt: skip
    # then the version is frozen: an edit makes the next one
    assert terms_is_held(terms)
    terms.name = "Pass terms, edited again"
    successor = terms_save(terms=terms)
    assert successor.pk != terms.pk
    assert successor.version == terms.version + 1


def test_the_held_annotation_agrees_with_terms_is_held(org_a, network):
    held = terms_create(organization=org_a, name="Held")
    free = terms_create(organization=org_a, name="Free")
    _license_under(held, network)

    annotated = dict(
        LicenseTerms.objects.annotate(is_held=held_annotation()).values_list("pk", "is_held")
    )

    assert annotated == {held.pk: True, free.pk: False}
    assert terms_is_held(held)
    assert not terms_is_held(free)


def test_an_edit_that_changes_nothing_writes_nothing(org_a, network):
    v1 = terms_create(organization=org_a, name="Standard", legal_text="# T\n\nText.")
    _license_under(v1, network)
    before, records = _stored(v1), v1.history.count()

    v1.legal_text = "# T\r\n\r\nText.  \r\n"  # what a browser sends back: the same text
    v1.territory = []
    saved = terms_save(terms=v1)

    assert saved.pk == v1.pk
    assert LicenseTerms.objects.count() == 1
    assert _stored(v1) == before
    assert v1.history.count() == records


def test_the_next_version_is_one_above_the_highest_of_the_lineage(org_a, network):
    v1 = terms_create(organization=org_a, name="Standard")
    _license_under(v1, network)
    v1.seats = 2
    v2 = terms_save(terms=v1)
    other = terms_create(organization=org_a, name="Other lineage")

    v1.seats = 3
    v3 = terms_save(terms=v1)  # v1 again, while v2 exists

    assert (v3.version, v3.previous, v3.lineage) == (3, v1, v1.lineage)
    assert v2.version == 2
    assert other.version == 1


def _error_codes(error: ValidationError) -> dict[str, list[str]]:
    return {field: [e.code for e in errors] for field, errors in error.error_dict.items()}


FUTURE = date.today() + timedelta(days=400)


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"territory": ["DE", "XX"]}, "territory", "territory_unknown"),
        ({"territory": ["UK"]}, "territory", "territory_unknown"),  # GB is the code
        ({"territory": "DE"}, "territory", "territory_not_a_list"),
        ({"seats": 0}, "seats", "seats_min"),
        ({"commercial_use": True, "commercial_revenue_share_bps": 10_001},
         "commercial_revenue_share_bps", "revenue_share_range"),
        ({"commercial_attribution": True}, "commercial_attribution",
         "commercial_terms_need_commercial_use"),
        ({"commercial_revenue_share_bps": 100}, "commercial_revenue_share_bps",
         "commercial_terms_need_commercial_use"),
        ({"derivatives_attribution": True}, "derivatives_attribution",
         "derivative_terms_need_derivatives"),
        ({"derivatives_reciprocal": True}, "derivatives_reciprocal",
         "derivative_terms_need_derivatives"),
        ({"expires_on": date.today() - timedelta(days=1)}, "expires_on", "expires_past"),
        ({"name": "   "}, "name", "blank"),
        ({"usage_quota_period": "year"}, "usage_quota_period", "invalid_choice"),
    ],
)  # fmt: skip
def test_each_rule_refuses_with_its_code_and_saves_nothing(org_a, fields, field, code):
    fields = {"name": "Terms", **fields}
    with pytest.raises(ValidationError) as refused:
        terms_create(organization=org_a, **fields)

    assert code in _error_codes(refused.value)[field]
    assert not LicenseTerms.objects.exists()


def test_the_rules_accept_their_limits(org_a):
    terms = terms_create(
        organization=org_a,
        name="Limits",
        commercial_use=True,
        commercial_attribution=True,
        commercial_revenue_share_bps=10_000,
        derivatives_allowed=True,
        derivatives_attribution=True,
        derivatives_reciprocal=True,
        territory=["gb", "US", "ss"],
        expires_on=FUTURE,
        seats=1,
    )

    assert terms.territory == ["GB", "SS", "US"]


def test_an_edit_keeps_the_organization_and_a_stored_past_date(org_a, org_b):
    terms = terms_create(organization=org_a, name="Standard", expires_on=FUTURE)
    LicenseTerms.objects.filter(pk=terms.pk).update(expires_on=date(2020, 1, 1))
    terms.refresh_from_db()

    terms.name = "Standard, renamed"  # the date has passed since: not checked again
    assert terms_save(terms=terms).name == "Standard, renamed"

    terms.organization = org_b
    with pytest.raises(ValidationError) as refused:
        terms_save(terms=terms)
    assert _error_codes(refused.value) == {"organization": ["terms_organization_fixed"]}


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"seats": 0}, "terms_seats_min"),
        ({"commercial_use": True, "commercial_revenue_share_bps": 10_001}, "terms_rev_share_max"),
        ({"commercial_attribution": True}, "terms_commercial_needs_use"),
        ({"commercial_revenue_share_bps": 1}, "terms_commercial_needs_use"),
        ({"derivatives_attribution": True}, "terms_derivatives_need_allowed"),
        ({"derivatives_reciprocal": True}, "terms_derivatives_need_allowed"),
    ],
)
def test_one_row_rules_are_database_constraints_too(org_a, fields, constraint):
    row = LicenseTerms(organization=org_a, name="Direct", content_hash="0x", **fields)

    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        row.save()  # no full_clean, no service: only the database is left to refuse

    assert constraint in str(refused.value)
    with pytest.raises(ValidationError) as refused_by_service:
        terms_create(organization=org_a, name="Through the service", **fields)
    assert refused_by_service.value.error_dict


def test_a_held_version_cannot_be_deleted_a_free_one_can(org_a, network):
    held = terms_create(organization=org_a, name="Held")
    _license_under(held, network)
    free = terms_create(organization=org_a, name="Free")

    with pytest.raises(ValidationError) as refused:
        terms_delete(terms=held)
    assert refused.value.code == "terms_held"
    terms_delete(terms=free)

    assert list(LicenseTerms.objects.all()) == [held]


def test_a_version_a_later_one_builds_on_cannot_be_deleted(org_a, network):
    v1 = terms_create(organization=org_a, name="Standard")
    license_row = _license_under(v1, network)
    v1.seats = 2
    v2 = terms_save(terms=v1)
    license_row.delete()  # say the chain rolled the purchase back: v1 is no longer held

    with pytest.raises(ValidationError) as refused:
        terms_delete(terms=v1)

    assert refused.value.code == "terms_in_use"
    assert LicenseTerms.objects.filter(pk__in=[v1.pk, v2.pk]).count() == 2
