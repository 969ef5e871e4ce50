"""Licensing's statuses and kinds (an offer's kind is the contract's: chain.choices.OfferKind)."""

from django.db import models


class LicenseChangeKind(models.TextChoices):
    PURCHASE = "purchase", "Purchase"
    GRANT = "grant", "Grant"
    REVOKE = "revoke", "Revocation"
    TRANSFER = "transfer", "Time moved with a transfer"
    EXTEND = "extend", "Extension by the publisher"


class LedgerKind(models.TextChoices):
    CREDITED = "credited", "Credited (fee, payee share or residual)"
    CLAIMED = "claimed", "Holder earnings claimed"
    WITHDRAWN = "withdrawn", "Withdrawn"


class MismatchKind(models.TextChoices):
    EXPIRY = "expiry", "License expiry"
    BALANCE = "balance", "Token balance"
    CREDITED = "credited", "Vault balance"


class QuotaPeriod(models.TextChoices):
    DAY = "day", "per day"
    MONTH = "month", "per month"


class UsageUnit(models.TextChoices):
    ROW = "row", "One row predicted"
    CALL = "call", "One API call"


class ContributorRole(models.TextChoices):
    AUTHOR = "author", "Author"
    DATA = "data", "Training data"
    TUNING = "tuning", "Tuning and improvement"
    EVALUATION = "evaluation", "Evaluation"
    MAINTAINER = "maintainer", "Maintainer"


class PublishStepKind(models.TextChoices):
    """What one publishing transaction sets, in the order they are queued."""

    REGISTER = "register", "Registry entry"
    VERSION = "version", "Version hash"
    OFFER = "offer", "Offer"
    PAYEES = "payees", "Payees"
    SHARES = "shares", "Share mint"


class PublishStepStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    MINED = "mined", "Mined"
    CONFIRMED = "confirmed", "Confirmed by the sync"
    FAILED = "failed", "Failed"


class LicenseOperationKind(models.TextChoices):
    GRANT = "grant", "Grant"
    EXTEND = "extend", "Extension"
    REVOKE = "revoke", "Revocation"


class RevocationReason(models.TextChoices):
    """Stable reason codes sent on chain (as bytes32) with a revocation."""

    NON_PAYMENT = "non_payment", "Payment reversed or not received"
    TERMS_BREACH = "terms_breach", "Breach of the license terms"
    FRAUD = "fraud", "Fraud or abuse"
    CUSTOMER_REQUEST = "customer_request", "The customer asked"
    ISSUED_IN_ERROR = "issued_in_error", "Issued in error"
    OTHER = "other", "Other (see the note)"


class SettlementStatus(models.TextChoices):
    """Where a closed usage period stands (``licensing.models.SettlementPeriod``)."""

    QUEUED = "queued", "Burns queued"  # its burnCredits are in the outbox
    SETTLED = "settled", "Settled"  # every burn mined and seen by the sync with the root
    FAILED = "failed", "Failed"  # a burn failed or reverted (retry it from the outbox)
    RECORDED = "recorded", "Recorded, nothing to burn"  # only license or pass uses


class CreditLedgerKind(models.TextChoices):
    """What moved a credit account (``CreditLedgerEntry.kind``); see docs/ARCHITECTURE.md."""

    PURCHASE = "purchase", "Credited from chain (bought or granted)"
    RESERVE = "reserve", "Reserved for a request"
    RELEASE = "release", "Released back (unused or expired reservation)"
    CONSUME = "consume", "Consumed (used, not yet settled on chain)"
    SETTLE = "settle", "Settled (burned on chain by the meter)"
    REVERSAL = "reversal", "Reversed (a reorg removed the chain line)"


class CreditReservationStatus(models.TextChoices):
    OPEN = "open", "Open"
    CONSUMED = "consumed", "Consumed"
    RELEASED = "released", "Released"


class IdempotentRequestStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Answered"


class ReceiptKind(models.IntegerChoices):
    """What a usage receipt was metered under: an on-chain offer's kind (``OfferKind``'s values)
    or a call an agent paid for over HTTP 402 (x402: no offer token; proved, never burned)."""

    LICENSE = 0, "License"
    ACCESS_PASS = 1, "Access pass"
    CREDITS = 2, "Usage credits"
    PAY_PER_CALL = 16, "Pay per call (x402)"


class ProposalAction(models.TextChoices):
    """The one change a proposal may carry, executed on chain by the governor when it passes
    (the value is the contract's ``ProposalExecuted`` action number's name)."""

    NONE = "none", "No change (a signal vote)"
    SET_PRICE = "set_price", "Change an offer's price"
    SET_PAYEES = "set_payees", "Change the payees' split"
    SET_ACTIVE = "set_active", "Pause or resume an offer"
    PUBLISH_VERSION = "publish_version", "Publish a version's listing"


class ProposalStatus(models.TextChoices):
    OPEN = "open", "Open for votes"
    PASSED = "passed", "Passed"
    REJECTED = "rejected", "Rejected"
    NO_QUORUM = "no_quorum", "Quorum not met"
    EXECUTED = "executed", "Passed and executed"
    EXECUTION_FAILED = "execution_failed", "Passed, execution failed"


class VoteSupport(models.IntegerChoices):
    """A ballot's choice, as the EIP-712 ``support`` field carries it (OpenZeppelin Governor's
    numbering)."""

    AGAINST = 0, "Against"
    FOR = 1, "For"
    ABSTAIN = 2, "Abstain"
