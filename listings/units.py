"""Units and frequencies, and how a listing's quantity becomes a quantity per year.

Base units: mass and volume go to tonnes (1 m³ ≈ 1 t, the density of water: an approximation
that keeps sludges, liquids and bulk solids comparable), energy to MWh (1 GJ = 1/3.6 MWh).
`continuous` means the quantity is a rate per hour, at 8,760 hours a year.
"""

from decimal import Decimal

TO_BASE: dict[str, tuple[str, Decimal]] = {
    "t": ("t", Decimal(1)),
    "kg": ("t", Decimal("0.001")),
    "m3": ("t", Decimal(1)),
    "l": ("t", Decimal("0.001")),
    "MWh": ("MWh", Decimal(1)),
    "GJ": ("MWh", Decimal(1) / Decimal("3.6")),
}
PER_YEAR: dict[str, Decimal] = {
    "once": Decimal(1),
    "day": Decimal(365),
    "week": Decimal(52),
    "month": Decimal(12),
    "year": Decimal(1),
    "continuous": Decimal(8760),
}
UNITS = tuple(TO_BASE)
FREQUENCIES = tuple(PER_YEAR)


def base_unit(unit: str) -> str:
    return TO_BASE[unit][0]


def annual_quantity(quantity: Decimal, unit: str, frequency: str) -> Decimal:
    """The quantity per year in the base unit, rounded to the kilogram (or kWh)."""
    _, factor = TO_BASE[unit]
    return (quantity * factor * PER_YEAR[frequency]).quantize(Decimal("0.001"))
