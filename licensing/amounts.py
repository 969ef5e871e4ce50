"""Amounts and durations for people: atomic units in a currency's units, seconds in days.

Conversions are exact at any size (a uint256 of wei has 78 digits; ``Decimal`` arithmetic rounds
to the context's 28 digits, so none is used here: strings and integers only).
"""

from __future__ import annotations

from decimal import Decimal

DURATION_UNITS = {"days": 86_400, "hours": 3_600, "minutes": 60, "seconds": 1}


def to_units(atomic, decimals: int) -> Decimal:
    """``atomic`` smallest units as a Decimal in whole units, exactly (no rounding)."""
    return Decimal(f"{int(atomic)}E-{decimals}") if decimals else Decimal(int(atomic))


def to_atomic(amount: Decimal, decimals: int) -> int:
    """``amount`` in whole units as an integer of smallest units; ValueError when it has more
    decimals than the currency (or is not a finite number)."""
    if not amount.is_finite():
        raise ValueError("not a number")
    sign, digits, exponent = amount.as_tuple()
    value = int("".join(map(str, digits)) or "0")
    shift = exponent + decimals
    if shift >= 0:
        value *= 10**shift
    else:
        value, rest = divmod(value, 10**-shift)
        if rest:
            raise ValueError(f"more than {decimals} decimals")
    return -value if sign else value


def plain(value: Decimal) -> str:
    """A Decimal without exponent or trailing zeros (``0.05``, ``12``)."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_amount(atomic, currency, *, symbol: bool = True) -> str:
    """``atomic`` smallest units of ``currency`` (a ``licensing.Currency`` or None) as text:
    exact (no rounding), trailing zeros dropped, with the symbol."""
    if currency is None:
        return "—" if not atomic else str(atomic)
    text = plain(to_units(atomic, currency.decimals))
    return f"{text} {currency.symbol}" if symbol else text


def duration_in_unit(seconds: int) -> tuple[Decimal, str]:
    """``seconds`` in the largest unit that divides them (days for 0)."""
    for unit, size in DURATION_UNITS.items():
        if seconds % size == 0:
            return Decimal(seconds // size), unit
    return Decimal(seconds), "seconds"  # pragma: no cover - seconds divide everything


def format_duration(seconds: int) -> str:
    """A duration in the largest whole unit that fits (``30 days``, ``12 hours``); 0 = perpetual."""
    if not seconds:
        return "perpetual"
    count, unit = duration_in_unit(int(seconds))
    return f"{count} {unit[:-1] if count == 1 else unit}"
