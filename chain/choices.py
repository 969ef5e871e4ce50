from django.db import models


class TxStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting to be sent (or to be retried after an error)
    SUBMITTED = "submitted", "Submitted"  # in the mempool under tx_hash, receipt awaited
    CONFIRMED = "confirmed", "Confirmed"  # mined with status 1
    REVERTED = "reverted", "Reverted"  # failed at estimation or mined with status 0
    FAILED = "failed", "Failed"  # gave up: retries exhausted, or the nonce was used elsewhere


TX_OPEN = (TxStatus.PENDING, TxStatus.SUBMITTED)


class OfferKind(models.IntegerChoices):
    """LicenseToken.Kind, as the contract numbers it (a uint8 in the ABI)."""

    LICENSE = 0, "License"
    ACCESS_PASS = 1, "Access pass"
    CREDITS = 2, "Usage credits"
    SHARES = 3, "Ownership shares"
