"""`manage.py demo`: idempotent demo data for a local portal (organizations, staff, models)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from models_hub.demo_models import load_demo_models
from portal.demo import DEMO_PASSWORD, load_demo_organizations


class Command(BaseCommand):
    help = "Create or refresh the demo organizations, staff and models (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Run even when DEBUG is off (never in production)."
        )
        parser.add_argument(
            "--validate-now",
            action="store_true",
            help="Validate uploaded versions in this process instead of queueing them to a worker.",
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["force"]:
            raise CommandError("demo data is for local use: run with DEBUG=true or pass --force")
        organizations, rows = load_demo_organizations()
        uploaded = load_demo_models(
            organization=organizations[0], validate_now=options["validate_now"], log=self.stdout
        )
        self.stdout.write(self.style.SUCCESS("Demo data is ready. Sign in at /accounts/login/:"))
        for email, what in rows:
            self.stdout.write(f"  {email:<28} {DEMO_PASSWORD:<18} {what}")
        if uploaded and not options["validate_now"]:
            self.stdout.write(f"{uploaded} model version(s) queued for validation by the worker.")
