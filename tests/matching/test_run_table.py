"""A full rematch on PostgreSQL fills a run table of its own and swaps it in
(``matching.run_table``). These tests try to break what the swap must keep: the schema Django
migrated, every match a person has touched, the companies' answers, ids, events, and whatever
the incremental path wrote while the run was going on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from listings import services as listing_services
from listings.models import Demand, Offer
from matching.candidates import caches_clear
from matching.models import Match, MatchEvent, MatchingRun, Response, Stage
from matching.run_table import RunTable
from matching.services import (
    matches_refresh_for_listing,
    matching_run_chunk_process,
    matching_run_start,
)
from tests.factories import DemandFactory, OfferFactory, OrganizationFactory, SiteFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    caches_clear()


def _offer(lat: float = 51.9, lon: float = 4.4, **fields: object) -> Offer:
    power = OrganizationFactory()
    fields.setdefault("title", "Pulverised fuel ash")
    fields.setdefault("description", "dry fly ash, silo")
    site = SiteFactory(organization=power, lat=lat, lon=lon)
    return OfferFactory(organization=power, site=site, **fields)


def _demand(lat: float = 51.27, lon: float = 4.36, **fields: object) -> Demand:
    cement = OrganizationFactory(country_id="BE")
    demand = DemandFactory(
        organization=cement,
        site=SiteFactory(organization=cement, country_id="BE", city="Antwerpen", lat=lat, lon=lon),
        title=fields.pop("title", "Fly ash for clinker"),
        **fields,
    )
    demand.accepted_codes.set(["100102"])
    return demand


def _network(offers: int = 3, demands: int = 3) -> tuple[list[Offer], list[Demand]]:
    return (
        [_offer(lat=51.8 + 0.05 * n) for n in range(offers)],
        [_demand(lat=51.2 + 0.05 * n) for n in range(demands)],
    )


def _run(django_capture_on_commit_callbacks, *, chunk_size: int | None = None) -> MatchingRun:
    with django_capture_on_commit_callbacks():
        run = matching_run_start(chunk_size=chunk_size)
    for index in range(run.total_chunks):
        matching_run_chunk_process(run_id=run.pk, chunk_index=index, inline=True)
    run.refresh_from_db()
    return run


def _rows() -> list[tuple[object, ...]]:
    return sorted(
        Match.objects.values_list(
            "id", "offer_id", "demand_id", "score", "explanation", "stage", "offer_response"
        )
    )


def _schema() -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(name, definition) of every constraint and index of the match table, and of every
    foreign key pointing at it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'matching_match'::regclass OR confrelid = 'matching_match'::regclass"
        )
        constraints = {(a, b) for a, b in cursor.fetchall()}
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'matching_match'"
        )
        indexes = {(a, b) for a, b in cursor.fetchall()}
    return constraints, indexes


def test_the_swapped_table_has_the_migrated_schema(django_capture_on_commit_callbacks) -> None:
    _network()
    before = _schema()
    run = _run(django_capture_on_commit_callbacks)
    assert run.status == MatchingRun.Status.DONE
    assert Match.objects.count() == 9
    assert _schema() == before
    assert not RunTable(run.pk).exists()
    # The id identity goes on after the highest id.
    highest = max(Match.objects.values_list("id", flat=True))
    offer, demand = _offer(lat=52.0), _demand(lat=51.0)
    match = Match.objects.create(
        offer=offer, demand=demand, score=0.5, material_score=0.5, quantity_score=0.5,
        distance_score=0.5, legal_score=0.5, timing_score=0.5, distance_km=10.0,
        explanation="x", scoring_version="x", offer_version=1, demand_version=1,
    )  # fmt: skip
    assert match.pk > highest


def test_a_second_full_rematch_keeps_ids_answers_and_rows(
    django_capture_on_commit_callbacks,
) -> None:
    _network()
    _run(django_capture_on_commit_callbacks)
    answered = Match.objects.order_by("id").first()
    assert answered is not None
    Match.objects.filter(pk=answered.pk).update(offer_response=Response.INTERESTED)
    MatchEvent.objects.create(match=answered, kind=MatchEvent.Kind.RESPONSE, note="offer")
    rows = _rows()
    again = _run(django_capture_on_commit_callbacks)
    assert again.status == MatchingRun.Status.DONE
    assert again.matches_written == 9  # every pair is written again, ...
    assert _rows() == rows  # ... with its id, its answer and the same words
    assert MatchEvent.objects.filter(match_id=answered.pk).count() == 1


def test_reviewed_matches_are_never_changed(django_capture_on_commit_callbacks) -> None:
    offers, demands = _network(offers=2, demands=2)
    _run(django_capture_on_commit_callbacks)
    reviewed = Match.objects.get(offer=offers[0], demand=demands[0])
    Match.objects.filter(pk=reviewed.pk).update(
        stage=Stage.SHORTLISTED, score=0.123, explanation="as the facilitator saw it"
    )
    MatchEvent.objects.create(match=reviewed, kind=MatchEvent.Kind.STAGE, note="shortlisted")
    # The pair no longer matches at all: a reviewed match stays for the record anyway.
    listing_services.listing_update(
        listing=demands[0], waste_code_id="020304", title="Fruit pulp", accepted_codes=[]
    )
    _run(django_capture_on_commit_callbacks)
    kept = Match.objects.get(pk=reviewed.pk)
    assert (kept.stage, kept.score, kept.explanation) == (
        Stage.SHORTLISTED,
        pytest.approx(0.123),
        "as the facilitator saw it",
    )
    assert MatchEvent.objects.filter(match=kept).count() == 1


def test_stale_proposed_matches_go_with_their_events(django_capture_on_commit_callbacks) -> None:
    offers, demands = _network(offers=1, demands=2)
    _run(django_capture_on_commit_callbacks)
    stale = Match.objects.get(offer=offers[0], demand=demands[1])
    MatchEvent.objects.create(match=stale, kind=MatchEvent.Kind.RESPONSE, note="demand")
    listing_services.listing_update(
        listing=demands[1], waste_code_id="020304", title="Fruit pulp", accepted_codes=[]
    )
    _run(django_capture_on_commit_callbacks)
    assert not Match.objects.filter(pk=stale.pk).exists()
    assert not MatchEvent.objects.filter(match_id=stale.pk).exists()
    assert Match.objects.filter(offer=offers[0], demand=demands[0]).exists()


def test_what_changed_during_the_run_wins_and_is_matched_again(
    django_capture_on_commit_callbacks,
) -> None:
    offers, demands = _network(offers=2, demands=1)
    with django_capture_on_commit_callbacks():
        run = matching_run_start(chunk_size=1)
    matching_run_chunk_process(run_id=run.pk, chunk_index=0, inline=True)
    # Meanwhile the incremental path matches the second offer, which was just edited, and a
    # facilitator shortlists its match.
    listing_services.listing_update(listing=offers[1], description="dry fly ash, bagged")
    offers[1].refresh_from_db()
    matches_refresh_for_listing(kind="offer", listing_id=offers[1].pk, version=offers[1].version)
    live = Match.objects.get(offer=offers[1], demand=demands[0])
    Match.objects.filter(pk=live.pk).update(stage=Stage.SHORTLISTED)
    Offer.objects.filter(pk=offers[1].pk).update(needs_matching=False)
    matching_run_chunk_process(run_id=run.pk, chunk_index=1, inline=True)
    run.refresh_from_db()
    assert run.status == MatchingRun.Status.DONE
    kept = Match.objects.get(offer=offers[1], demand=demands[0])
    assert (kept.pk, kept.stage) == (live.pk, Stage.SHORTLISTED)
    assert Match.objects.filter(offer=offers[0]).count() == 1
    offers[1].refresh_from_db()
    assert offers[1].needs_matching  # edited during the run: the sweeper matches it again
    offers[0].refresh_from_db()
    assert not offers[0].needs_matching


def test_a_listing_deleted_during_the_run_leaves_no_row(
    django_capture_on_commit_callbacks,
) -> None:
    _, demands = _network(offers=2, demands=2)
    with django_capture_on_commit_callbacks():
        run = matching_run_start(chunk_size=1)
    matching_run_chunk_process(run_id=run.pk, chunk_index=0, inline=True)
    demands[0].delete()  # the run table holds its pairs already
    matching_run_chunk_process(run_id=run.pk, chunk_index=1, inline=True)
    run.refresh_from_db()
    assert run.status == MatchingRun.Status.DONE
    assert set(Match.objects.values_list("demand_id", flat=True)) == {demands[1].pk}
    assert Match.objects.count() == 2


def test_a_redelivered_chunk_writes_once(django_capture_on_commit_callbacks) -> None:
    _network(offers=2, demands=2)
    with django_capture_on_commit_callbacks():
        run = matching_run_start(chunk_size=1)
    assert matching_run_chunk_process(run_id=run.pk, chunk_index=0) == 2
    assert matching_run_chunk_process(run_id=run.pk, chunk_index=0) == 0
    assert matching_run_chunk_process(run_id=run.pk, chunk_index=1) == 2
    run.refresh_from_db()
    assert (run.status, run.done_chunks, run.matches_written) == (MatchingRun.Status.DONE, 2, 4)
    assert Match.objects.count() == 4


def test_a_new_run_supersedes_one_still_running(django_capture_on_commit_callbacks) -> None:
    _network(offers=2, demands=1)
    with django_capture_on_commit_callbacks():
        first = matching_run_start(chunk_size=1)
    matching_run_chunk_process(run_id=first.pk, chunk_index=0)
    assert RunTable(first.pk).exists()
    second = _run(django_capture_on_commit_callbacks)
    first.refresh_from_db()
    assert first.status == MatchingRun.Status.FAILED
    assert "superseded" in first.error
    assert not RunTable(first.pk).exists()
    assert second.status == MatchingRun.Status.DONE
    # A late delivery of the superseded run's chunk does nothing.
    assert matching_run_chunk_process(run_id=first.pk, chunk_index=1) == 0
    assert Match.objects.count() == 2


def test_the_finish_refuses_a_table_pointing_at_matches_it_does_not_know() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE matching_test_pointer (match_id bigint REFERENCES matching_match(id))"
        )
        with pytest.raises(RuntimeError, match="matching_test_pointer"):
            RunTable(0)._referencing(cursor)


def test_events_point_at_the_new_table_after_a_swap(django_capture_on_commit_callbacks) -> None:
    _network(offers=1, demands=1)
    _run(django_capture_on_commit_callbacks)
    match = Match.objects.get()
    _run(django_capture_on_commit_callbacks)
    MatchEvent.objects.create(match_id=match.pk, kind=MatchEvent.Kind.RESPONSE, note="ok")
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        with pytest.raises(Exception, match="foreign key"):
            cursor.execute(
                "INSERT INTO matching_matchevent "
                "(match_id, kind, from_stage, to_stage, note, created_at, side) "
                "VALUES (%s, 'response', '', '', 'x', %s, '')",
                [match.pk + 10_000, timezone.now() - timedelta(seconds=1)],
            )


def test_chunks_of_one_run_do_not_lock_each_other_out(django_capture_on_commit_callbacks) -> None:
    """Each chunk locks its own row only: two chunks write their rows at the same time."""
    _network(offers=2, demands=1)
    with django_capture_on_commit_callbacks():
        run = matching_run_start(chunk_size=1)
    with CaptureQueriesContext(connection) as queries:
        matching_run_chunk_process(run_id=run.pk, chunk_index=0)
    locking = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    chunk_locks = [sql for sql in locking if "matching_matchingrunchunk" in sql]
    assert chunk_locks
    for sql in chunk_locks:
        assert "JOIN" not in sql or 'FOR UPDATE OF "matching_matchingrunchunk"' in sql, sql
        assert "demand_top_pairs" not in sql  # the chunk's published pairs are not read back
    assert not any('matching_matchingrun" WHERE' in sql for sql in locking)


def test_the_run_keeps_the_global_top_k_of_each_demand(
    django_capture_on_commit_callbacks, settings
) -> None:
    """Each chunk keeps a demand's top k among its own offers; the finish keeps the top k over
    all of them (and every offer's own top k)."""
    settings.MATCHING_TOP_K = 1
    near = _offer(lat=51.30, lon=4.36)  # chunk 0: nearer to both demands
    far = _offer(lat=51.60, lon=4.36)  # chunk 1
    first = _demand(lat=51.28, lon=4.36)  # every offer's best
    second = _demand(lat=51.20, lon=4.36)  # nobody's best: its own top 1 only
    run = _run(django_capture_on_commit_callbacks, chunk_size=1)
    assert run.total_chunks == 2
    pairs = set(Match.objects.values_list("offer_id", "demand_id"))
    assert pairs == {(near.pk, first.pk), (far.pk, first.pk), (near.pk, second.pk)}


def test_a_chunk_leaves_out_pairs_another_chunk_keeps_out_of_a_demands_top_k(
    django_capture_on_commit_callbacks, settings
) -> None:
    """The first chunk publishes each demand's top k among its offers; the second does not
    write a pair that is neither its offer's best nor among its demand's best k over both
    chunks. The answer stays exact."""
    settings.MATCHING_TOP_K = 1
    near = _offer(lat=51.30, lon=4.36)  # chunk 0
    far = _offer(lat=51.60, lon=4.36)  # chunk 1
    first = _demand(lat=51.28, lon=4.36)
    second = _demand(lat=51.20, lon=4.36)
    run = _run(django_capture_on_commit_callbacks, chunk_size=1)
    # chunk 0: (near, first), (near, second); chunk 1: (far, first) only. Without the floors
    # chunk 1 would write (far, second) as well, its demand's best among chunk 1's offers.
    assert run.matches_written == 3
    pairs = set(Match.objects.values_list("offer_id", "demand_id"))
    assert pairs == {(near.pk, first.pk), (far.pk, first.pk), (near.pk, second.pk)}
    assert not run.chunks.filter(demand_top_pairs__isnull=False).exists()  # cleared at the end


def _finish_reads_the_table_back(queries: CaptureQueriesContext) -> bool:
    return any("string_agg(int8send(id)" in q["sql"] for q in queries.captured_queries)


def test_the_finish_cuts_only_after_a_chunk_that_wrote_before_seeing_the_others_tops(
    django_capture_on_commit_callbacks, settings
) -> None:
    """A chunk that wrote before every other chunk had published its tops may have written
    pairs outside the global top k: the finish reads the table back and cuts. A chunk that
    saw them all wrote only pairs in the global top k: when every chunk did, and none ran
    twice, the finish skips the read."""
    settings.MATCHING_TOP_K = 1
    _offer(lat=51.30, lon=4.36)
    _offer(lat=51.60, lon=4.36)
    _demand(lat=51.28, lon=4.36)
    _demand(lat=51.20, lon=4.36)
    with django_capture_on_commit_callbacks():
        run = matching_run_start(chunk_size=1)
    matching_run_chunk_process(run_id=run.pk, chunk_index=0, inline=True)
    with CaptureQueriesContext(connection) as queries:
        matching_run_chunk_process(run_id=run.pk, chunk_index=1, inline=True)
    chunks = dict(run.chunks.values_list("index", "wrote_global_tops"))
    assert chunks == {0: False, 1: True}  # chunk 0 wrote before chunk 1 had published
    assert _finish_reads_the_table_back(queries)

    with django_capture_on_commit_callbacks():
        run = matching_run_start(chunk_size=None)  # one chunk: no other tops to wait for
    with CaptureQueriesContext(connection) as queries:
        matching_run_chunk_process(run_id=run.pk, chunk_index=0, inline=True)
    run.refresh_from_db()
    assert run.status == MatchingRun.Status.DONE
    assert run.total_chunks == 1
    assert list(run.chunks.values_list("wrote_global_tops", flat=True)) == [True]
    assert not _finish_reads_the_table_back(queries)
    assert Match.objects.count() == 3  # each offer's best, each demand's best

    with django_capture_on_commit_callbacks():
        run = matching_run_start(chunk_size=None)
    run.chunks.update(attempts=1)  # a worker died on it: this is its redelivery
    with CaptureQueriesContext(connection) as queries:
        matching_run_chunk_process(run_id=run.pk, chunk_index=0, inline=True)
    assert _finish_reads_the_table_back(queries)  # what it published may have changed
    assert Match.objects.count() == 3


def test_a_table_left_by_a_dead_run_does_not_block_the_next_one(
    django_capture_on_commit_callbacks,
) -> None:
    """A run table whose run row is gone (a killed benchmark, a deleted run) still takes its
    ids from the live table's sequence; the next run drops it instead of failing its swap."""
    _network()
    RunTable(987654).create()  # no MatchingRun 987654
    run = _run(django_capture_on_commit_callbacks)
    assert run.status == MatchingRun.Status.DONE
    assert Match.objects.count() == 9
    assert not RunTable(987654).exists()


def test_the_run_admin_shows_chunks_without_their_published_pairs(
    admin_client, django_capture_on_commit_callbacks
) -> None:
    _network(offers=2, demands=1)
    with django_capture_on_commit_callbacks():
        run = matching_run_start(chunk_size=1)
    run.chunks.update(demand_top_pairs=b"\x00" * 24)
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(f"/admin/matching/matchingrun/{run.pk}/change/")
    assert response.status_code == 200
    assert b"first offer id" in response.content.lower()
    assert not any("demand_top_pairs" in q["sql"] for q in queries.captured_queries)
