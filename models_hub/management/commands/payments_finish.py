from django.core.management.base import BaseCommand

from models_hub.x402.services import payments_finish


class Command(BaseCommand):
    help = (
        "Finish the x402 payments whose settlement left the outbox: mined ones are settled and "
        "receipted, failed ones failed (beat runs it every 10 s)."
    )

    def handle(self, *args, **options):
        self.stdout.write(f"{payments_finish()} payment(s) finished")
