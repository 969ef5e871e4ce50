"""Licensing's tables: what staff configure (``tokenomics``) and what the chain says
(``chain_state``, projected from indexed events)."""

from licensing.models.chain_state import (
    ChainModel,
    ChainOffer,
    ChainPayees,
    CreditEntry,
    Holding,
    HoldingChange,
    License,
    LicenseChange,
    Mismatch,
    Payment,
    PublishedVersion,
    Sale,
    VaultEntry,
)
from licensing.models.tokenomics import (
    Contributor,
    Currency,
    LicenseOperation,
    LicenseTerms,
    ModelTokenomics,
    Offer,
    Payee,
    PublishStep,
    ShareAllocation,
)

__all__ = [
    "ChainModel",
    "ChainOffer",
    "ChainPayees",
    "Contributor",
    "CreditEntry",
    "Currency",
    "Holding",
    "HoldingChange",
    "License",
    "LicenseChange",
    "LicenseOperation",
    "LicenseTerms",
    "Mismatch",
    "ModelTokenomics",
    "Offer",
    "Payee",
    "Payment",
    "PublishStep",
    "PublishedVersion",
    "Sale",
    "ShareAllocation",
    "VaultEntry",
]
