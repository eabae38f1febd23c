"""The database itself rejects what the model forbids."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from listings.models import Membership, Offer
from tests.factories import (
    DemandFactory,
    MembershipFactory,
    OfferFactory,
    OrganizationFactory,
    SiteFactory,
)

pytestmark = pytest.mark.django_db


def _rejected(**update: object) -> None:
    offer = OfferFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Offer.objects.filter(pk=offer.pk).update(**update)


@pytest.mark.parametrize(
    "update",
    [
        {"quantity": Decimal(0)},
        {"quantity": Decimal(-5)},
        {"annual_quantity": Decimal(0)},
        {"status": "deleted"},
        {"unit": "bbl"},
        {"frequency": "hourly"},
        {"resource_type": "vibes"},
        {"waste_status": "maybe"},
        {"version": 0},
    ],
    ids=lambda u: next(iter(u)),
)
def test_offer_constraints_reject_bad_rows(update: dict[str, object]) -> None:
    _rejected(**update)


def test_offer_window_must_be_ordered() -> None:
    import datetime as dt

    offer = OfferFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Offer.objects.filter(pk=offer.pk).update(
            available_from=dt.date(2026, 5, 1), available_until=dt.date(2026, 4, 1)
        )


@pytest.mark.parametrize(("lat", "lon"), [(91, 4), (-91, 4), (51, 181), (51, -181)])
def test_site_coordinates_must_be_in_range(lat: float, lon: float) -> None:
    site = SiteFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        type(site).objects.filter(pk=site.pk).update(lat=lat, lon=lon)


def test_membership_pair_is_unique() -> None:
    membership = MembershipFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(
            user=membership.user, organization=membership.organization, role="member"
        )


def test_listing_ref_is_unique_but_blank_refs_are_many() -> None:
    OfferFactory(ref="A-1")
    OfferFactory(ref="")
    OfferFactory(ref="")
    with pytest.raises(IntegrityError), transaction.atomic():
        OfferFactory(ref="A-1")


def test_demand_quantity_range_must_be_ordered() -> None:
    demand = DemandFactory(quantity=Decimal(100))
    with pytest.raises(IntegrityError), transaction.atomic():
        type(demand).objects.filter(pk=demand.pk).update(quantity_min=Decimal(200))


def test_match_pair_is_unique_and_scores_bounded() -> None:
    from matching.models import Match

    offer, demand = OfferFactory(), DemandFactory()
    fields = {
        "score": 0.5,
        "material_score": 1,
        "quantity_score": 1,
        "distance_score": 1,
        "legal_score": 1,
        "timing_score": 1,
        "distance_km": 10,
        "explanation": "x",
        "scoring_version": "t",
        "offer_version": 1,
        "demand_version": 1,
    }
    Match.objects.create(offer=offer, demand=demand, **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        Match.objects.create(offer=offer, demand=demand, **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        Match.objects.create(offer=offer, demand=DemandFactory(), **{**fields, "score": 1.5})
    with pytest.raises(IntegrityError), transaction.atomic():
        Match.objects.create(offer=offer, demand=DemandFactory(), **{**fields, "stage": "won"})


def test_organization_name_is_unique_per_country_ignoring_case() -> None:
    org = OrganizationFactory(name="Delta Cement")
    with pytest.raises(IntegrityError), transaction.atomic():
        OrganizationFactory(name="delta cement", country=org.country)
