"""The project's List of Waste and recovery/disposal-operation tables.

Pure data access: the standard library only, no Django. The reference-data loader, the forms that
take a waste code and the matcher read it.

The tables are beside this module:

* ``data/list_of_waste.csv`` - the European List of Waste (Annex to Commission Decision 2000/532/EC
  as replaced by Decision 2014/955/EU): 20 chapters, 111 sub-chapters and 842 six-digit entries,
  each with its asterisk (``hazardous``) and whether it is one half of a mirror pair (``mirror``;
  the rule is set out in the file's header).
* ``data/operations.csv`` - the recovery operations R1-R13 (Annex II) and disposal operations
  D1-D15 (Annex I) of Directive 2008/98/EC.

Their ``#`` comment lines cite the legal texts and the public transcriptions used. The readers skip
those lines, check every row and raise :class:`ReferenceTableError`, naming the file and line, on
the first bad one.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

DATA_DIR: Final[Path] = Path(__file__).resolve().parent / "data"
LIST_OF_WASTE_CSV: Final[Path] = DATA_DIR / "list_of_waste.csv"
OPERATIONS_CSV: Final[Path] = DATA_DIR / "operations.csv"

LOW_COLUMNS: Final[tuple[str, ...]] = ("code", "level", "title", "hazardous", "mirror")
OPERATION_COLUMNS: Final[tuple[str, ...]] = ("code", "kind", "description")


class ReferenceTableError(ValueError):
    """A reference table is malformed; the message names the file and line."""


class WasteLevel(StrEnum):
    CHAPTER = "chapter"  # "10"
    SUBCHAPTER = "subchapter"  # "1001"
    ENTRY = "entry"  # "100102"


class OperationKind(StrEnum):
    RECOVERY = "recovery"  # R codes, Annex II of Directive 2008/98/EC
    DISPOSAL = "disposal"  # D codes, Annex I of Directive 2008/98/EC


_LOW_CODE_LENGTH: Final[dict[WasteLevel, int]] = {
    WasteLevel.CHAPTER: 2,
    WasteLevel.SUBCHAPTER: 4,
    WasteLevel.ENTRY: 6,
}
_OPERATION_CODE: Final[re.Pattern[str]] = re.compile(r"(?P<letter>[RD])(?P<number>[1-9][0-9]?)")
_OPERATION_LETTER: Final[dict[OperationKind, str]] = {
    OperationKind.RECOVERY: "R",
    OperationKind.DISPOSAL: "D",
}
# Two digits, three times, optionally separated by one space or hyphen each, then an optional
# asterisk (the List of Waste's mark of a hazardous entry).
_LOW_INPUT: Final[re.Pattern[str]] = re.compile(r"([0-9]{2})[ -]?([0-9]{2})[ -]?([0-9]{2})\s*\*?")


@dataclass(frozen=True, slots=True)
class WasteRow:
    """One row of the List of Waste: a chapter, a sub-chapter or a six-digit entry."""

    code: str  # digits only: "10", "1001", "100102"
    level: WasteLevel
    title: str
    hazardous: bool  # the asterisk; False for chapters and sub-chapters
    mirror: bool  # one half of a mirror pair; False for chapters and sub-chapters

    @property
    def chapter_code(self) -> str:
        return self.code[:2]

    @property
    def subchapter_code(self) -> str:
        """The sub-chapter's four digits; "" for a chapter."""
        return self.code[:4] if self.level is not WasteLevel.CHAPTER else ""

    @property
    def display(self) -> str:
        """The code as the Decision prints it: "10", "10 01", "10 01 02" or "10 01 02*"."""
        spaced = " ".join(self.code[i : i + 2] for i in range(0, len(self.code), 2))
        return f"{spaced}*" if self.hazardous else spaced


@dataclass(frozen=True, slots=True)
class OperationRow:
    """One recovery (R) or disposal (D) operation."""

    code: str  # "R1".."R13", "D1".."D15"
    kind: OperationKind
    description: str

    @property
    def number(self) -> int:
        return int(self.code[1:])


def normalise_low_code(text: str) -> str:
    """Return the six digits of a List of Waste entry code written in any usual form.

    Accepts "100102", "10 01 02", "10 01 02*" and "10-01-02" (surrounding whitespace ignored).
    Raises ValueError for anything that is not a six-digit code; the code need not exist.
    """
    match = _LOW_INPUT.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"not a List of Waste code: {text!r}; want six digits such as "
            "'100102', '10 01 02', '10 01 02*' or '10-01-02'"
        )
    return "".join(match.groups())


def read_list_of_waste(path: Path = LIST_OF_WASTE_CSV) -> list[WasteRow]:
    """Return every row of the List of Waste in file order (each chapter, then its contents)."""
    rows: list[WasteRow] = []
    seen: set[str] = set()
    for where, values in _data_rows(path, LOW_COLUMNS):
        code, level_raw, title, hazardous_raw, mirror_raw = values
        try:
            level = WasteLevel(level_raw)
        except ValueError:
            raise ReferenceTableError(f"{where}: bad level {level_raw!r}") from None
        if not (code.isdecimal() and code.isascii() and len(code) == _LOW_CODE_LENGTH[level]):
            raise ReferenceTableError(f"{where}: code {code!r} is not a {level}")
        if code in seen:
            raise ReferenceTableError(f"{where}: duplicate code {code!r}")
        if level is not WasteLevel.CHAPTER and code[: len(code) - 2] not in seen:
            raise ReferenceTableError(f"{where}: {level} {code!r} comes before its parent")
        if not title:
            raise ReferenceTableError(f"{where}: empty title")
        hazardous = _flag(where, "hazardous", hazardous_raw)
        mirror = _flag(where, "mirror", mirror_raw)
        if level is not WasteLevel.ENTRY and (hazardous or mirror):
            raise ReferenceTableError(f"{where}: a {level} cannot be hazardous or mirror")
        seen.add(code)
        rows.append(WasteRow(code, level, title, hazardous, mirror))
    return rows


def read_operations(path: Path = OPERATIONS_CSV) -> list[OperationRow]:
    """Return the recovery and disposal operations in file order."""
    rows: list[OperationRow] = []
    seen: set[str] = set()
    for where, values in _data_rows(path, OPERATION_COLUMNS):
        code, kind_raw, description = values
        try:
            kind = OperationKind(kind_raw)
        except ValueError:
            raise ReferenceTableError(f"{where}: bad kind {kind_raw!r}") from None
        match = _OPERATION_CODE.fullmatch(code)
        if match is None or match["letter"] != _OPERATION_LETTER[kind]:
            raise ReferenceTableError(f"{where}: code {code!r} is not a {kind} code")
        if code in seen:
            raise ReferenceTableError(f"{where}: duplicate code {code!r}")
        if not description:
            raise ReferenceTableError(f"{where}: empty description")
        seen.add(code)
        rows.append(OperationRow(code, kind, description))
    return rows


def _data_rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[str, list[str]]]:
    """Yield ("file:line", stripped fields) for each data row after checking the header."""
    with path.open(encoding="utf-8", newline="") as handle:
        numbered = [(n, line) for n, line in enumerate(handle, start=1) if not line.startswith("#")]
    if not numbered:
        raise ReferenceTableError(f"{path.name}: no header row")
    reader = csv.reader(line for _, line in numbered)
    header = tuple(next(reader))
    if header != columns:
        raise ReferenceTableError(f"{path.name}:{numbered[0][0]}: header {header}, want {columns}")
    for (line_no, _), values in zip(numbered[1:], reader, strict=True):
        where = f"{path.name}:{line_no}"
        if len(values) != len(columns):
            raise ReferenceTableError(f"{where}: {len(values)} fields, want {len(columns)}")
        yield where, [value.strip() for value in values]


def _flag(where: str, name: str, raw: str) -> bool:
    if raw not in ("0", "1"):
        raise ReferenceTableError(f"{where}: {name} is {raw!r}, want 0 or 1")
    return raw == "1"
