"""Licensing's admins, one module per area (each registers its own)."""

from licensing.admin import dashboard, projections, tokenomics  # noqa: F401
