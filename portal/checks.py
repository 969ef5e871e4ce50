from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def secret_key_from_environment(app_configs, **kwargs):
    if settings.SECRET_KEY_FROM_ENV:
        return []
    return [
        checks.Warning(
            "SECRET_KEY is generated per machine under VAR_DIR.",
            hint="Set SECRET_KEY or SECRET_KEY_FILE so every web process shares one key.",
            id="portal.W001",
        )
    ]
