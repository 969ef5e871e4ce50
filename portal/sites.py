"""The ``django.contrib.sites`` row follows the settings: ``PORTAL_NAME`` and ``SITE_URL``.

allauth names the site in every e-mail (the subject's ``[name]`` prefix, the text) from this
row, which Django creates as ``example.com``. After every ``migrate`` it is set from the
settings, so they stay the one place to change it (an edit in the admin is overwritten).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS


def site_values() -> dict[str, str]:
    return {"domain": urlsplit(settings.SITE_URL).netloc[:100], "name": settings.PORTAL_NAME[:50]}


def site_sync(*, using: str = DEFAULT_DB_ALIAS, site_model=None) -> bool:
    """Create or update the current Site from the settings; True if anything was written."""
    if site_model is None:
        from django.contrib.sites.models import Site as site_model
    wanted = site_values()
    site = site_model.objects.using(using).filter(pk=settings.SITE_ID).first()
    if site is not None and all(getattr(site, k) == v for k, v in wanted.items()):
        return False
    site_model.objects.using(using).update_or_create(pk=settings.SITE_ID, defaults=wanted)
    if hasattr(site_model.objects, "clear_cache"):
        site_model.objects.clear_cache()
    return True


def site_sync_after_migrate(sender, using=DEFAULT_DB_ALIAS, apps=None, **kwargs) -> None:
    """``post_migrate`` receiver (after django.contrib.sites has made its example.com row)."""
    site_model = apps.get_model("sites", "Site") if apps is not None else None
    site_sync(using=using, site_model=site_model)
