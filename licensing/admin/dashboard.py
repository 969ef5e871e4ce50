"""The revenue dashboard in the admin (``admin/licensing/dashboard/``) and its summary boxes on
the admin index; the figures are ``licensing.dashboard``'s.

Any member of an organization (viewer and up) sees its dashboard; a member of several picks
one, superusers any. Another organization's id answers 404, as the tenant admins do. Every
table exports as CSV (``?export=<table>``).
"""

from __future__ import annotations

import csv

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from licensing import dashboard
from portal.selectors import organizations_for

ROUTE = "licensing/dashboard/"
URL_NAME = "licensing_dashboard"
SUMMARY_LIMIT = 12  # boxes on the index (a superuser may see every organization)


def _organization(request, organizations: list):
    """The organization asked for (``?organization=<id>``), else the first one."""
    wanted = request.GET.get("organization")
    if not wanted:
        return organizations[0]
    for organization in organizations:
        if str(organization.pk) == wanted:
            return organization
    raise Http404("No such organization.")


def _period(request) -> str:
    period = request.GET.get("period", dashboard.DEFAULT_PERIOD)
    if period not in dashboard.PERIODS:
        raise Http404("No such period.")
    return period


def csv_export(table: dashboard.Table, organization) -> HttpResponse:
    """``table`` as a CSV file named after the organization, the table and the day."""
    day = timezone.now().strftime("%Y-%m-%d")
    filename = f"{organization.slug}-{table.name}-{day}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return response


def dashboard_view(request):
    """The dashboard page, or one of its tables as CSV."""
    organizations = list(organizations_for(user=request.user))
    if not organizations:
        raise PermissionDenied
    organization = _organization(request, organizations)
    board = dashboard.dashboard_for(organization=organization, period=_period(request))
    export = request.GET.get("export")
    if export is not None:
        table = board.tables.get(export)
        if table is None:
            raise Http404("No such table.")
        return csv_export(table, organization)
    context = {
        **admin.site.each_context(request),
        "title": f"Dashboard of {organization.name}",
        "board": board,
        "organizations": organizations,
        "periods": list(dashboard.PERIODS),
        "query": urlencode({"organization": organization.pk, "period": board.period}),
        "chart_data": _chart_data(board),
    }
    return TemplateResponse(request, "admin/licensing/dashboard.html", context)


def _chart_data(board: dashboard.Dashboard) -> dict:
    """What ``static/js/dashboard.js`` draws: the same figures as the tables (numbers in units;
    the tables hold the exact strings)."""
    revenue = [
        {
            "id": f"revenue-chart-{index}",
            "currency": chart["currency"],
            "series": chart["series"],
        }
        for index, chart in enumerate(board.revenue["charts"])
    ]
    return {
        "revenue": revenue,
        "periods": sorted({row[0] for row in board.revenue["table"].rows}),
        "licenses": board.licenses["chart"],
        "credits": board.credits["chart"],
    }


def summary_panel(request) -> dict | None:
    """The admin index's boxes: one per organization the user belongs to."""
    if not request.user.is_active or not request.user.is_staff:
        return None
    organizations = list(organizations_for(user=request.user)[: SUMMARY_LIMIT + 1])
    if not organizations:
        return None
    return {
        "dashboard_url": reverse(f"admin:{URL_NAME}"),
        "dashboard_summaries": dashboard.summaries(organizations=organizations[:SUMMARY_LIMIT]),
        "dashboard_more": len(organizations) > SUMMARY_LIMIT,
        # a superuser's boxes are the platform's organizations, not "yours"
        "dashboard_heading": (
            "Organizations at a glance"
            if request.user.is_superuser
            else "Your organizations at a glance"
        ),
    }


admin.site.register_view(ROUTE, dashboard_view, name=URL_NAME)
admin.site.register_index_panel(summary_panel)
