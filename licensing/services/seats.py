"""Seats: an organization's owners name the member wallets that may use a license its treasury
holds, up to the seats its terms give (``LicenseTerms.seats``, wallets per license).

A license is the chain's: (network, token, offer id) held by the organization's treasury
address. The terms are those the license was bought or renewed under (its terms hash), else
the offer's current ones. The count is checked under a lock on the organization's row, so two
owners adding the last seat at once cannot both get it.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
from eth_utils import is_address, to_checksum_address

from licensing.models import License, LicenseTerms, Offer, Seat
from licensing.services.tokenomics import ZERO_ADDRESS, _error, _record_user
from portal.models import Organization


def _same(a: str, b: str) -> bool:
    return bool(a) and bool(b) and a.lower() == b.lower()


def treasury_licenses(organizations: QuerySet[Organization]) -> QuerySet[License]:
    """The licenses the treasuries of ``organizations`` hold (revoked or expired included)."""
    treasuries = [t for t in organizations.values_list("treasury_address", flat=True) if t]
    holders = {variant for t in treasuries for variant in (t, t.lower(), to_checksum_address(t))}
    return License.objects.filter(holder__in=holders).select_related("network", "offer__model")


def license_of(seat: Seat) -> License | None:
    """The projected license a seat belongs to (None while the chain has none)."""
    treasury = seat.organization.treasury_address
    if not treasury:
        return None
    return (
        License.objects.filter(
            network=seat.network, token_address__iexact=seat.token_address, token_id=seat.token_id
        )
        .filter(holder__iexact=treasury)
        .first()
    )


def seats_allowed(license: License) -> int:
    """Wallets per license, from the terms the license holds (else its offer's)."""
    terms = None
    if license.terms_hash:
        terms = LicenseTerms.objects.filter(content_hash=license.terms_hash).first()
    if terms is None:
        offer = Offer.objects.filter(network_id=license.network_id, token_id=license.token_id)
        terms = getattr(offer.select_related("terms").first(), "terms", None)
    return terms.seats if terms is not None else 1


def _wallet(value: str) -> str:
    if not isinstance(value, str) or not is_address(value):
        raise _error("wallet", "Enter a 0x-prefixed 20-byte address.", "invalid_address")
    if value[2:] not in (value[2:].lower(), value[2:].upper()) and value != to_checksum_address(
        value
    ):
        raise _error("wallet", "The address's EIP-55 checksum is wrong: check it.", "bad_checksum")
    if to_checksum_address(value) == ZERO_ADDRESS:
        raise _error("wallet", "The zero address cannot use a license.", "zero_address")
    return to_checksum_address(value)


@transaction.atomic
def seat_add(
    *, organization: Organization, license: License, wallet: str, label: str = "", by=None
) -> Seat:
    """A member wallet on one of the organization's licenses, within the terms' seats."""
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    wallet = _wallet(wallet)
    if not _same(license.holder, organization.treasury_address):
        raise _error(
            "license",
            f"The organization's treasury does not hold this license ({license.holder} does).",
            "seat_license_not_held",
        )
    if not license.is_valid():
        state = "revoked" if license.revoked else "expired"
        raise _error(
            "license", f"This license is {state}: renew it first.", "seat_license_inactive"
        )
    if _same(wallet, license.holder):
        raise _error(
            "wallet", "The treasury holds the license: it needs no seat.", "seat_is_holder"
        )
    taken = Seat.objects.filter(
        organization=organization,
        network=license.network,
        token_address__iexact=license.token_address,
        token_id=license.token_id,
    )
    if taken.filter(wallet=wallet).exists():
        raise _error("wallet", "This wallet has a seat on this license already.", "seat_exists")
    allowed = seats_allowed(license)
    used = taken.count()
    if used >= allowed:
        raise _error(
            "license",
            f"All {allowed} seat(s) of this license are taken ({used} of {allowed}): remove one "
            "first, or buy a license whose terms give more wallets.",
            "seat_limit_reached",
        )
    seat = Seat(
        organization=organization,
        network=license.network,
        token_address=license.token_address,
        token_id=license.token_id,
        wallet=wallet,
        label=label.strip(),
        added_by=by if getattr(by, "is_authenticated", False) else None,
    )
    seat.full_clean()
    _record_user(seat, by)
    seat.save()
    return seat


@transaction.atomic
def seat_remove(*, seat: Seat, by=None) -> None:
    _record_user(seat, by)
    seat.delete()


def seats_of_wallet(wallet: str) -> QuerySet[Seat]:
    """The seats a wallet holds (for the entitlement check: a seat counts while its license is
    valid)."""
    return Seat.objects.filter(wallet__iexact=wallet).select_related("organization", "network")
