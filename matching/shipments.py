"""The indicative shipment procedure for a question asked from outside the matcher: the
``shipment_procedure`` command, and later the portal page and the partner API.

It adds to the pure ``matching.legal.shipment_procedure`` what needs the database: whether the
List of Waste code exists, and whether it is hazardous (an asterisk entry) or one half of a
mirror pair. The List of Waste decides: an asterisk typed by the caller is ignored.
"""

from __future__ import annotations

import dataclasses
import datetime
from enum import StrEnum

from listings.reference_tables import normalise_low_code
from listings.selectors import waste_code_get
from symbiosis.exceptions import ApplicationError

from .legal import (
    Evidence,
    LegalInputError,
    ListClass,
    ShipmentProcedure,
    ShipmentQuestion,
    WasteStatus,
    shipment_procedure,
)

# The pure function names its inputs after ShipmentQuestion; this service after its parameters.
_FIELD_NAMES = {"waste_status": "status"}


class ShipmentInputError(ApplicationError):
    """A shipment question that cannot be answered. ``extra["field"]`` names the parameter."""

    code = "shipment_input_invalid"
    http_status = 400

    @property
    def field(self) -> str:
        return str(self.extra["field"])


def _choice[E: StrEnum](kind: type[E], value: str, field: str) -> E:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise ShipmentInputError(f"{value!r} is not one of: {choices}", field=field) from None


def shipment_question_answer(
    *,
    origin: str,
    destination: str,
    status: str,
    operation: str,
    low_code: str | None = None,
    evidence: str = "none",
    list_class: str | None = None,
    basel_code: str | None = None,
    mixture: bool = False,
    contaminated: bool = False,
    pops: bool = False,
    date: datetime.date | None = None,
) -> ShipmentProcedure:
    """Answer one shipment question, looking the List of Waste code up in the database.

    Every input is checked by the pure function before the database is read, so a malformed
    question costs no query; a well-formed one costs at most one (the code). ``date=None`` means
    on or after 21 May 2026. Raises: shipment_input_invalid (unknown country, status, evidence
    or list class; an operation outside R1-R13/D1-D15; a malformed Basel or List of Waste code;
    a code not in the List of Waste; a date before 12 July 2007).
    """
    code: str | None = None
    if low_code is not None:
        try:
            code = normalise_low_code(low_code)
        except ValueError as exc:
            raise ShipmentInputError(str(exc), field="low_code") from None
    question = ShipmentQuestion(
        origin=origin,
        destination=destination,
        waste_status=_choice(WasteStatus, status, "status"),
        operation=operation,
        low_code=code,
        evidence=_choice(Evidence, evidence, "evidence"),
        list_class=None if list_class is None else _choice(ListClass, list_class, "list_class"),
        basel_code=basel_code,
        mixture=mixture,
        contaminated=contaminated,
        pops=pops,
        date=date,
    )
    answer = _answer(question)  # checks every input; the code is not yet looked up
    if code is None:
        return answer
    entry = waste_code_get(code)
    if entry is None:
        raise ShipmentInputError(
            f"{code[:2]} {code[2:4]} {code[4:]} is not an entry of the List of Waste",
            field="low_code",
        )
    if not (entry.hazardous or entry.mirror):
        return answer
    return _answer(dataclasses.replace(question, hazardous=entry.hazardous, mirror=entry.mirror))


def _answer(question: ShipmentQuestion) -> ShipmentProcedure:
    try:
        return shipment_procedure(question)
    except LegalInputError as exc:
        field = _FIELD_NAMES.get(exc.field, exc.field)
        raise ShipmentInputError(exc.message, field=field) from None
