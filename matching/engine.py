"""Candidate generation for matching: never scores every pair, and loses nothing.

Pure: NumPy and SciPy only, no Django, no I/O, no clock, no randomness.

1. **Block by resource type and base unit.** Offers meet only demands of the same pair.
2. **Block by material key.** Every listing emits keys: its List of Waste chapter, sub-chapter
   and code, each prefix of its category path, each slug on it, each thesaurus concept, and for
   a demand the codes, prefixes and categories it accepts (see ``matching.scoring``). A pair is
   a candidate only if it shares a key; a sparse product listings × keys × listings finds those
   pairs once each and yields the packed encoding the scorer reads. Every pair that can score
   > 0 shares a key, except pairs whose only evidence is description similarity (``text_fn``
   runs on candidates only; the thesaurus concepts are the engine's channel for synonyms).
3. **Block by space, nearest first.** Listings sit in ``cKDTree``s on unit-sphere xyz, and the
   key product runs only inside ball queries (64 listings at a time, KD-tree order).
   - *Pass 1*: every pair within 75 km (``NEAR_KM``), or within the demand's maximum when
     that is shorter (heat, water), on all keys. The weak keys (same chapter, same family)
     matter only here: beyond 50 km a pair joined by nothing stronger scores 0.
   - After pass 1, each offer and each demand with k pairs has a floor, its k-th best score.
     Distance alone caps a score: score <= exp(-w_distance × km / scale), with every other
     component at most 1. So a pair farther than the radius at which that cap falls below both
     floors (and below ``min_score``) cannot enter either top k.
   - *Pass 2*: strong keys only, in the ring between 75 km and that radius: first around
     each offer whose radius exceeds 75 km, then around each such demand for the pairs the
     offer's own ring did not cover. A listing with fewer than k pairs searches up to the
     demand's maximum. The rings never overlap, so every pair is scored at most once.
   Distances are cut on the chord, which is never longer than the great-circle distance, which
   is never longer than the route.
4. **Prune by an upper bound** before the callbacks: a pair that could not reach ``min_score``
   with text similarity 1, legal score 1 and the chord distance is dropped.
5. **Score** the survivors as arrays with the same functions as ``scoring.score_matrix``,
   calling ``text_fn``, ``route_fn`` and ``legal_fn`` once per batch of pairs.
6. **Keep the top k** per offer *and* per demand (a pair is kept if it is in either), with
   ``score >= min_score`` and > 0. Ties go to the smaller id of the other side.

The result equals scoring every pair with ``score_matrix`` and selecting (a test holds it).
Callback indices: ``offer_idx`` and ``demand_idx`` are positions in the sequences (or index)
the caller passed. ``route_fn`` must never return less than the great-circle distance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import date
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.spatial import cKDTree

from matching.scoring import (
    DEFAULT_WEIGHTS,
    DISTANCE_SCALE_KM,
    EARTH_RADIUS_KM,
    WEAK_LINK_MAX_KM,
    BoolArray,
    DemandBatch,
    DemandProfile,
    FloatArray,
    IntArray,
    ListingBatch,
    OfferBatch,
    OfferProfile,
    ResourceType,
    Weights,
    _log,
    combine_pairs,
    complete_strong_encoding,
    distance_pairs,
    key_incidence,
    legal_pairs,
    material_pairs,
    material_structure_pairs,
    quantity_pairs,
    timing_pairs,
    vocabulary_map,
    weak_link_pairs,
)

ModeArray = npt.NDArray[np.integer]
RouteFn = Callable[[IntArray, IntArray], tuple[FloatArray, ModeArray]]
LegalFn = Callable[[IntArray, IntArray], FloatArray]
TextFn = Callable[[IntArray, IntArray], FloatArray]

ROAD_DETOUR: Final = 1.25  # road km per great-circle km
ROAD_MODE: Final = 0  # index of "road" in harbors.logistics.MODE_CODES
NEAR_KM: Final = 75.0  # pass 1 radius; at least WEAK_LINK_MAX_KM
CHUNK: Final = 1024  # listings per chunk of a pass
BALL_CHUNK: Final = 64  # listings per ball query
PENDING_LIMIT: Final = 1 << 21  # pending entries per side before a top-k reduction
_SLACK: Final = 1e-9


def _chord(km: FloatArray | float) -> FloatArray:
    """Unit-sphere chord of a great-circle distance in km (monotone, capped at half a turn)."""
    angle = np.minimum(np.asarray(km, dtype=np.float64), math.pi * EARTH_RADIUS_KM)
    return np.asarray(2.0 * np.sin(angle / EARTH_RADIUS_KM / 2.0))


def _reach2(km: FloatArray) -> FloatArray:
    """Squared chord of a reach in km, widened a hair so that rounding never loses a pair."""
    return np.asarray(_chord(km) ** 2 * (1 + _SLACK) + _SLACK)


_NEAR2: Final = float(_reach2(np.array(NEAR_KM)))
_NEAR_CHORD: Final = math.sqrt(_NEAR2)
if NEAR_KM < WEAK_LINK_MAX_KM:  # pass 2 skips the weak keys
    raise ValueError("NEAR_KM must be at least WEAK_LINK_MAX_KM")


def _chord2(a: ListingBatch, b: ListingBatch, ai: IntArray, bj: IntArray) -> FloatArray:
    """Squared unit-sphere chord between rows ``ai`` of ``a`` and ``bj`` of ``b``."""
    d2 = (a.x[ai] - b.x[bj]) ** 2
    d2 += (a.y[ai] - b.y[bj]) ** 2
    d2 += (a.z[ai] - b.z[bj]) ** 2
    return d2


def _great_circle_km(d2: FloatArray) -> FloatArray:
    return np.asarray(2.0 * EARTH_RADIUS_KM * np.arcsin(np.minimum(np.sqrt(d2) / 2.0, 1.0)))


def road_km(offers: ListingBatch, demands: ListingBatch, oi: IntArray, dj: IntArray) -> FloatArray:
    """Great-circle km × 1.25 between offer rows and demand rows."""
    return _great_circle_km(_chord2(offers, demands, oi, dj)) * ROAD_DETOUR


def road_route(offers: ListingBatch, demands: ListingBatch) -> RouteFn:
    """The default ``route_fn``: great-circle km × 1.25, by road."""

    def route(offer_idx: IntArray, demand_idx: IntArray) -> tuple[FloatArray, ModeArray]:
        km = road_km(offers, demands, offer_idx, demand_idx)
        return km, np.full(km.shape, ROAD_MODE, dtype=np.int8)

    return route


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    offer_id: int
    demand_id: int
    score: float
    material: float
    quantity: float
    distance: float
    legal: float
    timing: float
    distance_km: float
    mode_code: int


@dataclass(frozen=True, slots=True)
class EngineStats:
    """Counters of one run. ``pairs_total`` is N × M; the rest count pairs at each stage."""

    offers: int = 0
    demands: int = 0
    pairs_total: int = 0
    pairs_blocked: int = 0  # share a material key (weak keys: within the 50 km ball)
    pairs_in_range: int = 0  # also within the demand's maximum distance (chord)
    pairs_routed: int = 0  # passed the cheap vetoes and the upper bound: callbacks ran
    pairs_scored: int = 0  # fully scored
    pairs_above_min: int = 0
    chunks: int = 0

    def merged(self, other: EngineStats) -> EngineStats:
        """Sum over disjoint offer chunks (``demands`` is the larger, not the sum)."""
        values = {f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        values["demands"] = max(self.demands, other.demands)
        return EngineStats(**values)


_COLUMNS: Final = (
    "offer_id",
    "demand_id",
    "score",
    "material",
    "quantity",
    "distance",
    "legal",
    "timing",
    "distance_km",
    "mode_code",
)


@dataclass(frozen=True, slots=True, eq=False)
class MatchResult:
    """Kept pairs as columns, plus the counters.

    Iterating yields ``Candidate`` objects; for bulk writes read the arrays directly.
    """

    offer_id: IntArray
    demand_id: IntArray
    score: FloatArray
    material: FloatArray
    quantity: FloatArray
    distance: FloatArray
    legal: FloatArray
    timing: FloatArray
    distance_km: FloatArray
    mode_code: npt.NDArray[np.int8]
    stats: EngineStats

    def __len__(self) -> int:
        return int(self.offer_id.shape[0])

    def __iter__(self) -> Iterator[Candidate]:
        columns = [getattr(self, name).tolist() for name in _COLUMNS]
        for row in zip(*columns, strict=True):
            yield Candidate(*row)

    def candidates(self) -> list[Candidate]:
        return list(self)

    def pairs(self) -> set[tuple[int, int]]:
        return set(zip(self.offer_id.tolist(), self.demand_id.tolist(), strict=True))

    def take(self, index: IntArray, stats: EngineStats | None = None) -> MatchResult:
        arrays = [getattr(self, name)[index] for name in _COLUMNS]
        return MatchResult(*arrays, stats=self.stats if stats is None else stats)

    @staticmethod
    def concat(results: Sequence[MatchResult], stats: EngineStats) -> MatchResult:
        if not results:
            return _empty_result(stats)
        arrays = [np.concatenate([getattr(r, name) for r in results]) for name in _COLUMNS]
        return MatchResult(*arrays, stats=stats)


def _empty_result(stats: EngineStats) -> MatchResult:
    f, i = np.zeros(0), np.zeros(0, dtype=np.int64)
    return MatchResult(i, i, f, f, f, f, f, f, f, np.zeros(0, dtype=np.int8), stats=stats)


_BUCKETS: Final = 64


def _top_k_candidates(group: IntArray, n_groups: int, score: FloatArray, k: int) -> IntArray:
    """Positions that may be in the top k of their group (a superset, in O(n)).

    Scores in [0, 1] fall into 64 buckets; per group, everything from the bucket holding the
    k-th best upwards is kept, so the k best (and anything tied with the k-th) survive.
    """
    rank = _BUCKETS - 1 - np.minimum((score * _BUCKETS).astype(np.int64), _BUCKETS - 1)
    counts = np.bincount(group * _BUCKETS + rank, minlength=n_groups * _BUCKETS)
    cumulative = np.cumsum(counts.reshape(n_groups, _BUCKETS), axis=1)
    reached = cumulative >= k
    cut = np.where(reached[:, -1], np.argmax(reached, axis=1), _BUCKETS - 1)
    return np.flatnonzero(rank <= cut[group])


def _top_k_positions(
    group: IntArray, score: FloatArray, tie: IntArray, k: int, n_groups: int | None = None
) -> IntArray:
    """Positions of the k best entries per group (score descending, then tie ascending).

    With ``n_groups`` (groups are 0..n_groups-1 and scores lie in [0, 1]) a linear prefilter
    first drops entries that cannot make the cut.
    """
    n = group.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n_groups is not None and n > 4 * k * n_groups:
        maybe = _top_k_candidates(group, n_groups, score, k)
        return maybe[_top_k_positions(group[maybe], score[maybe], tie[maybe], k)]
    order = np.lexsort((tie, -score, group))
    sorted_group = group[order]
    starts = np.flatnonzero(np.r_[True, sorted_group[1:] != sorted_group[:-1]])
    rank = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    return order[rank < k]


def _union_top_k(result: MatchResult, k: int, stats: EngineStats) -> MatchResult:
    """Keep each pair that is in the top k of its offer or of its demand.

    Ids must be unique within each side; a pair given twice counts once. The output is sorted by
    offer id, then score descending, then demand id.
    """
    if len(result) == 0:
        return _empty_result(stats)
    order = np.lexsort((result.demand_id, result.offer_id))
    o, d = result.offer_id[order], result.demand_id[order]
    first = np.r_[True, (o[1:] != o[:-1]) | (d[1:] != d[:-1])]
    result = result.take(order[first])
    by_offer = _top_k_positions(result.offer_id, result.score, result.demand_id, k)
    by_demand = _top_k_positions(result.demand_id, result.score, result.offer_id, k)
    kept = result.take(np.union1d(by_offer, by_demand))
    order = np.lexsort((kept.demand_id, -kept.score, kept.offer_id))
    return kept.take(order, stats)


def merge_top_k(results: MatchResult | Iterable[MatchResult], k: int) -> MatchResult:
    """Merge chunk results (from ``top_k_matches_for_offer_chunk``) into the global answer.

    Each chunk holds the top k per offer of its offers and the top k per demand among its
    offers; the union of the chunks therefore holds every globally kept pair, and selecting the
    top k per offer or per demand again gives exactly the answer of one ``top_k_matches`` call.
    The chunks must hold disjoint offers scored against the same demands with the same k.
    """
    parts = [results] if isinstance(results, MatchResult) else list(results)
    stats = EngineStats()
    for part in parts:
        stats = stats.merged(part.stats)
    return _union_top_k(MatchResult.concat(parts, stats), k, stats)


# --------------------------------------------------------------------------------------------
# Spatial index
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class _Block:
    resource: int
    unit: int
    members: IntArray  # rows of the indexed batch
    tree: cKDTree
    rows: sparse.csr_array  # members × keys, all keys
    strong_rows: sparse.csr_array  # members × keys, strong keys
    reach_chord: float  # demands: the largest maximum distance in the block, as a chord
    near: bool  # demands whose maximum is within NEAR_KM: pass 1 covers them


@dataclass(frozen=True, slots=True, eq=False)
class _Query:
    """The other side's batch, with its key matrices in the index's columns."""

    batch: ListingBatch
    full: sparse.csr_array
    strong: sparse.csr_array
    root: IntArray  # index column of the top-level path key; -2 without one


class SpatialIndex:
    """Offers or demands, blocked by (resource type, base unit), with a KD-tree and the key
    matrices of each block. Build it once and reuse it for many queries (cache it per worker);
    rebuild it when the listings change.
    """

    def __init__(self, batch: OfferBatch | DemandBatch) -> None:
        self.batch = batch
        self.is_demands = isinstance(batch, DemandBatch)
        self.vocab: dict[str, int] = {key: i for i, key in enumerate(batch.vocab)}
        identity = np.arange(len(self.vocab), dtype=np.int64)
        full = key_incidence(batch, identity, len(self.vocab))
        strong = key_incidence(batch, identity, len(self.vocab), strong=True)
        if isinstance(batch, DemandBatch):
            near = batch.max_km <= NEAR_KM
            self.reach2: FloatArray = _reach2(batch.max_km)
        else:
            near = np.zeros(len(batch), dtype=np.bool_)
            self.reach2 = np.full(len(batch), 4.0 * (1 + _SLACK))  # the whole sphere
        keys = (batch.resource.astype(np.int64) * 16 + batch.unit) * 2 + near
        self.blocks: list[_Block] = []
        for key in np.unique(keys).tolist():
            members = np.flatnonzero(keys == key)
            self.blocks.append(
                _Block(
                    resource=key // 32,
                    unit=key // 2 % 16,
                    members=members,
                    tree=cKDTree(batch.xyz[members]),
                    rows=sparse.csr_array(full[members]),
                    strong_rows=sparse.csr_array(strong[members]),
                    reach_chord=float(np.sqrt(self.reach2[members].max())),
                    near=bool(key % 2),
                )
            )

    @classmethod
    def from_demands(cls, demands: Sequence[DemandProfile]) -> SpatialIndex:
        return cls(DemandBatch.from_profiles(demands))

    @classmethod
    def from_offers(cls, offers: Sequence[OfferProfile]) -> SpatialIndex:
        return cls(OfferBatch.from_profiles(offers))

    def __len__(self) -> int:
        return len(self.batch)

    def blocks_for(self, resource: int, unit: int) -> list[_Block]:
        return [b for b in self.blocks if b.resource == resource and b.unit == unit]

    def query(self, batch: ListingBatch) -> _Query:
        mapping = vocabulary_map(batch, self.vocab)
        n = len(self.vocab)
        root = np.where(batch.root >= 0, mapping[np.maximum(batch.root, 0)], -2)
        return _Query(
            batch,
            key_incidence(batch, mapping, n),
            key_incidence(batch, mapping, n, strong=True),
            np.where(root >= 0, root, -2),
        )


def _csr_pairs(product: sparse.csr_array) -> tuple[IntArray, IntArray, IntArray]:
    product = sparse.csr_array(product)
    rows = np.repeat(np.arange(product.shape[0], dtype=np.int64), np.diff(product.indptr))
    return rows, product.indices.astype(np.int64), product.data.astype(np.int64, copy=False)


_NO_PAIRS: Final = (np.zeros(0, dtype=np.int64),) * 3


def _bounding_ball(batch: ListingBatch, rows: IntArray) -> tuple[FloatArray, float]:
    """Centre and radius (chord) of a ball holding the rows' unit-sphere points."""
    xyz = np.column_stack((batch.x[rows], batch.y[rows], batch.z[rows]))
    centre = xyz.mean(axis=0)
    return centre, float(np.sqrt(((xyz - centre) ** 2).sum(axis=1)).max())


def _ball_pairs(
    query: _Query,
    rows: IntArray,
    index: SpatialIndex,
    block: _Block,
    radius: float | FloatArray,
    *,
    strong: bool,
) -> tuple[IntArray, IntArray, IntArray]:
    """Candidate (query row, index row, encoding) of query ``rows`` against ``block``: pairs that
    share a key (a strong key if ``strong``) within ``radius`` (a chord, per row or for all),
    as a superset; the exact cut happens in ``_Run.score``.
    """
    q, ib = query.batch, index.batch
    found: list[tuple[IntArray, IntArray, IntArray]] = []
    for start in range(0, rows.size, BALL_CHUNK):
        sub = rows[start : start + BALL_CHUNK]
        reach = radius if isinstance(radius, float) else float(radius[sub].max())
        reach = min(reach, block.reach_chord)
        centre, spread = _bounding_ball(q, sub)
        local = np.asarray(
            block.tree.query_ball_point(centre, spread + reach + _SLACK), dtype=np.int64
        )
        if local.size == 0:
            continue
        if strong:
            r, c, enc = _csr_pairs(query.strong[sub] @ block.strong_rows[local].T)
        else:
            r, c, enc = _csr_pairs(query.full[sub] @ block.rows[local].T)
        qi, ii = sub[r], block.members[local[c]]
        if strong:
            qc = q.chapter[qi]
            same_chapter = (qc >= 0) & (qc == ib.chapter[ii])
            enc = complete_strong_encoding(enc, same_chapter, query.root[qi] == ib.root[ii])
        found.append((qi, ii, enc))
    if not found:
        return _NO_PAIRS
    if len(found) == 1:
        return found[0]
    return (
        np.concatenate([f[0] for f in found]),
        np.concatenate([f[1] for f in found]),
        np.concatenate([f[2] for f in found]),
    )


# --------------------------------------------------------------------------------------------
# Scoring candidate pairs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class _Scored:
    """Scored pairs by batch row (``oi`` offer rows, ``dj`` demand rows)."""

    oi: IntArray
    dj: IntArray
    score: FloatArray
    material: FloatArray
    quantity: FloatArray
    distance: FloatArray
    legal: FloatArray
    timing: FloatArray
    km: FloatArray
    mode: npt.NDArray[np.int8]

    def __len__(self) -> int:
        return int(self.oi.shape[0])

    def take(self, index: IntArray) -> _Scored:
        return _Scored(*(getattr(self, f.name)[index] for f in fields(self)))

    @staticmethod
    def concat(parts: Sequence[_Scored]) -> _Scored:
        if len(parts) == 1:
            return parts[0]
        if not parts:
            i, f = np.zeros(0, dtype=np.int64), np.zeros(0)
            return _Scored(i, i, f, f, f, f, f, f, f, np.zeros(0, dtype=np.int8))
        return _Scored(
            *(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(_Scored))
        )

    def result(
        self, offers: ListingBatch, demands: ListingBatch, stats: EngineStats
    ) -> MatchResult:
        return MatchResult(
            offers.ids[self.oi],
            demands.ids[self.dj],
            self.score,
            self.material,
            self.quantity,
            self.distance,
            self.legal,
            self.timing,
            self.km,
            self.mode,
            stats=stats,
        )


@dataclass(slots=True)
class _Counters:
    blocked: int = 0
    in_range: int = 0
    routed: int = 0
    scored: int = 0
    above_min: int = 0
    chunks: int = 0


Ring = float | FloatArray | None


class _Run:
    """One offers batch against one demands batch, with the callbacks and the counters."""

    def __init__(
        self,
        offers: OfferBatch,
        demands: DemandBatch,
        reach2: FloatArray,
        *,
        min_score: float,
        today: date,
        weights: Weights,
        route_fn: RouteFn | None,
        legal_fn: LegalFn | None,
        text_fn: TextFn | None,
    ) -> None:
        self.offers, self.demands, self.reach2 = offers, demands, reach2
        self.min_score, self.today, self.weights = min_score, today, weights
        self.route_fn, self.legal_fn, self.text_fn = route_fn, legal_fn, text_fn
        self.log_min = math.log(min_score) - _SLACK if min_score > 0 else -math.inf
        self.count = _Counters()

    def far_reach2(self, floor: FloatArray, resource: npt.NDArray[np.int8]) -> FloatArray:
        """Squared chord beyond which a pair scores below max(floor, min_score).

        score <= exp(-w_distance × km / scale), every other component being at most 1.
        """
        threshold = np.maximum(floor, self.min_score)
        scale = _SCALE_BY_RESOURCE[resource]
        with np.errstate(divide="ignore"):
            km = np.where(
                threshold > 0,
                scale / self.weights.normalised()[2] * -np.log(np.minimum(threshold, 1.0)),
                np.inf,
            )
        return np.asarray((km / EARTH_RADIUS_KM) ** 2 * (1 + _SLACK) + _SLACK)

    def _bound_ok(
        self,
        material: FloatArray,
        quantity: FloatArray,
        log_distance: FloatArray,
        timing: FloatArray,
    ) -> BoolArray:
        wm, wq, wd, _, wt = self.weights.normalised()
        log_ub = wm * _log(material) + wq * _log(quantity) + wd * log_distance + wt * _log(timing)
        return np.asarray(log_ub >= self.log_min)

    def score(
        self, oi: IntArray, dj: IntArray, encoding: IntArray, lo2: Ring = None, hi2: Ring = None
    ) -> _Scored | None:
        """Score candidate pairs (offer rows, demand rows, encodings) whose squared chord lies
        in (lo2, hi2] and within the demand's maximum; keep those >= min_score."""
        ob, db = self.offers, self.demands
        self.count.blocked += oi.size
        d2 = _chord2(ob, db, oi, dj)
        inside = d2 <= self.reach2[dj]
        if lo2 is not None:
            inside &= d2 > lo2
        if hi2 is not None:
            inside &= d2 <= hi2
        keep = np.flatnonzero(inside)
        oi, dj, encoding, d2 = oi[keep], dj[keep], encoding[keep], d2[keep]
        self.count.in_range += oi.size
        if oi.size == 0:
            return None

        # Exact cheap components and vetoes, then the upper bound.
        structure, strong = material_structure_pairs(ob, db, oi, dj, encoding)
        quantity = quantity_pairs(ob, db, oi, dj, same_unit=True)
        timing = timing_pairs(ob, db, oi, dj, self.today)
        chord_km = np.sqrt(d2) * EARTH_RADIUS_KM
        material = material_pairs(structure, 1.0 if self.text_fn is not None else 0.0)
        alive = (material > 0) & (timing > 0)
        alive &= strong | (chord_km <= WEAK_LINK_MAX_KM)
        hazardous = np.flatnonzero(ob.hazardous[oi])
        if hazardous.size:
            alive[hazardous] &= db.hazard_ok[dj[hazardous]]
        if self.log_min > -math.inf:
            alive &= self._bound_ok(material, quantity, -chord_km / db.scale_km[dj], timing)
        keep = np.flatnonzero(alive)
        if keep.size < oi.size:
            oi, dj, d2, structure, strong, quantity, timing, material = (
                a[keep] for a in (oi, dj, d2, structure, strong, quantity, timing, material)
            )
        self.count.routed += oi.size
        if oi.size == 0:
            return None

        if self.text_fn is not None:
            material = material_pairs(structure, np.asarray(self.text_fn(oi, dj)))
        if self.route_fn is None:
            km = _great_circle_km(d2) * ROAD_DETOUR
            mode = np.full(km.shape, ROAD_MODE, dtype=np.int8)
        else:
            km_raw, mode_raw = self.route_fn(oi, dj)
            km = np.asarray(km_raw, dtype=np.float64)
            mode = np.asarray(mode_raw).astype(np.int8)
        distance = distance_pairs(db, dj, km)
        material = weak_link_pairs(material, strong, km)
        keep = np.flatnonzero((distance > 0) & (material > 0))
        if keep.size < oi.size:
            oi, dj, material, quantity, timing, distance, km, mode = (
                a[keep] for a in (oi, dj, material, quantity, timing, distance, km, mode)
            )
        legal_raw = self.legal_fn(oi, dj) if self.legal_fn is not None else 1.0
        legal = legal_pairs(ob, db, oi, dj, legal_raw)
        score = combine_pairs(material, quantity, distance, legal, timing, self.weights)
        self.count.scored += oi.size
        keep = np.flatnonzero((score >= self.min_score) & (score > 0))
        self.count.above_min += keep.size
        if keep.size == 0:
            return None
        scored = _Scored(oi, dj, score, material, quantity, distance, legal, timing, km, mode)
        return scored if keep.size == oi.size else scored.take(keep)

    def stats(self) -> EngineStats:
        c = self.count
        return EngineStats(
            offers=len(self.offers),
            demands=len(self.demands),
            pairs_total=len(self.offers) * len(self.demands),
            pairs_blocked=c.blocked,
            pairs_in_range=c.in_range,
            pairs_routed=c.routed,
            pairs_scored=c.scored,
            pairs_above_min=c.above_min,
            chunks=c.chunks,
        )


_SCALE_BY_RESOURCE: Final = np.array([DISTANCE_SCALE_KM[r] for r in ResourceType])


# --------------------------------------------------------------------------------------------
# Top k on both sides
# --------------------------------------------------------------------------------------------


class _Selector:
    """Keeps, per offer and per demand, the entries that may still be in its top k, and the
    k-th best score so far (the floor) of each listing that has k entries."""

    def __init__(self, offers: ListingBatch, demands: ListingBatch, k: int) -> None:
        self.k = k
        self.offers, self.demands = offers, demands
        self.floor_o = np.full(len(offers), -np.inf)
        self.floor_d = np.full(len(demands), -np.inf)
        self.pending_o: list[_Scored] = []
        self.pending_d: list[_Scored] = []
        self.size_o = self.size_d = 0
        self.limit_o = self.limit_d = PENDING_LIMIT

    def add(self, found: _Scored) -> None:
        if len(found) == 0:
            return
        for_offers = found.take(np.flatnonzero(found.score >= self.floor_o[found.oi]))
        for_demands = found.take(np.flatnonzero(found.score >= self.floor_d[found.dj]))
        self.pending_o.append(for_offers)
        self.pending_d.append(for_demands)
        self.size_o += len(for_offers)
        self.size_d += len(for_demands)
        if self.size_o > self.limit_o:
            self.reduce_offers()
        if self.size_d > self.limit_d:
            self.reduce_demands()

    def _reduce(
        self,
        parts: list[_Scored],
        group_of: Callable[[_Scored], IntArray],
        tie_ids: IntArray,
        other_of: Callable[[_Scored], IntArray],
        floor: FloatArray,
    ) -> _Scored:
        merged = _Scored.concat(parts)
        group = group_of(merged)
        top = merged.take(
            _top_k_positions(group, merged.score, tie_ids[other_of(merged)], self.k, floor.size)
        )
        group = group_of(top)
        full = np.bincount(group, minlength=floor.size) >= self.k
        lowest = np.full(floor.size, np.inf)
        np.minimum.at(lowest, group, top.score)
        floor[full] = lowest[full]
        return top

    def reduce_offers(self) -> None:
        top = self._reduce(
            self.pending_o, lambda s: s.oi, self.demands.ids, lambda s: s.dj, self.floor_o
        )
        self.pending_o, self.size_o = [top], len(top)
        self.limit_o = max(PENDING_LIMIT, 2 * len(top))

    def reduce_demands(self) -> None:
        top = self._reduce(
            self.pending_d, lambda s: s.dj, self.offers.ids, lambda s: s.oi, self.floor_d
        )
        self.pending_d, self.size_d = [top], len(top)
        self.limit_d = max(PENDING_LIMIT, 2 * len(top))

    def finish(self, stats: EngineStats) -> MatchResult:
        self.reduce_offers()
        self.reduce_demands()
        both = _Scored.concat(self.pending_o + self.pending_d)
        return _union_top_k(both.result(self.offers, self.demands, stats), self.k, stats)


def _kd_chunks(batch: ListingBatch, rows: IntArray, size: int) -> Iterator[IntArray]:
    """``rows`` in spatially compact chunks (KD-tree order)."""
    if rows.size == 0:
        return
    xyz = np.column_stack((batch.x[rows], batch.y[rows], batch.z[rows]))
    ordered = rows[cKDTree(xyz, leafsize=16).indices]
    for start in range(0, ordered.size, size):
        yield ordered[start : start + size]


def _groups(batch: ListingBatch) -> Iterator[tuple[int, int, IntArray]]:
    """(resource, unit, rows) of each block of a batch."""
    keys = batch.resource.astype(np.int64) * 16 + batch.unit
    for key in np.unique(keys).tolist():
        yield key // 16, key % 16, np.flatnonzero(keys == key)


def _top_k(offers: OfferBatch, index: SpatialIndex, run: _Run, k: int) -> MatchResult:
    demands = index.batch
    query = index.query(offers)
    select = _Selector(offers, demands, k)

    # Pass 1: everything near, on all keys.
    for resource, unit, rows in _groups(offers):
        blocks = index.blocks_for(resource, unit)
        for chunk in _kd_chunks(offers, rows, CHUNK) if blocks else ():
            run.count.chunks += 1
            for block in blocks:
                if block.near:
                    pairs = _ball_pairs(query, chunk, index, block, block.reach_chord, strong=False)
                    scored = run.score(*pairs)
                else:
                    pairs = _ball_pairs(query, chunk, index, block, _NEAR_CHORD, strong=False)
                    scored = run.score(*pairs, hi2=_NEAR2)
                if scored is not None:
                    select.add(scored)
    select.reduce_offers()
    select.reduce_demands()

    # Pass 2: strong keys, in the ring each floor leaves open.
    far_blocks = [b for b in index.blocks if not b.near]
    if far_blocks:
        reach_o = run.far_reach2(select.floor_o, offers.resource)
        reach_d = run.far_reach2(select.floor_d, demands.resource)
        for resource, unit, rows in _groups(offers):
            blocks = [b for b in far_blocks if (b.resource, b.unit) == (resource, unit)]
            far = rows[reach_o[rows] > _NEAR2] if blocks else rows[:0]
            for chunk in _kd_chunks(offers, far, CHUNK):
                run.count.chunks += 1
                for block in blocks:
                    radius = np.sqrt(reach_o)
                    pairs = _ball_pairs(query, chunk, index, block, radius, strong=True)
                    scored = run.score(*pairs, lo2=_NEAR2, hi2=reach_o[pairs[0]])
                    if scored is not None:
                        select.add(scored)
        far_demands = np.concatenate([b.members for b in far_blocks])
        far_demands = far_demands[reach_d[far_demands] > _NEAR2]
        if far_demands.size:
            offer_index = SpatialIndex(offers)
            demand_query = offer_index.query(demands)
            radius = np.sqrt(np.minimum(reach_d, index.reach2))
            for block in offer_index.blocks:
                mine = far_demands[
                    (demands.resource[far_demands] == block.resource)
                    & (demands.unit[far_demands] == block.unit)
                ]
                for chunk in _kd_chunks(demands, mine, CHUNK):
                    run.count.chunks += 1
                    dj, oi, enc = _ball_pairs(
                        demand_query, chunk, offer_index, block, radius, strong=True
                    )
                    scored = run.score(
                        oi, dj, enc, lo2=np.maximum(reach_o[oi], _NEAR2), hi2=reach_d[dj]
                    )
                    if scored is not None:
                        select.add(scored)
    return select.finish(run.stats())


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def _demand_index(demands: SpatialIndex | Sequence[DemandProfile]) -> SpatialIndex:
    index = demands if isinstance(demands, SpatialIndex) else SpatialIndex.from_demands(demands)
    if not index.is_demands:
        raise TypeError("expected an index of demands")
    return index


def _offer_index(offers: SpatialIndex | Sequence[OfferProfile]) -> SpatialIndex:
    index = offers if isinstance(offers, SpatialIndex) else SpatialIndex.from_offers(offers)
    if index.is_demands:
        raise TypeError("expected an index of offers")
    return index


def _check_k(k: int | None) -> None:
    if k is not None and k < 1:
        raise ValueError("k must be at least 1")


def top_k_matches_for_offer_chunk(
    offer_chunk: Sequence[OfferProfile] | OfferBatch,
    all_demands_index: SpatialIndex,
    *,
    k: int,
    min_score: float,
    today: date,
    route_fn: RouteFn | None = None,
    legal_fn: LegalFn | None = None,
    text_fn: TextFn | None = None,
    weights: Weights = DEFAULT_WEIGHTS,
) -> MatchResult:
    """One chunk of a full rematch: the top k per offer of the chunk, plus the top k per demand
    among the chunk's offers. Finish with ``merge_top_k`` over all chunks.

    Larger chunks prune better (a demand's floor comes from the chunk's offers only); chunks of
    10 000 offers or more work well. Callback indices are positions in ``offer_chunk`` and
    rows of the index.
    """
    _check_k(k)
    index = _demand_index(all_demands_index)
    offers = (
        offer_chunk
        if isinstance(offer_chunk, OfferBatch)
        else OfferBatch.from_profiles(offer_chunk)
    )
    run = _Run(
        offers,
        index.batch,  # type: ignore[arg-type]
        index.reach2,
        min_score=min_score,
        today=today,
        weights=weights,
        route_fn=route_fn,
        legal_fn=legal_fn,
        text_fn=text_fn,
    )
    return _top_k(offers, index, run, k)


def top_k_matches(
    offers: Sequence[OfferProfile] | OfferBatch,
    demands: Sequence[DemandProfile] | SpatialIndex,
    *,
    k: int,
    min_score: float,
    today: date,
    route_fn: RouteFn | None = None,
    legal_fn: LegalFn | None = None,
    text_fn: TextFn | None = None,
    weights: Weights = DEFAULT_WEIGHTS,
) -> MatchResult:
    """Full rematch in one process: every pair in the top k of its offer or of its demand,
    with score >= min_score (and > 0). ``result.stats`` counts the pairs at each stage.

    Callback indices are positions in ``offers`` and in ``demands`` (or rows of the index).
    """
    return top_k_matches_for_offer_chunk(
        offers,
        _demand_index(demands),
        k=k,
        min_score=min_score,
        today=today,
        route_fn=route_fn,
        legal_fn=legal_fn,
        text_fn=text_fn,
        weights=weights,
    )


def _single(
    query: _Query,
    index: SpatialIndex,
    run: _Run,
    k: int | None,
    *,
    resource: int,
    unit: int,
    reach2: float,
    offer_is_query: bool,
) -> _Scored:
    """Both passes for one listing (row 0 of ``query``) against an index; best k, best first."""
    row = np.zeros(1, dtype=np.int64)

    def scored_pairs(block: _Block, radius: float, *, strong: bool, lo2: Ring, hi2: Ring) -> None:
        qi, ii, enc = _ball_pairs(query, row, index, block, radius, strong=strong)
        oi, dj = (qi, ii) if offer_is_query else (ii, qi)
        scored = run.score(oi, dj, enc, lo2=lo2, hi2=hi2)
        if scored is not None:
            found.append(scored)

    found: list[_Scored] = []
    blocks = index.blocks_for(resource, unit)
    # The reach bound of each block: its demands' largest maximum, or the query demand's.
    bounds = [block.reach_chord**2 if index.is_demands else reach2 for block in blocks]
    for block, bound in zip(blocks, bounds, strict=True):
        radius = math.sqrt(min(bound, _NEAR2))
        scored_pairs(block, radius, strong=False, lo2=None, hi2=_NEAR2)
    first = _Scored.concat(found)
    far2 = math.inf
    if k is not None and len(first) >= k:
        floor = float(np.partition(first.score, len(first) - k)[len(first) - k])
        far2 = float(run.far_reach2(np.array([floor]), np.array([resource], dtype=np.int8))[0])
    elif k is not None:
        far2 = float(run.far_reach2(np.array([-np.inf]), np.array([resource], dtype=np.int8))[0])
    for block, bound in zip(blocks, bounds, strict=True):
        if min(far2, bound) > _NEAR2:
            radius = math.sqrt(min(far2, bound))
            scored_pairs(block, radius, strong=True, lo2=_NEAR2, hi2=far2)
    tie_ids = index.batch.ids
    everything = _Scored.concat(found)
    tie = tie_ids[everything.dj] if offer_is_query else tie_ids[everything.oi]
    order = np.lexsort((tie, -everything.score))
    return everything.take(order if k is None else order[:k])


def matches_for_offer(
    offer: OfferProfile,
    demands: SpatialIndex | Sequence[DemandProfile],
    *,
    k: int | None = 10,
    min_score: float = 0.0,
    today: date,
    route_fn: RouteFn | None = None,
    legal_fn: LegalFn | None = None,
    text_fn: TextFn | None = None,
    weights: Weights = DEFAULT_WEIGHTS,
) -> MatchResult:
    """The incremental path: one new offer against many demands (pass a cached index).

    Returns the offer's best k pairs (all of them with ``k=None``) with score >= min_score,
    best first. Callback indices: ``offer_idx`` is 0; ``demand_idx`` are rows of the index.
    """
    _check_k(k)
    index = _demand_index(demands)
    offers = OfferBatch.from_profiles([offer])
    run = _Run(
        offers,
        index.batch,  # type: ignore[arg-type]
        index.reach2,
        min_score=min_score,
        today=today,
        weights=weights,
        route_fn=route_fn,
        legal_fn=legal_fn,
        text_fn=text_fn,
    )
    best = _single(
        index.query(offers),
        index,
        run,
        k,
        resource=int(offers.resource[0]),
        unit=int(offers.unit[0]),
        reach2=math.inf,
        offer_is_query=True,
    )
    run.count.chunks = 1
    return best.result(offers, index.batch, run.stats())


def matches_for_demand(
    demand: DemandProfile,
    offers: SpatialIndex | Sequence[OfferProfile],
    *,
    k: int | None = 10,
    min_score: float = 0.0,
    today: date,
    route_fn: RouteFn | None = None,
    legal_fn: LegalFn | None = None,
    text_fn: TextFn | None = None,
    weights: Weights = DEFAULT_WEIGHTS,
) -> MatchResult:
    """The incremental path: one new demand against many offers (pass a cached index).

    Returns the demand's best k pairs (all with ``k=None``), best first. Callback indices:
    ``offer_idx`` are rows of the index; ``demand_idx`` is 0.
    """
    _check_k(k)
    index = _offer_index(offers)
    demands = DemandBatch.from_profiles([demand])
    reach2 = _reach2(demands.max_km)
    run = _Run(
        index.batch,  # type: ignore[arg-type]
        demands,
        reach2,
        min_score=min_score,
        today=today,
        weights=weights,
        route_fn=route_fn,
        legal_fn=legal_fn,
        text_fn=text_fn,
    )
    best = _single(
        index.query(demands),
        index,
        run,
        k,
        resource=int(demands.resource[0]),
        unit=int(demands.unit[0]),
        reach2=float(reach2[0]),
        offer_is_query=False,
    )
    run.count.chunks = 1
    return best.result(index.batch, demands, run.stats())


def plan_offer_chunks(
    offers: Sequence[OfferProfile], *, chunk_size: int = 10_000
) -> list[list[int]]:
    """Positions of ``offers`` in spatially compact chunks of one resource type and unit each,
    for fanning a full rematch out (one task per chunk, then ``merge_top_k``)."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    batch = OfferBatch.from_profiles(offers)
    return [
        chunk.tolist()
        for _resource, _unit, rows in _groups(batch)
        for chunk in _kd_chunks(batch, rows, chunk_size)
    ]
