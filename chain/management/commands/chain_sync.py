import sys

from django.core.management.base import BaseCommand

from chain.management.networks import NETWORK_HELP, active_networks
from chain.sync import sync_network


class Command(BaseCommand):
    help = "Index our contracts' events (reorg-safe, resumable) for one network or all of them."

    def add_arguments(self, parser):
        parser.add_argument("--network", help=NETWORK_HELP)
        parser.add_argument(
            "--from-block", type=int, help="Index again from this block (rows are not doubled)."
        )

    def handle(self, *args, network=None, from_block=None, **options):
        for found in active_networks(network):
            stats = sync_network(network=found, from_block=from_block, progress=self._progress)
            if sys.stdout.isatty():
                self.stdout.write("")
            self.stdout.write(
                f"{found}: head {stats.head}, {stats.new_events} new event(s) of {stats.events}, "
                f"{stats.get_logs_calls} eth_getLogs call(s) ({stats.refused} refused), "
                f"{len(stats.reorgs)} reorg(s)"
            )

    def _progress(self, contract: str, block: int, head: int) -> None:
        width = 30
        done = int(width * block / head) if head else width
        bar = "#" * done + "." * (width - done)
        line = f"{contract:<14} [{bar}] {block}/{head}"
        if sys.stdout.isatty():
            self.stdout.write(f"\r{line}", ending="")
        else:
            self.stdout.write(line)
