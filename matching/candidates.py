"""Candidate generation on the database: cached indexes of published listings, and the
vectorised callbacks the engine (``matching.engine``) calls for the pairs it keeps.

The engine is pure and takes its inputs as arrays. This module adapts the database to it:

* A ``ListingTable`` holds one side (offers or demands) as columns: the scoring profiles, the
  organisation and version of each row, a global code for its legal facts, TF-IDF rows of its
  text (one per distinct text) and its nearest ports on each freight network.
* ``SideCache`` keeps, once per process, a ``SpatialIndex`` over every published listing of one
  side (the *main* part) plus small *segments* for the rows that changed since. Every use starts
  with a sync: two indexed queries find the rows whose ``updated_at`` moved (of the listing or of
  its site); a full check of (id, version, updated_at) runs every
  ``MATCHING_INDEX_FULL_CHECK_SECONDS`` and catches deletions and raw updates. A changed row goes
  to a new segment and its old row is marked dead (its pairs score 0); when the segments grow
  past ``max(2000, 1 %)`` of the main part, the main part is rebuilt.
* ``EngineCallbacks`` gives the engine its ``route_fn`` (the harbours ``Router``'s best route for
  material, computed from per-listing nearest-port tables; a pipe, great-circle × 1.25, for heat
  and water), ``legal_fn`` (``LegalOracle`` once per distinct pair of legal facts; 0 for a pair
  within one organisation or with a dead row) and ``text_fn`` (cosine of the TF-IDF rows, as
  block products of a few dozen listings against their neighbours).

Nothing here writes; ``matching.services`` does.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from django.conf import settings
from django.db import connection
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from harbors.logistics import (
    MODE_CODES,
    Router,
    haversine_km_pairs,
    mode_from_code,
    unit_vectors,
)
from listings.models import Demand, ListingStatus, Offer, Site

from . import selectors
from .engine import (
    EngineStats,
    MatchResult,
    SpatialIndex,
    matches_for_demand,
    matches_for_offer,
    merge_top_k,
    top_k_matches_for_offer_chunk,
)
from .pair_context import (
    ORGANIC_CHAPTERS,
    PIPE_DETOUR,
    DemandLegal,
    LegalOracle,
    LegalOutcome,
    OfferLegal,
)
from .scoring import DemandBatch, OfferBatch, pair_encoding, score_pairs

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

PIPE_MODE: Final = len(MODE_CODES)  # engine mode code of a pipe (heat, steam, water)
# Re-read this much before the watermark: a row saved just before another one may commit just
# after it. A longer transaction (a bulk import) is caught by the periodic full check.
SYNC_OVERLAP: Final = timedelta(seconds=2)
MAX_SEGMENTS: Final = 8  # then the segments are merged into one
BUCKET_SHIFT: Final = 12  # the full check compares checksums of 4096 ids at a time
TEXT_GROUP: Final = 48  # listings per block product of text vectors
TEXT_SPARSE_RATIO: Final = 8  # a block product with more cells than this × its pairs: row by row
TEXT_FEW: Final = 4  # a side this small is multiplied as a dense matrix
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)

KIND_MODEL: Final[dict[str, type[Offer] | type[Demand]]] = {"offer": Offer, "demand": Demand}


def stamp(value: datetime | None) -> int:
    """A timestamp as exact integer microseconds (0 for None)."""
    return 0 if value is None else (value - _EPOCH) // _MICROSECOND


def mode_name(code: int) -> str:
    """The stored transport mode of an engine mode code ("road", "sea", …, "pipe")."""
    return "pipe" if code == PIPE_MODE else str(mode_from_code(code))


# --------------------------------------------------------------------------------------------
# Legal facts: one global code per distinct fact set, one oracle call per distinct pair
# --------------------------------------------------------------------------------------------


_LEGAL_CODE_RE: Final = re.compile(r"\d{6}")
MIXED_MUNICIPAL_WASTE: Final = "200301"


def legal_key(facts: OfferLegal) -> OfferLegal:
    """The offer's legal facts with its List of Waste code replaced by a representative that
    the legal decision cannot tell apart from it.

    ``matching.legal`` reads the code only to check its form, to spot mixed municipal waste
    (20 03 01), and ``LegalOracle`` reads its chapter to assume R3 (organic) or R5; the label
    and flags never name it. So every well-formed code other than 20 03 01 decides like 02 01 01
    (organic chapters) or 10 01 01 (the rest), and a chunk meets a few hundred distinct legal
    questions instead of tens of thousands. ``tests/matching/test_candidates.py`` holds this
    against every code of the List of Waste.
    """
    code = facts.low_code
    if not code or code == MIXED_MUNICIPAL_WASTE or not _LEGAL_CODE_RE.fullmatch(code):
        return facts
    if not 1 <= int(code[:2]) <= 20:
        return facts
    representative = "020101" if code[:2] in ORGANIC_CHAPTERS else "100101"
    return dataclasses.replace(facts, low_code=representative)


class LegalRegistry:
    """Process-wide codes for distinct offer and demand legal facts, and the memoised outcome
    of every combination met so far (for one shipment date)."""

    def __init__(self) -> None:
        self.offer_codes: dict[OfferLegal, int] = {}
        self.offer_facts: list[OfferLegal] = []
        self.demand_codes: dict[DemandLegal, int] = {}
        self.demand_facts: list[DemandLegal] = []
        self._day: date | None = None
        self._oracle: LegalOracle | None = None
        self._table: FloatArray = np.full((0, 0), np.nan)  # offer code × demand code → score
        # (offer code, demand code) → outcome: the oracle's own memo hashes both facts' dozen
        # fields at each call, 1 s of a chunk's explanations at 100,000 × 100,000
        self._outcomes: dict[tuple[int, int], LegalOutcome] = {}

    def offer_code(self, facts: OfferLegal) -> int:
        facts = legal_key(facts)
        code = self.offer_codes.get(facts)
        if code is None:
            code = self.offer_codes[facts] = len(self.offer_facts)
            self.offer_facts.append(facts)
        return code

    def demand_code(self, facts: DemandLegal) -> int:
        code = self.demand_codes.get(facts)
        if code is None:
            code = self.demand_codes[facts] = len(self.demand_facts)
            self.demand_facts.append(facts)
        return code

    def oracle(self, day: date) -> LegalOracle:
        if self._oracle is None or self._day != day:
            self._day, self._oracle = day, LegalOracle(shipment_date=day)
            self._table = np.full((0, 0), np.nan)
            self._outcomes = {}
        return self._oracle

    def outcome(self, offer_code: int, demand_code: int, day: date) -> LegalOutcome:
        oracle = self.oracle(day)
        found = self._outcomes.get((offer_code, demand_code))
        if found is None:
            found = self._outcomes[offer_code, demand_code] = oracle.outcome(
                self.offer_facts[offer_code], self.demand_facts[demand_code]
            )
        return found

    def scores(self, offer_codes: IntArray, demand_codes: IntArray, day: date) -> FloatArray:
        """The legal score of each pair: a table lookup, the oracle asked once per distinct
        combination ever met (for this shipment date)."""
        if offer_codes.size == 0:
            return np.zeros(0)
        self.oracle(day)
        rows, columns = len(self.offer_facts), len(self.demand_facts)
        if self._table.shape != (rows, columns):
            grown = np.full((rows, columns), np.nan)
            grown[: self._table.shape[0], : self._table.shape[1]] = self._table
            self._table = grown
        values = self._table[offer_codes, demand_codes]
        missing = np.flatnonzero(np.isnan(values))
        if missing.size:
            combos = np.unique(offer_codes[missing] * columns + demand_codes[missing])
            for combo in combos.tolist():
                o, d = divmod(combo, columns)
                self._table[o, d] = self.outcome(o, d, day).score
            values = self._table[offer_codes, demand_codes]
        return values


LEGAL = LegalRegistry()


# --------------------------------------------------------------------------------------------
# Routes: the Router's best route, from nearest-port tables computed once per listing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class PortTable:
    """Per listing and freight network: the indices and great-circle km of its nearest ports,
    exactly as ``Router`` finds them (largest dot product of unit vectors, ties to the lower
    index)."""

    index: tuple[npt.NDArray[np.int16], ...]  # per network: n × k
    km: tuple[FloatArray, ...]  # per network: n × k

    @classmethod
    def build(cls, router: Router, lat: FloatArray, lon: FloatArray) -> PortTable:
        xyz = unit_vectors(lat, lon)
        indices, kms = [], []
        for network in router.networks:
            k = min(router.nearest, len(network.ports))
            index = np.empty((lat.size, k), dtype=np.int16)
            for start in range(0, lat.size, 65536):
                closeness = xyz[start : start + 65536] @ network.xyz.T
                rows = np.arange(closeness.shape[0])
                for column in range(k):
                    nearest = np.argmax(closeness, axis=1)
                    index[start : start + 65536, column] = nearest
                    closeness[rows, nearest] = -np.inf
            km = haversine_km_pairs(
                np.repeat(lat, k),
                np.repeat(lon, k),
                network.lat[index].ravel(),
                network.lon[index].ravel(),
            ).reshape(lat.size, k)
            indices.append(index)
            kms.append(km)
        return cls(tuple(indices), tuple(kms))

    @classmethod
    def concat(cls, tables: Sequence[PortTable]) -> PortTable:
        return cls(
            tuple(np.concatenate(parts) for parts in zip(*(t.index for t in tables), strict=True)),
            tuple(np.concatenate(parts) for parts in zip(*(t.km for t in tables), strict=True)),
        )


@dataclass(frozen=True, slots=True, eq=False)
class Routes:
    km: FloatArray
    mode: npt.NDArray[np.int8]
    eur_per_tonne: FloatArray
    kg_co2e_per_tonne: FloatArray


def best_routes(
    router: Router,
    origin: ListingTable,
    destination: ListingTable,
    oi: IntArray,
    dj: IntArray,
) -> Routes:
    """``Router.best_route_pairs`` for material pairs (same arithmetic, same order of
    candidates), a pipe for heat and water. A network route costs at least its handling, so
    pairs whose road leg is cheaper than every network's handling skip the networks."""
    gc = haversine_km_pairs(
        origin.lat[oi], origin.lon[oi], destination.lat[dj], destination.lon[dj]
    )
    road = router.road
    road_km = gc * road.detour_factor
    eur = road_km * road.eur_per_tkm + 2.0 * road.eur_per_tonne_handling
    material = origin.material[oi]
    mode = np.where(material, 0, PIPE_MODE).astype(np.int8)
    km = np.where(material, road_km, gc * PIPE_DETOUR)
    main_km = np.zeros_like(gc)
    main_g = np.zeros_like(gc)
    handling = [
        4.0 * road.eur_per_tonne_handling + 2.0 * n.factor.eur_per_tonne_handling
        for n in router.networks
    ]
    todo = np.flatnonzero(material & (eur > min(handling, default=math.inf)))
    if todo.size:
        o_rows, d_rows = oi[todo], dj[todo]
        best_eur, best_road = eur[todo], road_km[todo]
        best_main, best_g, best_mode = main_km[todo], main_g[todo], mode[todo]
        with np.errstate(invalid="ignore"):  # inf legs × a zero rate give NaN: never "better"
            for n, network in enumerate(router.networks):
                main = network.factor
                code = MODE_CODES.index(network.mode)
                o_idx, o_gc = origin.ports.index[n][o_rows], origin.ports.km[n][o_rows]
                d_idx, d_gc = destination.ports.index[n][d_rows], destination.ports.km[n][d_rows]
                for a in range(o_idx.shape[1]):
                    for b in range(d_idx.shape[1]):
                        leg = network.leg_km[o_idx[:, a], d_idx[:, b]]
                        road_total = (
                            o_gc[:, a] * road.detour_factor + d_gc[:, b] * road.detour_factor
                        )
                        cand = road_total * road.eur_per_tkm + leg * main.eur_per_tkm + handling[n]
                        better = cand < best_eur
                        np.copyto(best_eur, cand, where=better)
                        np.copyto(best_road, road_total, where=better)
                        np.copyto(best_main, leg, where=better)
                        np.copyto(best_g, main.g_co2e_per_tkm, where=better)
                        np.copyto(best_mode, code, where=better)
        eur[todo], road_km[todo], main_km[todo], main_g[todo] = (
            best_eur,
            best_road,
            best_main,
            best_g,
        )
        mode[todo] = best_mode
        km[todo] = best_road + best_main
    co2 = (road_km * road.g_co2e_per_tkm + main_km * main_g) / 1000.0
    return Routes(
        km=km,
        mode=mode,
        eur_per_tonne=np.where(material, eur, 0.0),
        kg_co2e_per_tonne=np.where(material, co2, 0.0),
    )


# --------------------------------------------------------------------------------------------
# Text: TF-IDF rows per distinct text, cosine by block products
# --------------------------------------------------------------------------------------------


def text_vectors(
    texts: Sequence[str], concepts: Sequence[frozenset[str]]
) -> tuple[sp.csr_matrix, IntArray]:
    """(TF-IDF rows of the distinct texts, row of each text) as ``TextSimilarity.vectors``
    computes them, reusing each listing's concepts for the thesaurus expansion."""
    from .text import TextSimilarity

    similarity = TextSimilarity.default()
    thesaurus = similarity.thesaurus
    distinct: dict[str, int] = {}
    prepared: list[str] = []
    rows = np.empty(len(texts), dtype=np.int64)
    for n, (text, found) in enumerate(zip(texts, concepts, strict=True)):
        row = distinct.get(text)
        if row is None:
            row = distinct[text] = len(prepared)
            if similarity.expand and found:
                names = [
                    thesaurus.concepts[c].name for c in sorted(found) if c in thesaurus.concepts
                ]
                prepared.append(" ".join([text, *names]) if names else text)
            else:
                prepared.append(text or "")
        rows[n] = row
    if not prepared:
        return sp.csr_matrix((0, len(similarity.vectorizer.vocabulary_)), dtype=np.float32), rows
    return similarity.transform(prepared), rows


def pair_cosine(
    a: sp.csr_matrix, a_rows: IntArray, b: sp.csr_matrix, b_rows: IntArray, group: IntArray
) -> FloatArray:
    """cos(a[a_rows[p]], b[b_rows[p]]) for every pair p, in [0, 1].

    Pairs are taken in blocks of ``TEXT_GROUP`` distinct ``group`` values (the listing side that
    is spatially ordered). A block whose pairs fill a good part of its distinct rows' product
    (neighbouring listings share their candidates) is one sparse product; the pairs of sparser
    blocks (e.g. the few pairs per listing kept at the end of a search) are multiplied pair by
    pair (``kernels.sparse_row_dots``), so that no product computes cells nobody asked for.
    """
    n = a_rows.size
    out = np.zeros(n)
    if n == 0:
        return out
    order = np.argsort(group, kind="stable")
    starts = np.flatnonzero(np.r_[True, group[order][1:] != group[order][:-1]])
    bounds = [*starts[::TEXT_GROUP].tolist(), n]
    rowwise: list[IntArray] = []
    for lo, hi in itertools.pairwise(bounds):
        sel = order[lo:hi]
        u, ui = np.unique(a_rows[sel], return_inverse=True)
        v, vi = np.unique(b_rows[sel], return_inverse=True)
        if u.size * v.size > TEXT_SPARSE_RATIO * sel.size:
            rowwise.append(sel)
        elif v.size <= TEXT_FEW:  # e.g. one new demand against its offers: sparse × dense
            out[sel] = np.asarray(a[u] @ b[v].toarray().T)[ui, vi]
        elif u.size <= TEXT_FEW:  # one new offer against its demands
            out[sel] = np.asarray(b[v] @ a[u].toarray().T)[vi, ui]
        else:
            out[sel] = np.asarray((a[u] @ b[v].T).toarray())[ui, vi]
    if rowwise:
        from . import kernels  # Numba costs 0.6 s to import: only where pairs are scored

        pending = np.concatenate(rowwise)  # grouped by ``group``: runs of one a row
        out[pending] = kernels.sparse_row_dots(
            a.indptr, a.indices, a.data, a_rows[pending],
            b.indptr, b.indices, b.data, b_rows[pending], a.shape[1],
        )  # fmt: skip
    return np.clip(out, 0.0, 1.0)


# --------------------------------------------------------------------------------------------
# One side as columns
# --------------------------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class ListingTable:
    """Offers or demands as the engine's callbacks read them (row = position in ``profiles``)."""

    kind: str
    profiles: list[Any]  # OfferProfile or DemandProfile
    ids: IntArray
    org: IntArray
    version: IntArray
    stamp: IntArray  # updated_at, µs
    material: BoolArray
    lat: FloatArray
    lon: FloatArray
    legal: IntArray  # LEGAL codes
    annual_quantity: FloatArray  # per year, in the base unit
    in_tonnes: BoolArray  # the base unit is the tonne
    texts: sp.csr_matrix
    text_row: IntArray
    ports: PortTable
    dead: BoolArray = field(default_factory=lambda: np.zeros(0, dtype=np.bool_))
    _order: IntArray | None = None

    @classmethod
    def build(
        cls, kind: str, listings: Sequence[selectors.ScoredListing], router: Router
    ) -> ListingTable:
        code = LEGAL.offer_code if kind == "offer" else LEGAL.demand_code
        profiles = [item.profile for item in listings]
        lat = np.array([p.lat for p in profiles], dtype=np.float64)
        lon = np.array([p.lon for p in profiles], dtype=np.float64)
        texts, text_row = text_vectors(
            [item.text for item in listings], [p.concepts for p in profiles]
        )
        return cls(
            kind=kind,
            profiles=profiles,
            ids=np.array([item.id for item in listings], dtype=np.int64),
            org=np.array([item.organization_id for item in listings], dtype=np.int64),
            version=np.array([item.version for item in listings], dtype=np.int64),
            stamp=np.array([stamp(item.updated_at) for item in listings], dtype=np.int64),
            material=np.array([p.resource_type == "material" for p in profiles], dtype=np.bool_),
            lat=lat,
            lon=lon,
            legal=np.array([code(item.legal) for item in listings], dtype=np.int64),  # type: ignore[arg-type]
            annual_quantity=np.array([p.annual_quantity for p in profiles], dtype=np.float64),
            in_tonnes=np.array([p.base_unit == "t" for p in profiles], dtype=np.bool_),
            texts=texts,
            text_row=text_row,
            ports=PortTable.build(router, lat, lon),
            dead=np.zeros(len(listings), dtype=np.bool_),
        )

    def __len__(self) -> int:
        return int(self.ids.size)

    def rows_of(self, ids: IntArray) -> IntArray:
        """Row of each id (-1 where absent)."""
        if self._order is None:
            self._order = np.argsort(self.ids, kind="stable")
        if self.ids.size == 0:
            return np.full(ids.size, -1, dtype=np.int64)
        sorted_ids = self.ids[self._order]
        at = np.minimum(np.searchsorted(sorted_ids, ids), sorted_ids.size - 1)
        return np.where(sorted_ids[at] == ids, self._order[at], -1)

    def take(self, rows: IntArray) -> ListingTable:
        """A sub-table of the given rows, in that order (with only their text rows)."""
        texts, text_row = np.unique(self.text_row[rows], return_inverse=True)
        return ListingTable(
            kind=self.kind,
            profiles=[self.profiles[r] for r in rows.tolist()],
            ids=self.ids[rows],
            org=self.org[rows],
            version=self.version[rows],
            stamp=self.stamp[rows],
            material=self.material[rows],
            lat=self.lat[rows],
            lon=self.lon[rows],
            legal=self.legal[rows],
            annual_quantity=self.annual_quantity[rows],
            in_tonnes=self.in_tonnes[rows],
            texts=self.texts[texts],
            text_row=text_row.astype(np.int64),
            ports=PortTable(
                tuple(i[rows] for i in self.ports.index), tuple(k[rows] for k in self.ports.km)
            ),
            dead=self.dead[rows],
        )

    @staticmethod
    def concat(tables: Sequence[ListingTable]) -> ListingTable:
        if len(tables) == 1:
            return tables[0]
        offsets = np.cumsum([0, *(t.texts.shape[0] for t in tables)])
        return ListingTable(
            kind=tables[0].kind,
            profiles=[p for t in tables for p in t.profiles],
            ids=np.concatenate([t.ids for t in tables]),
            org=np.concatenate([t.org for t in tables]),
            version=np.concatenate([t.version for t in tables]),
            stamp=np.concatenate([t.stamp for t in tables]),
            material=np.concatenate([t.material for t in tables]),
            lat=np.concatenate([t.lat for t in tables]),
            lon=np.concatenate([t.lon for t in tables]),
            legal=np.concatenate([t.legal for t in tables]),
            annual_quantity=np.concatenate([t.annual_quantity for t in tables]),
            in_tonnes=np.concatenate([t.in_tonnes for t in tables]),
            texts=sp.csr_matrix(sp.vstack([t.texts for t in tables], format="csr")),
            text_row=np.concatenate(
                [t.text_row + o for t, o in zip(tables, offsets, strict=False)]
            ),
            ports=PortTable.concat([t.ports for t in tables]),
            dead=np.concatenate([t.dead for t in tables]),
        )


def spatial_order(table: ListingTable) -> IntArray:
    """Rows in KD-tree order, so that neighbouring rows are neighbours on the map."""
    from scipy.spatial import cKDTree

    if len(table) < 2:
        return np.arange(len(table), dtype=np.int64)
    xyz = unit_vectors(table.lat, table.lon)
    return np.asarray(cKDTree(xyz, leafsize=16).indices, dtype=np.int64)


# --------------------------------------------------------------------------------------------
# The callbacks
# --------------------------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class EngineCallbacks:
    """``route_fn``, ``legal_fn`` and ``text_fn`` for offers × demands (row indices)."""

    router: Router
    offers: ListingTable
    demands: ListingTable
    today: date
    group_by: str = "offer"  # the side whose rows are spatially ordered (text block products)

    def route(self, oi: IntArray, dj: IntArray) -> tuple[FloatArray, npt.NDArray[np.int8]]:
        routes = best_routes(self.router, self.offers, self.demands, oi, dj)
        return routes.km, routes.mode

    def legal(self, oi: IntArray, dj: IntArray) -> FloatArray:
        scores = LEGAL.scores(self.offers.legal[oi], self.demands.legal[dj], self.today)
        # An organisation is not matched with itself (it needs no facilitator for that), and a
        # row that changed or left since the index was built is out: its pairs score 0.
        out = (self.offers.org[oi] == self.demands.org[dj]) | self.offers.dead[oi]
        out |= self.demands.dead[dj]
        return np.where(out, 0.0, scores)

    def text(self, oi: IntArray, dj: IntArray) -> FloatArray:
        group = oi if self.group_by == "offer" else dj
        return pair_cosine(
            self.offers.texts,
            self.offers.text_row[oi],
            self.demands.texts,
            self.demands.text_row[dj],
            group,
        )

    def kwargs(self) -> dict[str, Callable[[IntArray, IntArray], Any]]:
        return {"route_fn": self.route, "legal_fn": self.legal, "text_fn": self.text}


# --------------------------------------------------------------------------------------------
# The per-process cache of one side
# --------------------------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class IndexPart:
    table: ListingTable
    index: SpatialIndex


def _load(
    kind: str, queryset: QuerySet[Any], categories: selectors.CategoryTable
) -> tuple[list[selectors.ScoredListing], dict[int, str]]:
    errors: dict[int, str] = {}
    return selectors.scored_listings(kind, queryset, errors=errors, categories=categories), errors


def _part(
    kind: str, listings: Sequence[selectors.ScoredListing], router: Router
) -> IndexPart | None:
    if not listings:
        return None
    table = ListingTable.build(kind, listings, router)
    profiles: list[Any] = table.profiles
    index = (
        SpatialIndex.from_offers(profiles)
        if kind == "offer"
        else SpatialIndex.from_demands(profiles)
    )
    return IndexPart(table, index)


def _reference_key(router: Router) -> tuple[Any, ...]:
    """What the index depends on besides the listings: the database, the router (one object
    while the ports and factors stay the same) and the taxonomy (compared by content)."""
    return (connection.settings_dict["NAME"], id(router), reference()[1])


class SideCache:
    """Every published offer (or demand) of this database, indexed for the engine, kept in step
    with the database at the start of each use. One per side per process."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.model: type[Model] = KIND_MODEL[kind]
        self.main: IndexPart | None = None
        self.segments: list[IndexPart] = []
        self.segment_rows: dict[int, selectors.ScoredListing] = {}  # id → row, for merging
        self.watermark: datetime | None = None
        self.checked_at = -math.inf
        self.reference: tuple[Any, ...] | None = None
        self.build_seconds = 0.0

    # -- public ---------------------------------------------------------------------------

    def parts(self, router: Router, *, full_check: bool = False) -> list[IndexPart]:
        """The main part and the segments, synced with the database."""
        self.sync(router, full_check=full_check)
        return [p for p in (self.main, *self.segments) if p is not None]

    def sync(self, router: Router, *, full_check: bool = False) -> None:
        now = time.monotonic()
        due = now - self.checked_at >= settings.MATCHING_INDEX_FULL_CHECK_SECONDS
        if (self.main is None and not self.segments) or full_check or due:
            key = _reference_key(router)
            if key != self.reference:
                self.rebuild(router, key=key)
                return
            self._full_check(router)
            self.checked_at = now
        else:
            self._quick_check(router)
        live = sum(int((~p.table.dead).sum()) for p in self.segments)
        if live > max(2000, len(self.main.table) // 100 if self.main else 0):
            self.rebuild(router)

    def rebuild(self, router: Router, *, key: tuple[Any, ...] | None = None) -> None:
        """Load every published row and index it afresh."""
        started = time.perf_counter()
        self.reference = key or _reference_key(router)
        self.watermark = self._now_watermark()
        listings, _ = _load(
            self.kind,
            self.model.objects.filter(status=ListingStatus.PUBLISHED).order_by("id"),
            reference()[1],
        )
        self.main = _part(self.kind, listings, router)
        self.segments, self.segment_rows = [], {}
        self.checked_at = time.monotonic()
        self.build_seconds = time.perf_counter() - started
        logger.info(
            "matching index of %s %ss built in %.1f s", len(listings), self.kind, self.build_seconds
        )

    def live_state(self) -> dict[int, tuple[int, int]]:
        """id → (version, updated_at µs) of every live row (for tests and checks)."""
        state: dict[int, tuple[int, int]] = {}
        for part in (self.main, *self.segments):
            if part is None:
                continue
            t = part.table
            for row in np.flatnonzero(~t.dead).tolist():
                state[int(t.ids[row])] = (int(t.version[row]), int(t.stamp[row]))
        return state

    # -- syncing --------------------------------------------------------------------------

    def _now_watermark(self) -> datetime:
        return timezone.now()

    def _locate(self, pk: int) -> tuple[IndexPart, int] | None:
        """The live row of ``pk``, if any (a listing is live in one part at most)."""
        ids = np.array([pk], dtype=np.int64)
        for part in (*reversed(self.segments), self.main):
            if part is None:
                continue
            row = int(part.table.rows_of(ids)[0])
            if row >= 0 and not part.table.dead[row]:
                return part, row
        return None

    def _apply(
        self,
        state: StateRows,
        router: Router,
        *,
        complete: bool,
        buckets: IntArray | None = None,
    ) -> None:
        """Bring the cache in line with (id, version, updated_at, published) rows of the
        database. ``complete``: the rows are every published listing (of the id ``buckets``,
        if given), so a live row (of those buckets) absent from them is gone."""
        parts = [p for p in (self.main, *self.segments) if p is not None]
        live = [(p, np.flatnonzero(~p.table.dead)) for p in parts]
        live_ids = np.concatenate([p.table.ids[r] for p, r in live] or [np.zeros(0, np.int64)])
        live_version = np.concatenate([p.table.version[r] for p, r in live] or [live_ids])
        live_stamp = np.concatenate([p.table.stamp[r] for p, r in live] or [live_ids])
        live_part = np.concatenate(
            [np.full(r.size, n, dtype=np.int64) for n, (_, r) in enumerate(live)] or [live_ids]
        )
        live_row = np.concatenate([r for _, r in live] or [live_ids])
        order = np.argsort(live_ids, kind="stable")
        sorted_ids = live_ids[order]
        if sorted_ids.size:
            at = order[np.minimum(np.searchsorted(sorted_ids, state.ids), sorted_ids.size - 1)]
            found = live_ids[at] == state.ids
        else:
            at = np.zeros(state.ids.size, dtype=np.int64)
            found = np.zeros(state.ids.size, dtype=np.bool_)
        same = found & (live_version[at] == state.version) & (live_stamp[at] == state.stamp)
        kill = found & ~state.published
        if complete:
            present = np.zeros(live_ids.size, dtype=np.bool_)
            present[at[found & state.published]] = True
            kill_live = ~present
            if buckets is not None:
                kill_live &= np.isin(live_ids >> BUCKET_SHIFT, buckets)
        else:
            kill_live = np.zeros(live_ids.size, dtype=np.bool_)
            kill_live[at[kill]] = True
        for n in np.flatnonzero(kill_live).tolist():
            part = live[live_part[n]][0]
            part.table.dead[live_row[n]] = True
            self.segment_rows.pop(int(live_ids[n]), None)
        fetch = state.ids[state.published & ~same]
        if fetch.size:
            self._add_segment(fetch.tolist(), router)

    def _add_segment(self, ids: list[int], router: Router) -> None:
        listings, _ = _load(
            self.kind,
            self.model.objects.filter(pk__in=ids, status=ListingStatus.PUBLISHED).order_by("id"),
            reference()[1],
        )
        for pk in ids:  # the old row of each (changed, or no longer profiled) is out
            found = self._locate(pk)
            if found is not None:
                found[0].table.dead[found[1]] = True
            self.segment_rows.pop(pk, None)
        self.segment_rows.update((listing.id, listing) for listing in listings)
        if len(self.segments) >= MAX_SEGMENTS:
            for part in self.segments:
                part.table.dead[:] = True
            merged = _part(self.kind, list(self.segment_rows.values()), router)
            self.segments = [merged] if merged is not None else []
        else:
            part = _part(self.kind, listings, router)
            if part is not None:
                self.segments.append(part)

    def _quick_check(self, router: Router) -> None:
        """Rows whose listing or site changed since the watermark (two indexed range scans)."""
        if self.watermark is None:
            self.watermark = timezone.now()
        since = self.watermark - SYNC_OVERLAP
        fields = ("id", "version", "updated_at", "status")
        edited = self.model.objects.filter(updated_at__gte=since).order_by().values_list(*fields)
        moved = (
            self.model.objects.filter(
                site__in=Site.objects.filter(updated_at__gte=since).values("id")
            )
            .order_by()
            .values_list(*fields)
        )
        state = StateRows.query(edited.union(moved, all=True).order_by())
        if state.newest is not None and state.newest > self.watermark:
            self.watermark = state.newest
        self._apply(state, router, complete=False)

    def _full_check(self, router: Router) -> None:
        """Catch deletions and raw updates: a checksum of (count, versions, updated_at) per
        4096 ids in one aggregate query, then the rows of the buckets that differ."""
        now = timezone.now()
        published = self.model.objects.filter(status=ListingStatus.PUBLISHED)
        self.watermark = max(self.watermark or now, now - SYNC_OVERLAP)
        if connection.vendor != "postgresql":
            self._apply(StateRows.query(published), router, complete=True)
            return
        table = self.model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id >> {BUCKET_SHIFT}, count(*), sum(version), "  # noqa: S608 (model table)
                "sum(((extract(epoch FROM updated_at) * 1000000)::bigint) %% 2147483648) "
                f"FROM {table} WHERE status = %s GROUP BY 1",
                [ListingStatus.PUBLISHED],
            )
            database = {int(b): (int(n), int(v), int(t or 0)) for b, n, v, t in cursor.fetchall()}
        mine = self._checksums()
        differ = sorted(b for b in database.keys() | mine.keys() if database.get(b) != mine.get(b))
        if not differ:
            return
        if len(differ) > 64:  # much changed: read it all
            self._apply(StateRows.query(published), router, complete=True)
            return
        ranges = Q()
        for b in differ:
            ranges |= Q(id__gte=b << BUCKET_SHIFT, id__lt=(b + 1) << BUCKET_SHIFT)
        state = StateRows.query(published.filter(ranges))
        self._apply(state, router, complete=True, buckets=np.array(differ, dtype=np.int64))

    def _checksums(self) -> dict[int, tuple[int, int, int]]:
        """The full check's checksums of the live rows."""
        parts = [p for p in (self.main, *self.segments) if p is not None]
        live = [np.flatnonzero(~p.table.dead) for p in parts]
        ids = np.concatenate([p.table.ids[r] for p, r in zip(parts, live, strict=True)] or [[]])
        if ids.size == 0:
            return {}
        ids = ids.astype(np.int64)
        version = np.concatenate([p.table.version[r] for p, r in zip(parts, live, strict=True)])
        stamp = np.concatenate([p.table.stamp[r] for p, r in zip(parts, live, strict=True)])
        bucket = ids >> BUCKET_SHIFT
        size = int(bucket.max()) + 1
        count = np.bincount(bucket, minlength=size)
        versions = np.bincount(bucket, weights=version, minlength=size)  # exact below 2**53
        stamps = np.bincount(bucket, weights=stamp % 2147483648, minlength=size)
        return {
            int(b): (int(count[b]), int(versions[b]), int(stamps[b]))
            for b in np.flatnonzero(count).tolist()
        }


@dataclass(frozen=True, slots=True, eq=False)
class StateRows:
    """(id, version, updated_at µs, published) of some listings, as arrays."""

    ids: IntArray
    version: IntArray
    stamp: IntArray
    published: BoolArray
    newest: datetime | None

    @classmethod
    def query(cls, queryset: QuerySet[Any]) -> StateRows:
        """One query: ``queryset`` of listings, or (id, version, updated_at, status) rows."""
        rows = (
            queryset
            if queryset._fields  # type: ignore[attr-defined]
            else queryset.values_list("id", "version", "updated_at", "status")
        )
        if connection.vendor == "postgresql":
            # Exact microseconds from the server: no datetime object per row (1M rows: 0.5 s).
            sql, params = rows.query.sql_with_params()
            with connection.cursor() as cursor:
                # Django's own SQL for the queryset, its parameters bound: nothing user-made.
                query = (
                    "SELECT q.id, q.version,"  # noqa: S608
                    " coalesce((extract(epoch FROM q.updated_at) * 1000000)::bigint, 0),"
                    f" q.status = %s FROM ({sql}) q"
                )
                cursor.execute(query, [ListingStatus.PUBLISHED, *params])
                table = cursor.fetchall()
        else:
            table = [(pk, v, stamp(u), s == ListingStatus.PUBLISHED) for pk, v, u, s in rows]
        if not table:
            empty = np.zeros(0, dtype=np.int64)
            return cls(empty, empty, empty, np.zeros(0, dtype=np.bool_), None)
        ids, version, stamps, published = zip(*table, strict=True)
        stamp_array = np.array(stamps, dtype=np.int64)
        newest = _EPOCH + int(stamp_array.max()) * _MICROSECOND
        return cls(
            np.array(ids, dtype=np.int64),
            np.array(version, dtype=np.int64),
            stamp_array,
            np.array(published, dtype=np.bool_),
            newest,
        )

    @classmethod
    def concat(cls, a: StateRows, b: StateRows) -> StateRows:
        if b.ids.size == 0:
            return a
        if a.ids.size == 0:
            return b
        newest = max(t for t in (a.newest, b.newest) if t is not None)
        return cls(
            np.concatenate((a.ids, b.ids)),
            np.concatenate((a.version, b.version)),
            np.concatenate((a.stamp, b.stamp)),
            np.concatenate((a.published, b.published)),
            newest,
        )


@dataclass(slots=True)
class _Reference:
    router: Router | None = None
    categories: selectors.CategoryTable | None = None
    at: float = -math.inf


_REFERENCE = _Reference()


def reference(*, fresh: bool = False) -> tuple[Router, selectors.CategoryTable]:
    """The router and the category table, re-read at most every
    ``MATCHING_INDEX_FULL_CHECK_SECONDS`` (reference data: ports, transport factors, the
    taxonomy), so that the incremental path spends no query on them."""
    now = time.monotonic()
    due = now - _REFERENCE.at >= settings.MATCHING_INDEX_FULL_CHECK_SECONDS
    if fresh or due or _REFERENCE.router is None or _REFERENCE.categories is None:
        _REFERENCE.router = selectors.router_get()
        _REFERENCE.categories = selectors.category_table()
        _REFERENCE.at = now
    return _REFERENCE.router, _REFERENCE.categories  # type: ignore[return-value]


_CACHES: dict[str, SideCache] = {}


def side_cache(kind: str) -> SideCache:
    """The process's cache of published offers ("offer") or demands ("demand")."""
    cache = _CACHES.get(kind)
    if cache is None:
        cache = _CACHES[kind] = SideCache(kind)
    return cache


def caches_clear() -> None:
    """Forget every cached index (tests; a worker after a fork keeps its parent's, which syncs)."""
    _CACHES.clear()
    _REFERENCE.router, _REFERENCE.categories, _REFERENCE.at = None, None, -math.inf


# --------------------------------------------------------------------------------------------
# Running the engine against the cached parts
# --------------------------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class Found:
    """Scored pairs as rows of ``offers`` and ``demands``, with the engine's components."""

    offers: ListingTable
    demands: ListingTable
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
    stats: EngineStats | None = None
    text: FloatArray | None = None  # the text similarity the engine scored with, if known

    def __len__(self) -> int:
        return int(self.oi.size)

    def take(self, index: IntArray) -> Found:
        return Found(
            self.offers,
            self.demands,
            *(
                getattr(self, name)[index]
                for name in (
                    "oi", "dj", "score", "material", "quantity", "distance", "legal", "timing",
                    "km", "mode",
                )
            ),
            stats=self.stats,
            text=None if self.text is None else self.text[index],
        )  # fmt: skip

    @property
    def offer_ids(self) -> IntArray:
        return self.offers.ids[self.oi]

    @property
    def demand_ids(self) -> IntArray:
        return self.demands.ids[self.dj]

    @staticmethod
    def concat(parts: Sequence[Found]) -> Found:
        """Pairs over the same offers and demands tables."""
        if len(parts) == 1:
            return parts[0]
        first = parts[0]
        names = (
            "oi", "dj", "score", "material", "quantity", "distance", "legal", "timing", "km",
            "mode",
        )  # fmt: skip
        texts = [p.text for p in parts]
        return Found(
            first.offers,
            first.demands,
            *(np.concatenate([getattr(p, name) for p in parts]) for name in names),
            stats=first.stats,
            text=None if any(t is None for t in texts) else np.concatenate(texts),  # type: ignore[arg-type]
        )


def gather(
    parts: Sequence[IndexPart], ids: IntArray, *, share: bool = False
) -> tuple[ListingTable, IntArray]:
    """A table of the live rows of ``ids`` (unique) across ``parts``, and the row of each id
    in it (-1 for an id no part holds live). ``share``: with one part, its own table, for a
    caller that reads it by row only: a chunk of a full rematch names nearly every row, and a
    copy (their text rows above all) cost 100 MB and a second at 100,000 demands."""
    if share and len(parts) == 1:
        table = parts[0].table
        rows = table.rows_of(ids)
        live = rows >= 0
        live[live] &= ~table.dead[rows[live]]
        return table, np.where(live, rows, -1)
    position = np.full(ids.size, -1, dtype=np.int64)
    tables: list[ListingTable] = []
    offset = 0
    for part in parts:
        rows = part.table.rows_of(ids)
        live = (rows >= 0) & (position < 0)
        live[live] &= ~part.table.dead[rows[live]]
        chosen = np.flatnonzero(live)
        if chosen.size:
            tables.append(part.table.take(rows[chosen]))
            position[chosen] = offset + np.arange(chosen.size)
            offset += chosen.size
    if not tables:
        tables = [parts[0].table.take(np.zeros(0, dtype=np.int64))]
    return ListingTable.concat(tables), position


def _found(
    result: MatchResult, query: ListingTable, parts: Sequence[IndexPart], *, query_kind: str
) -> Found:
    query_ids, other_ids = (
        (result.offer_id, result.demand_id)
        if query_kind == "offer"
        else (result.demand_id, result.offer_id)
    )
    unique, inverse = np.unique(other_ids, return_inverse=True)
    other, position = gather(parts, unique, share=True)
    q_rows = query.rows_of(query_ids)
    o_rows = position[inverse]
    known = (q_rows >= 0) & (o_rows >= 0)
    every = bool(known.all())  # the usual case: no copy of a million pairs' columns

    def kept(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return values if every else values[known]

    oi, dj = (q_rows, o_rows) if query_kind == "offer" else (o_rows, q_rows)
    offers, demands = (query, other) if query_kind == "offer" else (other, query)
    return Found(
        offers,
        demands,
        kept(oi),
        kept(dj),
        kept(result.score),
        kept(result.material),
        kept(result.quantity),
        kept(result.distance),
        kept(result.legal),
        kept(result.timing),
        kept(result.distance_km),
        kept(result.mode_code).astype(np.int8, copy=False),
        stats=result.stats,
        text=None if result.text is None else kept(result.text),
    )


def offer_chunk_matches(
    offers: ListingTable,
    parts: Sequence[IndexPart],
    *,
    k: int,
    min_score: float,
    today: date,
    router: Router,
) -> Found:
    """A chunk of a full rematch: the top ``k`` of every offer of the chunk, and of every
    demand among the chunk's offers (``engine.top_k_matches_for_offer_chunk``), over the main
    part and the segments of the demand index (merged with ``merge_top_k``)."""
    batch = OfferBatch.from_profiles(offers.profiles)
    results = []
    for part in parts:
        callbacks = EngineCallbacks(router, offers, part.table, today, group_by="offer")
        results.append(
            top_k_matches_for_offer_chunk(
                batch, part.index, k=k, min_score=min_score, today=today, **callbacks.kwargs()
            )
        )
    result = results[0] if len(results) == 1 else merge_top_k(results, k)
    return _found(result, offers, parts, query_kind="offer")


def listing_matches(
    listing: ListingTable,
    parts: Sequence[IndexPart],
    *,
    k: int,
    min_score: float,
    today: date,
    router: Router,
) -> Found:
    """The incremental path: the best ``k`` pairs of one listing (row 0 of ``listing``)
    against every part of the other side's index, best first."""
    kind = listing.kind
    results: list[MatchResult] = []
    for part in parts:
        if kind == "offer":
            callbacks = EngineCallbacks(router, listing, part.table, today, group_by="offer")
            results.append(
                matches_for_offer(
                    listing.profiles[0], part.index, k=k, min_score=min_score, today=today,
                    **callbacks.kwargs(),
                )
            )  # fmt: skip
        else:
            callbacks = EngineCallbacks(router, part.table, listing, today, group_by="demand")
            results.append(
                matches_for_demand(
                    listing.profiles[0], part.index, k=k, min_score=min_score, today=today,
                    **callbacks.kwargs(),
                )
            )  # fmt: skip
    stats = EngineStats()
    for r in results:
        stats = stats.merged(r.stats)
    result = MatchResult.concat(results, stats)
    other = result.demand_id if kind == "offer" else result.offer_id
    best = np.lexsort((other, -result.score))[:k]
    return _found(result.take(best), listing, parts, query_kind=kind)


def score_pairs_exact(
    offers: ListingTable,
    demands: ListingTable,
    oi: IntArray,
    dj: IntArray,
    *,
    today: date,
    router: Router,
) -> Found:
    """Score given pairs with ``scoring.score_pairs`` (the engine's arithmetic, no search):
    for the few stored matches outside a listing's new top k."""
    callbacks = EngineCallbacks(router, offers, demands, today)
    if oi.size == 0:
        zero = np.zeros(0)
        return Found(
            offers, demands, oi, dj, zero, zero, zero, zero, zero, zero, zero, zero.astype(np.int8)
        )
    ob, db = OfferBatch.from_profiles(offers.profiles), DemandBatch.from_profiles(demands.profiles)
    km, mode = callbacks.route(oi, dj)
    text = callbacks.text(oi, dj)
    flat = score_pairs(
        ob,
        db,
        oi,
        dj,
        encoding=pair_encoding(ob, db)[oi, dj],
        distance_km=km,
        legal_score=callbacks.legal(oi, dj),
        text_similarity=text,
        today=today,
    )
    return Found(
        offers, demands, oi, dj, flat.score, flat.material, flat.quantity, flat.distance,
        flat.legal, flat.timing, km, mode, text=text,
    )  # fmt: skip
