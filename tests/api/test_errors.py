"""One error shape, {"code", "detail", "errors"}, with stable codes, and never a 500 for bad
input. Several cases here are regressions the fuzzer found."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from listings.models import ListingStatus
from tests.api.conftest import World, assert_error, client_for

pytestmark = pytest.mark.django_db

PUBLIC = "/api/v1/listings/public/"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("waste_code=abc", "waste_code"),
        ("waste_code=123", "waste_code"),
        ("kind=widgets", "kind"),
        ("resource_type=plasma", "resource_type"),
        ("country=XYZ", "country"),
        ("country=ZZ", "country"),
        ("region=atlantis", "region"),
        ("category=unobtainium", "category"),
        ("quantity_min=lots", "quantity_min"),
        ("quantity_max=-1", "quantity_max"),
        ("quantity_min=NaN", "quantity_min"),
        ("lat=51.9", "lon"),
        ("lat=51.9&lon=4.1", "radius_km"),
        ("lat=91&lon=4&radius_km=10", "lat"),
        ("lat=51&lon=4&radius_km=5000", "radius_km"),
        ("lat=51&lon=4&radius_km=0", "radius_km"),
        ("page_size=0", "page_size"),
        ("page_size=100000", "page_size"),
        ("page_size=ten", "page_size"),
        ("cursor=garbage", "cursor"),
        ("cursor=cD0yMDI2LTAxLTAx", "cursor"),  # a valid DRF cursor, but not signed by us
        ("waste_code=10%0001", "waste_code"),  # a NUL byte
    ],
)
def test_bad_query_parameters_are_400_invalid(world: World, query: str, field: str) -> None:
    response = client_for(world.a.token).get(f"{PUBLIC}?{query}")
    body = assert_error(response, 400, "invalid")
    assert field in body["errors"], body


def test_missing_credentials_are_401_with_a_challenge(world: World) -> None:
    response = client_for().get(PUBLIC)
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "header",
    [
        "Bearer nonsense",
        "Bearer sx_000000000000_secret",
        "Bearer a b",
        "Bearer",
    ],
)
def test_bad_tokens_are_401_authentication_failed(world: World, header: str) -> None:
    client = client_for()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert_error(client.get(PUBLIC), 401, "authentication_failed")


def test_a_wrong_secret_with_a_real_prefix_fails(world: World) -> None:
    tampered = world.a.token[:-4] + "AAAA"
    assert_error(client_for(tampered).get(PUBLIC), 401, "authentication_failed")


def test_a_read_only_token_cannot_write(world: World) -> None:
    from listings import services
    from listings.models import ApiToken

    issued = services.api_token_create(
        user=world.a.user,
        name="read only",
        kind=ApiToken.Kind.ORGANIZATION,
        organization=world.a.organization,
        scopes=["read"],
    )
    client = client_for(issued.secret)
    assert client.get(f"/api/v1/listings/offers/{world.a.offer.pk}/").status_code == 200
    response = client.post(f"/api/v1/listings/offers/{world.a.offer.pk}/close/")
    body = assert_error(response, 403, "permission_denied")
    assert "'write'" in body["detail"]


def test_an_organisation_token_cannot_facilitate(world: World) -> None:
    response = client_for(world.a.token).get("/api/v1/matching/queue/")
    assert "'facilitate'" in assert_error(response, 403, "permission_denied")["detail"]


def test_unknown_urls_under_api_are_json_404(world: World) -> None:
    client = client_for(world.a.token)
    for url in (
        "/api/v1/nothing/",
        "/api/v1/listings/offers/-1/",
        "/api/v1/listings/offers/99999999999999999999999/",
    ):
        response = client.get(url)
        assert_error(response, 404, "not_found")
        assert response["Content-Type"] == "application/json"


def test_unknown_object_is_404(world: World) -> None:
    response = client_for(world.a.token).get("/api/v1/listings/waste-codes/999999/")
    assert_error(response, 404, "not_found")
    response = client_for(world.a.token).get("/api/v1/listings/waste-codes/garbage/")
    assert_error(response, 404, "not_found")


def test_wrong_method_is_405(world: World) -> None:
    response = client_for(world.a.token).delete(PUBLIC)
    assert_error(response, 405, "method_not_allowed")


def test_validation_errors_are_keyed_by_field(world: World) -> None:
    response = client_for(world.a.token).post(
        "/api/v1/listings/offers/create/",
        {"site": world.a.site.pk, "quantity": "-3", "unit": "bushel", "waste_code": "99"},
        format="json",
    )
    errors = assert_error(response, 400, "invalid")["errors"]
    assert {"title", "quantity", "unit", "frequency", "waste_code"} <= set(errors)
    assert all(isinstance(messages, list) for messages in errors.values())


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quantity_min": "5000"}, "quantity_min"),  # above the demand's quantity (1000)
        ({"available_from": "2027-01-01", "available_until": "2026-01-01"}, "available_until"),
        ({"unit": "MWh"}, "unit"),  # energy unit on a material demand
        ({"accepted_codes": ["999999"]}, "accepted_codes"),
        ({"accepted_categories": ["nope"]}, "accepted_categories"),
        ({"operation": "R99"}, "operation"),
        ({"max_distance_km": 0}, "max_distance_km"),
        ({"ref": "x" * 81}, "ref"),
    ],
)
def test_database_constraints_are_checked_before_the_write(
    world: World, body: dict[str, Any], field: str
) -> None:
    """Regressions: each of these reached a database constraint (a 500) before validation."""
    response = client_for(world.a.token).patch(
        f"/api/v1/listings/demands/{world.a.demand.pk}/update/", body, format="json"
    )
    assert field in assert_error(response, 400, "invalid")["errors"]


def test_a_ref_in_use_elsewhere_is_invalid_not_a_500(world: World) -> None:
    world.b.offer.ref = "SHARED-1"
    world.b.offer.save(update_fields=["ref"])
    response = client_for(world.a.token).patch(
        f"/api/v1/listings/offers/{world.a.offer.pk}/update/", {"ref": "SHARED-1"}, format="json"
    )
    assert "ref" in assert_error(response, 400, "invalid")["errors"]


def test_site_country_is_validated_not_a_500(world: World) -> None:
    """Regression (fuzzer): the country code reached a length check as a Country object."""
    client = client_for(world.a.token)
    body = {"name": "Depot", "country": "NL", "lat": 51.9, "lon": 4.4}
    assert client.post("/api/v1/listings/sites/create/", body, format="json").status_code == 201
    bad = client.post("/api/v1/listings/sites/create/", {**body, "country": "QQ"}, format="json")
    assert "country" in assert_error(bad, 400, "invalid")["errors"]


def test_malformed_json_and_lone_surrogates_are_400(world: World) -> None:
    client = client_for(world.a.token)
    url = "/api/v1/listings/sites/create/"
    for raw in (b"{not json", b'{"name": "\\ud800", "country": "NL", "lat": 1, "lon": 1}'):
        response = client.post(url, raw, content_type="application/json")
        assert_error(response, 400, "parse_error")
    response = client.post(url, b'{"lat": NaN}', content_type="application/json")
    assert_error(response, 400, "parse_error")


def test_nul_bytes_in_a_body_are_invalid(world: World) -> None:
    response = client_for(world.a.token).post(
        "/api/v1/listings/sites/create/",
        {"name": "a\x00b", "country": "NL", "lat": 1, "lon": 1},
        format="json",
    )
    assert "name" in assert_error(response, 400, "invalid")["errors"]


def test_domain_conflicts_carry_their_codes(world: World) -> None:
    client = client_for(world.a.token)
    offer = f"/api/v1/listings/offers/{world.a.offer.pk}"
    assert_error(client.post(f"{offer}/publish/"), 409, "listing_not_publishable")
    assert client.post(f"{offer}/close/").status_code == 200
    assert_error(client.post(f"{offer}/close/"), 409, "listing_closed")
    assert_error(
        client.patch(f"{offer}/update/", {"title": "x"}, format="json"), 409, "listing_closed"
    )
    world.a.offer.refresh_from_db()
    assert world.a.offer.status == ListingStatus.CLOSED
    site = client.delete(f"/api/v1/listings/sites/{world.a.site.pk}/delete/")
    body = assert_error(site, 409, "site_in_use")
    assert body["extra"] == {"site_id": world.a.site.pk}


def test_workflow_errors_carry_their_codes(world: World) -> None:
    facilitator = client_for(world.facilitator_token)
    url = f"/api/v1/matching/queue/{world.match_ab.pk}/stage/"
    assert_error(
        facilitator.post(url, {"stage": "rejected"}, format="json"), 400, "match_note_required"
    )
    body = assert_error(
        facilitator.post(url, {"stage": "implemented"}, format="json"), 409, "match_stage_invalid"
    )
    assert "allowed" in body["extra"]
    respond = f"/api/v1/matching/matches/{world.match_ab.pk}/respond/"
    assert_error(
        client_for(world.a.token).post(respond, {"response": "not_interested"}, format="json"),
        400,
        "match_note_required",
    )


def test_shipment_question_errors_name_the_field(world: World) -> None:
    client = client_for(world.a.token)
    url = "/api/v1/matching/shipment-procedure/"
    base = "origin=BE&destination=NL&status=waste&operation=R5"
    ok = client.get(f"{url}?{base}&low_code=100102")
    assert ok.status_code == 200
    assert set(ok.json()) == {"procedure", "flags", "legal_basis", "documents", "indicative"}
    body = assert_error(client.get(f"{url}?{base}&low_code=999999"), 400, "shipment_input_invalid")
    assert "low_code" in body["errors"]
    body = assert_error(
        client.get(f"{url}?{base.replace('R5', 'R77')}"), 400, "shipment_input_invalid"
    )
    assert "operation" in body["errors"]
    body = assert_error(client.get(f"{url}?origin=BE"), 400, "invalid")
    assert {"destination", "status", "operation"} <= set(body["errors"])


def test_impact_with_an_unknown_region(world: World) -> None:
    response = client_for(world.a.token).get("/api/v1/matching/impact/?region=atlantis")
    assert_error(response, 400, "harbor_region_unknown")
    rows = client_for(world.a.token).get("/api/v1/matching/impact/?region=rotterdam-moerdijk")
    assert rows.status_code == 200
    assert {row["region"] for row in rows.json()["rows"]} == {"rotterdam-moerdijk"}


@override_settings(
    REST_FRAMEWORK={
        **__import__("django.conf").conf.settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"read": "3/h", "write": "1/h", "facilitate": "2/h"},
    }
)
def test_throttling_is_per_token_and_scope_with_retry_after(world: World) -> None:
    a, b = client_for(world.a.token), client_for(world.b.token)
    for _ in range(3):
        assert a.get(PUBLIC).status_code == 200
    throttled = a.get(PUBLIC)
    body = assert_error(throttled, 429, "throttled")
    assert 1 <= int(throttled["Retry-After"]) <= 3600  # hourly windows: no edge within a test
    assert "seconds" in body["detail"]
    assert b.get(PUBLIC).status_code == 200  # another token has its own counter
    # the write scope has its own counter too
    response = a.patch(
        f"/api/v1/listings/offers/{world.a.offer.pk}/update/", {"title": "New"}, format="json"
    )
    assert response.status_code == 200
