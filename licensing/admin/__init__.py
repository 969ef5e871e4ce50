"""Licensing's admins, one module per area (each registers its own)."""

from licensing.admin import operations, projections, publishing, terms, tokenomics  # noqa: F401
