"""The company portal with the Django test client: pages work, forms explain their errors, and
every page is scoped to the caller (tests that try to break it)."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from harbors.models import HarborRegion
from listings.importing import HEADER
from listings.models import Demand, ListingStatus, Membership, Offer, Organization, Site
from matching.models import Match, Response, Stage
from tests.factories import (
    DemandFactory,
    MembershipFactory,
    OfferFactory,
    OrganizationFactory,
    SiteFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _match(offer: Offer, demand: Demand, **fields: object) -> Match:
    values: dict = {
        "score": 0.8,
        "material_score": 1,
        "quantity_score": 0.9,
        "distance_score": 0.5,
        "legal_score": 1,
        "timing_score": 1,
        "distance_km": 38,
        "transport_mode": "road",
        "co2_kg_per_tonne": 4.5,
        "tonnes_per_year": 1000,
        "explanation": "same code 10 01 02; 38 km by road",
        "scoring_version": "t",
        "offer_version": 1,
        "demand_version": 1,
        **fields,
    }
    return Match.objects.create(offer=offer, demand=demand, **values)


@pytest.fixture
def world() -> dict:
    """Two companies in the Rotterdam region with a match between them, and a third one."""
    rotterdam = HarborRegion.objects.get(code="rotterdam-moerdijk")
    power = OrganizationFactory(
        name="Maasvlakte Power BV", contact_name="Piet Power", contact_phone="+31 10 555 0001"
    )
    cement = OrganizationFactory(
        name="Cement Works NV",
        nace_id=None,
        contact_name="Carla Cement",
        contact_email="carla@cement.example",
        contact_phone="+31 10 555 0002",
    )
    power_site = SiteFactory(organization=power, region=rotterdam, name="Power plant")
    cement_site = SiteFactory(organization=cement, region=rotterdam, lat=51.9, lon=4.4)
    offer = OfferFactory(organization=power, site=power_site, title="Fly ash")
    demand = DemandFactory(organization=cement, site=cement_site, title="Clinker input")
    other_offer = OfferFactory(organization=cement, site=cement_site, title="Gypsum")
    anna = MembershipFactory(organization=power, user=UserFactory(username="anna")).user
    mia = MembershipFactory(
        organization=power, user=UserFactory(username="mia"), role=Membership.Role.MEMBER
    ).user
    bruno = MembershipFactory(organization=cement, user=UserFactory(username="bruno")).user
    return {
        "power": power,
        "cement": cement,
        "power_site": power_site,
        "cement_site": cement_site,
        "offer": offer,
        "demand": demand,
        "other_offer": other_offer,
        "match": _match(offer, demand),
        "anna": anna,
        "mia": mia,
        "bruno": bruno,
        "rotterdam": rotterdam,
    }


def _offer_data(site: Site, **changes: object) -> dict:
    return {
        "title": "Bottom ash",
        "description": "Dry",
        "resource_type": "material",
        "waste_code": "10 01 01",
        "category": "",
        "site": site.pk,
        "quantity": "1200",
        "unit": "t",
        "frequency": "year",
        "available_from": "",
        "available_until": "",
        "waste_status": "waste",
        "status_evidence": "none",
        "list_class": "",
        "physical_form": "solid",
        "price_eur_per_unit": "-5",
        **changes,
    }


def _demand_data(site: Site, **changes: object) -> dict:
    return {
        "title": "Ash for clinker",
        "resource_type": "material",
        "waste_code": "100102",
        "accepted_codes": "10 01 01, 10 01 15",
        "site": site.pk,
        "quantity": "200",
        "quantity_min": "20",
        "unit": "t",
        "frequency": "month",
        "max_distance_km": "250",
        "operation": "R5",
        "has_permit": "on",
        **changes,
    }


# --- access ------------------------------------------------------------------------------------

COMPANY_PAGES = [
    ("listings:dashboard", {}),
    ("listings:offer-list", {}),
    ("listings:demand-list", {}),
    ("listings:offer-create", {}),
    ("listings:offer-detail", {"pk": 1}),
    ("listings:offer-edit", {"pk": 1}),
    ("listings:demand-close", {"pk": 1}),
    ("listings:site-list", {}),
    ("listings:site-create", {}),
    ("listings:upload", {}),
    ("listings:match-list", {}),
    ("listings:match-detail", {"pk": 1}),
    ("listings:organization", {}),
    ("listings:organization-export-json", {}),
    ("listings:organization-export-csv", {}),
    ("listings:organization-close", {}),
    ("listings:organization-pending", {}),
    ("listings:waste-code-lookup", {}),
]


@pytest.mark.parametrize(("name", "kwargs"), COMPANY_PAGES)
def test_anonymous_users_are_sent_to_login(client, name: str, kwargs: dict) -> None:
    response = client.get(reverse(name, kwargs=kwargs))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_home_sends_a_company_member_to_the_dashboard(client, world) -> None:
    assert client.get(reverse("home")).status_code == 200
    client.force_login(world["anna"])
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("listings:dashboard")


def test_a_user_without_organisation_is_told_so(client) -> None:
    client.force_login(UserFactory())
    response = client.get(reverse("listings:dashboard"))
    assert response.status_code == 403
    assert "not a member of an organisation" in response.content.decode()


def test_nav_links_for_company_users(client, world) -> None:
    client.force_login(world["anna"])
    page = client.get(reverse("listings:dashboard")).content.decode()
    for name in ("dashboard", "offer-list", "demand-list", "match-list", "upload"):
        assert f'href="{reverse(f"listings:{name}")}"' in page
    assert reverse("matching:shipment-procedure") in page


# --- dashboard and lists: content and query counts ---------------------------------------------


def test_dashboard_counts_and_latest_matches(client, world) -> None:
    OfferFactory(organization=world["power"], site=world["power_site"], status="draft")
    client.force_login(world["anna"])
    response = client.get(reverse("listings:dashboard"))
    assert response.status_code == 200
    assert response.context["offer_counts"]["published"] == 1
    assert response.context["offer_counts"]["draft"] == 1
    assert response.context["stage_counts"]["proposed"] == 1
    page = response.content.decode()
    assert "Fly ash" in page
    assert "Cement Works" not in page


def _more_listings(world: dict, n: int) -> None:
    for i in range(n):
        offer = OfferFactory(organization=world["power"], site=world["power_site"], title=f"O{i}")
        demand = DemandFactory(organization=world["power"], site=world["power_site"])
        _match(offer, world["demand"])
        _match(world["other_offer"], demand)


@pytest.mark.parametrize("extra", [0, 6])
def test_dashboard_query_count_is_fixed(client, world, django_assert_num_queries, extra) -> None:
    _more_listings(world, extra)
    client.force_login(world["anna"])
    # session, user, membership, facilitator regions (nav), 2 status counts, 2+2 for matches
    with django_assert_num_queries(10):
        assert client.get(reverse("listings:dashboard")).status_code == 200


@pytest.mark.parametrize("extra", [0, 6])
@pytest.mark.parametrize("name", ["listings:offer-list", "listings:demand-list"])
def test_listing_lists_query_count_is_fixed(
    client, world, django_assert_num_queries, extra: int, name: str
) -> None:
    DemandFactory(organization=world["power"], site=world["power_site"])
    _more_listings(world, extra)
    client.force_login(world["anna"])
    # session, user, membership, count, page, facilitator regions (nav)
    with django_assert_num_queries(6):
        response = client.get(reverse(name))
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 1 + extra


@pytest.mark.parametrize("extra", [0, 6])
def test_match_list_query_count_is_fixed(client, world, django_assert_num_queries, extra) -> None:
    _more_listings(world, extra)
    client.force_login(world["anna"])
    # session, user, membership, the user's organisations, count, page, facilitator regions
    with django_assert_num_queries(7):
        response = client.get(reverse("listings:match-list"))
    assert response.status_code == 200
    assert len(response.context["rows"]) == 1 + 2 * extra


def test_offer_list_shows_only_own_offers_and_filters_by_status(client, world) -> None:
    OfferFactory(
        organization=world["power"], site=world["power_site"], title="Draft one", status="draft"
    )
    client.force_login(world["anna"])
    page = client.get(reverse("listings:offer-list")).content.decode()
    assert "Fly ash" in page
    assert "Draft one" in page
    assert "Gypsum" not in page
    page = client.get(reverse("listings:offer-list"), {"status": "draft"}).content.decode()
    assert "Draft one" in page
    assert "Fly ash" not in page


# --- offers and demands: create, edit, pause, close, publish -----------------------------------


def test_create_offer_and_publish(client, world, django_capture_on_commit_callbacks) -> None:
    client.force_login(world["anna"])
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            reverse("listings:offer-create"), {**_offer_data(world["power_site"]), "publish": "1"}
        )
    offer = Offer.objects.get(title="Bottom ash")
    assert response.status_code == 302
    assert response["Location"] == reverse("listings:offer-detail", args=[offer.pk])
    assert offer.organization == world["power"]
    assert offer.status == ListingStatus.PUBLISHED
    assert offer.waste_code_id == "100101"
    assert offer.price_eur_per_unit == Decimal("-5.00")
    assert offer.annual_quantity == Decimal(1200)
    assert callbacks  # matching is queued on commit


def test_a_picker_label_is_read_as_its_code(client, world) -> None:
    client.force_login(world["anna"])
    client.post(
        reverse("listings:offer-create"),
        _offer_data(world["power_site"], waste_code="10 01 04* oil fly ash and boiler dust"),
    )
    offer = Offer.objects.get(title="Bottom ash")
    assert offer.waste_code_id == "100104"
    assert offer.hazardous  # set from the starred entry


def test_create_draft_demand_with_accepted_codes(client, world) -> None:
    client.force_login(world["anna"])
    response = client.post(
        reverse("listings:demand-create"), {**_demand_data(world["power_site"]), "draft": "1"}
    )
    assert response.status_code == 302
    demand = Demand.objects.get(title="Ash for clinker")
    assert demand.status == ListingStatus.DRAFT
    assert demand.operation_id == "R5"
    assert demand.annual_quantity == Decimal(2400)
    assert {c.code for c in demand.accepted_codes.all()} == {"100101", "100102", "100115"}


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"quantity": "0"}, "quantity", "more than zero"),
        ({"quantity": "-3"}, "quantity", "more than zero"),
        ({"quantity": "lots"}, "quantity", "Enter a number"),
        ({"unit": "barrel"}, "unit", "Choose one of the units"),
        ({"frequency": "hourly"}, "frequency", "how often"),
        ({"waste_code": "99 99 99"}, "waste_code", "not in the European List of Waste"),
        ({"waste_code": "ash"}, "waste_code", "not a List of Waste code"),
        ({"waste_code": "coal fly ash"}, "waste_code", "Did you mean 10 01 02"),
        ({"waste_code": "xyzzy"}, "waste_code", "such as 10 01 02"),
        ({"waste_code": "", "category": ""}, "waste_code", "Give a List of Waste code"),
        ({"unit": "MWh"}, "unit", "MWh and GJ measure energy"),
        ({"title": ""}, "title", "required"),
        (
            {"available_from": "2026-06-01", "available_until": "2026-01-01"},
            "available_until",
            "comes before its start",
        ),
        ({"price_eur_per_unit": "1.234"}, "price_eur_per_unit", "two decimals"),
    ],
)
def test_offer_form_explains_each_error(client, world, change, field, words) -> None:
    client.force_login(world["anna"])
    response = client.post(
        reverse("listings:offer-create"), _offer_data(world["power_site"], **change)
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors
    assert words in " ".join(errors[field])
    page = response.content.decode()
    assert "error-summary" in page
    assert f'href="#id_{field}"' in page
    assert not Offer.objects.filter(title="Bottom ash").exists()


def test_demand_form_checks_the_quantity_range_and_accepted_codes(client, world) -> None:
    client.force_login(world["anna"])
    response = client.post(
        reverse("listings:demand-create"),
        _demand_data(world["power_site"], quantity_min="500", accepted_codes="10 01 01, 77 77 77"),
    )
    errors = response.context["form"].errors
    assert "cannot be more than the quantity" in " ".join(errors["quantity_min"])
    assert "77 77 77 is not in the European List of Waste" in " ".join(errors["accepted_codes"])


def test_a_site_of_another_organisation_cannot_be_chosen(client, world) -> None:
    client.force_login(world["anna"])
    response = client.post(reverse("listings:offer-create"), _offer_data(world["cement_site"]))
    assert "Choose one of your organisation's sites" in " ".join(
        response.context["form"].errors["site"]
    )


def test_edit_offer(client, world, django_capture_on_commit_callbacks) -> None:
    offer = world["offer"]
    client.force_login(world["mia"])  # any member may edit listings
    page = client.get(reverse("listings:offer-edit", args=[offer.pk])).content.decode()
    assert 'value="10 01 02"' in page
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            reverse("listings:offer-edit", args=[offer.pk]),
            _offer_data(
                world["power_site"], title="Fly ash, dry", quantity="50", frequency="month"
            ),
        )
    assert response.status_code == 302
    offer.refresh_from_db()
    assert offer.title == "Fly ash, dry"
    assert offer.annual_quantity == Decimal(600)
    assert offer.version == 2
    assert offer.needs_matching
    assert callbacks


def test_pause_publish_and_close(client, world) -> None:
    offer = world["offer"]
    client.force_login(world["anna"])
    client.post(reverse("listings:offer-pause", args=[offer.pk]))
    offer.refresh_from_db()
    assert offer.status == ListingStatus.PAUSED
    client.post(reverse("listings:offer-publish", args=[offer.pk]))
    offer.refresh_from_db()
    assert offer.status == ListingStatus.PUBLISHED
    page = client.get(reverse("listings:offer-close", args=[offer.pk])).content.decode()
    assert "Close the listing" in page
    offer.refresh_from_db()
    assert offer.status == ListingStatus.PUBLISHED  # GET only asks
    client.post(reverse("listings:offer-close", args=[offer.pk]))
    offer.refresh_from_db()
    assert offer.status == ListingStatus.CLOSED
    response = client.get(reverse("listings:offer-edit", args=[offer.pk]), follow=True)
    assert "closed and cannot be edited" in response.content.decode()


def test_pause_and_publish_need_post(client, world) -> None:
    client.force_login(world["anna"])
    for name in ("listings:offer-pause", "listings:offer-publish"):
        assert client.get(reverse(name, args=[world["offer"].pk])).status_code == 405


def test_an_unverified_organisation_keeps_drafts_and_is_told_why(client, world) -> None:
    power = world["power"]
    Organization.objects.filter(pk=power.pk).update(verified_at=None)
    client.force_login(world["anna"])
    response = client.post(
        reverse("listings:offer-create"),
        {**_offer_data(world["power_site"]), "publish": "1"},
        follow=True,
    )
    offer = Offer.objects.get(title="Bottom ash")
    assert offer.status == ListingStatus.DRAFT
    page = response.content.decode()
    assert "verifies the organisation before its listings go live" in page
    assert "Awaiting verification" in page
    response = client.post(reverse("listings:offer-publish", args=[offer.pk]), follow=True)
    offer.refresh_from_db()
    assert offer.status == ListingStatus.DRAFT
    assert "verifies the organisation" in response.content.decode()


# --- scoping: another company's ids in every URL -------------------------------------------------


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("listings:offer-detail", "get"),
        ("listings:offer-edit", "get"),
        ("listings:offer-edit", "post"),
        ("listings:offer-publish", "post"),
        ("listings:offer-pause", "post"),
        ("listings:offer-close", "get"),
        ("listings:offer-close", "post"),
    ],
)
def test_another_companys_offer_is_not_found(client, world, name: str, method: str) -> None:
    client.force_login(world["anna"])
    gypsum = world["other_offer"]
    response = getattr(client, method)(reverse(name, args=[gypsum.pk]))
    assert response.status_code == 404
    gypsum.refresh_from_db()
    assert gypsum.status == ListingStatus.PUBLISHED
    assert gypsum.title == "Gypsum"


@pytest.mark.parametrize(
    "name",
    [
        "listings:demand-detail",
        "listings:demand-edit",
        "listings:demand-publish",
        "listings:demand-pause",
        "listings:demand-close",
    ],
)
def test_another_companys_demand_is_not_found(client, world, name: str) -> None:
    client.force_login(world["anna"])
    demand = world["demand"]
    assert client.post(reverse(name, args=[demand.pk])).status_code == 404
    demand.refresh_from_db()
    assert demand.status == ListingStatus.PUBLISHED


def test_other_companies_matches_are_not_found(client, world) -> None:
    third = OrganizationFactory(name="Third")
    third_site = SiteFactory(organization=third)
    foreign = _match(
        OfferFactory(organization=third, site=third_site),
        DemandFactory(organization=world["cement"], site=world["cement_site"]),
    )
    client.force_login(world["anna"])
    assert client.get(reverse("listings:match-detail", args=[foreign.pk])).status_code == 404
    response = client.post(
        reverse("listings:match-respond", args=[foreign.pk]), {"response": "interested"}
    )
    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.offer_response == ""
    assert foreign.pk not in [
        r.match.pk for r in client.get(reverse("listings:match-list")).context["rows"]
    ]


def test_a_member_of_a_closed_organisation_sees_nothing(client, world) -> None:
    Organization.objects.filter(pk=world["power"].pk).update(closed_at="2026-01-01T00:00Z")
    client.force_login(world["anna"])
    assert client.get(reverse("listings:offer-detail", args=[world["offer"].pk])).status_code == 403
    assert client.get(reverse("listings:match-detail", args=[world["match"].pk])).status_code == 403


# --- sites ------------------------------------------------------------------------------------


def test_new_site_is_geocoded_from_its_city(client, world) -> None:
    client.force_login(world["anna"])
    response = client.post(
        reverse("listings:site-create"),
        {"name": "Antwerp depot", "city": "Antwerpen", "country": "BE", "lat": "", "lon": ""},
    )
    assert response.status_code == 302
    site = Site.objects.get(name="Antwerp depot")
    assert site.organization == world["power"]
    assert abs(site.lat - 51.22) < 0.1
    assert abs(site.lon - 4.40) < 0.1
    assert site.region is not None
    assert "Antwerp depot" in client.get(reverse("listings:site-list")).content.decode()


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"city": "Atlantis"}, "city", "We could not find “Atlantis” in Belgium"),
        ({"city": ""}, "city", "Give the city"),
        ({"city": "", "lat": "51.2"}, "lon", "both the latitude and the longitude"),
        ({"city": "", "lat": "95", "lon": "4"}, "lat", "at most 90"),
    ],
)
def test_site_form_explains_location_errors(client, world, data, field, words) -> None:
    client.force_login(world["anna"])
    response = client.post(
        reverse("listings:site-create"),
        {"name": "Depot", "country": "BE", "lat": "", "lon": "", **data},
    )
    assert response.status_code == 200
    assert words in " ".join(response.context["form"].errors[field])


def test_site_with_coordinates_keeps_them(client, world) -> None:
    client.force_login(world["anna"])
    client.post(
        reverse("listings:site-create"),
        {"name": "Jetty", "city": "", "country": "NL", "lat": "51.95", "lon": "4.05"},
    )
    site = Site.objects.get(name="Jetty")
    assert (site.lat, site.lon) == (51.95, 4.05)
    assert site.region == world["rotterdam"]


# --- the List of Waste picker ------------------------------------------------------------------


def test_waste_code_lookup_by_code_prefix_and_words(client, world) -> None:
    client.force_login(world["anna"])
    url = reverse("listings:waste-code-lookup")
    by_code = client.get(url, {"q": "10 01"}).json()["results"]
    assert 0 < len(by_code) <= 20
    assert all(r["code"].startswith("1001") for r in by_code)
    assert by_code[0]["value"] == "10 01 01"
    by_words = client.get(url, {"q": "fly ash"}).json()["results"]
    assert "100102" in [r["code"] for r in by_words]
    assert all("fly" in r["title"].lower() and "ash" in r["title"].lower() for r in by_words)
    assert client.get(url, {"q": ""}).json() == {"results": []}
    assert len(client.get(url, {"q": "waste"}).json()["results"]) == 20


def test_listing_form_loads_the_picker_script(client, world) -> None:
    client.force_login(world["anna"])
    page = client.get(reverse("listings:offer-create")).content.decode()
    assert 'src="/static/js/lookup.js"' in page
    assert f'data-lookup-url="{reverse("listings:waste-code-lookup")}"' in page
    assert "<script>" not in page  # the CSP forbids inline scripts


# --- bulk upload ------------------------------------------------------------------------------


@pytest.fixture
def upload_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path / "uploads"


def _csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER)
    writer.writeheader()
    for row in rows:
        writer.writerow({c: row.get(c, "") for c in HEADER})
    return out.getvalue().encode()


def _row(**cells: str) -> dict:
    return {
        "kind": "offer",
        "organization": "Maasvlakte Power BV",
        "country": "NL",
        "city": "Rotterdam",
        "title": "Gypsum from FGD",
        "low_code": "10 01 05",
        "quantity": "300",
        "unit": "t",
        "frequency": "month",
        **cells,
    }


def _upload(client, data: bytes, name: str = "listings.csv"):
    file = io.BytesIO(data)
    file.name = name
    return client.post(reverse("listings:upload"), {"file": file})


def test_upload_preview_then_confirm(client, world, upload_dir) -> None:
    client.force_login(world["anna"])
    data = _csv(
        [
            _row(ref="P-1"),
            _row(ref="P-2", kind="demand", title="Used oil", low_code="13 02 05*", waste_status=""),
        ]
    )
    response = _upload(client, data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Gypsum from FGD" in page
    assert response.context["summary"].created == {"offer": 1, "demand": 1, "organization": 0}
    assert not Offer.objects.filter(ref="P-1").exists()  # a preview writes nothing
    assert len(list(upload_dir.glob("*.upload"))) == 1

    response = client.post(reverse("listings:upload-confirm"))
    assert response.status_code == 302
    offer = Offer.objects.get(ref="P-1")
    assert offer.organization == world["power"]
    assert offer.status == ListingStatus.PUBLISHED
    assert Demand.objects.get(ref="P-2").organization == world["power"]
    assert list(upload_dir.glob("*.upload")) == []
    # the stash is gone: confirming twice imports nothing more
    response = client.post(reverse("listings:upload-confirm"), follow=True)
    assert "expired" in response.content.decode()


def test_upload_again_previews_updates(client, world, upload_dir) -> None:
    client.force_login(world["anna"])
    _upload(client, _csv([_row(ref="P-1")]))
    client.post(reverse("listings:upload-confirm"))
    response = _upload(client, _csv([_row(ref="P-1", quantity="400"), _row(ref="P-3")]))
    summary = response.context["summary"]
    assert summary.updated["offer"] == 1
    assert summary.created["offer"] == 1
    assert [outcome for _, outcome in response.context["rows"]] == ["updated", "created"]


def test_upload_rejects_rows_of_another_organisation(client, world, upload_dir) -> None:
    client.force_login(world["anna"])
    data = _csv([_row(ref="P-1"), _row(ref="P-2", organization="Cement Works NV")])
    response = _upload(client, data)
    assert response.status_code == 200
    errors = response.context["row_errors"]
    assert [(e.row, e.column) for e in errors] == [(3, "organization")]
    assert "your own organisation" in errors[0].reason
    page = response.content.decode()
    assert "nothing was imported" in page
    assert not Offer.objects.filter(ref__in=["P-1", "P-2"]).exists()
    assert not list(upload_dir.glob("*.upload"))


def test_upload_reports_every_bad_row(client, world, upload_dir) -> None:
    client.force_login(world["anna"])
    data = _csv([_row(ref="P-1", quantity="0"), _row(ref="P-2", unit="barrel", low_code="99")])
    response = _upload(client, data)
    errors = {(e.row, e.column) for e in response.context["row_errors"]}
    assert {(2, "quantity"), (3, "unit"), (3, "low_code")} <= errors
    assert not Offer.objects.filter(ref__startswith="P-").exists()


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("listings.pdf", b"%PDF-1.4", "Upload a .csv or .xlsx file"),
        ("listings.csv", b"a,b\n1,2\n", "The header row must be"),
        ("listings.xlsx", b"not a zip", "not an XLSX workbook"),
    ],
)
def test_upload_rejects_bad_files(client, world, upload_dir, name, data, words) -> None:
    client.force_login(world["anna"])
    response = _upload(client, data, name)
    assert response.status_code == 200
    assert words in " ".join(response.context["form"].errors["file"])


def test_upload_size_limit(client, world, upload_dir, settings) -> None:
    client.force_login(world["anna"])
    response = _upload(client, b"x" * (5 * 1024 * 1024 + 1))
    assert "the limit is 5 MB" in " ".join(response.context["form"].errors["file"])


def test_an_upload_stash_serves_only_its_organisation(client, world, upload_dir) -> None:
    client.force_login(world["anna"])
    _upload(client, _csv([_row(ref="P-1")]))
    stash = client.session["listings_upload"]
    client.force_login(world["bruno"])  # a fresh session: the stash is not in it
    session = client.session
    session["listings_upload"] = stash  # even a copied stash names another organisation
    session.save()
    response = client.post(reverse("listings:upload-confirm"), follow=True)
    assert "expired" in response.content.decode()
    assert not Offer.objects.filter(ref="P-1").exists()


def test_upload_cancel_discards_the_file(client, world, upload_dir) -> None:
    client.force_login(world["anna"])
    _upload(client, _csv([_row(ref="P-1")]))
    client.post(reverse("listings:upload-cancel"))
    assert not list(upload_dir.glob("*.upload"))
    assert "listings_upload" not in client.session


# --- matches ----------------------------------------------------------------------------------


def test_match_list_keeps_the_counterpart_anonymous(client, world) -> None:
    client.force_login(world["anna"])
    response = client.get(reverse("listings:match-list"))
    page = response.content.decode()
    row = response.context["rows"][0]
    assert row.side == "offer"
    assert (
        row.counterpart_label == "an organisation in the Rotterdam and Moerdijk region, NL, 38 km"
    )
    assert "Clinker input" in page
    assert "same code 10 01 02; 38 km by road" in page
    assert "4.5 kg CO₂e per tonne" in page
    assert "Indicative; the competent authorities decide." in page
    for secret in ("Cement Works", "Carla", "carla@cement.example", "555 0002"):
        assert secret not in page


def test_counterpart_label_names_the_sector(client, world) -> None:
    client.force_login(world["bruno"])
    row = client.get(reverse("listings:match-list")).context["rows"][0]
    assert row.side == "demand"
    assert row.counterpart_label.startswith("a company in ")
    assert "(NACE 35.11) in the Rotterdam and Moerdijk region, NL, 38 km" in row.counterpart_label


def test_match_detail_and_answers(client, world) -> None:
    match = world["match"]
    client.force_login(world["anna"])
    page = client.get(reverse("listings:match-detail", args=[match.pk])).content.decode()
    assert "Cement Works" not in page
    assert "same code 10 01 02" in page
    url = reverse("listings:match-respond", args=[match.pk])
    response = client.post(url, {"response": "not_interested", "reason": ""})
    assert response.status_code == 200
    assert "Say why you are not interested" in " ".join(response.context["form"].errors["reason"])
    match.refresh_from_db()
    assert match.offer_response == ""
    response = client.post(url, {"response": "interested"})
    assert response.status_code == 302
    match.refresh_from_db()
    assert match.offer_response == Response.INTERESTED
    assert match.demand_response == ""


def test_identities_are_disclosed_after_introduction_and_two_yeses(client, world) -> None:
    match = world["match"]
    Match.objects.filter(pk=match.pk).update(
        stage=Stage.INTRODUCED, offer_response=Response.INTERESTED
    )
    client.force_login(world["anna"])
    url = reverse("listings:match-detail", args=[match.pk])
    assert "Cement Works" not in client.get(url).content.decode()
    client.force_login(world["bruno"])
    client.post(reverse("listings:match-respond", args=[match.pk]), {"response": "interested"})
    page = client.get(url).content.decode()
    assert "Maasvlakte Power BV" in page
    assert "Piet Power" in page
    client.force_login(world["anna"])
    page = client.get(url).content.decode()
    for shown in ("Cement Works NV", "Carla Cement", "carla@cement.example", "+31 10 555 0002"):
        assert shown in page
    assert "Cement Works NV" in client.get(reverse("listings:match-list")).content.decode()


def test_match_list_filtered_by_listing(client, world) -> None:
    client.force_login(world["anna"])
    url = reverse("listings:match-list")
    assert len(client.get(url, {"offer": world["offer"].pk}).context["rows"]) == 1
    assert client.get(url, {"offer": world["offer"].pk + 1000}).context["rows"] == []


# --- organisation: export and close -----------------------------------------------------------


def test_member_who_is_not_admin_cannot_export_or_close(client, world) -> None:
    client.force_login(world["mia"])
    for name in (
        "listings:organization-export-json",
        "listings:organization-export-csv",
        "listings:organization-close",
    ):
        assert client.get(reverse(name)).status_code == 403
    response = client.post(
        reverse("listings:organization-close"), {"confirm_name": "Maasvlakte Power BV"}
    )
    assert response.status_code == 403
    world["power"].refresh_from_db()
    assert world["power"].closed_at is None
    page = client.get(reverse("listings:organization")).content.decode()
    assert reverse("listings:organization-export-json") not in page


def test_export_json(client, world) -> None:
    client.force_login(world["anna"])
    response = client.get(reverse("listings:organization-export-json"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["organization"]["name"] == "Maasvlakte Power BV"
    assert {m["username"] for m in data["members"]} == {"anna", "mia"}
    assert {m["email"] for m in data["members"]} == {"anna@example.com", "mia@example.com"}
    assert [s["name"] for s in data["sites"]] == ["Power plant"]
    assert [o["title"] for o in data["offers"]] == ["Fly ash"]
    assert data["demands"] == []
    [match] = data["matches"]
    assert match["counterpart"].endswith("Rotterdam and Moerdijk region, NL, 38 km")
    assert "Cement" not in json.dumps(data)


def test_export_csv_escapes_formulas(client, world) -> None:
    OfferFactory(organization=world["power"], site=world["power_site"], title='=HYPERLINK("x")')
    OfferFactory(organization=world["power"], site=world["power_site"], title="@SUM(A1)")
    client.force_login(world["anna"])
    response = client.get(reverse("listings:organization-export-csv"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert set(archive.namelist()) == {
            "organization.csv",
            "members.csv",
            "sites.csv",
            "offers.csv",
            "demands.csv",
            "matches.csv",
        }
        offers = list(csv.DictReader(io.StringIO(archive.read("offers.csv").decode("utf-8-sig"))))
        members = archive.read("members.csv").decode("utf-8-sig")
    titles = {o["title"] for o in offers}
    assert titles == {"Fly ash", '\'=HYPERLINK("x")', "'@SUM(A1)"}
    assert "anna@example.com" in members


def test_close_account(client, world) -> None:
    power, anna, mia = world["power"], world["anna"], world["mia"]
    draft = OfferFactory(organization=power, site=world["power_site"], status="draft")
    Match.objects.filter(pk=world["match"].pk).update(stage=Stage.INTRODUCED)
    client.force_login(anna)
    page = client.get(reverse("listings:organization-close")).content.decode()
    assert "cannot be undone" in page
    response = client.post(reverse("listings:organization-close"), {"confirm_name": "Power"})
    assert "not the organisation's name" in " ".join(
        response.context["form"].errors["confirm_name"]
    )
    power.refresh_from_db()
    assert power.closed_at is None

    response = client.post(
        reverse("listings:organization-close"), {"confirm_name": "maasvlakte power bv"}
    )
    assert response.status_code == 302
    power.refresh_from_db()
    assert power.closed_at is not None
    assert power.name == f"Closed organisation #{power.pk}"
    assert (power.contact_name, power.contact_email, power.contact_phone) == ("", "", "")
    for user in (anna, mia):
        user.refresh_from_db()
        assert user.username == f"closed-user-{user.pk}"
        assert (user.first_name, user.last_name, user.email) == ("", "", "")
        assert not user.is_active
        assert not user.has_usable_password()
    assert set(Offer.objects.filter(organization=power).values_list("status", flat=True)) == {
        "closed"
    }
    draft.refresh_from_db()
    assert draft.status == ListingStatus.CLOSED
    # the anonymised history of reviewed matches stays (proposed ones go with the listing)
    assert Match.objects.filter(pk=world["match"].pk).exists()
    # logged out: the next page asks to log in
    assert client.get(reverse("listings:dashboard")).status_code == 302


# --- facilitators: organisations awaiting verification -----------------------------------------


@pytest.fixture
def pending(world) -> Organization:
    newcomer = OrganizationFactory(name="Newcomer BV", verified_at=None)
    SiteFactory(organization=newcomer, region=world["rotterdam"])
    MembershipFactory(organization=newcomer, user=UserFactory(username="nina"))
    return newcomer


def test_facilitator_verifies_a_pending_organisation(
    client, world, pending, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    facilitator = UserFactory(username="fac")
    world["rotterdam"].facilitators.add(facilitator)
    client.force_login(facilitator)
    page = client.get(reverse("listings:organization-pending")).content.decode()
    assert "Newcomer BV" in page
    assert "Maasvlakte Power" not in page  # verified already
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("listings:organization-verify", args=[pending.pk]))
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.verified_by == facilitator
    assert any("nina@example.com" in m.to for m in mailoutbox)


def test_facilitator_of_another_region_and_others_get_404(client, world, pending) -> None:
    hamburg_fac = UserFactory(username="fac.de")
    HarborRegion.objects.get(code="hamburg").facilitators.add(hamburg_fac)
    client.force_login(hamburg_fac)
    assert (
        "Newcomer BV" not in client.get(reverse("listings:organization-pending")).content.decode()
    )
    assert (
        client.post(reverse("listings:organization-verify", args=[pending.pk])).status_code == 404
    )
    client.force_login(world["anna"])
    assert client.get(reverse("listings:organization-pending")).status_code == 404
    assert (
        client.post(reverse("listings:organization-verify", args=[pending.pk])).status_code == 404
    )
    pending.refresh_from_db()
    assert pending.verified_at is None


def test_staff_see_every_pending_organisation(client, pending) -> None:
    client.force_login(UserFactory(username="staff", is_staff=True))
    assert "Newcomer BV" in client.get(reverse("listings:organization-pending")).content.decode()


def test_verified_organisation_can_publish(client, world, pending) -> None:
    facilitator = UserFactory(username="fac")
    world["rotterdam"].facilitators.add(facilitator)
    site = pending.sites.get()
    offer = OfferFactory(organization=pending, site=site, status="draft")
    nina = User.objects.get(username="nina")
    client.force_login(nina)
    client.post(reverse("listings:offer-publish", args=[offer.pk]))
    offer.refresh_from_db()
    assert offer.status == ListingStatus.DRAFT
    client.force_login(facilitator)
    client.post(reverse("listings:organization-verify", args=[pending.pk]))
    client.force_login(nina)
    client.post(reverse("listings:offer-publish", args=[offer.pk]))
    offer.refresh_from_db()
    assert offer.status == ListingStatus.PUBLISHED
