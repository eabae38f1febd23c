"""Matching services on the real database: matches appear, edits replace them, reviewed
matches are never touched, and running twice writes the same rows."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from django.db.models import Q
from hypothesis import given, settings
from hypothesis import strategies as st

from listings import services as listing_services
from listings.models import Demand, Offer
from matching.models import Match, MatchingRun, MatchingRunChunk, Stage
from matching.scoring import DemandProfile, OfferProfile, structural_match
from matching.services import (
    _Structural,
    listings_sweep,
    matches_refresh_for_listing,
    matching_run_chunk_process,
    matching_run_start,
    matching_runs_sweep,
)
from tests.factories import DemandFactory, OfferFactory, OrganizationFactory, SiteFactory
from tests.matching.test_scoring import CONCEPTS, demand, demands, offer, offers

pytestmark = pytest.mark.django_db


def _rows() -> list[tuple]:
    return sorted(
        Match.objects.values_list(
            "offer_id",
            "demand_id",
            "score",
            "material_score",
            "distance_km",
            "legal_procedure",
            "explanation",
        )
    )


@pytest.fixture
def fly_ash_pair() -> tuple[Offer, Demand]:
    power = OrganizationFactory(name="Power NL")
    cement = OrganizationFactory(name="Cement BE", country_id="BE")
    offer = OfferFactory(
        organization=power,
        site=SiteFactory(organization=power),
        title="Pulverised fuel ash",
        description="dry fly ash, silo",
    )
    demand = DemandFactory(
        organization=cement,
        site=SiteFactory(
            organization=cement, country_id="BE", city="Antwerpen", lat=51.27, lon=4.36
        ),
        title="Fly ash for clinker",
    )
    demand.accepted_codes.set(["100102"])
    return offer, demand


def test_refresh_writes_an_explained_match(fly_ash_pair: tuple[Offer, Demand]) -> None:
    offer, demand = fly_ash_pair
    assert (
        matches_refresh_for_listing(kind="offer", listing_id=offer.pk, version=offer.version) == 1
    )
    match = Match.objects.get()
    assert (match.offer_id, match.demand_id) == (offer.pk, demand.pk)
    assert 0 < match.score <= 1
    assert match.material_score == pytest.approx(1.0)
    assert 60 < match.distance_km < 160
    assert match.legal_procedure != "prohibited"
    assert "same" in match.explanation
    assert "km" in match.explanation
    assert "NL→BE" in match.explanation
    offer.refresh_from_db()
    assert not offer.needs_matching
    assert offer.matched_version == offer.version


def test_refresh_twice_writes_identical_rows(fly_ash_pair: tuple[Offer, Demand]) -> None:
    offer, demand = fly_ash_pair
    matches_refresh_for_listing(kind="offer", listing_id=offer.pk, version=offer.version)
    first = _rows()
    matches_refresh_for_listing(kind="offer", listing_id=offer.pk, version=offer.version)
    matches_refresh_for_listing(kind="demand", listing_id=demand.pk, version=demand.version)
    assert _rows() == first
    assert Match.objects.count() == 1


def test_stale_version_is_a_no_op(fly_ash_pair: tuple[Offer, Demand]) -> None:
    offer, _ = fly_ash_pair
    assert (
        matches_refresh_for_listing(kind="offer", listing_id=offer.pk, version=offer.version + 1)
        == 0
    )
    assert not Match.objects.exists()


def test_edit_removes_stale_matches_but_keeps_reviewed_ones(
    fly_ash_pair: tuple[Offer, Demand],
) -> None:
    offer, demand = fly_ash_pair
    other = DemandFactory(organization=demand.organization, site=demand.site, title="More ash")
    matches_refresh_for_listing(kind="offer", listing_id=offer.pk, version=offer.version)
    assert Match.objects.count() == 2
    Match.objects.filter(demand=other).update(stage=Stage.SHORTLISTED, score=0.123)

    offer = listing_services.listing_update(
        listing=offer, waste_code_id="020304", title="Spoiled fruit", description=""
    )
    matches_refresh_for_listing(kind="offer", listing_id=offer.pk, version=offer.version)
    assert not Match.objects.filter(demand=demand).exists()  # stale proposed match gone
    kept = Match.objects.get(demand=other)
    assert (kept.stage, kept.score) == (Stage.SHORTLISTED, 0.123)  # reviewed: untouched


def test_hazardous_offer_needs_a_permitted_receiver(fly_ash_pair: tuple[Offer, Demand]) -> None:
    offer, demand = fly_ash_pair
    Offer.objects.filter(pk=offer.pk).update(waste_code_id="100104", hazardous=True)
    Demand.objects.filter(pk=demand.pk).update(accepts_hazardous=False)
    matches_refresh_for_listing(kind="offer", listing_id=offer.pk, version=offer.version)
    assert not Match.objects.exists()


def test_sweeper_requeues_old_flagged_listings(
    fly_ash_pair: tuple[Offer, Demand], django_capture_on_commit_callbacks
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    offer, _ = fly_ash_pair
    Offer.objects.filter(pk=offer.pk).update(
        needs_matching=True, matching_requested_at=timezone.now() - timedelta(minutes=5)
    )
    with django_capture_on_commit_callbacks() as callbacks:
        assert listings_sweep() == 1
    assert len(callbacks) == 1
    with django_capture_on_commit_callbacks() as callbacks:
        assert listings_sweep() == 0  # just re-queued: not again within the minute


def test_full_rematch_chunks_count_once(
    fly_ash_pair: tuple[Offer, Demand], django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks():
        run = matching_run_start(chunk_size=1)
    assert run.total_chunks == 1
    matching_run_chunk_process(run_id=run.pk, chunk_index=0)
    matching_run_chunk_process(run_id=run.pk, chunk_index=0)  # redelivered
    run.refresh_from_db()
    assert run.done_chunks == 1
    assert Match.objects.filter(Q(offer=fly_ash_pair[0])).count() == 1
    assert run.status in (MatchingRun.Status.RUNNING, MatchingRun.Status.DONE)


def test_runs_sweeper_requeues_only_chunks_nobody_finished_in_time(
    fly_ash_pair: tuple[Offer, Demand], django_capture_on_commit_callbacks, settings
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    offer, _ = fly_ash_pair
    OfferFactory(organization=offer.organization, site=offer.site, title="More fly ash")
    with django_capture_on_commit_callbacks():
        run = matching_run_start(chunk_size=1)
    assert run.total_chunks == 2
    assert matching_runs_sweep() == 0  # just queued: the broker and the workers have their time

    long_ago = timezone.now() - timedelta(seconds=settings.MATCHING_RUN_REQUEUE_AFTER_SECONDS + 5)
    MatchingRunChunk.objects.filter(run=run).update(queued_at=long_ago)
    matching_run_chunk_process(run_id=run.pk, chunk_index=0)
    with django_capture_on_commit_callbacks() as callbacks:
        assert matching_runs_sweep() == 1  # chunk 1 only: chunk 0 is done
    assert len(callbacks) == 1
    assert matching_runs_sweep() == 0  # just re-queued: not again before the delay

    # Every chunk done, the run still running: its finishing worker died. The last chunk goes
    # again, and its redelivery finishes the run.
    MatchingRunChunk.objects.filter(run=run, index=1).update(done_at=long_ago, queued_at=long_ago)
    MatchingRunChunk.objects.filter(run=run, index=0).update(done_at=long_ago)
    MatchingRun.objects.filter(pk=run.pk).update(done_chunks=2)
    with django_capture_on_commit_callbacks() as callbacks:
        assert matching_runs_sweep() == 1
    assert len(callbacks) == 1
    assert MatchingRunChunk.objects.get(run=run, index=1).queued_at > long_ago
    matching_run_chunk_process(run_id=run.pk, chunk_index=1)
    run.refresh_from_db()
    assert run.status == MatchingRun.Status.DONE
    MatchingRunChunk.objects.filter(run=run).update(queued_at=long_ago, done_at=None)
    assert matching_runs_sweep() == 0  # a finished run is left alone

    with django_capture_on_commit_callbacks():
        superseded = matching_run_start(chunk_size=1)
        matching_run_start(chunk_size=1)
    MatchingRunChunk.objects.update(queued_at=long_ago)
    with django_capture_on_commit_callbacks():
        assert matching_runs_sweep() == 2  # the newer run's two chunks
    assert not MatchingRunChunk.objects.filter(run=superseded, queued_at__gt=long_ago).exists()


def test_an_organisation_is_not_matched_with_itself(fly_ash_pair: tuple[Offer, Demand]) -> None:
    offer, demand = fly_ash_pair
    Demand.objects.filter(pk=demand.pk).update(organization=offer.organization)
    assert (
        matches_refresh_for_listing(kind="offer", listing_id=offer.pk, version=offer.version) == 0
    )
    assert not Match.objects.exists()


# Few codes and categories, so that pairs often share them and differ in their concepts.
_concepts = st.frozensets(st.sampled_from(CONCEPTS), max_size=3)
_small_offers = st.builds(
    offer,
    resource_type=st.sampled_from(("material", "material", "energy")),
    low_code=st.sampled_from(("", "100102", "020304")),
    category_path=st.sampled_from(((), ("minerals", "ashes"))),
    concepts=_concepts,
)
_small_demands = st.builds(
    demand,
    low_code=st.sampled_from(("", "100101")),
    category_path=st.sampled_from(((), ("minerals", "ashes", "fly-ash"))),
    accepted_codes=st.sampled_from((frozenset(), frozenset({"10"}))),
    concepts=_concepts,
)


@given(
    st.lists(st.one_of(offers(), _small_offers), min_size=1, max_size=6),
    st.lists(st.one_of(demands(), _small_demands), min_size=1, max_size=6),
    st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=40),
)
@settings(max_examples=200, deadline=None)
def test_the_chunk_words_each_pair_with_its_structural_match(
    offer_profiles: list[OfferProfile],
    demand_profiles: list[DemandProfile],
    pairs: list[tuple[int, int]],
) -> None:
    """Memoised apart, the codes' and the concepts' parts give ``structural_match`` of each
    pair, batch after batch."""
    oi = np.array([o % len(offer_profiles) for o, _ in pairs], dtype=np.int64)
    dj = np.array([d % len(demand_profiles) for _, d in pairs], dtype=np.int64)
    found = SimpleNamespace(
        oi=oi,
        dj=dj,
        offers=SimpleNamespace(profiles=offer_profiles),
        demands=SimpleNamespace(profiles=demand_profiles),
    )
    structural = _Structural(found)  # type: ignore[arg-type]
    halves = np.array_split(np.arange(len(pairs))[::-1], 2)
    for rows in halves:
        got = [structural.matches[i] for i in structural.of(rows).tolist()]
        assert got == [
            structural_match(offer_profiles[oi[r]], demand_profiles[dj[r]]) for r in rows.tolist()
        ]
