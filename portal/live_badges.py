"""Status badges that refresh themselves while their row is on its way (a version a worker
validates, a publishing step the outbox and the sync carry): one markup, one JSON shape and one
script (``static/js/live-badges.js``) for every admin that has them.

A live badge carries ``data-status-url`` (the admin's status endpoint), ``data-badge-id`` and
``data-badge-status``; the script asks the endpoint for every live badge of the page at once
(``?id=1&id=2``), swaps each badge's ``status-*`` class, label and reason, stops asking for a badge
once its state is no longer live, and reloads the page when a badge marked
``data-reload-when-settled`` settles (a version's own page, to show the validation's results).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.http import JsonResponse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

SCRIPT = "js/live-badges.js"
MAX_IDS = 200  # ids one status request may ask about


def live_badge(
    css_class: str,
    status: str,
    label: str,
    *,
    pk=None,
    status_url: str = "",
    reason: str = "",
    reload_when_settled: bool = False,
) -> SafeString:
    """``<span class="{css_class} status-{status}">label</span>``, live when ``status_url`` is
    given, followed by its reason (``badge-reason``) when there is one."""
    live = ""
    if status_url:
        live = format_html(
            ' data-badge-id="{}" data-badge-status="{}" data-status-url="{}"{} aria-live="polite"',
            pk,
            status,
            status_url,
            mark_safe(" data-reload-when-settled") if reload_when_settled else "",
        )
    badge = format_html('<span class="{} status-{}"{}>{}</span>', css_class, status, live, label)
    if reason:
        return format_html('{} <span class="badge-reason">{}</span>', badge, reason)
    return badge


def asked_ids(request) -> list[int]:
    """The ids a status request asks about (numbers only, at most ``MAX_IDS``)."""
    return [int(pk) for pk in request.GET.getlist("id")[:MAX_IDS] if pk.isdigit()]


def badge_states(states: Iterable[tuple[object, str, str, bool, str]]) -> JsonResponse:
    """The status endpoint's answer: ``{"badges": {id: {status, label, live, reason}}}`` from
    ``(pk, status, label, live, reason)`` rows."""
    return JsonResponse(
        {
            "badges": {
                str(pk): {"status": status, "label": label, "live": live, "reason": reason}
                for pk, status, label, live, reason in states
            }
        }
    )
