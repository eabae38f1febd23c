"""Every write to matches, prospects and matching runs.

Matching a listing is idempotent: it upserts on (offer, demand), deletes only the listing's
matches that nobody has reviewed, and never changes a match a person has moved past
"proposed". A message delivered twice therefore writes the same rows.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from listings.models import Demand, Offer

from . import selectors
from .models import Match, MatchingRun, MatchingRunChunk, Stage
from .pair_context import LegalOracle, routes_for_pairs
from .prospects import prospects_refresh_all, prospects_refresh_for_offer
from .scoring import (
    SCORING_VERSION,
    DemandBatch,
    OfferBatch,
    PairContext,
    PairScore,
    explain,
    pair_encoding,
    score_pairs,
)
from .tasks import listing_match_task, matching_run_chunk_task

logger = logging.getLogger(__name__)

RUN_CHUNK_SIZE = 500  # offers per chunk: well over 100 ms of work, far under the visibility timeout


@dataclass(frozen=True, slots=True)
class MatchRow:
    offer: selectors.ScoredListing
    demand: selectors.ScoredListing
    score: PairScore
    km: float
    mode: str
    eur_per_tonne: float
    co2_kg_per_tonne: float
    procedure: str
    flags: tuple[str, ...]


def score_listings(
    offers: Sequence[selectors.ScoredListing],
    demands: Sequence[selectors.ScoredListing],
    *,
    pairs: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[MatchRow]:
    """Score candidate pairs (all offer × demand pairs when `pairs` is None) and return the ones
    that pass every hard filter, with their explanation."""
    if not offers or not demands:
        return []
    today = timezone.localdate()
    offer_batch = OfferBatch.from_profiles([o.profile for o in offers])
    demand_batch = DemandBatch.from_profiles([d.profile for d in demands])
    encoding = pair_encoding(offer_batch, demand_batch)
    if pairs is None:
        oi, dj = np.nonzero(encoding)  # blocking: only pairs that share a material key
    else:
        oi, dj = pairs
    oi, dj = oi.astype(np.int64), dj.astype(np.int64)
    if len(oi) == 0:
        return []
    # An organisation is not matched with itself: it needs no facilitator for that.
    offer_org = np.array([o.organization_id for o in offers])
    demand_org = np.array([d.organization_id for d in demands])
    keep = (offer_batch.resource[oi] == demand_batch.resource[dj]) & (
        offer_org[oi] != demand_org[dj]
    )
    oi, dj = oi[keep], dj[keep]
    router = selectors.router_get()
    oracle = LegalOracle(shipment_date=today)
    rows: list[MatchRow] = []
    for resource_type in {o.profile.resource_type for o in offers}:
        mask = np.array(
            [offers[i].profile.resource_type == resource_type for i in oi.tolist()], dtype=bool
        )
        if not mask.any():
            continue
        po, pd = oi[mask], dj[mask]
        routes = routes_for_pairs(
            router,
            np.array([offers[i].profile.lat for i in po]),
            np.array([offers[i].profile.lon for i in po]),
            np.array([demands[j].profile.lat for j in pd]),
            np.array([demands[j].profile.lon for j in pd]),
            resource_type,
        )
        legal = [
            oracle.outcome(offers[i].legal, demands[j].legal) for i, j in zip(po, pd, strict=True)
        ]
        text = _text_similarity([offers[i].text for i in po], [demands[j].text for j in pd])
        flat = score_pairs(
            offer_batch,
            demand_batch,
            po,
            pd,
            encoding=encoding[po, pd],
            distance_km=routes.km,
            legal_score=np.array([outcome.score for outcome in legal]),
            text_similarity=text,
            today=today,
        )
        for k in np.flatnonzero(flat.score > 0).tolist():
            offer, demand = offers[po[k]], demands[pd[k]]
            ctx = PairContext(
                distance_km=float(routes.km[k]),
                transport_mode=routes.mode[k].replace("_", " "),
                legal_score=legal[k].score,
                legal_label=legal[k].label,
                text_similarity=float(text[k]),
            )
            partial = PairScore(
                float(flat.score[k]),
                float(flat.material[k]),
                float(flat.quantity[k]),
                float(flat.distance[k]),
                float(flat.legal[k]),
                float(flat.timing[k]),
                None,
                "",
            )
            explanation = explain(offer.profile, demand.profile, ctx, partial)
            rows.append(
                MatchRow(
                    offer=offer,
                    demand=demand,
                    score=dataclasses.replace(partial, explanation=explanation),
                    km=float(routes.km[k]),
                    mode=routes.mode[k],
                    eur_per_tonne=float(routes.eur_per_tonne[k]),
                    co2_kg_per_tonne=float(routes.kg_co2e_per_tonne[k]),
                    procedure=str(legal[k].procedure),
                    flags=legal[k].flags,
                )
            )
    return rows


def _text_similarity(a: list[str], b: list[str]) -> np.ndarray:
    from .text import TextSimilarity

    if not a:
        return np.zeros(0)
    return np.clip(np.asarray(TextSimilarity.default().pairwise(a, b), dtype=np.float64), 0, 1)


def _top_k(rows: list[MatchRow], *, k: int, min_score: float) -> list[MatchRow]:
    """Keep a pair when it is in the top K of its offer or of its demand."""
    kept = [r for r in rows if r.score.score >= min_score]
    keep: set[tuple[int, int]] = set()
    for side in ("offer", "demand"):
        groups: dict[int, list[MatchRow]] = {}
        for r in kept:
            groups.setdefault(getattr(r, side).id, []).append(r)
        for group in groups.values():
            group.sort(key=lambda r: (-r.score.score, r.offer.id, r.demand.id))
            keep.update((r.offer.id, r.demand.id) for r in group[:k])
    return [r for r in kept if (r.offer.id, r.demand.id) in keep]


def _match(row: MatchRow) -> Match:
    s = row.score
    return Match(
        offer_id=row.offer.id,
        demand_id=row.demand.id,
        score=s.score,
        material_score=s.material,
        quantity_score=s.quantity,
        distance_score=s.distance,
        legal_score=s.legal,
        timing_score=s.timing,
        distance_km=row.km,
        transport_mode=row.mode,
        cost_eur_per_tonne=row.eur_per_tonne,
        co2_kg_per_tonne=row.co2_kg_per_tonne,
        # What could be diverted from disposal: the smaller side, for materials (not heat).
        tonnes_per_year=(
            min(row.offer.profile.annual_quantity, row.demand.profile.annual_quantity)
            if row.offer.profile.base_unit == "t"
            else None
        ),
        legal_procedure=row.procedure,
        legal_flags=list(row.flags),
        explanation=row.score.explanation,
        scoring_version=SCORING_VERSION,
        offer_version=row.offer.version,
        demand_version=row.demand.version,
    )


UPSERT_FIELDS = [
    "score",
    "material_score",
    "quantity_score",
    "distance_score",
    "legal_score",
    "timing_score",
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


def _write_matches(*, scope: Q, keep: list[MatchRow], valid: set[tuple[int, int]]) -> int:
    """Upsert `keep` and delete the proposed matches in `scope` whose pair is no longer valid.

    Matches a person has moved past "proposed" are never touched. A valid pair outside this
    listing's top K may stay: the other side's top K may have put it there.
    """
    reviewed = set(
        Match.objects.filter(scope)
        .exclude(stage=Stage.PROPOSED)
        .values_list("offer_id", "demand_id")
    )
    rows = [_match(r) for r in keep if (r.offer.id, r.demand.id) not in reviewed]
    now = timezone.now()
    for row in rows:
        row.updated_at = now
    stale = [
        pk
        for pk, offer_id, demand_id in Match.objects.filter(
            scope, stage=Stage.PROPOSED
        ).values_list("id", "offer_id", "demand_id")
        if (offer_id, demand_id) not in valid
    ]
    Match.objects.filter(id__in=stale).delete()
    Match.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["offer", "demand"],
        update_fields=UPSERT_FIELDS,
        batch_size=1000,
    )
    return len(rows)


def matches_refresh_for_listing(*, kind: str, listing_id: int, version: int) -> int:
    """Recompute the proposed matches of one published listing. Idempotent and order-safe.

    A listing edited since (another version) is a no-op: the task queued by the newer edit does
    the work. A listing that is no longer published loses its proposed matches.
    Returns the number of matches written.
    """
    model = Offer if kind == "offer" else Demand
    listing = model.objects.filter(pk=listing_id).values("version", "status").first()
    if listing is None or listing["version"] != version:
        return 0
    field = "offer" if kind == "offer" else "demand"
    if listing["status"] != "published":
        Match.objects.filter(**{f"{field}_id": listing_id}, stage=Stage.PROPOSED).delete()
        model.objects.filter(pk=listing_id, version=version).update(needs_matching=False)
        return 0
    try:
        if kind == "offer":
            mine = selectors.offer_scored_listings(Offer.objects.filter(pk=listing_id))
            rows = score_listings(
                mine, selectors.demand_scored_listings(selectors.published_demands())
            )
        else:
            mine = selectors.demand_scored_listings(Demand.objects.filter(pk=listing_id))
            rows = score_listings(
                selectors.offer_scored_listings(selectors.published_offers()), mine
            )
    except ValueError as exc:
        # Odd data never crashes a worker: skip the listing and say why; the facilitator sees it.
        logger.warning("matching skipped %s %s: %s", kind, listing_id, exc)
        model.objects.filter(pk=listing_id, version=version).update(
            needs_matching=False, matching_error=str(exc)[:500]
        )
        return 0
    valid = {
        (r.offer.id, r.demand.id) for r in rows if r.score.score >= settings.MATCHING_MIN_SCORE
    }
    keep = _top_k(rows, k=settings.MATCHING_TOP_K, min_score=settings.MATCHING_MIN_SCORE)
    with transaction.atomic():
        written = _write_matches(scope=Q(**{f"{field}_id": listing_id}), keep=keep, valid=valid)
        model.objects.filter(pk=listing_id, version=version).update(
            needs_matching=False, matched_version=version, matching_error=""
        )
    if kind == "offer":
        prospects_refresh_for_offer(offer_id=listing_id, version=version)
    return written


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


@transaction.atomic
def matching_run_start(
    *, started_by: User | None = None, chunk_size: int = RUN_CHUNK_SIZE, enqueue: bool = True
) -> MatchingRun:
    """Start a full rematch: split the published offers into chunks by id range.

    Enqueues: matching_run_chunk_task per chunk on commit, unless `enqueue` is False (the caller
    then runs the chunks in-process).
    """
    ids = list(selectors.published_offers().order_by("id").values_list("id", flat=True))
    chunks = [ids[i : i + chunk_size] for i in range(0, len(ids), chunk_size)]
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
        MatchingRunChunk(run=run, index=n, first_offer_id=c[0], last_offer_id=c[-1])
        for n, c in enumerate(chunks)
    )
    if enqueue:
        for n in range(len(chunks)):
            matching_run_chunk_task.delay_on_commit(run.pk, n)
    return run


def matching_run_chunk_process(*, run_id: int, chunk_index: int) -> int:
    """Match one chunk of offers against every published demand. Idempotent: a chunk run twice
    (a redelivery after a killed worker) writes the same rows and counts once."""
    chunk = MatchingRunChunk.objects.filter(run_id=run_id, index=chunk_index).first()
    if chunk is None or chunk.done_at is not None:
        return 0
    MatchingRunChunk.objects.filter(pk=chunk.pk).update(attempts=F("attempts") + 1)
    offers = selectors.offer_scored_listings(
        selectors.published_offers().filter(
            id__gte=chunk.first_offer_id, id__lte=chunk.last_offer_id
        )
    )
    demands = selectors.demand_scored_listings(selectors.published_demands())
    rows = _top_k(
        score_listings(offers, demands),
        k=settings.MATCHING_TOP_K,
        min_score=settings.MATCHING_MIN_SCORE,
    )
    with transaction.atomic():
        scope = Q(offer_id__gte=chunk.first_offer_id, offer_id__lte=chunk.last_offer_id)
        written = _write_matches(
            scope=scope, keep=rows, valid={(r.offer.id, r.demand.id) for r in rows}
        )
        marked = MatchingRunChunk.objects.filter(pk=chunk.pk, done_at__isnull=True).update(
            done_at=timezone.now()
        )
        if marked:
            MatchingRun.objects.filter(pk=run_id).update(
                done_chunks=F("done_chunks") + 1, matches_written=F("matches_written") + written
            )
            Offer.objects.filter(id__in=[o.id for o in offers]).update(needs_matching=False)
    if marked:
        matching_run_finish(run_id=run_id)
    return written


def matching_run_finish(*, run_id: int) -> MatchingRun | None:
    """Close the run once every chunk is done. Safe to call any number of times."""
    with transaction.atomic():
        run = MatchingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != MatchingRun.Status.RUNNING:
            return run
        if run.chunks.filter(done_at__isnull=True).exists():
            return run
        run.status, run.finished_at = MatchingRun.Status.DONE, timezone.now()
        run.save(update_fields=["status", "finished_at", "updated_at"])
    prospects_refresh_all()
    return run
