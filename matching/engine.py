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
   key product runs only inside ball queries (32 listings at a time, in KD-tree order).
   - *Pass 1*: demands whose maximum is at most 75 km (heat, water; ``NEAR_KM``) completely,
     on all keys; the others on strong keys within 25 km (``FIRST_RING_KM``). The core within
     12.5 km (``CORE_KM``) goes first, and the floors it sets (below) prune the rest.
   - Each offer and each demand with k pairs now has a floor, its k-th best score so far.
     Distance alone caps a score: score <= material^w_m × exp(-w_d × km / scale), every other
     component being at most 1. A pair farther than the radius where that cap falls below
     both floors (and below ``min_score``) cannot enter either top k.
   - *Pass 2*: strong keys, ring by ring (25-50-100-200-400 km-maximum), each ring only
     around the offers and then the demands whose radius reaches into it, the floors rising
     as it goes. Around a demand, only the part of the ring its offers did not cover.
   - *Pass 3*: weak keys (same chapter, same family, and nothing stronger) within 50 km, and
     only where a material of 0.4 (0.84 with text) could still beat the floors: beyond 50 km
     such a pair scores 0 (``scoring.WEAK_LINK_MAX_KM``).
   No pair is scored twice. Distances are cut on the chord, which is never longer than the
   great-circle distance, which is never longer than the route. The compiled search
   (``kernels.ball_pairs``) already drops a pair whose bound from its encoding alone
   (``scoring.material_cap``, the chord's distance decay, every other component 1) cannot
   reach its floors: 33M → 19M candidates per chunk of a 100k × 100k rematch.
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
from dataclasses import dataclass, field, fields
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
    SAME_CHAPTER,
    SAME_FAMILY,
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
    material_cap,
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
NEAR_KM: Final = 75.0  # demands reaching no farther are searched in one pass, on all keys
FIRST_RING_KM: Final = 25.0  # pass 1 radius for long-reach demands (strong keys)
CORE_KM: Final = 12.5  # pass 1 searches this far first, so that its floors prune the rest
RING_KM: Final = (50.0, 100.0, 200.0, 400.0, math.inf)  # pass 2 rings
_RADIUS_CLASSES: Final = (
    np.array([12.5, 25, 37.5, 50, 75, 100, 150, 200, 300, 400]) / EARTH_RADIUS_KM
)
CHUNK: Final = 1024  # listings per chunk of a pass
BALL_CHUNK: Final = 64  # listings per ball query
SIGNATURE_TABLE_CELLS: Final = 1 << 24  # largest query × block signature table held (int32)
PENDING_LIMIT: Final = 1 << 21  # pending entries per side before a top-k reduction
RESCORE_BATCH: Final = 1 << 18  # pairs scored exactly at a time at the end
_SLACK: Final = 1e-9


def _chord(km: FloatArray | float) -> FloatArray:
    """Unit-sphere chord of a great-circle distance in km (monotone, capped at half a turn)."""
    angle = np.minimum(np.asarray(km, dtype=np.float64), math.pi * EARTH_RADIUS_KM)
    return np.asarray(2.0 * np.sin(angle / EARTH_RADIUS_KM / 2.0))


def _reach2(km: FloatArray) -> FloatArray:
    """Squared chord of a reach in km, widened a hair so that rounding never loses a pair."""
    return np.asarray(_chord(km) ** 2 * (1 + _SLACK) + _SLACK)


_NEAR2: Final = float(_reach2(np.array(NEAR_KM)))
_FIRST2: Final = float(_reach2(np.array(FIRST_RING_KM)))
_FIRST_CHORD: Final = math.sqrt(_FIRST2)
_CORE2: Final = float(_reach2(np.array(CORE_KM)))
_CORE_CHORD: Final = math.sqrt(_CORE2)
_WEAK2: Final = float(_reach2(np.array(WEAK_LINK_MAX_KM)))


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
    """Kept pairs as columns (in no particular order; see ``sorted``), plus the counters.

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
    text: FloatArray | None = None  # the text similarity the scores used, when text_fn ran

    def __len__(self) -> int:
        return int(self.offer_id.shape[0])

    def __iter__(self) -> Iterator[Candidate]:
        columns = [getattr(self, name).tolist() for name in _COLUMNS]
        for row in zip(*columns, strict=True):
            yield Candidate(*row)

    def candidates(self) -> list[Candidate]:
        return list(self)

    def sorted(self) -> MatchResult:
        """By offer id, then score descending, then demand id."""
        return self.take(np.lexsort((self.demand_id, -self.score, self.offer_id)))

    def pairs(self) -> set[tuple[int, int]]:
        return set(zip(self.offer_id.tolist(), self.demand_id.tolist(), strict=True))

    def take(self, index: IntArray, stats: EngineStats | None = None) -> MatchResult:
        arrays = [getattr(self, name)[index] for name in _COLUMNS]
        text = None if self.text is None else self.text[index]
        return MatchResult(*arrays, stats=self.stats if stats is None else stats, text=text)

    @staticmethod
    def concat(results: Sequence[MatchResult], stats: EngineStats) -> MatchResult:
        if not results:
            return _empty_result(stats)
        arrays = [np.concatenate([getattr(r, name) for r in results]) for name in _COLUMNS]
        texts = [r.text for r in results]
        text = None if any(t is None for t in texts) else np.concatenate(texts)  # type: ignore[arg-type]
        return MatchResult(*arrays, stats=stats, text=text)


def _empty_result(stats: EngineStats) -> MatchResult:
    f, i = np.zeros(0), np.zeros(0, dtype=np.int64)
    return MatchResult(i, i, f, f, f, f, f, f, f, np.zeros(0, dtype=np.int8), stats=stats)


def _top_k_positions(
    group: IntArray, score: FloatArray, tie: IntArray, k: int, n_groups: int
) -> IntArray:
    """Positions of the k best entries per group (score descending, then tie ascending, then
    position), in no set order. Groups are 0..n_groups-1 (``kernels.top_k_positions``)."""
    from matching import kernels

    if group.size == 0 or k <= 0:
        return np.zeros(0, dtype=np.int64)
    return kernels.top_k_positions(
        np.ascontiguousarray(group, dtype=np.int64),
        np.ascontiguousarray(score, dtype=np.float64),
        np.ascontiguousarray(tie, dtype=np.int64),
        int(k),
        int(n_groups),
    )


def _union_mask(
    offer_group: IntArray,
    n_offers: int,
    demand_group: IntArray,
    n_demands: int,
    score: FloatArray,
    offer_tie: IntArray,
    demand_tie: IntArray,
    k: int,
) -> BoolArray:
    """Entries in the top k of their offer or of their demand."""
    keep = np.zeros(score.size, dtype=np.bool_)
    keep[_top_k_positions(offer_group, score, demand_tie, k, n_offers)] = True
    keep[_top_k_positions(demand_group, score, offer_tie, k, n_demands)] = True
    return keep


def _union_top_k(result: MatchResult, k: int, stats: EngineStats) -> MatchResult:
    """Keep each pair that is in the top k of its offer or of its demand.

    Ids must be unique within each side; a pair given twice counts once.
    """
    if len(result) == 0:
        return _empty_result(stats)
    offer_ids, offer_group = np.unique(result.offer_id, return_inverse=True)
    demand_ids, demand_group = np.unique(result.demand_id, return_inverse=True)
    _, first = np.unique(offer_group * demand_ids.size + demand_group, return_index=True)
    result = result.take(first)
    keep = _union_mask(
        offer_group[first],
        offer_ids.size,
        demand_group[first],
        demand_ids.size,
        result.score,
        result.offer_id,
        result.demand_id,
        k,
    )
    return result.take(np.flatnonzero(keep), stats)


def top_k_union_mask(
    offer_id: IntArray, demand_id: IntArray, score: FloatArray, k: int
) -> BoolArray:
    """Pairs (given once each, scores in [0, 1]) in the top k of their offer or of their
    demand; ties go to the smaller id of the other side."""
    if offer_id.size == 0:
        return np.zeros(0, dtype=np.bool_)
    offer_ids, offer_group = np.unique(offer_id, return_inverse=True)
    demand_ids, demand_group = np.unique(demand_id, return_inverse=True)
    return _union_mask(
        offer_group, offer_ids.size, demand_group, demand_ids.size, score, offer_id, demand_id, k
    )


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
    sig: IntArray  # each member's material signature, numbered within the block
    sig_rows: sparse.csr_array  # signatures × keys, all keys
    sig_strong_rows: sparse.csr_array  # signatures × keys, strong keys


def _signatures(
    batch: ListingBatch, rows: IntArray, full: sparse.csr_array, strong: sparse.csr_array
) -> tuple[IntArray, sparse.csr_array, sparse.csr_array]:
    """(signature of each of ``rows``, numbered 0..S-1; the key rows of each signature)."""
    _, first, inverse = np.unique(batch.material_sig[rows], return_index=True, return_inverse=True)
    chosen = rows[first]
    return (
        inverse.astype(np.int64),
        sparse.csr_array(full[chosen]),
        sparse.csr_array(strong[chosen]),
    )


@dataclass(frozen=True, slots=True, eq=False)
class _Query:
    """The other side's batch, with its key matrices in the index's columns.

    Listings of one material signature share their keys, so the key product of a query row
    and a member is the product of their signatures: ``table`` computes it once per block for
    every pair of signatures (a few hundred × a few thousand here), and a ball's pairs are then
    a lookup instead of a sparse product.
    """

    batch: ListingBatch
    full: sparse.csr_array
    strong: sparse.csr_array
    root: IntArray  # index column of the top-level path key; -2 without one
    sig: IntArray  # each row's material signature, numbered within the query
    sig_full: sparse.csr_array  # signatures × keys
    sig_strong: sparse.csr_array
    tables: dict[tuple[int, str], npt.NDArray[np.int32] | None] = field(default_factory=dict)

    def table(self, block: _Block, keys: str) -> npt.NDArray[np.int32] | None:
        """Query signatures × the block's signatures: the packed key product (all keys, or
        strong keys for ``keys="strong"``); None when it would be too large to hold."""
        strong = keys == "strong"
        key = (id(block), "strong" if strong else "full")
        if key in self.tables:
            return self.tables[key]
        cells = self.sig_full.shape[0] * block.sig_rows.shape[0]
        table = None
        if cells <= SIGNATURE_TABLE_CELLS:
            left, right = (
                (self.sig_strong, block.sig_strong_rows)
                if strong
                else (self.sig_full, block.sig_rows)
            )
            table = np.asarray((left @ right.T).toarray(), dtype=np.int32)
        self.tables[key] = table
        return table


class SpatialIndex:
    """Offers or demands, blocked by (resource type, base unit), with a KD-tree and the key
    matrices of each block. Build it once and reuse it for many queries (cache it per worker);
    rebuild it when the listings change.
    """

    def __init__(self, batch: OfferBatch | DemandBatch) -> None:
        self.batch = batch
        self.is_demands = isinstance(batch, DemandBatch)
        self.vocab: dict[str, int] = {key: i for i, key in enumerate(batch.vocab)}
        self.depths: IntArray = np.unique(batch.depth)  # for the search bound, once
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
            sig, sig_rows, sig_strong_rows = _signatures(batch, members, full, strong)
            # Members in signature order: a ball's members, sorted by position, come grouped
            # by signature, as the search kernel visits them.
            by_sig = np.argsort(sig, kind="stable")
            members, sig = members[by_sig], sig[by_sig]
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
                    sig=sig,
                    sig_rows=sig_rows,
                    sig_strong_rows=sig_strong_rows,
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
        full = key_incidence(batch, mapping, n)
        strong = key_incidence(batch, mapping, n, strong=True)
        sig, sig_full, sig_strong = _signatures(
            batch, np.arange(len(batch), dtype=np.int64), full, strong
        )
        return _Query(batch, full, strong, np.where(root >= 0, root, -2), sig, sig_full, sig_strong)


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
    keys: str,
    run: _Run,
    inner2: float | FloatArray = -1.0,
    member_inner2: FloatArray | None = None,
) -> tuple[IntArray, IntArray, IntArray]:
    """Candidate (query row, index row, encoding) of query ``rows`` against ``block`` within
    ``radius`` (a chord, per query row or for all), as a superset (``_Run.score`` cuts exactly).
    A ring: pairs whose squared chord is at most ``inner2`` (per query row or for all) or at
    most ``member_inner2`` of the index row were searched before and are left out.

    ``keys``: "all" (pairs sharing any key), "strong" (sharing a strong key) or "weak"
    (sharing a weak key but no strong one). Pairs whose score bound (``_Run.search_bound``)
    cannot reach their floors are left out as they are found.
    """
    from matching import kernels  # Numba costs 0.6 s to import: only where the search runs

    q, ib = query.batch, index.batch
    table = query.table(block, keys)
    bound = run.search_bound(query, block, keys, table) if table is not None else None
    per_row = not isinstance(radius, float)
    reach2_all = (min(float(radius), block.reach_chord) + _SLACK) ** 2 if not per_row else 0.0
    found: list[tuple[IntArray, IntArray, IntArray]] = []
    for start in range(0, rows.size, BALL_CHUNK):
        sub = rows[start : start + BALL_CHUNK]
        reach = radius if isinstance(radius, float) else float(radius[sub].max())
        reach = min(reach, block.reach_chord)
        if per_row:
            row_reach2 = (np.minimum(np.asarray(radius)[sub], block.reach_chord) + _SLACK) ** 2
        if reach < 0:
            continue
        centre, spread = _bounding_ball(q, sub)
        local = np.sort(  # by position in the block: grouped by signature
            np.asarray(block.tree.query_ball_point(centre, spread + reach + _SLACK), dtype=np.int64)
        )
        if local.size == 0:
            continue
        members = block.members[local]
        sub_inner2 = (
            np.full(sub.size, inner2) if isinstance(inner2, float) else np.asarray(inner2)[sub]
        ) - _SLACK  # a hair inside, so that rounding never loses a pair
        if bound is not None:  # the signatures' products, looked up, the ring and the bound
            cap_values, log_cap, query_side, member_side = bound
            query_cut, query_per_chord = query_side.at(sub)
            member_cut, member_per_chord = member_side.at(members)
            r, c, enc, _ = kernels.ball_pairs(
                query.sig[sub],
                q.x[sub],
                q.y[sub],
                q.z[sub],
                row_reach2 if per_row else np.full(sub.size, reach2_all),
                sub_inner2,
                block.sig[local],
                ib.x[members],
                ib.y[members],
                ib.z[members],
                np.full(members.size, -1.0)
                if member_inner2 is None
                else member_inner2[members] - _SLACK,
                table,
                cap_values,
                log_cap,
                query_cut,
                member_cut,
                query_per_chord,
                member_per_chord,
            )
            qi, ii = sub[r], members[c]
        else:
            if keys == "strong":  # (ball × keys) @ (keys × sub): only the small side changes
                c, r, enc = _csr_pairs(block.strong_rows[local] @ query.strong[sub].T)
            else:
                c, r, enc = _csr_pairs(block.rows[local] @ query.full[sub].T)
            qi, ii = sub[r], members[c]
            # Only pairs within the query row's own ring (the ball is wider).
            d2 = _chord2(q, ib, qi, ii)
            within = (d2 <= (row_reach2[r] if per_row else reach2_all)) & (d2 > sub_inner2[r])
            if member_inner2 is not None:
                within &= d2 > member_inner2[ii] - _SLACK
            keep = np.flatnonzero(within)
            if keep.size < qi.size:
                qi, ii, enc = qi[keep], ii[keep], enc[keep]
        if keys == "strong":
            qc = q.chapter[qi]
            same_chapter = (qc >= 0) & (qc == ib.chapter[ii])
            enc = complete_strong_encoding(enc, same_chapter, query.root[qi] == ib.root[ii])
        elif keys == "weak":
            weak = np.flatnonzero(~shares_strong_key(enc, q.depth[qi], ib.depth[ii]))
            qi, ii, enc = qi[weak], ii[weak], enc[weak]
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
    encoding: IntArray
    upper: FloatArray  # the score with text similarity 1 while text is deferred, else score
    text: FloatArray  # the text similarity used (0 while deferred, or without text_fn)

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
            return _Scored(i, i, f, f, f, f, f, f, f, np.zeros(0, dtype=np.int8), i, f, f)
        return _Scored(
            *(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(_Scored))
        )

    @staticmethod
    def gather(parts: list[_Scored], keep: npt.NDArray[np.bool_]) -> _Scored:
        """The pairs of ``parts`` (concatenated) where ``keep``, in order, as ``concat`` then
        ``take`` would give them. Each part is let go of once its rows are copied (``parts``
        ends empty): the parts and the kept pairs are never held twice over."""
        columns = [f.name for f in fields(_Scored)]
        out = {
            c: np.empty(
                int(np.count_nonzero(keep)), dtype=np.result_type(*(getattr(p, c) for p in parts))
            )
            for c in columns
        }
        start = at = 0
        parts.reverse()
        while parts:
            part = parts.pop()
            rows = np.flatnonzero(keep[start : start + len(part)])
            for c in columns:
                out[c][at : at + rows.size] = getattr(part, c)[rows]
            start, at = start + len(part), at + rows.size
            del part
        return _Scored(**out)

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
            text=self.text,
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
        depths: tuple[IntArray, IntArray],
    ) -> None:
        self.offers, self.demands, self.reach2 = offers, demands, reach2
        self.depths = depths  # the category depths among the offers, among the demands
        self.min_score, self.today, self.weights = min_score, today, weights
        self.route_fn, self.legal_fn, self.text_fn = route_fn, legal_fn, text_fn
        self.log_min = math.log(min_score) - _SLACK if min_score > 0 else -math.inf
        self.count = _Counters()
        # (offer floors, demand floors), live arrays: set once every listing has been seen.
        self.floors: tuple[FloatArray, FloatArray] | None = None
        # Text similarity left for the end: pairs are scored at text 0 (``score``, a lower
        # bound) and text 1 (``upper``), and text_fn runs only on the pairs whose interval
        # still reaches their listing's floor (``_Selector``, then ``rescore``).
        self.defer_text = False
        self._log_caps: dict[tuple[int, int, str], tuple[npt.NDArray[np.int32], FloatArray]] = {}

    def far_reach2(
        self, floor: FloatArray, resource: npt.NDArray[np.int8], material_cap: float = 1.0
    ) -> FloatArray:
        """Squared chord beyond which a pair scores below max(floor, min_score), given that its
        material is at most ``material_cap``; -1 where no distance is close enough.

        score <= material_cap ** w_material × exp(-w_distance × km / scale), every other
        component being at most 1.
        """
        threshold = np.maximum(floor, self.min_score)
        scale = _SCALE_BY_RESOURCE[resource]
        wm, _, wd, _, _ = self.weights.normalised()
        with np.errstate(divide="ignore"):
            km = np.where(
                threshold > 0,
                scale / wd * (wm * math.log(material_cap) - np.log(np.minimum(threshold, 1.0))),
                np.inf,
            )
        reach2 = (km / EARTH_RADIUS_KM) ** 2 * (1 + _SLACK) + _SLACK
        return np.asarray(np.where(km >= 0, reach2, -1.0))

    def search_bound(
        self, query: _Query, block: _Block, keys: str, table: npt.NDArray[np.int32]
    ) -> tuple[npt.NDArray[np.int32], FloatArray, _Side, _Side]:
        """What the search kernel cuts on (``kernels.ball_pairs``): per distinct value of
        ``table`` (sorted), w_material × log of the largest material its encoding allows
        (``scoring.material_cap``, text 1 when text is scored); per listing of each side, the
        log of its cut (its floor, once there are floors, and ``min_score``) and the log
        distance decay per unit of chord (the demand side's w_distance × earth radius / scale;
        0 for offers). Every other component is at most 1, as in ``score``'s bound."""
        key = (id(query), id(block), keys)
        caps = self._log_caps.get(key)
        if caps is None:
            wm = self.weights.normalised()[0]
            values = np.unique(table[table != 0])  # the kernel skips cells of 0
            cap = material_cap(values, *self.depths, text=self.text_fn is not None)
            with np.errstate(divide="ignore"):
                log_cap = wm * np.log(cap) + 1e-6  # a hair above: rounding never cuts a pair
            caps = (values.astype(np.int32), np.asarray(log_cap, dtype=np.float64))
            self._log_caps[key] = caps
        on_demands = query.batch is self.demands
        floors = (None, None) if self.floors is None else self.floors
        offer_side = _Side(self, floors[0], None)
        demand_side = _Side(self, floors[1], self.demands.scale_km)
        if on_demands:
            return (*caps, demand_side, offer_side)
        return (*caps, offer_side, demand_side)

    @property
    def weak_cap(self) -> float:
        """The largest material a pair joined only by a weak key can reach."""
        text = 1.0 if self.text_fn is not None else 0.0
        return float(material_pairs(np.array([max(SAME_CHAPTER, SAME_FAMILY)]), text)[0])

    def _log_bound(
        self,
        material: FloatArray,
        quantity: FloatArray,
        log_distance: FloatArray,
        timing: FloatArray,
    ) -> FloatArray:
        """log of an upper bound of the score (legal 1, the chord for the route)."""
        wm, wq, wd, _, wt = self.weights.normalised()
        log_ub = wm * _log(material) + wq * _log(quantity) + wd * log_distance + wt * _log(timing)
        return np.asarray(log_ub)

    def _bound_ok(
        self,
        material: FloatArray,
        quantity: FloatArray,
        log_distance: FloatArray,
        timing: FloatArray,
    ) -> BoolArray:
        return np.asarray(self._log_bound(material, quantity, log_distance, timing) >= self.log_min)

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
        if self.floors is not None:
            # A pair matters only if it can beat its offer's or its demand's k-th best.
            floor_o, floor_d = self.floors
            threshold = np.maximum(np.minimum(floor_o[oi], floor_d[dj]), self.min_score)
            with np.errstate(divide="ignore"):
                log_threshold = np.log(np.maximum(threshold, 0.0)) - _SLACK
            alive &= self._log_bound(material, quantity, -chord_km / db.scale_km[dj], timing) >= (
                log_threshold
            )
        elif self.log_min > -math.inf:
            alive &= self._bound_ok(material, quantity, -chord_km / db.scale_km[dj], timing)
        keep = np.flatnonzero(alive)
        if keep.size < oi.size:
            oi, dj, d2, structure, strong, quantity, timing, material, encoding = (
                a[keep]
                for a in (oi, dj, d2, structure, strong, quantity, timing, material, encoding)
            )
        self.count.routed += oi.size
        if oi.size == 0:
            return None

        text = np.zeros(oi.size)
        if self.text_fn is not None and not self.defer_text:
            text = np.asarray(self.text_fn(oi, dj), dtype=np.float64)
            material = material_pairs(structure, text)
            upper_material = material
        else:
            upper_material = material  # text 1 (or no text at all)
            if self.text_fn is not None:
                material = material_pairs(structure, 0.0)
        if self.route_fn is None:
            km = _great_circle_km(d2) * ROAD_DETOUR
            mode = np.full(km.shape, ROAD_MODE, dtype=np.int8)
        else:
            km_raw, mode_raw = self.route_fn(oi, dj)
            km = np.asarray(km_raw, dtype=np.float64)
            mode = np.asarray(mode_raw).astype(np.int8)
        distance = distance_pairs(db, dj, km)
        material = weak_link_pairs(material, strong, km)
        upper_material = weak_link_pairs(upper_material, strong, km)
        keep = np.flatnonzero((distance > 0) & (upper_material > 0))
        if keep.size < oi.size:
            (oi, dj, material, upper_material, quantity, timing, distance, km, mode, encoding,
             text) = (
                a[keep]
                for a in (
                    oi, dj, material, upper_material, quantity, timing, distance, km, mode,
                    encoding, text,
                )
            )  # fmt: skip
        legal_raw = self.legal_fn(oi, dj) if self.legal_fn is not None else 1.0
        legal = legal_pairs(ob, db, oi, dj, legal_raw)
        score = combine_pairs(material, quantity, distance, legal, timing, self.weights)
        upper = (
            score
            if upper_material is material
            else combine_pairs(upper_material, quantity, distance, legal, timing, self.weights)
        )
        self.count.scored += oi.size
        keep = np.flatnonzero((upper >= self.min_score) & (upper > 0))
        self.count.above_min += keep.size
        if keep.size == 0:
            return None
        scored = _Scored(
            oi, dj, score, material, quantity, distance, legal, timing, km, mode, encoding, upper,
            text,
        )  # fmt: skip
        return scored if keep.size == oi.size else scored.take(keep)

    def rescore(self, oi: IntArray, dj: IntArray, encoding: IntArray) -> _Scored | None:
        """Score pairs again, exactly (text included), without counting them."""
        saved, self.count = self.count, _Counters()
        deferred, self.defer_text = self.defer_text, False
        try:
            return self.score(oi, dj, encoding)
        finally:
            self.count, self.defer_text = saved, deferred

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


class _Side:
    """One side's part of the search bound: the log cut and the decay per unit of chord of
    given rows (``scale_km``: the demands' distance scales; None for offers)."""

    def __init__(self, run: _Run, floor: FloatArray | None, scale_km: FloatArray | None) -> None:
        self.run, self.floor, self.scale_km = run, floor, scale_km
        self.per_scale = run.weights.normalised()[2] * EARTH_RADIUS_KM

    def at(self, rows: IntArray) -> tuple[FloatArray, FloatArray]:
        if self.floor is None:
            cut = np.full(rows.size, self.run.log_min)
        else:
            with np.errstate(divide="ignore"):
                cut = np.log(np.maximum(self.floor[rows], self.run.min_score)) - _SLACK
        if self.scale_km is None:
            return cut, np.zeros(rows.size)
        return cut, self.per_scale / self.scale_km[rows]


_SCALE_BY_RESOURCE: Final = np.array([DISTANCE_SCALE_KM[r] for r in ResourceType])


# --------------------------------------------------------------------------------------------
# Top k on both sides
# --------------------------------------------------------------------------------------------


_Pending = tuple[IntArray, IntArray, FloatArray, FloatArray, IntArray]  # oi, dj, lower, upper, enc


class _Selector:
    """Keeps, per offer and per demand, the pairs that may still be in its top k (as rows,
    the score's lower and upper bound, and encoding), and the floor of each listing that has k
    pairs: the k-th best lower bound so far, which its k-th best score can only beat. Without
    deferred text both bounds are the score. The pairs that may still matter are scored
    exactly at the end, for those pairs only (``_top_k``)."""

    def __init__(self, offers: ListingBatch, demands: ListingBatch, k: int) -> None:
        self.k = k
        self.offers, self.demands = offers, demands
        self.floor = {"o": np.full(len(offers), -np.inf), "d": np.full(len(demands), -np.inf)}
        self.pending: dict[str, list[_Pending]] = {"o": [], "d": []}
        self.size = {"o": 0, "d": 0}
        self.limit = {"o": PENDING_LIMIT, "d": PENDING_LIMIT}

    def add(self, found: _Scored) -> None:
        for side, rows in (("o", found.oi), ("d", found.dj)):
            keep = np.flatnonzero(found.upper >= self.floor[side][rows])
            self.pending[side].append(  # rows and encodings fit 32 bits: 28 bytes a pair
                (
                    found.oi[keep].astype(np.int32),
                    found.dj[keep].astype(np.int32),
                    found.score[keep],
                    found.upper[keep],
                    found.encoding[keep].astype(np.int32),
                )
            )
            self.size[side] += keep.size
            if self.size[side] > self.limit[side]:
                self.reduce(side)

    def _merged(self, side: str) -> _Pending:
        parts = self.pending[side]
        if len(parts) == 1:
            return parts[0]
        if not parts:
            i = np.zeros(0, dtype=np.int64)
            return i, i, np.zeros(0), np.zeros(0), i
        return tuple(np.concatenate([p[n] for p in parts]) for n in range(5))  # type: ignore[return-value]

    def reduce(self, side: str) -> None:
        oi, dj, lower, upper, enc = self._merged(side)
        self.pending[side] = []  # the parts go once merged: the reduction's peak holds one copy
        floor = self.floor[side]
        if side == "o":
            group, tie = oi, self.demands.ids[dj]
        else:
            group, tie = dj, self.offers.ids[oi]
        top = _top_k_positions(group, lower, tie, self.k, floor.size)
        full = np.bincount(group[top], minlength=floor.size) >= self.k
        lowest = np.full(floor.size, np.inf)
        np.minimum.at(lowest, group[top], lower[top])
        floor[full] = np.maximum(floor[full], lowest[full])
        keep = np.flatnonzero(upper >= floor[group])
        # Column by column, each merged column let go once its kept rows are copied.
        columns = [oi, dj, lower, upper, enc]
        del oi, dj, lower, upper, enc, group, tie
        kept = [columns.pop(0)[keep] for _ in range(5)]
        self.pending[side] = [(kept[0], kept[1], kept[2], kept[3], kept[4])]
        self.size[side] = keep.size
        self.limit[side] = max(PENDING_LIMIT, 2 * keep.size)

    def finish(self) -> tuple[IntArray, IntArray, IntArray]:
        """(offer rows, demand rows, encodings) of every pair that may be in either top k."""
        self.reduce("o")
        self.reduce("d")
        (oi_o, dj_o, _, _, e_o), (oi_d, dj_d, _, _, e_d) = self._merged("o"), self._merged("d")
        self.pending = {"o": [], "d": []}  # let go before the exact rescoring (100 MB here)
        oi = np.concatenate((oi_o, oi_d)).astype(np.int64)
        dj = np.concatenate((dj_o, dj_d)).astype(np.int64)
        enc = np.concatenate((e_o, e_d)).astype(np.int64)
        _, first = np.unique(oi * len(self.demands) + dj, return_index=True)
        return oi[first], dj[first], enc[first]


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


def _add(select: _Selector, scored: _Scored | None) -> None:
    if scored is not None:
        select.add(scored)


def _top_k(offers: OfferBatch, index: SpatialIndex, run: _Run, k: int) -> MatchResult:
    demands = index.batch
    query = index.query(offers)
    select = _Selector(offers, demands, k)

    # Pass 1: short-reach demands completely; long-reach demands on strong keys nearby. The
    # core (within CORE_KM) first: the floors it sets prune the rest of the pass.
    for inner2 in (-1.0, _CORE2):
        core = inner2 < 0
        for resource, unit, rows in _groups(offers):
            blocks = index.blocks_for(resource, unit)
            for chunk in _kd_chunks(offers, rows, CHUNK) if blocks else ():
                run.count.chunks += 1
                for block in blocks:
                    reach = block.reach_chord if block.near else _FIRST_CHORD
                    if core:
                        reach, hi2 = min(reach, _CORE_CHORD), _CORE2
                    elif reach**2 <= inner2:
                        continue
                    else:
                        hi2 = None if block.near else _FIRST2
                    keys = "all" if block.near else "strong"
                    pairs = _ball_pairs(
                        query, chunk, index, block, reach, keys=keys, run=run, inner2=inner2
                    )
                    _add(select, run.score(*pairs, lo2=None if core else inner2, hi2=hi2))
        select.reduce("o")
        select.reduce("d")
        run.floors = (select.floor["o"], select.floor["d"])
    far_blocks = [b for b in index.blocks if not b.near]
    if far_blocks:
        far_demands = np.concatenate([b.members for b in far_blocks])
        rings = _Rings(offers, query, index, far_blocks, far_demands, run, select)
        run.floors = (select.floor["o"], select.floor["d"])
        # Pass 2: strong keys, ring by ring, out to where the floors leave room.
        inner2 = _FIRST2
        for outer_km in RING_KM:
            outer2 = float(_reach2(np.array(outer_km)))
            rings.search(
                np.minimum(run.far_reach2(select.floor["o"], offers.resource), outer2),
                np.minimum(run.far_reach2(select.floor["d"], demands.resource), outer2),
                inner2=inner2,
                keys="strong",
            )
            inner2 = outer2
        # Pass 3: weak keys (nothing stronger), within 50 km and where the floors leave room.
        cap = run.weak_cap
        rings.search(
            np.minimum(run.far_reach2(select.floor["o"], offers.resource, cap), _WEAK2),
            np.minimum(run.far_reach2(select.floor["d"], demands.resource, cap), _WEAK2),
            inner2=-1.0,
            keys="weak",
        )
        del rings  # the offers' own index and its tables: not needed for the rescoring
    del query
    stats = run.stats()
    oi, dj, enc = select.finish()
    run.floors = None
    # A batch at a time: scoring makes a dozen temporaries per pair.
    rescored = (
        run.rescore(oi[start : start + RESCORE_BATCH], dj[start : start + RESCORE_BATCH],
                    enc[start : start + RESCORE_BATCH])
        for start in range(0, oi.size, RESCORE_BATCH)
    )  # fmt: skip
    floor_o, floor_d = select.floor["o"], select.floor["d"]
    parts = [
        # k pairs of the offer (or of the demand) score at least its floor: below both, out
        part.take(np.flatnonzero(part.score >= np.minimum(floor_o[part.oi], floor_d[part.dj])))
        for part in rescored
        if part is not None
    ]
    if not parts:
        return _empty_result(stats)
    # The top k from the pairs and scores alone; the other columns are gathered for the pairs
    # kept only, part by part (concatenating every column first held a chunk's pairs twice).
    oi, dj = np.concatenate([p.oi for p in parts]), np.concatenate([p.dj for p in parts])
    keep = _union_mask(
        oi,
        len(offers),
        dj,
        len(demands),
        np.concatenate([p.score for p in parts]),
        offers.ids[oi],
        demands.ids[dj],
        k,
    )
    del oi, dj
    return _Scored.gather(parts, keep).result(offers, demands, stats)


def _radius_chunks(batch: ListingBatch, rows: IntArray, radius: FloatArray) -> Iterator[IntArray]:
    """Spatially compact chunks of listings with similar search radii."""
    classes = np.searchsorted(_RADIUS_CLASSES, radius[rows])
    for value in np.unique(classes).tolist():
        yield from _kd_chunks(batch, rows[classes == value], CHUNK)


class _Rings:
    """Pass 2 and 3: the ring (inner, reach] around each offer, then the ring (max(inner, the
    offer's reach), reach] around each demand, so that no pair is scored twice."""

    def __init__(
        self,
        offers: OfferBatch,
        query: _Query,
        index: SpatialIndex,
        far_blocks: list[_Block],
        far_demands: IntArray,
        run: _Run,
        select: _Selector,
    ) -> None:
        self.offers, self.query, self.index = offers, query, index
        self.far_blocks, self.far_demands = far_blocks, far_demands
        self.run, self.select = run, select
        self._offer_side: tuple[SpatialIndex, _Query] | None = None

    def offer_side(self) -> tuple[SpatialIndex, _Query]:
        if self._offer_side is None:
            offer_index = SpatialIndex(self.offers)
            self._offer_side = (offer_index, offer_index.query(self.index.batch))
        return self._offer_side

    def search(self, reach_o: FloatArray, reach_d: FloatArray, *, inner2: float, keys: str) -> None:
        offers, demands, run, select = self.offers, self.index.batch, self.run, self.select
        radius_o = np.sqrt(np.maximum(reach_o, 0.0))
        for resource, unit, rows in _groups(offers):
            blocks = [b for b in self.far_blocks if (b.resource, b.unit) == (resource, unit)]
            todo = rows[reach_o[rows] > inner2] if blocks else rows[:0]
            for chunk in _radius_chunks(offers, todo, radius_o):
                run.count.chunks += 1
                for block in blocks:
                    oi, dj, enc = _ball_pairs(
                        self.query,
                        chunk,
                        self.index,
                        block,
                        radius_o,
                        keys=keys,
                        run=run,
                        inner2=inner2,
                    )
                    _add(select, run.score(oi, dj, enc, lo2=inner2, hi2=reach_o[oi]))
        todo_d = self.far_demands[reach_d[self.far_demands] > inner2]
        if todo_d.size:
            offer_index, demand_query = self.offer_side()
            radius_d = np.sqrt(np.maximum(np.minimum(reach_d, self.index.reach2), 0.0))
            for block in offer_index.blocks:
                mine = todo_d[
                    (demands.resource[todo_d] == block.resource)
                    & (demands.unit[todo_d] == block.unit)
                ]
                for chunk in _radius_chunks(demands, mine, radius_d):
                    run.count.chunks += 1
                    dj, oi, enc = _ball_pairs(
                        demand_query,
                        chunk,
                        offer_index,
                        block,
                        radius_d,
                        keys=keys,
                        run=run,
                        inner2=inner2,
                        member_inner2=reach_o,
                    )
                    lo2 = np.maximum(reach_o[oi], inner2)
                    _add(select, run.score(oi, dj, enc, lo2=lo2, hi2=reach_d[dj]))
        select.reduce("o")
        select.reduce("d")


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
        depths=(np.unique(offers.depth), index.depths),
    )
    run.defer_text = text_fn is not None
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
    """The three passes for one listing (row 0 of ``query``) against an index; best k first."""
    row = np.zeros(1, dtype=np.int64)
    found: list[_Scored] = []

    def search(block: _Block, radius2: float, *, keys: str, lo2: Ring, hi2: Ring) -> None:
        if radius2 < 0:
            return
        qi, ii, enc = _ball_pairs(query, row, index, block, math.sqrt(radius2), keys=keys, run=run)
        oi, dj = (qi, ii) if offer_is_query else (ii, qi)
        scored = run.score(oi, dj, enc, lo2=lo2, hi2=hi2)
        if scored is not None:
            found.append(scored)

    def floor() -> FloatArray:
        scores = np.concatenate([f.score for f in found]) if found else np.zeros(0)
        if k is None or scores.size < k:
            return np.array([-np.inf])
        return np.array([np.partition(scores, scores.size - k)[scores.size - k]])

    resources = np.array([resource], dtype=np.int8)
    blocks = index.blocks_for(resource, unit)
    # The reach of each block: its demands' largest maximum, or the query demand's.
    bounds = [block.reach_chord**2 if index.is_demands else reach2 for block in blocks]
    near = [block.near if index.is_demands else reach2 <= _NEAR2 for block in blocks]
    for block, bound, is_near in zip(blocks, bounds, near, strict=True):
        if is_near:
            search(block, bound, keys="all", lo2=None, hi2=None)
        else:
            search(block, min(bound, _FIRST2), keys="strong", lo2=None, hi2=_FIRST2)
    far2 = float(run.far_reach2(floor(), resources)[0])
    for block, bound, is_near in zip(blocks, bounds, near, strict=True):
        if not is_near and min(far2, bound) > _FIRST2:
            search(block, min(far2, bound), keys="strong", lo2=_FIRST2, hi2=far2)
    weak2 = min(float(run.far_reach2(floor(), resources, run.weak_cap)[0]), _WEAK2)
    for block, bound, is_near in zip(blocks, bounds, near, strict=True):
        if not is_near:
            search(block, min(weak2, bound), keys="weak", lo2=None, hi2=weak2)
    everything = _Scored.concat(found)
    tie_ids = index.batch.ids
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
        depths=(offers.depth, index.depths),
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
        depths=(index.depths, demands.depth),
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
