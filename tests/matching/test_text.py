"""Material text matching: thesaurus, category tree and TF-IDF similarity (pure, no database)."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import normalize

from matching.text import (
    THESAURUS_CSV,
    TextSimilarity,
    Thesaurus,
    _keys,
    load_low_titles,
)

ROOT = Path(__file__).resolve().parents[2]
CATEGORIES_CSV = ROOT / "listings" / "data" / "material_categories.csv"
REFERENCE_LOW = ROOT.parent / "shared" / "reference" / "list_of_waste.csv"

REQUIRED_TREE = {
    "minerals": None,
    "ashes": "minerals",
    "fly-ash": "ashes",
    "bottom-ash": "ashes",
    "iba": "ashes",
    "slags": "minerals",
    "blast-furnace-slag": "slags",
    "steel-slag": "slags",
    "non-ferrous-slag": "slags",
    "gypsum": "minerals",
    "fgd-gypsum": "gypsum",
    "phosphogypsum": "gypsum",
    "construction-demolition": "minerals",
    "concrete-rubble": "construction-demolition",
    "soil-stones": "construction-demolition",
    "foundry-sand": "minerals",
    "dredged-sediment": "minerals",
    "glass": "minerals",
    "glass-cullet": "glass",
    "lime-residues": "minerals",
    "metals": None,
    "ferrous-scrap": "metals",
    "non-ferrous-scrap": "metals",
    "metal-dusts-sludges": "metals",
    "mill-scale": "metals",
    "organics": None,
    "food-residues": "organics",
    "spent-grain": "food-residues",
    "whey": "food-residues",
    "fruit-veg-residues": "food-residues",
    "sugar-beet-pulp": "food-residues",
    "bakery-residues": "food-residues",
    "animal-by-products": "organics",
    "wood": "organics",
    "wood-chips": "wood",
    "sawdust": "wood",
    "paper-fibre": "organics",
    "paper-sludge": "paper-fibre",
    "recovered-paper": "paper-fibre",
    "sludges": "organics",
    "sewage-sludge": "sludges",
    "oils-fats": "organics",
    "used-cooking-oil": "oils-fats",
    "animal-fat": "oils-fats",
    "digestate": "organics",
    "biomass": "organics",
    "fish-residues": "organics",
    "chemicals": None,
    "solvents": "chemicals",
    "acids-alkalis": "chemicals",
    "catalysts": "chemicals",
    "spent-catalyst": "catalysts",
    "salts": "chemicals",
    "plastics": "chemicals",
    "plastic-scrap": "plastics",
    "rubber": "chemicals",
    "tyres": "rubber",
    "textiles": "chemicals",
    "sulphur": "chemicals",
    "gases": None,
    "co2": "gases",
    "hydrogen": "gases",
    "process-gas": "gases",
    "energy": None,
    "heat": "energy",
    "waste-heat-low": "heat",
    "steam": "heat",
    "hot-water": "heat",
    "cold": "energy",
    "water": None,
    "process-water": "water",
    "treated-wastewater": "water",
    "cooling-water": "water",
    "condensate": "water",
}

# The DESIGN's examples: companies name the same stuff differently.
SYNONYM_PAIRS = [
    ("incinerator bottom ash", "IBA"),
    ("used cooking oil", "UCO"),
    ("glass cullet", "broken container glass"),
    ("FCC catalyst fines", "spent refinery catalyst"),
]
UNRELATED_PAIRS = [
    ("fly ash", "used cooking oil"),
    ("glass cullet", "spent refinery catalyst"),
    ("IBA", "UCO"),
    ("FCC catalyst fines", "incinerator bottom ash"),
]

# A small labelled evaluation set: listing-style texts, (a, b, same_material).
# Positives name one material in different words or languages; negatives include hard cases
# that share words ("steel slag" / "blast furnace slag", "used tyres" / "used cooking oil").
LABELLED_PAIRS: list[tuple[str, str, bool]] = [
    ("Incinerator bottom ash, 20 000 t/yr from our EfW", "We take IBA for road sub-base", True),
    ("used cooking oil collected from restaurants", "UCO wanted as biodiesel feedstock", True),
    ("glass cullet, mixed colours", "broken container glass", True),
    ("FCC catalyst fines", "spent refinery catalyst from the cat cracker", True),
    ("pulverised fuel ash from a coal power station", "fly ash for ready-mix concrete", True),
    ("AVI-bodemas, 30.000 ton per jaar", "incinerator bottom ash aggregate", True),
    ("Altspeiseöl aus der Gastronomie", "gebruikt frituurvet", True),
    ("drêches de brasserie", "brewers' spent grain for cattle feed", True),
    ("REA-Gips aus Kraftwerk", "FGD gypsum for plasterboard", True),
    ("walsschilfers uit de walserij", "mill scale from the hot strip mill", True),
    ("Biertreber, nass", "wet spent grain", True),
    ("cendres volantes de centrale", "Flugasche", True),
    ("mâchefers d'incinération", "Rostasche aus der Müllverbrennung", True),
    ("surplus low-pressure steam, 6 bar", "process steam for our dryer", True),
    ("restwarmte van 40 graden", "industrial waste heat for greenhouses", True),
    ("lactosérum de fromagerie", "acid whey from cheese making", True),
    ("zuiveringsslib", "dewatered sewage sludge cake", True),
    ("Klärschlamm", "biosolids", True),
    ("staalschroot", "heavy melting scrap", True),
    ("Gärrest aus unserer Biogasanlage", "digestate", True),
    ("end-of-life tyres", "pneus usagés", True),
    ("ECAT from the FCC unit", "equilibrium catalyst", True),
    ("GGBS", "ground granulated blastfurnace slag", True),
    ("baggerspecie uit de haven", "dredged sediment from port maintenance", True),
    # inflected or compound names the thesaurus does not list verbatim
    ("Flugaschen aus dem Steinkohlekraftwerk", "pulverised fuel ash", True),
    ("bottom ashes from MSW incineration", "IBA", True),
    ("Klärschlämme", "sewage sludge", True),
    ("brewery grains", "Biertreber", True),
    ("Kupferkabelschrott", "copper scrap", True),
    ("fly ash", "used cooking oil", False),
    ("fly ash from coal combustion", "incinerator bottom ash", False),
    ("steel slag", "blast furnace slag", False),
    ("glass cullet", "spent FCC catalyst", False),
    ("sewage sludge", "paper mill sludge", False),
    ("UCO", "IBA", False),
    ("mill scale", "EAF dust", False),
    ("waste heat", "cooling water", False),
    ("spent grain", "sugar beet pulp", False),
    ("FGD gypsum", "phosphogypsum", False),
    ("whey", "used cooking oil", False),
    ("walsschilfers", "vliegas", False),
    ("Altspeiseöl", "Altholz", False),
    ("Glasscherben", "Gießereialtsand", False),
    ("surplus steam", "captured CO2", False),
    ("LDPE film offcuts", "paper sludge", False),
    ("sawdust", "sewage sludge", False),
    ("copper scrap", "copper slag", False),
    ("spent pickling acid", "spent catalyst", False),
    ("used tyres", "used cooking oil", False),
    ("treated wastewater", "waste wood", False),
    ("zinc ash from galvanising", "fly ash", False),
    ("Kupferkabelschrott", "Stahlschrott", False),
    ("waste paper", "paper mill sludge", False),
]


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(line for line in handle if not line.lstrip().startswith("#")))


@pytest.fixture(scope="module")
def thesaurus() -> Thesaurus:
    return Thesaurus.default()


@pytest.fixture(scope="module")
def similarity() -> TextSimilarity:
    return TextSimilarity.default()


@pytest.fixture(scope="module")
def categories() -> list[dict[str, str]]:
    return _read(CATEGORIES_CSV)


# ------------------------------------------------------------------------------------- thesaurus


@pytest.mark.parametrize(("a", "b"), SYNONYM_PAIRS)
def test_thesaurus_synonym_pairs_share_a_concept(thesaurus: Thesaurus, a: str, b: str) -> None:
    shared = thesaurus.concepts_in(a) & thesaurus.concepts_in(b)
    assert len(shared) == 1, (a, b, thesaurus.concepts_in(a), thesaurus.concepts_in(b))


@pytest.mark.parametrize(
    ("concept", "names"),
    [
        ("incinerator_bottom_ash", ["IBA", "bodemas", "AVI-bodemas", "mâchefer", "Rostasche"]),
        ("used_cooking_oil", ["UCO", "frituurvet", "huile alimentaire usagée", "Altspeiseöl"]),
        ("glass_cullet", ["cullet", "scherven", "calcin", "Glasscherben"]),
        ("spent_fcc_catalyst", ["spent refinery catalyst", "equilibrium catalyst", "ECAT"]),
        ("brewers_spent_grain", ["brewers' grains", "bostel", "drêches", "Biertreber"]),
        ("pulverised_fuel_ash", ["PFA", "pulverised fuel ash", "vliegas", "cendres volantes"]),
        ("pulverised_fuel_ash", ["Flugasche"]),
        ("granulated_blast_furnace_slag", ["GGBS", "hoogovenslak", "laitier", "Hüttensand"]),
        ("fgd_gypsum", ["FGD gypsum", "REA-Gips", "rookgasontzwavelingsgips", "désulfogypse"]),
        ("mill_scale", ["mill scale", "walsschilfers", "calamine", "Zunder"]),
        ("sewage_sludge", ["zuiveringsslib", "boues d'épuration", "Klärschlamm"]),
        ("digestate", ["digestaat", "digestat", "Gärreste"]),
        ("waste_heat", ["restwarmte", "chaleur fatale", "Abwärme"]),
        ("tyres", ["ELT", "autobanden", "pneus usagés", "Altreifen"]),
    ],
)
def test_thesaurus_dutch_french_german_names_map_to_one_concept(
    thesaurus: Thesaurus, concept: str, names: list[str]
) -> None:
    for name in names:
        if name == "laitier":  # alone too vague: "laitier" is any slag in French
            assert concept in thesaurus.concepts_in("laitier de haut fourneau")
            continue
        assert concept in thesaurus.concepts_in(name), name


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("Wij bieden 5000 ton AVI-bodemas per jaar aan", "incinerator_bottom_ash"),
        ("Nous cherchons des mâchefers d'incinération (sous-couche)", "incinerator_bottom_ash"),
        ("Wir suchen Altspeiseöl für unsere HVO-Anlage", "used_cooking_oil"),
        ("Surplus CO₂ from our bio-ethanol fermentation", "carbon_dioxide"),
        ("Brewer's spent grain, 80 t/week, wet", "brewers_spent_grain"),
        ("Old TYRES and used tyres, baled", "tyres"),
        ("Steam condensate return, 90 °C", "condensate"),
    ],
)
def test_thesaurus_finds_concepts_in_listing_sentences(
    thesaurus: Thesaurus, text: str, concept: str
) -> None:
    assert concept in thesaurus.concepts_in(text)


@pytest.mark.parametrize(
    "text",
    [
        "fibre",
        "Glass fibre reinforced panels",  # "IBA" must not match inside "fibre"
        "fiberglass and Fibres",
        "iba",  # an abbreviation in lower case is just letters
        "a thick fog over the harbour",  # FOG (grease) only in capitals
        "rap music",  # RAP (reclaimed asphalt) only in capitals
        "H2S from the scrubber",  # not hydrogen
        "the uco is a typo",
    ],
)
def test_thesaurus_has_no_false_hits(thesaurus: Thesaurus, text: str) -> None:
    found = thesaurus.concepts_in(text)
    assert "incinerator_bottom_ash" not in found
    assert not found & {"grease_trap_waste", "reclaimed_asphalt", "hydrogen", "used_cooking_oil"}


def test_thesaurus_prefers_the_longest_name(thesaurus: Thesaurus) -> None:
    assert thesaurus.concepts_in("incinerator bottom ash") == {"incinerator_bottom_ash"}
    assert thesaurus.concepts_in("bottom ash") == {"bottom_ash"}
    assert thesaurus.concepts_in("zinc dross") == {"zinc_ash"}
    assert thesaurus.concepts_in("basic oxygen furnace slag") == {"bof_slag"}


def test_thesaurus_every_name_finds_its_own_concept(thesaurus: Thesaurus) -> None:
    missing = [
        (c.id, term)
        for c in thesaurus.concepts.values()
        for term in c.terms
        if c.id not in thesaurus.concepts_in(term)
    ]
    assert missing == []


def test_thesaurus_no_name_belongs_to_two_concepts(thesaurus: Thesaurus) -> None:
    owners: dict[tuple[str, ...], set[str]] = {}
    for c in thesaurus.concepts.values():
        for term in c.terms:
            owners.setdefault(_keys(term), set()).add(c.id)
    assert {k: v for k, v in owners.items() if len(v) > 1} == {}


def test_thesaurus_file_is_complete_and_cited(categories: list[dict[str, str]]) -> None:
    rows = _read(THESAURUS_CSV)
    slugs = {r["slug"] for r in categories}
    assert len(rows) >= 80
    assert [k for k, n in Counter(r["concept"] for r in rows).items() if n > 1] == []
    for row in rows:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", row["concept"]), row["concept"]
        assert row["category"] in slugs, (row["concept"], row["category"])
        assert row["source"].strip(), f"{row['concept']} has no source"
        assert row["uses"].strip(), f"{row['concept']} has no uses"
        assert len(row["terms"].split("|")) >= 4, row["concept"]
    header = THESAURUS_CSV.read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("#")


def test_category_for_concept(thesaurus: Thesaurus) -> None:
    assert thesaurus.category_for_concept("incinerator_bottom_ash") == "iba"
    assert thesaurus.category_for_concept("used_cooking_oil") == "used-cooking-oil"
    assert thesaurus.category_for_concept("spent_fcc_catalyst") == "spent-catalyst"
    with pytest.raises(KeyError):
        thesaurus.category_for_concept("unobtainium")


def test_expand_appends_canonical_names(thesaurus: Thesaurus) -> None:
    assert thesaurus.expand("UCO, 20 t/month") == "UCO, 20 t/month used cooking oil"
    assert thesaurus.expand("nothing known here") == "nothing known here"


# ------------------------------------------------------------------------------- category tree


def test_categories_form_a_tree_with_the_required_slugs(categories: list[dict[str, str]]) -> None:
    parent = {r["slug"]: r["parent"] or None for r in categories}
    assert len(parent) == len(categories), "duplicate slug"
    assert 60 <= len(categories) <= 90
    for slug, expected in REQUIRED_TREE.items():
        assert slug in parent, slug
        assert parent[slug] == expected, (slug, parent[slug], expected)
    for slug, up in parent.items():
        assert up is None or up in parent, f"{slug}: unknown parent {up}"
        seen = {slug}
        while up is not None:  # walk to the root; a cycle revisits a slug
            assert up not in seen, f"cycle through {slug}"
            seen.add(up)
            up = parent[up]
    roots = {s for s, p in parent.items() if p is None}
    assert roots == {s for s, p in REQUIRED_TREE.items() if p is None}
    # Other helpers' required second level: nothing else hangs directly under a root.
    second = {s for s, p in parent.items() if p in roots}
    assert second == {s for s, p in REQUIRED_TREE.items() if p in roots}


def test_categories_columns_are_valid(categories: list[dict[str, str]]) -> None:
    resource = {r["slug"]: r["resource_type"] for r in categories}
    parent = {r["slug"]: r["parent"] for r in categories}
    for row in categories:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", row["slug"])
        assert len(row["slug"]) <= 60
        assert row["resource_type"] in {"material", "energy", "water"}
        assert 0 < len(row["name"]) <= 120
        assert len(row["low_prefixes"]) <= 400
        if row["parent"]:
            assert row["resource_type"] == resource[parent[row["slug"]]], row["slug"]
    assert resource["energy"] == "energy"
    assert resource["water"] == "water"
    assert resource["minerals"] == resource["gases"] == "material"


def test_category_low_prefixes_are_unique_and_exist(categories: list[dict[str, str]]) -> None:
    prefixes = [p for r in categories for p in r["low_prefixes"].split()]
    assert all(re.fullmatch(r"\d\d|\d{4}|\d{6}", p) for p in prefixes)
    assert [p for p, n in Counter(prefixes).items() if n > 1] == []
    fly_ash = next(r for r in categories if r["slug"] == "fly-ash")["low_prefixes"].split()
    assert {"100102", "100103", "100104", "100116", "100117", "190113", "190114"} <= set(fly_ash)
    if not REFERENCE_LOW.exists():
        pytest.skip("shared reference List of Waste not present")
    codes = {r["code6"] for r in _read(REFERENCE_LOW)}
    assert len(codes) == 842
    for p in prefixes:
        assert any(code.startswith(p) for code in codes), f"prefix {p} matches no LoW code"
    mill_scale = next(r for r in categories if r["slug"] == "mill-scale")["low_prefixes"]
    assert mill_scale == "100210"


# ----------------------------------------------------------------------------- text similarity


def test_synonyms_score_well_above_unrelated_pairs(similarity: TextSimilarity) -> None:
    syn = similarity.pairwise([a for a, _ in SYNONYM_PAIRS], [b for _, b in SYNONYM_PAIRS])
    unrelated = similarity.pairwise(
        [a for a, _ in UNRELATED_PAIRS], [b for _, b in UNRELATED_PAIRS]
    )
    print("synonym cosines", np.round(syn, 3), "unrelated", np.round(unrelated, 3))
    assert syn.min() >= 0.6
    assert unrelated.max() <= 0.25
    assert syn.min() - unrelated.max() >= 0.4


def test_matrix_agrees_with_pairwise_and_vectors_are_normalised(
    similarity: TextSimilarity,
) -> None:
    a = ["IBA", "used cooking oil", "mill scale", ""]
    b = ["incinerator bottom ash", "UCO", "Zunder", "fly ash"]
    m = similarity.matrix(a, b)
    assert m.shape == (4, 4)
    np.testing.assert_allclose(np.diag(m), similarity.pairwise(a, b), atol=1e-6)
    assert m[3].max() == 0.0  # an empty text is similar to nothing
    assert int(np.argmax(m[1])) == 1
    assert int(np.argmax(m[2])) == 2
    va = similarity.vectors(a[:3])
    np.testing.assert_allclose(np.sqrt(va.multiply(va).sum(axis=1)).A.ravel(), 1.0, atol=1e-5)
    np.testing.assert_allclose(
        similarity.pairwise(va, similarity.vectors(b[:3])), np.diag(m)[:3], atol=1e-6
    )
    with pytest.raises(ValueError, match="aligned"):
        similarity.pairwise(a, b[:2])


def test_similarity_is_fitted_on_list_of_waste_titles(similarity: TextSimilarity) -> None:
    titles = load_low_titles()
    assert len(titles) >= 800
    vocabulary = similarity.vectorizer.vocabulary_
    assert "leach" in vocabulary  # "landfill leachate" appears only in LoW titles


def _bag_of_words_cosine(pairs: list[tuple[str, str, bool]]) -> np.ndarray:
    bow = CountVectorizer(lowercase=True).fit([t for a, b, _ in pairs for t in (a, b)])
    a = normalize(bow.transform([a for a, _, _ in pairs]))
    b = normalize(bow.transform([b for _, b, _ in pairs]))
    return np.asarray(a.multiply(b).sum(axis=1)).ravel()


def _best_accuracy(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    best = (0.0, 0.0)
    for threshold in np.unique(np.concatenate([scores, [1.01]])):
        accuracy = float(np.mean((scores >= threshold) == labels))
        best = max(best, (accuracy, float(threshold)))
    return best


def test_thesaurus_char_ngrams_beat_bag_of_words_on_labelled_pairs(
    similarity: TextSimilarity,
) -> None:
    """Measure the choice, don't guess: AUC and best-threshold accuracy on labelled pairs."""
    pairs = LABELLED_PAIRS
    labels = np.array([same for _, _, same in pairs])
    assert len(pairs) >= 20
    assert labels.sum() >= 10
    assert (~labels).sum() >= 10
    left, right = [a for a, _, _ in pairs], [b for _, b, _ in pairs]

    char_only = TextSimilarity(thesaurus=similarity.thesaurus, expand=False)
    scores = {
        "bag-of-words cosine": _bag_of_words_cosine(pairs),
        "char n-gram TF-IDF": char_only.pairwise(left, right),
        "thesaurus + char n-gram": similarity.pairwise(left, right),
    }
    results = {}
    for name, s in scores.items():
        auc = float(roc_auc_score(labels, s))
        accuracy, threshold = _best_accuracy(s, labels)
        results[name] = (auc, accuracy)
        print(f"{name:26s} AUC={auc:.3f} best accuracy={accuracy:.3f} at cos>={threshold:.2f}")

    ours, bow, char = (
        results["thesaurus + char n-gram"],
        results["bag-of-words cosine"],
        results["char n-gram TF-IDF"],
    )
    assert ours[0] > bow[0] + 0.1, "thesaurus + char n-grams should clearly beat bag-of-words AUC"
    assert ours[1] > bow[1], "and its best accuracy"
    assert ours[0] >= char[0], "the thesaurus expansion should not hurt the char n-grams"
