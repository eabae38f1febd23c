"""Candidate generation for matching: never scores every pair.

Pure: NumPy and SciPy only, no Django, no I/O, no clock, no randomness.

1. **Block by resource type and base unit.** Offers meet only demands of the same pair.
2. **Block by material key.** Every listing emits keys (its List of Waste chapter, sub-chapter
   and code; each prefix of its category path; each concept; and, for a demand, the codes,
   prefixes and categories it accepts; see ``matching.scoring``). A pair is a candidate only if
   it shares a key. One sparse product, offers × keys × demands, finds those pairs without
   duplicates, and its value is the packed pair encoding the scorer needs. Every pair whose
   structural material score is > 0 shares a key, so blocking loses nothing unless the only
   evidence is text similarity (which ``text_fn`` computes for candidates only).
3. **Block by space.** Demands are indexed in a ``cKDTree`` on unit-sphere xyz. For short reach
   (water, energy, any demand with a maximum ≤ 150 km) a spatially compact chunk of offers
   first takes the demands inside its bounding ball plus the reach, then the key product. For
   long reach (bulk material, 500 km) the key product comes first. Either way each pair is then
   cut at the demand's maximum distance on the chord, which is never longer than the
   great-circle distance, which is never longer than the route.
4. **Prune by an upper bound.** Before the callbacks run, a pair whose score could not reach
   ``min_score`` even with text similarity 1, legal score 1 and the straight-line distance is
   dropped. The bound is exact arithmetic on the same components, so it loses nothing.
5. **Score** the survivors as arrays with the same vectorised functions as
   ``scoring.score_matrix``, calling ``text_fn``, ``route_fn`` and ``legal_fn`` once per block
   with the whole block's pairs.
6. **Keep the top K** per offer *and* per demand (a pair is kept if it is in either), with
   ``score >= min_score`` and > 0. Ties go to the smaller id.

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
    distance_pairs,
    key_incidence,
    legal_pairs,
    material_pairs,
    material_structure_pairs,
    quantity_pairs,
    timing_pairs,
)

ModeArray = npt.NDArray[np.integer]
RouteFn = Callable[[IntArray, IntArray], tuple[FloatArray, ModeArray]]
LegalFn = Callable[[IntArray, IntArray], FloatArray]
TextFn = Callable[[IntArray, IntArray], FloatArray]

ROAD_DETOUR: Final = 1.25  # road km per great-circle km
ROAD_MODE: Final = 0  # harbors.logistics.MODE_CODES index of "road"
SPACE_FIRST_KM: Final = 150.0  # reach at or below which space is filtered before material
PAIRS_PER_CHUNK: Final = 1 << 22  # offers per chunk × demands per block, long reach
SPACE_CHUNK: Final = 256  # offers per chunk, short reach
DEMAND_BUFFER: Final = 1 << 22  # pending per-demand entries before a reduction
_SLACK: Final = 1e-9


def haversine_km(
    lat1: FloatArray, lon1: FloatArray, lat2: FloatArray, lon2: FloatArray
) -> FloatArray:
    """Great-circle km between paired points in degrees."""
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    a = (
        np.sin((phi2 - phi1) / 2) ** 2
        + np.cos(phi1) * np.cos(phi2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    )
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


def road_route(offers: ListingBatch, demands: ListingBatch) -> RouteFn:
    """The default ``route_fn``: great-circle km × 1.25, by road."""

    def route(offer_idx: IntArray, demand_idx: IntArray) -> tuple[FloatArray, ModeArray]:
        km = haversine_km(
            offers.lat[offer_idx],
            offers.lon[offer_idx],
            demands.lat[demand_idx],
            demands.lon[demand_idx],
        )
        return km * ROAD_DETOUR, np.full(km.shape, ROAD_MODE, dtype=np.int8)

    return route


def _chord(km: FloatArray | float) -> FloatArray:
    """Unit-sphere chord of a great-circle distance in km (monotone, capped at half a turn)."""
    angle = (
        np.minimum(np.asarray(km, dtype=np.float64), math.pi * EARTH_RADIUS_KM) / EARTH_RADIUS_KM
    )
    return 2.0 * np.sin(angle / 2.0)


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
    pairs_blocked: int = 0  # share a material key (and, for short reach, the ball)
    pairs_in_range: int = 0  # also within the demand's maximum distance (chord)
    pairs_routed: int = 0  # passed the upper bound: callbacks ran for them
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
    """Kept pairs as columns (sorted by offer id, then score descending), plus the counters.

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


def _top_k_positions(group: IntArray, score: FloatArray, tie: IntArray, k: int) -> IntArray:
    """Positions of the k best entries per group (score descending, then tie ascending)."""
    n = group.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((tie, -score, group))
    sorted_group = group[order]
    starts = np.flatnonzero(np.r_[True, sorted_group[1:] != sorted_group[:-1]])
    rank = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    return order[rank < k]


def _union_top_k(result: MatchResult, k: int, stats: EngineStats) -> MatchResult:
    """Keep each pair that is in the top k of its offer or of its demand, sorted for output.

    Ids must be unique within each side. Duplicate pairs (from overlapping inputs) count once.
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
    The chunks must hold disjoint offers, all scored against the same demands.
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
    rows: sparse.csr_array  # members × keys
    columns: sparse.csr_array  # keys × members
    reach_chord: float  # demands: the largest maximum distance in the block, as a chord
    space_first: bool


class SpatialIndex:
    """Offers or demands, blocked by (resource type, base unit), with a KD-tree and the key
    matrix of each block. Build it once and reuse it for many queries (cache it per process).
    """

    def __init__(self, batch: OfferBatch | DemandBatch) -> None:
        self.batch = batch
        self.is_demands = isinstance(batch, DemandBatch)
        self.vocab: dict[str, int] = {key: i for i, key in enumerate(batch.vocab)}
        incidence = key_incidence(batch, self.vocab, len(self.vocab))
        xyz = batch.xyz
        if isinstance(batch, DemandBatch):
            far = batch.max_km > SPACE_FIRST_KM
            self.reach2: FloatArray = _chord(batch.max_km) ** 2 * (1 + _SLACK) + _SLACK
        else:
            far = np.zeros(len(batch), dtype=np.bool_)
            self.reach2 = np.zeros(len(batch))
        keys = (batch.resource.astype(np.int64) * 16 + batch.unit) * 2 + far
        self.blocks: list[_Block] = []
        for key in np.unique(keys):
            members = np.flatnonzero(keys == key)
            rows = incidence[members]
            reach = float(np.sqrt(self.reach2[members].max())) if self.is_demands else 0.0
            self.blocks.append(
                _Block(
                    resource=int(key // 32),
                    unit=int(key // 2 % 16),
                    members=members,
                    tree=cKDTree(xyz[members]),
                    rows=sparse.csr_array(rows),
                    columns=sparse.csr_array(rows.T),
                    reach_chord=reach,
                    space_first=not bool(key % 2) and self.is_demands,
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

    def incidence_of(self, batch: ListingBatch) -> sparse.csr_array:
        """``batch``'s key matrix in this index's key columns."""
        return key_incidence(batch, self.vocab, len(self.vocab))


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
        k: int | None,
        min_score: float,
        today: date,
        weights: Weights,
        route_fn: RouteFn | None,
        legal_fn: LegalFn | None,
        text_fn: TextFn | None,
    ) -> None:
        if k is not None and k < 1:
            raise ValueError("k must be at least 1")
        self.offers, self.demands, self.reach2 = offers, demands, reach2
        self.k, self.min_score, self.today, self.weights = k, min_score, today, weights
        self.route_fn = route_fn if route_fn is not None else road_route(offers, demands)
        self.legal_fn, self.text_fn = legal_fn, text_fn
        self.log_min = math.log(min_score) - _SLACK if min_score > 0 else -math.inf
        self.count = _Counters()

    def _bound_ok(
        self,
        material: FloatArray,
        quantity: FloatArray,
        log_distance: FloatArray,
        timing: FloatArray,
    ) -> npt.NDArray[np.bool_]:
        wm, wq, wd, _, wt = self.weights.normalised()
        log_ub = wm * _log(material) + wq * _log(quantity) + wd * log_distance + wt * _log(timing)
        return log_ub >= self.log_min

    def score(self, oi: IntArray, dj: IntArray, encoding: IntArray) -> _Scored | None:
        """Score candidate pairs (offer rows, demand rows, packed keys); keep >= min_score."""
        ob, db = self.offers, self.demands
        self.count.blocked += oi.size
        d2 = (ob.x[oi] - db.x[dj]) ** 2
        d2 += (ob.y[oi] - db.y[dj]) ** 2
        d2 += (ob.z[oi] - db.z[dj]) ** 2
        near = np.flatnonzero(d2 <= self.reach2[dj])
        oi, dj, encoding, d2 = oi[near], dj[near], encoding[near], d2[near]
        self.count.in_range += oi.size
        if oi.size == 0:
            return None

        # Exact cheap components, then an upper bound with text 1, legal 1, chord distance.
        structure = material_structure_pairs(ob, db, oi, dj, encoding)
        quantity = quantity_pairs(ob, db, oi, dj, same_unit=True)
        timing = timing_pairs(ob, db, oi, dj, self.today)
        material = material_pairs(structure, 1.0 if self.text_fn is not None else 0.0)
        log_distance_ub = np.sqrt(d2) * (-EARTH_RADIUS_KM) / db.scale_km[dj]
        alive = (material > 0) & (timing > 0) & ~(ob.hazardous[oi] & ~db.hazard_ok[dj])
        alive &= self._bound_ok(material, quantity, log_distance_ub, timing)
        keep = np.flatnonzero(alive)
        oi, dj, structure, quantity, timing, log_distance_ub = (
            a[keep] for a in (oi, dj, structure, quantity, timing, log_distance_ub)
        )
        self.count.routed += oi.size
        if oi.size == 0:
            return None

        if self.text_fn is not None:
            material = material_pairs(structure, self.text_fn(oi, dj))
            keep = np.flatnonzero(
                (material > 0) & self._bound_ok(material, quantity, log_distance_ub, timing)
            )
            oi, dj, material, quantity, timing = (
                a[keep] for a in (oi, dj, material, quantity, timing)
            )
        else:
            material = material_pairs(structure, 0.0)
        km_raw, mode_raw = self.route_fn(oi, dj)
        km = np.asarray(km_raw, dtype=np.float64)
        distance = distance_pairs(db, dj, km)
        keep = np.flatnonzero(distance > 0)
        oi, dj, material, quantity, timing, distance, km = (
            a[keep] for a in (oi, dj, material, quantity, timing, distance, km)
        )
        mode = np.asarray(mode_raw)[keep].astype(np.int8)
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


_NO_PAIRS: Final = (np.zeros(0, dtype=np.int64),) * 3


def _csr_pairs(product: sparse.csr_array) -> tuple[IntArray, IntArray, IntArray]:
    product = sparse.csr_array(product)
    rows = np.repeat(np.arange(product.shape[0], dtype=np.int64), np.diff(product.indptr))
    return rows, product.indices.astype(np.int64), product.data.astype(np.int64)


def _ball(tree: cKDTree, centre: FloatArray, radius: float) -> IntArray:
    return np.asarray(tree.query_ball_point(centre, radius + _SLACK), dtype=np.int64)


def _offer_chunk_pairs(
    chunk: IntArray, incidence: sparse.csr_array, block: _Block, offers: OfferBatch
) -> tuple[IntArray, IntArray, IntArray]:
    """Candidate (offer row, demand row, encoding) of the offer rows ``chunk`` in a block."""
    a = incidence[chunk]
    if block.space_first:
        xyz = np.column_stack((offers.x[chunk], offers.y[chunk], offers.z[chunk]))
        centre = xyz.mean(axis=0)
        radius = float(np.sqrt(((xyz - centre) ** 2).sum(axis=1)).max())
        local = _ball(block.tree, centre, radius + block.reach_chord)
        if local.size == 0:
            return _NO_PAIRS
        rows, cols, enc = _csr_pairs(a @ block.rows[local].T)
        return chunk[rows], block.members[local[cols]], enc
    rows, cols, enc = _csr_pairs(a @ block.columns)
    return chunk[rows], block.members[cols], enc


def _spatial_chunks(batch: ListingBatch, size_for: Callable[[int, int], int]) -> Iterator[IntArray]:
    """Spatially compact chunks of rows, one (resource, unit) at a time (KD-tree order)."""
    keys = batch.resource.astype(np.int64) * 16 + batch.unit
    for key in np.unique(keys):
        members = np.flatnonzero(keys == key)
        size = size_for(int(key // 16), int(key % 16))
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
        far = [b.members.size for b in blocks if not b.space_first]
        return min(4096, max(16, PAIRS_PER_CHUNK // max(far))) if far else SPACE_CHUNK

    return size_for


def _top_k(offers: OfferBatch, index: SpatialIndex, run: _Run, k: int) -> MatchResult:
    demands = index.batch
    incidence = index.incidence_of(offers)
    by_offer: list[_Scored] = []
    pending: list[_Scored] = []
    pending_size = 0
    floor = np.full(len(demands), -np.inf)  # the k-th best score per demand so far

    def reduce(parts: list[_Scored]) -> _Scored:
        merged = _Scored.concat(parts)
        top = merged.take(_top_k_positions(merged.dj, merged.score, offers.ids[merged.oi], k))
        full = np.bincount(top.dj, minlength=len(demands)) >= k
        lowest = np.full(len(demands), np.inf)
        np.minimum.at(lowest, top.dj, top.score)
        floor[full] = lowest[full]
        return top

    for chunk in _spatial_chunks(offers, _chunk_size(index)):
        run.count.chunks += 1
        parts = []
        for block in index.blocks_for(int(offers.resource[chunk[0]]), int(offers.unit[chunk[0]])):
            scored = run.score(*_offer_chunk_pairs(chunk, incidence, block, offers))
            if scored is not None:
                parts.append(scored)
        if not parts:
            continue
        found = _Scored.concat(parts)
        by_offer.append(
            found.take(_top_k_positions(found.oi, found.score, demands.ids[found.dj], k))
        )
        candidates = found.take(np.flatnonzero(found.score >= floor[found.dj]))
        pending.append(candidates)
        pending_size += len(candidates)
        if pending_size > DEMAND_BUFFER:
            pending = [reduce(pending)]
            pending_size = len(pending[0])
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

    Callback indices are positions in ``offer_chunk`` and in the index's demands.
    """
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
        k=k,
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
    index = _demand_index(demands)
    ob = OfferBatch.from_profiles([offer])
    run = _Run(
        ob,
        index.batch,  # type: ignore[arg-type]
        index.reach2,
        k=k,
        min_score=min_score,
        today=today,
        weights=weights,
        route_fn=route_fn,
        legal_fn=legal_fn,
        text_fn=text_fn,
    )
    incidence = index.incidence_of(ob)
    row = np.zeros(1, dtype=np.int64)
    parts = []
    for block in index.blocks_for(int(ob.resource[0]), int(ob.unit[0])):
        scored = run.score(*_offer_chunk_pairs(row, incidence, block, ob))
        if scored is not None:
            parts.append(scored)
    run.count.chunks = 1
    return _single_side(parts, ob, index.batch, index.batch.ids, run, k, by_demand=True)


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
    index = _offer_index(offers)
    db = DemandBatch.from_profiles([demand])
    reach = float(_chord(db.max_km[0]))
    reach2 = np.array([reach**2 * (1 + _SLACK) + _SLACK])
    run = _Run(
        index.batch,  # type: ignore[arg-type]
        db,
        reach2,
        k=k,
        min_score=min_score,
        today=today,
        weights=weights,
        route_fn=route_fn,
        legal_fn=legal_fn,
        text_fn=text_fn,
    )
    row = index.incidence_of(db)
    centre = np.array([db.x[0], db.y[0], db.z[0]])
    parts = []
    for block in index.blocks_for(int(db.resource[0]), int(db.unit[0])):
        if db.max_km[0] <= SPACE_FIRST_KM:
            local = _ball(block.tree, centre, reach)
            if local.size == 0:
                continue
            _, cols, enc = _csr_pairs(row @ block.rows[local].T)
            oi = block.members[local[cols]]
        else:
            _, cols, enc = _csr_pairs(row @ block.columns)
            oi = block.members[cols]
        scored = run.score(oi, np.zeros_like(oi), enc)
        if scored is not None:
            parts.append(scored)
    run.count.chunks = 1
    return _single_side(parts, index.batch, db, index.batch.ids, run, k, by_demand=False)


def _single_side(
    parts: list[_Scored],
    offers: ListingBatch,
    demands: ListingBatch,
    other_ids: IntArray,
    run: _Run,
    k: int | None,
    *,
    by_demand: bool,
) -> MatchResult:
    stats = run.stats()
    if not parts:
        return _empty_result(stats)
    found = _Scored.concat(parts)
    tie = other_ids[found.dj] if by_demand else other_ids[found.oi]
    order = np.lexsort((tie, -found.score))
    if k is not None:
        order = order[:k]
    return found.take(order).result(offers, demands, stats)


def plan_offer_chunks(offers: Sequence[OfferProfile], *, chunk_size: int = 2000) -> list[list[int]]:
    """Positions of ``offers`` in spatially compact chunks of one resource type and unit each,
    for fanning a full rematch out (one Celery task per chunk)."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    batch = OfferBatch.from_profiles(offers)
    return [c.tolist() for c in _spatial_chunks(batch, lambda _r, _u: chunk_size)]
