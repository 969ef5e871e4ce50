from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Organizations and access"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from portal import checks  # noqa: F401 - registers deploy checks
        from portal.sites import site_sync_after_migrate

        # sent after django.contrib.sites' own receiver (it comes first in INSTALLED_APPS)
        post_migrate.connect(site_sync_after_migrate, sender=self)
