"""Pure tests of matching.scoring: no database, no Django."""

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from matching.scoring import (
    DEFAULT_MAX_DISTANCE_KM,
    SCORING_VERSION,
    WEAK_LINK_MAX_KM,
    DemandBatch,
    DemandProfile,
    MaterialRule,
    OfferBatch,
    OfferProfile,
    PairContext,
    PairScore,
    Veto,
    Weights,
    complete_strong_encoding,
    describe_material,
    distance_score,
    explain,
    explain_pairs,
    format_low_code,
    joint_vocabulary,
    key_incidence,
    material_cap,
    material_match,
    material_pairs,
    material_structure_pairs,
    normalize_low_code,
    pair_encoding,
    score_matrix,
    score_pair,
    shares_strong_key,
    structural_match,
    vocabulary_map,
)

TODAY = date(2026, 6, 1)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Small vocabularies so that random listings often share codes, categories and concepts.
CODES = ("100101", "100102", "100105", "100201", "191204", "191205", "170101", "020304")
PREFIXES = ("10", "19", "1001", "1912", "17")
PATHS = (
    (),
    ("minerals",),
    ("minerals", "ashes"),
    ("minerals", "ashes", "fly-ash"),
    ("minerals", "ashes", "bottom-ash"),
    ("minerals", "slags"),
    ("minerals", "slags", "steel-slag"),
    ("organics", "food"),
    ("energy", "heat", "steam"),
    ("energy", "heat"),
)
SLUGS = ("minerals", "ashes", "fly-ash", "slags", "food", "heat")
CONCEPTS = ("fly_ash", "iba", "gypsum", "plastics", "steam")
SUBCHAPTER_TITLES = {"1001": "Wastes from power stations and other combustion plants"}

days = st.integers(min_value=-400, max_value=800).map(lambda n: TODAY + timedelta(days=n))


@st.composite
def windows(draw: st.DrawFn) -> tuple[date | None, date | None]:
    start = draw(st.one_of(st.none(), days))
    until = draw(st.one_of(st.none(), days))
    if start is not None and until is not None and start > until:
        start, until = until, start
    return start, until


@st.composite
def listing_fields(draw: st.DrawFn, ident: int) -> dict[str, object]:
    start, until = draw(windows())
    return {
        "id": ident,
        "resource_type": draw(st.sampled_from(("material", "material", "material", "energy"))),
        "low_code": draw(st.sampled_from(("", *CODES))),
        "category_path": draw(st.sampled_from(PATHS)),
        "concepts": frozenset(draw(st.sets(st.sampled_from(CONCEPTS), max_size=3))),
        "annual_quantity": draw(st.floats(min_value=0.5, max_value=1e5)),
        "base_unit": draw(st.sampled_from(("t", "t", "t", "MWh"))),
        "lat": draw(st.floats(min_value=49.0, max_value=54.0)),
        "lon": draw(st.floats(min_value=0.0, max_value=9.0)),
        "available_from": start,
        "available_until": until,
    }


@st.composite
def offers(draw: st.DrawFn, ident: int = 1) -> OfferProfile:
    fields = draw(listing_fields(ident))
    return OfferProfile(**fields, hazardous=draw(st.booleans()))  # type: ignore[arg-type]


@st.composite
def demands(draw: st.DrawFn, ident: int = 1) -> DemandProfile:
    fields = draw(listing_fields(ident))
    quantity = float(fields["annual_quantity"])  # type: ignore[arg-type]
    return DemandProfile(
        **fields,  # type: ignore[arg-type]
        accepted_codes=frozenset(draw(st.sets(st.sampled_from(CODES + PREFIXES), max_size=3))),
        accepted_categories=frozenset(draw(st.sets(st.sampled_from(SLUGS), max_size=2))),
        annual_quantity_min=draw(st.one_of(st.none(), st.just(quantity * 0.3))),
        max_distance_km=draw(st.one_of(st.none(), st.floats(min_value=5, max_value=800))),
        accepts_hazardous=draw(st.booleans()),
        has_permit=draw(st.booleans()),
    )


contexts = st.builds(
    PairContext,
    distance_km=st.floats(min_value=0, max_value=900),
    transport_mode=st.sampled_from(("road", "sea")),
    legal_score=st.sampled_from((0.0, 0.4, 0.7, 1.0)),
    legal_label=st.sampled_from(("", "BE→NL green-listed: Annex VII document")),
    text_similarity=st.floats(min_value=0, max_value=1),
)


def offer(**changes: object) -> OfferProfile:
    base = OfferProfile(
        id=1,
        resource_type="material",
        low_code="100102",
        category_path=("minerals", "ashes", "fly-ash"),
        concepts=frozenset({"fly_ash"}),
        annual_quantity=800.0,
        base_unit="t",
        lat=51.2,
        lon=4.4,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def demand(**changes: object) -> DemandProfile:
    base = DemandProfile(
        id=2,
        resource_type="material",
        low_code="100101",
        category_path=("minerals", "ashes", "bottom-ash"),
        concepts=frozenset({"cement"}),
        annual_quantity=1000.0,
        base_unit="t",
        lat=51.9,
        lon=4.4,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


CTX = PairContext(38.0, "road", 0.8, "BE→NL green-listed: Annex VII document", 0.0)


def test_scoring_version_is_set() -> None:
    assert SCORING_VERSION == "2026.11.2"


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------


@SETTINGS
@given(offers(), demands(), contexts)
def test_score_pair_components_and_score_in_unit_interval(
    o: OfferProfile, d: DemandProfile, ctx: PairContext
) -> None:
    result = score_pair(o, d, ctx, today=TODAY)
    for value in (
        result.score,
        result.material,
        result.quantity,
        result.distance,
        result.legal,
        result.timing,
    ):
        assert 0.0 <= value <= 1.0


@SETTINGS
@given(offers(), demands(), contexts)
def test_score_pair_any_zero_component_vetoes(
    o: OfferProfile, d: DemandProfile, ctx: PairContext
) -> None:
    result = score_pair(o, d, ctx, today=TODAY)
    components = (result.material, result.quantity, result.distance, result.legal, result.timing)
    if min(components) == 0.0:
        assert result.score == 0.0
        assert result.vetoed_by is not None
        assert result.explanation.startswith("vetoed: ")
    else:
        assert result.score > 0.0
        assert result.vetoed_by is None


@SETTINGS
@given(
    offers(),
    demands(),
    contexts,
    st.floats(min_value=0, max_value=900),
    st.floats(min_value=0, max_value=900),
)
def test_score_pair_never_increases_with_distance(
    o: OfferProfile, d: DemandProfile, ctx: PairContext, a: float, b: float
) -> None:
    near, far = sorted((a, b))
    close = score_pair(o, d, replace(ctx, distance_km=near), today=TODAY)
    distant = score_pair(o, d, replace(ctx, distance_km=far), today=TODAY)
    assert distant.distance <= close.distance
    assert distant.score <= close.score + 1e-12


@SETTINGS
@given(st.sampled_from(("material", "water", "energy")), st.floats(0, 1000), st.floats(0, 1000))
def test_distance_score_is_one_at_zero_and_monotone(resource: str, a: float, b: float) -> None:
    limit = DEFAULT_MAX_DISTANCE_KM[resource]
    assert distance_score(0.0, resource, limit) == 1.0
    near, far = sorted((a, b))
    assert distance_score(far, resource, limit) <= distance_score(near, resource, limit)


@SETTINGS
@given(offers(1), offers(2), contexts)
def test_material_structure_is_symmetric_without_accepted_sets(
    a: OfferProfile, b: OfferProfile, ctx: PairContext
) -> None:
    def as_demand(o: OfferProfile) -> DemandProfile:
        return DemandProfile(
            id=o.id,
            resource_type=a.resource_type,
            low_code=o.low_code,
            category_path=o.category_path,
            concepts=o.concepts,
            annual_quantity=o.annual_quantity,
            base_unit=o.base_unit,
            lat=o.lat,
            lon=o.lon,
        )

    b = replace(b, resource_type=a.resource_type)
    forward = material_match(a, as_demand(b), ctx.text_similarity)
    backward = material_match(b, as_demand(a), ctx.text_similarity)
    assert forward.score == pytest.approx(backward.score, abs=1e-12)
    assert forward.strong == backward.strong


@SETTINGS
@given(offers(1), demands(2), contexts)
def test_distance_component_is_symmetric(
    o: OfferProfile, d: DemandProfile, ctx: PairContext
) -> None:
    from matching.engine import road_km

    ob, db = OfferBatch.from_profiles([o]), DemandBatch.from_profiles([d])
    zero = np.zeros(1, dtype=np.int64)
    assert road_km(ob, db, zero, zero)[0] == pytest.approx(road_km(db, ob, zero, zero)[0])
    swapped = replace(d, lat=o.lat, lon=o.lon)
    moved = replace(o, lat=d.lat, lon=d.lon)
    assert (
        score_pair(o, d, ctx, today=TODAY).distance
        == score_pair(moved, swapped, ctx, today=TODAY).distance
    )


@SETTINGS
@given(
    st.lists(offers(), min_size=1, max_size=5),
    st.lists(demands(), min_size=1, max_size=5),
    st.data(),
)
def test_score_matrix_agrees_with_score_pair(
    offer_list: list[OfferProfile], demand_list: list[DemandProfile], data: st.DataObject
) -> None:
    n, m = len(offer_list), len(demand_list)
    shape = (n, m)
    cells = n * m
    distance = np.array(data.draw(st.lists(st.floats(0, 900), min_size=cells, max_size=cells)))
    legal = np.array(
        data.draw(st.lists(st.sampled_from((0.0, 0.5, 1.0)), min_size=cells, max_size=cells))
    )
    text = np.array(data.draw(st.lists(st.floats(0, 1), min_size=cells, max_size=cells)))
    matrix = score_matrix(
        OfferBatch.from_profiles(offer_list),
        DemandBatch.from_profiles(demand_list),
        distance_km=distance.reshape(shape),
        legal_score=legal.reshape(shape),
        text_similarity=text.reshape(shape),
        today=TODAY,
    )
    for i, o in enumerate(offer_list):
        for j, d in enumerate(demand_list):
            c = i * m + j
            ctx = PairContext(float(distance[c]), "road", float(legal[c]), "", float(text[c]))
            expected = score_pair(o, d, ctx, today=TODAY)
            for name in ("score", "material", "quantity", "distance", "legal", "timing"):
                got = getattr(matrix, name)[i, j]
                assert got == pytest.approx(getattr(expected, name), abs=1e-9), name


@SETTINGS
@given(st.lists(offers(), min_size=1, max_size=6), st.lists(demands(), min_size=1, max_size=6))
def test_strong_keys_find_every_strong_link_and_complete_the_encoding(
    offer_list: list[OfferProfile], demand_list: list[DemandProfile]
) -> None:
    ob, db = OfferBatch.from_profiles(offer_list), DemandBatch.from_profiles(demand_list)
    full = pair_encoding(ob, db)
    vocab = joint_vocabulary((ob, db))
    a = key_incidence(ob, vocabulary_map(ob, vocab), len(vocab), strong=True)
    b = key_incidence(db, vocabulary_map(db, vocab), len(vocab), strong=True)
    strong = np.asarray((a @ b.T).toarray(), dtype=np.int64)
    n, m = full.shape
    oi, dj = np.repeat(np.arange(n), m), np.tile(np.arange(m), n)
    structure, strong_link = material_structure_pairs(ob, db, oi, dj, full.ravel())
    shares = shares_strong_key(full.ravel(), ob.depth[oi], db.depth[dj])
    # Every strong link shares a strong key, and the strong product sees exactly those pairs.
    assert not np.any(strong_link & ~shares)
    assert np.array_equal(shares, strong.ravel() != 0)
    # Every pair with a material link shares some key.
    assert not np.any((structure > 0) & (full.ravel() == 0))
    roots = {key: i for i, key in enumerate(vocab)}
    root_o = np.array(
        [roots[f"p:{o.category_path[0]}"] if o.category_path else -1 for o in offer_list]
    )
    root_d = np.array(
        [roots[f"p:{d.category_path[0]}"] if d.category_path else -2 for d in demand_list]
    )
    same_chapter = (ob.chapter[oi] >= 0) & (ob.chapter[oi] == db.chapter[dj])
    completed = complete_strong_encoding(strong.ravel(), same_chapter, root_o[oi] == root_d[dj])
    hit = strong.ravel() != 0
    assert np.array_equal(completed[hit], full.ravel()[hit])


@SETTINGS
@given(
    st.lists(offers(), min_size=1, max_size=6),
    st.lists(demands(), min_size=1, max_size=6),
    st.floats(min_value=0.0, max_value=1.0),
)
def test_material_cap_bounds_every_pair_of_its_encoding(
    offer_list: list[OfferProfile], demand_list: list[DemandProfile], text: float
) -> None:
    """The search cuts on ``material_cap`` before it knows a pair's rows: no pair's material,
    whatever its text similarity, may exceed the cap of its strong-key product (the encoding
    the search sees before completing it) or of its full encoding."""
    ob, db = OfferBatch.from_profiles(offer_list), DemandBatch.from_profiles(demand_list)
    full = pair_encoding(ob, db).ravel()
    vocab = joint_vocabulary((ob, db))
    a = key_incidence(ob, vocabulary_map(ob, vocab), len(vocab), strong=True)
    b = key_incidence(db, vocabulary_map(db, vocab), len(vocab), strong=True)
    strong = np.asarray((a @ b.T).toarray(), dtype=np.int64).ravel()
    n, m = len(offer_list), len(demand_list)
    oi, dj = np.repeat(np.arange(n), m), np.tile(np.arange(m), n)
    structure, _ = material_structure_pairs(ob, db, oi, dj, full)
    with_text, without_text = material_pairs(structure, text), material_pairs(structure, 0.0)
    for encoding in (full, strong):
        shared = encoding != 0
        cap = material_cap(encoding, ob.depth, db.depth, text=True)
        assert np.all(with_text[shared] <= cap[shared] + 1e-12)
        cap = material_cap(encoding, ob.depth, db.depth, text=False)
        assert np.all(without_text[shared] <= cap[shared] + 1e-12)


# --------------------------------------------------------------------------------------------
# The material rules
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offer_changes", "demand_changes", "score", "rule"),
    [
        ({}, {"low_code": "100102"}, 1.0, MaterialRule.SAME_CODE),
        ({}, {"accepted_codes": frozenset({"100102"})}, 0.95, MaterialRule.ACCEPTED_CODE),
        ({}, {"accepted_codes": frozenset({"1001"})}, 0.8, MaterialRule.ACCEPTED_PREFIX),
        ({}, {"accepted_codes": frozenset({"10"})}, 0.8, MaterialRule.ACCEPTED_PREFIX),
        ({}, {}, 0.75, MaterialRule.SAME_SUBCHAPTER),
        (
            {"category_path": ()},
            {"low_code": "100201", "category_path": ()},
            0.4,
            MaterialRule.SAME_CHAPTER,
        ),
        (
            {"low_code": ""},
            {"low_code": "", "category_path": ("minerals", "ashes", "fly-ash")},
            0.9,
            MaterialRule.SAME_CATEGORY,
        ),
        (
            {"low_code": ""},
            {"low_code": "", "category_path": ("minerals", "ashes")},
            0.8,
            MaterialRule.PARENT_CATEGORY,
        ),
        (
            {"low_code": ""},
            {
                "low_code": "",
                "category_path": ("organics",),
                "accepted_categories": frozenset({"ashes"}),
            },
            0.8,
            MaterialRule.ACCEPTED_CATEGORY,
        ),
        ({"low_code": ""}, {"low_code": ""}, 0.6, MaterialRule.SAME_BRANCH),
        (
            {"low_code": ""},
            {"low_code": "", "category_path": ("minerals", "slags")},
            0.35,
            MaterialRule.SAME_FAMILY,
        ),
        (
            {"low_code": "", "category_path": ()},
            {"low_code": "", "category_path": (), "concepts": frozenset({"fly_ash"})},
            0.9,
            MaterialRule.SYNONYM,
        ),
    ],
)
def test_material_rules(
    offer_changes: dict[str, object],
    demand_changes: dict[str, object],
    score: float,
    rule: MaterialRule,
) -> None:
    match = material_match(offer(**offer_changes), demand(**demand_changes))
    assert match.score == pytest.approx(score)
    assert match.rule == rule


def test_shared_sub_chapter_does_not_link_different_families() -> None:
    """19 12 05 glass cullet and 19 12 02 ferrous scrap share a sub-chapter (mechanical
    treatment), not a material: with both categories known and different at the top level, the
    code link does not count, in score_pair and in score_matrix alike."""
    glass = offer(
        low_code="191205",
        category_path=("minerals", "glass", "glass-cullet"),
        concepts=frozenset(),
    )
    scrap = demand(
        low_code="191202", category_path=("metals", "ferrous-scrap"), concepts=frozenset()
    )
    near = replace(CTX, distance_km=10.0)
    assert material_match(glass, scrap).score == 0.0
    pair = score_pair(glass, scrap, near, today=TODAY)
    assert pair.score == 0.0
    assert pair.vetoed_by == Veto.MATERIAL
    matrix = score_matrix(
        OfferBatch.from_profiles([glass]),
        DemandBatch.from_profiles([scrap]),
        distance_km=10.0,
        legal_score=0.8,
        text_similarity=0.0,
        today=TODAY,
    )
    assert matrix.material[0, 0] == 0.0
    # The same codes without categories (or within one family) still link by sub-chapter.
    unknown = material_match(replace(glass, category_path=()), scrap)
    assert (unknown.score, unknown.rule) == (0.75, MaterialRule.SAME_SUBCHAPTER)
    same_family = replace(scrap, category_path=("minerals", "glass"), low_code="191202")
    assert material_match(glass, same_family).score >= 0.75


def test_text_alone_links_and_text_lifts() -> None:
    o = offer(low_code="", category_path=(), concepts=frozenset())
    d = demand(low_code="", category_path=(), concepts=frozenset())
    assert material_match(o, d, 0.2).score == 0.0
    alone = material_match(o, d, 0.5)
    assert alone.rule == MaterialRule.SIMILAR_TEXT
    assert alone.score == pytest.approx(0.4 + 0.2 * 0.5 * 0.6)
    lifted = material_match(offer(), demand(), 0.5)
    assert lifted.score == pytest.approx(0.75 + 0.2 * 0.5 * 0.25)


def test_weak_links_count_only_within_50_km() -> None:
    o = offer(category_path=())
    d = demand(low_code="100201", category_path=())
    near = score_pair(o, d, replace(CTX, distance_km=WEAK_LINK_MAX_KM), today=TODAY)
    far = score_pair(o, d, replace(CTX, distance_km=WEAK_LINK_MAX_KM + 1), today=TODAY)
    assert near.material == pytest.approx(0.4)
    assert far.material == 0.0
    assert far.vetoed_by == Veto.MATERIAL
    assert "only a weak material link (same chapter 10)" in far.explanation
    strong = score_pair(offer(), demand(), replace(CTX, distance_km=300), today=TODAY)
    assert strong.material == pytest.approx(0.75)


# --------------------------------------------------------------------------------------------
# Hard filters
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offer_changes", "demand_changes", "ctx_changes", "veto"),
    [
        (
            {"resource_type": "water", "base_unit": "m3"},
            {},
            {},
            Veto.RESOURCE_TYPE,
        ),
        ({}, {"base_unit": "m3"}, {}, Veto.UNIT),
        (
            {"low_code": "020304", "category_path": (), "concepts": frozenset()},
            {},
            {},
            Veto.MATERIAL,
        ),
        ({}, {}, {"distance_km": 501.0}, Veto.DISTANCE),
        ({}, {"max_distance_km": 30.0}, {}, Veto.DISTANCE),
        ({"hazardous": True}, {"accepts_hazardous": True}, {}, Veto.HAZARDOUS),
        ({"hazardous": True}, {"has_permit": True}, {}, Veto.HAZARDOUS),
        ({}, {}, {"legal_score": 0.0, "legal_label": "GB→NL prohibited"}, Veto.LEGAL),
        ({"available_until": TODAY - timedelta(days=1)}, {}, {}, Veto.EXPIRED),
        (
            {"available_from": TODAY + timedelta(days=100)},
            {"available_until": TODAY + timedelta(days=50)},
            {},
            Veto.TIMING,
        ),
    ],
)
def test_each_hard_filter_vetoes(
    offer_changes: dict[str, object],
    demand_changes: dict[str, object],
    ctx_changes: dict[str, object],
    veto: Veto,
) -> None:
    result = score_pair(
        offer(**offer_changes), demand(**demand_changes), replace(CTX, **ctx_changes), today=TODAY
    )
    assert result.score == 0.0
    assert result.vetoed_by == veto


def test_energy_defaults_to_a_few_km() -> None:
    heat_offer = offer(
        resource_type="energy", base_unit="MWh", low_code="", category_path=("energy", "heat")
    )
    heat_demand = demand(
        resource_type="energy", base_unit="MWh", low_code="", category_path=("energy", "heat")
    )
    assert score_pair(heat_offer, heat_demand, replace(CTX, distance_km=8), today=TODAY).score > 0
    far = score_pair(heat_offer, heat_demand, replace(CTX, distance_km=12), today=TODAY)
    assert far.vetoed_by == Veto.DISTANCE


def test_hazardous_offer_passes_with_acceptance_and_permit() -> None:
    result = score_pair(
        offer(hazardous=True), demand(accepts_hazardous=True, has_permit=True), CTX, today=TODAY
    )
    assert result.vetoed_by is None


def test_quantity_and_timing() -> None:
    full = score_pair(offer(annual_quantity=2000), demand(), CTX, today=TODAY)
    assert full.quantity == 1.0
    half = score_pair(offer(annual_quantity=500), demand(), CTX, today=TODAY)
    assert half.quantity == pytest.approx(0.5**0.5)
    below = score_pair(
        offer(annual_quantity=500), demand(annual_quantity_min=600), CTX, today=TODAY
    )
    assert below.quantity == pytest.approx(0.5 * 0.5**0.5)
    tiny = score_pair(offer(annual_quantity=10), demand(), CTX, today=TODAY)
    assert tiny.quantity == pytest.approx(0.01**0.5 * 0.5)
    later = score_pair(
        offer(available_from=TODAY + timedelta(days=365)), demand(), CTX, today=TODAY
    )
    assert later.timing == pytest.approx(np.exp(-1.0))
    assert score_pair(offer(), demand(), CTX, today=TODAY).timing == 1.0


def test_weights_are_validated_and_normalised() -> None:
    with pytest.raises(ValueError, match="positive"):
        Weights(material=0.0)
    assert sum(Weights(material=2, distance=2, quantity=2, legal=2, timing=2).normalised()) == 1.0


def test_profiles_are_validated() -> None:
    with pytest.raises(ValueError, match="low_code"):
        offer(low_code="10 01 02")
    with pytest.raises(ValueError, match="resource type"):
        offer(resource_type="steam")
    with pytest.raises(ValueError, match="accepted code"):
        demand(accepted_codes=frozenset({"100"}))
    with pytest.raises(ValueError, match="annual_quantity"):
        offer(annual_quantity=0.0)
    assert normalize_low_code("10 01 02*") == "100102"
    assert format_low_code("100102") == "10 01 02"


# --------------------------------------------------------------------------------------------
# Explanations
# --------------------------------------------------------------------------------------------


def test_explanation_names_each_component() -> None:
    result = score_pair(offer(), demand(), CTX, today=TODAY, subchapter_titles=SUBCHAPTER_TITLES)
    assert result.explanation == (
        "same sub-chapter 10 01 (wastes from power stations and other combustion plants); "
        "38 km by road; covers 80% of the demand; BE→NL green-listed: Annex VII document"
    )
    assert explain(offer(), demand(), CTX, result, subchapter_titles=SUBCHAPTER_TITLES) == (
        result.explanation
    )


@pytest.mark.parametrize(
    ("offer_changes", "demand_changes", "text", "phrase"),
    [
        ({}, {"low_code": "100102"}, 0.0, "same code 10 01 02"),
        ({}, {"accepted_codes": frozenset({"100102"})}, 0.0, "accepted code 10 01 02"),
        ({}, {}, 0.0, "same sub-chapter 10 01"),
        (
            {"low_code": ""},
            {"low_code": "", "category_path": ("minerals", "ashes", "fly-ash")},
            0.0,
            "same category fly-ash",
        ),
        (
            {"low_code": ""},
            {"low_code": "", "category_path": ("minerals", "ashes")},
            0.0,
            "category ashes includes fly-ash",
        ),
        (
            {"low_code": "", "category_path": ()},
            {"low_code": "", "category_path": (), "concepts": frozenset({"fly_ash"})},
            0.0,
            "synonym fly_ash",
        ),
        (
            {"low_code": "", "category_path": (), "concepts": frozenset()},
            {"low_code": "", "category_path": ()},
            0.62,
            "similar description (0.62 text similarity)",
        ),
    ],
)
def test_describe_material_names_the_rule(
    offer_changes: dict[str, object], demand_changes: dict[str, object], text: float, phrase: str
) -> None:
    assert describe_material(offer(**offer_changes), demand(**demand_changes), text) == phrase


def test_explanation_phrases_for_quantity_timing_and_vetoes() -> None:
    tiny = score_pair(offer(annual_quantity=10), demand(), CTX, today=TODAY)
    assert "covers only 1% of the demand: not worth a truck" in tiny.explanation
    later = score_pair(offer(available_from=TODAY + timedelta(days=90)), demand(), CTX, today=TODAY)
    assert "available in about 3 months" in later.explanation
    far = score_pair(offer(), demand(), replace(CTX, distance_km=620), today=TODAY)
    assert far.explanation.startswith("vetoed: 620 km exceeds the demand's 500 km limit")
    banned = score_pair(
        offer(), demand(), replace(CTX, legal_score=0, legal_label="GB→NL disposal"), today=TODAY
    )
    assert banned.explanation.startswith("vetoed: shipment prohibited (GB→NL disposal)")
    by_sea = score_pair(offer(), demand(), replace(CTX, transport_mode="sea"), today=TODAY)
    assert "38 km by sea" in by_sea.explanation


@SETTINGS
@given(offers(), demands(), contexts)
def test_explanation_is_plain_text(o: OfferProfile, d: DemandProfile, ctx: PairContext) -> None:
    assume(o.resource_type == d.resource_type)
    text = score_pair(o, d, ctx, today=TODAY).explanation
    assert text
    assert "\n" not in text


@SETTINGS
@given(
    st.lists(offers(), min_size=1, max_size=4),
    st.lists(demands(), min_size=1, max_size=4),
    st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), contexts), min_size=1, max_size=12),
)
def test_explain_pairs_agrees_with_explain(
    offer_list: list[OfferProfile],
    demand_list: list[DemandProfile],
    picks: list[tuple[int, int, PairContext]],
) -> None:
    """The bulk explanations of a full rematch use the same words as ``explain``."""
    oi = np.array([i % len(offer_list) for i, _, _ in picks], dtype=np.int64)
    dj = np.array([j % len(demand_list) for _, j, _ in picks], dtype=np.int64)
    ctxs = [ctx for _, _, ctx in picks]
    scored = [
        score_pair(offer_list[i], demand_list[j], ctx, today=TODAY)
        for i, j, ctx in zip(oi.tolist(), dj.tolist(), ctxs, strict=True)
    ]
    expected = [
        explain(
            offer_list[i],
            demand_list[j],
            ctx,
            PairScore(s.score, s.material, s.quantity, s.distance, s.legal, s.timing, None, ""),
            subchapter_titles=SUBCHAPTER_TITLES,
        )
        for i, j, ctx, s in zip(oi.tolist(), dj.tolist(), ctxs, scored, strict=True)
    ]
    got = explain_pairs(
        offer_list,
        demand_list,
        oi,
        dj,
        material=np.array([s.material for s in scored]),
        quantity=np.array([s.quantity for s in scored]),
        timing=np.array([s.timing for s in scored]),
        distance_km=np.array([c.distance_km for c in ctxs]),
        transport_mode=[c.transport_mode for c in ctxs],
        legal_label=[c.legal_label for c in ctxs],
        text_similarity=np.array([c.text_similarity for c in ctxs]),
        structural=[
            structural_match(offer_list[i], demand_list[j])
            for i, j in zip(oi.tolist(), dj.tolist(), strict=True)
        ],
        structural_of=np.arange(oi.size),
        subchapter_titles=SUBCHAPTER_TITLES,
    )
    assert got == expected
