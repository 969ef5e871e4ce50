"""Licensing's tables: what staff configure (``tokenomics``) and what the chain says
(``chain_state``, projected from indexed events, agents' x402 payments included) and its
running totals (``rollups``); the
off-chain credit ledger and idempotency keys (``credits``)."""

from licensing.models.chain_state import (
    AgentPayment,
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
from licensing.models.credits import (
    CreditAccount,
    CreditLedgerEntry,
    CreditReservation,
    IdempotentRequest,
)
from licensing.models.governance import Ballot, GovernanceSettings, PriceBound, Proposal
from licensing.models.receipts import Settlement, SettlementPeriod, UsageReceipt
from licensing.models.rollups import AgentDay, CreditTotal, CustomerTotal, RevenueDay
from licensing.models.seats import Seat
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
    "AgentDay",
    "AgentPayment",
    "Ballot",
    "ChainModel",
    "ChainOffer",
    "ChainPayees",
    "Contributor",
    "CreditAccount",
    "CreditEntry",
    "CreditLedgerEntry",
    "CreditReservation",
    "CreditTotal",
    "Currency",
    "CustomerTotal",
    "GovernanceSettings",
    "Holding",
    "HoldingChange",
    "IdempotentRequest",
    "License",
    "LicenseChange",
    "LicenseOperation",
    "LicenseTerms",
    "Mismatch",
    "ModelTokenomics",
    "Offer",
    "Payee",
    "Payment",
    "PriceBound",
    "Proposal",
    "PublishStep",
    "PublishedVersion",
    "RevenueDay",
    "Sale",
    "Seat",
    "Settlement",
    "SettlementPeriod",
    "ShareAllocation",
    "UsageReceipt",
    "VaultEntry",
]
