"""Prospects: organisations without a matching demand whose sector could use an offer."""

from __future__ import annotations

from itertools import pairwise

import pytest
from django.utils import timezone

from listings.models import (
    Demand,
    ListingStatus,
    MaterialCategory,
    NaceCode,
    Offer,
    Organization,
)
from matching.models import Prospect
from matching.prospects import prospects_refresh_all, prospects_refresh_for_offer
from matching.scoring import SCORING_VERSION
from tests.factories import (
    DemandFactory,
    MatchFactory,
    OfferFactory,
    OrganizationFactory,
    SiteFactory,
)

pytestmark = pytest.mark.django_db


def _org(name: str, nace: str, *, country: str = "BE", lat: float = 51.27, lon: float = 4.36):
    org = OrganizationFactory(
        name=name, country_id=country, nace=NaceCode.objects.get(version="2", code=nace)
    )
    SiteFactory(organization=org, country_id=country, city=name, lat=lat, lon=lon)
    return org


@pytest.fixture
def offer() -> Offer:
    """Fly ash (10 01 02) in Rotterdam, from an organisation that is itself a cement maker."""
    power = _org("Power", "23.51", country="NL", lat=51.95, lon=4.14)
    return OfferFactory(organization=power, site=power.sites.get(), title="Fly ash")


@pytest.fixture
def organisations(offer: Offer) -> dict[str, Organization]:
    orgs = {
        "cement_near": _org("Cement near", "23.51", lat=51.30, lon=4.30),  # ~90 km
        "cement_far": _org("Cement far", "23.51", country="DE", lat=50.0, lon=8.0),  # ~420 km
        "concrete": _org("Concrete", "23.63", lat=51.30, lon=4.30),
        "roads_group": _org("Roads group", "42.1", lat=51.30, lon=4.30),  # a NACE group
        "software": _org("Software", "62.01", lat=51.30, lon=4.30),  # no sector fit
        "cement_demand": _org("Cement with demand", "23.51", lat=51.30, lon=4.30),
        "cement_accepts": _org("Cement accepting", "23.51", lat=51.30, lon=4.30),
        "cement_matched": _org("Cement matched", "23.51", lat=51.30, lon=4.30),
        "cement_closed": _org("Cement closed", "23.51", lat=51.30, lon=4.30),
    }
    # a published demand for the same code
    DemandFactory(
        organization=orgs["cement_demand"], site=orgs["cement_demand"].sites.get(), ref="DD"
    )
    # a published demand that accepts the code, under another code of its own
    accepting = DemandFactory(
        organization=orgs["cement_accepts"],
        site=orgs["cement_accepts"].sites.get(),
        waste_code_id="170504",
    )
    accepting.accepted_codes.set(["100102"])
    # a demand for something else, but already matched with the offer (stage does not matter)
    other = DemandFactory(
        organization=orgs["cement_matched"],
        site=orgs["cement_matched"].sites.get(),
        waste_code_id="020304",
        status=ListingStatus.DRAFT,
    )
    MatchFactory(offer=offer, demand=other, stage="rejected")
    Organization.objects.filter(pk=orgs["cement_closed"].pk).update(closed_at=timezone.now())
    # a draft demand for the material does not count: that organisation stays a prospect
    DemandFactory(
        organization=orgs["concrete"],
        site=orgs["concrete"].sites.get(),
        status=ListingStatus.DRAFT,
    )
    return orgs


def _rows(offer: Offer) -> list[tuple]:
    return list(
        Prospect.objects.filter(offer=offer)
        .order_by("rank")
        .values_list(
            "organization__name",
            "rank",
            "score",
            "sector_score",
            "distance_km",
            "legal_procedure",
            "explanation",
            "scoring_version",
        )
    )


def test_prospects_rank_sector_users_without_a_demand(
    offer: Offer, organisations: dict[str, Organization]
) -> None:
    written = prospects_refresh_for_offer(offer_id=offer.pk, version=offer.version)
    rows = _rows(offer)
    assert written == len(rows)
    names = [r[0] for r in rows]
    # excluded: the offer's own organisation, one with a demand for the code, one whose demand
    # accepts it, one already matched, a closed one, and a sector that does not use fly ash
    assert names == ["Cement near", "Concrete", "Roads group", "Cement far"]
    assert [r[1] for r in rows] == [1, 2, 3, 4]
    scores = [r[2] for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < s <= 1 for s in scores)
    near = rows[0]
    assert near[3] == pytest.approx(1.0)  # cement is the textbook user of fly ash
    assert 60 < near[4] < 130  # road km: great circle x 1.25
    explanation = near[6]
    assert explanation.startswith("cement (NACE 23.51) typically uses coal fly ash: ")
    assert "km by road" in explanation
    assert "NL→BE" in explanation
    assert near[7] == SCORING_VERSION
    roads = rows[2]
    assert roads[3] == pytest.approx(0.5 * 0.9)  # group 42.1: best class below, scaled by 0.9


def test_prospects_refresh_is_idempotent(
    offer: Offer, organisations: dict[str, Organization]
) -> None:
    prospects_refresh_for_offer(offer_id=offer.pk)
    first = _rows(offer)
    ids = set(Prospect.objects.values_list("id", flat=True))
    prospects_refresh_for_offer(offer_id=offer.pk)
    prospects_refresh_all()
    assert _rows(offer) == first
    assert Prospect.objects.count() == len(first)
    # only what changed is written: the same rows stay as they are, with their ids
    assert ids == set(Prospect.objects.values_list("id", flat=True))


def test_prospects_keep_the_top_n(offer: Offer, organisations: dict[str, Organization]) -> None:
    assert prospects_refresh_for_offer(offer_id=offer.pk, top=2) == 2
    assert [r[0] for r in _rows(offer)] == ["Cement near", "Concrete"]


def test_prospects_stale_version_is_a_no_op(
    offer: Offer, organisations: dict[str, Organization]
) -> None:
    assert prospects_refresh_for_offer(offer_id=offer.pk, version=offer.version + 1) == 0
    assert not Prospect.objects.exists()


def test_prospects_of_an_unpublished_offer_are_removed(
    offer: Offer, organisations: dict[str, Organization]
) -> None:
    prospects_refresh_all()
    assert Prospect.objects.exists()
    Offer.objects.filter(pk=offer.pk).update(status=ListingStatus.PAUSED)
    assert prospects_refresh_for_offer(offer_id=offer.pk) == 0
    assert not Prospect.objects.exists()
    Offer.objects.filter(pk=offer.pk).update(status=ListingStatus.PUBLISHED)
    prospects_refresh_all()
    assert Prospect.objects.exists()
    Offer.objects.filter(pk=offer.pk).update(status=ListingStatus.CLOSED)
    prospects_refresh_all()
    assert not Prospect.objects.exists()


def test_prospects_refresh_all_query_count_does_not_grow_with_offers(
    offer: Offer, organisations: dict[str, Organization], django_assert_max_num_queries
) -> None:
    with django_assert_max_num_queries(20) as one:
        prospects_refresh_all()
    for n in range(5):
        org = _org(f"Steel {n}", "24.10", country="DE", lat=51.4, lon=6.7 + n / 10)
        OfferFactory(organization=org, site=org.sites.get(), waste_code_id="100202")
    with django_assert_max_num_queries(20) as six:
        prospects_refresh_all()
    assert len(six.captured_queries) == len(one.captured_queries)
    assert Prospect.objects.filter(offer__waste_code_id="100202").exists()


def test_prospects_for_heat_stay_within_a_few_km() -> None:
    """Heat goes by pipe: a greenhouse next door is a prospect, one 60 km away is not."""
    heat = MaterialCategory.objects.get(slug="waste-heat-low")
    plant = _org("Chemicals", "20.14", country="NL", lat=51.90, lon=4.30)
    offer = OfferFactory(
        organization=plant,
        site=plant.sites.get(),
        title="Low-grade waste heat",
        resource_type="energy",
        category=heat,
        waste_code=None,
        unit="MWh",
        waste_status=Offer.WasteStatus.PRODUCT,
    )
    _org("Greenhouse near", "01.13", country="NL", lat=51.91, lon=4.31)
    _org("Greenhouse far", "01.13", country="NL", lat=52.40, lon=4.80)
    prospects_refresh_for_offer(offer_id=offer.pk)
    rows = _rows(offer)
    assert [r[0] for r in rows] == ["Greenhouse near"]
    assert "km by pipe" in rows[0][6]


def test_prospects_ignore_demands_that_are_not_published(
    offer: Offer, organisations: dict[str, Organization]
) -> None:
    Demand.objects.filter(ref="DD").update(status=ListingStatus.PAUSED)
    prospects_refresh_for_offer(offer_id=offer.pk)
    assert "Cement with demand" in [r[0] for r in _rows(offer)]


def test_prospects_range_refreshes_only_its_offers(
    offer: Offer, organisations: dict[str, Organization]
) -> None:
    """A range refresh rewrites the published offers in it, deletes the prospects of the
    unpublished ones in it, and leaves every offer outside it alone."""
    from matching.prospects import prospects_refresh_for_offer_range

    steel = _org("Steel", "24.10", country="DE", lat=51.4, lon=6.7)
    before = OfferFactory(organization=steel, site=steel.sites.get())
    after = OfferFactory(organization=steel, site=steel.sites.get())
    paused = OfferFactory(organization=steel, site=steel.sites.get())
    assert offer.pk < before.pk < after.pk < paused.pk
    prospects_refresh_all()
    old_ids = set(Prospect.objects.values_list("id", flat=True))
    Offer.objects.filter(pk=paused.pk).update(status=ListingStatus.PAUSED)
    _org("Cement new", "23.51", country="DE", lat=51.41, lon=6.71)  # next door to Steel

    written = prospects_refresh_for_offer_range(first_offer_id=before.pk, last_offer_id=after.pk)

    def names(o: Offer) -> list[str]:
        return [r[0] for r in _rows(o)]

    assert written == Prospect.objects.filter(offer__in=[before, after]).count() > 0
    assert names(before)[0] == names(after)[0] == "Cement new"
    assert "Cement new" not in names(offer)  # outside the range: untouched
    assert Prospect.objects.filter(offer=paused).exists()  # outside too: not yet cleaned
    for o in (offer, paused):
        assert set(Prospect.objects.filter(offer=o).values_list("id", flat=True)) <= old_ids

    prospects_refresh_for_offer_range(first_offer_id=after.pk + 1, last_offer_id=paused.pk)
    assert not Prospect.objects.filter(offer=paused).exists()
    prospects_refresh_for_offer_range(first_offer_id=1, last_offer_id=offer.pk)
    assert "Cement new" in names(offer)


def test_prospects_range_is_idempotent(
    offer: Offer, organisations: dict[str, Organization]
) -> None:
    from matching.prospects import prospects_refresh_for_offer_range

    first = prospects_refresh_for_offer_range(first_offer_id=1, last_offer_id=offer.pk)
    rows = list(Prospect.objects.order_by("id").values_list("id", "updated_at", "explanation"))
    second = prospects_refresh_for_offer_range(first_offer_id=1, last_offer_id=offer.pk)
    assert first == second == len(rows) == 4
    # nothing changed, so nothing was written: same ids, same timestamps
    assert (
        list(Prospect.objects.order_by("id").values_list("id", "updated_at", "explanation")) == rows
    )


def test_prospects_range_applies_the_exclusions(
    offer: Offer, organisations: dict[str, Organization]
) -> None:
    """Own organisation, a closed one, a matched one and ones with a demand for the material
    (own code or accepted) are never prospects; a draft demand does not count."""
    from matching.prospects import prospects_refresh_for_offer_range

    prospects_refresh_for_offer_range(first_offer_id=offer.pk, last_offer_id=offer.pk)
    names = {r[0] for r in _rows(offer)}
    assert names == {"Cement near", "Concrete", "Roads group", "Cement far"}
    excluded = {"Power", "Cement closed", "Cement matched", "Cement with demand"}
    assert not names & (excluded | {"Cement accepting", "Software"})


def test_prospects_range_rejects_bad_arguments(offer: Offer) -> None:
    from matching.prospects import prospects_refresh_for_offer_range

    with pytest.raises(ValueError, match="empty offer range"):
        prospects_refresh_for_offer_range(first_offer_id=5, last_offer_id=4)
    with pytest.raises(ValueError, match="top"):
        prospects_refresh_for_offer_range(first_offer_id=1, last_offer_id=4, top=0)


def test_prospects_offer_ranges_cover_every_offer(offer: Offer) -> None:
    from matching.prospects import prospects_offer_ranges

    org = offer.organization
    more = [OfferFactory(organization=org, site=org.sites.get()) for _ in range(6)]
    Offer.objects.filter(pk=more[-1].pk).update(status=ListingStatus.CLOSED)
    ranges = prospects_offer_ranges(size=2)
    assert ranges[0][0] == 1
    assert ranges[-1][1] == more[-1].pk  # the highest id, published or not
    assert all(b + 1 == c for (_, b), (c, _) in pairwise(ranges))
    published = list(Offer.objects.published().values_list("id", flat=True))
    for first, last in ranges:
        assert 1 <= sum(first <= pk <= last for pk in published) <= 2


def test_prospects_refresh_range_task_runs_the_service(
    offer: Offer, organisations: dict[str, Organization]
) -> None:
    from matching.tasks import prospects_refresh_range_task

    assert prospects_refresh_range_task.name == "matching.prospects_refresh_range"
    prospects_refresh_range_task(offer.pk, offer.pk)
    rows = _rows(offer)
    prospects_refresh_range_task(offer.pk, offer.pk)  # a redelivered message: same rows
    assert _rows(offer) == rows
    assert [r[0] for r in rows] == ["Cement near", "Concrete", "Roads group", "Cement far"]
