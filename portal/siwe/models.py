from __future__ import annotations

from django.db import models
from django.utils import timezone


class SiweNonce(models.Model):
    """A nonce the portal issued to one session for one sign-in message; used at most once."""

    nonce = models.CharField(max_length=32, unique=True)
    session_hash = models.CharField(
        max_length=64, help_text="sha256 of the secret of the session the nonce was issued to."
    )
    chain_id = models.PositiveBigIntegerField()
    address = models.CharField(max_length=42, blank=True, help_text="The wallet, if it said.")
    issued_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("issued_at")),
                name="siwe_nonce_window",
            )
        ]

    def __str__(self) -> str:
        return self.nonce
