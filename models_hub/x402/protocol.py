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
from dataclasses import dataclass

from web3 import Web3

from models_hub.errors import PaymentErrorCode
from portal.errors import DomainError

logger = logging.getLogger(__name__)

X402_VERSION = 2
SCHEME = "exact"
PAYMENT_REQUIRED_HEADER = "PAYMENT-REQUIRED"
PAYMENT_SIGNATURE_HEADER = "PAYMENT-SIGNATURE"
PAYMENT_RESPONSE_HEADER = "PAYMENT-RESPONSE"

# the x402 package's reasons, mapped to the portal's codes (the rest: invalid signature)
_REASONS = {
    "invalid_exact_evm_payload_authorization_valid_before": PaymentErrorCode.PAYMENT_EXPIRED,
    "invalid_exact_evm_payload_authorization_valid_after": PaymentErrorCode.PAYMENT_NOT_YET_VALID,
    "invalid_exact_evm_payload_authorization_value_mismatch": PaymentErrorCode.PAYMENT_AMOUNT,
    "invalid_exact_evm_payload_recipient_mismatch": PaymentErrorCode.PAYMENT_WRONG_RECIPIENT,
    "network_mismatch": PaymentErrorCode.PAYMENT_WRONG_NETWORK,
    "unsupported_scheme": PaymentErrorCode.PAYMENT_WRONG_SCHEME,
    "invalid_exact_evm_nonce_already_used": PaymentErrorCode.PAYMENT_NONCE_USED,
    "invalid_exact_evm_insufficient_balance": PaymentErrorCode.PAYMENT_INSUFFICIENT_BALANCE,
    "asset_not_deployed_contract": PaymentErrorCode.PAYMENT_WRONG_ASSET,
    "invalid_exact_evm_payload_signature": PaymentErrorCode.PAYMENT_INVALID_SIGNATURE,
    "invalid_exact_evm_failed_to_verify_signature": PaymentErrorCode.PAYMENT_INVALID_SIGNATURE,
}


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


class ReadOnlyVerifier:
    """The x402 package's facilitator signer, reading through the portal's node and never
    sending (the portal's outbox settles)."""

    def __init__(self, w3: Web3, *, caller: str) -> None:
        from x402.mechanisms.evm.signers import FacilitatorWeb3Signer

        signer = FacilitatorWeb3Signer.__new__(FacilitatorWeb3Signer)
        signer._w3 = w3
        signer._chain_id = None
        signer._account = type("Caller", (), {"address": Web3.to_checksum_address(caller)})()
        self._signer = signer

    def __getattr__(self, name):
        if name in ("write_contract", "send_transaction", "wait_for_transaction_receipt"):
            raise AttributeError(f"{name}: the portal settles through its outbox")
        return getattr(self._signer, name)


SIMULATION_FAILED = "invalid_exact_evm_transaction_simulation_failed"
AUTHORIZATION_STATE_ABI = [
    {
        "name": "authorizationState",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "authorizer", "type": "address"}, {"name": "nonce", "type": "bytes32"}],
        "outputs": [{"name": "", "type": "bool"}],
    }
]


BYTES_TRANSFER = "transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,bytes)"
BYTES_TRANSFER_ABI = [
    {
        "name": "transferWithAuthorization",
        "type": "function",
        "stateMutability": "nonpayable",
        "inputs": [
            {"name": "from", "type": "address"},
            {"name": "to", "type": "address"},
            {"name": "value", "type": "uint256"},
            {"name": "validAfter", "type": "uint256"},
            {"name": "validBefore", "type": "uint256"},
            {"name": "nonce", "type": "bytes32"},
            {"name": "signature", "type": "bytes"},
        ],
        "outputs": [],
    }
]


def _wallet_transfer_passes(w3: Web3, payload, ours) -> bool:
    """A contract wallet (EIP-1271) pays through the token's bytes-signature overload, which the
    settlement uses; the x402 package simulates the (v, r, s) one, which only EOAs pass. So for
    a payer with code, simulate the overload the settler will call."""
    authorization = payload.payload.get("authorization") or {}
    try:
        payer = Web3.to_checksum_address(authorization["from"])
        if not w3.eth.get_code(payer):
            return False
        token = w3.eth.contract(
            address=Web3.to_checksum_address(ours.asset), abi=BYTES_TRANSFER_ABI
        )
        token.get_function_by_signature(BYTES_TRANSFER)(
            payer,
            Web3.to_checksum_address(authorization["to"]),
            int(authorization["value"]),
            int(authorization["validAfter"]),
            int(authorization["validBefore"]),
            bytes.fromhex(str(authorization["nonce"])[2:]),
            bytes.fromhex(str(payload.payload.get("signature", ""))[2:]),
        ).call({"from": Web3.to_checksum_address(ours.pay_to)})
    except Exception:  # a revert, or a malformed field: the package's reason stands
        return False
    return True


def _why_refused(verifier, payload, ours):
    """The token's own reason when its simulated transfer failed (the x402 package maps only
    string reverts): a used nonce, or too small a balance."""
    authorization = payload.payload.get("authorization") or {}
    payer = authorization.get("from", "")
    try:
        used = verifier.read_contract(
            ours.asset,
            AUTHORIZATION_STATE_ABI,
            "authorizationState",
            payer,
            bytes.fromhex(str(authorization.get("nonce", ""))[2:]),
        )
        if used:
            return PaymentErrorCode.PAYMENT_NONCE_USED
        if verifier.get_balance(payer, ours.asset) < int(ours.amount):
            return PaymentErrorCode.PAYMENT_INSUFFICIENT_BALANCE
    except Exception:  # a node error: the generic reason stands
        logger.warning("could not read why the token refused a payment", exc_info=True)
    return None


def verify(*, payload, required_for, w3: Web3, caller: str) -> str:
    """Check ``payload`` against the requirements it claims (which must be one of ours:
    ``required_for(accepted)`` returns ours or raises); returns the payer (checksummed)."""
    from x402.mechanisms.evm.exact.facilitator import ExactEvmScheme

    accepted = payload.accepted
    ours = required_for(accepted)
    verifier = ReadOnlyVerifier(w3, caller=caller)
    result = ExactEvmScheme(verifier).verify(payload, ours)
    if not result.is_valid:
        error = _REASONS.get(result.invalid_reason or "", PaymentErrorCode.PAYMENT_INVALID)
        if result.invalid_reason == SIMULATION_FAILED and _wallet_transfer_passes(
            w3, payload, ours
        ):
            return Web3.to_checksum_address(result.payer)
        if result.invalid_reason == SIMULATION_FAILED:  # the token refused: say why
            error = _why_refused(verifier, payload, ours) or error
        message = error.message
        if result.invalid_message and error is PaymentErrorCode.PAYMENT_INVALID:
            message = f"{error.message} ({result.invalid_reason}: {result.invalid_message})"
        raise DomainError(error, message)
    return Web3.to_checksum_address(result.payer)
