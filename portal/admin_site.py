"""The portal's admin site: its name, an index title that fits who is looking, the header's
account links (two-factor set-up, password) that lead to allauth's pages, and the pages and
index panels that apps add (``register_view``, ``register_index_panel``: ``portal`` imports no
app, so apps hand them over from their admin modules)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import admin
from django.urls import path

IndexPanel = Callable[..., dict | None]  # (request) -> context for templates/admin/index.html


class PortalAdminSite(admin.AdminSite):
    site_header = settings.PORTAL_NAME
    site_title = f"{settings.PORTAL_NAME} admin"
    index_title = "Your organizations"
    platform_index_title = "Platform administration"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._views: dict[str, tuple[str, Callable]] = {}  # name -> (route, view)
        self._index_panels: list[IndexPanel] = []

    def register_view(self, route: str, view: Callable, *, name: str) -> None:
        """Serve ``view`` at ``admin/<route>`` (``admin:<name>``), behind the admin's sign-in
        (``admin_view``: active staff only). The view checks its own permissions."""
        self._views[name] = (route, view)

    def register_index_panel(self, panel: IndexPanel) -> None:
        """``panel(request)`` adds its context to the index (None: nothing to show)."""
        if panel not in self._index_panels:
            self._index_panels.append(panel)

    def get_urls(self):
        # before Django's own: its app index and catch-all would take "licensing/dashboard/"
        extra = [
            path(route, self.admin_view(view), name=name)
            for name, (route, view) in self._views.items()
        ]
        return extra + super().get_urls()

    def index(self, request, extra_context=None):
        context = {}
        if request.user.is_active and request.user.is_superuser:
            context["title"] = self.platform_index_title
        for panel in self._index_panels:
            context.update(panel(request) or {})
        return super().index(request, {**context, **(extra_context or {})})
