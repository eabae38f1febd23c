"""Pure tests of the candidate engine: the blocked search gives what scoring every pair gives."""

from collections.abc import Callable
from datetime import date

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching.engine import (
    Candidate,
    EngineStats,
    MatchResult,
    SpatialIndex,
    matches_for_demand,
    matches_for_offer,
    merge_top_k,
    plan_offer_chunks,
    road_km,
    road_route,
    top_k_matches,
    top_k_matches_for_offer_chunk,
)
from matching.scoring import (
    DemandBatch,
    DemandProfile,
    OfferBatch,
    OfferProfile,
    PairContext,
    pair_encoding,
    score_matrix,
    score_pair,
)
from matching.synthetic import PORTS, generate_profiles

TODAY = date(2026, 6, 1)
IntArray = np.ndarray


def _hash(oi: IntArray, dj: IntArray, salt: int) -> np.ndarray:
    """A deterministic pseudo-random number in [0, 1) per pair."""
    x = oi.astype(np.uint64) * np.uint64(2654435761) + dj.astype(np.uint64) * np.uint64(40503)
    x = (x + np.uint64(salt)) * np.uint64(0x9E3779B97F4A7C15)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def brute_force(
    offers: list[OfferProfile],
    demands: list[DemandProfile],
    *,
    k: int,
    min_score: float,
    text: Callable[[IntArray, IntArray], np.ndarray] | None = None,
    legal: Callable[[IntArray, IntArray], np.ndarray] | None = None,
    detour: float = 1.25,
) -> MatchResult:
    """Score every pair with score_matrix and select the top k per offer or per demand."""
    ob, db = OfferBatch.from_profiles(offers), DemandBatch.from_profiles(demands)
    n, m = len(ob), len(db)
    oi, dj = np.repeat(np.arange(n), m), np.tile(np.arange(m), n)
    km = road_km(ob, db, oi, dj) / 1.25 * detour
    text_values = np.zeros(n * m) if text is None else text(oi, dj)
    # The engine computes text similarity only for pairs that share a key.
    text_values = np.where(pair_encoding(ob, db).ravel() != 0, text_values, 0.0)
    legal_values = np.ones(n * m) if legal is None else legal(oi, dj)
    matrix = score_matrix(
        ob,
        db,
        distance_km=km.reshape(n, m),
        legal_score=legal_values.reshape(n, m),
        text_similarity=text_values.reshape(n, m),
        today=TODAY,
    )
    score = matrix.score.ravel()
    keep = np.flatnonzero((score >= min_score) & (score > 0))
    everything = MatchResult(
        ob.ids[oi[keep]],
        db.ids[dj[keep]],
        score[keep],
        matrix.material.ravel()[keep],
        matrix.quantity.ravel()[keep],
        matrix.distance.ravel()[keep],
        matrix.legal.ravel()[keep],
        matrix.timing.ravel()[keep],
        km[keep],
        np.zeros(keep.size, dtype=np.int8),
        stats=EngineStats(),
    )
    return merge_top_k(everything, k)


def as_dict(result: MatchResult) -> dict[tuple[int, int], Candidate]:
    return {(c.offer_id, c.demand_id): c for c in result}


def assert_same(engine: MatchResult, expected: MatchResult) -> None:
    got, want = as_dict(engine), as_dict(expected)
    assert got.keys() == want.keys()
    for pair, candidate in want.items():
        other = got[pair]
        for name in ("score", "material", "quantity", "distance", "legal", "timing"):
            assert getattr(other, name) == pytest.approx(getattr(candidate, name), abs=1e-12)
        assert other.distance_km == pytest.approx(candidate.distance_km)


@pytest.fixture(scope="module")
def small() -> tuple[list[OfferProfile], list[DemandProfile]]:
    return generate_profiles(500, 600, seed=7)


@pytest.mark.parametrize(("k", "min_score"), [(1, 0.0), (3, 0.0), (10, 0.0), (5, 0.6)])
def test_engine_equals_brute_force(
    small: tuple[list[OfferProfile], list[DemandProfile]], k: int, min_score: float
) -> None:
    offers, demands = small
    result = top_k_matches(offers, demands, k=k, min_score=min_score, today=TODAY)
    assert_same(result, brute_force(offers, demands, k=k, min_score=min_score))


def test_engine_rescoring_in_many_batches_equals_brute_force(
    small: tuple[list[OfferProfile], list[DemandProfile]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The final exact scoring goes a batch at a time: with batches of 97 pairs (a score of
    them here) the answer is the same."""
    from matching import engine

    monkeypatch.setattr(engine, "RESCORE_BATCH", 97)
    offers, demands = small
    result = top_k_matches(offers, demands, k=3, min_score=0.0, today=TODAY)
    assert len(result) > 10 * 97
    assert_same(result, brute_force(offers, demands, k=3, min_score=0.0))


def test_gathering_the_kept_pairs_of_parts_equals_concatenate_then_take() -> None:
    from dataclasses import fields

    from matching.engine import _Scored

    rng = np.random.default_rng(5)

    def part(n: int) -> _Scored:
        columns = []
        for f in fields(_Scored):
            if f.name in ("oi", "dj", "encoding"):
                columns.append(rng.integers(0, 1000, n))
            elif f.name == "mode":
                columns.append(rng.integers(0, 3, n).astype(np.int8))
            else:
                columns.append(rng.random(n))
        return _Scored(*columns)

    parts = [part(n) for n in (40, 0, 7, 120, 1)]
    keep = rng.random(168) < 0.4
    expected = _Scored.concat(parts).take(np.flatnonzero(keep))
    gathered = _Scored.gather(list(parts), keep)
    for f in fields(_Scored):
        got, want = getattr(gathered, f.name), getattr(expected, f.name)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    assert 0 < len(gathered) < 168


def test_engine_scores_far_fewer_pairs_than_all(
    small: tuple[list[OfferProfile], list[DemandProfile]],
) -> None:
    offers, demands = small
    stats = top_k_matches(offers, demands, k=5, min_score=0.0, today=TODAY).stats
    assert stats.pairs_total == len(offers) * len(demands)
    assert stats.pairs_scored <= stats.pairs_in_range <= stats.pairs_blocked
    assert stats.pairs_scored < 0.1 * stats.pairs_total
    assert stats.pairs_blocked < 0.5 * stats.pairs_total


def test_engine_with_callbacks_equals_brute_force(
    small: tuple[list[OfferProfile], list[DemandProfile]],
) -> None:
    offers, demands = small
    ob, db = OfferBatch.from_profiles(offers), DemandBatch.from_profiles(demands)
    calls: list[int] = []

    def text(oi: IntArray, dj: IntArray) -> np.ndarray:
        calls.append(oi.size)
        return _hash(oi, dj, 1)

    def legal(oi: IntArray, dj: IntArray) -> np.ndarray:
        calls.append(oi.size)
        return np.array([0.0, 0.5, 0.8, 1.0, 1.0])[(_hash(oi, dj, 2) * 5).astype(int)]

    def route(oi: IntArray, dj: IntArray) -> tuple[np.ndarray, np.ndarray]:
        calls.append(oi.size)
        return road_km(ob, db, oi, dj) / 1.25 * 1.4, np.ones(oi.size, dtype=np.int8)

    result = top_k_matches(
        offers,
        demands,
        k=4,
        min_score=0.3,
        today=TODAY,
        text_fn=text,
        legal_fn=legal,
        route_fn=route,
    )
    expected = brute_force(offers, demands, k=4, min_score=0.3, text=text, legal=legal, detour=1.4)
    assert_same(result, expected)
    assert set(result.mode_code.tolist()) == {1}
    # Vectorised: a handful of calls, each with many pairs.
    assert len(calls) < 200
    assert sum(calls) > 20 * len(calls)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(min_value=0, max_value=10_000),
    st.integers(min_value=1, max_value=120),
    st.integers(min_value=1, max_value=120),
    st.integers(min_value=1, max_value=6),
    st.sampled_from((0.0, 0.0, 0.4, 0.7)),
)
def test_engine_equals_brute_force_on_random_sets(
    seed: int, n_offers: int, n_demands: int, k: int, min_score: float
) -> None:
    offers, demands = generate_profiles(n_offers, n_demands, seed=seed)
    result = top_k_matches(offers, demands, k=k, min_score=min_score, today=TODAY)
    assert_same(result, brute_force(offers, demands, k=k, min_score=min_score))


def test_chunks_merge_to_the_full_answer(
    small: tuple[list[OfferProfile], list[DemandProfile]],
) -> None:
    offers, demands = small
    index = SpatialIndex.from_demands(demands)
    chunks = plan_offer_chunks(offers, chunk_size=90)
    assert sorted(i for chunk in chunks for i in chunk) == list(range(len(offers)))
    parts = [
        top_k_matches_for_offer_chunk(
            [offers[i] for i in chunk], index, k=3, min_score=0.0, today=TODAY
        )
        for chunk in chunks
    ]
    merged = merge_top_k(parts, 3)
    whole = top_k_matches(offers, index, k=3, min_score=0.0, today=TODAY)
    assert_same(merged, whole)
    assert merged.stats.offers == len(offers)
    assert merged.stats.demands == len(demands)


def _best_k(
    expected: MatchResult, k: int, *, offer_id: int | None = None, demand_id: int | None = None
) -> list[tuple[int, int]]:
    rows = [c for c in expected if (offer_id is None or c.offer_id == offer_id)]
    rows = [c for c in rows if demand_id is None or c.demand_id == demand_id]
    if offer_id is not None:
        rows.sort(key=lambda c: (-c.score, c.demand_id))
    else:
        rows.sort(key=lambda c: (-c.score, c.offer_id))
    return [(c.offer_id, c.demand_id) for c in rows[:k]]


def test_incremental_paths_equal_brute_force(
    small: tuple[list[OfferProfile], list[DemandProfile]],
) -> None:
    offers, demands = small
    everything = brute_force(offers, demands, k=10**6, min_score=0.0)
    demand_index = SpatialIndex.from_demands(demands)
    offer_index = SpatialIndex.from_offers(offers)
    for offer in offers[:60]:
        result = matches_for_offer(offer, demand_index, k=5, today=TODAY)
        got = [(c.offer_id, c.demand_id) for c in result]
        assert got == _best_k(everything, 5, offer_id=offer.id)
        assert list(result.score) == sorted(result.score, reverse=True)
    for demand in demands[:60]:
        result = matches_for_demand(demand, offer_index, k=5, today=TODAY)
        got = [(c.offer_id, c.demand_id) for c in result]
        assert got == _best_k(everything, 5, demand_id=demand.id)
    some = offers[3]
    every = matches_for_offer(some, demands, k=None, today=TODAY)
    assert len(every) == len(_best_k(everything, 10**6, offer_id=some.id))


def test_candidates_match_score_pair(
    small: tuple[list[OfferProfile], list[DemandProfile]],
) -> None:
    offers, demands = small
    by_id = {o.id: o for o in offers}, {d.id: d for d in demands}
    result = top_k_matches(offers, demands, k=2, min_score=0.0, today=TODAY)
    assert len(result) > 0
    for candidate in list(result)[:200]:
        o, d = by_id[0][candidate.offer_id], by_id[1][candidate.demand_id]
        ctx = PairContext(candidate.distance_km, "road", 1.0, "", 0.0)
        expected = score_pair(o, d, ctx, today=TODAY)
        assert candidate.score == pytest.approx(expected.score, abs=1e-9)
        assert expected.vetoed_by is None
        assert " km by road" in expected.explanation


def test_road_route_is_great_circle_times_detour() -> None:
    offers, demands = generate_profiles(3, 3, seed=1)
    ob, db = OfferBatch.from_profiles(offers), DemandBatch.from_profiles(demands)
    i = np.array([0, 1, 2])
    km, mode = road_route(ob, db)(i, i)
    for row in range(3):
        lat1, lon1 = np.radians([ob.lat[row], ob.lon[row]])
        lat2, lon2 = np.radians([db.lat[row], db.lon[row]])
        a = (
            np.sin((lat2 - lat1) / 2) ** 2
            + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
        )
        assert km[row] == pytest.approx(2 * 6371.0088 * np.arcsin(np.sqrt(a)) * 1.25, rel=1e-9)
    assert set(mode.tolist()) == {0}


def test_results_iterate_sort_and_report() -> None:
    offers, demands = generate_profiles(80, 80, seed=3)
    result = top_k_matches(offers, demands, k=2, min_score=0.0, today=TODAY).sorted()
    candidates = result.candidates()
    assert all(isinstance(c, Candidate) for c in candidates)
    keys = [(c.offer_id, -c.score, c.demand_id) for c in candidates]
    assert keys == sorted(keys)
    assert result.pairs() == {(c.offer_id, c.demand_id) for c in candidates}
    with pytest.raises(ValueError, match="k must be"):
        top_k_matches(offers, demands, k=0, min_score=0.0, today=TODAY)
    with pytest.raises(TypeError, match="index of demands"):
        matches_for_offer(offers[0], SpatialIndex.from_offers(offers), today=TODAY)


def test_generate_profiles_is_reproducible_and_nwe_shaped() -> None:
    first = generate_profiles(300, 200, seed=11)
    assert first == generate_profiles(300, 200, seed=11)
    offers, demands = first
    assert len(offers) == 300
    assert len(demands) == 200
    port_lat = np.array([p[1] for p in PORTS])
    port_lon = np.array([p[2] for p in PORTS])
    for listing in (*offers, *demands):
        nearest = np.min(np.hypot(port_lat - listing.lat, (port_lon - listing.lon) * 0.62))
        assert nearest < 1.0  # within about 100 km of a port
    kinds = {o.resource_type for o in offers}
    assert kinds == {"material", "energy", "water"}
    assert len({o.low_code[:4] for o in offers if o.low_code}) >= 10


def test_empty_inputs_give_empty_results() -> None:
    offers, demands = generate_profiles(5, 5, seed=1)
    for some_offers, some_demands in (([], demands), (offers, []), ([], [])):
        result = top_k_matches(some_offers, some_demands, k=3, min_score=0.0, today=TODAY)
        assert len(result) == 0
        assert result.stats.pairs_scored == 0
    assert len(matches_for_offer(offers[0], [], today=TODAY)) == 0
    assert len(matches_for_demand(demands[0], [], today=TODAY)) == 0
    assert len(merge_top_k([], 3)) == 0
