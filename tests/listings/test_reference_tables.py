"""Tests for listings.reference_tables: pure, no database.

The project's List of Waste and R/D tables are checked for shape, then compared code for code with
the independent copies in ../shared/reference/ (skipped only when that folder is absent).

Mirror entries. ``list_of_waste.csv`` marks as mirror the pairs that the Annex to Decision
2000/532/EC writes out: a non-hazardous entry "... other than those mentioned in X" and the
hazardous entry X it names, where X qualifies the waste by what it contains ("containing",
"contaminated with/by", "consisting of", "hazardous substances", "in hazardous quantities"), and is
not hazardous by nature, named by a compound adjective ("oil-containing") or an article (discarded
equipment, transformers, cameras, batteries). The reference's ``mirror`` column (DEFRA, following
UK guidance WM3) marks the same 283 rows and 68 more that the Annex does not write as pairs:
31 hazardous entries that refer to hazardous substances but that no non-hazardous entry names, and
37 non-hazardous entries with no "other than" wording (the "not otherwise specified" 99 entries, the
plain materials of 17 01, 17 02 and 17 04, a few others). ``test_mirror_differs_from_reference_only
_by_guidance_pairs`` pins that difference.
"""

from __future__ import annotations

import ast
import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from listings import reference_tables
from listings.reference_tables import (
    LIST_OF_WASTE_CSV,
    OPERATIONS_CSV,
    OperationKind,
    OperationRow,
    ReferenceTableError,
    WasteLevel,
    WasteRow,
    normalise_low_code,
    read_list_of_waste,
    read_operations,
)

REFERENCE_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "reference"


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Rows the reference marks as mirror although the Annex names no non-hazardous counterpart for them
# (hazardous) or they do not say "other than ... mentioned in" (non-hazardous).
REFERENCE_ONLY_MIRROR_HAZARDOUS = _codes(
    "030205 040103 050701 060403 060404 060405 060701 060703 060802 061002 070413 090106 101401 "
    "110115 110198 110207 120118 140604 140605 160108 160109 160708 160709 160802 160805 160807 "
    "170204 170409 170605 190211 190808"
)
REFERENCE_ONLY_MIRROR_NON_HAZARDOUS = _codes(
    "010399 010499 010599 030299 040199 050799 060499 060799 060899 061099 070499 090199 100215 "
    "101306 110199 110299 120199 160122 160799 160801 160803 160804 170101 170102 170103 170201 "
    "170202 170203 170401 170402 170403 170404 170405 170406 170407 190299 190899"
)

_OTHER_THAN = re.compile(r"\bothers? than (?:those|that|the wastes) mentioned in (?P<refs>.+)$")
_CITED = re.compile(r"(\d\d \d\d \d\d)(?: to (\d\d \d\d \d\d))?")
_CONTENT = re.compile(
    r"(?<![-\w])(?:containing|contaminated|consisting of)\b"
    r"|\b(?:hazardous|dangerous) substances\b|\bin hazardous quantities\b"
)
_ARTICLE = re.compile(
    r"^(?:discarded (?:electrical and electronic )?equipment|transformers|single-use cameras"
    r"|batteries)\b"
)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def low() -> list[WasteRow]:
    return read_list_of_waste()


@pytest.fixture(scope="module")
def entries(low: list[WasteRow]) -> dict[str, WasteRow]:
    return {row.code: row for row in low if row.level is WasteLevel.ENTRY}


@pytest.fixture(scope="module")
def operations() -> list[OperationRow]:
    return read_operations()


@pytest.fixture(scope="module")
def reference_dir() -> Path:
    if not REFERENCE_DIR.is_dir():
        pytest.skip(f"{REFERENCE_DIR} is absent")
    return REFERENCE_DIR


@pytest.fixture(scope="module")
def reference_low(reference_dir: Path) -> dict[str, dict[str, str]]:
    return {row["code6"]: row for row in _read_csv(reference_dir / "list_of_waste.csv")}


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(line for line in handle if not line.startswith("#")))


def _named(row: WasteRow, entries: dict[str, WasteRow]) -> list[str]:
    """The entries ``row`` names in "... other than those mentioned in ..." (ranges expanded)."""
    match = _OTHER_THAN.search(row.title)
    if match is None:
        return []
    codes: list[str] = []
    for first, last in _CITED.findall(match["refs"]):
        lo, hi = first.replace(" ", ""), (last or first).replace(" ", "")
        codes += [code for code in entries if lo <= code <= hi]
    return codes


def _named_by_non_hazardous(entries: dict[str, WasteRow]) -> set[str]:
    """Hazardous entries that a non-hazardous entry names as the ones it is "other than"."""
    return {
        code
        for row in entries.values()
        if not row.hazardous
        for code in _named(row, entries)
        if entries[code].hazardous
    }


def _true(value: str) -> bool:
    assert value in ("true", "false"), value
    return value == "true"


# ---------------------------------------------------------------- List of Waste: shape


def test_list_of_waste_counts(low: list[WasteRow]) -> None:
    counts = Counter(row.level for row in low)
    assert counts == {WasteLevel.CHAPTER: 20, WasteLevel.SUBCHAPTER: 111, WasteLevel.ENTRY: 842}
    assert sum(row.hazardous for row in low) == 408


def test_chapters_are_01_to_20(low: list[WasteRow]) -> None:
    chapters = [row.code for row in low if row.level is WasteLevel.CHAPTER]
    assert chapters == [f"{n:02d}" for n in range(1, 21)]


def test_codes_keep_leading_zeros(low: list[WasteRow], entries: dict[str, WasteRow]) -> None:
    assert low[0].code == "01"
    assert low[1].code == "0101"
    assert entries["010101"].title == "wastes from mineral metalliferous excavation"
    assert all(row.code.isdecimal() and row.code.isascii() for row in low)


def test_every_entry_has_its_chapter_and_subchapter(low: list[WasteRow]) -> None:
    chapters = {row.code for row in low if row.level is WasteLevel.CHAPTER}
    subchapters = {row.code for row in low if row.level is WasteLevel.SUBCHAPTER}
    assert {code[:2] for code in subchapters} <= chapters
    for row in low:
        if row.level is WasteLevel.ENTRY:
            assert row.chapter_code in chapters, row
            assert row.subchapter_code in subchapters, row
    # every chapter and sub-chapter has something under it
    entry_codes = [row.code for row in low if row.level is WasteLevel.ENTRY]
    assert {code[:4] for code in entry_codes} == subchapters
    assert {code[:2] for code in entry_codes} == chapters


def test_rows_are_in_code_order_parents_first(low: list[WasteRow]) -> None:
    codes = [row.code for row in low]
    assert codes == sorted(codes)  # "01" < "0101" < "010101" < "0103"


def test_display_form(low: list[WasteRow], entries: dict[str, WasteRow]) -> None:
    for row in low:
        if row.level is WasteLevel.ENTRY:
            assert row.display.endswith("*") == row.hazardous, row
            assert re.fullmatch(r"\d\d \d\d \d\d\*?", row.display), row
            assert normalise_low_code(row.display) == row.code
        else:
            assert not row.hazardous
            assert not row.mirror
            assert "*" not in row.display
    assert entries["010304"].display == "01 03 04*"
    assert entries["010306"].display == "01 03 06"
    assert next(r for r in low if r.code == "0103").display == "01 03"
    assert next(r for r in low if r.code == "01").display == "01"


def test_known_entries(entries: dict[str, WasteRow]) -> None:
    assert entries["170101"].title == "concrete"
    assert not entries["170101"].hazardous
    assert entries["170605"].title == "construction materials containing asbestos"
    assert entries["170605"].hazardous
    assert entries["200301"].title == "mixed municipal waste"
    assert entries["160213"].title == (
        "discarded equipment containing hazardous components other than those mentioned in "
        "16 02 09 to 16 02 12"
    )
    assert entries["130899"].hazardous  # the one hazardous "not otherwise specified" entry
    assert [c for c, r in entries.items() if c.endswith("99") and r.hazardous] == ["130899"]


def test_titles_are_clean(low: list[WasteRow]) -> None:
    for row in low:
        assert row.title == row.title.strip()
        assert "  " not in row.title
        assert "(1)" not in row.title, row  # footnote markers dropped
        if row.level is not WasteLevel.CHAPTER:
            assert not row.title[0].isupper() or row.title.startswith("Ni-Cd"), row


def test_mirror_column_follows_the_annex_pairs(entries: dict[str, WasteRow]) -> None:
    named_by_non_hazardous = _named_by_non_hazardous(entries)
    mirror_hazardous = {
        code
        for code in named_by_non_hazardous
        if _CONTENT.search(entries[code].title) and not _ARTICLE.match(entries[code].title)
    }
    mirror_non_hazardous = {
        row.code
        for row in entries.values()
        if not row.hazardous and any(code in mirror_hazardous for code in _named(row, entries))
    }
    assert {c for c, r in entries.items() if r.mirror and r.hazardous} == mirror_hazardous
    assert {c for c, r in entries.items() if r.mirror and not r.hazardous} == mirror_non_hazardous
    assert (len(mirror_hazardous), len(mirror_non_hazardous)) == (142, 141)


@pytest.mark.parametrize(
    ("hazardous", "non_hazardous"),
    [
        ("010305", "010306"),  # tailings
        ("100211", "100212"),  # cooling-water treatment containing oil
        ("170503", "170504"),  # soil and stones
        ("170601", "170604"),  # insulation materials containing asbestos
        ("191206", "191207"),  # wood, "other than that mentioned in"
        ("161105", "161106"),  # "others than those mentioned in"
        ("100315", "100316"),  # skimmings ... in hazardous quantities
    ],
)
def test_mirror_pairs(entries: dict[str, WasteRow], hazardous: str, non_hazardous: str) -> None:
    assert entries[hazardous].hazardous
    assert entries[hazardous].mirror
    assert not entries[non_hazardous].hazardous
    assert entries[non_hazardous].mirror


@pytest.mark.parametrize(
    "code",
    [
        "010304",  # acid-generating tailings: hazardous by nature
        "010505",  # oil-containing drilling muds
        "090111",  # single-use cameras containing batteries
        "090112",
        "160213",  # discarded equipment containing hazardous components
        "160214",
        "180108",  # cytotoxic and cytostatic medicines
        "180109",
        "200136",
        "110198",  # other wastes containing hazardous substances: no named counterpart
        "170101",  # concrete: no "other than" wording
    ],
)
def test_not_mirror(entries: dict[str, WasteRow], code: str) -> None:
    assert not entries[code].mirror


# ---------------------------------------------------------------- operations: shape


def test_operations_counts_and_order(operations: list[OperationRow]) -> None:
    assert len(operations) == 28
    recovery = [op.code for op in operations if op.kind is OperationKind.RECOVERY]
    disposal = [op.code for op in operations if op.kind is OperationKind.DISPOSAL]
    assert recovery == [f"R{n}" for n in range(1, 14)]
    assert disposal == [f"D{n}" for n in range(1, 16)]
    assert [op.number for op in operations[:3]] == [1, 2, 3]


def test_operation_wording(operations: list[OperationRow]) -> None:
    by_code = {op.code: op.description for op in operations}
    assert by_code["R1"] == "Use principally as a fuel or other means to generate energy"
    assert by_code["R3"].startswith("Recycling/reclamation of organic substances")
    assert by_code["R13"].endswith("on the site where the waste is produced)")
    assert by_code["D1"] == "Deposit into or on to land (e.g. landfill, etc.)"
    assert by_code["D10"] == "Incineration on land"
    for description in by_code.values():
        assert "(*" not in description  # footnote markers dropped
        assert description[0].isupper()


# ---------------------------------------------------------------- normalise_low_code


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100102", "100102"),
        ("10 01 02", "100102"),
        ("10 01 02*", "100102"),
        ("10-01-02", "100102"),
        ("  10 01 02 * ", "100102"),
        ("010101", "010101"),
        ("01 03 04*", "010304"),
        ("170504\n", "170504"),
    ],
)
def test_normalise_low_code(text: str, expected: str) -> None:
    assert normalise_low_code(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "10",
        "1001",
        "10 01",
        "10010",
        "1001023",
        "10 01 02 03",
        "10 01 0*",
        "10_01_02",
        "10--01-02",
        "10 01 02**",
        "*100102",
        "ab cd ef",
        "10 01 O2",
        "١٠٠١٠٢",  # non-ASCII digits
    ],
)
def test_normalise_low_code_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a List of Waste code"):
        normalise_low_code(text)


# ---------------------------------------------------------------- readers reject bad files


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "table.csv"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("code,level,title\n", "header"),
        ("code,level,title,hazardous,mirror\n01,chapter,A,0,0\n0101,subchapter,B,1,0\n", "cannot"),
        (
            "code,level,title,hazardous,mirror\n01,chapter,A,0,0\n0102,subchapter,B,0,0\n"
            "010301,entry,C,0,0\n",
            "before its parent",
        ),
        ("code,level,title,hazardous,mirror\n01,chapter,A,0,0\n01,chapter,B,0,0\n", "duplicate"),
        ("code,level,title,hazardous,mirror\n1,chapter,A,0,0\n", "is not a chapter"),
        ("code,level,title,hazardous,mirror\n01,section,A,0,0\n", "bad level"),
        ("code,level,title,hazardous,mirror\n01,chapter,A,no,0\n", "want 0 or 1"),
        ("code,level,title,hazardous,mirror\n01,chapter,,0,0\n", "empty title"),
        ("code,level,title,hazardous,mirror\n01,chapter,A,0\n", "fields"),
    ],
)
def test_read_list_of_waste_rejects(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ReferenceTableError, match=message):
        read_list_of_waste(_write(tmp_path, "# comment\n" + body))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("code,kind\n", "header"),
        ("code,kind,description\nR1,disposal,X\n", "not a disposal code"),
        ("code,kind,description\nR0,recovery,X\n", "not a recovery code"),
        ("code,kind,description\nR1,recovery,X\nR1,recovery,Y\n", "duplicate"),
        ("code,kind,description\nR1,reuse,X\n", "bad kind"),
        ("code,kind,description\nD1,disposal,\n", "empty description"),
    ],
)
def test_read_operations_rejects(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ReferenceTableError, match=message):
        read_operations(_write(tmp_path, body))


def test_readers_name_the_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "# a\n# b\ncode,kind,description\nR1,recovery,X\nQ2,recovery,Y\n")
    with pytest.raises(ReferenceTableError, match=r"table\.csv:5: "):
        read_operations(path)


def test_tables_sit_beside_the_module() -> None:
    module_dir = Path(reference_tables.__file__).resolve().parent
    assert module_dir / "data" / "list_of_waste.csv" == LIST_OF_WASTE_CSV
    assert module_dir / "data" / "operations.csv" == OPERATIONS_CSV
    for path in (LIST_OF_WASTE_CSV, OPERATIONS_CSV):
        assert path.read_text(encoding="utf-8").startswith("#")  # cites its sources


def test_module_is_pure() -> None:
    tree = ast.parse(Path(reference_tables.__file__).read_text(encoding="utf-8"))
    imported = {
        name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
        )
    }
    assert imported <= {
        "__future__",
        "csv",
        "re",
        "collections",
        "dataclasses",
        "enum",
        "pathlib",
        "typing",
    }


# ---------------------------------------------------------------- against ../shared/reference


def test_same_codes_as_reference(
    entries: dict[str, WasteRow], reference_low: dict[str, dict[str, str]]
) -> None:
    assert len(reference_low) == 842
    assert set(entries) == set(reference_low)


def test_same_hazardous_flags_as_reference(
    entries: dict[str, WasteRow], reference_low: dict[str, dict[str, str]]
) -> None:
    different = {
        c for c, r in entries.items() if r.hazardous != _true(reference_low[c]["hazardous"])
    }
    assert different == set()
    for code, ref in reference_low.items():
        assert ref["code_display"] == entries[code].display


def test_same_chapters_and_subchapters_as_reference(
    low: list[WasteRow],
    entries: dict[str, WasteRow],
    reference_low: dict[str, dict[str, str]],
) -> None:
    for code, ref in reference_low.items():
        assert entries[code].chapter_code == ref["chapter_code"], code
        assert entries[code].subchapter_code == ref["subchapter_code"], code
    assert {r.code for r in low if r.level is WasteLevel.CHAPTER} == {
        ref["chapter_code"] for ref in reference_low.values()
    }
    assert {r.code for r in low if r.level is WasteLevel.SUBCHAPTER} == {
        ref["subchapter_code"] for ref in reference_low.values()
    }


def test_titles_agree_with_reference_but_for_known_wording(
    low: list[WasteRow], entries: dict[str, WasteRow], reference_low: dict[str, dict[str, str]]
) -> None:
    """Ignoring case, titles agree; the differences are documented in list_of_waste.csv."""

    def same(ours: str, theirs: str) -> bool:
        def key(title: str) -> str:
            return title.casefold().replace(" (for", "(for")

        return key(ours) == key(theirs)

    differing = {
        c for c, r in entries.items() if not same(r.title, reference_low[c]["description"])
    }
    assert differing == {"060802", "061301", "070216", "070217", "110302", "161102", "161106"}
    titles = {r.code: r.title for r in low}
    chapter_titles = {ref["chapter_code"]: ref["chapter"] for ref in reference_low.values()}
    assert {c for c, t in chapter_titles.items() if not same(titles[c], t)} == {"15"}
    # The reference gives sub-chapter 06 06 the title of 06 05 (some rows); ours is the Annex's.
    subchapter_titles: dict[str, set[str]] = {}
    for ref in reference_low.values():
        subchapter_titles.setdefault(ref["subchapter_code"], set()).add(ref["subchapter"])
    differing_subchapters = {
        c for c, ts in subchapter_titles.items() if not any(same(titles[c], t) for t in ts)
    }
    assert differing_subchapters <= {"0606"}


def test_mirror_differs_from_reference_only_by_guidance_pairs(
    entries: dict[str, WasteRow], reference_low: dict[str, dict[str, str]]
) -> None:
    ours = {c for c, r in entries.items() if r.mirror}
    theirs = {c for c, ref in reference_low.items() if _true(ref["mirror"])}
    assert (len(ours), len(theirs)) == (283, 351)
    assert ours <= theirs
    only_theirs = theirs - ours
    assert {c for c in only_theirs if entries[c].hazardous} == REFERENCE_ONLY_MIRROR_HAZARDOUS
    assert {c for c in only_theirs if not entries[c].hazardous} == (
        REFERENCE_ONLY_MIRROR_NON_HAZARDOUS
    )
    # What makes them guidance rather than Annex pairs:
    for code in REFERENCE_ONLY_MIRROR_NON_HAZARDOUS:
        assert _OTHER_THAN.search(entries[code].title) is None, code
    assert not (REFERENCE_ONLY_MIRROR_HAZARDOUS & _named_by_non_hazardous(entries))


def test_same_operations_as_reference(operations: list[OperationRow], reference_dir: Path) -> None:
    reference = {
        row["code"]: row for row in _read_csv(reference_dir / "recovery_disposal_codes.csv")
    }
    assert set(reference) == {op.code for op in operations}
    for op in operations:
        assert reference[op.code]["type"] == str(op.kind), op.code
    # Same operations, reference lightly paraphrased: the first words agree.
    for op in operations:
        assert op.description.split()[0] == reference[op.code]["description"].split()[0], op.code
