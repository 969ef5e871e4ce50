from django.core.management.base import BaseCommand

from licensing.idempotency import idempotency_purge


class Command(BaseCommand):
    help = "Delete idempotency keys older than IDEMPOTENCY_KEY_TTL (beat runs it too)."

    def handle(self, *args, **options):
        self.stdout.write(f"purged {idempotency_purge()} idempotency key(s)")
