from django.core.management.base import BaseCommand

from chain.management.networks import NETWORK_HELP, active_networks
from licensing.reconcile import reconcile


class Command(BaseCommand):
    help = "Compare licenses, holdings and vault balances with the chain; record mismatches."

    def add_arguments(self, parser):
        parser.add_argument("--network", help=NETWORK_HELP)

    def handle(self, *args, network=None, **options):
        for found in active_networks(network):
            report = reconcile(network=found)
            self.stdout.write(
                f"{found}: checked {report.checked} at block {report.block}, "
                f"{report.mismatches} mismatch(es), {report.resolved} resolved"
            )
