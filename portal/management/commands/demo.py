"""Load idempotent demo data: two organizations with staff of every role and a superuser.

The passwords below are for a local demo only and are printed on purpose.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from portal.choices import Role
from portal.models import Organization
from portal.services import membership_set, organization_create

DEMO_PASSWORD = "demo-portal-2026"  # noqa: S105 - local demo only: never use the demo data in production

# Anvil's published development accounts #1 and #2 (public test keys, not secrets).
DEMO_ORGANIZATIONS = [
    ("Acme Models", "acme", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"),
    ("Globex Analytics", "globex", "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"),
]


class Command(BaseCommand):
    help = "Create or refresh the demo organizations, staff and superuser (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Run even when DEBUG is off (never in production)."
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["force"]:
            raise CommandError("demo data is for local use: run with DEBUG=true or pass --force")
        with transaction.atomic():
            rows = self._load()
        self.stdout.write(self.style.SUCCESS("Demo data is ready. Sign in at /accounts/login/:"))
        for email, what in rows:
            self.stdout.write(f"  {email:<28} {DEMO_PASSWORD:<18} {what}")

    def _user(self, email: str, *, superuser: bool = False):
        user_model = get_user_model()
        user, _ = user_model.objects.get_or_create(
            username=email, defaults={"email": email, "is_staff": True}
        )
        user.email = email
        user.is_staff = True
        user.is_superuser = superuser
        user.set_password(DEMO_PASSWORD)
        user.save()
        return user

    def _load(self) -> list[tuple[str, str]]:
        rows = [("admin@example.com", "superuser: sees every organization")]
        self._user("admin@example.com", superuser=True)
        for name, slug, treasury in DEMO_ORGANIZATIONS:
            organization = Organization.objects.filter(slug=slug).first()
            if organization is None:
                organization = organization_create(name=name, slug=slug, treasury_address=treasury)
            for role in (Role.OWNER, Role.MANAGER, Role.VIEWER):
                email = f"{role.value}@{slug}.example.com"
                membership_set(organization=organization, user=self._user(email), role=role)
                rows.append((email, f"{role.label.lower()} of {name}"))
        return rows
