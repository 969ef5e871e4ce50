"""Why a transaction failed, in a sentence a person can read.

``explain(decoded)`` takes a ``chain.abi.DecodedRevert`` (a custom error by name with its
arguments) and returns a sentence for every error our contracts' ABIs define, OpenZeppelin's
included, plus ``Error(string)``, ``Panic`` and reverts without data. The outbox stores a
revert as ``str(DecodedRevert)`` (``PriceAboveMax(id=1, price=2, maxPrice=1)``);
``explain_reason(text)`` parses that back with the ABIs' argument types and explains it.

Amounts are in the currency's smallest unit on chain: pass ``currency`` (anything with
``symbol`` and ``decimals``, e.g. ``licensing.Currency``) to show them in whole units.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Protocol

from chain import abi
from chain.abi import DecodedRevert

GENERIC = "The contract refused the transaction ({name})."
# Errors the ABIs define that get the generic sentence on purpose (name -> why). None today:
# every error has a sentence of its own (the test iterates the artifacts to keep it so).
GENERIC_ON_PURPOSE: dict[str, str] = {}

ROLE_NAMES = {
    bytes(abi.DEFAULT_ADMIN_ROLE): "the contract's admin role",
    bytes(abi.REGISTRAR_ROLE): "the registrar role",
    bytes(abi.PUBLISHER_ROLE): "the publisher role",
    bytes(abi.METER_ROLE): "the meter role",
    bytes(abi.DEPOSITOR_ROLE): "the depositor role",
    bytes(abi.SPLIT_MANAGER_ROLE): "the split manager role",
    bytes(abi.GOVERNOR_ROLE): "the governor role",
    bytes(abi.BOUNDS_ROLE): "the bounds role",
    bytes(abi.TALLIER_ROLE): "the tallier role",
}
KIND_NAMES = {0: "licenses", 1: "access passes", 2: "usage credits", 3: "ownership shares"}


class CurrencyLike(Protocol):
    symbol: str
    decimals: int


def format_amount(amount: int | Decimal, currency: CurrencyLike | None = None) -> str:
    """``amount`` (smallest units) in whole units of ``currency``, else as a raw count."""
    if currency is None:
        return f"{int(amount)} (in the currency's smallest unit)"
    value = Decimal(int(amount)).scaleb(-int(currency.decimals))
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} {currency.symbol}"


def format_time(timestamp: int) -> str:
    """A unix time as a UTC date and time (0: never)."""
    if not timestamp:
        return "never"
    return datetime.fromtimestamp(int(timestamp), tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class _Say:
    """What an explanation may use: the error's arguments and how to show amounts."""

    args: dict[str, Any]
    currency: CurrencyLike | None

    def __getitem__(self, key: str) -> Any:
        return self.args[key]

    def arg(self, position: int) -> Any:
        return list(self.args.values())[position]

    def money(self, key: str) -> str:
        return format_amount(self.args[key], self.currency)

    def time(self, key: str) -> str:
        return format_time(self.args[key])

    def hex(self, key: str) -> str:
        """A bytes argument (an id, a hash) as 0x-hex."""
        value = self.args[key]
        return "0x" + bytes(value).hex() if isinstance(value, bytes | bytearray) else str(value)

    def role(self, key: str) -> str:
        value = self.args[key]
        return ROLE_NAMES.get(bytes(value), "a role it does not hold")


Explainer = Callable[[_Say], str]

EXPLANATIONS: dict[str, Explainer] = {
    # --- buying (LicenseToken.purchase) ---
    "PriceAboveMax": lambda s: (
        f"The price went up from {s.money('maxPrice')} to {s.money('price')} since the quote; "
        "nothing was charged. Reload to see the new price, then buy again if it suits you."
    ),
    "OfferInactive": lambda s: f"Offer {s['id']} is no longer on sale.",
    "MaxSupplyExceeded": lambda s: (
        f"Offer {s['id']} is sold out: {s['supply']} of {s['maxSupply']} are taken, so "
        f"{s['amount']} more cannot be issued."
    ),
    "WrongPayment": lambda s: (
        f"The payment sent ({s.money('sent')}) is not the price asked ({s.money('expected')}); "
        "nothing was charged. Reload and send exactly the amount shown."
    ),
    "EnforcedPause": lambda s: (
        "Sales and transfers are paused by the publisher for now; nothing was charged. Try "
        "again later."
    ),
    "ExpectedPause": lambda s: "Sales are not paused, so there is nothing to resume.",
    "SharesNotPurchasable": lambda s: (
        f"Offer {s['id']} is ownership shares: they are minted to the cap table, never sold."
    ),
    "UnknownOffer": lambda s: f"There is no offer {s['id']} on this network's contract.",
    "ZeroAmount": lambda s: "The amount must be at least one.",
    "ZeroAddress": lambda s: "An address was missing (the zero address cannot be used).",
    # --- ERC-20 payments (OpenZeppelin's ERC20, SafeERC20) ---
    "ERC20InsufficientAllowance": lambda s: (
        f"Approve the token first: the license contract may spend {s.money('allowance')} of "
        f"your tokens, and this purchase needs {s.money('needed')}."
    ),
    "ERC20InsufficientBalance": lambda s: (
        f"The wallet {s['sender']} holds {s.money('balance')}, not enough for the "
        f"{s.money('needed')} this needs."
    ),
    "ERC20InvalidApprover": lambda s: "The token approval came from the zero address.",
    "ERC20InvalidReceiver": lambda s: f"The token cannot be sent to {s['receiver']}.",
    "ERC20InvalidSender": lambda s: f"The token cannot be sent from {s['sender']}.",
    "ERC20InvalidSpender": lambda s: f"{s['spender']} cannot be approved to spend the token.",
    "SafeERC20FailedOperation": lambda s: (
        f"The payment token at {s['token']} refused the transfer (it returned false)."
    ),
    # --- holding, transfers, validity ---
    "NonTransferable": lambda s: (
        f"Offer {s['id']} is not transferable: it stays with the wallet that bought it."
    ),
    "LicenseNotValid": lambda s: (
        f"The license of {s['holder']} to offer {s['id']} was revoked, so it cannot be passed on."
    ),
    "ERC1155InsufficientBalance": lambda s: (
        f"{s['sender']} holds {s['balance']} of token {s['tokenId']}, fewer than the "
        f"{s['needed']} needed."
    ),
    "ERC1155InvalidApprover": lambda s: "The approval came from the zero address.",
    "ERC1155InvalidArrayLength": lambda s: (
        f"The transfer lists {s['idsLength']} token ids but {s['valuesLength']} amounts."
    ),
    "ERC1155InvalidOperator": lambda s: f"{s['operator']} cannot be made an operator.",
    "ERC1155InvalidReceiver": lambda s: (
        f"{s['receiver']} cannot receive these tokens (a contract that does not accept ERC-1155 "
        "tokens, or the zero address)."
    ),
    "ERC1155InvalidSender": lambda s: f"Tokens cannot be sent from {s['sender']}.",
    "ERC1155MissingApprovalForAll": lambda s: (
        f"{s['operator']} is not approved to move the tokens of {s['owner']}."
    ),
    # --- the publisher's operations (grant, extend, revoke) ---
    "InvalidExpiry": lambda s: (
        f"The expiry {s.time('expiry')} does not fit offer {s['id']}: a timed offer needs a date "
        "in the future, and a perpetual offer or a credits pack takes none."
    ),
    "ExpiryNotLater": lambda s: (
        f"The holder's right to offer {s['id']} already runs until {s.time('current')}; an "
        f"extension must end later than that (asked: {s.time('expiry')})."
    ),
    "NotExtendable": lambda s: (
        f"Offer {s['id']} is not timed (a perpetual license, credits or shares): there is no "
        "expiry to extend."
    ),
    "NothingToExtend": lambda s: (
        f"{s['holder']} holds nothing of offer {s['id']}: grant a license instead of extending."
    ),
    "NotGrantable": lambda s: (
        f"Offer {s['id']} is ownership shares: they are minted to the cap table, not granted."
    ),
    "NotRevocable": lambda s: (
        f"Offer {s['id']} is not a license or an access pass: only those can be revoked."
    ),
    "NothingToRevoke": lambda s: f"{s['holder']} holds nothing of offer {s['id']} to revoke.",
    "NotCredits": lambda s: f"Offer {s['id']} is not a credits pack: only credits are burned.",
    # --- offers (configureOffer) ---
    "InvalidOfferId": lambda s: "Offer id 0 cannot be used.",
    "ZeroModelId": lambda s: "The model id is missing.",
    "OfferFieldImmutable": lambda s: (
        f"Offer {s['id']} is published: its {s['field']} is fixed on chain. Create a new offer "
        "instead."
    ),
    "DurationNotAllowed": lambda s: (
        f"Offer {s['id']} sells {KIND_NAMES.get(int(s['kind']), 'this kind')}, which do not "
        "expire: its duration must be 0."
    ),
    "SharesHaveNoPrice": lambda s: f"Offer {s['id']} is ownership shares: they have no price.",
    "ModelAlreadyHasShares": lambda s: (
        f"The model already has its ownership shares (offer {s['shareTokenId']}); a model has "
        "one share class."
    ),
    "MaxSupplyBelowSupply": lambda s: (
        f"Offer {s['id']} has {s['supply']} units issued already: its maximum supply cannot be "
        f"{s['maxSupply']}."
    ),
    # --- shares (mintShares) ---
    "NotShares": lambda s: f"Offer {s['id']} is not ownership shares.",
    "SharesAlreadyMinted": lambda s: (
        f"The shares of offer {s['id']} were minted already: the cap table is fixed."
    ),
    "LengthMismatch": lambda s: (
        f"The lists do not match: {s.arg(0)} accounts but {s.arg(1)} amounts."
    ),
    "EmptyCapTable": lambda s: f"The cap table of offer {s['id']} is empty: add its holders.",
    # --- the vault ---
    "FeeTooHigh": lambda s: (
        f"A platform fee of {s['feeBps']} basis points is above the allowed {s['maxFeeBps']}."
    ),
    "ShareTokenAlreadySet": lambda s: (
        f"The vault is tied to its share token ({s['shareToken']}) already."
    ),
    "UnauthorizedShareSource": lambda s: (
        f"{s['caller']} is not the share token, so it cannot report share moves to the vault."
    ),
    "TooManyPayees": lambda s: (
        f"{s['count']} payees is more than the vault pays per model ({s['max']})."
    ),
    "ZeroBps": lambda s: f"The payee {s['account']} would get 0 basis points.",
    "PayeeBpsTooHigh": lambda s: (
        f"The payees would share {s['totalBps']} basis points; at most {s['allowedBps']} are "
        "left after the platform fee."
    ),
    "PaymentNotReceived": lambda s: (
        f"The vault did not receive the {s.money('amount')} it was told about."
    ),
    "TooManyCurrencies": lambda s: (
        f"The model's share holders are paid in {s['max']} currencies already, the most the "
        "vault keeps per model."
    ),
    "NothingToWithdraw": lambda s: f"{s['account']} has nothing to withdraw in this currency.",
    "NativeTransferFailed": lambda s: (
        f"{s['account']} refused the {s.money('amount')} sent to it (a contract that does not "
        "accept payments)."
    ),
    # --- the registry ---
    "ZeroArtifactHash": lambda s: "The version's artifact hash is missing.",
    "ModelAlreadyRegistered": lambda s: "The model is registered on this network already.",
    "ModelNotRegistered": lambda s: "The model is not registered on this network yet.",
    "VersionAlreadyPublished": lambda s: (
        f"Version {s['version']} of the model is published already with another artifact hash: "
        "a published version never changes."
    ),
    # --- pay per call (PayPerCall, EIP-3009 tokens) ---
    "AlreadySettled": lambda s: (
        f"The payment of {s['payer']} with nonce {s['nonce']} was settled already: it is paid once."
    ),
    "AuthorizationNotUsed": lambda s: (
        f"The authorization of {s['payer']} with nonce {s['nonce']} was never used on the "
        "token: there is nothing to recover."
    ),
    "UnaccountedBalanceTooLow": lambda s: (
        f"The settler holds {s['balance']} of the token unaccounted for, less than the "
        f"{s['value']} to recover."
    ),
    "ERC3009InvalidAuthorizationTime": lambda s: (
        f"The authorization is valid only after {s.time('validAfter')} and before "
        f"{s.time('validBefore')}: it has expired or is not valid yet."
    ),
    "ERC3009InvalidSignature": lambda s: "The authorization is not signed by its payer.",
    "ERC3009UsedAuthorization": lambda s: (
        f"The authorization of {s['authorizer']} with nonce {s['nonce']} has been used or "
        "cancelled: sign a new one."
    ),
    "ECDSAInvalidSignature": lambda s: "The signature does not recover to any account.",
    "ECDSAInvalidSignatureLength": lambda s: (
        f"The signature is {s['length']} bytes long; an ECDSA signature is 65."
    ),
    "ECDSAInvalidSignatureS": lambda s: "The signature is malleable (its s value is too high).",
    "InvalidShortString": lambda s: "A short string stored by the contract is malformed.",
    "StringTooLong": lambda s: f"The string {s['str']!r} is too long for the contract to store.",
    # --- governance (ModelGovernor) ---
    "ZeroProposalId": lambda s: "The proposal id is missing.",
    "InvalidBounds": lambda s: (
        f"The bounds are not a range: the minimum {s['minimum']} is above the maximum "
        f"{s['maximum']}, or the maximum is above 10000 basis points."
    ),
    "TallyAlreadyRecorded": lambda s: (
        f"The tally of proposal {s.hex('proposalId')} is recorded already: a tally is final."
    ),
    "ProposalNotPassed": lambda s: (
        f"Proposal {s.hex('proposalId')} has no passed tally on chain: only a passed proposal is "
        "executed."
    ),
    "AlreadyExecuted": lambda s: (
        f"Proposal {s.hex('proposalId')} was executed already: a proposal is executed once."
    ),
    "WrongModel": lambda s: (
        f"The offer belongs to another model ({s.hex('modelId')}) than proposal "
        f"{s.hex('proposalId')} was voted on."
    ),
    "NoPriceBounds": lambda s: (
        f"The publisher has set no price bounds for offer {s['offerId']}: its price cannot be "
        "changed by a vote yet."
    ),
    "PriceOutOfBounds": lambda s: (
        f"A price of {s.money('price')} for offer {s['offerId']} is outside the publisher's "
        f"bounds, {s.money('minPrice')} to {s.money('maxPrice')}."
    ),
    "NoSplitBounds": lambda s: (
        "The publisher has set no bounds for the model's payees: they cannot be changed by a "
        "vote yet."
    ),
    "SplitOutOfBounds": lambda s: (
        f"The payees would share {s['totalBps']} basis points, outside the publisher's bounds "
        f"of {s['minPayeesBps']} to {s['maxPayeesBps']}."
    ),
    # --- access control, guards and arithmetic (OpenZeppelin) ---
    "AccessControlUnauthorizedAccount": lambda s: (
        f"The sending account {s['account']} lacks {s.role('neededRole')} on this contract: "
        "ask the contract's admin to grant it."
    ),
    "AccessControlBadConfirmation": lambda s: "An account can only renounce its own roles.",
    "ReentrancyGuardReentrantCall": lambda s: (
        "The contract refused a call back into itself during a payment (a reentrancy guard)."
    ),
    "SafeCastOverflowedUintDowncast": lambda s: (
        f"The value {s['value']} is too large for the contract to store ({s['bits']} bits)."
    ),
    "SafeCastOverflowedIntToUint": lambda s: (
        f"The value {s['value']} is negative where the contract needs a positive one."
    ),
    "SafeCastOverflowedUintToInt": lambda s: (
        f"The value {s['value']} is too large for the contract's arithmetic."
    ),
    # --- not custom errors ---
    "Error": lambda s: f"The contract refused the transaction: {s['message']}",
    "Panic": lambda s: f"The contract stopped with an internal error ({s['meaning']}).",
}


def explain(decoded: DecodedRevert, *, currency: CurrencyLike | None = None) -> str:
    """A sentence a person can read for a decoded revert."""
    if not decoded.known:
        return (
            "The contract refused the transaction with an error this portal does not know "
            f"({decoded.selector})."
        )
    if not decoded.name:
        return "The contract refused the transaction without saying why."
    explainer = EXPLANATIONS.get(decoded.name)
    if explainer is None:
        return GENERIC.format(name=decoded.signature)
    try:
        return explainer(_Say(decoded.args, currency))
    except (KeyError, IndexError, TypeError, ValueError):  # arguments not as the ABI said
        return GENERIC.format(name=decoded.signature)


# --- the outbox's stored text ---

_CALL = re.compile(r"^(?P<name>[A-Za-z_]\w*)\((?P<inner>.*)\)$", re.DOTALL)
_UNKNOWN = re.compile(r"^unknown error (?P<selector>0x[0-9a-fA-F]{8})$")
_SPECIAL_INPUTS = {
    "Error": [{"name": "message", "type": "string"}],
    "Panic": [{"name": "code", "type": "uint256"}, {"name": "meaning", "type": "string"}],
}


@lru_cache(maxsize=1)
def error_inputs() -> dict[str, list[list[dict]]]:
    """Error name -> the input lists of every ABI error of that name (across artifacts)."""
    found: dict[str, list[list[dict]]] = {}
    for artifact_name in abi.artifact_names():
        for item in abi.load_artifact(artifact_name).abi:
            if item.get("type") == "error":
                variants = found.setdefault(item["name"], [])
                if item["inputs"] not in variants:
                    variants.append(item["inputs"])
    return found


def _value(abi_type: str, text: str) -> Any:
    if abi_type.startswith(("uint", "int")) and "[" not in abi_type:
        return int(text)
    if abi_type == "bool":
        return text == "True"
    if abi_type.startswith("bytes") and "[" not in abi_type:
        return bytes.fromhex(text.removeprefix("0x"))
    return text


def _split_args(inner: str, inputs: list[dict]) -> dict[str, Any] | None:
    """``k1=v1, k2=v2`` with the expected names in order (a value may contain ", ")."""
    names = [item["name"] or f"arg{i}" for i, item in enumerate(inputs)]
    args: dict[str, Any] = {}
    rest = inner
    for i, (name, item) in enumerate(zip(names, inputs, strict=True)):
        if not rest.startswith(f"{name}="):
            return None
        rest = rest[len(name) + 1 :]
        if i + 1 < len(names):
            cut = rest.find(f", {names[i + 1]}=")
            if cut < 0:
                return None
            text, rest = rest[:cut], rest[cut + 2 :]
        else:
            text, rest = rest, ""
        try:
            args[name] = _value(item["type"], text)
        except ValueError:
            return None
    return args if not rest else None


def parse_reason(text: str) -> DecodedRevert | None:
    """The ``DecodedRevert`` an outbox row's ``revert_reason`` was written from, if it is one."""
    text = (text or "").strip()
    if text == "reverted without a reason":
        return DecodedRevert(name="", args={}, selector="", data="0x")
    unknown = _UNKNOWN.match(text)
    if unknown:
        selector = unknown["selector"]
        return DecodedRevert(name="", args={}, selector=selector, data=selector, known=False)
    call = _CALL.match(text)
    if call is None:
        return None
    name, inner = call["name"], call["inner"]
    special = _SPECIAL_INPUTS.get(name)
    variants = [special] if special else error_inputs().get(name, [])
    for inputs in variants:
        args = {} if not inputs and not inner else _split_args(inner, inputs)
        if args is not None:
            return DecodedRevert(name=name, args=args, selector="", data="")
    return None


def explain_reason(text: str, *, currency: CurrencyLike | None = None) -> str:
    """A sentence for an outbox row's stored ``revert_reason`` (or its error text)."""
    text = (text or "").strip()
    if not text:
        return ""
    decoded = parse_reason(text)
    if decoded is not None:
        return explain(decoded, currency=currency)
    if text.startswith("reverted on chain"):
        return (
            "The transaction was mined but failed: it ran out of gas, or the chain changed "
            "between sending and mining. Retry it."
        )
    return text
