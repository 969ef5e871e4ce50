"""The predict API's last security scheme: an agent's x402 payment (or none yet).

Tried after the API key and the session: a request that sent neither reaches the endpoint as an
``AgentCall``, with its ``PAYMENT-SIGNATURE`` header if it sent one. The endpoint answers 402
with the requirements when the model has an active pay-per-call offer, and 401 otherwise (as
before: a model that is not sold per call needs a key)."""

from __future__ import annotations

from dataclasses import dataclass

from ninja.security import APIKeyHeader

from models_hub.x402.protocol import PAYMENT_SIGNATURE_HEADER


@dataclass(frozen=True)
class AgentCall:
    """A caller with no key and no session: an agent that pays per call, or will."""

    payment: str | None  # the PAYMENT-SIGNATURE header, when sent


class AgentPayment(APIKeyHeader):
    """x402: `PAYMENT-SIGNATURE` (base64 JSON of an EIP-3009 authorization, x402 v2 `exact`)."""

    param_name = PAYMENT_SIGNATURE_HEADER
    openapi_description = (
        "Pay per call (x402 v2): call without credentials to get 402 and its PAYMENT-REQUIRED "
        "header, then send the signed EIP-3009 authorization as PAYMENT-SIGNATURE."
    )

    def __call__(self, request):
        return AgentCall(payment=request.headers.get(PAYMENT_SIGNATURE_HEADER) or None)

    def authenticate(self, request, key):  # pragma: no cover - __call__ answers
        return AgentCall(payment=key)
