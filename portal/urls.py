"""URLs. The composition root: the one module (with portal.api) that imports every app."""

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path, re_path

from chain.client import node_status
from portal.api import api
from portal.health import check_broker, check_database
from portal.views import api_not_found, healthz_view, home

admin.site.login = secure_admin_login(admin.site.login)  # staff sign in through allauth (MFA)
handler403 = "portal.views.permission_denied"

HEALTH_CHECKS = {
    "database": check_database,
    "broker": check_broker,
    "chain": lambda: node_status(timeout=2),
}

urlpatterns = [
    path("", home, name="home"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("_allauth/", include("portal.siwe.headless_urls")),
    path("_allauth/", include("allauth.headless.urls")),
    path("market/", include("licensing.urls")),
    path("account/keys/", include("portal.customer_keys")),
    path("account/jobs/", include("models_hub.jobs.urls")),
    path("account/", include("licensing.account_views")),
    path("api/", api.urls),
    re_path(r"^api/(?P<rest>.*)$", api_not_found),
    path("healthz", healthz_view(HEALTH_CHECKS), name="healthz"),
]
