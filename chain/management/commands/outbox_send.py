import time

from django.core.management.base import BaseCommand, CommandError

from chain.models import Network
from chain.sender import outbox_process
from chain.services import open_transactions


class Command(BaseCommand):
    help = "Send the outbox's queued transactions for a network (what the worker task does)."

    def add_arguments(self, parser):
        parser.add_argument("--network", required=True)
        parser.add_argument(
            "--until-done", action="store_true", help="Repeat until nothing is pending."
        )
        parser.add_argument("--timeout", type=float, default=120)

    def handle(self, *args, network, until_done, timeout, **options):
        found = Network.objects.filter(name=network).first()
        if found is None:
            raise CommandError(f"no network {network!r}")
        deadline = time.monotonic() + timeout
        while True:
            result = outbox_process(network=found)
            self.stdout.write(
                f"sent {len(result.sent)}, confirmed {len(result.confirmed)}, "
                f"reverted {len(result.reverted)}, replaced {len(result.replaced)}, "
                f"retrying {len(result.retried)}, failed {len(result.failed)}"
            )
            if not until_done or not open_transactions(network=found).exists():
                return
            if time.monotonic() > deadline:
                raise CommandError("transactions are still open after the timeout")
            time.sleep(1)
