import csv
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from matching.impact import IMPACT_COLUMNS, NO_REGION, HarborRegionUnknownError, impact_totals


def _rounded(row: dict[str, str | int | float]) -> dict[str, str | int | float]:
    return {
        **row,
        "tonnes_per_year": round(float(row["tonnes_per_year"]), 3),
        "co2_tonnes_per_year": round(float(row["co2_tonnes_per_year"]), 3),
        "cross_border_share": round(float(row["cross_border_share"]), 4),
    }


class Command(BaseCommand):
    help = (
        "Impact of the synergies per harbour region and country pair, implemented and proposed "
        "(open stages): count, tonnes per year, transport CO2 in tonnes per year and the "
        "cross-border share, then each region's totals (empty origin and destination). A match "
        "counts in the region of its offer's site; offers outside every region go under "
        f"'{NO_REGION}'."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--region", help=f"Harbour region code; '{NO_REGION}' for sites outside every region."
        )
        parser.add_argument("--format", choices=["csv", "json"], default="csv")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            rows = [_rounded(r.as_dict()) for r in impact_totals(region_code=options["region"])]
        except HarborRegionUnknownError as exc:
            raise CommandError(f"--region: {exc.message}", returncode=2) from None
        if options["format"] == "json":
            self.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        writer = csv.DictWriter(self.stdout, fieldnames=IMPACT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
