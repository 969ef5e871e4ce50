"""Writes of license terms: create, edit (in place, or as the next version once held), delete.

A terms version is *held* once anyone holds a license under it: a ``License`` projection row
carries its hash (any network; expired or revoked ones too: what a licensee once agreed to
stays on record), or a ``Holding`` with a balance holds a token of a ``ChainOffer`` whose
terms hash it is. A held version never changes: ``terms_save`` then writes the edit as the
next version of the same lineage and leaves the held row as it was. The values are stored
normalized (``licensing.terms``), so what the admin shows is what was hashed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet
from django.db.models.deletion import ProtectedError
from django.utils import timezone

from licensing.countries import ISO_3166_ALPHA2
from licensing.models import ChainOffer, License, LicenseTerms
from licensing.models.tokenomics import BPS
from licensing.services.tokenomics import _record_user
from licensing.terms import (
    EDITABLE_FIELDS,
    canonical_json,
    normalize_legal_text,
    normalize_name,
    normalize_territory,
    percent,
    terms_hash,
)
from portal.models import Organization

# --- held or not ---


def _licenses_under(content_hash) -> QuerySet:
    return License.objects.filter(terms_hash=content_hash).exclude(terms_hash="")


def _held_offers(content_hash) -> QuerySet:
    """On-chain offers under ``content_hash``: once a hash is on chain it must keep naming the
    same text (buyers may buy under it at any moment), so being on chain freezes a version as
    much as being held does."""
    return ChainOffer.objects.filter(terms_hash=content_hash).exclude(terms_hash="")


def terms_is_held(terms: LicenseTerms) -> bool:
    """Whether anyone holds a license under this version, or an offer on chain names it."""
    if not terms.content_hash:
        return False
    content_hash = terms.content_hash
    return _licenses_under(content_hash).exists() or _held_offers(content_hash).exists()


def held_annotation() -> ExpressionWrapper:
    """``terms_is_held`` as an expression over ``LicenseTerms`` rows (for lists and filters)."""
    content_hash = OuterRef("content_hash")
    held = Q(Exists(_licenses_under(content_hash))) | Q(Exists(_held_offers(content_hash)))
    return ExpressionWrapper(held, output_field=BooleanField())


# --- rules ---


Add = Callable[[str, str, str], None]  # (field, message, code)


def _rules(terms: LicenseTerms, before: LicenseTerms | None) -> dict[str, ValidationError]:
    """The rules of one version's values; the model's constraints say the same for the DB."""
    errors: dict[str, ValidationError] = {}

    def add(field: str, message: str, code: str) -> None:
        errors.setdefault(field, ValidationError(message, code=code))

    _scope_rules(terms, add)
    _condition_rules(terms, add)
    _date_rule(terms, before, add)
    if before is not None and terms.organization_id != before.organization_id:
        add(
            "organization",
            "Terms stay with the organization that wrote them: create new terms instead.",
            "terms_organization_fixed",
        )
    return errors


def _scope_rules(terms: LicenseTerms, add: Add) -> None:
    unknown = [code for code in terms.territory if code not in ISO_3166_ALPHA2]
    if unknown:
        add(
            "territory",
            f"Not ISO 3166-1 alpha-2 country codes: {', '.join(unknown)} (two letters, "
            "e.g. DE, FR, US; leave it empty for worldwide).",
            "territory_unknown",
        )
    if terms.seats < 1:
        add("seats", "A license covers at least one wallet.", "seats_min")
    if not 0 <= terms.commercial_revenue_share_bps <= BPS:
        add(
            "commercial_revenue_share_bps",
            f"A revenue share is between 0 and {BPS} basis points ({percent(BPS)}).",
            "revenue_share_range",
        )


def _condition_rules(terms: LicenseTerms, add: Add) -> None:
    """Conditions bind a right: none without the right they bind."""
    if not terms.commercial_use:
        code = "commercial_terms_need_commercial_use"
        if terms.commercial_attribution:
            add(
                "commercial_attribution",
                "Crediting the publisher only applies to commercial use: allow commercial "
                "use, or leave it off.",
                code,
            )
        if terms.commercial_revenue_share_bps:
            add(
                "commercial_revenue_share_bps",
                "A revenue share only applies to commercial use: allow commercial use, or "
                "set it to 0.",
                code,
            )
    if not terms.derivatives_allowed:
        for field, what in (
            ("derivatives_attribution", "Crediting the publisher in derivatives"),
            ("derivatives_reciprocal", "Licensing derivatives under these same terms"),
        ):
            if getattr(terms, field):
                add(
                    field,
                    f"{what} only applies to derivatives: allow derivatives, or leave it off.",
                    "derivative_terms_need_derivatives",
                )


def _date_rule(terms: LicenseTerms, before: LicenseTerms | None, add: Add) -> None:
    ends = terms.expires_on
    if not isinstance(ends, date) or (before is not None and ends == before.expires_on):
        return  # none, or stored already (it may have passed since): not checked again
    if ends < timezone.localdate():
        add("expires_on", "The terms would end before today: pick a later date.", "expires_past")


def _normalize(terms: LicenseTerms) -> dict[str, ValidationError]:
    """Store the values as they are hashed; a territory that is no list is an error."""
    terms.name = normalize_name(terms.name or "")
    terms.legal_text = normalize_legal_text(terms.legal_text or "")
    if isinstance(terms.expires_on, str):
        try:
            terms.expires_on = date.fromisoformat(terms.expires_on)
        except ValueError:
            return {"expires_on": ValidationError("Not a date.", code="invalid")}
    try:
        terms.territory = normalize_territory(terms.territory or [])
    except TypeError:
        return {
            "territory": ValidationError(
                "The territory is a list of country codes.", code="territory_not_a_list"
            )
        }
    return {}


def _validate(terms: LicenseTerms, before: LicenseTerms | None) -> None:
    errors = _normalize(terms)
    if not errors:
        errors = _rules(terms, before)
    if errors:
        raise ValidationError(errors)


def _write(terms: LicenseTerms, by, reason: str | None = None) -> LicenseTerms:
    terms.content_hash = terms_hash(terms)
    _record_user(terms, by)
    if reason:
        terms._change_reason = reason
    terms.full_clean()
    terms.save()
    return terms


# --- writes ---


@transaction.atomic
def terms_create(
    *,
    organization: Organization,
    name: str,
    commercial_use: bool = False,
    commercial_attribution: bool = False,
    commercial_revenue_share_bps: int = 0,
    derivatives_allowed: bool = False,
    derivatives_attribution: bool = False,
    derivatives_reciprocal: bool = False,
    territory: list[str] | None = None,
    expires_on: date | None = None,
    seats: int = 1,
    usage_quota: int = 0,
    usage_quota_period: str = "month",
    transferable: bool = False,
    legal_text: str = "",
    by=None,
) -> LicenseTerms:
    """Version 1 of new terms (a lineage of its own), with its content hash."""
    terms = LicenseTerms(
        organization=organization,
        name=name,
        commercial_use=commercial_use,
        commercial_attribution=commercial_attribution,
        commercial_revenue_share_bps=commercial_revenue_share_bps,
        derivatives_allowed=derivatives_allowed,
        derivatives_attribution=derivatives_attribution,
        derivatives_reciprocal=derivatives_reciprocal,
        territory=[] if territory is None else territory,
        expires_on=expires_on,
        seats=seats,
        usage_quota=usage_quota,
        usage_quota_period=usage_quota_period,
        transferable=transferable,
        legal_text=legal_text,
    )
    return terms_save(terms=terms, by=by)


def _lock_lineage(pk: int) -> tuple[LicenseTerms, int]:
    """Lock every version of the edited row's lineage (pk order); the row and the highest
    version number."""
    lineage = LicenseTerms.objects.filter(pk=pk).values_list("lineage", flat=True).get()
    versions = list(LicenseTerms.objects.select_for_update().filter(lineage=lineage).order_by("pk"))
    before = next(row for row in versions if row.pk == pk)
    return before, max(row.version for row in versions)


def _next_version(terms: LicenseTerms, before: LicenseTerms, latest: int, by) -> LicenseTerms:
    new = LicenseTerms(
        organization_id=before.organization_id,
        lineage=before.lineage,
        version=latest + 1,
        previous=before,
        created_by=by if getattr(by, "is_authenticated", False) else None,
        **{field: getattr(terms, field) for field in EDITABLE_FIELDS},
    )
    reason = f"v{before.version} is held by licensees: this edit of it is v{new.version}"
    _write(new, by, reason)
    terms.refresh_from_db()  # the caller's object shows the held row as it stays
    return new


@transaction.atomic
def terms_save(*, terms: LicenseTerms, by=None) -> LicenseTerms:
    """Save the values set on ``terms``: a new row is version 1; a version nobody holds is
    changed in place; a held version stays as it is and the edit becomes the next version
    (returned). An edit that changes nothing writes nothing and returns the stored row."""
    if terms.pk is None:
        _validate(terms, None)
        terms.version, terms.previous = 1, None
        if getattr(by, "is_authenticated", False):
            terms.created_by = by
        return _write(terms, by)
    before, latest = _lock_lineage(terms.pk)
    terms.version = before.version
    _validate(terms, before)
    if canonical_json(terms) == canonical_json(before):
        return before
    if terms_is_held(before):
        return _next_version(terms, before, latest, by)
    for field in ("lineage", "previous_id", "created_by_id", "created_at"):
        setattr(terms, field, getattr(before, field))
    return _write(terms, by)


@transaction.atomic
def terms_delete(*, terms: LicenseTerms, by=None) -> None:
    """Delete a version nobody holds, no offer uses and no later version builds on."""
    if terms_is_held(terms):
        raise ValidationError(
            f"{terms} is held by licensees: it stays on record.", code="terms_held"
        )
    _record_user(terms, by)
    try:
        terms.delete()
    except ProtectedError:
        raise ValidationError(
            f"{terms} is used by offers or by a later version: it cannot be deleted.",
            code="terms_in_use",
        ) from None
