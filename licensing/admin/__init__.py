"""Licensing's admins, one module per area (each registers its own)."""

from licensing.admin import dashboard, operations, projections, publishing, terms, tokenomics  # noqa: F401
