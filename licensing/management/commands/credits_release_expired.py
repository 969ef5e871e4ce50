from django.core.management.base import BaseCommand

from licensing.services.credits import credits_release_expired


class Command(BaseCommand):
    help = "Release credit reservations left open past CREDIT_RESERVATION_TTL (beat runs it too)."

    def handle(self, *args, **options):
        total = 0
        while released := credits_release_expired():
            total += released
        self.stdout.write(f"released {total} expired credit reservation(s)")
