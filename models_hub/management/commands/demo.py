"""`manage.py demo`: idempotent demo data for a local portal (organizations, staff, models)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from models_hub.demo_models import load_demo_models
from portal.choices import Role
from portal.demo import DEMO_PASSWORD, load_demo_organizations


class Command(BaseCommand):
    help = (
        "Create what is missing of the demo organizations, staff and models, validating and "
        "publishing the demo's own versions (safe to run again: nothing is reset)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Run even when DEBUG is off (never in production)."
        )
        parser.add_argument(
            "--validate-now",
            action="store_true",
            help="Kept for old scripts: the demo always validates its versions in this process.",
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["force"]:
            raise CommandError("demo data is for local use: run with DEBUG=true or pass --force")
        organizations, rows = load_demo_organizations()
        uploaded = 0
        for organization in organizations:
            manager = organization.memberships.filter(role=Role.MANAGER).first()
            uploaded += load_demo_models(
                organization=organization,
                published_by=manager.user if manager else None,
                log=self.stdout,
            )
        if uploaded:
            self.stdout.write(f"Registered, validated and published {uploaded} model version(s).")
        self.stdout.write(self.style.SUCCESS("Demo data is ready. Sign in at /accounts/login/:"))
        for email, what in rows:
            self.stdout.write(f"  {email:<28} {DEMO_PASSWORD:<18} {what}")
        self.stdout.write(
            "  (the password is set when a demo user is created; a changed one stays)"
        )
