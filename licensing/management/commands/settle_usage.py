from django.core.management.base import BaseCommand

from chain.management.networks import NETWORK_HELP, active_networks
from licensing.services.settlement import settle_network


class Command(BaseCommand):
    help = (
        "Close each network's unsettled usage receipts into a settlement period (a Merkle "
        "tree) and queue one burnCredits per holder and credits offer with its root."
    )

    def add_arguments(self, parser):
        parser.add_argument("--network", help=NETWORK_HELP)

    def handle(self, *args, network=None, **options):
        for found in active_networks(network):
            done = settle_network(network=found)
            for pk, status in done["refreshed"].items():
                self.stdout.write(f"{found}: period #{pk} is {status}")
            period = done["period"]
            if period is None:
                self.stdout.write(f"{found}: no unsettled receipts")
                continue
            burns = list(period.settlements.all())
            self.stdout.write(
                f"{found}: closed period #{period.pk}: {period.receipts_count} receipt(s), "
                f"root {period.root}, {len(burns)} burn(s) queued"
            )
            for burn in burns:
                self.stdout.write(
                    f"  burnCredits({burn.holder}, {burn.token_id}, {burn.units}) "
                    f"outbox #{burn.transaction_id}"
                )
