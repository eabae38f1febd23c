"""Object-level authorisation (OWASP API1): every caller tries every operation that takes an id
with every other caller's ids, and gets 404 (or, where its token lacks the scope, the same 403
whatever the id); nothing changes. Anonymised answers carry no name, contact, exact place or id
that leads back to an organisation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from listings.models import ListingStatus
from matching.models import Match, Response, Stage
from tests.api.conftest import Outsider, World, assert_error, client_for

pytestmark = pytest.mark.django_db

MISSING = 2**62  # an id that exists nowhere


def _org_operations(offer: int, demand: int, site: int) -> list[tuple[str, str, Any]]:
    return [
        ("get", f"/api/v1/listings/offers/{offer}/", None),
        ("patch", f"/api/v1/listings/offers/{offer}/update/", {"title": "hacked"}),
        ("post", f"/api/v1/listings/offers/{offer}/publish/", None),
        ("post", f"/api/v1/listings/offers/{offer}/close/", None),
        ("get", f"/api/v1/matching/offers/{offer}/prospects/", None),
        ("get", f"/api/v1/listings/demands/{demand}/", None),
        ("patch", f"/api/v1/listings/demands/{demand}/update/", {"title": "hacked"}),
        ("post", f"/api/v1/listings/demands/{demand}/publish/", None),
        ("post", f"/api/v1/listings/demands/{demand}/close/", None),
        ("get", f"/api/v1/listings/sites/{site}/", None),
        ("patch", f"/api/v1/listings/sites/{site}/update/", {"name": "hacked"}),
        ("delete", f"/api/v1/listings/sites/{site}/delete/", None),
    ]


def _match_operations(match: int) -> list[tuple[str, str, Any]]:
    return [
        ("get", f"/api/v1/matching/matches/{match}/", None),
        ("post", f"/api/v1/matching/matches/{match}/respond/", {"response": "interested"}),
    ]


def _queue_operations(match: int) -> list[tuple[str, str, Any]]:
    return [
        ("get", f"/api/v1/matching/queue/{match}/", None),
        ("post", f"/api/v1/matching/queue/{match}/stage/", {"stage": "shortlisted"}),
    ]


def _call(token: str, method: str, url: str, body: Any) -> Any:
    return getattr(client_for(token), method)(url, body, format="json")


def _is_refused(response: Any, missing: Any) -> None:
    """404 not_found; or a 403 for the missing scope that says exactly what a missing id says."""
    body = response.json()
    assert set(body) >= {"code", "detail", "errors"}
    if response.status_code == 403:
        assert body["code"] == "permission_denied"
        assert "scope" in body["detail"]
        assert (missing.status_code, missing.json()) == (403, body)
    else:
        assert_error(response, 404, "not_found")
        assert_error(missing, 404, "not_found")


def _foreign_cases(world: World, outsider: Outsider) -> list[tuple[str, str, list[Any]]]:
    a, b = world.a, world.b
    return [
        # (who, token, operations on objects that are not theirs)
        (
            "B",
            b.token,
            _org_operations(a.offer.pk, a.demand.pk, a.site.pk)
            + _match_operations(outsider.match_ac.pk)
            + _queue_operations(world.match_ab.pk),
        ),
        (
            "A",
            a.token,
            _org_operations(b.offer.pk, b.demand.pk, b.site.pk)
            + _match_operations(outsider.match_cb.pk)
            + _queue_operations(world.match_ab.pk),
        ),
        (
            "Rotterdam facilitator",
            world.facilitator_token,
            _org_operations(a.offer.pk, a.demand.pk, a.site.pk)
            + _match_operations(world.match_ab.pk)
            + _queue_operations(outsider.match_cb.pk),
        ),
        (
            "Hamburg facilitator",
            world.other_facilitator_token,
            _org_operations(b.offer.pk, b.demand.pk, b.site.pk)
            + _match_operations(world.match_ba.pk)
            + _queue_operations(world.match_ba.pk),
        ),
    ]


def test_every_caller_gets_404_for_every_other_callers_ids(
    world: World, outsider: Outsider
) -> None:
    for who, token, operations in _foreign_cases(world, outsider):
        for method, url, body in operations:
            response = _call(token, method, url, body)
            missing = _call(token, method, _with_id(url, MISSING), body)
            try:
                _is_refused(response, missing)
            except AssertionError as exc:
                raise AssertionError(f"{who}: {method.upper()} {url}: {exc}") from exc
    # and nothing changed
    for party in (world.a, world.b):
        party.offer.refresh_from_db()
        party.demand.refresh_from_db()
        party.site.refresh_from_db()
        assert party.offer.title != "hacked"
        assert party.demand.title != "hacked"
        assert party.offer.status == party.demand.status == ListingStatus.PUBLISHED
        assert party.site.name != "hacked"
    for match in (world.match_ab, world.match_ba, outsider.match_ac, outsider.match_cb):
        match.refresh_from_db()
        assert match.stage == Stage.PROPOSED
        assert match.offer_response == match.demand_response == Response.PENDING


def _with_id(url: str, new_id: int) -> str:
    parts = url.split("/")
    index = next(i for i, part in enumerate(parts) if part.isdigit())
    parts[index] = str(new_id)
    return "/".join(parts)


def test_owners_reach_their_own_objects(world: World) -> None:
    """The same operations succeed for the owner: the 404s above are about ownership."""
    a = world.a
    for method, url, body in _org_operations(a.offer.pk, a.demand.pk, a.site.pk):
        if method in ("get", "patch"):
            response = _call(a.token, method, url, body)
            assert response.status_code == 200, (url, response.content)
    response = _call(
        a.token,
        "post",
        f"/api/v1/matching/matches/{world.match_ab.pk}/respond/",
        {"response": "interested"},
    )
    assert response.status_code == 200
    response = _call(
        world.facilitator_token,
        "post",
        f"/api/v1/matching/queue/{world.match_ab.pk}/stage/",
        {"stage": "shortlisted"},
    )
    assert response.status_code == 200


def test_lists_show_only_the_callers_objects(world: World, outsider: Outsider) -> None:
    a = client_for(world.a.token)
    offers = a.get("/api/v1/listings/offers/").json()["results"]
    assert [o["id"] for o in offers] == [world.a.offer.pk]
    sites = a.get("/api/v1/listings/sites/").json()["results"]
    assert [s["id"] for s in sites] == [world.a.site.pk]
    matches = {m["id"] for m in a.get("/api/v1/matching/matches/").json()["results"]}
    assert matches == {world.match_ab.pk, world.match_ba.pk, outsider.match_ac.pk}
    queue = client_for(world.facilitator_token).get("/api/v1/matching/queue/").json()["results"]
    assert outsider.match_cb.pk not in {m["id"] for m in queue}
    facilitator = client_for(world.facilitator_token)
    assert facilitator.get("/api/v1/listings/offers/").json()["results"] == []
    assert facilitator.get("/api/v1/matching/matches/").json()["results"] == []


def test_creating_with_another_organisations_site_is_refused(world: World) -> None:
    a = client_for(world.a.token)
    body = {
        "site": world.b.site.pk,
        "title": "Slag",
        "waste_code": "100202",
        "quantity": "10",
        "unit": "t",
        "frequency": "month",
    }
    error = assert_error(
        a.post("/api/v1/listings/offers/create/", body, format="json"), 400, "invalid"
    )
    assert "site" in error["errors"]
    moved = a.patch(
        f"/api/v1/listings/offers/{world.a.offer.pk}/update/",
        {"site": world.b.site.pk},
        format="json",
    )
    assert "site" in assert_error(moved, 400, "invalid")["errors"]


def test_facilitator_cannot_create_for_an_organisation(world: World) -> None:
    response = client_for(world.facilitator_token).post(
        "/api/v1/listings/sites/create/",
        {"name": "x", "country": "NL", "lat": 52, "lon": 4},
        format="json",
    )
    assert_error(response, 403, "permission_denied")


def _secrets(world: World) -> list[str]:
    parties = (world.a, world.b)
    return [
        *(p.organization.name for p in parties),
        *(p.organization.contact_email for p in parties),
        *(p.user.email for p in parties),
        *(p.site.name for p in parties),
        "Secretville",
        *(f"{p.site.lat}" for p in parties),
        *(f"{p.site.lon}" for p in parties),
    ]


def test_public_search_leaks_no_identity(world: World) -> None:
    client = client_for(world.a.token)
    pages = [
        client.get("/api/v1/listings/public/").json(),
        client.get("/api/v1/listings/public/?kind=demand").json(),
        client.get("/api/v1/listings/public/?lat=51.2&lon=4.4&radius_km=100").json(),
    ]
    rows = [row for page in pages for row in page["results"]]
    assert rows
    detail = client.get(f"/api/v1/listings/public/{world.b.offer.public_id}/").json()
    text = json.dumps([*pages, detail])
    for secret in _secrets(world):
        assert secret not in text, secret
    for row in [*rows, detail]:
        assert "id" not in row
        assert "site" not in row
        assert "organization" not in row
        assert row["public_id"] not in {str(world.a.offer.pk), str(world.b.offer.pk)}
        assert round(row["approx_lat"], 1) == row["approx_lat"]
        assert round(row["approx_lon"], 1) == row["approx_lon"]
    assert {row["public_id"][:4] for row in pages[0]["results"]} == {"off_"}


def test_public_ids_are_random_and_unlinkable(world: World) -> None:
    a_offer, a_demand = world.a.offer.public_id, world.a.demand.public_id
    assert a_offer.startswith("off_")
    assert a_demand.startswith("dem_")
    assert a_offer[4:] != a_demand[4:]
    assert str(world.a.offer.pk) not in a_offer
    # a listing is found by its public id, never by its primary key
    client = client_for(world.b.token)
    assert client.get(f"/api/v1/listings/public/{a_offer}/").status_code == 200
    assert_error(client.get(f"/api/v1/listings/public/{world.a.offer.pk}/"), 404, "not_found")
    assert_error(client.get("/api/v1/listings/public/off_AAAAAAAAAAAAAAAA/"), 404, "not_found")


def test_radius_search_measures_to_the_rounded_location(world: World) -> None:
    """A tiny radius at the exact site finds nothing; at the rounded point it does, so radius
    searches cannot triangulate a site closer than 0.1 degree."""
    client = client_for(world.b.token)
    site = world.a.site  # 51.9537, 4.0441 → rounded 52.0, 4.0 (about 6 km away)
    exact = client.get(f"/api/v1/listings/public/?lat={site.lat}&lon={site.lon}&radius_km=2")
    assert exact.json()["results"] == []
    rounded = client.get("/api/v1/listings/public/?lat=52.0&lon=4.0&radius_km=0.5").json()
    assert [r["public_id"] for r in rounded["results"]] == [world.a.offer.public_id]
    assert rounded["results"][0]["distance_km"] == 0.0


def test_redacts_the_organisation_name_from_free_text(world: World) -> None:
    row = client_for(world.b.token).get(f"/api/v1/listings/public/{world.a.offer.public_id}/")
    assert row.json()["title"] == "Fly ash from [organisation]"


def test_match_counterpart_is_anonymous_until_both_sides_agree(world: World) -> None:
    a = client_for(world.a.token)
    url = f"/api/v1/matching/matches/{world.match_ab.pk}/"
    before = a.get(url).json()
    assert before["contact"] is None
    text = json.dumps(before)
    for secret in (world.b.organization.name, world.b.organization.contact_email, "Secretville"):
        assert secret not in text
    assert set(before["counterpart"]) == {
        "label",
        "title",
        "resource_type",
        "waste_code",
        "annual_quantity",
        "base_unit",
    }
    Match.objects.filter(pk=world.match_ab.pk).update(
        stage=Stage.INTRODUCED,
        offer_response=Response.INTERESTED,
        demand_response=Response.INTERESTED,
    )
    after = a.get(url).json()
    assert after["contact"]["organization"] == world.b.organization.name


def test_prospects_are_anonymous(world: World) -> None:
    response = client_for(world.a.token).get(
        f"/api/v1/matching/offers/{world.a.offer.pk}/prospects/"
    )
    rows = response.json()["results"]
    assert len(rows) == 1
    text = json.dumps(rows)
    assert world.b.organization.name not in text
    assert "organization" not in rows[0]
    assert "id" not in rows[0]


def test_an_organisation_token_answers_for_its_organisation_only(world: World) -> None:
    """A member of both sides answering with A's token answers for A's side only."""
    from tests.factories import MembershipFactory

    MembershipFactory(organization=world.b.organization, user=world.a.user)
    match = world.match_ba  # B's offer → A's demand: the user is now a member of both sides
    client_for(world.a.token).post(
        f"/api/v1/matching/matches/{match.pk}/respond/", {"response": "interested"}, format="json"
    )
    match.refresh_from_db()
    assert match.demand_response == Response.INTERESTED
    assert match.offer_response == Response.PENDING
