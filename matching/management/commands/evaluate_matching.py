from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from matching.evaluation import DEFAULT_KS, LabelFileError, evaluate_file


def _ks(text: str) -> tuple[int, ...]:
    problem = f"--k {text!r}: want positive integers like 1,5,10"
    try:
        ks = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise CommandError(problem, returncode=2) from None
    if not ks or min(ks) < 1:
        raise CommandError(problem, returncode=2)
    return tuple(sorted(set(ks)))


class Command(BaseCommand):
    help = (
        "Measure the stored matches and prospects against labels. FILE is a CSV whose header is "
        "offer_ref,demand_ref (known-good matches) or offer_ref,receiver_nace (known-good "
        "receiving sectors). Prints recall@k and MRR; unknown refs are reported, not fatal."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--k", default=",".join(map(str, DEFAULT_KS)), help="Cut-offs for recall, e.g. 1,5,10."
        )

    def handle(self, *args: Any, file: Path, k: str, **options: Any) -> None:
        ks = _ks(k)
        try:
            reports = evaluate_file(file, ks)
        except LabelFileError as exc:
            raise CommandError(f"{file}: {exc}", returncode=2) from exc
        for report in reports:
            for line in report.lines():
                self.stdout.write(line)
