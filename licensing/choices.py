"""Licensing's statuses and kinds (an offer's kind is the contract's: chain.choices.OfferKind)."""

from django.db import models


class LicenseChangeKind(models.TextChoices):
    PURCHASE = "purchase", "Purchase"
    GRANT = "grant", "Grant"
    REVOKE = "revoke", "Revocation"
    TRANSFER = "transfer", "Time moved with a transfer"


class LedgerKind(models.TextChoices):
    CREDITED = "credited", "Credited (fee, payee share or residual)"
    CLAIMED = "claimed", "Holder earnings claimed"
    WITHDRAWN = "withdrawn", "Withdrawn"


class MismatchKind(models.TextChoices):
    EXPIRY = "expiry", "License expiry"
    BALANCE = "balance", "Token balance"
    CREDITED = "credited", "Vault balance"
