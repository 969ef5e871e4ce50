"""Amounts and durations for people: atomic units in a currency's units, seconds in days."""

from __future__ import annotations

from decimal import Decimal


def format_amount(atomic, currency, *, symbol: bool = True) -> str:
    """``atomic`` smallest units of ``currency`` (a ``licensing.Currency`` or None) as text:
    exact (no rounding), trailing zeros dropped, with the symbol."""
    if currency is None:
        return "—" if not atomic else str(atomic)
    value = Decimal(int(atomic)).scaleb(-currency.decimals)
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} {currency.symbol}" if symbol else text


def format_duration(seconds: int) -> str:
    """A duration in the largest whole unit that fits (``30 days``, ``12 hours``); 0 = perpetual."""
    if not seconds:
        return "perpetual"
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"
