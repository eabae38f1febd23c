from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from listings.importing import HEADER, ImportFileError, ImportRejectedError, import_listings


class Command(BaseCommand):
    help = (
        "Import organisations, offers and demands from a CSV or XLSX file with the header "
        + ",".join(HEADER)
        + ". A file with any bad row imports nothing; re-importing updates rows by ref."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--dry-run", action="store_true", help="Check every row; write nothing."
        )

    def handle(self, *args: Any, file: Path, dry_run: bool, **options: Any) -> None:
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"{file}: {exc.strerror}") from exc
        try:
            summary = import_listings(data=data, filename=file.name, dry_run=dry_run)
        except ImportRejectedError as exc:
            lines = [f"{file}: {exc.message}", *(f"  {e}" for e in exc.errors)]
            raise CommandError("\n".join(lines)) from exc
        except ImportFileError as exc:
            raise CommandError(f"{file}: {exc.message}") from exc
        prefix = "dry run, nothing written: " if dry_run else ""
        self.stdout.write(f"{prefix}{summary}")
