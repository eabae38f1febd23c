"""Each listing's copy of its site's country, harbour region and rounded location (what the
partner API's public search filters on): written by the services, kept in step when a site
moves or changes country, when a listing changes site, after an admin edit, and filled for
existing rows by migration 0006."""

from __future__ import annotations

import importlib
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.admin.sites import AdminSite
from django.db import connection
from django.test import RequestFactory

from harbors.models import Country, HarborRegion
from listings import services
from listings.admin import OfferAdmin, SiteAdmin
from listings.models import Demand, ListingStatus, Offer, Site
from listings.selectors import public_coordinate
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db

ROTTERDAM = (51.9537, 4.0441)  # region rotterdam-moerdijk, rounded 52.0, 4.0
ANTWERP = (51.2813, 4.3127)  # region antwerp-bruges, rounded 51.3, 4.3


def _location(listing: Offer | Demand) -> tuple[Any, ...]:
    listing.refresh_from_db()
    return (listing.country_id, listing.region_id, listing.approx_lat, listing.approx_lon)


def _site(organization: Any, lat: float, lon: float, country: str = "NL") -> Site:
    return services.site_create(
        organization=organization,
        name="Works",
        country=Country.objects.get(code=country),
        lat=lat,
        lon=lon,
    )


def _listing(model: type[Offer] | type[Demand], site: Site, **fields: Any) -> Offer | Demand:
    return services.listing_create(
        model=model,
        organization=site.organization,
        site=site,
        title="Fly ash",
        waste_code_id="100102",
        quantity=Decimal(100),
        unit="t",
        frequency="year",
        publish=True,
        **fields,
    )


@pytest.fixture
def organization() -> Any:
    return OrganizationFactory(name="Acme")


def _rotterdam() -> int:
    return HarborRegion.objects.get(code="rotterdam-moerdijk").pk


def _antwerp() -> int:
    return HarborRegion.objects.get(code="antwerp-bruges").pk


@pytest.mark.parametrize(
    ("value", "rounded"),
    [(51.9537, 52.0), (4.0441, 4.0), (51.25, 51.3), (-0.05, 0.0), (-4.36, -4.4), (0.04, 0.0)],
)
def test_public_coordinate_rounds_to_a_tenth_of_a_degree(value: float, rounded: float) -> None:
    assert public_coordinate(value) == rounded


def test_a_new_listing_copies_its_site(organization: Any) -> None:
    site = _site(organization, *ROTTERDAM)
    offer = _listing(Offer, site)
    demand = _listing(Demand, site)
    assert site.region_id == _rotterdam()
    for listing in (offer, demand):
        assert _location(listing) == ("NL", _rotterdam(), 52.0, 4.0)


def test_a_site_that_moves_carries_all_its_listings(organization: Any) -> None:
    site = _site(organization, *ROTTERDAM)
    published = _listing(Offer, site)
    draft = services.listing_create(
        model=Demand,
        organization=organization,
        site=site,
        title="Sand",
        waste_code_id="010409",
        quantity=Decimal(5),
        unit="t",
        frequency="month",
    )
    elsewhere = _listing(Offer, _site(organization, 53.55, 9.95, "DE"))
    services.site_update(
        site=site, lat=ANTWERP[0], lon=ANTWERP[1], country=Country.objects.get(code="BE")
    )
    assert _location(published) == ("BE", _antwerp(), 51.3, 4.3)
    assert _location(draft) == ("BE", _antwerp(), 51.3, 4.3)
    assert _location(elsewhere)[0] == "DE"  # another site's listing is left alone


def test_a_site_that_changes_country_only_carries_its_listings(organization: Any) -> None:
    site = _site(organization, *ROTTERDAM)
    offer = _listing(Offer, site)
    services.site_update(site=site, country=Country.objects.get(code="BE"))
    assert _location(offer) == ("BE", _rotterdam(), 52.0, 4.0)


def test_a_site_renamed_leaves_its_listings_as_they_are(organization: Any) -> None:
    site = _site(organization, *ROTTERDAM)
    offer = _listing(Offer, site)
    Offer.objects.filter(pk=offer.pk).update(approx_lat=None)  # so that an update would show
    services.site_update(site=site, name="New name")
    assert _location(offer)[2] is None


def test_site_update_location_carries_the_listings(organization: Any) -> None:
    site = _site(organization, *ROTTERDAM)
    demand = _listing(Demand, site)
    services.site_update_location(site=site, lat=ANTWERP[0], lon=ANTWERP[1])
    assert _location(demand) == ("NL", _antwerp(), 51.3, 4.3)


def test_a_listing_moved_to_another_site_copies_that_site(organization: Any) -> None:
    offer = _listing(Offer, _site(organization, *ROTTERDAM))
    antwerp = _site(organization, *ANTWERP, country="BE")
    services.listing_update(listing=offer, site=antwerp)
    assert _location(offer) == ("BE", _antwerp(), 51.3, 4.3)
    services.listing_update(listing=offer, title="Fly ash, dry")  # no new site: unchanged
    assert _location(offer) == ("BE", _antwerp(), 51.3, 4.3)


def test_the_admin_keeps_listings_in_step(organization: Any, admin_user: Any) -> None:
    site = _site(organization, *ROTTERDAM)
    offer = _listing(Offer, site)
    request = RequestFactory().post("/")
    request.user = admin_user
    site.lat, site.lon = ANTWERP
    SiteAdmin(Site, AdminSite()).save_model(request, site, form=None, change=True)
    assert _location(offer)[2:] == (51.3, 4.3)
    other = _site(organization, 53.55, 9.95, "DE")
    offer.site = other
    OfferAdmin(Offer, AdminSite()).save_model(request, offer, form=None, change=True)
    assert _location(offer)[0] == "DE"
    assert _location(offer)[2:] == (53.6, 10.0)


def test_migration_0006_fills_rows_written_around_the_services(organization: Any) -> None:
    rotterdam, antwerp = _site(organization, *ROTTERDAM), _site(organization, *ANTWERP, "BE")
    offer, demand = _listing(Offer, rotterdam), _listing(Demand, antwerp)
    blank = {"country": None, "region": None, "approx_lat": None, "approx_lon": None}
    Offer.objects.filter(pk=offer.pk).update(**blank)
    Demand.objects.filter(pk=demand.pk).update(**blank)
    fill = importlib.import_module("listings.migrations.0006_fill_listing_public_location").fill
    fill(None, SimpleNamespace(connection=connection))
    assert _location(offer) == ("NL", _rotterdam(), 52.0, 4.0)
    assert _location(demand) == ("BE", _antwerp(), 51.3, 4.3)


def test_migration_0006_rounds_as_the_services_do(organization: Any) -> None:
    """SQL floor(x * 10 + 0.5) / 10.0 and public_coordinate agree, halves and negatives too."""
    points = [(51.25, 4.35), (-33.95, -70.65), (0.05, -0.05), (53.549999, 9.9500001)]
    sites = [_site(organization, lat, lon) for lat, lon in points]
    offers = [_listing(Offer, site) for site in sites]
    Offer.objects.filter(pk__in=[o.pk for o in offers]).update(approx_lat=None, approx_lon=None)
    fill = importlib.import_module("listings.migrations.0006_fill_listing_public_location").fill
    fill(None, SimpleNamespace(connection=connection))
    for offer, (lat, lon) in zip(offers, points, strict=True):
        assert _location(offer)[2:] == (public_coordinate(lat), public_coordinate(lon))


def test_status_changes_keep_the_location(organization: Any) -> None:
    offer = _listing(Offer, _site(organization, *ROTTERDAM))
    services.listing_set_status(listing=offer, status=ListingStatus.PAUSED)
    services.listing_publish(listing=offer)
    assert _location(offer) == ("NL", _rotterdam(), 52.0, 4.0)


def test_the_copy_reads_the_site_under_a_lock(organization: Any) -> None:
    """A listing created while its site moves must not keep the old location: the copy reads
    the site row under a lock that waits for site_update's (FOR UPDATE)."""
    from django.test.utils import CaptureQueriesContext

    site = _site(organization, *ROTTERDAM)
    stale = Site.objects.get(pk=site.pk)
    Site.objects.filter(pk=site.pk).update(lat=ANTWERP[0], lon=ANTWERP[1], region_id=_antwerp())
    with CaptureQueriesContext(connection) as queries:
        offer = _listing(Offer, stale)  # the caller's copy of the site is out of date
    assert any(
        "listings_site" in q["sql"] and "FOR NO KEY UPDATE" in q["sql"]
        for q in queries.captured_queries
    )
    assert _location(offer) == ("NL", _antwerp(), 51.3, 4.3)
