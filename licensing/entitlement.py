"""Entitlement: may this caller use this model version now? One service decides, for the predict
API, batch jobs and pay-per-call alike, from what the chain says (the sync's projections).

A caller is a set of wallets (a signed-in user's, an API key owner's) and, for staff, their
organizations. Its **rights** to a model are, strongest first:

- ``publisher``: staff of the model's own organization (or its organization's API key) use it
  freely;
- ``license`` / ``pass``: a license or access pass of one of the model's offers held by one of
  the caller's wallets, or by the treasury of an organization that gave one of them a seat
  (``licensing.models.Seat``): valid while not revoked and not expired (0 = perpetual), under
  terms that have not ended (``LicenseTerms.expires_on``);
- ``credits``: a balance of one of the model's usage-credit offers (metered: the ledger
  reserves and consumes them per use).

``check`` fails closed: without a usable right the decision says why, with a stable reason
(``EntitlementErrorCode``) the API answers.

**Caching.** What the database says about a (caller, model) pair is kept in this process for
``ENTITLEMENT_CACHE_SECONDS`` (default 5 s): a warm check runs no SQL query and no network
round trip. Expiry is evaluated at check time from the cached expiry, never served stale. A
revocation or a purchase the sync sees reaches every process within that bound, and the
process that synced it at once: the projections call ``invalidate()`` after they commit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from allauth.socialaccount.signals import social_account_added, social_account_removed
from django.conf import settings
from django.db.models import Q, Sum

from chain.choices import OfferKind
from licensing.choices import QuotaPeriod
from licensing.errors import EntitlementErrorCode
from licensing.models import CreditAccount, License, LicenseTerms, Offer, Seat
from models_hub.choices import VersionStatus
from portal.errors import DomainError
from portal.models import Organization

PUBLISHER, LICENSE, PASS, CREDITS = "publisher", "license", "pass", "credits"
_STRENGTH = {PUBLISHER: 0, LICENSE: 1, PASS: 2, CREDITS: 3}


@dataclass(frozen=True)
class Caller:
    """Who asks: their wallets (EIP-55) and the organizations they act for as staff."""

    key: str  # what the cache knows them by
    wallets: frozenset[str] = frozenset()
    organization_ids: frozenset[int] = frozenset()

    @classmethod
    def of_user(cls, user) -> Caller:
        """A signed-in user: their linked wallets, and their organizations if they are staff.
        Kept in the process cache like rights (a predict call names its caller every time):
        linking or unlinking a wallet clears it at once, a membership within the bound."""
        key = f"user:{user.pk}"
        now = time.monotonic()
        entry = _cache.callers.get(key)
        if (
            entry is not None
            and entry[2] == _cache.generation
            and now - entry[1] < settings.ENTITLEMENT_CACHE_SECONDS
        ):
            return entry[0]
        generation = _cache.generation
        caller = cls._read_user(user)
        with _cache.lock:
            if generation == _cache.generation:
                _cache.callers[key] = (caller, now, generation)
        return caller

    @classmethod
    def _read_user(cls, user) -> Caller:
        from allauth.socialaccount.models import SocialAccount
        from eth_utils import to_checksum_address

        uids = SocialAccount.objects.filter(user=user, provider="siwe").values_list(
            "uid", flat=True
        )
        organizations: frozenset[int] = frozenset()
        if user.is_staff:
            organizations = frozenset(user.memberships.values_list("organization_id", flat=True))
        return cls(
            key=f"user:{user.pk}",
            wallets=frozenset(to_checksum_address(uid) for uid in uids),
            organization_ids=organizations,
        )

    @classmethod
    def of_api_key(cls, api_key) -> Caller:
        """An API key: an organization's acts for it (and its treasury's licenses); a
        customer's acts for its owner's wallets."""
        if api_key.organization_id is not None:
            treasury = api_key.organization.treasury_address
            return cls(
                key=f"org:{api_key.organization_id}",
                wallets=frozenset([treasury] if treasury else []),
                organization_ids=frozenset([api_key.organization_id]),
            )
        owner = cls.of_user(api_key.owner)
        return cls(key=f"user:{api_key.owner_id}", wallets=owner.wallets)


@dataclass(frozen=True)
class Right:
    """One way the caller may use the model: which offer, held by which wallet, until when."""

    kind: str
    network_id: int | None = None
    token_id: int | None = None
    holder: str = ""
    expires_at: int = 0  # unix time; 0 = never (a perpetual license, credits, the publisher)
    terms_end: int = 0  # unix time the terms' rights end; 0 = never
    revoked: bool = False
    via_seat: bool = False
    credits: int = 0  # a credits right's balance when it was read
    usage_quota: int = 0  # units per period under its terms (0 = unlimited)
    quota_period: str = ""
    unit: str = "row"  # what one unit of use is (UsageUnit: a row predicted, or a call)

    def usable(self, now: int) -> str | None:
        """None when usable at ``now``, else the reason code it is not."""
        if self.revoked:
            return EntitlementErrorCode.LICENSE_REVOKED.code
        if self.expires_at and self.expires_at <= now:
            return EntitlementErrorCode.LICENSE_EXPIRED.code
        if self.terms_end and self.terms_end <= now:
            return EntitlementErrorCode.TERMS_ENDED.code
        if self.kind == CREDITS and self.credits <= 0:
            return EntitlementErrorCode.NO_CREDITS.code
        return None


@dataclass(frozen=True)
class Decision:
    """The answer: allowed with the right it rests on, or refused with the reason."""

    allowed: bool
    right: Right | None = None
    error: EntitlementErrorCode | None = None
    message: str = ""

    @property
    def metered(self) -> bool:
        return self.right is not None and self.right.kind == CREDITS

    def raise_if_refused(self) -> Decision:
        if not self.allowed:
            raise DomainError(self.error, self.message)
        return self


# --- the process cache ---


@dataclass
class _Entry:
    rights: tuple[Right, ...]
    read_at: float
    generation: int


@dataclass
class _Cache:
    entries: dict[tuple[str, int], _Entry] = field(default_factory=dict)
    callers: dict[str, tuple[Caller, float, int]] = field(default_factory=dict)
    generation: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    reads: int = 0  # database reads (for tests and benches)


_cache = _Cache()


def invalidate() -> None:
    """Forget every cached right in this process (the projections call it after they commit)."""
    with _cache.lock:
        _cache.generation += 1
        _cache.entries.clear()
        _cache.callers.clear()


def _wallets_changed(**kwargs) -> None:
    invalidate()


social_account_added.connect(_wallets_changed, dispatch_uid="entitlement-wallet-added")
social_account_removed.connect(_wallets_changed, dispatch_uid="entitlement-wallet-removed")


def _cached(caller: Caller, model_id: int) -> tuple[Right, ...]:
    key = (caller.key, model_id)
    now = time.monotonic()
    entry = _cache.entries.get(key)
    if (
        entry is not None
        and entry.generation == _cache.generation
        and now - entry.read_at < settings.ENTITLEMENT_CACHE_SECONDS
    ):
        return entry.rights
    generation = _cache.generation
    rights = rights_of(caller=caller, model_id=model_id)
    with _cache.lock:
        _cache.reads += 1
        if generation == _cache.generation:  # not invalidated while we read
            _cache.entries[key] = _Entry(rights, now, generation)
            if len(_cache.entries) > settings.ENTITLEMENT_CACHE_MAX_ENTRIES:
                _cache.entries.pop(next(iter(_cache.entries)))
    return rights


# --- reading the rights ---


def _unix(moment: date | None) -> int:
    if moment is None:
        return 0
    return int(datetime(moment.year, moment.month, moment.day, tzinfo=UTC).timestamp())


def rights_of(*, caller: Caller, model_id: int) -> tuple[Right, ...]:
    """Every right ``caller`` holds to the model ``model_id``, from the database (uncached)."""
    offers = {
        (offer.network_id, int(offer.token_id)): offer
        for offer in Offer.objects.filter(model_id=model_id, token_id__isnull=False)
        .exclude(kind=OfferKind.SHARES)
        .select_related("terms", "model")
    }
    if not offers:
        return _publisher_right(caller, model_id)
    rights = list(_publisher_right(caller, model_id))
    rights += _license_rights(offers, caller.wallets, _seat_holders(caller))
    rights += _credit_rights(offers, caller.wallets)
    return tuple(sorted(rights, key=lambda r: _STRENGTH[r.kind]))


def _publisher_right(caller: Caller, model_id: int) -> tuple[Right, ...]:
    if not caller.organization_ids:
        return ()
    from models_hub.models import AIModel

    owner = AIModel.objects.filter(pk=model_id).values_list("organization_id", flat=True).first()
    active = bool(owner) and Organization.objects.filter(pk=owner, status="active").exists()
    return (Right(kind=PUBLISHER),) if owner in caller.organization_ids and active else ()


def _seat_holders(caller: Caller) -> set[tuple[str, tuple[int, int]]]:
    """(treasury, (network, token id)) of each seat one of the caller's wallets has."""
    if not caller.wallets:
        return set()
    seats = Seat.objects.filter(wallet__in=caller.wallets).select_related("organization")
    return {
        (seat.organization.treasury_address, (seat.network_id, int(seat.token_id)))
        for seat in seats
        if seat.organization.treasury_address and seat.organization.is_active
    }


def _terms_by_hash(hashes: Iterable[str]) -> dict[str, LicenseTerms]:
    wanted = {h for h in hashes if h}
    return {t.content_hash: t for t in LicenseTerms.objects.filter(content_hash__in=wanted)}


def _license_rights(offers: dict, wallets: frozenset[str], seats: set) -> list[Right]:
    """Licenses and passes of the model's offers held by the caller's wallets, or by a
    treasury that gave one of them a seat on that very license."""
    timed = {key: offer for key, offer in offers.items() if offer.kind != OfferKind.CREDITS}
    holders = set(wallets) | {treasury for treasury, _ in seats}
    if not timed or not holders:
        return []
    by_offer = Q()
    for network_id, token_id in timed:
        by_offer |= Q(network_id=network_id, token_id=token_id)
    licenses = list(License.objects.filter(by_offer, holder__in=holders))
    terms = _terms_by_hash(license.terms_hash for license in licenses)
    rights = []
    for license in licenses:
        key = (license.network_id, int(license.token_id))
        own = license.holder in wallets
        if not own and (license.holder, key) not in seats:
            continue  # a treasury's license, but the caller's seat is on another one
        offer = timed[key]
        held_terms = terms.get(license.terms_hash) or offer.terms
        rights.append(
            Right(
                kind=PASS if offer.kind == OfferKind.ACCESS_PASS else LICENSE,
                network_id=key[0],
                token_id=key[1],
                holder=license.holder,
                expires_at=int(license.expires_at),
                terms_end=_unix(held_terms.expires_on) if held_terms else 0,
                revoked=license.revoked,
                via_seat=not own,
                usage_quota=held_terms.usage_quota if held_terms else 0,
                quota_period=held_terms.usage_quota_period if held_terms else "",
                unit=offer.usage_unit or "row",
            )
        )
    return rights


def _credit_rights(offers: dict, wallets: frozenset[str]) -> list[Right]:
    """Balances of the model's credit offers in the ledger (``CreditAccount.available``: what
    the chain credited, less what is reserved or used; the ledger's reservation is the charge,
    this is the right to try)."""
    metered = {key: offer for key, offer in offers.items() if offer.kind == OfferKind.CREDITS}
    if not metered or not wallets:
        return []
    by_offer = Q()
    for network_id, token_id in metered:
        by_offer |= Q(network_id=network_id, token_id=token_id)
    accounts = CreditAccount.objects.filter(by_offer, holder__in=wallets)
    rights = []
    for account in accounts:
        key = (account.network_id, int(account.token_id))
        offer = metered[key]
        rights.append(
            Right(
                kind=CREDITS,
                network_id=key[0],
                token_id=key[1],
                holder=account.holder,
                terms_end=_unix(offer.terms.expires_on) if offer.terms_id else 0,
                credits=int(account.available),
                unit=offer.usage_unit or "row",
            )
        )
    return rights


# --- usage quotas ---


def quota_left(*, right: Right, now: datetime | None = None) -> int | None:
    """Units the right's terms still allow in this period (``usage_quota`` per day or month,
    counted from the usage receipts of the license: a seat's uses count against the license it
    sits on); None when the terms set no quota. One indexed query: the gate asks only for
    rights whose terms have a quota."""
    if not right.usage_quota:
        return None
    from licensing.models import UsageReceipt

    now = now or datetime.now(UTC)
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if right.quota_period == QuotaPeriod.MONTH:
        start = start.replace(day=1)
    used = UsageReceipt.objects.filter(
        network_id=right.network_id,
        token_id=right.token_id,
        holder=right.holder,
        created_at__gte=start,
    ).aggregate(total=Sum("units"))["total"]
    return max(right.usage_quota - (used or 0), 0)


# --- the check ---


def check(*, caller: Caller, version, now: float | None = None) -> Decision:
    """May ``caller`` use ``version`` now? The strongest usable right, or why not."""
    if version.status != VersionStatus.READY or not version.is_published:
        return Decision(
            False,
            error=EntitlementErrorCode.VERSION_NOT_AVAILABLE,
            message=f"Version {version.version} is not published.",
        )
    rights = _cached(caller, version.model_id)
    at = int(now if now is not None else time.time())
    refusals = []
    for right in rights:
        reason = right.usable(at)
        if reason is None:
            return Decision(True, right=right)
        refusals.append(reason)
    return _refused(caller, refusals)


_REFUSAL_ORDER = [
    EntitlementErrorCode.NO_CREDITS,
    EntitlementErrorCode.LICENSE_EXPIRED,
    EntitlementErrorCode.TERMS_ENDED,
    EntitlementErrorCode.LICENSE_REVOKED,
]


def _refused(caller: Caller, refusals: list[str]) -> Decision:
    """The most telling reason: what would fix it soonest (buy credits, renew) comes first."""
    for error in _REFUSAL_ORDER:
        if error.code in refusals:
            return Decision(False, error=error, message=error.message)
    error = EntitlementErrorCode.NO_LICENSE
    message = error.message
    if not caller.wallets and not caller.organization_ids:
        message = "Link a wallet that holds a license, a pass or credits for this model."
    return Decision(False, error=error, message=message)
