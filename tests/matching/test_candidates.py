"""The database side of candidate generation: the per-process index cache stays in step with
the database, odd listings are skipped and said why, derived categories, constant query counts,
and the vectorised callbacks agree with the scalar code they replace."""

from __future__ import annotations

import gc
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import numpy as np
import pytest
from django.utils import timezone

from listings import services as listing_services
from listings.models import Demand, ListingStatus, MaterialCategory, Offer, Site, WasteCode
from matching import candidates, selectors
from matching.candidates import (
    LEGAL,
    ListingTable,
    best_routes,
    caches_clear,
    gather,
    legal_key,
    pair_cosine,
    side_cache,
    text_vectors,
)
from matching.models import Match
from matching.pair_context import DemandLegal, LegalOracle, OfferLegal, routes_for_pairs
from matching.services import (
    matches_refresh_for_listing,
    matching_run_chunk_process,
    matching_run_start,
)
from matching.text import TextSimilarity, Thesaurus
from tests.factories import DemandFactory, OfferFactory, OrganizationFactory, SiteFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    caches_clear()


def _offer(**fields: object) -> Offer:
    power = OrganizationFactory()
    fields.setdefault("title", "Pulverised fuel ash")
    fields.setdefault("description", "dry fly ash, silo")
    return OfferFactory(organization=power, site=SiteFactory(organization=power), **fields)


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


def _refresh(listing: Offer | Demand) -> int:
    kind = "offer" if isinstance(listing, Offer) else "demand"
    listing.refresh_from_db()
    return matches_refresh_for_listing(kind=kind, listing_id=listing.pk, version=listing.version)


def _matched(offer: Offer) -> set[int]:
    return set(Match.objects.filter(offer=offer).values_list("demand_id", flat=True))


# --- the index cache follows the database -----------------------------------------------------


def test_cache_sees_a_new_demand_an_edit_and_a_close() -> None:
    first = _demand()
    offer = _offer()
    _refresh(offer)  # builds the demand index
    assert _matched(offer) == {first.pk}
    built = side_cache("demand").main
    assert built is not None

    second = _demand(lat=51.3, lon=4.3)  # published after the index was built
    _refresh(offer)
    assert _matched(offer) == {first.pk, second.pk}
    assert side_cache("demand").main is built  # found by the quick check, not a rebuild

    # An edit that breaks the link (another material, nothing accepted) drops the pair ...
    second = listing_services.listing_update(
        listing=second, waste_code_id="020304", title="Fruit pulp", accepted_codes=[]
    )
    _refresh(offer)
    assert _matched(offer) == {first.pk}

    # ... and a closed demand disappears from the index (its matches go with it).
    listing_services.listing_set_status(listing=first, status=ListingStatus.CLOSED)
    _refresh(offer)
    assert _matched(offer) == set()
    state = side_cache("demand").live_state()
    assert first.pk not in state
    assert second.pk in state


def test_cache_sees_a_moved_site() -> None:
    demand = _demand()
    offer = _offer()
    _refresh(offer)
    km = Match.objects.get(offer=offer, demand=demand).distance_km
    listing_services.site_update(site=demand.site, lat=51.9, lon=4.2)  # next to the offer
    _refresh(offer)
    assert Match.objects.get(offer=offer, demand=demand).distance_km < km / 3


def test_a_row_deleted_behind_the_caches_back_is_never_written() -> None:
    """Between full checks the cache cannot see a deleted row; the write-time check can."""
    gone = _demand()
    offer = _offer()
    _refresh(offer)
    Match.objects.all().delete()
    Demand.objects.filter(pk=gone.pk).delete()  # raw delete: no updated_at to see
    stays = _demand(lat=51.3, lon=4.3)
    assert _refresh(offer) == 1
    assert _matched(offer) == {stays.pk}


def test_the_offer_side_cache_serves_new_demands() -> None:
    offer = _offer()
    demand = _demand()
    assert _refresh(demand) == 1
    late = _offer(waste_code_id="100102")
    assert _refresh(demand) == 2
    assert set(Match.objects.filter(demand=demand).values_list("offer_id", flat=True)) == {
        offer.pk,
        late.pk,
    }


# --- odd data ---------------------------------------------------------------------------------


def _too_deep_category() -> MaterialCategory:
    """A category 16 levels deep: the profile's path is longer than scoring accepts."""
    parent = None
    for level in range(16):
        parent = MaterialCategory.objects.create(
            slug=f"deep-{level}", name=f"Deep {level}", parent=parent
        )
    assert parent is not None
    return parent


def test_a_chunk_skips_an_odd_offer_and_says_why(django_capture_on_commit_callbacks) -> None:
    demand = _demand()
    good = _offer()
    odd = _offer(category=_too_deep_category())
    with django_capture_on_commit_callbacks():
        run = matching_run_start(chunk_size=10)
    assert matching_run_chunk_process(run_id=run.pk, chunk_index=0) == 1
    assert _matched(good) == {demand.pk}
    odd.refresh_from_db()
    assert "category path" in odd.matching_error
    assert not odd.needs_matching
    assert not Match.objects.filter(offer=odd).exists()
    run.refresh_from_db()
    assert run.done_chunks == 1


def test_an_odd_listing_alone_is_skipped_and_says_why() -> None:
    _demand()
    odd = _offer(category=_too_deep_category())
    assert _refresh(odd) == 0
    odd.refresh_from_db()
    assert "category path" in odd.matching_error


def test_an_odd_demand_in_the_index_does_not_stop_matching() -> None:
    _demand(category=_too_deep_category())
    fine = _demand(lat=51.3, lon=4.3)
    offer = _offer()
    assert _refresh(offer) == 1
    assert _matched(offer) == {fine.pk}


# --- categories derived from the List of Waste code ------------------------------------------


def test_a_code_without_a_category_gets_the_category_of_its_longest_prefix() -> None:
    table = selectors.category_table()
    assert table.path_for(None, "191205") == ("minerals", "glass", "glass-cullet")
    assert table.path_for(None, "191202") == ("metals", "ferrous-scrap")
    assert table.path_for(None, "100999") == ()  # only the top-level "minerals" (10): too broad
    glass = table.paths[MaterialCategory.objects.get(slug="glass").pk]
    assert table.path_for(MaterialCategory.objects.get(slug="glass").pk, "191202") == glass

    offer = _offer(waste_code_id="191205", category=None)
    (listing,) = selectors.offer_scored_listings(Offer.objects.filter(pk=offer.pk))
    assert listing.profile.category_path == ("minerals", "glass", "glass-cullet")


def test_glass_cullet_is_not_matched_with_ferrous_scrap() -> None:
    """19 12 05 (glass) and 19 12 02 (ferrous metal) share a sub-chapter; their derived
    categories say they are different materials."""
    offer = _offer(waste_code_id="191205", category=None, title="Glass cullet", description="")
    scrap = _demand(
        waste_code_id="191202", category=None, title="Ferrous scrap wanted", description=""
    )
    scrap.accepted_codes.set([])
    assert _refresh(offer) == 0
    assert not Match.objects.exists()
    same = _demand(lat=51.3, lon=4.3, waste_code_id="191205", title="Cullet wanted")
    same.accepted_codes.set([])
    assert _refresh(offer) == 1
    assert _matched(offer) == {same.pk}


# --- constant query counts ----------------------------------------------------------------------


@pytest.mark.parametrize("demands", [2, 25])
def test_refresh_query_count_does_not_grow_with_the_other_side(
    demands: int, django_assert_max_num_queries
) -> None:
    for n in range(demands):
        _demand(lat=51.0 + 0.02 * n, lon=4.0 + 0.02 * n)
    _refresh(_offer())  # warm: the index is built once per process
    offer = _offer()
    offer.refresh_from_db()
    with django_assert_max_num_queries(10):
        written = matches_refresh_for_listing(
            kind="offer", listing_id=offer.pk, version=offer.version
        )
    assert written == min(demands, 10)


# --- a full rematch rewrites the same rows ---------------------------------------------------


def test_a_second_full_rematch_keeps_the_rows_and_their_ids(
    django_capture_on_commit_callbacks,
) -> None:
    for n in range(4):
        _demand(lat=51.1 + 0.05 * n, lon=4.2)
        _offer()
    with django_capture_on_commit_callbacks():
        run = matching_run_start()
    assert matching_run_chunk_process(run_id=run.pk, chunk_index=0, inline=True) > 0
    fields = ("id", "offer_id", "demand_id", "score", "explanation")
    rows = sorted(Match.objects.values_list(*fields))
    with django_capture_on_commit_callbacks():
        again = matching_run_start()
    assert matching_run_chunk_process(run_id=again.pk, chunk_index=0, inline=True) == len(rows)
    assert sorted(Match.objects.values_list(*fields)) == rows


def test_a_full_rematch_agrees_with_listing_by_listing(django_capture_on_commit_callbacks) -> None:
    for n in range(5):
        _demand(lat=51.1 + 0.04 * n, lon=4.1 + 0.03 * n)
    offers = [_offer(annual_quantity=Decimal(200 + 300 * n)) for n in range(5)]
    for offer in offers:
        _refresh(offer)
    incremental = set(Match.objects.values_list("offer_id", "demand_id", "score", "explanation"))
    Match.objects.all().delete()
    with django_capture_on_commit_callbacks():
        run = matching_run_start()
    matching_run_chunk_process(run_id=run.pk, chunk_index=0)
    full = set(Match.objects.values_list("offer_id", "demand_id", "score", "explanation"))
    # Every offer's own top K is the same either way (k = 10 > 5 demands: all valid pairs).
    assert full == incremental


# --- the callbacks agree with the scalar code -------------------------------------------------


def test_legal_key_decides_like_the_code_for_every_list_of_waste_entry() -> None:
    oracle = LegalOracle(shipment_date=date(2026, 11, 22))
    contexts = [
        ("NL", "NL", "waste", "R5", "green"),
        ("NL", "BE", "waste", "", ""),
        ("BE", "GB", "unknown", "R3", "amber"),
        ("DE", "CH", "by_product", "D1", ""),
    ]
    codes = list(WasteCode.objects.values_list("code", "hazardous", "mirror"))
    assert len(codes) == 842
    for code, hazardous, mirror in codes:
        for n, (origin, destination, status, operation, list_class) in enumerate(contexts):
            if (int(code) + n) % 2:  # every code meets two of the four contexts
                continue
            facts = OfferLegal(
                country=origin,
                waste_status=status,
                low_code=code,
                hazardous=hazardous,
                mirror=mirror,
                list_class=list_class,
            )
            demand = DemandLegal(country=destination, operation=operation)
            assert oracle.outcome(legal_key(facts), demand) == oracle.outcome(facts, demand), code


def _tables(n: int) -> tuple[ListingTable, ListingTable]:
    rng = np.random.default_rng(3)
    router = selectors.router_get()
    offers = []
    for i in range(n):
        org = OrganizationFactory()
        offers.append(
            OfferFactory(
                organization=org,
                site=SiteFactory(
                    organization=org, lat=float(rng.uniform(49, 55)), lon=float(rng.uniform(-2, 10))
                ),
                title=["Fly ash", "Glass cullet", "Spent grain", "IBA bottom ash"][i % 4],
                resource_type="material" if i % 5 else "energy",
                waste_code_id="100102" if i % 5 else None,
                unit="t" if i % 5 else "MWh",
            )
        )
    demands = [
        _demand(lat=float(rng.uniform(49, 55)), lon=float(rng.uniform(-2, 10))) for _ in range(n)
    ]
    offer_rows = selectors.offer_scored_listings(
        Offer.objects.filter(pk__in=[o.pk for o in offers])
    )
    demand_rows = selectors.demand_scored_listings(
        Demand.objects.filter(pk__in=[d.pk for d in demands])
    )
    return (
        ListingTable.build("offer", offer_rows, router),
        ListingTable.build("demand", demand_rows, router),
    )


def test_best_routes_equal_the_router_and_the_pipe() -> None:
    offers, demands = _tables(12)
    router = selectors.router_get()
    oi = np.repeat(np.arange(len(offers)), len(demands))
    dj = np.tile(np.arange(len(demands)), len(offers))
    routes = best_routes(router, offers, demands, oi, dj)
    for resource in ("material", "energy"):
        mask = np.array([offers.profiles[i].resource_type == resource for i in oi])
        expected = routes_for_pairs(
            router, offers.lat[oi[mask]], offers.lon[oi[mask]], demands.lat[dj[mask]],
            demands.lon[dj[mask]], resource,
        )  # fmt: skip
        assert np.allclose(routes.km[mask], expected.km, rtol=1e-12)
        assert [candidates.mode_name(int(m)) for m in routes.mode[mask]] == expected.mode
        assert np.allclose(routes.eur_per_tonne[mask], expected.eur_per_tonne, rtol=1e-12)
        assert np.allclose(routes.kg_co2e_per_tonne[mask], expected.kg_co2e_per_tonne, rtol=1e-12)


def test_text_vectors_and_pair_cosine_equal_text_similarity() -> None:
    similarity = TextSimilarity.default()
    texts = [
        "Fly ash. dry, silo",
        "PFA from a power plant",
        "Glass cullet",
        "",
        "Fly ash. dry, silo",
    ]
    concepts = [selectors._concepts(t) for t in texts]
    vectors, rows = text_vectors(texts, concepts)
    assert rows.tolist() == [0, 1, 2, 3, 0]  # identical texts share a row
    expected = similarity.vectors(texts)
    assert abs(vectors[rows] - expected).max() < 1e-6
    a = np.array([0, 0, 1, 2, 3, 4])
    b = np.array([1, 2, 2, 0, 1, 0])
    cos = pair_cosine(vectors, rows[a], vectors, rows[b], a)
    assert np.allclose(cos, similarity.pairwise([texts[i] for i in a], [texts[j] for j in b]))


def test_the_legal_registry_scores_pairs_within_one_organisation_zero() -> None:
    offers, demands = _tables(4)
    callbacks = candidates.EngineCallbacks(
        selectors.router_get(), offers, demands, date(2026, 11, 22)
    )
    oi = np.arange(4)
    dj = np.arange(4)
    demands.org[1] = offers.org[1]
    legal = callbacks.legal(oi, dj)
    assert legal[1] == 0.0
    assert (legal[[0, 2, 3]] > 0).all()
    assert len(LEGAL.offer_facts) >= 1


def test_stale_proposed_matches_outside_the_top_k_are_rescored_not_dropped(settings) -> None:
    """A valid proposed match the other side's top K put there stays when the listing is
    matched again; one that is no longer valid goes."""
    offer = _offer()
    near = _demand()
    far = _demand(lat=51.3, lon=4.3)
    _refresh(offer)
    assert _matched(offer) == {near.pk, far.pk}
    settings.MATCHING_TOP_K = 1
    _refresh(offer)
    assert _matched(offer) == {near.pk, far.pk}  # the second is still valid: kept, rescored
    listing_services.listing_update(
        listing=far, resource_type="water", unit="m3", waste_code_id=None, accepted_codes=[]
    )
    _refresh(offer)
    assert _matched(offer) == {near.pk}


def test_the_full_check_catches_raw_deletes_and_status_changes() -> None:
    """Updates that leave updated_at alone reach the cache through the checksums of the
    periodic full check."""
    a, b, c = _demand(), _demand(lat=51.3, lon=4.3), _demand(lat=51.1, lon=4.5)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Demand.objects.filter(pk__in=[a.pk, b.pk, c.pk]).update(updated_at=an_hour_ago)
    Site.objects.filter(demands__in=[a, b, c]).update(updated_at=an_hour_ago)
    c.refresh_from_db()
    cache = side_cache("demand")
    router = selectors.router_get()
    cache.sync(router, full_check=True)
    assert {a.pk, b.pk, c.pk} <= cache.live_state().keys()
    Demand.objects.filter(pk=a.pk).update(status=ListingStatus.PAUSED)  # no updated_at
    Demand.objects.filter(pk=b.pk).delete()
    Demand.objects.filter(pk=c.pk).update(version=c.version + 1)
    cache.sync(router)  # the quick check cannot see these
    assert {a.pk, b.pk} <= cache.live_state().keys()
    cache.sync(router, full_check=True)
    state = cache.live_state()
    assert a.pk not in state
    assert b.pk not in state
    assert state[c.pk][0] == c.version + 1


# --- reading the listings, and the worker's main process ------------------------------------


def test_listings_read_in_slices_are_those_read_at_once(monkeypatch) -> None:
    for n in range(5):
        _demand(lat=51.0 + 0.02 * n, lon=4.0 + 0.02 * n)
    odd = _demand(category=_too_deep_category())  # a profile refuses it
    everything = Demand.objects.filter(status=ListingStatus.PUBLISHED)
    at_once_errors: dict[int, str] = {}
    at_once = selectors.demand_scored_listings(everything.order_by("id"), errors=at_once_errors)
    monkeypatch.setattr(selectors, "LOAD_SLICE", 2)
    errors: dict[int, str] = {}
    sliced = selectors.scored_listings("demand", everything, errors=errors)
    assert [(s.id, s.profile, s.legal, s.text) for s in sliced] == [
        (s.id, s.profile, s.legal, s.text) for s in at_once
    ]
    assert [s.id for s in sliced] == sorted(d.pk for d in everything if d.pk != odd.pk)
    assert errors == at_once_errors
    assert set(errors) == {odd.pk}
    # demands that accept the same codes share one set object
    assert sliced[0].profile.accepted_codes is sliced[-1].profile.accepted_codes


@pytest.mark.django_db(transaction=True)
def test_a_worker_builds_the_demand_index_before_its_pool_forks(settings) -> None:
    from celery.signals import worker_init
    from django.db import connection

    from matching.tasks import matching_worker_init

    assert matching_worker_init in worker_init._live_receivers(None)
    demands = {_demand(lat=51.0 + 0.02 * n, lon=4.0 + 0.02 * n).pk for n in range(3)}
    prefork, solo = SimpleNamespace(pool_cls="prefork"), SimpleNamespace(pool_cls="solo")
    candidates.caches_clear()
    frozen = gc.get_freeze_count()
    matching_worker_init(sender=solo)  # tasks run in this process: nothing to share
    assert candidates._REFERENCE.router is None
    assert connection.connection is not None
    assert gc.get_freeze_count() == frozen

    settings.MATCHING_WORKER_PREPARE = False
    try:  # off: the engine and its reference tables are read, the children build their index
        matching_worker_init(sender=prefork)
        assert side_cache("demand").main is None
        assert candidates._REFERENCE.router is not None
        assert connection.connection is None
        assert gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()

    settings.MATCHING_WORKER_PREPARE = True
    candidates.caches_clear()
    frozen = gc.get_freeze_count()
    try:
        matching_worker_init(sender=prefork)
        assert set(side_cache("demand").live_state()) == demands
        assert connection.connection is None  # the children must open their own
        assert gc.get_freeze_count() > frozen  # out of the collector's passes: pages stay shared
    finally:
        gc.unfreeze()


def test_a_gather_copies_the_rows_asked_unless_told_to_share_the_table() -> None:
    demands = [_demand(lat=51.0 + 0.02 * n, lon=4.0 + 0.02 * n) for n in range(4)]
    parts = side_cache("demand").parts(candidates.reference()[0])
    asked = np.array([demands[2].pk, demands[0].pk, 10**9], dtype=np.int64)  # and one unknown

    table, position = gather(parts, asked)  # for a caller that builds on the whole table
    assert len(table) == 2
    assert table.ids[position[:2]].tolist() == [demands[2].pk, demands[0].pk]
    assert position[2] == -1

    shared, position = gather(parts, asked, share=True)  # read by row only: no copy
    assert shared is parts[0].table
    assert shared.ids[position[:2]].tolist() == [demands[2].pk, demands[0].pk]
    assert position[2] == -1
    shared.dead[position[1]] = True  # an edited row, replaced in a segment: not live here
    assert gather(parts, asked, share=True)[1].tolist() == [position[0], -1, -1]


def test_a_listing_stores_the_concepts_the_engine_reads_while_its_words_are_the_same() -> None:
    thesaurus = Thesaurus.default()
    demand = _demand()
    demand = listing_services.listing_update(
        listing=demand, title="Incinerator bottom ash", description="IBA for road base"
    )
    words = selectors.listing_text(demand.title, demand.description)
    assert demand.concepts == " ".join(sorted(thesaurus.concepts_in(words)))
    assert demand.concepts  # the thesaurus names IBA
    assert demand.concepts_key == thesaurus.concepts_key(words)

    def read() -> frozenset[str]:
        (listing,) = selectors.scored_listings("demand", Demand.objects.filter(pk=demand.pk))
        return listing.profile.concepts

    assert read() == thesaurus.concepts_in(words)
    # read from the row, not from the words: a stored answer with the words' key is taken
    Demand.objects.filter(pk=demand.pk).update(concepts="used_cooking_oil")
    selectors._stored.cache_clear()
    assert read() == {"used_cooking_oil"}
    # words changed around the services (an admin edit, a bulk load): read from the words
    Demand.objects.filter(pk=demand.pk).update(title="Spent brewer's grains")
    now = selectors.listing_text("Spent brewer's grains", demand.description)
    assert read() == thesaurus.concepts_in(now) != {"used_cooking_oil"}


def test_the_concepts_key_changes_with_the_thesaurus_names() -> None:
    from matching.text import Concept

    ash = Concept("fly_ash", "ash", ("fly ash",), (), "test")
    slag = Concept("slag", "slag", ("slag",), (), "test")
    text = "Fly ash and slag"
    one, two = Thesaurus([ash]), Thesaurus([ash, slag])
    assert one.concepts_key(text) == Thesaurus([ash]).concepts_key(text)
    assert one.concepts_key(text) != two.concepts_key(text)
    assert one.stored_concepts(text) == ("fly_ash", one.concepts_key(text))
    assert two.stored_concepts(text)[0] == "fly_ash slag"
    with pytest.raises(ValueError, match="one word"):
        Thesaurus([Concept("fly ash", "ash", ("fly ash",), (), "test")])


@pytest.mark.parametrize("vendor", ["postgresql", "sqlite"])  # one UPDATE per slice, or per row
def test_listings_written_before_their_concepts_were_stored_get_them_by_migration(
    vendor: str,
) -> None:
    import importlib

    from django.apps import apps
    from django.db import connection

    migration = importlib.import_module("listings.migrations.0009_fill_listing_concepts")
    offer = _offer(title="Incinerator bottom ash", description="IBA, sieved")  # not via services
    stored = _demand()
    stored = listing_services.listing_update(listing=stored, description="fly ash for clinker")
    Demand.objects.filter(pk=stored.pk).update(concepts="kept")  # a row with a key is left
    assert Offer.objects.get(pk=offer.pk).concepts_key == ""

    as_vendor = SimpleNamespace(vendor=vendor, cursor=connection.cursor)
    migration.fill(apps, SimpleNamespace(connection=as_vendor))

    offer = Offer.objects.get(pk=offer.pk)
    words = selectors.listing_text(offer.title, offer.description)
    assert (offer.concepts, offer.concepts_key) == Thesaurus.default().stored_concepts(words)
    assert "incinerator_bottom_ash" in offer.concepts.split()
    assert Demand.objects.get(pk=stored.pk).concepts == "kept"
