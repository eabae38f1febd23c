"""Sector knowledge: which NACE classes typically take a material as an input.

This feeds prospects (DESIGN.md, "Matching" -> 5. Prospects): an offer is ranked against
organisations that posted no demand but whose sector typically uses such material.

Pure code: the standard library only, no Django. The table is ``data/sector_knowledge.csv``
beside this module. Its ``#`` lines explain the columns and list the numbered references; every
row cites at least one of them. :func:`read_sector_knowledge` checks every row and raises
:class:`SectorKnowledgeError`, naming the line, on the first bad one.

How a material finds its receivers (:meth:`SectorIndex.matches`), in words:

- The material is described by a List of Waste code (optional) and a category path from the
  root to the leaf, e.g. ``("minerals", "ashes", "fly-ash")``.
- Its keys are grouped into levels from the most to the least specific:

  ========  ====================================  =====
  level     keys                                  scale
  ========  ====================================  =====
  0         the six-digit code; the leaf category  1.0
  1         the sub-chapter; the leaf's parent     0.9
  2         the chapter; the grandparent           0.8
  3, 4 ...  further category ancestors             0.7, 0.6 ... (never below 0.5)
  ========  ====================================  =====

- Each row of the table that a key names offers its NACE class with ``strength x scale``.
- For each NACE class the most specific level that names it wins: a code that says fly ash is
  only a so-so road material overrides a chapter that says slags and ashes are good road
  materials. Within one level the higher value wins.

Rows stay at NACE class level. An organisation whose NACE code is only a group ("23.5") or a
division ("23") is matched by :meth:`SectorIndex.sector_fit` against the best class below it,
scaled by 0.9 or 0.8, because the class it really works in is unknown.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Final

SECTOR_KNOWLEDGE_CSV: Final[Path] = (
    Path(__file__).resolve().parent / "data" / "sector_knowledge.csv"
)
SECTOR_COLUMNS: Final[tuple[str, ...]] = (
    "material_kind",
    "material_key",
    "nace_class",
    "strength",
    "use",
    "source",
)

# The material categories the table may name (the taxonomy in listings/data/material_categories
# .csv may hold more; a path through an unknown slug simply matches no row at that level).
CATEGORY_SLUGS: Final[frozenset[str]] = frozenset(
    {
        "minerals",
        "ashes",
        "fly-ash",
        "bottom-ash",
        "iba",
        "slags",
        "blast-furnace-slag",
        "steel-slag",
        "gypsum",
        "fgd-gypsum",
        "construction-demolition",
        "foundry-sand",
        "dredged-sediment",
        "glass",
        "glass-cullet",
        "metals",
        "ferrous-scrap",
        "non-ferrous-scrap",
        "mill-scale",
        "organics",
        "food-residues",
        "spent-grain",
        "whey",
        "animal-by-products",
        "wood",
        "wood-chips",
        "sawdust",
        "paper-fibre",
        "paper-sludge",
        "sludges",
        "sewage-sludge",
        "oils-fats",
        "used-cooking-oil",
        "digestate",
        "biomass",
        "fish-residues",
        "chemicals",
        "solvents",
        "acids-alkalis",
        "catalysts",
        "spent-catalyst",
        "salts",
        "plastics",
        "plastic-scrap",
        "rubber",
        "tyres",
        "textiles",
        "sulphur",
        "gases",
        "co2",
        "hydrogen",
        "process-gas",
        "energy",
        "heat",
        "waste-heat-low",
        "steam",
        "hot-water",
        "cold",
        "water",
        "process-water",
        "treated-wastewater",
        "cooling-water",
        "condensate",
    }
)

LEVEL_SCALES: Final[tuple[float, ...]] = (1.0, 0.9, 0.8)  # code/leaf, sub-chapter/parent, ...
LEVEL_SCALE_STEP: Final[float] = 0.1  # each further category ancestor
LEVEL_SCALE_FLOOR: Final[float] = 0.5
NACE_GROUP_SCALE: Final[float] = 0.9  # an organisation known only by its NACE group
NACE_DIVISION_SCALE: Final[float] = 0.8  # ... or only by its division


class MaterialKind(StrEnum):
    CHAPTER = "chapter"  # List of Waste chapter, "10"
    SUBCHAPTER = "subchapter"  # sub-chapter, "1001"
    CODE = "code"  # six-digit entry, "100102"
    CATEGORY = "category"  # material category slug, "fly-ash"


_KEY_FORM: Final[dict[MaterialKind, re.Pattern[str]]] = {
    MaterialKind.CHAPTER: re.compile(r"\d{2}"),
    MaterialKind.SUBCHAPTER: re.compile(r"\d{4}"),
    MaterialKind.CODE: re.compile(r"\d{6}"),
    MaterialKind.CATEGORY: re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*"),
}
_NACE_CLASS: Final[re.Pattern[str]] = re.compile(r"\d{2}\.\d{2}")
_REFERENCE_LINE: Final[re.Pattern[str]] = re.compile(r"#\s*\[(\d+)\]\s+(\S.*)")
_CITATION: Final[re.Pattern[str]] = re.compile(r"\[(\d+)\]")


class SectorKnowledgeError(ValueError):
    """The sector-knowledge table is malformed; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class SectorUse:
    """One row: ``nace_class`` typically uses the material ``material_key`` as an input."""

    material_kind: MaterialKind
    material_key: str  # "10", "1001", "100102" or a category slug
    nace_class: str  # NACE Rev. 2 class, "23.51"
    strength: float  # (0, 1]: how typical the use is
    use: str  # what the receiving sector does with it
    source: str  # "[24]; [1] Kalundborg"

    @property
    def reference_numbers(self) -> tuple[int, ...]:
        """The reference numbers cited in ``source``, in order of appearance."""
        return tuple(int(number) for number in _CITATION.findall(self.source))


@dataclass(frozen=True, slots=True)
class SectorMatch:
    """Why a NACE class is a receiver of a given material: the row that won and its scale."""

    nace_class: str
    strength: float  # the row's strength times ``scale``
    scale: float  # 1.0 for the most specific level, less for broader keys
    row: SectorUse

    @property
    def use(self) -> str:
        return self.row.use

    @property
    def source(self) -> str:
        return self.row.source


def read_sector_knowledge(path: Path = SECTOR_KNOWLEDGE_CSV) -> tuple[SectorUse, ...]:
    """Return every row of the table in file order, after checking each one."""
    references = read_references(path)
    numbered = _data_lines(path)
    if not numbered:
        raise SectorKnowledgeError(f"{path.name}: no header row")
    reader = csv.reader(line for _, line in numbered)
    header = tuple(next(reader))
    if header != SECTOR_COLUMNS:
        raise SectorKnowledgeError(
            f"{path.name}:{numbered[0][0]}: header {header}, want {SECTOR_COLUMNS}"
        )
    rows: list[SectorUse] = []
    seen: set[tuple[MaterialKind, str, str]] = set()
    for (line_no, _), values in zip(numbered[1:], reader, strict=True):
        row = _parse_row(f"{path.name}:{line_no}", values, references)
        identity = (row.material_kind, row.material_key, row.nace_class)
        if identity in seen:
            raise SectorKnowledgeError(f"{path.name}:{line_no}: duplicate row {identity}")
        seen.add(identity)
        rows.append(row)
    return tuple(rows)


def read_references(path: Path = SECTOR_KNOWLEDGE_CSV) -> dict[int, str]:
    """The numbered references listed in the table's ``#`` lines: number -> citation."""
    references: dict[int, str] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.startswith("#"):
                break
            found = _REFERENCE_LINE.fullmatch(line.strip())
            if found:
                references[int(found.group(1))] = found.group(2)
    return references


def _data_lines(path: Path) -> list[tuple[int, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            (number, line)
            for number, line in enumerate(handle, start=1)
            if line.strip() and not line.startswith("#")
        ]


def _parse_row(where: str, values: Sequence[str], references: dict[int, str]) -> SectorUse:
    if len(values) != len(SECTOR_COLUMNS):
        raise SectorKnowledgeError(f"{where}: {len(values)} fields, want {len(SECTOR_COLUMNS)}")
    kind_raw, key, nace, strength_raw, use, source = (value.strip() for value in values)
    try:
        kind = MaterialKind(kind_raw)
    except ValueError:
        raise SectorKnowledgeError(f"{where}: unknown material_kind {kind_raw!r}") from None
    if not _KEY_FORM[kind].fullmatch(key):
        raise SectorKnowledgeError(f"{where}: {key!r} is not a {kind} key")
    if kind is MaterialKind.CATEGORY and key not in CATEGORY_SLUGS:
        raise SectorKnowledgeError(f"{where}: unknown category slug {key!r}")
    if not _NACE_CLASS.fullmatch(nace):
        raise SectorKnowledgeError(f"{where}: {nace!r} is not a NACE class like 23.51")
    try:
        strength = float(strength_raw)
    except ValueError:
        raise SectorKnowledgeError(f"{where}: strength {strength_raw!r} is not a number") from None
    if not 0.0 < strength <= 1.0:
        raise SectorKnowledgeError(f"{where}: strength {strength} is outside (0, 1]")
    if not use:
        raise SectorKnowledgeError(f"{where}: empty use")
    row = SectorUse(kind, key, nace, strength, use, source)
    if not row.reference_numbers:
        raise SectorKnowledgeError(f"{where}: source {source!r} cites no [n] reference")
    missing = [number for number in row.reference_numbers if number not in references]
    if missing:
        raise SectorKnowledgeError(f"{where}: source cites unlisted reference(s) {missing}")
    return row


def normalize_low_code(low_code: str) -> str:
    """The digits of a List of Waste code: "10 01 02*" -> "100102"; "" when there is none."""
    return "".join(char for char in low_code if char.isdigit())


def normalize_slug(slug: str) -> str:
    return "-".join(slug.strip().lower().replace("_", " ").split())


def normalize_nace(code: str) -> str:
    """The digits of a NACE code: "C23.51" -> "2351", "23.5" -> "235", "23" -> "23"."""
    return "".join(char for char in code if char.isdigit())


def _level_scale(level: int) -> float:
    if level < len(LEVEL_SCALES):
        return LEVEL_SCALES[level]
    last = LEVEL_SCALES[-1] - LEVEL_SCALE_STEP * (level - len(LEVEL_SCALES) + 1)
    return round(max(last, LEVEL_SCALE_FLOOR), 4)


def material_keys(
    low_code: str, category_path: Sequence[str]
) -> Iterator[tuple[int, MaterialKind, str]]:
    """Yield ``(level, kind, key)`` for a material, level 0 being the most specific.

    ``category_path`` runs from the root to the leaf. A code with fewer than six digits is taken
    for the chapter or sub-chapter it spells; any other length is ignored.
    """
    digits = normalize_low_code(low_code)
    if len(digits) == 6:  # the List of Waste code forms
        yield 0, MaterialKind.CODE, digits
    if len(digits) in (4, 6):
        yield 1, MaterialKind.SUBCHAPTER, digits[:4]
    if len(digits) in (2, 4, 6):
        yield 2, MaterialKind.CHAPTER, digits[:2]
    slugs = [normalize_slug(slug) for slug in category_path if slug and slug.strip()]
    for level, slug in enumerate(reversed(slugs)):
        yield level, MaterialKind.CATEGORY, slug


class SectorIndex:
    """The sector-knowledge rows, indexed by material key for fast look-ups."""

    __slots__ = ("_by_key", "_rows")

    def __init__(self, rows: Iterable[SectorUse]) -> None:
        self._rows = tuple(rows)
        by_key: dict[tuple[MaterialKind, str], dict[str, SectorUse]] = {}
        for row in self._rows:
            bucket = by_key.setdefault((row.material_kind, row.material_key), {})
            known = bucket.get(row.nace_class)
            if known is None or row.strength > known.strength:
                bucket[row.nace_class] = row
        self._by_key = by_key

    @property
    def rows(self) -> tuple[SectorUse, ...]:
        return self._rows

    def matches(self, low_code: str, category_path: Sequence[str]) -> dict[str, SectorMatch]:
        """Every receiving NACE class with the row that decides it, best first.

        The most specific level that names a class wins for that class; within one level the
        higher scaled strength wins. Ties are ordered by NACE code.
        """
        by_level: dict[int, dict[str, SectorMatch]] = {}
        for level, kind, key in material_keys(low_code, category_path):
            scale = _level_scale(level)
            found = by_level.setdefault(level, {})
            for nace, row in self._by_key.get((kind, key), {}).items():
                candidate = SectorMatch(nace, round(row.strength * scale, 4), scale, row)
                known = found.get(nace)
                if known is None or candidate.strength > known.strength:
                    found[nace] = candidate
        result: dict[str, SectorMatch] = {}
        for level in sorted(by_level):
            for nace, match in by_level[level].items():
                result.setdefault(nace, match)
        return dict(sorted(result.items(), key=lambda item: (-item[1].strength, item[0])))

    def receivers(
        self, low_code: str, category_path: Sequence[str]
    ) -> dict[str, tuple[float, str]]:
        """NACE class -> (strength, use) for a material, best first."""
        return {
            nace: (match.strength, match.use)
            for nace, match in self.matches(low_code, category_path).items()
        }

    def sector_fit(self, low_code: str, category_path: Sequence[str], nace_class: str) -> float:
        """How typically an organisation of NACE ``nace_class`` uses the material, in [0, 1].

        A class ("23.51", "2351", "C23.51", or a national subclass "23.51.0") is looked up
        directly. A group ("23.5") or a division ("23") takes the best class below it, scaled
        down. Anything else, or no match, gives 0.0.
        """
        digits = normalize_nace(nace_class)
        if len(digits) < 2:  # a division has two digits
            return 0.0
        receivers = self.matches(low_code, category_path)
        if len(digits) >= 4:  # a class has four digits
            match = receivers.get(f"{digits[:2]}.{digits[2:4]}")
            return match.strength if match else 0.0
        prefix = f"{digits[:2]}.{digits[2:]}"  # "23." for a division, "23.5" for a group
        best = max(
            (match.strength for nace, match in receivers.items() if nace.startswith(prefix)),
            default=0.0,
        )
        scale = NACE_GROUP_SCALE if len(digits) == 3 else NACE_DIVISION_SCALE
        return round(best * scale, 4)


@cache
def default_index() -> SectorIndex:
    """The index over the table that ships with the project, read once per process."""
    return SectorIndex(read_sector_knowledge())


def receivers(low_code: str, category_path: Sequence[str]) -> dict[str, tuple[float, str]]:
    """:meth:`SectorIndex.receivers` on the shipped table."""
    return default_index().receivers(low_code, category_path)


def sector_fit(low_code: str, category_path: Sequence[str], nace_class: str) -> float:
    """:meth:`SectorIndex.sector_fit` on the shipped table."""
    return default_index().sector_fit(low_code, category_path, nace_class)
