import sys

from django.core.management.base import BaseCommand, CommandError

from chain.models import Network
from chain.sync import sync_network


class Command(BaseCommand):
    help = "Index our contracts' events (reorg-safe, resumable) for one network or all of them."

    def add_arguments(self, parser):
        parser.add_argument("--network", help="A network name (default: every active network).")
        parser.add_argument(
            "--from-block", type=int, help="Index again from this block (rows are not doubled)."
        )

    def handle(self, *args, network=None, from_block=None, **options):
        networks = Network.objects.filter(is_active=True)
        if network:
            networks = networks.filter(name=network)
            if not networks.exists():
                raise CommandError(f"no active network {network!r}")
        for found in networks:
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
