"""Every write to matches, prospects and matching runs.

Matching a listing is idempotent: it upserts on (offer, demand), deletes only the listing's
matches that nobody has reviewed, and never changes a match a person has moved past
"proposed". A message delivered twice therefore writes the same rows.

Candidates come from the engine (``matching.engine``) over per-process cached indexes of the
published listings (``matching.candidates``); nothing here looks at every pair. A full rematch
writes only the rows that changed, through a staged COPY on PostgreSQL.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from harbors.logistics import Router
from listings.models import Demand, Offer

from . import selectors
from .candidates import (
    LEGAL,
    PIPE_MODE,
    Found,
    IndexPart,
    ListingTable,
    best_routes,
    gather,
    listing_matches,
    mode_name,
    offer_chunk_matches,
    pair_cosine,
    reference,
    score_pairs_exact,
    side_cache,
    spatial_order,
)
from .models import Match, MatchingRun, MatchingRunChunk, Stage
from .prospects import prospects_refresh_for_offer_range
from .run_table import SCORE_COLUMNS, RunTable
from .scoring import (
    SCORING_VERSION,
    FloatArray,
    IntArray,
    MaterialMatch,
    code_match,
    concept_match,
    explain_pairs,
    structural_match,
    with_concepts,
)
from .tasks import (
    listing_match_task,
    matching_run_chunk_task,
    prospects_refresh_for_offer_task,
    prospects_refresh_range_task,
)

logger = logging.getLogger(__name__)

# Offers per chunk of a full rematch; None: ``run_chunk_size`` (one chunk per worker). The
# engine prunes better on large chunks (a demand's floor comes from the chunk's offers), and a
# chunk of 10 000 offers is several seconds of work, far under the visibility timeout.
RUN_CHUNK_SIZE: int | None = None
MIN_RUN_CHUNK_SIZE = 500
WRITE_BATCH = 50_000  # pairs explained and staged at a time


def run_chunk_size(n_offers: int, *, workers: int | None = None) -> int:
    """max(500, ceil(offers / workers)): one chunk per worker.

    Fewer, larger chunks are cheaper twice over: the engine prunes better (a demand's floor
    comes from the chunk's offers), and each chunk keeps every demand's top K among *its*
    offers, so the rows written (and explained) grow with the number of chunks: at 100k × 100k,
    four chunks write about 1.6 times the rows of two.
    """
    workers = max(1, workers or settings.MATCHING_RUN_WORKERS)
    return max(MIN_RUN_CHUNK_SIZE, math.ceil(n_offers / workers))


# --------------------------------------------------------------------------------------------
# Match rows from scored pairs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class MatchColumns:
    """The stored fields of scored pairs, as columns (one entry per pair)."""

    offer_id: npt.NDArray[np.int64]
    demand_id: npt.NDArray[np.int64]
    scores: tuple[npt.NDArray[np.float64], ...]  # in SCORE_COLUMNS order
    distance_km: npt.NDArray[np.float64]
    transport_mode: list[str]
    cost_eur_per_tonne: npt.NDArray[np.float64]
    co2_kg_per_tonne: npt.NDArray[np.float64]
    tonnes_per_year: list[float | None]
    legal_procedure: list[str]
    legal_flags: list[list[str]]
    explanation: list[str]
    offer_version: npt.NDArray[np.int64]
    demand_version: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.offer_id.size)

    @staticmethod
    def concat(parts: Sequence[MatchColumns]) -> MatchColumns:
        if len(parts) == 1:
            return parts[0]
        return MatchColumns(
            offer_id=np.concatenate([p.offer_id for p in parts]),
            demand_id=np.concatenate([p.demand_id for p in parts]),
            scores=tuple(
                np.concatenate([p.scores[n] for p in parts]) for n in range(len(SCORE_COLUMNS))
            ),
            distance_km=np.concatenate([p.distance_km for p in parts]),
            transport_mode=[x for p in parts for x in p.transport_mode],
            cost_eur_per_tonne=np.concatenate([p.cost_eur_per_tonne for p in parts]),
            co2_kg_per_tonne=np.concatenate([p.co2_kg_per_tonne for p in parts]),
            tonnes_per_year=[x for p in parts for x in p.tonnes_per_year],
            legal_procedure=[x for p in parts for x in p.legal_procedure],
            legal_flags=[x for p in parts for x in p.legal_flags],
            explanation=[x for p in parts for x in p.explanation],
            offer_version=np.concatenate([p.offer_version for p in parts]),
            demand_version=np.concatenate([p.demand_version for p in parts]),
        )

    def matches(self) -> list[Match]:
        now = timezone.now()
        return [
            Match(
                offer_id=int(self.offer_id[n]),
                demand_id=int(self.demand_id[n]),
                **{
                    name: float(column[n])
                    for name, column in zip(SCORE_COLUMNS, self.scores, strict=True)
                },
                distance_km=float(self.distance_km[n]),
                transport_mode=self.transport_mode[n],
                cost_eur_per_tonne=float(self.cost_eur_per_tonne[n]),
                co2_kg_per_tonne=float(self.co2_kg_per_tonne[n]),
                tonnes_per_year=self.tonnes_per_year[n],
                legal_procedure=self.legal_procedure[n],
                legal_flags=self.legal_flags[n],
                explanation=self.explanation[n],
                scoring_version=SCORING_VERSION,
                offer_version=int(self.offer_version[n]),
                demand_version=int(self.demand_version[n]),
                updated_at=now,
            )
            for n in range(len(self))
        ]


def match_columns(
    found: Found,
    *,
    today: date,
    router: Router,
    structural: tuple[list[MaterialMatch], npt.NDArray[np.int64], dict[int, str]] | None = None,
) -> MatchColumns:
    """Route facts, legal outcome and the explanation of each pair of ``found`` (kept pairs
    only). Whatever depends on few values (the legal outcome, the material rule, the mode) is
    computed once per distinct value; ``scoring.explain_pairs`` words the rest.
    ``structural``: (matches, index of each pair's, rule words) from ``_Structural``, when
    the caller keeps them across batches."""
    offers, demands, oi, dj = found.offers, found.demands, found.oi, found.dj
    routes = best_routes(router, offers, demands, oi, dj)
    text = (
        found.text
        if found.text is not None
        else pair_cosine(offers.texts, offers.text_row[oi], demands.texts, demands.text_row[dj], oi)
    )
    mode_names = np.array([mode_name(c) for c in range(PIPE_MODE + 1)], dtype=object)
    mode_words = np.array([str(m).replace("_", " ") for m in mode_names], dtype=object)
    modes = mode_names[routes.mode.astype(np.int64)].tolist() if len(found) else []
    combos = (offers.legal[oi] << 24) | demands.legal[dj]
    unique, inverse = np.unique(combos, return_inverse=True)
    outcomes = [LEGAL.outcome(c >> 24, c & ((1 << 24) - 1), today) for c in unique.tolist()]
    procedure = np.array([str(o.procedure) for o in outcomes] or [""], dtype=object)[inverse]
    label = np.array([o.label for o in outcomes] or [""], dtype=object)[inverse]
    # One list per distinct set of flags, shared by its rows: the COPY encodes each once.
    shared: dict[tuple[str, ...], list[str]] = {}
    flag_lists = [shared.setdefault(tuple(o.flags), list(o.flags)) for o in outcomes]
    columns = (
        found.score,
        found.material,
        found.quantity,
        found.distance,
        found.legal,
        found.timing,
    )
    matches, structural_of, rule_words = (
        structural if structural is not None else (*_structural_all(found), {})
    )
    explanations = explain_pairs(
        offers.profiles,
        demands.profiles,
        oi,
        dj,
        material=found.material,
        quantity=found.quantity,
        timing=found.timing,
        distance_km=routes.km,
        transport_mode=mode_words[routes.mode.astype(np.int64)].tolist(),
        legal_label=label.tolist(),
        text_similarity=text,
        structural=matches,
        structural_of=structural_of,
        rule_words=rule_words,
    )
    # What could be diverted from disposal: the smaller side, for materials (not heat).
    smaller = np.minimum(offers.annual_quantity[oi], demands.annual_quantity[dj]).tolist()
    in_tonnes = offers.in_tonnes[oi].tolist()
    tonnes = [t if ok else None for t, ok in zip(smaller, in_tonnes, strict=True)]
    return MatchColumns(
        offer_id=offers.ids[oi],
        demand_id=demands.ids[dj],
        scores=columns,
        distance_km=routes.km,
        transport_mode=modes,
        cost_eur_per_tonne=routes.eur_per_tonne,
        co2_kg_per_tonne=routes.kg_co2e_per_tonne,
        tonnes_per_year=tonnes,
        legal_procedure=procedure.tolist(),
        legal_flags=[flag_lists[k] for k in inverse.tolist()],
        explanation=explanations,
        offer_version=offers.version[oi],
        demand_version=demands.version[dj],
    )


def _dense_keys(values: Sequence[object]) -> npt.NDArray[np.int64]:
    """A small int per distinct value, in order of first appearance."""
    seen: dict[object, int] = {}
    return np.fromiter((seen.setdefault(v, len(seen)) for v in values), np.int64, len(values))


def _pair_ids(a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """A small int per distinct pair (a[n], b[n])."""
    return np.unique(a * (int(b.max(initial=0)) + 1) + b, return_inverse=True)[1].ravel()


def _code_fields(profile: Any) -> tuple[str, str, tuple[str, ...]]:
    return profile.resource_type, profile.low_code, profile.category_path


class _Structural:
    """``structural_match`` of the pairs of ``found``, once per distinct pair of material
    descriptions (what it reads), from its two parts, each once per distinct pair of what it
    reads: a chunk has about 130,000 distinct pairs of descriptions against a million pairs,
    but far fewer of codes and categories, and of concepts. Asked batch by batch (``of``), it
    words only the pairs written."""

    def __init__(self, found: Found) -> None:
        self.found = found
        self.matches: list[MaterialMatch] = []
        self.seen: dict[int, int] = {}
        self.codes: dict[int, MaterialMatch] = {}
        self.concepts: dict[int, MaterialMatch | None] = {}
        o_rows, o_inv = np.unique(found.oi, return_inverse=True)
        d_rows, d_inv = np.unique(found.dj, return_inverse=True)
        offers = [found.offers.profiles[r] for r in o_rows.tolist()]
        demands = [found.demands.profiles[r] for r in d_rows.tolist()]
        o_code = _dense_keys([_code_fields(p) for p in offers])
        d_code = _dense_keys(
            [(*_code_fields(p), p.accepted_codes, p.accepted_categories) for p in demands]
        )
        o_concepts = _dense_keys([p.concepts for p in offers])
        d_concepts = _dense_keys([p.concepts for p in demands])
        self.code_key = _pair_ids(o_code[o_inv], d_code[d_inv])
        self.concept_key = _pair_ids(o_concepts[o_inv], d_concepts[d_inv])
        self.key = _pair_ids(self.code_key, self.concept_key)

    def of(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """The index in ``matches`` of each pair ``rows`` of ``found``."""
        keys, first, inverse = np.unique(self.key[rows], return_index=True, return_inverse=True)
        offers, demands = self.found.offers.profiles, self.found.demands.profiles
        index = np.empty(keys.size, dtype=np.int64)
        for n, (key, row) in enumerate(zip(keys.tolist(), rows[first].tolist(), strict=True)):
            at = self.seen.get(key)
            if at is None:
                o, d = offers[int(self.found.oi[row])], demands[int(self.found.dj[row])]
                at = self.seen[key] = len(self.matches)
                self.matches.append(self._match(o, d, row))
            index[n] = at
        return index[inverse]

    def _match(self, offer: Any, demand: Any, row: int) -> MaterialMatch:
        if offer.resource_type != demand.resource_type:
            return structural_match(offer, demand)  # no rule applies
        code_key, concept_key = int(self.code_key[row]), int(self.concept_key[row])
        codes = self.codes.get(code_key)
        if codes is None:
            codes = self.codes[code_key] = code_match(offer, demand)
        if concept_key not in self.concepts:
            self.concepts[concept_key] = concept_match(offer.concepts, demand.concepts)
        return with_concepts(codes, self.concepts[concept_key])


def _structural_all(found: Found) -> tuple[list[MaterialMatch], npt.NDArray[np.int64]]:
    structural = _Structural(found)
    of = structural.of(np.arange(len(found))) if len(found) else np.zeros(0, dtype=np.int64)
    return structural.matches, of


UPSERT_FIELDS = [
    *SCORE_COLUMNS,
    "distance_km",
    "transport_mode",
    "cost_eur_per_tonne",
    "co2_kg_per_tonne",
    "tonnes_per_year",
    "legal_procedure",
    "legal_flags",
    "explanation",
    "scoring_version",
    "offer_version",
    "demand_version",
    "updated_at",
]


def _write_matches(*, scope: Q, keep: MatchColumns, stale: Sequence[int]) -> int:
    """Upsert ``keep`` and delete the proposed matches ``stale`` (ids in ``scope``), through
    the ORM: for a listing's few pairs, and for every write on SQLite (the demo).

    Matches a person has moved past "proposed" are never touched.
    """
    reviewed = set(
        Match.objects.filter(scope)
        .exclude(stage=Stage.PROPOSED)
        .values_list("offer_id", "demand_id")
    )
    rows = [m for m in keep.matches() if (m.offer_id, m.demand_id) not in reviewed]
    if len(stale):
        Match.objects.filter(scope, id__in=list(stale), stage=Stage.PROPOSED).delete()
    Match.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["offer", "demand"],
        update_fields=UPSERT_FIELDS,
        batch_size=1000,
    )
    return len(rows)


# --------------------------------------------------------------------------------------------
# One listing
# --------------------------------------------------------------------------------------------


def _current(
    found: Found, extra: Found, kind: str
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Which pairs of ``found`` and ``extra`` use an opposite listing that is still published
    at the version the cache holds (one query). The cache may be up to a full-check interval
    behind on deletions and raw updates; a written match must never point at a stale row."""
    model = Demand if kind == "offer" else Offer

    def side(pairs: Found) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        table, rows = (pairs.demands, pairs.dj) if kind == "offer" else (pairs.offers, pairs.oi)
        return table.ids[rows], table.version[rows]

    (top_ids, top_versions), (extra_ids, extra_versions) = side(found), side(extra)
    ids = np.concatenate((top_ids, extra_ids))
    if ids.size == 0:
        return np.ones(0, dtype=np.bool_), np.ones(0, dtype=np.bool_)
    current = dict(
        model.objects.filter(pk__in=ids.tolist(), status="published").values_list("id", "version")
    )
    versions = np.concatenate((top_versions, extra_versions))
    ok = np.array(
        [current.get(pk) == v for pk, v in zip(ids.tolist(), versions.tolist(), strict=True)],
        dtype=np.bool_,
    )
    return ok[: top_ids.size], ok[top_ids.size :]


def _listing_pairs(
    *,
    kind: str,
    listing: ListingTable,
    parts: Sequence[IndexPart],
    existing: list[tuple[int, int, int, str]],
    today: date,
    router: Router,
) -> tuple[Found, Found]:
    """(the listing's top k, its stored proposed pairs outside the top k, rescored)."""
    k, min_score = settings.MATCHING_TOP_K, settings.MATCHING_MIN_SCORE
    top = listing_matches(listing, parts, k=k, min_score=min_score, today=today, router=router)
    mine = {int(x) for x in (top.demand_ids if kind == "offer" else top.offer_ids)}
    others = np.array(
        sorted(
            {
                (d if kind == "offer" else o)
                for _, o, d, stage in existing
                if stage == Stage.PROPOSED
            }
            - mine
        ),
        dtype=np.int64,
    )
    if others.size == 0 or not parts:
        return top, top.take(np.zeros(0, dtype=np.int64))
    table, position = gather(parts, others)
    live = np.flatnonzero(position >= 0)
    rows = position[live]
    zero = np.zeros(rows.size, dtype=np.int64)
    if kind == "offer":
        extra = score_pairs_exact(listing, table, zero, rows, today=today, router=router)
    else:
        extra = score_pairs_exact(table, listing, rows, zero, today=today, router=router)
    return top, extra


def matches_refresh_for_listing(*, kind: str, listing_id: int, version: int) -> int:
    """Recompute the proposed matches of one published listing. Idempotent and order-safe.

    Writes the listing's top K (MATCHING_TOP_K, score >= MATCHING_MIN_SCORE) against the cached
    index of the other side, rescores its other proposed matches (kept while still valid: the
    other side's top K may have put them there) and deletes the rest. A listing edited since
    (another version) is a no-op: the task queued by the newer edit does the work. A listing
    that is no longer published loses its proposed matches. A listing whose profile cannot be
    built is skipped and its ``matching_error`` says why. A constant number of queries, however
    many listings the other side has (once the cache is warm).
    Enqueues: prospects_refresh_for_offer_task (offers). Returns the number of matches written.
    """
    model = Offer if kind == "offer" else Demand
    listing = model.objects.filter(pk=listing_id).values("version", "status").first()
    if listing is None or listing["version"] != version:
        return 0
    field = "offer" if kind == "offer" else "demand"
    scope = Q(**{f"{field}_id": listing_id})
    if listing["status"] != "published":
        Match.objects.filter(scope, stage=Stage.PROPOSED).delete()
        model.objects.filter(pk=listing_id, version=version).update(needs_matching=False)
        return 0
    try:
        errors: dict[int, str] = {}
        loader = (
            selectors.offer_scored_listings if kind == "offer" else selectors.demand_scored_listings
        )
        router, categories = reference()
        mine = loader(model.objects.filter(pk=listing_id), errors=errors, categories=categories)
        if not mine:
            raise ValueError(errors.get(listing_id, "the listing could not be read"))
        today = timezone.localdate()
        table = ListingTable.build(kind, mine, router)
        cache = side_cache("demand" if kind == "offer" else "offer")
        existing = list(
            Match.objects.filter(scope).values_list("id", "offer_id", "demand_id", "stage")
        )
        for attempt in range(2):
            # A stale cache shows here: check every row, then (rarely) score again.
            parts = cache.parts(router, full_check=attempt > 0)
            top, extra = _listing_pairs(
                kind=kind, listing=table, parts=parts, existing=existing, today=today, router=router
            )
            top_ok, extra_ok = _current(top, extra, kind)
            if top_ok.all() and extra_ok.all():
                break
        # Still stale after a full check (a concurrent edit): leave those pairs out this time.
        top = top.take(np.flatnonzero(top_ok))
        valid = extra.take(np.flatnonzero(extra_ok & (extra.score >= settings.MATCHING_MIN_SCORE)))
        keep = MatchColumns.concat(
            [match_columns(f, today=today, router=router) for f in (top, valid)]
        )
    except ValueError as exc:
        # Odd data never crashes a worker: skip the listing and say why; the facilitator sees it.
        logger.warning("matching skipped %s %s: %s", kind, listing_id, exc)
        model.objects.filter(pk=listing_id, version=version).update(
            needs_matching=False, matching_error=str(exc)[:500]
        )
        return 0
    kept = set(zip(keep.offer_id.tolist(), keep.demand_id.tolist(), strict=True))
    stale = [pk for pk, o, d, stage in existing if stage == Stage.PROPOSED and (o, d) not in kept]
    with transaction.atomic():
        written = _write_matches(scope=scope, keep=keep, stale=stale)
        model.objects.filter(pk=listing_id, version=version).update(
            needs_matching=False, matched_version=version, matching_error=""
        )
        if kind == "offer":
            prospects_refresh_for_offer_task.delay_on_commit(listing_id, version)
    return written


# --------------------------------------------------------------------------------------------
# A chunk of a full rematch
# --------------------------------------------------------------------------------------------


_TOP_RECORD = np.dtype([("demand", "<i8"), ("offer", "<i8"), ("score", "<f8")])


def _rank_in_runs(grouped: IntArray) -> IntArray:
    """The position of each entry within its run of equal values (``grouped`` sorted)."""
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]]) if grouped.size else grouped
    return np.arange(grouped.size) - np.repeat(starts, np.diff(np.r_[starts, grouped.size]))


def _rank_per_demand(demand: IntArray, offer: IntArray, score: FloatArray) -> IntArray:
    """Each pair's rank within its demand: score descending, ties to the smaller offer id (as
    the engine and the finish rank them)."""
    order = np.lexsort((offer, -score, demand))
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = _rank_in_runs(demand[order])
    return rank


def _demand_top_k(found: Found, k: int) -> npt.NDArray[np.void]:
    """The pairs of ``found`` in their demand's top k among the chunk's offers, as
    (demand id, offer id, score) records."""
    demand, offer = found.demand_ids, found.offer_ids
    top = np.flatnonzero(_rank_per_demand(demand, offer, found.score) < k)
    records = np.empty(top.size, dtype=_TOP_RECORD)
    records["demand"], records["offer"], records["score"] = (
        demand[top],
        offer[top],
        found.score[top],
    )
    return records


# The published tops (24 MB a chunk at 100k x 100k) go to and from the database as binary
# parameters and results, on a cursor that binds server-side: Django's cursor writes the value
# into the query as an escaped literal, twice its size in hex, and copied on the way (180 MB at
# the peak, the chunk's highest).
_TOPS_TABLE = MatchingRunChunk._meta.db_table


def _raw_cursor() -> Any:
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def _publish_demand_tops(chunk: MatchingRunChunk, records: npt.NDArray[np.void]) -> None:
    with _raw_cursor() as cursor:
        cursor.execute(
            f"UPDATE {_TOPS_TABLE} SET demand_top_pairs = %b WHERE id = %s",  # noqa: S608
            [records.view(np.uint8).data, chunk.pk],
        )


def _published_demand_tops(
    chunk: MatchingRunChunk, seen: set[int]
) -> list[tuple[int, npt.NDArray[np.void]]]:
    """(chunk id, records) of the run's other chunks that have published, but ``seen``."""
    with _raw_cursor() as cursor:
        cursor.execute(
            f"SELECT id, demand_top_pairs FROM {_TOPS_TABLE} "  # noqa: S608
            "WHERE run_id = %s AND demand_top_pairs IS NOT NULL AND NOT (id = ANY(%s))",
            [chunk.run_id, [chunk.pk, *seen]],
            binary=True,
        )
        return [(pk, np.frombuffer(packed, dtype=_TOP_RECORD)) for pk, packed in cursor]


class _OtherChunksTops:
    """What the run's other chunks have published so far (each demand's top k among their
    offers, ``MatchingRunChunk.demand_top_pairs``), ranked together with this chunk's pairs: a pair
    that ranks k-th or lower for its demand among them all is not in that demand's global top k,
    so unless it is in its offer's top k it need not be explained or written. Read again until
    every other chunk has published; whatever was not known yet, the run's finish cuts. (A
    chunk redelivered after its worker died publishes again; if its offers were edited in
    between, they are flagged for matching again at the finish, as every edit during a run.)"""

    def __init__(self, chunk: MatchingRunChunk, total_chunks: int, found: Found, k: int) -> None:
        self.chunk, self.others, self.k = chunk, total_chunks - 1, k
        self.demand, self.offer, self.score = found.demand_ids, found.offer_ids, found.score
        self.seen: set[int] = set()
        self.published: list[npt.NDArray[np.void]] = []
        self.rank: IntArray | None = None
        self.exact = True  # every pair let through so far ranked against every other chunk

    def outside(self, rows: IntArray) -> npt.NDArray[np.bool_]:
        """Which of the chunk's pairs ``rows`` rank k-th or lower for their demand."""
        if len(self.seen) < self.others:
            for pk, records in _published_demand_tops(self.chunk, self.seen):
                self.published.append(records)
                self.seen.add(pk)
                self.rank = None
            self.exact = self.exact and len(self.seen) == self.others
        if not self.published:
            return np.zeros(rows.size, dtype=np.bool_)
        if self.rank is None:
            others = np.concatenate(self.published)
            n = self.demand.size
            rank = _rank_per_demand(
                np.concatenate((self.demand, others["demand"].astype(np.int64))),
                np.concatenate((self.offer, others["offer"].astype(np.int64))),
                np.concatenate((self.score, others["score"].astype(np.float64))),
            )
            self.rank = rank[:n]
        return self.rank[rows] >= self.k


def _offer_top_k_first(found: Found, k: int) -> tuple[npt.NDArray[np.int64], int]:
    """Positions of ``found``: the pairs in their offer's top k first (an offer's top k is
    whole in its chunk: always written), then the rest; and how many come first."""
    order = np.lexsort((found.demand_ids, -found.score, found.offer_ids))
    rank = _rank_in_runs(found.offer_ids[order])
    return np.concatenate((order[rank < k], order[rank >= k])), int((rank < k).sum())


def _chunk_columns(
    found: Found,
    *,
    today: date,
    router: Router,
    clock: _Clock | None = None,
    others: _OtherChunksTops | None = None,
    k: int = 0,
) -> Iterator[MatchColumns]:
    """The chunk's rows, explained a batch at a time (``clock`` adds up the seconds). With
    ``others``, the pairs in their offer's top ``k`` come first and the rest are written only
    if they may still be in their demand's global top k."""
    began = time.perf_counter()
    structural = _Structural(found)  # across batches: they share most material pairs
    rule_words: dict[int, str] = {}
    if others is not None:
        order, always = _offer_top_k_first(found, k)
    else:
        order, always = np.arange(len(found)), len(found)
    for start in range(0, len(found), WRITE_BATCH):
        rows = order[start : start + WRITE_BATCH]
        if others is not None and start + rows.size > always:
            tail = rows[max(0, always - start) :]
            rows = np.concatenate((rows[: max(0, always - start)], tail[~others.outside(tail)]))
            if rows.size == 0:
                continue
        columns = match_columns(
            found.take(rows),
            today=today,
            router=router,
            structural=(structural.matches, structural.of(rows), rule_words),
        )
        if clock is not None:
            clock.add("explain", time.perf_counter() - began)
        yield columns
        began = time.perf_counter()


def _write_chunk_orm(*, scope: Q, found: Found, today: date, router: Router) -> int:
    """A chunk's rows through the ORM, straight into the live table (other databases than
    PostgreSQL: the embedded demo). Proposed matches of the chunk's offers it did not keep
    are stale and go."""
    kept = set(zip(found.offer_ids.tolist(), found.demand_ids.tolist(), strict=True))
    stale = [
        pk
        for pk, o, d in Match.objects.filter(scope, stage=Stage.PROPOSED).values_list(
            "id", "offer_id", "demand_id"
        )
        if (o, d) not in kept
    ]
    columns = match_columns(found, today=today, router=router)
    return _write_matches(scope=scope, keep=columns, stale=stale)


@transaction.atomic
def matches_discard_proposed_for_listing(*, listing: Offer | Demand) -> int:
    """Delete the listing's matches nobody has reviewed; reviewed matches stay for the record."""
    field = "offer" if isinstance(listing, Offer) else "demand"
    deleted, _ = Match.objects.filter(**{field: listing}, stage=Stage.PROPOSED).delete()
    return deleted


def listings_sweep() -> int:
    """Re-queue every published listing still flagged a while after it asked for matching.

    Redis may lose a message; PostgreSQL's `needs_matching` is the source of truth.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.MATCHING_SWEEP_AFTER_SECONDS)
    requeued = 0
    for model, kind in ((Offer, "offer"), (Demand, "demand")):
        with transaction.atomic():
            flagged = list(
                model.objects.select_for_update(skip_locked=True)
                .filter(needs_matching=True, status="published")
                .filter(Q(matching_requested_at__lt=cutoff) | Q(matching_requested_at__isnull=True))
                .order_by("matching_requested_at")
                .values_list("id", "version")[:1000]
            )
            model.objects.filter(id__in=[pk for pk, _ in flagged]).update(
                matching_requested_at=timezone.now()
            )
            for pk, version in flagged:
                listing_match_task.delay_on_commit(kind, pk, version)
        requeued += len(flagged)
    return requeued


def matching_runs_sweep() -> int:
    """Re-queue the chunks of running full rematches that nobody finished long after they were
    queued (``MATCHING_RUN_REQUEUE_AFTER_SECONDS``); returns how many.

    A killed worker's chunk comes back by itself once the broker's visibility timeout is over;
    a message the broker lost (a Redis restarted without persistence, a purged queue) would leave
    the run running for ever. Chunks are idempotent, so a chunk re-queued while a slow worker
    still runs it is written once. A run whose chunks are all done but that is still running
    (its finishing worker died) gets its last chunk again, whose redelivery finishes it.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.MATCHING_RUN_REQUEUE_AFTER_SECONDS)
    running = MatchingRun.objects.filter(status=MatchingRun.Status.RUNNING)
    unfinished = running.filter(done_chunks=F("total_chunks")).exclude(chunks__done_at__gte=cutoff)
    with transaction.atomic():
        requeue = list(
            MatchingRunChunk.objects.select_for_update(of=("self",), skip_locked=True)
            .defer("demand_top_pairs")
            .filter(run__in=running)
            .filter(Q(queued_at__lt=cutoff) | Q(queued_at__isnull=True))
            .filter(
                Q(done_at__isnull=True) | Q(run__in=unfinished, index=F("run__total_chunks") - 1)
            )
            .order_by("pk")
        )
        MatchingRunChunk.objects.filter(pk__in=[c.pk for c in requeue]).update(
            queued_at=timezone.now()
        )
        for chunk in requeue:
            matching_run_chunk_task.delay_on_commit(chunk.run_id, chunk.index)
    return len(requeue)


@transaction.atomic
def matching_run_start(
    *, started_by: User | None = None, chunk_size: int | None = RUN_CHUNK_SIZE, enqueue: bool = True
) -> MatchingRun:
    """Start a full rematch: split the published offers into chunks by id range
    (``chunk_size`` offers each; None: ``run_chunk_size``). On PostgreSQL the chunks fill a run
    table of their own (``matching.run_table``) that the last one swaps in; a run still
    running is superseded (marked failed, its table dropped).

    Enqueues: matching_run_chunk_task per chunk on commit, unless `enqueue` is False (the caller
    then runs the chunks in-process).
    """
    for stale in MatchingRun.objects.select_for_update().filter(status=MatchingRun.Status.RUNNING):
        stale.status, stale.finished_at = MatchingRun.Status.FAILED, timezone.now()
        stale.error = "superseded by a newer full rematch"
        stale.save(update_fields=["status", "finished_at", "error", "updated_at"])
    if connection.vendor == "postgresql":
        # The superseded runs' tables, and any a dead run left behind.
        for name in RunTable.drop_all():
            logger.info("full rematch: dropped the stale run table %s", name)
    ids = list(selectors.published_offers().order_by("id").values_list("id", flat=True))
    size = chunk_size or run_chunk_size(len(ids))
    chunks = [ids[i : i + size] for i in range(0, len(ids), size)]
    run = MatchingRun.objects.create(
        status=MatchingRun.Status.RUNNING if chunks else MatchingRun.Status.DONE,
        started_by=started_by,
        scoring_version=SCORING_VERSION,
        started_at=timezone.now(),
        finished_at=None if chunks else timezone.now(),
        total_listings=len(ids),
        total_chunks=len(chunks),
    )
    MatchingRunChunk.objects.bulk_create(
        MatchingRunChunk(
            run=run, index=n, first_offer_id=c[0], last_offer_id=c[-1], queued_at=run.started_at
        )
        for n, c in enumerate(chunks)
    )
    if chunks and connection.vendor == "postgresql":
        RunTable(run.pk).create()
    if enqueue:
        for n in range(len(chunks)):
            matching_run_chunk_task.delay_on_commit(run.pk, n)
    return run


def _heap_trimmed() -> None:
    """Give the heap's free pages back to the system now (glibc; elsewhere nothing).

    glibc keeps freed NumPy temporaries in its heap (it raises its mmap threshold after the
    first large frees), so a worker held the engine's peak (1.2-1.4 GB for 50,000 offers
    against 100,000 demands) through the write that follows. Trimming once the engine is done
    brings it to what is still in use (about 950 MB). Fixing the mmap threshold low instead
    did the same but made every large temporary a fresh mapping: page faults cost the engine
    5-8 s per such chunk on two cores.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        return


def matching_worker_prepare(*, build_index: bool = True) -> None:
    """Ready a prefork worker's main process to fork its pool: import the engine (Numba and
    scikit-learn: 1-2 s and 120 MB that each child would otherwise load for itself) and read
    the reference tables, build the demand index once for every child to share (unless
    ``build_index`` is False), close the database connections (a child must open its own), and
    freeze what is built out of the garbage collector, whose passes write to every object they
    visit and so would copy each shared page into each child. Without the index each child
    builds its own on its first chunk: 7-10 s and 400 MB each at 100,000 demands. A child
    keeps the shared index in step as any cache (``SideCache.sync``) and replaces it with its
    own when the changes outgrow it. A database that cannot be read now only delays the
    reading and the build to the children."""
    from . import kernels  # noqa: F401  (Numba: shared by the children once imported here)
    from .text import TextSimilarity

    TextSimilarity.default()  # scikit-learn, and the vectoriser fitted on the thesaurus
    try:
        router, _ = reference(fresh=True)
        if build_index:
            side_cache("demand").parts(router)
    except DatabaseError:
        logger.warning("matching index not built before the pool forked", exc_info=True)
    connections.close_all()
    gc.collect()
    gc.freeze()


def matching_run_chunk_process(*, run_id: int, chunk_index: int, inline: bool = False) -> int:
    """Match one chunk of offers against every published demand. Idempotent: a chunk run twice
    (a redelivery after a killed worker) writes its rows once, and counts once.

    The chunk keeps each offer's top K and each demand's top K among the chunk's offers. On
    PostgreSQL they go into the run's table (swapped in by the last chunk, see
    ``matching_run_finish``); elsewhere straight into the live table. An offer whose profile
    cannot be built is skipped (its ``matching_error`` says why) and the rest of the chunk goes
    on. Locks: the chunk row while its rows are written. ``inline``: the caller runs the whole
    rematch in this process (see ``matching_run_finish``).
    """
    chunk = (  # the published top pairs (megabytes) stay in the database
        MatchingRunChunk.objects.defer("demand_top_pairs")
        .filter(run_id=run_id, index=chunk_index)
        .first()
    )
    if chunk is None or chunk.run.status != MatchingRun.Status.RUNNING:
        return 0
    if chunk.done_at is not None:  # redelivered: a finish that died with its worker is retried
        matching_run_finish(run_id=run_id, inline=inline)
        return 0
    MatchingRunChunk.objects.filter(pk=chunk.pk).update(attempts=F("attempts") + 1)
    in_chunk = Q(id__gte=chunk.first_offer_id, id__lte=chunk.last_offer_id)
    clock = _Clock()
    errors: dict[int, str] = {}
    offers = selectors.scored_listings(
        "offer", selectors.published_offers().filter(in_chunk), errors=errors
    )
    for offer_id, message in errors.items():  # odd data: skipped, and the facilitator sees why
        Offer.objects.filter(pk=offer_id).update(needs_matching=False, matching_error=message)
    router, _ = reference(fresh=True)
    today = timezone.localdate()
    scope = Q(offer_id__gte=chunk.first_offer_id, offer_id__lte=chunk.last_offer_id)
    found: Found | None = None
    if offers:
        table = ListingTable.build("offer", offers, router)
        table = table.take(spatial_order(table))
        clock.lap("offers")
        parts = side_cache("demand").parts(router, full_check=True)
        clock.lap("demand index")
        if parts:
            found = offer_chunk_matches(
                table,
                parts,
                k=settings.MATCHING_TOP_K,
                min_score=settings.MATCHING_MIN_SCORE,
                today=today,
                router=router,
            )
        _heap_trimmed()
        clock.lap("engine")
    swap = connection.vendor == "postgresql"
    others: _OtherChunksTops | None = None
    if swap and found is not None:
        k = settings.MATCHING_TOP_K
        _publish_demand_tops(chunk, _demand_top_k(found, k))
        _heap_trimmed()  # the ranking's temporaries and the 24 MB value sent
        others = _OtherChunksTops(chunk, chunk.run.total_chunks, found, k)
    with transaction.atomic():
        # The run row first, shared with the run's other chunks: a newer run supersedes this
        # one (and drops its table) either before this chunk writes or after it has committed.
        # (SQLite, the embedded demo, has no row locks: its writers take turns anyway.)
        share = " FOR KEY SHARE" if connection.vendor == "postgresql" else ""
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT 1 FROM {MatchingRun._meta.db_table} "  # noqa: S608 (model table)
                f"WHERE id = %s AND status = %s{share}",
                [run_id, MatchingRun.Status.RUNNING],
            )
            running = cursor.fetchone() is not None
        # The chunk row alone: the model's ordering joins the run, which FOR UPDATE would
        # lock as well, one chunk's write after the other.
        locked = (
            MatchingRunChunk.objects.select_for_update(of=("self",))
            .defer("demand_top_pairs")
            .filter(pk=chunk.pk)
            .order_by("pk")
            .first()
        )
        if not running or locked is None or locked.done_at is not None:
            return 0  # superseded, or another delivery of this chunk finished first
        if swap:
            # Explained and copied a batch at a time: a chunk's million rows never sit in
            # memory as strings at once.
            written = RunTable(run_id).insert_chunk(
                _chunk_columns(
                    found,
                    today=today,
                    router=router,
                    clock=clock,
                    others=others,
                    k=settings.MATCHING_TOP_K,
                )
                if found is not None
                else (),
                first_offer_id=chunk.first_offer_id,
                last_offer_id=chunk.last_offer_id,
            )
        elif found is not None:
            written = _write_chunk_orm(scope=scope, found=found, today=today, router=router)
        else:
            written = 0
            Match.objects.filter(scope, stage=Stage.PROPOSED).delete()
        MatchingRunChunk.objects.filter(pk=chunk.pk).update(
            done_at=timezone.now(), wrote_global_tops=others is None or others.exact
        )
        MatchingRun.objects.filter(pk=run_id).update(
            done_chunks=F("done_chunks") + 1, matches_written=F("matches_written") + written
        )
        # Only the rows that change: rewriting an offer row updates all its indexes (4 s for
        # 50 000 offers here).
        selectors.published_offers().filter(in_chunk).filter(
            Q(needs_matching=True) | ~Q(matching_error="")
        ).exclude(id__in=list(errors)).update(needs_matching=False, matching_error="")
    kept = len(found) if found is not None else 0
    del found, others
    _heap_trimmed()  # the worker waits for its next task with what it keeps: the index
    clock.lap("explain and write")
    logger.info(
        "run %s chunk %s: %s offers, %s pairs kept, %s written (%s)",
        run_id,
        chunk_index,
        len(offers),
        kept,
        written,
        clock,
    )
    matching_run_finish(run_id=run_id, inline=inline)
    return written


class _Clock:
    """Seconds per step of a chunk, for the log; ``add`` counts a part of a step."""

    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.laps: list[tuple[str, float]] = []
        self.parts: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps.append((name, now - self.last))
        self.last = now

    def add(self, name: str, seconds: float) -> None:
        self.parts[name] = self.parts.get(name, 0.0) + seconds

    def __str__(self) -> str:
        laps = [f"{name} {seconds:.1f} s" for name, seconds in self.laps]
        parts = [f"of which {name} {seconds:.1f} s" for name, seconds in self.parts.items()]
        return ", ".join(laps + parts)


def matching_run_finish(*, run_id: int, inline: bool = False) -> MatchingRun | None:
    """Close the run once every chunk is done: on PostgreSQL, build the run table's indexes
    and swap it in (``matching.run_table``), then flag the listings edited during the run so
    that the sweeper matches them again against what is live now. Safe to call any number of
    times, from any worker. Enqueues: the prospects refresh, a task per chunk's range of
    offers, on commit (``inline``: refreshes them here instead).
    """
    run = MatchingRun.objects.filter(pk=run_id).first()
    if run is None or run.status != MatchingRun.Status.RUNNING:
        return run
    if run.chunks.filter(done_at__isnull=True).exists():
        return run
    if connection.vendor != "postgresql":
        return _run_finish(run_id=run_id, inline=inline, table=None)
    with connection.cursor() as cursor:
        # One worker finishes a run; another that gets here at the same time leaves it.
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_FINISH_LOCK, run_id])
        if not cursor.fetchone()[0]:
            return run
    try:
        return _run_finish(run_id=run_id, inline=inline, table=RunTable(run_id))
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_FINISH_LOCK, run_id])


_FINISH_LOCK = 0x5E1F  # advisory lock class of matching_run_finish


def _run_finish(*, run_id: int, inline: bool, table: RunTable | None) -> MatchingRun | None:
    clock = _Clock()
    if table is not None and table.exists():
        # Nothing to cut when every chunk ranked its pairs against all the others' tops, and
        # no chunk ran twice (a redelivered chunk publishes again, from offers maybe edited).
        exact = not MatchingRunChunk.objects.filter(
            Q(wrote_global_tops=False) | Q(attempts__gt=1), run_id=run_id
        ).exists()
        dropped = table.prepare(top_k=None if exact else settings.MATCHING_TOP_K)
        cut = "exact" if exact else f"dropped {dropped}"
        clock.lap(f"global top {settings.MATCHING_TOP_K} ({cut}) and indexes")
    with transaction.atomic():
        run = MatchingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != MatchingRun.Status.RUNNING:
            return run
        if table is not None and not table.exists():
            run.status, run.finished_at = MatchingRun.Status.FAILED, timezone.now()
            run.error = "the run's table is gone; start a new full rematch"
            run.save(update_fields=["status", "finished_at", "error", "updated_at"])
            return run
        if table is not None:
            swapped = table.swap(started_at=run.started_at or run.created_at)
            clock.lap("swap")
            logger.info("run %s swapped in: %s (%s)", run_id, swapped, clock)
        since = run.started_at or run.created_at
        for model in (Offer, Demand):
            model.objects.filter(
                Q(updated_at__gte=since) | Q(site__updated_at__gte=since), status="published"
            ).update(needs_matching=True)
        run.status, run.finished_at = MatchingRun.Status.DONE, timezone.now()
        run.save(update_fields=["status", "finished_at", "updated_at"])
        run.chunks.update(demand_top_pairs=None)
        ranges = list(run.chunks.order_by("index").values_list("first_offer_id", "last_offer_id"))
        if not inline:
            for first, last in ranges:
                prospects_refresh_range_task.delay_on_commit(first, last)
    if inline:
        for first, last in ranges:
            prospects_refresh_for_offer_range(first_offer_id=first, last_offer_id=last)
    return run
