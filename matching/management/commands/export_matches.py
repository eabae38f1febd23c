from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ._export import MATCH_COLUMNS, add_export_arguments, match_rows, run_export


class Command(BaseCommand):
    help = (
        "Write every match, one row each, as CSV or JSON with the columns "
        + ",".join(MATCH_COLUMNS)
        + ". rank_for_offer and rank_for_demand are 1-based ranks by score; --top N keeps "
        "rank_for_offer <= N."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_export_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        run_export(self, MATCH_COLUMNS, match_rows, **options)
