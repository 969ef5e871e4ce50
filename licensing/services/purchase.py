"""Buying with a wallet: the server prepares the transactions, the buyer's wallet signs them.

``purchase_prepare(offer=, buyer=, amount=)`` reads the offer as the sync projected it
(``ChainOffer`` on the network's current LicenseToken) and, from the node, the supply and (for
an ERC-20) the buyer's allowance, and answers the transactions to send in order, each
``{to, data, value, chainId}`` in 0x-hex as EIP-1193's ``eth_sendTransaction`` takes them: an
``approve(LicenseToken, price * amount)`` first when the allowance does not cover it, then
``LicenseToken.purchase(id, amount, maxPrice)``. ``maxPrice`` is the price quoted: a price
raised before the purchase is mined reverts it (``PriceAboveMax``, nothing charged); a lower
one is simply charged. A renewal (a timed offer the buyer holds) says what it adds (renewing
early adds to the remaining time, as ``LicenseToken._extend`` counts) and what changed since
the buyer's last purchase (``licensing.selectors.renewal_preview``).

``purchase_status(network=, tx_hash=)`` follows a transaction the wallet sent: *pending* (the
node has it, not mined), *mined* (receipt status 1, the sync has not indexed its event yet),
*confirmed* (the sync indexed an event of it), *reverted* (receipt status 0, with the decoded
reason in words) or *dropped* (the node does not know the hash and nothing is indexed). It is
the ladder ``licensing.services.status`` gives staff for the outbox, for transactions the
portal did not send.

``explain_revert_data(data=)`` turns revert data a wallet reported at estimation (nothing was
sent) into the same sentences. All three read only; none writes a row.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from django.core.exceptions import ValidationError
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import (
    TransactionNotFound,
    Web3Exception,
    Web3RPCError,
)

from chain import abi
from chain.choices import OfferKind
from chain.client import web3_for
from chain.models import Deployment, IndexedEvent, Network
from chain.reverts import mined_revert
from licensing.amounts import format_amount, format_duration
from licensing.errors import PurchaseErrorCode
from licensing.models import ChainOffer, Currency, License, Offer
from licensing.reasons import explain, format_time
from licensing.selectors import LOWER_PRICE_NEVER_BLOCKS, renewal_preview
from portal.errors import DomainError, detail
from portal.validators import validate_eth_address

ZERO_ADDRESS = "0x" + "0" * 40
MAX_AMOUNT = 1000  # units per purchase (a pack counts as one): keeps price x amount small
APPROVE = function_signature_to_4byte_selector("approve(address,uint256)")
ALLOWANCE = function_signature_to_4byte_selector("allowance(address,address)")
TIMED_KINDS = (OfferKind.LICENSE, OfferKind.ACCESS_PASS)
# What the node may raise when it is down or refuses to answer (not a revert).
NODE_ERRORS = (requests.RequestException, OSError, Web3RPCError, Web3Exception, ValueError)

KIND_WORDS = {
    OfferKind.LICENSE: "license",
    OfferKind.ACCESS_PASS: "access pass",
    OfferKind.CREDITS: "credits pack",
}


class TxState:
    PENDING = "pending"
    MINED = "mined"
    CONFIRMED = "confirmed"
    REVERTED = "reverted"
    DROPPED = "dropped"


@dataclass(frozen=True)
class PreparedTransaction:
    """One transaction for the wallet, in the shape ``eth_sendTransaction`` takes."""

    to: str
    data: str
    value: str  # 0x-hex wei
    chain_id: str  # 0x-hex
    label: str  # "Approve 5 TUSD", "Buy Monthly license"
    step: str  # "approve" or "purchase"

    def as_json(self, buyer: str) -> dict[str, str]:
        return {
            "from": buyer,
            "to": self.to,
            "data": self.data,
            "value": self.value,
            "chainId": self.chain_id,
            "label": self.label,
            "step": self.step,
        }


@dataclass(frozen=True)
class PreparedPurchase:
    """What the buyer's wallet sends, in order, and what the buyer gets for it."""

    offer: Offer
    buyer: str  # EIP-55
    amount: int  # units asked for (packs for credits)
    tokens: int  # tokens on chain (credits for a pack)
    price: int  # per token, in the currency's smallest unit: the purchase's maxPrice
    total: int  # price x tokens
    currency: Currency | None
    transactions: list[PreparedTransaction]
    label: str
    gets: str
    renewal: list[str] = field(default_factory=list)
    allowance: int | None = None  # the buyer's allowance before (ERC-20 only)

    def summary(self) -> dict[str, Any]:
        return {
            "offer": self.offer.pk,
            "label": self.label,
            "gets": self.gets,
            "amount": self.amount,
            "price": format_amount(self.price * self.tokens // self.amount, self.currency),
            "total": format_amount(self.total, self.currency),
            "renewal": self.renewal,
            "steps": [tx.label for tx in self.transactions],
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "transactions": [tx.as_json(self.buyer) for tx in self.transactions],
            "summary": self.summary(),
        }


@dataclass(frozen=True)
class TxProgress:
    """Where a buyer's transaction stands (``TxState``), in words, with an explorer link."""

    tx_hash: str
    state: str
    message: str
    reason: str = ""
    explorer_url: str = ""
    block_number: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "tx": self.tx_hash,
            "status": self.state,
            "message": self.message,
            "reason": self.reason,
            "explorer_url": self.explorer_url,
            "block_number": self.block_number,
        }


def _fail(error: PurchaseErrorCode, message: str | None = None, field_name=None) -> DomainError:
    text = message or error.message
    return DomainError(error, text, details=[detail(field_name, error.code, text)])


# --- reading what the chain has ---


def token_deployment(network: Network) -> Deployment | None:
    return Deployment.objects.filter(network=network, contract_name=abi.LICENSE_TOKEN).first()


def chain_offer_of(offer: Offer) -> ChainOffer | None:
    """The sync's view of ``offer`` on its network's current LicenseToken."""
    deployment = token_deployment(offer.network)
    if deployment is None:
        return None
    return ChainOffer.objects.filter(
        network_id=offer.network_id, token_address=deployment.address, token_id=offer.token_id
    ).first()


def _node(network: Network) -> Web3:
    url = network.rpc_url
    if not url:
        raise _fail(
            PurchaseErrorCode.NODE_UNAVAILABLE,
            f"No chain node is configured for {network.name}; try again later.",
        )
    return web3_for(url)


def _call(w3: Web3, to: str, data: bytes) -> bytes:
    try:
        return bytes(w3.eth.call({"to": to, "data": "0x" + data.hex()}))
    except NODE_ERRORS:
        raise _fail(PurchaseErrorCode.NODE_UNAVAILABLE) from None


def _supply(w3: Web3, token_address: str, token_id: int) -> int:
    contract = abi.contract_at(w3, abi.LICENSE_TOKEN, token_address)
    try:
        return int(contract.functions.totalSupply(token_id).call())
    except NODE_ERRORS:
        raise _fail(PurchaseErrorCode.NODE_UNAVAILABLE) from None


def _allowance(w3: Web3, currency: str, owner: str, spender: str) -> int:
    raw = _call(w3, currency, ALLOWANCE + abi_encode(["address", "address"], [owner, spender]))
    return int.from_bytes(raw[:32], "big") if raw else 0


# --- checking the request ---


def _amount(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _fail(PurchaseErrorCode.BAD_AMOUNT, field_name="amount")
    try:
        amount = int(value)
    except ValueError:
        raise _fail(PurchaseErrorCode.BAD_AMOUNT, field_name="amount") from None
    if not 1 <= amount <= MAX_AMOUNT:
        raise _fail(PurchaseErrorCode.BAD_AMOUNT, field_name="amount")
    return amount


def _buyer(value: Any) -> str:
    text = value.strip() if isinstance(value, str) else ""
    try:
        validate_eth_address(text)
    except ValidationError as exc:
        message = f"{PurchaseErrorCode.BAD_BUYER_ADDRESS.message} {' '.join(exc.messages)}"
        raise _fail(PurchaseErrorCode.BAD_BUYER_ADDRESS, message, "buyer") from None
    if text.lower() == ZERO_ADDRESS:
        message = "The zero address cannot buy: connect a wallet account."
        raise _fail(PurchaseErrorCode.BAD_BUYER_ADDRESS, message, "buyer")
    return to_checksum_address(text)


def _on_sale(offer: Offer) -> ChainOffer:
    if offer.kind == OfferKind.SHARES:
        raise _fail(PurchaseErrorCode.WRONG_KIND, field_name="offer")
    chain_offer = chain_offer_of(offer)
    where = offer.network.name
    if chain_offer is None:
        message = f"{offer.tier_name} is not published on {where} yet: it cannot be bought."
        raise _fail(PurchaseErrorCode.OFFER_NOT_PURCHASABLE, message, "offer")
    if not (offer.active and chain_offer.active and offer.network.is_active):
        message = f"{offer.tier_name} is not on sale on {where} now."
        raise _fail(PurchaseErrorCode.OFFER_NOT_PURCHASABLE, message, "offer")
    if chain_offer.kind == OfferKind.SHARES:
        raise _fail(PurchaseErrorCode.WRONG_KIND, field_name="offer")
    return chain_offer


def _currency(offer: Offer, chain_offer: ChainOffer) -> Currency | None:
    address = chain_offer.currency
    rows = Currency.objects.filter(network_id=offer.network_id)
    if address.lower() == ZERO_ADDRESS:
        return rows.filter(address="").first()
    return rows.filter(address__iexact=address).first()


# --- preparing ---


def _hex(value: int) -> str:
    return hex(int(value))


def _words(offer: Offer, chain_offer: ChainOffer, amount: int, tokens: int) -> tuple[str, str]:
    """(label, what the buyer gets)."""
    kind = KIND_WORDS.get(chain_offer.kind, "offer")
    named = any(word in offer.tier_name.lower().split() for word in kind.split())
    name = offer.tier_name if named else f"{offer.tier_name} {kind}"
    if chain_offer.kind == OfferKind.CREDITS:
        unit = offer.get_usage_unit_display().lower() if offer.usage_unit else "use"
        packs = f"{amount} pack{'s' if amount != 1 else ''}"
        return (
            f"Buy {name}",
            f"{packs} of {offer.credits_per_unit:,} credits: {tokens:,} credits ({unit} each).",
        )
    if chain_offer.duration:
        length = format_duration(int(chain_offer.duration) * tokens)
        return f"Buy {name}", f"The {name} for {length}."
    return f"Buy {name}", f"The {name}, with no end date."


def _renewal(chain_offer: ChainOffer, buyer: str, tokens: int) -> list[str] | None:
    """Sentences for a renewal (the buyer holds this timed offer), else None."""
    if chain_offer.kind not in TIMED_KINDS or not chain_offer.duration:
        return None
    license = License.objects.filter(
        network_id=chain_offer.network_id,
        token_address=chain_offer.token_address,
        token_id=chain_offer.token_id,
        holder=buyer,
    ).first()
    if license is None:
        return None
    preview = renewal_preview(license=license)
    until = preview.renewal_start + int(chain_offer.duration) * tokens
    added = format_duration(int(chain_offer.duration) * tokens)
    if license.revoked:
        lines = [f"Your license was revoked; this starts a new term, until {format_time(until)}."]
    elif preview.remaining:
        lines = [
            f"You hold it until {format_time(preview.current_expiry)}. Renewing early adds "
            f"{added} to the remaining time: it will run until {format_time(until)}."
        ]
    else:
        lines = [
            f"Yours ended {format_time(preview.current_expiry)}; this runs until "
            f"{format_time(until)}."
        ]
    lines.extend(preview.changes)
    if preview.price_change == "down":
        lines.append(LOWER_PRICE_NEVER_BLOCKS)
    return lines


def purchase_prepare(*, offer: Offer, buyer: str, amount: Any = 1) -> PreparedPurchase:
    """The transactions ``buyer`` sends to buy ``amount`` units of ``offer`` (see the module)."""
    units = _amount(amount)
    buyer = _buyer(buyer)
    chain_offer = _on_sale(offer)
    network = offer.network
    per_unit = offer.credits_per_unit if chain_offer.kind == OfferKind.CREDITS else 1
    tokens = units * max(int(per_unit), 1)
    price, token_id = int(chain_offer.price), int(chain_offer.token_id)
    total = price * tokens
    currency = _currency(offer, chain_offer)
    w3 = _node(network)
    token = chain_offer.token_address
    max_supply = int(chain_offer.max_supply)
    if max_supply:
        supply = _supply(w3, token, token_id)
        if supply + tokens > max_supply:
            left = max(max_supply - supply, 0)
            message = f"{offer.tier_name} is sold out: {supply} of {max_supply} are taken" + (
                f", {left} left." if left else "."
            )
            raise _fail(PurchaseErrorCode.SOLD_OUT, message, "amount")
    chain_id = _hex(network.chain_id)
    transactions = []
    allowance = None
    native = chain_offer.currency.lower() == ZERO_ADDRESS
    if not native and total:
        erc20 = to_checksum_address(chain_offer.currency)
        allowance = _allowance(w3, erc20, buyer, token)
        if allowance < total:
            data = APPROVE + abi_encode(["address", "uint256"], [token, total])
            transactions.append(
                PreparedTransaction(
                    to=erc20,
                    data="0x" + data.hex(),
                    value="0x0",
                    chain_id=chain_id,
                    label=f"Approve {format_amount(total, currency)}",
                    step="approve",
                )
            )
    label, gets = _words(offer, chain_offer, units, tokens)
    renewal = _renewal(chain_offer, buyer, tokens)
    if renewal is not None:
        label = "Renew" + label[len("Buy") :]
    contract = abi.contract_at(Web3(), abi.LICENSE_TOKEN, token)
    data = contract.encode_abi("purchase", args=[token_id, tokens, price])
    transactions.append(
        PreparedTransaction(
            to=to_checksum_address(token),
            data=data,
            value=_hex(total if native else 0),
            chain_id=chain_id,
            label=label,
            step="purchase",
        )
    )
    return PreparedPurchase(
        offer=offer,
        buyer=buyer,
        amount=units,
        tokens=tokens,
        price=price,
        total=total,
        currency=currency,
        transactions=transactions,
        label=label,
        gets=gets,
        renewal=renewal or [],
        allowance=allowance,
    )


# --- following a transaction ---


def _tx_hash(value: Any) -> str:
    text = value.strip().lower() if isinstance(value, str) else ""
    if len(text) != 66 or not text.startswith("0x"):
        raise _fail(PurchaseErrorCode.BAD_TX_HASH, field_name="tx")
    try:
        int(text[2:], 16)
    except ValueError:
        raise _fail(PurchaseErrorCode.BAD_TX_HASH, field_name="tx") from None
    return text


def explorer_link(network: Network, tx_hash: str) -> str:
    base = (network.explorer_url or "").rstrip("/")
    return f"{base}/tx/{tx_hash}" if base else ""


def _revert_reason(w3: Web3, tx: dict, receipt: dict, currency) -> str:
    """Why a mined purchase reverted, in words (``chain.reverts.mined_revert``)."""
    call = {"from": tx["from"], "to": tx["to"], "data": HexBytes(tx["input"]).to_0x_hex()}
    call.update(value=int(tx.get("value", 0)), gas=int(tx["gas"]))
    found = mined_revert(
        w3, tx_hash=receipt["transactionHash"], call=call, block_number=receipt["blockNumber"]
    )
    if found is None:
        return (
            "It ran out of gas, or the chain changed between sending and mining; nothing was "
            "bought."
        )
    return explain(found, currency=currency)


def purchase_status(*, network: Network, tx_hash: Any, currency=None) -> TxProgress:
    """Where the transaction ``tx_hash`` stands on ``network`` (see the module)."""
    tx_hash = _tx_hash(tx_hash)
    link = explorer_link(network, tx_hash)
    indexed = IndexedEvent.objects.filter(chain_id=network.chain_id, tx_hash=tx_hash)
    event = indexed.order_by("block_number").first()
    if event is not None:
        message = "Confirmed: the portal has seen it on chain."
        return TxProgress(tx_hash, TxState.CONFIRMED, message, "", link, event.block_number)
    w3 = _node(network)
    try:
        receipt = w3.eth.get_transaction_receipt(tx_hash)
    except TransactionNotFound:
        receipt = None
    except NODE_ERRORS:
        raise _fail(PurchaseErrorCode.NODE_UNAVAILABLE) from None
    if receipt is None:
        try:
            w3.eth.get_transaction(tx_hash)
        except TransactionNotFound:
            message = (
                "Dropped: the network no longer knows this transaction and it was never mined; "
                "nothing was charged. Try again."
            )
            return TxProgress(tx_hash, TxState.DROPPED, message, "", link)
        except NODE_ERRORS:
            raise _fail(PurchaseErrorCode.NODE_UNAVAILABLE) from None
        return TxProgress(tx_hash, TxState.PENDING, "Pending: waiting to be mined.", "", link)
    number = receipt["blockNumber"]
    if receipt["status"] == 1:
        message = "Mined; waiting for the portal to see it on chain."
        return TxProgress(tx_hash, TxState.MINED, message, "", link, number)
    try:
        tx = w3.eth.get_transaction(tx_hash)
        reason = _revert_reason(w3, tx, receipt, currency)
    except NODE_ERRORS:
        reason = "The node did not say why."
    message = "Reverted: the contract refused the transaction; nothing was bought."
    return TxProgress(tx_hash, TxState.REVERTED, message, reason, link, number)


def explain_revert_data(*, data: Any, currency=None) -> str:
    """A sentence for revert data a wallet reported at estimation (nothing was sent)."""
    text = data.strip() if isinstance(data, str) else ""
    try:
        if not text.startswith("0x") or len(text) % 2:
            raise ValueError(text)
        decoded = abi.decode_revert(bytes(HexBytes(text)))
    except ValueError:
        raise _fail(PurchaseErrorCode.BAD_REVERT_DATA, field_name="data") from None
    return explain(decoded, currency=currency)


def chain_params(network: Network) -> dict[str, Any]:
    """What a page hands ``ensureChain`` (EIP-3085's ``wallet_addEthereumChain`` fields).

    ``rpcUrls`` holds the node's URL only when it is a loopback address (the local anvil):
    provider URLs carry API keys, so a public network's is never shown (the page then asks the
    buyer to add the network in the wallet)."""
    native = Currency.objects.filter(network=network, address="").first()
    symbol, decimals = (native.symbol, native.decimals) if native else ("ETH", 18)
    params: dict[str, Any] = {
        "chainId": _hex(network.chain_id),
        "chainName": network.name,
        "nativeCurrency": {"name": symbol, "symbol": symbol, "decimals": decimals},
        "rpcUrls": [url] if (url := network.rpc_url) and _is_loopback(url) else [],
        "blockExplorerUrls": [network.explorer_url] if network.explorer_url else [],
    }
    return params


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
