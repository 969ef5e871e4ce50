"""Writes of what a model is sold with: offers, payees, contributors and the cap table.

Each service validates the rules that span rows (the sum of a split, the currency of a
network, what publishing fixed) and calls ``full_clean()``, whose constraints are the rules
about one row. Split writes lock the model's ``ModelTokenomics`` row, so two staff editing
payees at once cannot together pass the 100% bound.
"""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from eth_utils import is_address, to_checksum_address

from chain.choices import OfferKind, TxStatus
from chain.models import Network
from chain.plan import MAX_PLATFORM_FEE_BPS
from licensing.choices import PublishStepKind
from licensing.models import (
    ChainOffer,
    Contributor,
    Holding,
    ModelTokenomics,
    Offer,
    Payee,
    PublishStep,
    ShareAllocation,
)
from licensing.models.tokenomics import BPS, PAID_KINDS, UINT128, ZERO_ADDRESS
from models_hub.models import AIModel, ModelVersion

MAX_ONCHAIN_PAYEES = 10  # RevenueVault.MAX_PAYEES
DEAD_TX = (TxStatus.REVERTED, TxStatus.FAILED)


def _error(field: str | None, message: str, code: str) -> ValidationError:
    if field is None:
        return ValidationError(message, code=code)
    return ValidationError({field: ValidationError(message, code=code)})


def _pct(bps: int) -> str:
    return f"{bps / 100:.2f}%"


def _record_user(obj, by) -> None:
    """Name who made the change in its history row (the admin's middleware does it too)."""
    if by is not None and getattr(by, "is_authenticated", False):
        obj._history_user = by


def _checksummed(value: str) -> str:
    """An address in its EIP-55 form, so one account is one row whatever case it was typed in
    (an invalid address is left for the field's validator to refuse)."""
    return to_checksum_address(value) if is_address(value) else value


def _save(obj, by=None, exclude=None):
    _record_user(obj, by)
    obj.full_clean(exclude=exclude)
    obj.save()
    return obj


# --- the model's chain identity ---


def tokenomics_for(*, model: AIModel, lock: bool = False) -> ModelTokenomics:
    """The model's tokenomics row, created with a random bytes32 chain id on first use."""
    rows = ModelTokenomics.objects.select_for_update() if lock else ModelTokenomics.objects
    found = rows.filter(model=model).first()
    if found is not None:
        return found
    with transaction.atomic():
        row, _ = ModelTokenomics.objects.get_or_create(
            model=model,
            defaults={
                "chain_model_id": "0x" + secrets.token_hex(32),
                "platform_fee_bps": MAX_PLATFORM_FEE_BPS,
            },
        )
    return rows.get(pk=row.pk) if lock else row


def _split_room(tokenomics: ModelTokenomics) -> int:
    return BPS - tokenomics.platform_fee_bps


def _split_error(tokenomics: ModelTokenomics, payees: int, contributors: int) -> ValidationError:
    total = payees + contributors
    return ValidationError(
        f"The platform may take up to {_pct(tokenomics.platform_fee_bps)}, so payees and "
        f"contributors may share at most {_pct(_split_room(tokenomics))}; this split gives them "
        f"{_pct(total)} (payees {_pct(payees)}, contributors {_pct(contributors)}).",
        code="split_over_100pct",
    )


@transaction.atomic
def tokenomics_save(*, tokenomics: ModelTokenomics, by=None) -> ModelTokenomics:
    """Save a model's split settings (the contributors' part, the metadata URI)."""
    if tokenomics.pk is None:
        base = tokenomics_for(model=tokenomics.model, lock=True)
        base.contributors_bps = tokenomics.contributors_bps
        base.metadata_uri = tokenomics.metadata_uri
        tokenomics = base
    else:
        ModelTokenomics.objects.select_for_update().filter(pk=tokenomics.pk).first()
        tokenomics.payees_bps = _payees_total(tokenomics.model, exclude_pk=None)
    if tokenomics.payees_bps + tokenomics.contributors_bps > _split_room(tokenomics):
        error = _split_error(tokenomics, tokenomics.payees_bps, tokenomics.contributors_bps)
        raise ValidationError({"contributors_bps": error})
    return _save(tokenomics, by)


# --- offers ---


TOKEN_ID_BOUND = 10**15  # 15 digits: exact in JavaScript, and as Django reads SQLite's decimals


def _new_token_id(network: Network) -> int:
    """A random id that no offer on the network uses yet, under ``TOKEN_ID_BOUND`` (Django reads
    a decimal from SQLite through a float, to 15 significant digits: a 16-digit id would come
    back as another number than the chain's)."""
    while True:
        candidate = secrets.randbelow(TOKEN_ID_BOUND - 1) + 1
        if not Offer.objects.filter(network=network, token_id=candidate).exists():
            return candidate


def offer_on_chain(offer: Offer) -> ChainOffer | None:
    """What the chain has for ``offer`` (None before its configuration was indexed)."""
    if offer.pk is None:
        return None
    prefetched = getattr(offer, "_prefetched_objects_cache", {}).get("chain_offers")
    if prefetched is not None:  # a list prefetched them (``chain_offers``: the same join)
        return next(iter(prefetched), None)
    return ChainOffer.objects.filter(network_id=offer.network_id, token_id=offer.token_id).first()


def offer_is_published(offer: Offer) -> bool:
    """Published: on chain, or a configuration transaction that may still land is queued."""
    if offer.pk is None:
        return False
    if offer_on_chain(offer) is not None:
        return True
    steps = PublishStep.objects.filter(offer=offer, kind=PublishStepKind.OFFER)
    return steps.exclude(transaction__status__in=DEAD_TX).exists()


def _currency_rules(offer: Offer, before: Offer | None) -> dict[str, ValidationError]:
    currency, paid = offer.currency, offer.kind in PAID_KINDS
    if currency is None:
        if not paid:
            return {}
        message = "A paid offer needs a currency."
        return {"currency": ValidationError(message, code="currency_required")}
    if offer.kind == OfferKind.SHARES:
        return {
            "currency": ValidationError(
                "Ownership shares are minted to the cap table, not sold: leave the currency empty.",
                code="shares_have_no_price",
            )
        }
    if currency.network_id != offer.network_id:
        return {
            "currency": ValidationError(
                f"{currency.symbol} is not a currency of {offer.network.name}: pick one "
                "configured for that network.",
                code="currency_not_on_network",
            )
        }
    unchanged = before is not None and before.currency_id == currency.pk
    if not currency.active and not unchanged:  # offers priced in it before keep it
        return {
            "currency": ValidationError(
                f"{currency.symbol} is no longer accepted for new prices.", code="currency_inactive"
            )
        }
    return {}


def _price_rules(offer: Offer) -> dict[str, ValidationError]:
    kind, price = offer.kind, int(offer.price)  # ints: Decimal arithmetic rounds to 28 digits
    if kind == OfferKind.SHARES and price:
        message = "Ownership shares are minted to the cap table, not sold: they have no price."
        return {"price": ValidationError(message, code="shares_have_no_price")}
    if kind in PAID_KINDS and price <= 0:
        return {
            "price": ValidationError(
                f"A {offer.get_kind_display().lower()} needs a price above zero; to give access "
                "for free, grant licenses from the offer's page.",
                code="price_required",
            )
        }
    if price >= UINT128:
        return {
            "price": ValidationError(
                "The price is too large: the contract stores prices in 128 bits.",
                code="price_too_large",
            )
        }
    per_pack = offer.credits_per_unit
    if kind == OfferKind.CREDITS and per_pack and price % per_pack:
        return {
            "price": ValidationError(
                f"The pack's price must divide evenly into its {per_pack} credits (each credit "
                "is one token on chain, sold at the pack's price divided by its size).",
                code="price_not_divisible",
            )
        }
    return {}


def _duration_rules(offer: Offer) -> dict[str, ValidationError]:
    if offer.kind == OfferKind.ACCESS_PASS and offer.duration == 0:
        message = "An access pass must expire: give it a duration (a perpetual right is a license)."
        return {"duration": ValidationError(message, code="pass_needs_duration")}
    if offer.kind in (OfferKind.CREDITS, OfferKind.SHARES) and offer.duration:
        return {
            "duration": ValidationError(
                f"{offer.get_kind_display()} do not expire: leave the duration at 0.",
                code="duration_not_allowed",
            )
        }
    return {}


def _credits_rules(offer: Offer) -> dict[str, ValidationError]:
    errors: dict[str, ValidationError] = {}
    if offer.kind != OfferKind.CREDITS:
        if offer.credits_per_unit or offer.usage_unit:
            field = "credits_per_unit" if offer.credits_per_unit else "usage_unit"
            message = "Only credits packs have credits per pack and a usage unit."
            errors[field] = ValidationError(message, code="credits_fields_on_other_kind")
        return errors
    if not offer.credits_per_unit:
        message = "A credits pack needs the number of credits one pack holds."
        errors["credits_per_unit"] = ValidationError(message, code="credits_need_unit")
    if not offer.usage_unit:
        message = "Say what one credit pays for (a row or a call)."
        errors["usage_unit"] = ValidationError(message, code="credits_need_unit")
    if offer.transferable:
        errors["transferable"] = ValidationError(
            "Credits cannot be transferable: credits used off chain could otherwise be moved "
            "on chain before they are settled.",
            code="credits_not_transferable",
        )
    return errors


def _terms_rules(offer: Offer) -> dict[str, ValidationError]:
    terms = offer.terms
    if terms is None:
        if offer.kind not in PAID_KINDS:
            return {}
        message = "Pick the license terms buyers agree to."
        return {"terms": ValidationError(message, code="terms_required")}
    if terms.organization_id != offer.model.organization_id:
        message = "These terms belong to another organization."
        return {"terms": ValidationError(message, code="terms_of_other_organization")}
    if offer.transferable and not terms.transferable:
        return {
            "transferable": ValidationError(
                f"The terms ({terms}) do not allow transfers: make the offer non-transferable or "
                "pick terms that allow them.",
                code="terms_forbid_transfer",
            )
        }
    return {}


def _supply_rules(offer: Offer) -> dict[str, ValidationError]:
    per_unit = offer.credits_per_unit if offer.kind == OfferKind.CREDITS else 1
    tokens = int(offer.max_supply) * (per_unit or 1)
    if offer.max_supply < 0 or tokens >= UINT128:
        return {
            "max_supply": ValidationError(
                "The maximum supply is too large: the contract stores it in 128 bits (for a "
                "credits pack, in credits: packs times credits per pack).",
                code="max_supply_too_large",
            )
        }
    if offer.kind != OfferKind.SHARES:
        return {}
    others = Offer.objects.filter(model=offer.model, network=offer.network, kind=OfferKind.SHARES)
    if others.exclude(pk=offer.pk).exists():
        return {
            "kind": ValidationError(
                f"{offer.model} has its ownership shares on {offer.network.name} already: a "
                "model has one share class per network.",
                code="one_share_class",
            )
        }
    allocated = _cap_table_total(offer.model)
    if offer.max_supply and offer.max_supply < allocated:
        return {
            "max_supply": ValidationError(
                f"The cap table allocates {allocated} shares, more than this maximum supply.",
                code="max_supply_below_cap_table",
            )
        }
    return {}


def _offer_rules(offer: Offer, before: Offer | None) -> dict[str, ValidationError]:
    """The rules of one offer; the first error of each field is kept."""
    errors: dict[str, ValidationError] = {}
    if not offer.network.is_active:
        errors["network"] = ValidationError("This network is not active.", code="network_inactive")
    for rules in (
        _currency_rules(offer, before),
        _price_rules(offer),
        _duration_rules(offer),
        _credits_rules(offer),
        _terms_rules(offer),
        _supply_rules(offer),
    ):
        for field, error in rules.items():
            errors.setdefault(field, error)
    return errors


def _published_rules(offer: Offer, before: Offer) -> dict[str, ValidationError]:
    """What the chain fixed once an offer was configured there."""
    errors: dict[str, ValidationError] = {}
    fixed = {"model_id": "model", "network_id": "network", "kind": "kind"}
    for attribute, field in fixed.items():
        if getattr(offer, attribute) != getattr(before, attribute):
            errors[field] = ValidationError(
                f"The offer is published: its {field} is fixed on chain. Deactivate it and "
                "create a new offer instead.",
                code="offer_field_fixed",
            )
    if bool(offer.duration) != bool(before.duration):
        errors["duration"] = ValidationError(
            "The offer is published: it cannot switch between timed and perpetual.",
            code="offer_field_fixed",
        )
    if offer.max_supply and "max_supply" not in errors:
        errors.update(_supply_left(offer))
    return errors


def _supply_left(offer: Offer) -> dict[str, ValidationError]:
    """The maximum supply cannot go under what exists (tokens: credits for a credits pack)."""
    credits = offer.kind == OfferKind.CREDITS and offer.credits_per_unit
    per_unit = offer.credits_per_unit if credits else 1
    held = Holding.objects.filter(network_id=offer.network_id, token_id=offer.token_id)
    supply = int(held.aggregate(total=Sum("balance"))["total"] or 0)
    if int(offer.max_supply) * per_unit >= supply:
        return {}
    units = f"{supply} credits ({-(-supply // per_unit)} packs)" if credits else f"{supply} units"
    return {
        "max_supply": ValidationError(
            f"{units} exist already; the maximum supply cannot go below that.",
            code="max_supply_below_supply",
        )
    }


@transaction.atomic
def offer_save(*, offer: Offer, by=None) -> Offer:
    """Create or change an offer (its values set on ``offer``); publishing is separate."""
    tokenomics_for(model=offer.model)
    before = None
    if offer.pk is not None:
        before = Offer.objects.select_for_update().get(pk=offer.pk)
    errors = _offer_rules(offer, before)
    if before is not None and offer_is_published(before):
        for field, error in _published_rules(offer, before).items():
            errors.setdefault(field, error)
    if errors:
        raise ValidationError(errors)
    if before is None:
        offer.token_id = _new_token_id(offer.network)
    return _save(offer, by)


def offer_create(*, by=None, **fields) -> Offer:
    """``offer_save`` of a new offer built from keyword fields (the demo's and tests' way)."""
    return offer_save(offer=Offer(**fields), by=by)


@transaction.atomic
def offer_delete(*, offer: Offer, by=None) -> None:
    """Delete an offer that was never published (a published one is deactivated instead)."""
    if offer_is_published(offer):
        raise _error(
            None,
            f"{offer} is published: deactivate it instead (holders keep what they bought).",
            "offer_published",
        )
    _record_user(offer, by)
    offer.delete()


# --- payees ---


def _payees_total(model: AIModel, exclude_pk: int | None) -> int:
    rows = Payee.objects.filter(model=model)
    if exclude_pk is not None:
        rows = rows.exclude(pk=exclude_pk)
    return rows.aggregate(total=Sum("bps"))["total"] or 0


def onchain_payee_count(model: AIModel, extra_payees: int = 0) -> int:
    """How many payees the vault would get: the payees plus the current contributors."""
    version = contributors_version(model)
    contributors = Contributor.objects.filter(version=version).count() if version else 0
    return Payee.objects.filter(model=model).count() + extra_payees + contributors


def _bps_error(field: str, value: int, what: str) -> ValidationError | None:
    if 1 <= value <= BPS:
        return None
    message = f"{what} is in basis points, from 1 (0.01%) to {BPS} (100%)."
    return _error(field, message, "bps_out_of_range")


def _too_many_payees() -> ValidationError:
    return _error(
        None,
        f"The vault pays at most {MAX_ONCHAIN_PAYEES} accounts per model (payees and the "
        "current version's contributors together).",
        "too_many_payees",
    )


def _moved(obj, before, field: str, what: str) -> ValidationError | None:
    if before is None or getattr(obj, f"{field}_id") == getattr(before, f"{field}_id"):
        return None
    message = f"{what} cannot move to another {field}: delete it and add one there."
    return _error(field, message, f"{field}_fixed")


@transaction.atomic
def payee_save(*, payee: Payee, by=None) -> Payee:
    """Add or change a payee; the split (fee + payees + contributors) stays within 100%."""
    tokenomics = tokenomics_for(model=payee.model, lock=True)
    before = Payee.objects.filter(pk=payee.pk).first() if payee.pk else None
    payee.address = _checksummed(payee.address)
    error = _moved(payee, before, "model", "A payee") or _bps_error("bps", payee.bps, "A share")
    if error is not None:
        raise error
    if payee.address == ZERO_ADDRESS:
        raise _error("address", "The zero address cannot be paid.", "zero_address")
    others = _payees_total(payee.model, exclude_pk=payee.pk)
    if others + payee.bps + tokenomics.contributors_bps > _split_room(tokenomics):
        raise ValidationError(
            {"bps": _split_error(tokenomics, others + payee.bps, tokenomics.contributors_bps)}
        )
    if before is None and onchain_payee_count(payee.model, 1) > MAX_ONCHAIN_PAYEES:
        raise _too_many_payees()
    payee = _save(payee, by)
    tokenomics.payees_bps = others + payee.bps
    _save(tokenomics, by)
    return payee


def payee_create(*, by=None, **fields) -> Payee:
    return payee_save(payee=Payee(**fields), by=by)


@transaction.atomic
def payee_delete(*, payee: Payee, by=None) -> None:
    tokenomics = tokenomics_for(model=payee.model, lock=True)
    _record_user(payee, by)
    payee.delete()
    tokenomics.payees_bps = _payees_total(payee.model, exclude_pk=None)
    _save(tokenomics, by)


# --- contributors ---


def contributors_version(model: AIModel) -> ModelVersion | None:
    """The version whose contributors share the contributors' part: the latest published one."""
    from models_hub.selectors import PUBLIC_VERSION

    published = model.versions.filter(PUBLIC_VERSION).order_by("-sort_key").first()
    return published


@transaction.atomic
def contributor_save(*, contributor: Contributor, by=None) -> Contributor:
    """Credit a wallet on a version; the version's shares add up to at most 100%."""
    version = contributor.version
    tokenomics_for(model=version.model, lock=True)
    before = Contributor.objects.filter(pk=contributor.pk).first() if contributor.pk else None
    contributor.address = _checksummed(contributor.address)
    error = _bps_error("share_bps", contributor.share_bps, "A contributor's share")
    if error is not None:
        raise error
    if contributor.address == ZERO_ADDRESS:
        raise _error("address", "The zero address cannot be credited.", "zero_address")
    others = Contributor.objects.filter(version=version).exclude(pk=contributor.pk)
    taken = others.aggregate(total=Sum("share_bps"))["total"] or 0
    if taken + contributor.share_bps > BPS:
        raise _error(
            "share_bps",
            f"The contributors of {version.model} {version.version} already share "
            f"{_pct(taken)} of the contributors' part; this one can have at most "
            f"{_pct(BPS - taken)}.",
            "contributor_shares_over_100pct",
        )
    joins = before is None or before.version_id != version.pk
    current = version == contributors_version(version.model)
    if joins and current and onchain_payee_count(version.model, 1) > MAX_ONCHAIN_PAYEES:
        raise _too_many_payees()
    return _save(contributor, by)


def contributor_create(*, by=None, **fields) -> Contributor:
    return contributor_save(contributor=Contributor(**fields), by=by)


@transaction.atomic
def contributor_delete(*, contributor: Contributor, by=None) -> None:
    _record_user(contributor, by)
    contributor.delete()


def onchain_payees(model: AIModel) -> list[tuple[str, int]]:
    """The vault's payee list for ``model``: each payee, and each contributor of the latest
    published version with ``floor(contributors part * share / 10000)`` basis points (the
    rounding remainder goes to the share holders, like every remainder in the vault)."""
    from web3 import Web3

    tokenomics = tokenomics_for(model=model)
    payees: dict[str, int] = {}
    for payee in Payee.objects.filter(model=model).order_by("pk"):
        address = Web3.to_checksum_address(payee.address)
        payees[address] = payees.get(address, 0) + payee.bps
    version = contributors_version(model)
    if version is not None and tokenomics.contributors_bps:
        for contributor in Contributor.objects.filter(version=version).order_by("pk"):
            bps = tokenomics.contributors_bps * contributor.share_bps // BPS
            if bps:
                address = Web3.to_checksum_address(contributor.address)
                payees[address] = payees.get(address, 0) + bps
    return sorted(payees.items())


# --- cap table ---


def _cap_table_total(model: AIModel) -> int:
    total = ShareAllocation.objects.filter(model=model).aggregate(total=Sum("amount"))["total"]
    return int(total or 0)


def shares_minted(model: AIModel) -> bool:
    """Whether the cap table was minted (or a mint that may still land is queued) anywhere."""
    steps = PublishStep.objects.filter(model=model, kind=PublishStepKind.SHARES)
    return steps.exclude(transaction__status__in=DEAD_TX).exists()


def _fixed_error() -> ValidationError:
    return _error(
        None,
        "The shares have been minted: the cap table is fixed. Holders move shares on chain.",
        "cap_table_fixed",
    )


def _allocation_rules(allocation: ShareAllocation) -> ValidationError | None:
    if allocation.holder == ZERO_ADDRESS:
        return _error("holder", "Shares cannot be minted to the zero address.", "zero_address")
    if not 0 < allocation.amount < UINT128:
        message = "Give a whole number of shares above zero (at most 2^128 - 1)."
        return _error("amount", message, "share_amount_out_of_range")
    others = ShareAllocation.objects.filter(model=allocation.model).exclude(pk=allocation.pk)
    total = int(others.aggregate(total=Sum("amount"))["total"] or 0) + int(allocation.amount)
    if total >= UINT128:
        message = "The cap table's total must stay under 2^128 shares (the vault's bound)."
        return _error("amount", message, "cap_table_too_large")
    shares = Offer.objects.filter(model=allocation.model, kind=OfferKind.SHARES, max_supply__gt=0)
    smallest = shares.order_by("max_supply").first()
    if smallest is not None and total > smallest.max_supply:
        return _error(
            "amount",
            f"The cap table would allocate {total} shares, more than the {smallest.max_supply} "
            f"that the shares offer on {smallest.network.name} allows.",
            "cap_table_over_max_supply",
        )
    return None


@transaction.atomic
def share_allocation_save(*, allocation: ShareAllocation, by=None) -> ShareAllocation:
    """Add or change a cap table line, until the shares are minted."""
    tokenomics_for(model=allocation.model, lock=True)
    before = ShareAllocation.objects.filter(pk=allocation.pk).first() if allocation.pk else None
    minted = shares_minted(allocation.model) or (before and shares_minted(before.model))
    if minted:
        raise _fixed_error()
    allocation.holder = _checksummed(allocation.holder)
    error = _allocation_rules(allocation)
    if error is not None:
        raise error
    return _save(allocation, by)


def share_allocation_create(*, by=None, **fields) -> ShareAllocation:
    return share_allocation_save(allocation=ShareAllocation(**fields), by=by)


@transaction.atomic
def share_allocation_delete(*, allocation: ShareAllocation, by=None) -> None:
    tokenomics_for(model=allocation.model, lock=True)
    if shares_minted(allocation.model):
        raise _fixed_error()
    _record_user(allocation, by)
    allocation.delete()


# --- the offer as the chain should have it ---

ZERO_BYTES32 = "0x" + "0" * 64


def _chain_model_id(model: AIModel) -> str:
    """The model's bytes32 id; it never changes, so a row a list selected with the model is
    as good as a fresh one (other fields of a cached row may be stale: ask ``tokenomics_for``)."""
    if AIModel.tokenomics.is_cached(model):
        try:
            return model.tokenomics.chain_model_id
        except ModelTokenomics.DoesNotExist:
            pass
    return tokenomics_for(model=model).chain_model_id


def onchain_offer_config(offer: Offer) -> dict:
    """The ``OfferConfig`` the LicenseToken should hold for ``offer`` (prices per token: a
    credits pack of N credits for P is N tokens of P / N each; ``max_supply`` in tokens)."""
    per_unit = offer.credits_per_unit if offer.kind == OfferKind.CREDITS else 1
    return {
        "modelId": _chain_model_id(offer.model),
        "kind": int(offer.kind),
        "price": int(offer.price) // per_unit,
        "currency": offer.currency.chain_address if offer.currency else ZERO_ADDRESS,
        "duration": int(offer.duration),
        "maxSupply": int(offer.max_supply) * per_unit,
        "transferable": bool(offer.transferable),
        "termsHash": (offer.terms.content_hash if offer.terms else "") or ZERO_BYTES32,
        "active": bool(offer.active),
    }


_CHAIN_FIELDS = {
    "price": "price",
    "currency": "currency",
    "duration": "duration",
    "maxSupply": "max_supply",
    "transferable": "transferable",
    "termsHash": "terms_hash",
    "active": "active",
}


def offer_pending_diff(offer: Offer) -> list[tuple[str, str, str]] | None:
    """``(field, on chain, configured)`` for each field the chain has differently; None when the
    chain has no such offer yet."""
    chain = offer_on_chain(offer)
    if chain is None:
        return None
    wanted = onchain_offer_config(offer)
    diff = []
    for key, attribute in _CHAIN_FIELDS.items():
        have, want = getattr(chain, attribute), wanted[key]
        if isinstance(want, str):
            same = str(have).lower() == want.lower()
        else:
            same = type(want)(have) == want
        if not same:
            diff.append((attribute.replace("_", " "), str(have), str(want)))
    return diff
