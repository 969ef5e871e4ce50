"""The admin of license terms: versions, their hash, their reading in plain words, the legal text
rendered sanitized, the history, and a diff between two versions (``<pk>/diff/?against=<pk>``).

Saving goes through ``licensing.services.terms.terms_save``: a version nobody holds changes in
place; a held one stays as it was and the edit becomes the next version, which the page then
shows with a message saying so.
"""

from __future__ import annotations

import re

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from licensing.models import LicenseTerms, Offer
from licensing.services.terms import held_annotation, terms_delete, terms_is_held, terms_save
from licensing.terms import legal_text_html, plain_language, terms_diff
from portal.history_admin import TenantHistoryAdmin
from portal.service_admin import ServiceModelForm

_KEPT = "_licensing_terms_kept"  # the held version an edit left as it was (on the request)
STYLESHEET = "css/terms.css"


class TerritoryField(forms.Field):
    """Country codes typed as text ("DE, FR"), kept as a list; the service checks them."""

    widget = forms.TextInput

    def to_python(self, value):
        if value in (None, ""):
            return []
        if isinstance(value, list | tuple):
            return list(value)
        return [part for part in re.split(r"[\s,;]+", str(value)) if part]

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list | tuple) else value


class LicenseTermsForm(ServiceModelForm):
    territory = TerritoryField(
        required=False,
        help_text="ISO 3166-1 alpha-2 country codes where use is allowed, separated by commas "
        "(DE, FR); empty = worldwide.",
    )
    legal_text = forms.CharField(
        required=False,
        strip=False,  # the service normalizes it (licensing.terms.normalize_legal_text)
        widget=forms.Textarea(attrs={"rows": 16, "cols": 80}),
        help_text="Markdown, rendered sanitized. Stored as hashed: line ends as LF, trailing "
        "spaces removed (for a line break, leave a blank line), no final newline.",
    )

    class Meta:
        model = LicenseTerms
        fields = "__all__"
        help_texts = {
            "name": "What staff and buyers call these terms; versions share it.",
            "commercial_use": "The licensee may use the model to earn money.",
            "derivatives_allowed": "The licensee may build and share models derived from it.",
            "derivatives_attribution": "Derivatives must credit the model's publisher.",
            "usage_quota_period": "The period the usage quota counts over.",
        }
        labels = {
            "commercial_attribution": "Credit the publisher in commercial use",
            "commercial_revenue_share_bps": "Revenue share (basis points)",
            "derivatives_attribution": "Credit the publisher in derivatives",
            "derivatives_reciprocal": "Derivatives under these same terms",
            "expires_on": "Terms end on",
            "seats": "Wallets per license",
        }


class HeldFilter(admin.SimpleListFilter):
    title = "held by licensees"
    parameter_name = "held"

    def lookups(self, request, model_admin):
        return [("yes", "Held (frozen)"), ("no", "Not held (edited in place)")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(is_held=self.value() == "yes")
        return queryset


def _offer_count() -> Coalesce:
    counted = Offer.objects.filter(terms=OuterRef("pk")).values("terms").annotate(n=Count("pk"))
    return Coalesce(Subquery(counted.values("n")), Value(0))


@admin.register(LicenseTerms)
class LicenseTermsAdmin(TenantHistoryAdmin):
    tenant_field = "organization"
    form = LicenseTermsForm
    list_display = [
        "name", "version_label", "organization", "short_hash", "held", "offer_count",
        "created_at",
    ]  # fmt: skip
    list_filter = [HeldFilter, "commercial_use", "derivatives_allowed", "transferable",
                   "organization"]  # fmt: skip
    list_select_related = ["organization"]
    search_fields = ["name", "content_hash", "organization__name"]
    autocomplete_fields = ["organization"]
    fieldsets = [
        (None, {"fields": ["organization", "name"]}),
        (
            "Commercial use",
            {
                "fields": [
                    "commercial_use",
                    "commercial_attribution",
                    "commercial_revenue_share_bps",
                ]
            },
        ),
        (
            "Derivatives",
            {
                "fields": [
                    "derivatives_allowed",
                    "derivatives_attribution",
                    "derivatives_reciprocal",
                ]
            },
        ),
        (
            "Where, how long, how much",
            {
                "fields": [
                    "territory",
                    "expires_on",
                    "seats",
                    ("usage_quota", "usage_quota_period"),
                    "transferable",
                ]
            },
        ),
        ("Legal text", {"fields": ["legal_text"]}),
    ]
    readonly_fields = [
        "plain_words", "version_label", "hash_display", "held_status", "versions",
        "legal_text_preview", "created_by_email", "created_at",
    ]  # fmt: skip

    class Media:
        css = {"all": [STYLESHEET]}

    # --- lists ---

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset.annotate(is_held=held_annotation(), offer_count=_offer_count())

    @admin.display(description="Version", ordering="version")
    def version_label(self, obj):
        return f"v{obj.version}"

    @admin.display(description="Hash", ordering="content_hash")
    def short_hash(self, obj):
        return format_html('<code title="{}">{}…</code>', obj.content_hash, obj.content_hash[:10])

    @admin.display(description="Held", boolean=True, ordering="is_held")
    def held(self, obj):
        return self._is_held(obj)

    @admin.display(description="Offers", ordering="offer_count")
    def offer_count(self, obj):
        return obj.offer_count

    def _is_held(self, obj) -> bool:
        held = getattr(obj, "is_held", None)  # annotated, except on history pages
        return terms_is_held(obj) if held is None else held

    # --- the change page ---

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.fieldsets
        reading = [
            ("In plain words", {"fields": ["plain_words"]}),
            ("This version", {"fields": ["version_label", "hash_display", "held_status",
                                         "versions", "created_by_email", "created_at"]}),
        ]  # fmt: skip
        legal = [("Legal text", {"fields": ["legal_text", "legal_text_preview"]})]
        return reading + self.fieldsets[:-1] + legal

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "organization"] if obj is not None else fields

    @admin.display(description="Reading")
    def plain_words(self, obj):
        items = format_html_join("", "<li>{}</li>", ((line,) for line in plain_language(obj)))
        return format_html('<ul class="plain-language">{}</ul>', items)

    @admin.display(description="keccak-256 (on chain)")
    def hash_display(self, obj):
        return format_html('<code class="terms-hash">{}</code>', obj.content_hash or "-")

    @admin.display(description="Held by licensees")
    def held_status(self, obj):
        if self._is_held(obj):
            return (
                f"Yes: v{obj.version} stays as it is. Saving an edit makes the next version "
                "(offers keep pointing at the one they use)."
            )
        return "No: nobody holds a license under it yet, so an edit changes it in place."

    @admin.display(description="Versions")
    def versions(self, obj):
        rows = LicenseTerms.objects.filter(lineage=obj.lineage).order_by("version")
        links = [
            format_html("<strong>v{}</strong>", row.version)
            if row.pk == obj.pk
            else format_html(
                '<a href="{}">v{}</a>',
                reverse("admin:licensing_licenseterms_change", args=[row.pk]),
                row.version,
            )
            for row in rows.only("pk", "version")
        ]
        return format_html_join(" · ", "{}", ((link,) for link in links))

    @admin.display(description="Rendered (sanitized)")
    def legal_text_preview(self, obj):
        if not obj.legal_text:
            return "-"
        return format_html('<div class="legal-text">{}</div>', legal_text_html(obj.legal_text))

    @admin.display(description="Created by")
    def created_by_email(self, obj):
        return obj.created_by.email if obj.created_by else "-"

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk is not None:
            url = reverse("admin:licensing_licenseterms_diff", args=[obj.pk])
            context["compare_url"] = f"{url}?against={obj.previous_id}" if obj.previous_id else url
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- saving ---

    def save_with_service(self, request, obj, form, change):
        edited = obj.pk
        saved = terms_save(terms=obj, by=request.user)  # the form's values are on obj
        if change and saved.pk != edited:
            setattr(request, _KEPT, obj)  # refreshed by the service: the held row as it stays
        return saved

    def delete_with_service(self, request, obj):
        terms_delete(terms=obj, by=request.user)

    def log_change(self, request, obj, message):
        if getattr(request, _KEPT, None) is not None:
            return self.log_addition(request, obj, [{"added": {}}])
        return super().log_change(request, obj, message)

    def response_change(self, request, obj):
        kept = getattr(request, _KEPT, None)
        if kept is None:
            return super().response_change(request, obj)
        self.message_user(
            request,
            f"v{kept.version} is held by licensees and stays as it was; your changes are "
            f"v{obj.version}.",
            messages.WARNING,
        )
        return HttpResponseRedirect(reverse("admin:licensing_licenseterms_change", args=[obj.pk]))

    # --- the diff ---

    def get_urls(self):
        diff = self.admin_site.admin_view(self.diff_view)
        return [
            path("<path:object_id>/diff/", diff, name="licensing_licenseterms_diff"),
            *super().get_urls(),
        ]

    def diff_view(self, request, object_id):
        """Two versions of the same organization, field by field and the legal text by line."""
        terms = self.get_object(request, unquote(object_id))  # 404 outside the user's orgs
        if not self.has_view_permission(request, terms):
            raise PermissionDenied
        candidates = self.get_queryset(request).filter(organization_id=terms.organization_id)
        candidates = candidates.exclude(pk=terms.pk).order_by("name", "lineage", "version")
        against_id = request.GET.get("against") or ""
        against = None
        if against_id:
            against = candidates.filter(pk=against_id).first() if against_id.isdigit() else None
            if against is None:
                raise Http404("No such terms in this organization.")
        context = {
            **self.admin_site.each_context(request),
            "title": f"Compare {terms} with…" if against is None else f"Compare {terms}",
            "opts": self.opts,
            "terms": terms,
            "candidates": candidates,
            "against": against,
            "stylesheet": STYLESHEET,
        }
        if against is not None:
            context.update(_comparison(terms, against))
        return TemplateResponse(request, "admin/licensing/licenseterms/diff.html", context)


def _comparison(terms: LicenseTerms, against: LicenseTerms) -> dict:
    """The older of the two on the left (``before``), the newer on the right."""
    before, after = sorted([terms, against], key=lambda row: (row.created_at, row.pk))
    changes = terms_diff(before, after)
    text_diff = next((change.diff for change in changes if change.field == "legal_text"), ())
    return {
        "before": before,
        "after": after,
        "changes": changes,
        "text_diff": [(_line_class(line), line) for line in text_diff],
        "reading": list(zip(plain_language(before), plain_language(after), strict=True)),
    }


def _line_class(line: str) -> str:
    if line.startswith(("---", "+++")):
        return "diff-file"
    if line.startswith("@@"):
        return "diff-hunk"
    return {"+": "diff-added", "-": "diff-removed"}.get(line[:1], "diff-context")
