"""A small two-region world shared by the facilitator portal tests (views, nudges, workshops).

Rotterdam holds a power plant offering fly ash and a cement plant asking for it, each with a
member; Hamburg holds a steelworks with a match of its own. ``fac`` facilitates Rotterdam,
``fac.de`` Hamburg; ``anna`` is a company user of the power plant.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from harbors.models import HarborRegion
from matching.models import Match
from tests.factories import (
    DemandFactory,
    MembershipFactory,
    OfferFactory,
    OrganizationFactory,
    SiteFactory,
    UserFactory,
)


def make_match(offer: Any, demand: Any, **fields: Any) -> Match:
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
    if values.get("stage") and values["stage"] != "proposed":
        values.setdefault("stage_changed_at", timezone.now())
    return Match.objects.create(offer=offer, demand=demand, **values)


def build_world() -> dict[str, Any]:
    rotterdam = HarborRegion.objects.get(code="rotterdam-moerdijk")
    hamburg = HarborRegion.objects.get(code="hamburg")
    power = OrganizationFactory(name="Power NL", contact_email="power@example.com")
    cement = OrganizationFactory(name="Cement NL", contact_email="cement@example.com")
    steel = OrganizationFactory(name="Steel DE", country_id="DE", contact_email="steel@example.com")
    recycler = OrganizationFactory(name="Recycler DE", country_id="DE")
    site_p = SiteFactory(organization=power, region=rotterdam)
    site_c = SiteFactory(organization=cement, region=rotterdam, lat=51.9, lon=4.3)
    site_s = SiteFactory(organization=steel, region=hamburg, country_id="DE", lat=53.5, lon=9.9)
    site_r = SiteFactory(
        organization=recycler, region=hamburg, country_id="DE", lat=53.55, lon=9.95
    )
    offer = OfferFactory(organization=power, site=site_p, title="Fly ash")
    demand = DemandFactory(organization=cement, site=site_c, title="Cement raw material")
    other_offer = OfferFactory(organization=steel, site=site_s, title="Steel slag")
    other_demand = DemandFactory(organization=recycler, site=site_r, title="Aggregate")
    match = make_match(offer, demand)
    other = make_match(other_offer, other_demand, score=0.7)
    facilitator, outsider = UserFactory(username="fac"), UserFactory(username="fac.de")
    rotterdam.facilitators.add(facilitator)
    hamburg.facilitators.add(outsider)
    anna = MembershipFactory(organization=power, user=UserFactory(username="anna")).user
    return {
        "rotterdam": rotterdam,
        "hamburg": hamburg,
        "power": power,
        "cement": cement,
        "steel": steel,
        "offer": offer,
        "demand": demand,
        "other_offer": other_offer,
        "match": match,
        "other": other,
        "facilitator": facilitator,
        "outsider": outsider,
        "anna": anna,
    }
