"""The portal's admin site: its name, an index title that fits who is looking, and the header's
account links (two-factor set-up, password) that lead to allauth's pages."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin


class PortalAdminSite(admin.AdminSite):
    site_header = settings.PORTAL_NAME
    site_title = f"{settings.PORTAL_NAME} admin"
    index_title = "Your organizations"
    platform_index_title = "Platform administration"

    def index(self, request, extra_context=None):
        if request.user.is_active and request.user.is_superuser:
            extra_context = {"title": self.platform_index_title, **(extra_context or {})}
        return super().index(request, extra_context)
