"""HTTP 402 payments (x402 protocol version 2, the ``exact`` scheme on EVM) for the predict API:
what a call costs (``PaymentRequirements``), the 402 answer, and the local verification of a
``PAYMENT-SIGNATURE`` (no hosted facilitator).

The ``x402`` package (PyPI) supplies the protocol's types and headers and its ``exact`` EVM
scheme's verification (``ExactEvmScheme.verify``: scheme and network, recipient, exact amount,
time window, EIP-712 signature by an EOA or an EIP-1271 wallet, and a simulation of the token's
``transferWithAuthorization`` on the node, which finds a used nonce or too small a balance). It
reads the chain through ``ReadOnlyVerifier``, a signer that can read and never sends: the
portal settles through its own outbox (``models_hub.x402.services``).

Every refusal is a ``DomainError`` with one of ``PaymentErrorCode``'s stable codes; the API
answers it as 402 with a fresh ``PAYMENT-REQUIRED`` header (its ``error`` says why), as the
protocol asks.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

from eth_abi import encode as abi_encode
from eth_account import Account
from eth_keys.exceptions import BadSignature
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address
from web3 import Web3

from chain import eip712
from models_hub.errors import PaymentErrorCode
from portal.errors import DomainError

logger = logging.getLogger(__name__)

X402_VERSION = 2
SCHEME = "exact"
PAYMENT_REQUIRED_HEADER = "PAYMENT-REQUIRED"
PAYMENT_SIGNATURE_HEADER = "PAYMENT-SIGNATURE"
PAYMENT_RESPONSE_HEADER = "PAYMENT-RESPONSE"


@dataclass(frozen=True)
class Paywall:
    """What one model charges agents on one network: the token, the price and who is paid."""

    chain_id: int
    asset: str  # the EIP-3009 token (checksummed)
    eip712_name: str
    eip712_version: str
    pay_to: str  # the PayPerCall settler contract
    price: int  # atomic units of the token per call, or per row
    per_row: bool
    timeout_seconds: int = 60

    @property
    def network(self) -> str:
        return f"eip155:{self.chain_id}"

    def amount_for(self, rows: int) -> int:
        return self.price * (rows if self.per_row else 1)


def requirements(paywall: Paywall, *, rows: int):
    """The ``exact`` scheme's requirements for a call of ``rows`` rows."""
    from x402.schemas import PaymentRequirements

    return PaymentRequirements(
        scheme=SCHEME,
        network=paywall.network,
        asset=paywall.asset,
        amount=str(paywall.amount_for(rows)),
        pay_to=paywall.pay_to,
        max_timeout_seconds=paywall.timeout_seconds,
        extra={"name": paywall.eip712_name, "version": paywall.eip712_version},
    )


def payment_required(*, url: str, description: str, accepts: list, error: str | None = None):
    """The 402 answer's ``PaymentRequired`` (what the header carries, base64 JSON)."""
    from x402.schemas import PaymentRequired, ResourceInfo

    return PaymentRequired(
        x402_version=X402_VERSION,
        error=error,
        resource=ResourceInfo(url=url, description=description, mime_type="application/json"),
        accepts=accepts,
    )


def encode_required(required) -> str:
    from x402.http.utils import encode_payment_required_header

    return encode_payment_required_header(required)


def decode_payment(header: str):
    """The ``PAYMENT-SIGNATURE`` header's ``PaymentPayload`` (v2 only)."""
    from x402.http.utils import decode_payment_signature_header
    from x402.schemas import PaymentPayload

    try:
        payload = decode_payment_signature_header(header)
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DomainError(
            PaymentErrorCode.PAYMENT_MALFORMED,
            f"The PAYMENT-SIGNATURE header is not a base64 JSON x402 payload ({exc}).",
        ) from None
    except Exception as exc:  # pydantic's ValidationError and the like
        raise DomainError(
            PaymentErrorCode.PAYMENT_MALFORMED,
            f"The PAYMENT-SIGNATURE header is not an x402 payment ({type(exc).__name__}).",
        ) from None
    if not isinstance(payload, PaymentPayload) or payload.x402_version != X402_VERSION:
        raise DomainError(
            PaymentErrorCode.PAYMENT_MALFORMED, "Only x402 protocol version 2 is accepted."
        )
    return payload


def encode_response(*, transaction: str, payer: str, network: str, success: bool = True) -> str:
    from x402.http.utils import encode_payment_response_header
    from x402.schemas import SettleResponse

    return encode_payment_response_header(
        SettleResponse(success=success, transaction=transaction, network=network, payer=payer)
    )


# --- verification: local checks, then one simulation of the settlement itself ----------------
# The ``exact`` scheme's checks, in the order an agent can fix them: where the money goes and how
# much, the window, the signature, then what only the chain knows (the nonce unused, the balance,
# an EIP-1271 wallet's consent), asked of the node in one ``eth_call`` of the very
# ``PayPerCall.settle`` the outbox will send, from the outbox's own sender.
SETTLE_MARGIN_SECONDS = 6  # an authorization must stay valid this long for its settlement
TRANSFER_TYPEHASH = keccak(
    b"TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,"
    b"uint256 validBefore,bytes32 nonce)"
)
SETTLE_SELECTOR = function_signature_to_4byte_selector(
    "settle(bytes32,address,address,uint256,uint256,uint256,bytes32,bytes,bytes32)"
)
SETTLE_TYPES = [
    "bytes32", "address", "address", "uint256", "uint256", "uint256", "bytes32", "bytes", "bytes32",
]  # fmt: skip
# the token's and the settler's reverts, as the portal's codes
_REVERTS = {
    "ERC3009UsedAuthorization": PaymentErrorCode.PAYMENT_NONCE_USED,
    "AlreadySettled": PaymentErrorCode.PAYMENT_NONCE_USED,
    "ERC20InsufficientBalance": PaymentErrorCode.PAYMENT_INSUFFICIENT_BALANCE,
    "ERC3009InvalidSignature": PaymentErrorCode.PAYMENT_INVALID_SIGNATURE,
    "ERC3009InvalidAuthorizationTime": PaymentErrorCode.PAYMENT_EXPIRED,
    "AccessControlUnauthorizedAccount": PaymentErrorCode.PAYMENT_SETTLEMENT_FAILED,
}
UINT256 = 2**256
_has_code: set[tuple[int, str]] = set()  # wallets seen with code (code, once there, stays)


@dataclass(frozen=True)
class Authorization:
    """An EIP-3009 ``transferWithAuthorization`` as a payment carries it, parsed."""

    payer: str  # checksummed
    to: str
    value: int
    valid_after: int
    valid_before: int
    nonce: bytes  # 32 bytes
    signature: bytes

    @classmethod
    def of(cls, payload) -> Authorization:
        fields = payload.payload.get("authorization") or {}
        try:
            nonce = bytes.fromhex(_hex(fields["nonce"]))
            signature = bytes.fromhex(_hex(payload.payload["signature"]))
            if len(nonce) != 32 or not signature:
                raise ValueError("a 32-byte nonce and a signature")
            numbers = [int(fields[name]) for name in ("value", "validAfter", "validBefore")]
            if not all(0 <= number < UINT256 for number in numbers):
                raise ValueError("value, validAfter and validBefore are uint256")
            return cls(
                payer=to_checksum_address(fields["from"]),
                to=to_checksum_address(fields["to"]),
                value=numbers[0],
                valid_after=numbers[1],
                valid_before=numbers[2],
                nonce=nonce,
                signature=signature,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DomainError(
                PaymentErrorCode.PAYMENT_MALFORMED,
                f"The payment's EIP-3009 authorization is malformed ({exc}).",
            ) from None

    def digest(self, paywall: Paywall) -> bytes:
        """The EIP-712 hash the payer signed (the token's domain)."""
        struct = keccak(
            abi_encode(
                ["bytes32", "address", "address", "uint256", "uint256", "uint256", "bytes32"],
                [
                    TRANSFER_TYPEHASH,
                    self.payer,
                    self.to,
                    self.value,
                    self.valid_after,
                    self.valid_before,
                    self.nonce,
                ],
            )
        )
        return eip712.digest(_domain_separator(paywall), struct)


def _hex(value) -> str:
    text = str(value)
    return text[2:] if text[:2] in ("0x", "0X") else text


def _domain_separator(paywall: Paywall) -> bytes:
    return eip712.domain_separator(
        paywall.eip712_name, paywall.eip712_version, paywall.chain_id, paywall.asset
    )


def _signed_by_payer(authorization: Authorization, paywall: Paywall) -> bool:
    """Whether the payer's own key signed it (an EOA); False for anything else, which only a
    contract wallet (EIP-1271) may still make good."""
    if len(authorization.signature) != 65:
        return False
    try:
        signer = Account._recover_hash(
            authorization.digest(paywall), signature=authorization.signature
        )
    except (ValueError, BadSignature):
        return False
    return signer == authorization.payer


def _is_contract(w3: Web3, chain_id: int, address: str) -> bool:
    key = (chain_id, address)
    if key in _has_code:
        return True
    if _rpc(w3, "eth_getCode", [address, "latest"]) not in ("0x", "", None):
        _has_code.add(key)
        return True
    return False


class NodeUnavailable(Exception):
    """The node did not answer (or answered something that is not JSON-RPC)."""


class RevertedCall(Exception):
    """The call reverted; ``data`` is its revert data (``0x`` when the node gave none)."""

    def __init__(self, data: str) -> None:
        super().__init__(data)
        self.data = data


def _node_down(exc: NodeUnavailable) -> DomainError:
    return DomainError(
        PaymentErrorCode.PAYMENT_SETTLEMENT_FAILED,
        f"The portal cannot reach its chain node to check the payment ({exc}); nothing was "
        "charged.",
    )


def _rpc(w3: Web3, method: str, params: list):
    """One JSON-RPC call through the provider's own session, without web3's middleware (the
    paid call's hot path); returns ``result`` or raises ``RevertedCall`` / ``NodeUnavailable``."""
    try:
        answer = w3.provider.make_request(method, params)
    except Exception as exc:  # a connection error, a timeout, a proxy's HTML
        raise NodeUnavailable(str(exc)) from None
    if "error" in answer:
        error = answer["error"] or {}
        data = error.get("data")
        if isinstance(data, dict):
            data = data.get("data")
        if isinstance(data, str) and data.startswith("0x"):
            raise RevertedCall(data)
        if "revert" in str(error.get("message", "")).lower():
            raise RevertedCall("0x")
        raise NodeUnavailable(str(error.get("message") or error))
    return answer.get("result")


def settle_args(*, model_id: str, token: str, authorization: Authorization, receipt_id: str):
    """``PayPerCall.settle``'s arguments for ``authorization``, in the ABI's order."""
    return [
        bytes.fromhex(_hex(model_id)),
        to_checksum_address(token),
        authorization.payer,
        authorization.value,
        authorization.valid_after,
        authorization.valid_before,
        authorization.nonce,
        authorization.signature,
        bytes.fromhex(_hex(receipt_id)),
    ]


def _simulate_settle(w3: Web3, paywall: Paywall, args: list, *, sender: str) -> None:
    """Run the settlement on the node (``eth_call`` from the outbox's sender); its revert, if
    any, becomes the refusal's code."""
    data = "0x" + (SETTLE_SELECTOR + abi_encode(SETTLE_TYPES, args)).hex()
    call = {"from": sender, "to": paywall.pay_to, "data": data}
    try:
        _rpc(w3, "eth_call", [call, "latest"])
    except NodeUnavailable as exc:
        raise _node_down(exc) from None
    except RevertedCall as reverted:
        raise _refusal(reverted.data, args) from None


def _refusal(data: str, args: list) -> DomainError:
    from chain.abi import decode_revert

    try:
        decoded = decode_revert(data)
    except ValueError:
        decoded = None
    name = decoded.name if decoded is not None else ""
    error = _REVERTS.get(name, PaymentErrorCode.PAYMENT_INVALID)
    if name == "ERC3009InvalidAuthorizationTime" and args[4] > int(time.time()):
        error = PaymentErrorCode.PAYMENT_NOT_YET_VALID  # the chain's clock is behind validAfter
    if name == "AccessControlUnauthorizedAccount":
        return DomainError(
            error,
            "The portal's operator may not settle payments on this network (it lacks the "
            "settler role); nothing was charged.",
        )
    if error is PaymentErrorCode.PAYMENT_INVALID:
        return DomainError(error, f"{error.message} (the settlement would revert: {decoded})")
    return DomainError(error)


def verify(*, payload, paywall: Paywall, rows: int, model_id: str, sender: str, w3: Web3):
    """Check ``payload`` (already matched to ``paywall``'s network and asset) for a call of
    ``rows`` rows; returns its ``Authorization``. Raises a ``DomainError`` with the code of the
    first thing wrong."""
    if payload.accepted.scheme != SCHEME:
        raise DomainError(PaymentErrorCode.PAYMENT_WRONG_SCHEME)
    authorization = Authorization.of(payload)
    if authorization.to != paywall.pay_to:
        raise DomainError(PaymentErrorCode.PAYMENT_WRONG_RECIPIENT)
    if authorization.value != paywall.amount_for(rows):
        raise DomainError(PaymentErrorCode.PAYMENT_AMOUNT)
    now = int(time.time())
    if authorization.valid_before < now + SETTLE_MARGIN_SECONDS:
        raise DomainError(PaymentErrorCode.PAYMENT_EXPIRED)
    if authorization.valid_after > now:
        raise DomainError(PaymentErrorCode.PAYMENT_NOT_YET_VALID)
    if not _signed_by_payer(authorization, paywall):
        try:
            contract = _is_contract(w3, paywall.chain_id, authorization.payer)
        except NodeUnavailable as exc:  # not the payer's fault: say the portal cannot check
            raise _node_down(exc) from None
        except RevertedCall:
            contract = False
        if not contract:  # the token would ask the wallet (EIP-1271); an EOA has no say
            raise DomainError(PaymentErrorCode.PAYMENT_INVALID_SIGNATURE)
    probe = "0x" + "00" * 31 + "01"  # any receipt id: the settlement does not read it
    args = settle_args(
        model_id=model_id, token=paywall.asset, authorization=authorization, receipt_id=probe
    )
    _simulate_settle(w3, paywall, args, sender=sender)
    return authorization
