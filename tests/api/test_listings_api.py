"""The listings API end to end: reference data, the public search and its filters, an
organisation's offers, demands and sites, and the bulk import; lists pinned by query count and
paged by keyset cursors that never count the table."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from listings.importing import HEADER
from listings.models import Demand, ListingStatus, Offer
from tests.api.conftest import World, assert_error, client_for
from tests.factories import OfferFactory

pytestmark = pytest.mark.django_db

PUBLIC = "/api/v1/listings/public/"


# --- reference data --------------------------------------------------------------------------


def test_waste_codes_search_by_code_and_words(world: World) -> None:
    client = client_for(world.a.token)
    by_code = client.get("/api/v1/listings/waste-codes/?q=10 01&page_size=100").json()
    assert by_code["results"]
    assert all(row["code"].startswith("1001") for row in by_code["results"])
    by_words = client.get("/api/v1/listings/waste-codes/?q=fly ash").json()["results"]
    assert "100102" in {row["code"] for row in by_words}
    hazardous = client.get("/api/v1/listings/waste-codes/?hazardous=true&page_size=1000").json()
    assert all(row["hazardous"] for row in hazardous["results"])
    one = client.get("/api/v1/listings/waste-codes/10 01 02*/").json()
    assert one["display_code"] == "10 01 02"


def test_reference_lists(world: World) -> None:
    client = client_for(world.a.token)
    nace = client.get("/api/v1/listings/nace/?q=23.51").json()["results"]
    assert "23.51" in {row["code"] for row in nace}
    assert client.get("/api/v1/listings/categories/").json()["results"]
    operations = client.get("/api/v1/listings/operations/?page_size=100").json()["results"]
    assert {"R5", "D1"} <= {row["code"] for row in operations}
    countries = client.get("/api/v1/harbors/countries/?page_size=100").json()["results"]
    assert {"BE", "NL", "GB"} <= {row["code"] for row in countries}
    regions = client.get("/api/v1/harbors/regions/").json()["results"]
    assert "rotterdam-moerdijk" in {row["code"] for row in regions}
    ports = client.get("/api/v1/harbors/ports/?region=hamburg").json()["results"]
    assert ports
    assert {row["region"] for row in ports} == {"hamburg"}
    region = client.get("/api/v1/harbors/regions/antwerp-bruges/").json()
    assert region["countries"] == ["BE"]


def test_reference_data_pages_through_every_row(world: World) -> None:
    client = client_for(world.a.token)
    url, codes = "/api/v1/listings/waste-codes/?page_size=300", []
    while url:
        page = client.get(url).json()
        codes += [row["code"] for row in page["results"]]
        url = page["next"]
    assert len(codes) == len(set(codes)) == 842
    assert codes == sorted(codes)


# --- the public search -----------------------------------------------------------------------


def test_public_search_filters(world: World) -> None:
    client = client_for(world.a.token)
    a, b = world.a.offer.public_id, world.b.offer.public_id

    def ids(query: str) -> set[str]:
        response = client.get(f"{PUBLIC}?{query}")
        assert response.status_code == 200, response.content
        return {row["public_id"] for row in response.json()["results"]}

    assert ids("") == {a, b}
    assert ids("country=BE") == {b}
    assert ids("country=nl") == {a}
    assert ids("region=rotterdam-moerdijk") == {a}
    assert ids("waste_code=10") == {a, b}
    assert ids("waste_code=10 01") == {a, b}
    assert ids("waste_code=100102") == {a, b}
    assert ids("waste_code=17") == set()
    assert ids("resource_type=energy") == set()
    assert ids("quantity_min=1000&quantity_max=1000") == {a, b}
    assert ids("quantity_min=1001") == set()
    assert ids("lat=51.3&lon=4.3&radius_km=20") == {b}
    assert ids("lat=51.6&lon=4.2&radius_km=80") == {a, b}
    assert ids("kind=demand") == {world.a.demand.public_id, world.b.demand.public_id}


def test_public_search_by_category_includes_sub_categories(world: World) -> None:
    from listings.models import MaterialCategory

    child = MaterialCategory.objects.filter(parent__isnull=False).select_related("parent").first()
    Offer.objects.filter(pk=world.b.offer.pk).update(category=child)
    client = client_for(world.a.token)
    for slug in (child.slug, child.parent.slug):
        rows = client.get(f"{PUBLIC}?category={slug}").json()["results"]
        assert [row["public_id"] for row in rows] == [world.b.offer.public_id]


def test_public_search_shows_published_listings_only(world: World) -> None:
    Offer.objects.filter(pk=world.b.offer.pk).update(status=ListingStatus.DRAFT)
    rows = client_for(world.a.token).get(PUBLIC).json()["results"]
    assert [row["public_id"] for row in rows] == [world.a.offer.public_id]
    response = client_for(world.a.token).get(f"{PUBLIC}{world.b.offer.public_id}/")
    assert_error(response, 404, "not_found")


def test_public_search_pages_by_signed_cursor_without_counting(
    world: World, django_assert_max_num_queries: Any
) -> None:
    base = timezone.now()
    for n in range(7):
        OfferFactory(
            organization=world.b.organization,
            site=world.b.site,
            created_at=base + timedelta(seconds=n),
        )
    client = client_for(world.a.token)
    client.get(PUBLIC)  # the token's first use records last_used_at
    seen: list[str] = []
    url: str | None = f"{PUBLIC}?page_size=2&country=BE"
    with CaptureQueriesContext(connection) as queries:
        while url:
            page = client.get(url).json()
            seen += [row["public_id"] for row in page["results"]]
            url = page["next"]
    assert len(seen) == len(set(seen)) == 8
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
    assert not any("OFFSET" in q["sql"].upper() for q in queries.captured_queries)
    with django_assert_max_num_queries(3):  # the token, the country, the page
        client.get(f"{PUBLIC}?page_size=25&country=BE&waste_code=10")


def test_public_search_query_count_does_not_grow_with_the_page(
    world: World, django_assert_num_queries: Any
) -> None:
    for _ in range(10):
        OfferFactory(organization=world.b.organization, site=world.b.site)
    client = client_for(world.a.token)
    client.get(PUBLIC)
    with django_assert_num_queries(2):  # the token, the page
        assert len(client.get(PUBLIC).json()["results"]) == 12
    with django_assert_num_queries(2):
        client.get(f"{PUBLIC}?lat=51.3&lon=4.3&radius_km=30")


def test_public_rows_match_the_documented_fields(world: World) -> None:
    """PublicListingSerializer writes its rows directly; passing them through DRF's generic path
    over the declared fields (the OpenAPI contract) must change nothing: same keys, same types,
    same formatting."""
    from rest_framework import serializers

    from listings.api.serializers import PublicListingSerializer

    Offer.objects.filter(pk=world.a.offer.pk).update(
        available_from=timezone.now().date(), physical_form="powder"
    )
    Demand.objects.filter(pk=world.b.demand.pk).update(quantity_min=200, max_distance_km=150)
    client = client_for(world.a.token)
    rows = [
        *client.get(PUBLIC).json()["results"],
        *client.get(f"{PUBLIC}?kind=demand").json()["results"],
        *client.get(f"{PUBLIC}?lat=51.6&lon=4.2&radius_km=80").json()["results"],
        client.get(f"{PUBLIC}{world.b.demand.public_id}/").json(),
    ]
    assert len(rows) == 7
    declared = PublicListingSerializer()
    for row in rows:
        assert set(row) == set(declared.fields)
        assert serializers.Serializer.to_representation(declared, row) == row
    demand = next(r for r in rows if r["public_id"] == world.b.demand.public_id)
    assert demand["quantity_min"] == 200.0
    assert demand["max_distance_km"] == 150
    assert demand["waste_status"] is None
    offer = next(r for r in rows if r["public_id"] == world.a.offer.public_id)
    assert offer["available_from"] == timezone.now().date().isoformat()
    assert offer["quantity"] == "1000.000"
    assert offer["waste_code"]["display_code"] == "10 01 02"
    assert offer["region"] == {"code": "rotterdam-moerdijk", "name": offer["region"]["name"]}
    assert (offer["country"], offer["approx_lat"], offer["approx_lon"]) == ("NL", 52.0, 4.0)


def test_public_search_follows_a_site_that_moves(world: World) -> None:
    from harbors.models import Country
    from listings import services

    client = client_for(world.b.token)
    a = world.a.offer.public_id
    services.site_update(
        site=world.a.site, lat=53.55, lon=9.95, country=Country.objects.get(code="DE")
    )
    assert a not in {r["public_id"] for r in client.get(f"{PUBLIC}?country=NL").json()["results"]}
    assert a in {r["public_id"] for r in client.get(f"{PUBLIC}?country=DE").json()["results"]}
    hamburg = client.get(f"{PUBLIC}?region=hamburg").json()["results"]
    assert [r["public_id"] for r in hamburg] == [a]
    near = client.get(f"{PUBLIC}?lat=53.6&lon=10.0&radius_km=1").json()["results"]
    assert [r["public_id"] for r in near] == [a]
    assert client.get(f"{PUBLIC}{a}/").json()["country"] == "DE"


def test_public_search_leaves_out_rows_written_around_the_services(world: World) -> None:
    """A row without its copied location (a bulk load) is left out rather than answered
    without a country."""
    Offer.objects.filter(pk=world.b.offer.pk).update(
        country=None, region=None, approx_lat=None, approx_lon=None
    )
    client = client_for(world.a.token)
    assert [r["public_id"] for r in client.get(PUBLIC).json()["results"]] == [
        world.a.offer.public_id
    ]
    assert_error(client.get(f"{PUBLIC}{world.b.offer.public_id}/"), 404, "not_found")


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        ("Fly ash from ACME Power, dry", "Acme Power", "Fly ash from [organisation], dry"),
        ("acme power; Acme Power", "ACME POWER", "[organisation]; [organisation]"),
        ("Fly ash, dry", "Acme Power", "Fly ash, dry"),
        ("Ash from Ab", "Ab", "Ash from Ab"),  # names under 3 characters are kept
        ("Slag of DIYARBAKIR Demir", "Dıyarbakır Demir", "Slag of [organisation]"),
        ("Sludge (a+b) Ltd.", "(A+B) Ltd.", "Sludge [organisation]"),
    ],
)
def test_redact_names(text: str, name: str, expected: str) -> None:
    from listings.selectors import redact_names

    assert redact_names(text, name) == expected


# --- own offers, demands and sites -----------------------------------------------------------


def test_offer_lifecycle(world: World) -> None:
    client = client_for(world.a.token)
    created = client.post(
        "/api/v1/listings/offers/create/",
        {
            "ref": "ACME-1",
            "site": world.a.site.pk,
            "title": "Gypsum from flue-gas desulphurisation",
            "waste_code": "10 01 05",
            "quantity": "250",
            "unit": "t",
            "frequency": "month",
            "waste_status": "by_product",
            "publish": True,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    offer = created.json()
    assert offer["status"] == "published"
    assert offer["annual_quantity"] == "3000.000"
    assert offer["waste_code"] == "100105"
    url = f"/api/v1/listings/offers/{offer['id']}"
    updated = client.patch(f"{url}/update/", {"quantity": "300"}, format="json").json()
    assert updated["annual_quantity"] == "3600.000"
    assert updated["version"] == offer["version"] + 1
    assert client.get(f"{url}/").json()["quantity"] == "300.000"
    closed = client.post(f"{url}/close/").json()
    assert closed["status"] == "closed"
    refs = client.get("/api/v1/listings/offers/?ref=ACME-1").json()["results"]
    assert [row["id"] for row in refs] == [offer["id"]]


def test_hazardous_code_makes_the_offer_hazardous(world: World) -> None:
    response = client_for(world.a.token).post(
        "/api/v1/listings/offers/create/",
        {
            "site": world.a.site.pk,
            "title": "Fly ash with dangerous substances",
            "waste_code": "100113",
            "quantity": "1",
            "unit": "t",
            "frequency": "once",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["hazardous"] is True


def test_unverified_organisation_keeps_drafts(world: World) -> None:
    world.a.organization.verified_at = None
    world.a.organization.save()
    client = client_for(world.a.token)
    body = {
        "site": world.a.site.pk,
        "title": "Steam",
        "category": "energy",
        "resource_type": "energy",
        "quantity": "5",
        "unit": "MWh",
        "frequency": "continuous",
    }
    assert_error(
        client.post("/api/v1/listings/offers/create/", {**body, "publish": True}, format="json"),
        409,
        "organization_not_verified",
    )
    draft = client.post("/api/v1/listings/offers/create/", body, format="json")
    assert draft.json()["status"] == "draft"
    assert_error(
        client.post(f"/api/v1/listings/offers/{draft.json()['id']}/publish/"),
        409,
        "organization_not_verified",
    )


def test_demand_lifecycle(world: World) -> None:
    client = client_for(world.a.token)
    created = client.post(
        "/api/v1/listings/demands/create/",
        {
            "site": world.a.site.pk,
            "title": "Secondary aggregates",
            "category": "ashes",
            "accepted_codes": ["10 01 02", "100115"],
            "accepted_categories": ["ashes"],
            "quantity": "500",
            "quantity_min": "50",
            "unit": "t",
            "frequency": "month",
            "operation": "r5",
            "max_distance_km": 150,
            "has_permit": True,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    demand = created.json()
    assert demand["accepted_codes"] == ["100102", "100115"]
    assert demand["accepted_categories"] == ["ashes"]
    assert demand["operation"] == "R5"
    assert demand["status"] == "draft"
    url = f"/api/v1/listings/demands/{demand['id']}"
    published = client.post(f"{url}/publish/").json()
    assert published["status"] == "published"
    updated = client.patch(f"{url}/update/", {"accepted_codes": []}, format="json").json()
    assert updated["accepted_codes"] == []
    assert Demand.objects.get(pk=demand["id"]).accepted_categories.count() == 1


def test_site_lifecycle(world: World) -> None:
    client = client_for(world.a.token)
    created = client.post(
        "/api/v1/listings/sites/create/",
        {"name": "Antwerp depot", "city": "Antwerpen", "country": "be", "lat": 51.26, "lon": 4.39},
        format="json",
    ).json()
    assert created["region"] == "antwerp-bruges"
    assert created["country"] == "BE"
    url = f"/api/v1/listings/sites/{created['id']}"
    moved = client.patch(f"{url}/update/", {"lat": 51.95, "lon": 4.1}, format="json").json()
    assert moved["region"] == "rotterdam-moerdijk"
    assert client.delete(f"{url}/delete/").status_code == 204
    assert_error(client.get(f"{url}/"), 404, "not_found")


def test_moving_a_site_flags_its_published_listings(world: World) -> None:
    version = world.a.offer.version
    client_for(world.a.token).patch(
        f"/api/v1/listings/sites/{world.a.site.pk}/update/",
        {"lat": 51.9, "lon": 4.4},
        format="json",
    )
    world.a.offer.refresh_from_db()
    assert world.a.offer.needs_matching
    assert world.a.offer.version == version + 1


def test_own_lists_pin_their_queries(world: World, django_assert_num_queries: Any) -> None:
    client = client_for(world.a.token)
    client.get("/api/v1/listings/offers/")  # the token's first use records last_used_at
    client.get("/api/v1/matching/matches/")  # loads the reference rows matches name (cached)
    for url, queries in (
        ("/api/v1/listings/offers/", 2),  # the token, the page
        ("/api/v1/listings/demands/", 4),  # + the accepted codes and categories
        ("/api/v1/listings/sites/", 2),
        ("/api/v1/matching/matches/", 2),
        (f"/api/v1/matching/offers/{world.a.offer.pk}/prospects/", 3),  # + the offer
    ):
        with django_assert_num_queries(queries):
            assert client.get(url).status_code == 200
    facilitator = client_for(world.facilitator_token)
    facilitator.get("/api/v1/matching/queue/")
    with django_assert_num_queries(3):  # the token, the facilitator's regions, the page
        assert facilitator.get("/api/v1/matching/queue/").status_code == 200


def test_match_reads_join_seven_tables_at_most(world: World) -> None:
    """The API's match reads join the match, both listings, their sites and organisations, no
    more: PostgreSQL spends about 130 ms planning the 15-table join (matching.selectors); the
    regions, NACE and List of Waste codes they name come from the cached reference rows."""
    reads = [
        (world.a.token, "/api/v1/matching/matches/"),
        (world.a.token, f"/api/v1/matching/matches/{world.match_ab.pk}/"),
        (world.facilitator_token, "/api/v1/matching/queue/"),
        (world.facilitator_token, f"/api/v1/matching/queue/{world.match_ab.pk}/"),
    ]
    for token, url in reads:
        client = client_for(token)
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            body = client.get(url).json()
        page = [q["sql"] for q in queries.captured_queries if 'FROM "matching_match"' in q["sql"]]
        assert len(page) == 1, url
        for table in ("harbors_harborregion", "harbors_country", "listings_nacecode"):
            assert table not in page[0], (url, table)
        assert "listings_wastecode" not in page[0], url
        # six joins, and two more in the union that finds an organisation's matches
        assert page[0].count(" JOIN ") <= (8 if "UNION" in page[0] else 6), (url, page[0])
        rows = body.get("results", [body])
        assert rows, url
    queue = client_for(world.facilitator_token).get("/api/v1/matching/queue/").json()["results"]
    assert {row["offer"]["region"] for row in queue} == {"rotterdam-moerdijk", "antwerp-bruges"}
    mine = client_for(world.a.token).get("/api/v1/matching/matches/").json()["results"]
    assert {(row["id"], row["side"]) for row in mine} == {
        (world.match_ab.pk, "offer"),
        (world.match_ba.pk, "demand"),
    }
    assert all("NACE" in row["counterpart"]["label"] for row in mine)


# --- bulk import -----------------------------------------------------------------------------


def _csv(rows: list[dict[str, str]]) -> SimpleUploadedFile:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HEADER)
    writer.writeheader()
    for row in rows:
        writer.writerow({column: row.get(column, "") for column in HEADER})
    return SimpleUploadedFile("listings.csv", buffer.getvalue().encode(), "text/csv")


def _row(world: World, ref: str, **cells: str) -> dict[str, str]:
    return {
        "ref": ref,
        "kind": "offer",
        "organization": world.a.organization.name,
        "country": "NL",
        "lat": str(world.a.site.lat),
        "lon": str(world.a.site.lon),
        "title": "Bottom ash",
        "low_code": "10 01 01",
        "quantity": "100",
        "unit": "t",
        "frequency": "month",
        **cells,
    }


def test_import_creates_then_updates_all_or_nothing(world: World) -> None:
    client = client_for(world.a.token)
    rows = [_row(world, "IMP-1"), _row(world, "IMP-2", title="Boiler slag")]
    first = client.post("/api/v1/listings/import/", {"file": _csv(rows)}, format="multipart")
    assert first.status_code == 200, first.content
    assert first.json()["created"]["offer"] == 2
    again = client.post(
        "/api/v1/listings/import/",
        {"file": _csv([_row(world, "IMP-1", quantity="120"), rows[1]])},
        format="multipart",
    ).json()
    assert again["updated"]["offer"] == 1
    assert again["unchanged"]["offer"] == 1
    assert (
        Offer.objects.filter(ref__startswith="IMP-", organization=world.a.organization).count() == 2
    )


def test_import_rejects_the_whole_file_naming_each_row(world: World) -> None:
    client = client_for(world.a.token)
    rows = [
        _row(world, "BAD-1"),
        _row(world, "BAD-2", lat="north"),
        _row(world, "BAD-3", organization=world.b.organization.name, country="BE"),
    ]
    response = client.post("/api/v1/listings/import/", {"file": _csv(rows)}, format="multipart")
    body = assert_error(response, 400, "import_rejected")
    assert set(body["errors"]) == {"3", "4"}
    assert "lat" in body["errors"]["3"]
    assert "organization" in body["errors"]["4"]
    assert not Offer.objects.filter(ref__startswith="BAD-").exists()


def test_import_dry_run_writes_nothing(world: World) -> None:
    response = client_for(world.a.token).post(
        "/api/v1/listings/import/",
        {"file": _csv([_row(world, "DRY-1")]), "dry_run": "true"},
        format="multipart",
    )
    assert response.json()["created"]["offer"] == 1
    assert response.json()["dry_run"] is True
    assert not Offer.objects.filter(ref="DRY-1").exists()


def test_import_refuses_other_files(world: World) -> None:
    client = client_for(world.a.token)
    exe = SimpleUploadedFile("tool.exe", b"MZ\x90\x00", "application/octet-stream")
    body = assert_error(
        client.post("/api/v1/listings/import/", {"file": exe}, format="multipart"),
        400,
        "import_file_invalid",
    )
    assert "file" in body["errors"]
    assert_error(client.post("/api/v1/listings/import/", {}, format="multipart"), 400, "invalid")
    assert_error(
        client_for(world.facilitator_token).post(
            "/api/v1/listings/import/", {"file": _csv([])}, format="multipart"
        ),
        403,
        "permission_denied",
    )
