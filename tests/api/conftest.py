"""A world for the partner API tests: two organisations (A in Rotterdam, B in Antwerp), each
with an admin member, a site, an offer and a demand; a match A's offer → B's demand and one
B's offer → A's demand; a facilitator of Rotterdam and one of Hamburg; a token for each."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from harbors.models import HarborRegion
from listings import services
from listings.models import ApiToken, Demand, Offer, Organization, Site
from matching.models import Match, Prospect
from tests.factories import (
    DemandFactory,
    MembershipFactory,
    OfferFactory,
    OrganizationFactory,
    SiteFactory,
    UserFactory,
)


def make_match(offer: Offer, demand: Demand, **fields: Any) -> Match:
    values: dict[str, Any] = {
        "score": 0.8,
        "material_score": 1,
        "quantity_score": 1,
        "distance_score": 0.5,
        "legal_score": 1,
        "timing_score": 1,
        "distance_km": 38,
        "transport_mode": "road",
        "cost_eur_per_tonne": 4.5,
        "co2_kg_per_tonne": 3.6,
        "tonnes_per_year": 1000,
        "explanation": "same code 10 01 02; 38 km by road",
        "scoring_version": "t",
        "offer_version": 1,
        "demand_version": 1,
    }
    values.update(fields)
    return Match.objects.create(offer=offer, demand=demand, **values)


@dataclass
class Party:
    organization: Organization
    user: Any
    site: Site
    offer: Offer
    demand: Demand
    token: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class World:
    a: Party
    b: Party
    facilitator: Any
    facilitator_token: str
    other_facilitator: Any
    other_facilitator_token: str
    match_ab: Match  # A's offer → B's demand
    match_ba: Match  # B's offer → A's demand
    prospect: Prospect


def _party(name: str, country: str, region: HarborRegion, lat: float, lon: float) -> Party:
    organization = OrganizationFactory(
        name=name, country_id=country, contact_email=f"{name.split()[0].lower()}@example.com"
    )
    membership = MembershipFactory(organization=organization, user=UserFactory())
    site = SiteFactory(
        organization=organization,
        name=f"{name} works",
        country_id=country,
        region=region,
        lat=lat,
        lon=lon,
        city="Secretville",
    )
    now = timezone.now()
    offer = OfferFactory(
        organization=organization,
        site=site,
        title=f"Fly ash from {name}",
        description=f"{name} dry fly ash, silo-stored",
        published_at=now,
    )
    demand = DemandFactory(organization=organization, site=site, published_at=now)
    issued = services.api_token_create(
        user=membership.user,
        name="erp",
        kind=ApiToken.Kind.ORGANIZATION,
        organization=organization,
        scopes=["read", "write"],
    )
    return Party(organization, membership.user, site, offer, demand, issued.secret)


def _facilitator(region: HarborRegion) -> tuple[Any, str]:
    user = UserFactory()
    region.facilitators.add(user)
    issued = services.api_token_create(
        user=user, name="queue", kind=ApiToken.Kind.FACILITATOR, scopes=["read", "facilitate"]
    )
    return user, issued.secret


@pytest.fixture
def world(db: Any) -> World:
    rotterdam = HarborRegion.objects.get(code="rotterdam-moerdijk")
    antwerp = HarborRegion.objects.get(code="antwerp-bruges")
    hamburg = HarborRegion.objects.get(code="hamburg")
    a = _party("Acme Maasvlakte Power", "NL", rotterdam, 51.9537, 4.0441)
    b = _party("Brabo Cement", "BE", antwerp, 51.2813, 4.3127)
    facilitator, facilitator_token = _facilitator(rotterdam)
    other, other_token = _facilitator(hamburg)
    match_ab = make_match(a.offer, b.demand)
    match_ba = make_match(b.offer, a.demand, score=0.7)
    prospect = Prospect.objects.create(
        offer=a.offer,
        organization=b.organization,
        score=0.6,
        sector_score=0.9,
        distance_km=90,
        rank=1,
        explanation="cement (NACE 23.51) typically uses fly ash; 90 km by road",
        scoring_version="t",
    )
    return World(
        a, b, facilitator, facilitator_token, other, other_token, match_ab, match_ba, prospect
    )


@pytest.fixture(autouse=True)
def _clear_throttle_counters() -> None:
    """Fresh throttle counters, and fresh copies of the cached reference tables (a
    transactional test elsewhere may have reloaded them with new ids)."""
    from harbors.selectors import _reference_cache

    cache.clear()
    _reference_cache.clear()


def client_for(token: str | None = None) -> APIClient:
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The one error shape, with this status and code."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str)
    assert isinstance(body["errors"], dict)
    return body


@dataclass
class Outsider:
    """Organisation C in Hamburg (no token), with matches that involve A or B but not both."""

    organization: Organization
    offer: Offer
    demand: Demand
    match_ac: Match  # A's offer → C's demand: B must not see it
    match_cb: Match  # C's offer → B's demand: A and the Rotterdam facilitator must not see it


@pytest.fixture
def outsider(world: World) -> Outsider:
    hamburg = HarborRegion.objects.get(code="hamburg")
    organization = OrganizationFactory(name="Claus Stahl", country_id="DE")
    site = SiteFactory(
        organization=organization, country_id="DE", region=hamburg, lat=53.54, lon=9.98
    )
    offer = OfferFactory(organization=organization, site=site, title="Slag")
    demand = DemandFactory(organization=organization, site=site)
    return Outsider(
        organization,
        offer,
        demand,
        make_match(world.a.offer, demand, score=0.6),
        make_match(offer, world.b.demand, score=0.5),
    )
