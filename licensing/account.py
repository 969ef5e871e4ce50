"""Reads of a customer's "My account" page: everything of the user's wallets.

A customer's wallets are their allauth ``SocialAccount`` rows of provider ``siwe`` (the uid is
the EIP-55 address). The projections store addresses as the sync decodes them, EIP-55 too
(``chain.sync.decode`` checksums every address), so rows are matched exactly on the wallets'
checksummed addresses (a uid is checksummed again here, in case one was stored in lower case).

Costs are fixed: each section is one or two queries whatever the number of licenses, credit
lines or purchases (``licensing/tests/test_account.py`` counts them). Revenue is read from the
node (``RevenueVault.withdrawable(account, currency)``, one ``eth_call`` per wallet and
currency of each network with a vault): holders' earnings accrue in the vault's per-share
accumulator and are only settled on chain by a withdrawal or a share transfer, so no projection
holds what a share holder can withdraw now.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Q, Sum
from django.utils import timezone
from eth_utils import to_checksum_address
from web3 import Web3
from web3.exceptions import Web3Exception

from chain import abi
from chain.choices import OfferKind
from chain.client import web3_for
from chain.models import Deployment, Network
from licensing import market
from licensing.amounts import format_amount
from licensing.choices import LedgerKind
from licensing.models import CreditEntry, Currency, Holding, License, Offer, Sale, VaultEntry

SIWE = "siwe"
ZERO_ADDRESS = "0x" + "0" * 40
EXPIRES_SOON = 7 * 86_400  # a timed right ending within this is "expires soon"
DEFAULT_PAGE_SIZE = 20  # purchases per page (ACCOUNT_PAGE_SIZE in settings)
# What the node may raise when it is down or does not answer a call (not a bug of ours).
NODE_ERRORS = (requests.RequestException, OSError, ValueError, Web3Exception)


class Status:
    ACTIVE = "active"
    EXPIRES_SOON = "expires soon"
    EXPIRED = "expired"
    REVOKED = "revoked"


def wallets_of(*, user) -> list[str]:
    """The user's wallet addresses (EIP-55), in the order they were linked."""
    if not getattr(user, "is_authenticated", False):
        return []
    uids = SocialAccount.objects.filter(user=user, provider=SIWE).order_by("pk")
    return [_checksum(uid) for uid in uids.values_list("uid", flat=True)]


def _checksum(address: str) -> str:
    try:
        return to_checksum_address(address)
    except ValueError:
        return address


def short_address(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}" if len(address) > 12 else address


def _currencies() -> dict[tuple[int, str], Currency]:
    """Every configured currency by (network id, address on chain in lower case)."""
    return {(row.network_id, row.chain_address.lower()): row for row in Currency.objects.all()}


def _amount(atomic, network_id: int, address: str, currencies: dict) -> str:
    currency = currencies.get((network_id, (address or ZERO_ADDRESS).lower()))
    if currency is None:
        return f"{int(atomic)} (smallest units of token {address})"
    return format_amount(atomic, currency)


# --- licenses and passes ---


@dataclass(frozen=True)
class HeldLicense:
    """A license or access pass one of the user's wallets holds."""

    holder: str
    model_name: str
    tier: str
    kind: str
    network: str
    expires_at: datetime | None  # None: perpetual
    status: str
    renew_offer_id: int | None  # the configured offer's pk when it can be renewed

    @property
    def status_class(self) -> str:
        return self.status.replace(" ", "-")


def _status(row: License, now: int) -> str:
    if row.revoked:
        return Status.REVOKED
    if row.expires_at == 0:
        return Status.ACTIVE
    if row.expires_at <= now:
        return Status.EXPIRED
    return Status.EXPIRES_SOON if row.expires_at - now <= EXPIRES_SOON else Status.ACTIVE


def licenses_held(*, wallets: list[str], now: int | None = None) -> list[HeldLicense]:
    """The licenses and passes the wallets hold (expired and revoked ones too), by model."""
    if not wallets:
        return []
    now = int(timezone.now().timestamp()) if now is None else now
    listed = set(market.listed_models().values_list("pk", flat=True))
    rows = License.objects.filter(holder__in=wallets).select_related("network", "offer__model")
    held = []
    for row in rows.order_by("network__name", "token_id", "holder"):
        offer = row.offer
        timed = row.expires_at != 0 or (offer is not None and offer.duration > 0)
        renewable = offer is not None and offer.active and offer.model_id in listed and timed
        held.append(
            HeldLicense(
                holder=row.holder,
                model_name=offer.model.name if offer else f"Token {row.token_id}",
                tier=offer.tier_name if offer else "",
                kind=offer.get_kind_display() if offer else "License",
                network=row.network.name,
                expires_at=datetime.fromtimestamp(row.expires_at, tz=UTC)
                if row.expires_at
                else None,
                status=_status(row, now),
                renew_offer_id=offer.pk if renewable else None,
            )
        )
    held.sort(key=lambda item: (item.model_name.lower(), item.tier.lower(), item.holder))
    return held


# --- credits ---


@dataclass(frozen=True)
class CreditBalance:
    """A wallet's usage credits of one offer: bought (or granted) minus consumed."""

    holder: str
    model_name: str
    tier: str
    network: str
    bought: int
    used: int

    @property
    def balance(self) -> int:
        return self.bought - self.used


def credit_balances(*, wallets: list[str]) -> list[CreditBalance]:
    """Per wallet and credits offer, from the credit ledger (``CreditEntry``): two queries."""
    if not wallets:
        return []
    sums = (
        CreditEntry.objects.filter(holder__in=wallets)
        .values("network_id", "network__name", "token_id", "holder")
        .annotate(
            bought=Sum("delta", filter=Q(delta__gt=0), default=0),
            used=Sum("delta", filter=Q(delta__lt=0), default=0),
        )
        .order_by("network_id", "token_id", "holder")
    )
    sums = list(sums)
    if not sums:
        return []
    keys = Q()
    for row in sums:
        keys |= Q(network_id=row["network_id"], token_id=row["token_id"])
    offers = {
        (offer.network_id, offer.token_id): offer
        for offer in Offer.objects.filter(keys).select_related("model")
    }
    balances = []
    for row in sums:
        offer = offers.get((row["network_id"], row["token_id"]))
        balances.append(
            CreditBalance(
                holder=row["holder"],
                model_name=offer.model.name if offer else f"Token {row['token_id']}",
                tier=offer.tier_name if offer else "",
                network=row["network__name"],
                bought=int(row["bought"]),
                used=-int(row["used"]),
            )
        )
    return balances


# --- revenue ---


@dataclass(frozen=True)
class RevenueLine:
    """What one wallet can withdraw from one network's vault in one currency."""

    account: str
    network: Network
    currency: Currency
    withdrawable: int | None  # None: the node could not be read
    withdrawn: int  # withdrawn so far (the ledger's Withdrawn moves)
    roles: tuple[str, ...]  # "share holder of …", "payee"

    @property
    def withdrawable_text(self) -> str:
        if self.withdrawable is None:
            return f"{self.currency.symbol}: unknown (the node cannot be reached)"
        return format_amount(self.withdrawable, self.currency)

    @property
    def withdrawn_text(self) -> str:
        return format_amount(self.withdrawn, self.currency)

    @property
    def can_withdraw(self) -> bool:
        return bool(self.withdrawable)


@dataclass
class Revenue:
    lines: list[RevenueLine] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)  # networks whose node did not answer


def vault_of(network: Network) -> Deployment | None:
    return Deployment.objects.filter(network=network, contract_name=abi.REVENUE_VAULT).first()


def read_withdrawable(w3: Web3, vault: str, account: str, currency: Currency) -> int:
    """``RevenueVault.withdrawable(account, currency)`` at the node's latest block."""
    contract = abi.contract_at(w3, abi.REVENUE_VAULT, vault)
    return int(contract.functions.withdrawable(account, currency.chain_address).call())


def _roles(wallets: list[str]) -> dict[tuple[int, str], list[str]]:
    """Why each (network id, wallet) earns: the models whose shares it holds, payee credits."""
    roles: dict[tuple[int, str], list[str]] = defaultdict(list)
    shares = (
        Holding.objects.filter(holder__in=wallets, balance__gt=0, offer__kind=OfferKind.SHARES)
        .select_related("offer__model")
        .order_by("offer__model__name")
    )
    for row in shares:
        roles[(row.network_id, row.holder)].append(f"share holder of {row.offer.model.name}")
    credited = (
        VaultEntry.objects.filter(account__in=wallets, kind=LedgerKind.CREDITED)
        .values_list("network_id", "account")
        .distinct()
    )
    for network_id, account in credited:
        roles[(network_id, account)].append("payee")
    return roles


def revenue_of(*, wallets: list[str]) -> Revenue:
    """For each wallet, network with a vault and currency there: what it can withdraw now (from
    the node) and has withdrawn (from the ledger). Lines with neither are left out."""
    revenue = Revenue()
    if not wallets:
        return revenue
    vaults = Deployment.objects.filter(
        contract_name=abi.REVENUE_VAULT, network__is_active=True
    ).select_related("network")
    vaults = list(vaults.order_by("network__name"))
    if not vaults:
        return revenue
    currencies = defaultdict(list)
    for currency in Currency.objects.filter(network__in=[v.network_id for v in vaults]):
        currencies[currency.network_id].append(currency)
    withdrawn = {
        (row["network_id"], row["account"], row["currency"].lower()): int(row["total"])
        for row in VaultEntry.objects.filter(account__in=wallets, kind=LedgerKind.WITHDRAWN)
        .values("network_id", "account", "currency")
        .annotate(total=Sum("amount"))
    }
    roles = _roles(wallets)
    for vault in vaults:
        network = vault.network
        w3 = web3_for(network.rpc_url) if network.rpc_url else None
        for account in wallets:
            why = tuple(roles.get((network.pk, account), ()))
            for currency in currencies[network.pk]:
                amount = None
                if w3 is not None:
                    try:
                        amount = read_withdrawable(w3, vault.address, account, currency)
                    except NODE_ERRORS:
                        w3 = None  # the node is down: the rest of this network is unknown
                done = withdrawn.get((network.pk, account, currency.chain_address.lower()), 0)
                unknown_but_earning = amount is None and bool(why)
                if amount or done or unknown_but_earning:
                    revenue.lines.append(RevenueLine(account, network, currency, amount, done, why))
        if w3 is None:
            revenue.unreachable.append(network.name)
    return revenue


# --- purchases ---


@dataclass(frozen=True)
class PurchaseLine:
    """One purchase by one of the user's wallets, as the token contract recorded it."""

    sold_at: datetime | None
    buyer: str
    model_name: str
    tier: str
    amount: int
    paid: str
    tx_hash: str
    explorer_url: str


def purchases_page(*, wallets: list[str], page_number=None) -> Page:
    """A page of the wallets' purchases, newest first (``object_list`` holds ``PurchaseLine``s).
    Three queries: the count, the page, the currencies."""
    sales = (
        Sale.objects.filter(buyer__in=wallets)
        .select_related("event", "network", "offer__model", "listing__model")
        .order_by("-sold_at", "-event__block_number", "-event__log_index")
    )
    size = getattr(settings, "ACCOUNT_PAGE_SIZE", DEFAULT_PAGE_SIZE)
    page = Paginator(sales if wallets else Sale.objects.none(), size).get_page(page_number)
    currencies = _currencies() if page.object_list else {}
    page.object_list = [_purchase_line(sale, currencies) for sale in page.object_list]
    return page


def _purchase_line(sale: Sale, currencies: dict) -> PurchaseLine:
    offer, listing = sale.offer, sale.listing
    if offer is not None:
        name = offer.model.name
    elif listing is not None:
        name = listing.model.name
    else:
        name = f"Model {sale.model_id[:10]}…"
    base = (sale.network.explorer_url or "").rstrip("/")
    tx_hash = sale.event.tx_hash
    return PurchaseLine(
        sold_at=sale.sold_at,
        buyer=sale.buyer,
        model_name=name,
        tier=offer.tier_name if offer else f"Token {sale.token_id}",
        amount=int(sale.amount),
        paid=_amount(sale.paid, sale.network_id, sale.currency, currencies),
        tx_hash=tx_hash,
        explorer_url=f"{base}/tx/{tx_hash}" if base else "",
    )


# --- the page ---


@dataclass(frozen=True)
class AccountPage:
    wallets: list[str]
    licenses: list[HeldLicense]
    credits: list[CreditBalance]
    revenue: Revenue
    purchases: Page


def account_page(*, user, page_number=None) -> AccountPage:
    """Everything "My account" shows for ``user``."""
    wallets = wallets_of(user=user)
    return AccountPage(
        wallets=wallets,
        licenses=licenses_held(wallets=wallets),
        credits=credit_balances(wallets=wallets),
        revenue=revenue_of(wallets=wallets),
        purchases=purchases_page(wallets=wallets, page_number=page_number),
    )
