"""`manage.py seed_demo`: a believable, deterministic and idempotent demo network."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import transaction

from harbors.models import HarborRegion
from listings.demo import DEMO_USERNAMES, ORGANIZATIONS, demo_plan
from listings.models import Demand, ListingStatus, Membership, Offer, Organization, Site

pytestmark = pytest.mark.django_db

# public_id is a random opaque handle for the anonymised API, not demo data.
EXCLUDED = {"id", "created_at", "updated_at", "published_at", "matching_requested_at", "public_id"}


def _seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """Seed once for the module inside a transaction that is rolled back afterwards.

    Each test runs in a savepoint inside it, so a test may reset and reseed freely. Nothing
    commits, so the matching tasks queued on publishing never leave the process.
    """
    with django_db_blocker.unblock(), transaction.atomic():
        output = _seed("--seed", "2026")
        yield output
        transaction.set_rollback(True)


def _listing_rows(model: type[Offer] | type[Demand]) -> list[tuple]:
    fields = [f.attname for f in model._meta.concrete_fields if f.attname not in EXCLUDED]
    rows = []
    for listing in model.objects.filter(ref__startswith="DEMO-").select_related(
        "organization", "site", "category"
    ):
        row = {name: getattr(listing, name) for name in fields}
        row["organization_id"] = listing.organization.ref
        row["site_id"] = listing.site.name
        row["category_id"] = listing.category.slug if listing.category else None
        if model is Demand:
            row["accepted_codes"] = sorted(listing.accepted_codes.values_list("code", flat=True))
            row["accepted_categories"] = sorted(
                listing.accepted_categories.values_list("slug", flat=True)
            )
        rows.append(tuple(sorted((k, repr(v)) for k, v in row.items())))
    return sorted(rows)


def _dump() -> dict[str, list]:
    """Everything the seed writes, keyed by natural keys, without pks and timestamps."""
    organizations = Organization.objects.filter(ref__startswith="DEMO-")
    return {
        "organizations": sorted(
            organizations.values_list(
                "ref",
                "name",
                "country_id",
                "nace__code",
                "contact_name",
                "contact_email",
                "contact_phone",
                "verified_by__username",
            )
        ),
        "sites": sorted(
            Site.objects.filter(organization__in=organizations).values_list(
                "organization__ref",
                "name",
                "city",
                "address",
                "country_id",
                "lat",
                "lon",
                "region__code",
                "nearest_port__unlocode",
            )
        ),
        "memberships": sorted(
            Membership.objects.filter(organization__in=organizations).values_list(
                "organization__ref", "user__username", "role"
            )
        ),
        "facilitators": sorted(
            HarborRegion.objects.filter(facilitators__username__in=DEMO_USERNAMES).values_list(
                "code", "facilitators__username"
            )
        ),
        "offers": _listing_rows(Offer),
        "demands": _listing_rows(Demand),
    }


def test_seed_demo_builds_a_believable_network(seeded, reference_data):
    organizations = Organization.objects.filter(ref__startswith="DEMO-")
    offers = Offer.objects.filter(ref__startswith="DEMO-O-")
    demands = Demand.objects.filter(ref__startswith="DEMO-D-")
    assert "Demo data created" in seeded
    assert organizations.count() == len(ORGANIZATIONS) >= 40
    assert organizations.values("country").distinct().count() >= 6
    assert not organizations.filter(nace__isnull=True).exists()
    assert not organizations.filter(verified_at__isnull=True).exists()
    assert offers.count() + demands.count() >= 150
    assert min(offers.count(), demands.count()) >= 60
    for model in (Offer, Demand):
        listings = model.objects.filter(ref__startswith="DEMO-")
        assert not listings.exclude(status=ListingStatus.PUBLISHED).exists()
        assert not listings.filter(waste_code__isnull=True, category__isnull=True).exists()
        assert not listings.filter(needs_matching=False).exists()
    # every site lies in a harbour region; hazardous offers follow their List of Waste code
    assert not Site.objects.filter(organization__in=organizations, region__isnull=True).exists()
    assert offers.filter(hazardous=True).count() >= 10
    assert not offers.filter(hazardous=True, waste_code__hazardous=False).exists()
    assert not offers.filter(hazardous=False, waste_code__hazardous=True).exists()
    # demands that take hazardous waste hold a permit; heat and cold travel only a few km
    assert demands.filter(accepts_hazardous=True).count() >= 5
    assert not demands.filter(accepts_hazardous=True, has_permit=False).exists()
    assert not demands.filter(operation__isnull=False, has_permit=False).exists()
    assert not demands.filter(resource_type="energy", max_distance_km__gt=15).exists()


def test_seed_demo_writes_the_plan(seeded, reference_data):
    plan = {
        listing.ref: listing
        for organization in demo_plan(seed=2026)
        for listing in organization.listings
    }

    for model in (Offer, Demand):
        for ref, quantity, available_from in model.objects.filter(
            ref__startswith="DEMO-"
        ).values_list("ref", "quantity", "available_from"):
            assert (quantity, available_from) == (
                plan[ref].quantity,
                plan[ref].available_from,
            )


def test_seed_demo_creates_the_demo_logins(seeded, reference_data):
    admin = User.objects.get(username="admin")
    assert admin.is_superuser
    assert admin.is_staff
    assert admin.check_password("symbiosis-admin")
    for username in DEMO_USERNAMES[1:]:
        assert User.objects.get(username=username).check_password("symbiosis-demo")
    regions = set(
        HarborRegion.objects.filter(facilitators__username="facilitator").values_list(
            "code", flat=True
        )
    )
    assert regions == {"rotterdam-moerdijk", "antwerp-bruges", "north-sea-port"}
    members = dict(
        Membership.objects.filter(role=Membership.Role.ADMIN).values_list(
            "user__username", "organization__country_id"
        )
    )
    assert members == {"anna.nl": "NL", "bruno.be": "BE", "claire.fr": "FR", "dieter.de": "DE"}


def test_seed_demo_reset_and_reseed_gives_identical_data(seeded, reference_data):
    first = _dump()
    assert len(first["offers"]) == Offer.objects.filter(ref__startswith="DEMO-").count() > 100

    output = _seed("--reset", "--seed", "2026")

    assert "Deleted" in output
    assert "Demo data created" in output
    assert _dump() == first


def test_demo_plan_is_a_pure_function_of_the_seed():
    assert demo_plan(seed=2026) == demo_plan(seed=2026)
    other = demo_plan(seed=7)
    assert other != demo_plan(seed=2026)
    assert [o.ref for o in other] == [o.ref for o in demo_plan(seed=2026)]


def _demo_counts() -> tuple[int, ...]:
    return (
        Organization.objects.filter(ref__startswith="DEMO-").count(),
        Site.objects.filter(organization__ref__startswith="DEMO-").count(),
        Offer.objects.filter(ref__startswith="DEMO-").count(),
        Demand.objects.filter(ref__startswith="DEMO-").count(),
    )


def test_seed_demo_twice_without_reset_adds_nothing(seeded, reference_data):
    counts = _demo_counts()

    output = _seed()

    assert "already present" in output
    assert _demo_counts() == counts
