from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Organizations and access"

    def ready(self) -> None:
        from portal import checks  # noqa: F401 - registers deploy checks
