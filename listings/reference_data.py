"""Loads the listings reference tables: the List of Waste, R/D operations, NACE and the
material category tree. Each table is the project's own file under listings/data/, which cites
its sources."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from symbiosis.sync import SyncCounts, sync_rows

from .models import (
    MaterialCategory,
    NaceCode,
    Operation,
    WasteChapter,
    WasteCode,
    WasteSubChapter,
)
from .nace_table import read_nace
from .reference_tables import read_list_of_waste, read_operations

CATEGORIES_CSV = Path(__file__).resolve().parent / "data" / "material_categories.csv"
NACE_LEVELS = ("section", "division", "group", "class")


@dataclass(frozen=True, slots=True)
class CategoryRow:
    slug: str
    parent: str
    name: str
    resource_type: str
    low_prefixes: str


def read_material_categories(path: Path = CATEGORIES_CSV) -> list[CategoryRow]:
    with path.open(encoding="utf-8", newline="") as handle:
        lines = [line for line in handle if not line.lstrip().startswith("#")]
    return [
        CategoryRow(
            slug=r["slug"].strip(),
            parent=r["parent"].strip(),
            name=r["name"].strip(),
            resource_type=r["resource_type"].strip(),
            low_prefixes=r["low_prefixes"].strip(),
        )
        for r in csv.DictReader(lines)
    ]


@transaction.atomic
def listings_reference_data_load() -> dict[str, SyncCounts]:
    """Idempotent: a second run reports everything unchanged and writes nothing."""
    counts: dict[str, SyncCounts] = {}
    low = read_list_of_waste()
    counts["waste chapters"] = sync_rows(
        WasteChapter,
        ("code",),
        {(r.code,): {"title": r.title} for r in low if r.level == "chapter"},
    )
    counts["waste sub-chapters"] = sync_rows(
        WasteSubChapter,
        ("code",),
        {
            (r.code,): {"title": r.title, "chapter_id": r.code[:2]}
            for r in low
            if r.level == "subchapter"
        },
    )
    counts["waste codes"] = sync_rows(
        WasteCode,
        ("code",),
        {
            (r.code,): {
                "title": r.title,
                "subchapter_id": r.code[:4],
                "hazardous": r.hazardous,
                "mirror": r.mirror,
            }
            for r in low
            if r.level == "entry"
        },
    )
    counts["operations"] = sync_rows(
        Operation,
        ("code",),
        {(o.code,): {"kind": str(o.kind), "description": o.description} for o in read_operations()},
    )
    counts["NACE codes"] = _load_nace()
    counts["material categories"] = _load_categories()
    return counts


def _load_nace() -> SyncCounts:
    rows = read_nace()
    total = SyncCounts()
    for level in NACE_LEVELS:  # parents before children
        ids = {(n.version, n.code): n.pk for n in NaceCode.objects.all()}
        total += sync_rows(
            NaceCode,
            ("version", "code"),
            {
                (str(r.version), r.code): {
                    "level": level,
                    "title": r.title,
                    "parent_id": ids.get((str(r.version), r.parent)) if r.parent else None,
                }
                for r in rows
                if str(r.level) == level
            },
        )
    return total


def _load_categories() -> SyncCounts:
    rows = read_material_categories()
    counts = sync_rows(
        MaterialCategory,
        ("slug",),
        {
            (r.slug,): {
                "name": r.name,
                "resource_type": r.resource_type,
                "low_prefixes": r.low_prefixes,
            }
            for r in rows
        },
    )
    ids = dict(MaterialCategory.objects.values_list("slug", "pk"))
    parents = sync_rows(
        MaterialCategory,
        ("slug",),
        {(r.slug,): {"parent_id": ids[r.parent] if r.parent else None} for r in rows},
    )
    counts.updated += parents.updated
    return counts
