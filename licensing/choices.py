from django.db import models


class OfferKind(models.IntegerChoices):
    """LicenseToken.Kind, as the contract numbers it."""

    LICENSE = 0, "License"
    ACCESS_PASS = 1, "Access pass"
    CREDITS = 2, "Usage credits"
    SHARES = 3, "Ownership shares"


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
