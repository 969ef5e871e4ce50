"""Tenant matrix rows for licensing's admins (see portal/tests/factories.py)."""

from __future__ import annotations

from licensing.models import LicenseTerms
from licensing.services.terms import terms_create
from portal.tests.factories import tenant_row_factory


@tenant_row_factory(LicenseTerms)
def terms_row(organization, marker: str) -> LicenseTerms:
    # nobody holds it: the matrix's change POST edits it in place
    return terms_create(
        organization=organization,
        name=f"{marker} terms",
        commercial_use=True,
        territory=["DE", "FR"],
        legal_text=f"# {marker} license\n\nUse it well.",
    )
