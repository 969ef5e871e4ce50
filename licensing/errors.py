"""Licensing's error codes (see ``portal.errors`` for the vocabulary)."""

from __future__ import annotations

from portal.errors import ErrorCode


class PurchaseErrorCode(ErrorCode):
    """Preparing a purchase and following its transaction (``licensing.services.purchase``)."""

    OFFER_NOT_PURCHASABLE = (
        "offer_not_purchasable",
        409,
        "This offer is not on sale on chain (inactive, or not published there yet).",
    )
    SOLD_OUT = ("sold_out", 409, "This offer is sold out.")
    WRONG_KIND = (
        "wrong_kind",
        409,
        "Ownership shares are not sold; only licenses, passes and credits.",
    )
    BAD_AMOUNT = ("bad_amount", 422, "The amount is a whole number of units from 1 to 1000.")
    BAD_BUYER_ADDRESS = (
        "bad_buyer_address",
        422,
        "The buyer is an EVM address (0x and 40 hex digits, EIP-55 checksummed when mixed case), "
        "not the zero address.",
    )
    BAD_TX_HASH = ("bad_tx_hash", 422, "A transaction hash is 0x and 64 hex digits.")
    BAD_REVERT_DATA = ("bad_revert_data", 422, "Revert data is 0x-prefixed hex bytes.")
    NODE_UNAVAILABLE = (
        "node_unavailable",
        503,
        "The chain node of this offer's network cannot be reached; try again in a moment.",
    )


class WithdrawErrorCode(ErrorCode):
    """Preparing a revenue withdrawal from "My account" (``licensing.services.withdraw``)."""

    NOT_YOUR_WALLET = (
        "not_your_wallet",
        403,
        "The account is not one of the wallets linked to your sign-in.",
    )
    BAD_WITHDRAW_ACCOUNT = (
        "bad_withdraw_account",
        422,
        "The account is an EVM address (0x and 40 hex digits, EIP-55 checksummed when mixed case).",
    )
    UNKNOWN_CURRENCY = (
        "unknown_currency",
        422,
        "The currency is not one the portal knows on an active network.",
    )
    NO_VAULT = ("no_vault", 409, "The revenue vault is not deployed on this network.")
    NOTHING_TO_WITHDRAW = (
        "nothing_to_withdraw",
        409,
        "This wallet has nothing to withdraw in this currency.",
    )
    VAULT_NODE_UNAVAILABLE = (
        "vault_node_unavailable",
        503,
        "The chain node of this network cannot be reached to read the vault; try again.",
    )


class EntitlementErrorCode(ErrorCode):
    """Why a caller may not use a model version now (``licensing.entitlement``)."""

    NO_LICENSE = (
        "no_license",
        403,
        "None of your wallets holds a license, a pass or credits for this model.",
    )
    LICENSE_EXPIRED = ("license_expired", 403, "Your license or pass for this model has expired.")
    LICENSE_REVOKED = ("license_revoked", 403, "Your license for this model was revoked.")
    TERMS_ENDED = ("terms_ended", 403, "The terms of your license for this model have ended.")
    NO_CREDITS = ("no_credits", 402, "Your usage credits for this model are used up: buy more.")
    VERSION_NOT_AVAILABLE = ("version_not_available", 409, "This version is not published.")
    QUOTA_EXCEEDED = (
        "quota_exceeded",
        429,
        "The license's terms allow no more use in this period.",
    )


class ReceiptErrorCode(ErrorCode):
    """Usage receipts and their proofs (``licensing.api``, ``licensing.services.settlement``)."""

    RECEIPT_NOT_FOUND = (
        "receipt_not_found",
        404,
        "No usage receipt with this id was made by you (your sign-in or your API keys).",
    )


class CreditErrorCode(ErrorCode):
    """The credit ledger (``licensing.services.credits``) and idempotency keys
    (``licensing.idempotency``)."""

    INSUFFICIENT_CREDITS = (
        "insufficient_credits",
        402,
        "Not enough credits of this offer are available; buy more.",
    )
    BAD_CREDIT_UNITS = ("bad_credit_units", 422, "Credits are a whole number from 1 up.")
    BAD_CREDIT_HOLDER = (
        "bad_credit_holder",
        422,
        "The holder is an EVM address (0x and 40 hex digits, EIP-55 checksummed when mixed case).",
    )
    RESERVATION_NOT_OPEN = (
        "reservation_not_open",
        409,
        "This reservation was consumed or released already.",
    )
    CONSUME_EXCEEDS_RESERVATION = (
        "consume_exceeds_reservation",
        409,
        "A reservation cannot consume more credits than it holds.",
    )
    BAD_IDEMPOTENCY_KEY = (
        "bad_idempotency_key",
        400,
        "An Idempotency-Key is 1 to 255 characters.",
    )
    IDEMPOTENCY_KEY_REUSED = (
        "idempotency_key_reused",
        409,
        "This Idempotency-Key was used with another request (method, path or body); use a new key.",
    )
    IDEMPOTENCY_IN_PROGRESS = (
        "idempotency_in_progress",
        409,
        "A request with this Idempotency-Key is still running; retry once it has answered.",
    )


class GovernanceErrorCode(ErrorCode):
    """Proposals and ballots (``licensing.governance``)."""

    GOVERNANCE_DISABLED = (
        "governance_disabled",
        409,
        "This model's holders do not govern it (no governance settings, or disabled).",
    )
    NO_SHARES = (
        "no_shares",
        409,
        "This model has no ownership shares on chain yet (or the sync has not seen them).",
    )
    BELOW_PROPOSAL_THRESHOLD = (
        "below_proposal_threshold",
        403,
        "Your wallet held too few of this model's shares at the last finalized block to propose.",
    )
    BAD_PROPOSAL = ("bad_proposal", 422, "The proposal's change is not one its holders may make.")
    PROPOSAL_NOT_FOUND = ("proposal_not_found", 404, "No such proposal.")
    VOTING_CLOSED = ("voting_closed", 409, "This proposal's voting window is closed.")
    BAD_BALLOT = (
        "bad_ballot",
        422,
        "A ballot is a voter address, a support of 0 (against), 1 (for) or 2 (abstain), the "
        "time it was signed (seconds) and a 65-byte 0x-hex signature.",
    )
    BALLOT_WRONG_SIGNER = (
        "ballot_wrong_signer",
        422,
        "The signature is not the voter's ballot for this proposal on this chain.",
    )
    BALLOT_STALE = (
        "ballot_stale",
        409,
        "This wallet has a ballot signed later (or at the same second) already: sign a new one.",
    )
    BALLOT_TIME = (
        "ballot_time",
        422,
        "The ballot's signing time is outside the voting window (or ahead of the clock).",
    )
