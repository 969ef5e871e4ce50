"""What the commands that work per network (``chain_sync``, ``reconcile``) share."""

from __future__ import annotations

from django.core.management.base import CommandError

from chain.models import Network

NETWORK_HELP = "A network name (default: every active network)."


def active_networks(name: str | None = None):
    """The active networks, or only the one named (a CommandError when none is active)."""
    networks = Network.objects.filter(is_active=True)
    if name:
        networks = networks.filter(name=name)
        if not networks.exists():
            raise CommandError(f"no active network {name!r}")
    return networks
