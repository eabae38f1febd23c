"""Candidate generation for matching: never scores every pair.

Pure: NumPy and SciPy only, no Django, no I/O, no clock, no randomness.

1. **Block by resource type and base unit.** Offers meet only demands of the same pair.
2. **Block by material key.** Every listing emits keys: its List of Waste chapter, sub-chapter
   and code, each prefix of its category path, each slug on it, each thesaurus concept, and for
   a demand the codes, prefixes and categories it accepts (see ``matching.scoring``). A pair is
   a candidate only if it shares a key. A sparse product, offers × keys × demands, finds those
   pairs once each and yields the packed encoding the scorer reads.
   - *Strong* keys (everything but the own chapter and the top-level category) are joined over
     the whole block: a strong link may cross the map.
   - *Weak* keys (same chapter, same family) are joined only within 50 km, because a pair
     joined by nothing stronger scores 0 beyond that (``scoring.WEAK_LINK_MAX_KM``).
   Every pair that can score > 0 shares a key, except pairs whose only evidence is description
   similarity: ``text_fn`` is computed for candidates only, and the thesaurus concepts are the
   engine's channel for synonyms.
3. **Block by space.** Listings sit in a ``cKDTree`` on unit-sphere xyz. Offers are processed in
   spatially compact chunks (KD-tree order). A chunk takes the demands inside its bounding ball
   widened by the reach (the weak 50 km; or, for short-reach blocks such as heat, water and any
   demand with a maximum ≤ 150 km, the demand's maximum) before the key product. Each pair is
   then cut at the demand's maximum on the chord, which is never longer than the great-circle
   distance, which is never longer than the route.
4. **Prune by an upper bound.** Before the callbacks run, a pair whose score could not reach
   ``min_score`` with text similarity 1, legal score 1 and the chord distance is dropped. The
   bound uses the same component functions, so it loses nothing.
5. **Score** the survivors as arrays with the same functions as ``scoring.score_matrix``,
   calling ``text_fn``, ``route_fn`` and ``legal_fn`` once per block with all its pairs.
6. **Keep the top K** per offer *and* per demand (a pair is kept if it is in either), with
   ``score >= min_score`` and > 0. Ties go to the smaller id of the other side.

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
    shares_strong_key,
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
SPACE_FIRST_KM: Final = 150.0  # reach at or below which space is filtered before material
PAIRS_PER_CHUNK: Final = 1 << 24  # offers per chunk × demands in the largest long-reach block
MAX_CHUNK: Final = 4096
SPACE_CHUNK: Final = 256  # offers per chunk when every block is short-reach
BALL_CHUNK: Final = 64  # offers per ball query (short reach and the weak 50 km)
DEMAND_BUFFER: Final = 1 << 21  # pending per-demand entries before a reduction
_SLACK: Final = 1e-9


def _chord(km: FloatArray | float) -> FloatArray:
    """Unit-sphere chord of a great-circle distance in km (monotone, capped at half a turn)."""
    angle = np.minimum(np.asarray(km, dtype=np.float64), math.pi * EARTH_RADIUS_KM)
    return np.asarray(2.0 * np.sin(angle / EARTH_RADIUS_KM / 2.0))


def _reach2(km: FloatArray) -> FloatArray:
    """Squared chord of a reach in km, widened a hair so that rounding never loses a pair."""
    return np.asarray(_chord(km) ** 2 * (1 + _SLACK) + _SLACK)


_WEAK_CHORD: Final = float(_chord(WEAK_LINK_MAX_KM)) * (1 + _SLACK) + _SLACK


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
    rows: sparse.csr_array  # members × keys (all keys)
    strong_columns: sparse.csr_array  # keys × members (strong keys)
    reach_chord: float  # demands: the largest maximum distance in the block, as a chord
    short_reach: bool  # demands whose maximum is at most SPACE_FIRST_KM


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
            short = batch.max_km <= SPACE_FIRST_KM
            self.reach2: FloatArray = _reach2(batch.max_km)
        else:
            short = np.zeros(len(batch), dtype=np.bool_)
            self.reach2 = np.zeros(len(batch))
        keys = (batch.resource.astype(np.int64) * 16 + batch.unit) * 2 + short
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
                    strong_columns=sparse.csr_array(strong[members].T),
                    reach_chord=float(np.sqrt(self.reach2[members].max())),
                    short_reach=bool(key % 2),
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


def _ball(tree: cKDTree, centre: FloatArray, radius: float) -> IntArray:
    return np.asarray(tree.query_ball_point(centre, radius + _SLACK), dtype=np.int64)


_NO_PAIRS: Final = (np.zeros(0, dtype=np.int64),) * 3


def _bounding_ball(batch: ListingBatch, rows: IntArray) -> tuple[FloatArray, float]:
    """Centre and radius (chord) of a ball holding the rows' unit-sphere points."""
    xyz = np.column_stack((batch.x[rows], batch.y[rows], batch.z[rows]))
    centre = xyz.mean(axis=0)
    return centre, float(np.sqrt(((xyz - centre) ** 2).sum(axis=1)).max())


def _block_pairs(
    query: _Query, rows: IntArray, index: SpatialIndex, block: _Block, *, reach_chord: float | None
) -> tuple[IntArray, IntArray, IntArray]:
    """Candidate (query row, index row, encoding) for query ``rows`` against ``block``.

    ``reach_chord`` given: short reach, all keys within the ball. None: strong keys anywhere,
    weak keys within the 50 km ball.
    """
    q = query.batch
    if reach_chord is not None:
        return _ball_pairs(query, rows, block, reach_chord, strong_only=False, index=index)
    ib = index.batch
    r, c, enc = _csr_pairs(query.strong[rows] @ block.strong_columns)
    qi, ii = rows[r], block.members[c]
    qc = q.chapter[qi]
    same_chapter = (qc >= 0) & (qc == ib.chapter[ii])
    enc = complete_strong_encoding(enc, same_chapter, query.root[qi] == ib.root[ii])

    weak_q, weak_i, weak_enc = _weak_pairs(query, rows, index, block)
    return (
        np.concatenate((qi, weak_q)),
        np.concatenate((ii, weak_i)),
        np.concatenate((enc, weak_enc)),
    )


def _weak_pairs(
    query: _Query, rows: IntArray, index: SpatialIndex, block: _Block
) -> tuple[IntArray, IntArray, IntArray]:
    """Pairs within 50 km that share a weak key and no strong key."""
    return _ball_pairs(query, rows, block, _WEAK_CHORD, strong_only=True, index=index)


def _ball_pairs(
    query: _Query,
    rows: IntArray,
    block: _Block,
    reach_chord: float,
    *,
    strong_only: bool,
    index: SpatialIndex,
) -> tuple[IntArray, IntArray, IntArray]:
    """All-key pairs within ``reach_chord``, in small spatial steps (KD-tree order).

    ``strong_only`` keeps only the pairs that share no strong key (the weak pairs).
    """
    q, ib = query.batch, index.batch
    found: list[tuple[IntArray, IntArray, IntArray]] = []
    for start in range(0, rows.size, BALL_CHUNK):
        sub = rows[start : start + BALL_CHUNK]
        centre, radius = _bounding_ball(q, sub)
        local = _ball(block.tree, centre, radius + reach_chord)
        if local.size == 0:
            continue
        r, c, enc = _csr_pairs(query.full[sub] @ block.rows[local].T)
        wq, wi = sub[r], block.members[local[c]]
        if strong_only:
            keep = ~shares_strong_key(enc, q.depth[wq], ib.depth[wi])
            keep &= _chord2(q, ib, wq, wi) <= reach_chord**2
            at = np.flatnonzero(keep)
            wq, wi, enc = wq[at], wi[at], enc[at]
        found.append((wq, wi, enc))
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

    def score(self, oi: IntArray, dj: IntArray, encoding: IntArray) -> _Scored | None:
        """Score candidate pairs (offer rows, demand rows, encodings); keep >= min_score."""
        ob, db = self.offers, self.demands
        self.count.blocked += oi.size
        d2 = _chord2(ob, db, oi, dj)
        keep = np.flatnonzero(d2 <= self.reach2[dj])
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
        alive = (material > 0) & (timing > 0) & ~(ob.hazardous[oi] & ~db.hazard_ok[dj])
        alive &= strong | (chord_km <= WEAK_LINK_MAX_KM)
        if self.log_min > -math.inf:
            alive &= self._bound_ok(material, quantity, -chord_km / db.scale_km[dj], timing)
        keep = np.flatnonzero(alive)
        oi, dj, d2, structure, strong, quantity, timing = (
            a[keep] for a in (oi, dj, d2, structure, strong, quantity, timing)
        )
        self.count.routed += oi.size
        if oi.size == 0:
            return None

        if self.text_fn is not None:
            material = material_pairs(structure, np.asarray(self.text_fn(oi, dj)))
        else:
            material = material[keep]
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
        return _Scored(
            oi[keep],
            dj[keep],
            score[keep],
            material[keep],
            quantity[keep],
            distance[keep],
            legal[keep],
            timing[keep],
            km[keep],
            mode[keep],
        )

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


def _spatial_chunks(batch: ListingBatch, size_for: Callable[[int, int], int]) -> Iterator[IntArray]:
    """Spatially compact chunks of rows, one (resource, unit) at a time (KD-tree order)."""
    keys = batch.resource.astype(np.int64) * 16 + batch.unit
    for key in np.unique(keys).tolist():
        members = np.flatnonzero(keys == key)
        size = size_for(key // 16, key % 16)
        if size <= 0:
            continue
        xyz = np.column_stack((batch.x[members], batch.y[members], batch.z[members]))
        ordered = members[cKDTree(xyz, leafsize=16).indices]
        for start in range(0, ordered.size, size):
            yield ordered[start : start + size]


def _chunk_size(index: SpatialIndex) -> Callable[[int, int], int]:
    def size_for(resource: int, unit: int) -> int:
        blocks = index.blocks_for(resource, unit)
        if not blocks:
            return 0
        far = [b.members.size for b in blocks if not b.short_reach]
        if not far:
            return SPACE_CHUNK
        return min(MAX_CHUNK, max(16, PAIRS_PER_CHUNK // max(far)))

    return size_for


def _top_k(offers: OfferBatch, index: SpatialIndex, run: _Run, k: int) -> MatchResult:
    demands = index.batch
    query = index.query(offers)
    by_offer: list[_Scored] = []
    pending: list[_Scored] = []
    pending_size = 0
    limit = DEMAND_BUFFER
    floor = np.full(len(demands), -np.inf)  # the k-th best score per demand so far
    local = np.zeros(len(offers), dtype=np.int64)  # offer row -> position in its chunk

    def reduce(parts: list[_Scored]) -> _Scored:
        merged = _Scored.concat(parts)
        top = merged.take(
            _top_k_positions(merged.dj, merged.score, offers.ids[merged.oi], k, len(demands))
        )
        full = np.bincount(top.dj, minlength=len(demands)) >= k
        lowest = np.full(len(demands), np.inf)
        np.minimum.at(lowest, top.dj, top.score)
        floor[full] = lowest[full]
        return top

    for chunk in _spatial_chunks(offers, _chunk_size(index)):
        run.count.chunks += 1
        parts = []
        for block in index.blocks_for(int(offers.resource[chunk[0]]), int(offers.unit[chunk[0]])):
            reach = block.reach_chord if block.short_reach else None
            scored = run.score(*_block_pairs(query, chunk, index, block, reach_chord=reach))
            if scored is not None:
                parts.append(scored)
        if not parts:
            continue
        found = _Scored.concat(parts)
        local[chunk] = np.arange(chunk.size)
        best = _top_k_positions(local[found.oi], found.score, demands.ids[found.dj], k, chunk.size)
        by_offer.append(found.take(best))
        candidates = found.take(np.flatnonzero(found.score >= floor[found.dj]))
        pending.append(candidates)
        pending_size += len(candidates)
        if pending_size > limit:
            pending = [reduce(pending)]
            pending_size = len(pending[0])
            limit = max(DEMAND_BUFFER, 2 * pending_size)
    stats = run.stats()
    kept = by_offer + ([reduce(pending)] if pending else [])
    if not kept:
        return _empty_result(stats)
    return _union_top_k(_Scored.concat(kept).result(offers, demands, stats), k, stats)


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

    Callback indices are positions in ``offer_chunk`` and rows of the index.
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


def _best_of(
    parts: list[_Scored], other_ids: IntArray, *, by_demand: bool, k: int | None
) -> _Scored | None:
    if not parts:
        return None
    found = _Scored.concat(parts)
    tie = other_ids[found.dj] if by_demand else other_ids[found.oi]
    order = np.lexsort((tie, -found.score))
    return found.take(order if k is None else order[:k])


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
    query = index.query(offers)
    row = np.zeros(1, dtype=np.int64)
    parts = []
    for block in index.blocks_for(int(offers.resource[0]), int(offers.unit[0])):
        reach = block.reach_chord if block.short_reach else None
        scored = run.score(*_block_pairs(query, row, index, block, reach_chord=reach))
        if scored is not None:
            parts.append(scored)
    run.count.chunks = 1
    best = _best_of(parts, index.batch.ids, by_demand=True, k=k)
    stats = run.stats()
    return _empty_result(stats) if best is None else best.result(offers, index.batch, stats)


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
    run = _Run(
        index.batch,  # type: ignore[arg-type]
        demands,
        _reach2(demands.max_km),
        min_score=min_score,
        today=today,
        weights=weights,
        route_fn=route_fn,
        legal_fn=legal_fn,
        text_fn=text_fn,
    )
    query = index.query(demands)
    row = np.zeros(1, dtype=np.int64)
    short = float(demands.max_km[0]) <= SPACE_FIRST_KM
    reach = float(np.sqrt(_reach2(demands.max_km)[0])) if short else None
    parts = []
    for block in index.blocks_for(int(demands.resource[0]), int(demands.unit[0])):
        dj, oi, enc = _block_pairs(query, row, index, block, reach_chord=reach)
        scored = run.score(oi, dj, enc)
        if scored is not None:
            parts.append(scored)
    run.count.chunks = 1
    best = _best_of(parts, index.batch.ids, by_demand=False, k=k)
    stats = run.stats()
    return _empty_result(stats) if best is None else best.result(index.batch, demands, stats)


def plan_offer_chunks(offers: Sequence[OfferProfile], *, chunk_size: int = 2000) -> list[list[int]]:
    """Positions of ``offers`` in spatially compact chunks of one resource type and unit each,
    for fanning a full rematch out (one task per chunk, then ``merge_top_k``)."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    batch = OfferBatch.from_profiles(offers)
    return [c.tolist() for c in _spatial_chunks(batch, lambda _r, _u: chunk_size)]
