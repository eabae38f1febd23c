"""Reads of listings and their reference codes."""

from __future__ import annotations

from .models import WasteCode
from .reference_tables import normalise_low_code


def waste_code_get(code: str) -> WasteCode | None:
    """The List of Waste entry for ``code`` in any usual form ("100104", "10 01 04*").

    Returns None when the code is well formed but not in the List of Waste. Raises ValueError
    (from ``normalise_low_code``) when it is not a six-digit code at all. One query.
    """
    return WasteCode.objects.filter(pk=normalise_low_code(code)).first()
