import argparse
import datetime
import json
import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from matching.legal import INDICATIVE, Evidence, ListClass, ShipmentProcedure, WasteStatus
from matching.shipments import ShipmentInputError, shipment_question_answer

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date(text: str) -> datetime.date:
    """argparse type for --date: an ISO date, YYYY-MM-DD (argparse exits 2 on the error)."""
    try:
        if _ISO_DATE.fullmatch(text) is None:
            raise ValueError(text)
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; expected YYYY-MM-DD") from None


def _values(kind: type[WasteStatus | Evidence | ListClass]) -> list[str]:
    return [member.value for member in kind]


class Command(BaseCommand):
    help = (
        "Print the indicative cross-border shipment procedure for a residue (Regulation (EU) "
        f"2024/1157): procedure, flags, legal basis and documents; {INDICATIVE}."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--origin", required=True, help="Country of dispatch, e.g. BE.")
        parser.add_argument("--destination", required=True, help="Country of destination.")
        parser.add_argument(
            "--status", required=True, choices=_values(WasteStatus), help="Waste status."
        )
        parser.add_argument(
            "--operation", required=True, help="Recovery R1-R13 or disposal D1-D15, e.g. R5."
        )
        parser.add_argument(
            "--low-code", help="List of Waste code: 100102, '10 01 02' or '10 01 04*'."
        )
        parser.add_argument(
            "--evidence",
            choices=_values(Evidence),
            default=Evidence.NONE.value,
            help="Evidence for a by-product or end-of-waste status (default: none).",
        )
        parser.add_argument(
            "--list-class", choices=_values(ListClass), help="Shipment list class, if known."
        )
        parser.add_argument("--basel-code", help="Basel or OECD code, e.g. B3010 or GC010.")
        parser.add_argument(
            "--mixture", action="store_true", help="A mixture of wastes not in Annex IIIA."
        )
        parser.add_argument(
            "--contaminated", action="store_true", help="Contaminated so that risks increase."
        )
        parser.add_argument(
            "--pops", action="store_true", help="POPs above the limits of Reg. (EU) 2019/1021."
        )
        parser.add_argument(
            "--date", type=_date, help="Shipment date, YYYY-MM-DD (default: from 21 May 2026)."
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            answer = shipment_question_answer(
                origin=options["origin"],
                destination=options["destination"],
                status=options["status"],
                operation=options["operation"],
                low_code=options["low_code"],
                evidence=options["evidence"],
                list_class=options["list_class"],
                basel_code=options["basel_code"],
                mixture=options["mixture"],
                contaminated=options["contaminated"],
                pops=options["pops"],
                date=options["date"],
            )
        except ShipmentInputError as exc:
            option = "--" + exc.field.replace("_", "-")
            raise CommandError(f"{option}: {exc.message}", returncode=2) from None
        if options["json"]:
            self.stdout.write(json.dumps(answer.as_dict(), ensure_ascii=False))
        else:
            self.stdout.write(_summary(answer))


def _summary(answer: ShipmentProcedure) -> str:
    lines = [f"Procedure: {answer.procedure}"]
    for title, items in (
        ("Flags", answer.flags),
        ("Legal basis", answer.legal_basis),
        ("Documents", answer.documents),
    ):
        lines.append(f"{title}:" if items else f"{title}: none")
        lines.extend(f"  - {item}" for item in items)
    lines.append(f"({answer.indicative})")
    return "\n".join(lines)
