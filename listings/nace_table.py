"""The project's NACE reference table: NACE Rev. 2 and NACE Rev. 2.1.

Pure data access: the standard library only, no Django. The reference-data loader and the
sector-knowledge table of the matcher read it.

The table is ``data/nace.csv`` beside this module. Its ``#`` comment lines cite the legal texts
(Regulation (EC) No 1893/2006, Annex I, for Rev. 2; Commission Delegated Regulation (EU) 2023/137
for Rev. 2.1) and the public copies the titles were transcribed from. Both versions are complete
down to the class (four-digit) level.

:func:`read_nace` skips the comment lines, checks the form of every code against its level and
its parent, and raises :class:`NaceTableError`, naming the line, on the first bad row.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

NACE_CSV: Final[Path] = Path(__file__).resolve().parent / "data" / "nace.csv"
NACE_COLUMNS: Final[tuple[str, ...]] = ("version", "code", "level", "title", "parent")


class NaceVersion(StrEnum):
    REV2 = "2"  # Regulation (EC) No 1893/2006
    REV2_1 = "2.1"  # Commission Delegated Regulation (EU) 2023/137, from reference year 2025


class NaceLevel(StrEnum):
    SECTION = "section"
    DIVISION = "division"
    GROUP = "group"
    CLASS = "class"


_CODE_FORM: Final[dict[NaceLevel, re.Pattern[str]]] = {
    NaceLevel.SECTION: re.compile(r"[A-Z]"),
    NaceLevel.DIVISION: re.compile(r"\d{2}"),
    NaceLevel.GROUP: re.compile(r"\d{2}\.\d"),
    NaceLevel.CLASS: re.compile(r"\d{2}\.\d{2}"),
}


class NaceTableError(ValueError):
    """The NACE table is malformed; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class NaceRow:
    version: NaceVersion
    code: str  # "C", "23", "23.5", "23.51"
    level: NaceLevel
    title: str
    parent: str  # the parent's code; the section letter for a division; "" for a section


def read_nace(path: Path = NACE_CSV) -> list[NaceRow]:
    """Return every row of the NACE table in file order (each version top-down)."""
    with path.open(encoding="utf-8", newline="") as handle:
        numbered = [(n, line) for n, line in enumerate(handle, start=1) if not line.startswith("#")]
    if not numbered:
        raise NaceTableError(f"{path.name}: no header row")
    reader = csv.reader(line for _, line in numbered)
    header = tuple(next(reader))
    if header != NACE_COLUMNS:
        raise NaceTableError(f"{path.name}:{numbered[0][0]}: header {header}, want {NACE_COLUMNS}")
    rows: list[NaceRow] = []
    seen: set[tuple[NaceVersion, str]] = set()
    for (line_no, _), values in zip(numbered[1:], reader, strict=True):
        where = f"{path.name}:{line_no}"
        if len(values) != len(NACE_COLUMNS):
            raise NaceTableError(f"{where}: {len(values)} fields, want {len(NACE_COLUMNS)}")
        version_raw, code, level_raw, title, parent = (value.strip() for value in values)
        try:
            version, level = NaceVersion(version_raw), NaceLevel(level_raw)
        except ValueError:
            raise NaceTableError(f"{where}: bad version or level {values[:3]}") from None
        if not _CODE_FORM[level].fullmatch(code):
            raise NaceTableError(f"{where}: code {code!r} is not a {level}")
        if not title:
            raise NaceTableError(f"{where}: empty title")
        _check_parent(where, level, code, parent)
        if (version, code) in seen:
            raise NaceTableError(f"{where}: duplicate code {code!r} in NACE Rev. {version}")
        seen.add((version, code))
        rows.append(NaceRow(version=version, code=code, level=level, title=title, parent=parent))
    return rows


def _check_parent(where: str, level: NaceLevel, code: str, parent: str) -> None:
    """A code's parent is implied by the code itself, except a division's section."""
    if level is NaceLevel.SECTION:
        ok = parent == ""
    elif level is NaceLevel.DIVISION:
        ok = _CODE_FORM[NaceLevel.SECTION].fullmatch(parent) is not None
    elif level is NaceLevel.GROUP:
        ok = parent == code[:2]
    else:
        ok = parent == code[:4]
    if not ok:
        raise NaceTableError(f"{where}: parent {parent!r} does not fit {level} {code!r}")
