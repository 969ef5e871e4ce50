from django.db import models


class TxStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting to be sent (or to be retried after an error)
    SUBMITTED = "submitted", "Submitted"  # in the mempool under tx_hash, receipt awaited
    CONFIRMED = "confirmed", "Confirmed"  # mined with status 1
    REVERTED = "reverted", "Reverted"  # failed at estimation or mined with status 0
    FAILED = "failed", "Failed"  # gave up: retries exhausted, or the nonce was used elsewhere


TX_OPEN = (TxStatus.PENDING, TxStatus.SUBMITTED)
