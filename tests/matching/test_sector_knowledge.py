"""The sector-knowledge table and its reader (pure: no database)."""

import csv
import re
from pathlib import Path

import pytest

from matching.sector_knowledge import (
    CATEGORY_SLUGS,
    SECTOR_KNOWLEDGE_CSV,
    MaterialKind,
    SectorIndex,
    SectorKnowledgeError,
    SectorUse,
    default_index,
    material_keys,
    read_references,
    read_sector_knowledge,
    receivers,
    sector_fit,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHARED_REFERENCE = PROJECT_ROOT.parent / "shared" / "reference"
LISTINGS_DATA = PROJECT_ROOT / "listings" / "data"

# The fixed category list of the brief for this table (DESIGN.md, Prospects).
FIXED_CATEGORIES = frozenset(
    {
        *("minerals", "ashes", "fly-ash", "bottom-ash", "iba", "slags", "blast-furnace-slag"),
        *("steel-slag", "gypsum", "fgd-gypsum", "construction-demolition", "foundry-sand"),
        *("dredged-sediment", "glass", "glass-cullet", "metals", "ferrous-scrap"),
        *("non-ferrous-scrap", "mill-scale", "organics", "food-residues", "spent-grain", "whey"),
        *("animal-by-products", "wood", "wood-chips", "sawdust", "paper-fibre", "paper-sludge"),
        *("sludges", "sewage-sludge", "oils-fats", "used-cooking-oil", "digestate", "biomass"),
        *("fish-residues", "chemicals", "solvents", "acids-alkalis", "catalysts"),
        *("spent-catalyst", "salts", "plastics", "plastic-scrap", "rubber", "tyres", "textiles"),
        *("sulphur", "gases", "co2", "hydrogen", "process-gas", "energy", "heat"),
        *("waste-heat-low", "steam", "hot-water", "cold", "water", "process-water"),
        *("treated-wastewater", "cooling-water", "condensate"),
    }
)
MAJOR_CHAPTERS = ("02", "03", "07", "10", "12", "15", "16", "17", "19", "20")
# NACE Rev. 2 divisions (Regulation (EC) No 1893/2006, Annex I).
NACE_DIVISIONS = frozenset(
    f"{n:02d}"
    for n in (
        *(1, 2, 3, *range(5, 10), *range(10, 34), 35, *range(36, 40), 41, 42, 43, 45, 46, 47),
        *(*range(49, 54), 55, 56, *range(58, 67), 68, *range(69, 76), *range(77, 83), 84, 85),
        *(86, 87, 88, *range(90, 100)),
    )
)


@pytest.fixture(scope="module")
def rows() -> tuple[SectorUse, ...]:
    return read_sector_knowledge()


@pytest.fixture(scope="module")
def index(rows: tuple[SectorUse, ...]) -> SectorIndex:
    return SectorIndex(rows)


# --- the table -------------------------------------------------------------------------------


def test_table_has_at_least_ninety_rows(rows):
    assert len(rows) >= 90


def test_table_every_row_cites_a_listed_reference(rows):
    references = read_references()
    assert len(references) >= 10
    assert sorted(references) == list(range(1, len(references) + 1))  # numbered [1], [2] ...
    for row in rows:
        assert row.reference_numbers, row
        assert set(row.reference_numbers) <= set(references), row


def test_table_every_reference_is_cited(rows):
    cited = {number for row in rows for number in row.reference_numbers}
    assert cited == set(read_references())


def test_table_strengths_are_in_the_unit_interval(rows):
    assert all(0.0 < row.strength <= 1.0 for row in rows)
    assert any(row.strength == 1.0 for row in rows)


def test_table_nace_classes_are_well_formed(rows):
    for row in rows:
        assert re.fullmatch(r"\d{2}\.\d{2}", row.nace_class), row
        assert row.nace_class[:2] in NACE_DIVISIONS, row


def test_table_material_keys_are_well_formed(rows):
    forms = {
        MaterialKind.CHAPTER: r"(0[1-9]|1\d|20)",
        MaterialKind.SUBCHAPTER: r"(0[1-9]|1\d|20)\d{2}",
        MaterialKind.CODE: r"(0[1-9]|1\d|20)\d{4}",
    }
    for row in rows:
        if row.material_kind is MaterialKind.CATEGORY:
            assert row.material_key in FIXED_CATEGORIES, row
        else:
            assert re.fullmatch(forms[row.material_kind], row.material_key), row


def test_table_rows_are_unique(rows):
    keys = [(row.material_kind, row.material_key, row.nace_class) for row in rows]
    assert len(keys) == len(set(keys))


def test_table_covers_every_category_and_major_chapter(rows):
    categories = {row.material_key for row in rows if row.material_kind is MaterialKind.CATEGORY}
    assert categories == FIXED_CATEGORIES
    chapters = {row.material_key[:2] for row in rows if row.material_kind != "category"}
    assert set(MAJOR_CHAPTERS) <= chapters


def test_reader_category_slugs_are_the_fixed_list():
    assert CATEGORY_SLUGS == FIXED_CATEGORIES


@pytest.mark.skipif(
    not (SHARED_REFERENCE / "list_of_waste.csv").exists(), reason="no shared reference copy"
)
def test_table_low_keys_exist_in_the_reference_list_of_waste(rows):
    with (SHARED_REFERENCE / "list_of_waste.csv").open(encoding="utf-8", newline="") as handle:
        reference = list(csv.DictReader(handle))
    known = {
        MaterialKind.CODE: {r["code6"] for r in reference},
        MaterialKind.SUBCHAPTER: {r["subchapter_code"] for r in reference},
        MaterialKind.CHAPTER: {r["chapter_code"] for r in reference},
    }
    for row in rows:
        if row.material_kind is not MaterialKind.CATEGORY:
            assert row.material_key in known[row.material_kind], row


@pytest.mark.skipif(
    not (LISTINGS_DATA / "material_categories.csv").exists(), reason="no category taxonomy"
)
def test_table_categories_exist_in_the_listings_taxonomy():
    path = LISTINGS_DATA / "material_categories.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    slugs = {row["slug"] for row in csv.DictReader(lines)}
    assert slugs >= CATEGORY_SLUGS


@pytest.mark.skipif(not (LISTINGS_DATA / "nace.csv").exists(), reason="no NACE table")
def test_table_nace_classes_exist_in_nace_rev2(rows):
    from listings.nace_table import NaceLevel, NaceVersion, read_nace

    classes = {
        r.code for r in read_nace() if r.version is NaceVersion.REV2 and r.level is NaceLevel.CLASS
    }
    assert {row.nace_class for row in rows} <= classes


# --- the reader ------------------------------------------------------------------------------


def _write_table(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "sector_knowledge.csv"
    path.write_text(
        "# A test table\n# [1] Someone (2000). A paper.\n"
        "material_kind,material_key,nace_class,strength,use,source\n" + body,
        encoding="utf-8",
    )
    return path


def test_reader_reads_a_good_table(tmp_path):
    path = _write_table(tmp_path, "code,100102,23.51,1.0,raw material,[1] p. 3\n")
    assert read_sector_knowledge(path) == (
        SectorUse(MaterialKind.CODE, "100102", "23.51", 1.0, "raw material", "[1] p. 3"),
    )
    assert read_references(path) == {1: "Someone (2000). A paper."}


@pytest.mark.parametrize(
    ("body", "message", "line"),
    [
        ("code,10010,23.51,1.0,use,[1]\n", "not a code key", 4),
        ("category,ash,23.51,1.0,use,[1]\n", "unknown category", 4),
        ("group,10,23.51,1.0,use,[1]\n", "unknown material_kind", 4),
        ("code,100102,2351,1.0,use,[1]\n", "not a NACE class", 4),
        ("code,100102,23.51,0,use,[1]\n", "outside", 4),
        ("code,100102,23.51,1.5,use,[1]\n", "outside", 4),
        ("code,100102,23.51,high,use,[1]\n", "not a number", 4),
        ("code,100102,23.51,1.0,use,ECOBA\n", "cites no", 4),
        ("code,100102,23.51,1.0,use,[2]\n", "unlisted reference", 4),
        ("code,100102,23.51,1.0,,[1]\n", "empty use", 4),
        ("code,100102,23.51,1.0,use\n", "fields", 4),
        ("code,100102,23.51,1.0,a,[1]\ncode,100102,23.51,0.5,b,[1]\n", "duplicate", 5),
    ],
)
def test_reader_rejects_bad_rows_naming_the_line(tmp_path, body, message, line):
    path = _write_table(tmp_path, body)
    with pytest.raises(SectorKnowledgeError, match=message) as caught:
        read_sector_knowledge(path)
    assert str(caught.value).startswith(f"sector_knowledge.csv:{line}:")


def test_reader_rejects_a_wrong_header(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("# [1] x\nkind,key,nace,strength,use,source\n", encoding="utf-8")
    with pytest.raises(SectorKnowledgeError, match="header"):
        read_sector_knowledge(path)


def test_shipped_table_path_is_inside_the_package():
    assert SECTOR_KNOWLEDGE_CSV.parent.name == "data"
    assert SECTOR_KNOWLEDGE_CSV.parent.parent.name == "matching"


# --- the DESIGN's examples -------------------------------------------------------------------


def _top(found: dict[str, tuple[float, str]]) -> str:
    return next(iter(found))


def test_receivers_fly_ash_goes_to_cement(index):
    assert _top(index.receivers("100102", ())) == "23.51"
    assert _top(index.receivers("10 01 02", ("minerals", "ashes", "fly-ash"))) == "23.51"
    assert _top(index.receivers("", ("minerals", "ashes", "fly-ash"))) == "23.51"
    assert index.receivers("100102", ())["23.51"][0] == 1.0


def test_receivers_fgd_gypsum_goes_to_plaster_products(index):
    assert _top(index.receivers("100105", ())) == "23.62"
    assert _top(index.receivers("10 01 05", ("minerals", "gypsum", "fgd-gypsum"))) == "23.62"
    assert _top(index.receivers("", ("minerals", "gypsum", "fgd-gypsum"))) == "23.62"


@pytest.mark.parametrize(
    ("low_code", "path"),
    [
        ("020704", ()),  # brewers' spent grain: materials unsuitable for consumption
        ("020704", ("organics", "food-residues")),  # its category in the listings taxonomy
        ("020702", ("organics", "food-residues", "spent-grain")),  # distillers' grains
        ("020799", ()),
        ("", ("organics", "food-residues", "spent-grain")),
    ],
)
def test_receivers_spent_grain_goes_to_animal_feed(index, low_code, path):
    assert _top(index.receivers(low_code, path)) == "10.91"


def test_receivers_low_temperature_heat_goes_to_greenhouses_and_heat_networks(index):
    found = index.receivers("", ("energy", "heat", "waste-heat-low"))
    assert _top(found) == "01.13"
    assert "35.30" in list(found)[:3]


@pytest.mark.parametrize(
    ("low_code", "path", "nace"),
    [
        ("", ("gases", "co2"), "01.13"),
        ("", ("minerals", "slags", "blast-furnace-slag"), "23.51"),
        ("", ("minerals", "slags", "steel-slag"), "42.11"),
        ("200125", ("organics", "oils-fats", "used-cooking-oil"), "20.59"),
        ("150107", ("minerals", "glass", "glass-cullet"), "23.13"),
        ("190112", ("minerals", "ashes", "iba"), "42.11"),
        ("170405", ("metals", "ferrous-scrap"), "24.10"),
        ("160801", ("chemicals", "catalysts", "spent-catalyst"), "24.41"),
        ("150101", (), "17.12"),
        ("", ("chemicals", "sulphur"), "20.13"),
    ],
)
def test_receivers_textbook_synergies_rank_first(index, low_code, path, nace):
    assert _top(index.receivers(low_code, path)) == nace


def test_receivers_are_sorted_best_first(index):
    strengths = [s for s, _ in index.receivers("100102", ("minerals", "ashes", "fly-ash")).values()]
    assert strengths == sorted(strengths, reverse=True)


def test_receivers_unknown_material_has_none(index):
    assert index.receivers("", ()) == {}
    assert index.receivers("999999", ("no-such-category",)) == {}


# --- the levels ------------------------------------------------------------------------------


def _row(kind: str, key: str, nace: str, strength: float, use: str = "u") -> SectorUse:
    return SectorUse(MaterialKind(kind), key, nace, strength, use, "[1]")


def test_material_keys_orders_levels_from_specific_to_broad():
    assert list(material_keys("10 01 02*", ("Minerals", "ashes", "fly_ash"))) == [
        (0, MaterialKind.CODE, "100102"),
        (1, MaterialKind.SUBCHAPTER, "1001"),
        (2, MaterialKind.CHAPTER, "10"),
        (0, MaterialKind.CATEGORY, "fly-ash"),
        (1, MaterialKind.CATEGORY, "ashes"),
        (2, MaterialKind.CATEGORY, "minerals"),
    ]
    assert list(material_keys("1001", ())) == [
        (1, MaterialKind.SUBCHAPTER, "1001"),
        (2, MaterialKind.CHAPTER, "10"),
    ]


def test_index_less_specific_keys_are_scaled_down():
    index = SectorIndex(
        [_row("chapter", "10", "42.11", 1.0), _row("subchapter", "1001", "23.63", 1.0)]
    )
    assert index.receivers("100102", ()) == {"23.63": (0.9, "u"), "42.11": (0.8, "u")}
    deep = SectorIndex([_row("category", "minerals", "23.51", 1.0)])
    assert deep.receivers("", ("minerals", "ashes", "fly-ash")) == {"23.51": (0.8, "u")}
    assert deep.receivers("", ("minerals", "a", "b", "c", "d", "e", "f")) == {"23.51": (0.5, "u")}


def test_index_most_specific_key_wins_even_when_weaker():
    index = SectorIndex(
        [
            _row("chapter", "10", "42.11", 1.0, "broad"),
            _row("code", "100102", "42.11", 0.3, "narrow"),
        ]
    )
    assert index.receivers("100102", ()) == {"42.11": (0.3, "narrow")}
    match = index.matches("100102", ())["42.11"]
    assert (match.scale, match.row.material_kind) == (1.0, MaterialKind.CODE)


def test_index_code_and_leaf_category_share_the_top_level():
    index = SectorIndex(
        [_row("code", "100202", "23.51", 0.9, "code"), _row("category", "steel-slag", "23.51", 0.4)]
    )
    assert index.receivers("100202", ("slags", "steel-slag"))["23.51"] == (0.9, "code")


def test_sector_fit_matches_classes_groups_and_divisions(index):
    assert index.sector_fit("100102", (), "23.51") == 1.0
    assert index.sector_fit("100102", (), "C23.51") == 1.0
    assert index.sector_fit("100102", (), "2351") == 1.0
    assert index.sector_fit("100102", (), "23.51.0") == 1.0  # a national subclass
    assert index.sector_fit("100102", (), "23.5") == pytest.approx(0.9)
    assert index.sector_fit("100102", (), "23") == pytest.approx(0.8)
    assert index.sector_fit("100102", (), "01.13") == 0.0
    assert index.sector_fit("100102", (), "") == 0.0
    assert index.sector_fit("100102", (), "C") == 0.0


def test_module_functions_use_the_shipped_table():
    assert default_index() is default_index()
    assert _top(receivers("100105", ())) == "23.62"
    assert sector_fit("", ("energy", "heat", "waste-heat-low"), "35.30") >= 0.9
