"""Licensing's admins, one module per area (each registers its own)."""

from licensing.admin import (  # noqa: F401
    credits,
    dashboard,
    governance,
    operations,
    projections,
    publishing,
    seats,
    terms,
    tokenomics,
)
