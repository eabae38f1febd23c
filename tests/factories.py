"""factory_boy factories for the data model. Reference rows (countries, codes, NACE) come from
the session-wide reference data load."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.contrib.auth.models import User
from django.utils import timezone

from harbors.models import Country
from listings.models import (
    Demand,
    ListingStatus,
    Membership,
    NaceCode,
    Offer,
    Organization,
    Site,
    WasteCode,
)
from listings.selectors import public_coordinate
from matching.models import Match
from matching.scoring import SCORING_VERSION


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pw-for-tests")


class OrganizationFactory(factory.django.DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organisation {n}")
    country = factory.LazyFunction(lambda: Country.objects.get(code="NL"))
    nace = factory.LazyFunction(lambda: NaceCode.objects.get(version="2", code="35.11"))
    verified_at = factory.LazyFunction(timezone.now)
    contact_email = factory.LazyAttribute(lambda o: f"contact{o.name.split()[-1]}@example.com")


class MembershipFactory(factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Membership.Role.ADMIN


class SiteFactory(factory.django.DjangoModelFactory[Site]):
    class Meta:
        model = Site

    organization = factory.SubFactory(OrganizationFactory)
    name = "Plant"
    city = "Rotterdam"
    country = factory.LazyAttribute(lambda s: s.organization.country)
    lat = 51.95
    lon = 4.14


class _ListingFactory(factory.django.DjangoModelFactory):
    organization = factory.SubFactory(OrganizationFactory)
    site = factory.SubFactory(SiteFactory, organization=factory.SelfAttribute("..organization"))
    title = "Fly ash"
    waste_code = factory.LazyFunction(lambda: WasteCode.objects.get(code="100102"))
    quantity = Decimal(1000)
    unit = "t"
    frequency = "year"
    annual_quantity = Decimal(1000)
    status = ListingStatus.PUBLISHED
    # What listings.services copies from the site for the public search.
    country = factory.LazyAttribute(lambda o: o.site.country)
    region = factory.LazyAttribute(lambda o: o.site.region)
    approx_lat = factory.LazyAttribute(lambda o: public_coordinate(o.site.lat))
    approx_lon = factory.LazyAttribute(lambda o: public_coordinate(o.site.lon))


class OfferFactory(_ListingFactory):
    class Meta:
        model = Offer

    waste_status = Offer.WasteStatus.WASTE


class DemandFactory(_ListingFactory):
    class Meta:
        model = Demand

    title = "Cement raw material"
    operation_id = "R5"
    has_permit = True
    max_distance_km = 300


class MatchFactory(factory.django.DjangoModelFactory[Match]):
    """A stored match with middling scores (pass ``offer`` and ``demand``)."""

    class Meta:
        model = Match

    score = 0.5
    material_score = 0.5
    quantity_score = 0.5
    distance_score = 0.5
    legal_score = 0.5
    timing_score = 1
    distance_km = 10
    explanation = "x"
    scoring_version = SCORING_VERSION
    offer_version = 1
    demand_version = 1
