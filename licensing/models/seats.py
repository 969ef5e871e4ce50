"""Seats: member wallets an organization lets use the licenses its treasury holds."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from chain.models import WEI
from portal.validators import validate_eth_address


class Seat(models.Model):
    """A member wallet that may use one license the organization's treasury holds.

    The license is named by what the chain calls it (network, token and offer id; the holder
    is the treasury), not by the projected ``License`` row, which a reorg may drop and make
    again: a seat outlives that. How many seats a license has comes from its terms."""

    organization = models.ForeignKey(
        "portal.Organization", on_delete=models.CASCADE, related_name="seats"
    )
    network = models.ForeignKey("chain.Network", on_delete=models.PROTECT, related_name="+")
    token_address = models.CharField(max_length=42)
    token_id = models.DecimalField(**WEI)
    wallet = models.CharField(max_length=42, validators=[validate_eth_address])
    label = models.CharField(max_length=80, blank=True, help_text="Whose wallet, for people.")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["network", "token_id", "wallet"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "network", "token_address", "token_id", "wallet"],
                name="seat_unique",
            )
        ]
        indexes = [models.Index(fields=["wallet"])]

    def __str__(self) -> str:
        return f"{self.label or self.wallet} on offer {self.token_id}"
