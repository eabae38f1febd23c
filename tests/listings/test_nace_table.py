"""The NACE Rev. 2 / Rev. 2.1 reference table (pure: no database)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from listings.nace_table import (
    NACE_CSV,
    NaceLevel,
    NaceRow,
    NaceTableError,
    NaceVersion,
    read_nace,
)

PARENT_LEVEL = {
    NaceLevel.DIVISION: NaceLevel.SECTION,
    NaceLevel.GROUP: NaceLevel.DIVISION,
    NaceLevel.CLASS: NaceLevel.GROUP,
}

# Classes the sector-knowledge table and the matcher rely on, with their Rev. 2 titles
# (Regulation (EC) No 1893/2006, Annex I).
KEY_REV2_CLASSES = {
    "01.13": "Growing of vegetables and melons, roots and tubers",
    "01.41": "Raising of dairy cattle",
    "10.91": "Manufacture of prepared feeds for farm animals",
    "11.05": "Manufacture of beer",
    "16.10": "Sawmilling and planing of wood",
    "17.11": "Manufacture of pulp",
    "17.12": "Manufacture of paper and paperboard",
    "19.10": "Manufacture of coke oven products",
    "19.20": "Manufacture of refined petroleum products",
    "20.15": "Manufacture of fertilisers and nitrogen compounds",
    "22.21": "Manufacture of plastic plates, sheets, tubes and profiles",
    "23.11": "Manufacture of flat glass",
    "23.32": "Manufacture of bricks, tiles and construction products, in baked clay",
    "23.51": "Manufacture of cement",
    "23.52": "Manufacture of lime and plaster",
    "23.61": "Manufacture of concrete products for construction purposes",
    "23.62": "Manufacture of plaster products for construction purposes",
    "23.63": "Manufacture of ready-mixed concrete",
    "24.10": "Manufacture of basic iron and steel and of ferro-alloys",
    "24.42": "Aluminium production",
    "35.11": "Production of electricity",
    "35.21": "Manufacture of gas",
    "35.30": "Steam and air conditioning supply",
    "36.00": "Water collection, treatment and supply",
    "37.00": "Sewerage",
    "38.11": "Collection of non-hazardous waste",
    "38.12": "Collection of hazardous waste",
    "38.21": "Treatment and disposal of non-hazardous waste",
    "38.22": "Treatment and disposal of hazardous waste",
    "38.31": "Dismantling of wrecks",
    "38.32": "Recovery of sorted materials",
    "39.00": "Remediation activities and other waste management services",
    "42.11": "Construction of roads and motorways",
    "43.11": "Demolition",
    "46.77": "Wholesale of waste and scrap",
    "49.41": "Freight transport by road",
    "50.20": "Sea and coastal freight water transport",
    "50.40": "Inland freight water transport",
    "52.10": "Warehousing and storage",
    "52.22": "Service activities incidental to water transportation",
}

# Where Rev. 2.1 (Commission Delegated Regulation (EU) 2023/137) differs in the areas above.
KEY_REV2_1 = {
    "J": "Publishing, broadcasting, and content production and distribution activities",
    "M": "Real estate activities",
    "V": "Activities of extraterritorial organisations and bodies",
    "19.20": "Manufacture of refined petroleum products and fossil fuel products",
    "20.51": "Manufacture of liquid biofuels",
    "35.11": "Production of electricity from non-renewable sources",
    "35.12": "Production of electricity from renewable sources",
    "35.40": "Activities of brokers and agents for electric power and natural gas",
    "38": "Waste collection, recovery and disposal activities",
    "38.21": "Materials recovery",
    "38.22": "Energy recovery",
    "38.23": "Other waste recovery",
    "38.31": "Incineration without energy recovery",
    "38.32": "Landfilling or permanent storage",
    "38.33": "Other waste disposal",
    "46.87": "Wholesale of waste and scrap",
    "52.31": "Intermediation service activities for freight transportation",
}


@pytest.fixture(scope="module")
def rows() -> list[NaceRow]:
    return read_nace()


def _by_code(rows: list[NaceRow], version: NaceVersion) -> dict[str, NaceRow]:
    return {row.code: row for row in rows if row.version is version}


def test_table_cites_its_sources():
    text = NACE_CSV.read_text(encoding="utf-8")
    assert text.startswith("#")
    assert "1893/2006" in text
    assert "2023/137" in text


def test_rev2_has_every_section_division_group_and_class(rows):
    counts = Counter(row.level for row in rows if row.version is NaceVersion.REV2)
    assert counts[NaceLevel.SECTION] == 21
    assert counts[NaceLevel.DIVISION] == 88
    assert counts[NaceLevel.GROUP] == 272
    assert counts[NaceLevel.CLASS] == 615


def test_rev2_1_has_every_section_division_group_and_class(rows):
    counts = Counter(row.level for row in rows if row.version is NaceVersion.REV2_1)
    assert counts[NaceLevel.SECTION] == 22
    assert counts[NaceLevel.DIVISION] == 87
    assert counts[NaceLevel.GROUP] == 287
    assert counts[NaceLevel.CLASS] == 651


def test_sections_run_a_to_u_in_rev2_and_a_to_v_in_rev2_1(rows):
    rev2 = sorted(_by_code(rows, NaceVersion.REV2).keys() & set("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    rev21 = sorted(_by_code(rows, NaceVersion.REV2_1).keys() & set("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    assert "".join(rev2) == "ABCDEFGHIJKLMNOPQRSTU"
    assert "".join(rev21) == "ABCDEFGHIJKLMNOPQRSTUV"


@pytest.mark.parametrize("version", list(NaceVersion))
def test_parent_links_resolve_within_the_version(rows, version):
    table = _by_code(rows, version)
    for row in table.values():
        if row.level is NaceLevel.SECTION:
            assert row.parent == ""
            continue
        parent = table.get(row.parent)
        assert parent is not None, f"{version} {row.code}: parent {row.parent!r} missing"
        assert parent.level is PARENT_LEVEL[row.level], row.code


@pytest.mark.parametrize("version", list(NaceVersion))
def test_every_group_and_division_has_children(rows, version):
    table = _by_code(rows, version)
    parents = {row.parent for row in table.values()}
    for row in table.values():
        if row.level is not NaceLevel.CLASS:
            assert row.code in parents, f"{version} {row.code} has no children"


def test_key_industrial_symbiosis_classes_in_rev2(rows):
    table = _by_code(rows, NaceVersion.REV2)
    for code, title in KEY_REV2_CLASSES.items():
        assert code in table, code
        assert table[code].level is NaceLevel.CLASS, code
        assert table[code].title == title, code


def test_rev2_1_changes_in_energy_and_waste(rows):
    table = _by_code(rows, NaceVersion.REV2_1)
    for code, title in KEY_REV2_1.items():
        assert code in table, code
        assert table[code].title == title, code
    assert table["58"].parent == "J"  # publishing stays in J
    assert table["61"].parent == "K"  # telecommunication moves to the new K
    assert table["68"].parent == "M"  # real estate moves from L to M


def test_titles_are_clean(rows):
    for row in rows:
        assert row.title == " ".join(row.title.split()), row
        assert "?" not in row.title, row
        assert not row.title.isupper(), row


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("3,23.51,class,Manufacture of cement,23.5", "bad version or level"),
        ("2,23.51,group,Manufacture of cement,23.5", "is not a group"),
        ("2,23.51,class,Manufacture of cement,23.6", "parent"),
        ("2,23,division,Manufacture of other non-metallic mineral products,23", "parent"),
        ("2,C,section,,", "empty title"),
    ],
)
def test_read_nace_rejects_bad_rows(tmp_path, row, message):
    path = _write(tmp_path / "nace.csv", "# c\nversion,code,level,title,parent\n" + row + "\n")
    with pytest.raises(NaceTableError, match=message):
        read_nace(path)


def test_read_nace_rejects_duplicates_but_allows_the_same_code_in_both_versions(tmp_path):
    header = "version,code,level,title,parent\n"
    ok = header + "2,C,section,Manufacturing,\n2.1,C,section,Manufacturing,\n"
    assert [row.version for row in read_nace(_write(tmp_path / "a.csv", ok))] == [
        NaceVersion.REV2,
        NaceVersion.REV2_1,
    ]
    duplicate = header + "2,C,section,Manufacturing,\n2,C,section,Manufacturing,\n"
    with pytest.raises(NaceTableError, match="duplicate"):
        read_nace(_write(tmp_path / "b.csv", duplicate))
