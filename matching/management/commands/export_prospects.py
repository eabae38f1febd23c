from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ._export import PROSPECT_COLUMNS, add_export_arguments, prospect_rows, run_export


class Command(BaseCommand):
    help = (
        "Write every prospect (an organisation whose sector could use an offer's material), as "
        "CSV or JSON with the columns " + ",".join(PROSPECT_COLUMNS) + "; --top N keeps rank <= N."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_export_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        run_export(self, PROSPECT_COLUMNS, prospect_rows, **options)
