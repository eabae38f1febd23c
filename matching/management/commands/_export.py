"""What export_matches and export_prospects share: the rows as SQL computes them and a CSV or
JSON writer. (A leading underscore: Django does not take this module for a command.)"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Final, Protocol

from django.core.management.base import BaseCommand, CommandError
from django.db.models import CharField, F, Func, QuerySet, Value, Window
from django.db.models.functions import Cast, Coalesce, NullIf, RowNumber

from matching.models import Match, Prospect

MATCH_COLUMNS: Final[tuple[str, ...]] = (
    "offer_ref",
    "demand_ref",
    "score",
    "rank_for_offer",
    "rank_for_demand",
    "material_score",
    "quantity_score",
    "distance_score",
    "legal_score",
    "distance_km",
    "legal_procedure",
    "explanation",
)
PROSPECT_COLUMNS: Final[tuple[str, ...]] = (
    "offer_ref",
    "organization",
    "nace",
    "rank",
    "score",
    "explanation",
)
# Spreadsheets run a cell that starts with one of these as a formula (DESIGN.md, "Uploads";
# OWASP CSV injection). Such a cell is written with a leading single quote.
FORMULA_STARTS: Final[tuple[str, ...]] = ("=", "+", "-", "@", "\t", "\0", "\r")
ROUNDING: Final[dict[str, int]] = {
    "score": 4,
    "material_score": 4,
    "quantity_score": 4,
    "distance_score": 4,
    "legal_score": 4,
    "distance_km": 1,
}
ITERATOR_CHUNK: Final = 2000


def listing_ref(relation: str) -> Func:
    """The listing's ref, or its id where the ref is empty (CONTRACTS.md)."""
    return Coalesce(
        NullIf(F(f"{relation}__ref"), Value("")), Cast(F(f"{relation}_id"), CharField())
    )


def match_rows(*, top: int | None = None) -> QuerySet[Match, tuple[Any, ...]]:
    """One tuple per match in MATCH_COLUMNS order, ranked by SQL window functions: the rank
    among the offer's matches by score (ties by demand id) and among the demand's (ties by
    offer id). ``top`` keeps rank_for_offer <= top."""
    queryset = Match.objects.annotate(
        offer_ref=listing_ref("offer"),
        demand_ref=listing_ref("demand"),
        rank_for_offer=Window(
            RowNumber(), partition_by=[F("offer_id")], order_by=[F("score").desc(), F("demand_id")]
        ),
        rank_for_demand=Window(
            RowNumber(), partition_by=[F("demand_id")], order_by=[F("score").desc(), F("offer_id")]
        ),
    )
    if top is not None:
        queryset = queryset.filter(rank_for_offer__lte=top)
    return queryset.order_by("offer_id", "rank_for_offer").values_list(*MATCH_COLUMNS)


def prospect_rows(*, top: int | None = None) -> QuerySet[Prospect, tuple[Any, ...]]:
    """One tuple per prospect in PROSPECT_COLUMNS order, by offer then rank."""
    queryset = Prospect.objects.annotate(
        offer_ref=listing_ref("offer"),
        nace=Coalesce(F("organization__nace__code"), Value("")),
    )
    if top is not None:
        queryset = queryset.filter(rank__lte=top)
    return queryset.order_by("offer_id", "rank").values_list(
        "offer_ref", "organization__name", "nace", "rank", "score", "explanation"
    )


def csv_cell(value: object) -> object:
    """Guard a text cell against formula injection; other values pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def _rounded(columns: Sequence[str], row: Sequence[Any]) -> list[Any]:
    return [
        round(value, ROUNDING[name]) if name in ROUNDING and value is not None else value
        for name, value in zip(columns, row, strict=True)
    ]


def write_rows(
    out: Writable, columns: Sequence[str], rows: Iterable[Sequence[Any]], fmt: str
) -> int:
    """Stream ``rows`` to ``out`` as CSV (with a header row) or as a JSON array of objects.
    Returns the number of rows written."""
    count = 0
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([csv_cell(v) for v in _rounded(columns, row)])
            count += 1
        return count
    out.write("[")
    for row in rows:
        item = dict(zip(columns, _rounded(columns, row), strict=True))
        out.write(("," if count else "") + "\n" + json.dumps(item, ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def add_export_arguments(parser: Any) -> None:
    parser.add_argument("--format", choices=("csv", "json"), default="csv")
    parser.add_argument("--top", type=int, default=None, help="Keep ranks 1..N per offer.")
    parser.add_argument("--output", default=None, help="Write to FILE instead of stdout.")


class _Stdout:
    """csv and json write whole lines; Django's OutputWrapper must add no line ending."""

    def __init__(self, command: BaseCommand) -> None:
        self._command = command

    def write(self, text: str, /) -> None:
        self._command.stdout.write(text, ending="")


def run_export(
    command: BaseCommand,
    columns: Sequence[str],
    rows: Callable[..., QuerySet[Any, tuple[Any, ...]]],
    *,
    format: str,
    top: int | None,
    output: str | None,
    **options: Any,
) -> None:
    if top is not None and top < 1:
        raise CommandError("--top must be at least 1", returncode=2)
    stream = rows(top=top).iterator(chunk_size=ITERATOR_CHUNK)
    if output is None:
        try:
            write_rows(_Stdout(command), columns, stream, format)
        except BrokenPipeError:  # the reader left early (`| head`): stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise SystemExit(1) from None
        return
    try:
        with Path(output).open("w", encoding="utf-8", newline="") as handle:
            count = write_rows(handle, columns, stream, format)
    except OSError as exc:
        raise CommandError(f"cannot write {output}: {exc.strerror}", returncode=2) from exc
    if options.get("verbosity", 1) > 0:
        command.stderr.write(f"{count} rows written to {output}")
