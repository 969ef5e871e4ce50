"""The browser's Sign-In with Ethereum endpoints (``/api/auth/siwe/...``): a nonce for this
session, then the signed message. They use the session cookie and the CSRF token of the page
(API clients without a browser use allauth's headless API: see ``portal.siwe.provider``).
Both are rate-limited per client address and per wallet."""

from __future__ import annotations

from typing import Literal

from ninja import Field, Router, Schema
from ninja.utils import check_csrf

from portal.api_errors import errors
from portal.errors import DomainError
from portal.siwe import flows, services
from portal.siwe.errors import SiweErrorCode

router = Router(tags=["wallet sign-in"])

SIWE_ERRORS = errors(400, 401, 403, 409, 422, 429, 503)


class NonceIn(Schema):
    chain_id: int = Field(..., ge=1, le=2**63 - 1, description="The chain the wallet is on.")
    address: str | None = Field(
        None, max_length=42, description="The wallet (EIP-55); with it, the message to sign."
    )


class ChallengeOut(Schema):
    nonce: str
    domain: str
    uri: str
    scheme: str
    chain_id: int
    statement: str
    issued_at: str
    expiration_time: str
    message: str | None = Field(None, description="The EIP-4361 message, when address was sent.")


class VerifyIn(Schema):
    message: str = Field(..., max_length=services.MAX_MESSAGE)
    signature: str = Field(..., max_length=4096, description="0x-prefixed hex.")
    process: Literal["login", "connect"] = "login"
    next: str | None = Field(None, max_length=2000, description="Where to go after signing in.")


class SignedInOut(Schema):
    address: str
    username: str
    created: bool = Field(..., description="Whether this sign-in created the account.")
    connected: bool = Field(..., description="Whether the wallet was linked to the account.")
    redirect: str


def _guard(request) -> None:
    if check_csrf(request) is not None:
        raise DomainError(SiweErrorCode.CSRF_FAILED)


@router.post("/nonce", response={200: ChallengeOut, **SIWE_ERRORS}, url_name="siwe_nonce")
def nonce(request, body: NonceIn):
    """A nonce for this session and the fields of the message to sign (the whole message when
    the address is sent). Single-use; it expires after ``SIWE_NONCE_TTL`` seconds."""
    _guard(request)
    flows.rate_limit(request, "nonce", body.address)
    return flows.challenge_for(request, chain_id=body.chain_id, address=body.address).as_dict()


@router.post("/verify", response={200: SignedInOut, **SIWE_ERRORS}, url_name="siwe_verify")
def verify(request, body: VerifyIn):
    """Sign in (or, with ``process=connect``, link the wallet to the signed-in account) with a
    signed EIP-4361 message. The session is rotated; a first sign-in creates the account."""
    _guard(request)
    flows.rate_limit(request, "verify", flows.claimed_address(body.message))
    outcome = flows.wallet_sign_in(
        request,
        message=body.message,
        signature=body.signature,
        process=body.process,
        next_url=body.next,
    )
    return outcome.as_dict()
