from django.db import models


class OrganizationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"


class Role(models.TextChoices):
    """A member's role in one organization. Later roles include the earlier ones' rights."""

    VIEWER = "viewer", "Viewer"
    MANAGER = "manager", "Manager"
    OWNER = "owner", "Owner"

    @classmethod
    def at_least(cls, role: "Role") -> list[str]:
        order = [cls.VIEWER, cls.MANAGER, cls.OWNER]
        return [r.value for r in order[order.index(role) :]]


class ApiScope(models.TextChoices):
    """What an API key may do. Later issues add scopes here.

    An organization's key (staff) may hold any scope; a customer's key (no organization) only
    the ``CUSTOMER_SCOPES``. The others act for an organization: ``ORGANIZATION_SCOPES``.
    """

    ORG_READ = "org:read", "Read the organization"
    MODELS_READ = "models:read", "Read models"
    MODELS_WRITE = "models:write", "Publish model versions"
    PREDICT = "predict", "Run predictions"


# What a customer's key carries: every one of these, and nothing else (a database constraint).
CUSTOMER_SCOPES: tuple[str, ...] = (ApiScope.MODELS_READ.value, ApiScope.PREDICT.value)
# Scopes that only mean something for an organization (its data, its models' versions).
ORGANIZATION_SCOPES: tuple[str, ...] = tuple(
    scope for scope in ApiScope.values if scope not in CUSTOMER_SCOPES
)
