"""Sign-In with Ethereum's codes: each rejection of a nonce request or a signed message."""

from __future__ import annotations

from portal.errors import ErrorCode


class SiweErrorCode(ErrorCode):
    MALFORMED_MESSAGE = ("siwe_malformed_message", 400, "The message is not an EIP-4361 message.")
    ADDRESS_NOT_EIP55 = (
        "siwe_address_not_eip55",
        400,
        "The address must be written with its EIP-55 checksum (mixed case).",
    )
    UNSUPPORTED_CHAIN = ("siwe_unsupported_chain", 400, "The portal has no network of that chain.")
    NONCE_UNKNOWN = ("siwe_nonce_unknown", 401, "The portal did not issue this nonce.")
    NONCE_OTHER_SESSION = (
        "siwe_nonce_other_session",
        401,
        "This nonce was issued to another session: ask for a new one.",
    )
    NONCE_REPLAYED = ("siwe_nonce_replayed", 401, "This nonce was already used: ask for a new one.")
    NONCE_EXPIRED = ("siwe_nonce_expired", 401, "This nonce has expired: ask for a new one.")
    SCHEME_MISMATCH = ("siwe_scheme_mismatch", 401, "The message was made for another scheme.")
    DOMAIN_MISMATCH = ("siwe_domain_mismatch", 401, "The message was made for another site.")
    URI_MISMATCH = ("siwe_uri_mismatch", 401, "The message names another URI.")
    CHAIN_MISMATCH = (
        "siwe_chain_mismatch",
        401,
        "The message names another chain than the nonce was issued for.",
    )
    ISSUED_AT_INVALID = (
        "siwe_issued_at_invalid",
        401,
        "The message's issued-at time is not between the nonce's issue and now.",
    )
    EXPIRED = ("siwe_expired", 401, "The message has expired.")
    NOT_YET_VALID = ("siwe_not_yet_valid", 401, "The message is not valid yet.")
    BAD_SIGNATURE = (
        "siwe_bad_signature",
        401,
        "The signature is not the address's signature of this message.",
    )
    NODE_UNAVAILABLE = (
        "siwe_node_unavailable",
        503,
        "The chain's node could not be asked to check a contract wallet's signature.",
    )
    WALLET_TAKEN = (
        "siwe_wallet_taken",
        409,
        "This wallet already signs in to another account.",
    )
    CONNECT_NEEDS_SIGN_IN = (
        "siwe_connect_needs_sign_in",
        401,
        "Sign in first to link another wallet to your account.",
    )
    STAFF_WALLET = (
        "siwe_staff_wallet",
        403,
        "Staff accounts sign in with their password (and second factor), not a wallet.",
    )
    SIGNUP_CLOSED = ("siwe_signup_closed", 403, "New accounts cannot be created right now.")
    RATE_LIMITED = ("siwe_rate_limited", 429, "Too many sign-in attempts: wait a minute.")
    CSRF_FAILED = ("siwe_csrf_failed", 403, "The request lacks the page's CSRF token.")
