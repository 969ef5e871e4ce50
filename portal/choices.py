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
    """What an API key may do. Later issues add scopes here."""

    ORG_READ = "org:read", "Read the organization"
    MODELS_READ = "models:read", "Read models"
    MODELS_WRITE = "models:write", "Publish model versions"
    PREDICT = "predict", "Run predictions"
