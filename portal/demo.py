"""Demo organizations, staff of every role and a superuser (idempotent).

The password below is for a local demo only and is printed on purpose (it is set when a
demo user is created; running the demo again keeps what the user has). The `demo` command
(in the top app, models_hub) calls this and then adds each app's demo data.
"""

from django.contrib.auth import get_user_model
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


def _user(email: str, *, superuser: bool = False):
    """The demo user, created with the demo password; an existing one keeps its password.

    Setting the password again would sign the user out everywhere on every ``make run`` (the
    session keeps a hash of the password), so it is set only when the user is created.
    """
    user_model = get_user_model()
    user = user_model.objects.filter(username=email).first()
    if user is None:
        user = user_model(username=email, email=email, is_staff=True, is_superuser=superuser)
        user.set_password(DEMO_PASSWORD)
        user.save()
        return user
    wanted = {"email": email, "is_staff": True, "is_superuser": superuser}
    changed = [field for field, value in wanted.items() if getattr(user, field) != value]
    for field in changed:
        setattr(user, field, wanted[field])
    if changed:
        user.save(update_fields=changed)
    return user


@transaction.atomic
def load_demo_organizations() -> tuple[list[Organization], list[tuple[str, str]]]:
    """The demo organizations, and (e-mail, what they are) for each demo sign-in.

    Safe to run again: nothing that exists is reset (passwords included).
    """
    rows = [("admin@example.com", "superuser: sees every organization")]
    _user("admin@example.com", superuser=True)
    organizations = []
    for name, slug, treasury in DEMO_ORGANIZATIONS:
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            organization = organization_create(name=name, slug=slug, treasury_address=treasury)
        organizations.append(organization)
        for role in (Role.OWNER, Role.MANAGER, Role.VIEWER):
            email = f"{role.value}@{slug}.example.com"
            membership_set(organization=organization, user=_user(email), role=role)
            rows.append((email, f"{role.label.lower()} of {name}"))
    return organizations, rows
