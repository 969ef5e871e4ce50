from django.core.management.base import BaseCommand, CommandError

from chain.models import Network
from licensing.reconcile import reconcile


class Command(BaseCommand):
    help = "Compare licenses, holdings and vault balances with the chain; record mismatches."

    def add_arguments(self, parser):
        parser.add_argument("--network", help="A network name (default: every active network).")

    def handle(self, *args, network=None, **options):
        networks = Network.objects.filter(is_active=True)
        if network:
            networks = networks.filter(name=network)
            if not networks.exists():
                raise CommandError(f"no active network {network!r}")
        for found in networks:
            report = reconcile(network=found)
            self.stdout.write(
                f"{found}: checked {report.checked} at block {report.block}, "
                f"{report.mismatches} mismatch(es), {report.resolved} resolved"
            )
