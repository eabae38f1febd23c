"""The facilitator portal: every page and action, who may reach it, what it shows, and what it
costs in queries."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from matching import selectors
from matching.models import Match, MatchEvent, MatchingRun, Prospect, Stage, Workshop
from tests.factories import DemandFactory, OfferFactory, SiteFactory, UserFactory
from tests.matching.portal_world import build_world, make_match

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict[str, Any]:
    data = build_world()
    data["run"] = MatchingRun.objects.create(scoring_version="t", total_chunks=4, done_chunks=1)
    data["workshop"] = Workshop.objects.create(
        name="Port breakfast", date=timezone.localdate(), region=data["rotterdam"]
    )
    data["workshop"].attendees.set([data["power"], data["cement"]])
    data["prospect"] = Prospect.objects.create(
        offer=data["offer"],
        organization=data["steel"],
        score=0.6,
        sector_score=0.7,
        distance_km=420,
        rank=1,
        explanation="steel (NACE 24.10) uses fly ash",
        scoring_version="t",
    )
    return data


def _urls(world: dict[str, Any]) -> dict[str, str]:
    return {
        "queue": reverse("facilitate:queue"),
        "map": reverse("facilitate:map"),
        "map-data": reverse("facilitate:map-data"),
        "impact": reverse("facilitate:impact"),
        "runs": reverse("facilitate:runs"),
        "workshops": reverse("facilitate:workshops"),
        "workshop-new": reverse("facilitate:workshop-new"),
        "match-detail": reverse("facilitate:match-detail", args=[world["match"].pk]),
        "offer-prospects": reverse("facilitate:offer-prospects", args=[world["offer"].pk]),
        "run-detail": reverse("facilitate:run-detail", args=[world["run"].pk]),
        "run-progress": reverse("facilitate:run-progress", args=[world["run"].pk]),
        "workshop-detail": reverse("facilitate:workshop-detail", args=[world["workshop"].pk]),
    }


PAGES = [
    "queue",
    "map",
    "map-data",
    "impact",
    "runs",
    "workshops",
    "workshop-new",
    "match-detail",
    "offer-prospects",
    "run-detail",
    "run-progress",
    "workshop-detail",
]
# Rotterdam's objects: a Hamburg facilitator gets a 404 on each.
ROTTERDAM_OBJECTS = ["match-detail", "offer-prospects", "workshop-detail"]


# --- trust ----------------------------------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_is_sent_to_login(client, world: dict, page: str) -> None:
    response = client.get(_urls(world)[page])
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("page", PAGES)
def test_company_user_gets_404(client, world: dict, page: str) -> None:
    client.force_login(world["anna"])
    assert client.get(_urls(world)[page]).status_code == 404


@pytest.mark.parametrize("page", PAGES)
def test_facilitator_reaches_every_page(client, world: dict, page: str) -> None:
    client.force_login(world["facilitator"])
    assert client.get(_urls(world)[page]).status_code == 200


@pytest.mark.parametrize("page", ROTTERDAM_OBJECTS)
def test_other_regions_facilitator_gets_404(client, world: dict, page: str) -> None:
    client.force_login(world["outsider"])
    assert client.get(_urls(world)[page]).status_code == 404


def test_other_regions_impact_is_404(client, world: dict) -> None:
    client.force_login(world["outsider"])
    url = reverse("facilitate:impact")
    assert client.get(url, {"region": "rotterdam-moerdijk"}).status_code == 404
    assert client.get(url, {"region": "hamburg"}).status_code == 200
    assert client.get(url, {"region": "no-such-region"}).status_code == 404


def test_other_regions_matches_never_listed(client, world: dict) -> None:
    client.force_login(world["outsider"])
    queue = client.get(reverse("facilitate:queue")).content.decode()
    assert f'data-match="{world["other"].pk}"' in queue
    assert f'data-match="{world["match"].pk}"' not in queue
    data = client.get(reverse("facilitate:map-data")).json()
    assert [m["id"] for m in data["matches"]] == [world["other"].pk]
    assert {s["organization"] for s in data["sites"]} == {"Steel DE", "Recycler DE"}
    workshops = client.get(reverse("facilitate:workshops")).content.decode()
    assert "Port breakfast" not in workshops


@pytest.mark.parametrize("who", [None, "anna", "outsider"])
def test_nobody_else_can_move_a_match(client, world: dict, who: str | None) -> None:
    if who:
        client.force_login(world[who])
    response = client.post(_urls(world)["match-detail"], {"to_stage": "shortlisted", "note": "x"})
    assert response.status_code == (302 if who is None else 404)
    assert Match.objects.get(pk=world["match"].pk).stage == Stage.PROPOSED
    assert not MatchEvent.objects.exists()


@pytest.mark.parametrize("who", [None, "anna"])
def test_nobody_else_can_rematch_or_upload(client, world: dict, who: str | None) -> None:
    if who:
        client.force_login(world[who])
    runs = MatchingRun.objects.count()
    assert client.post(reverse("facilitate:runs")).status_code in (302, 404)
    assert MatchingRun.objects.count() == runs
    response = client.post(reverse("facilitate:workshop-new"), {"name": "x"})
    assert response.status_code == (302 if who is None else 404)
    assert Workshop.objects.count() == 1


def test_staff_sees_every_region(client, world: dict) -> None:
    client.force_login(UserFactory(username="staff", is_staff=True))
    queue = client.get(reverse("facilitate:queue")).content.decode()
    assert f'data-match="{world["match"].pk}"' in queue
    assert f'data-match="{world["other"].pk}"' in queue


# --- the queue ------------------------------------------------------------------------------


def _listed(response: Any) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-match="(\d+)"', response.content.decode())]


def test_queue_shows_identities_and_flags_overdue(client, world: dict) -> None:
    late = make_match(
        world["offer"],
        DemandFactory(organization=world["cement"], site=world["demand"].site, title="Filler"),
        score=0.5,
        stage=Stage.INTRODUCED,
        stage_changed_at=timezone.now() - timedelta(days=8),
    )
    client.force_login(world["facilitator"])
    response = client.get(reverse("facilitate:queue"))
    html = response.content.decode()
    assert _listed(response) == [world["match"].pk, late.pk]
    assert "Power NL" in html
    assert "Cement NL" in html
    assert "10 01 02" in html
    assert html.count("overdue-badge") == 1
    overdue = client.get(reverse("facilitate:queue"), {"overdue": "true"})
    assert _listed(overdue) == [late.pk]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["nl", "be"]),
        ({"origin": "BE"}, ["be"]),
        ({"destination": "NL", "origin": "NL"}, ["nl"]),
        ({"chapter": "10"}, ["nl"]),
        ({"chapter": "19"}, ["be"]),
        ({"procedure": "general_information"}, ["be"]),
        ({"min_score": "0.7"}, ["nl"]),
        ({"stage": "shortlisted"}, ["be"]),
        ({"stage": "rejected"}, ["gone"]),
        ({"stage": "all"}, ["nl", "be", "gone"]),
    ],
)
def test_queue_filters(client, world: dict, params: dict, expected: list[str]) -> None:
    be_site = SiteFactory(
        organization=world["power"], country_id="BE", region=world["rotterdam"], lat=51.2, lon=4.4
    )
    be_offer = OfferFactory(organization=world["power"], site=be_site, waste_code_id="190112")
    matches = {
        "nl": world["match"],
        "be": make_match(
            be_offer,
            world["demand"],
            score=0.6,
            stage=Stage.SHORTLISTED,
            legal_procedure="general_information",
        ),
        "gone": make_match(
            OfferFactory(organization=world["power"], site=world["offer"].site),
            world["demand"],
            score=0.9,
            stage=Stage.REJECTED,
        ),
    }
    client.force_login(world["facilitator"])
    response = client.get(reverse("facilitate:queue"), params)
    assert response.status_code == 200
    by_score = sorted(expected, key=lambda k: -matches[k].score)
    assert _listed(response) == [matches[k].pk for k in by_score]


def test_queue_region_filter_cannot_widen_the_scope(client, world: dict) -> None:
    client.force_login(world["facilitator"])
    response = client.get(reverse("facilitate:queue"), {"region": world["hamburg"].pk})
    assert _listed(response) == []
    assert "Select a valid choice" in response.content.decode()
    mine = client.get(reverse("facilitate:queue"), {"region": world["rotterdam"].pk})
    assert _listed(mine) == [world["match"].pk]


def test_queue_keyset_pages_break_ties_by_id(world: dict) -> None:
    offer, demand_site = world["offer"], world["demand"].site
    extra = [
        make_match(offer, DemandFactory(organization=world["cement"], site=demand_site), score=s)
        for s in (0.5, 0.5, 0.5, 0.4, 0.3)
    ]
    regions = selectors.facilitator_regions(user=world["facilitator"])
    seen, after = [], None
    for _ in range(10):
        page = selectors.match_queue_page_for_facilitator(
            user=world["facilitator"], regions=regions, params={}, after=after, limit=2
        )
        seen += [m.pk for m in page.matches]
        after = page.next_cursor
        if after is None:
            break
    expected = [world["match"], *sorted(extra, key=lambda m: (-m.score, m.pk))]
    assert seen == [m.pk for m in expected]


def test_queue_follows_the_next_link(client, world: dict) -> None:
    offer, demand_site = world["offer"], world["demand"].site
    for n in range(55):
        make_match(
            offer,
            DemandFactory(organization=world["cement"], site=demand_site),
            score=0.5 - n / 1000,
        )
    client.force_login(world["facilitator"])
    first = client.get(reverse("facilitate:queue"))
    assert len(_listed(first)) == 50
    href = re.search(r'href="(\?[^"]*)" rel="next"', first.content.decode()).group(1)
    second = client.get(reverse("facilitate:queue") + href.replace("&amp;", "&"))
    assert len(_listed(second)) == 6
    assert not set(_listed(first)) & set(_listed(second))
    assert 'rel="next"' not in second.content.decode()


@pytest.mark.parametrize("after", ["garbage", "2.0_5", "0.5_x", "0.5_-1"])
def test_queue_bad_cursor_is_400(client, world: dict, after: str) -> None:
    client.force_login(world["facilitator"])
    response = client.get(reverse("facilitate:queue"), {"after": after})
    assert response.status_code == 400
    assert "bad cursor" in response.content.decode()


def test_queue_bad_filter_value_is_not_a_500(client, world: dict) -> None:
    client.force_login(world["facilitator"])
    response = client.get(reverse("facilitate:queue"), {"min_score": "abc", "stage": "nope"})
    assert response.status_code == 200
    assert _listed(response) == []


def _queue_queries(client, django_assert_num_queries, expected: int) -> None:
    with django_assert_num_queries(expected):
        response = client.get(reverse("facilitate:queue"))
    assert response.status_code == 200


def test_queue_query_count_does_not_grow_with_rows(
    client, world: dict, django_assert_num_queries
) -> None:
    client.force_login(world["facilitator"])
    # session, user, the facilitator's regions (shared with the nav), the page, its regions
    _queue_queries(client, django_assert_num_queries, 5)
    site = SiteFactory(organization=world["cement"], region=world["hamburg"], country_id="DE")
    for n in range(40):
        make_match(
            world["offer"],
            DemandFactory(organization=world["cement"], site=site),
            score=0.5 - n / 1000,
        )
    _queue_queries(client, django_assert_num_queries, 5)


# --- the match page -------------------------------------------------------------------------


def test_match_page_shows_everything_needed_to_judge(client, world: dict) -> None:
    client.force_login(world["facilitator"])
    response = client.get(_urls(world)["match-detail"])
    html = response.content.decode()
    for text in ("Power NL", "Cement NL", "same code 10 01 02", "38 km", "road", "Material"):
        assert text in html
    assert "€ 4500" in html  # 4.5 €/t × 1000 t/yr
    assert "3.6 kg / t" in html
    assert "indicative" in html  # the legal procedure, recomputed with its documents
    assert 'name="to_stage" value="shortlisted"' in html
    assert 'name="to_stage" value="implemented"' not in html
    assert "Prospects for this offer" in html


def test_match_page_query_count_is_fixed(client, world: dict, django_assert_num_queries) -> None:
    client.force_login(world["facilitator"])
    for note in ("a", "b", "c"):
        MatchEvent.objects.create(match=world["match"], kind="note", note=note)
    with django_assert_num_queries(13):  # session, user, regions, match, 8 prefetches, events
        response = client.get(_urls(world)["match-detail"])
    assert response.content.decode().count("<small>a</small>") == 1


def test_match_actions_walk_the_pipeline(
    client, world: dict, django_capture_on_commit_callbacks
) -> None:
    client.force_login(world["facilitator"])
    url = _urls(world)["match-detail"]
    assert client.post(url, {"to_stage": "shortlisted", "note": "fits"}).status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"to_stage": "introduced"})
    assert {a for m in mail.outbox for a in m.to} >= {"power@example.com", "cement@example.com"}
    client.post(url, {"to_stage": "negotiating"})
    response = client.post(
        url, {"to_stage": "implemented", "tonnes_per_year": "800", "eur_saved_per_year": "12000"}
    )
    assert response.status_code == 302
    match = Match.objects.get(pk=world["match"].pk)
    assert match.stage == Stage.IMPLEMENTED
    assert (match.implemented_tonnes_per_year, match.implemented_eur_saved_per_year) == (
        800,
        12000,
    )
    trail = client.get(url).content.decode()
    assert "proposed → shortlisted" in trail
    assert "fits" in trail
    assert list(match.events.values_list("to_stage", flat=True)) == [
        "shortlisted",
        "introduced",
        "negotiating",
        "implemented",
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"to_stage": "rejected"}, "Say why the match is rejected."),
        ({"to_stage": "implemented"}, "cannot move to implemented"),
        ({"to_stage": "negotiating"}, "cannot move to negotiating"),
        ({"to_stage": "bogus"}, "Select a valid choice"),
        ({"to_stage": "rejected", "tonnes_per_year": "-1", "note": "x"}, "greater than or equal"),
    ],
)
def test_match_action_errors_are_messages(client, world: dict, data: dict, message: str) -> None:
    client.force_login(world["facilitator"])
    response = client.post(_urls(world)["match-detail"], data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Match.objects.get(pk=world["match"].pk).stage == Stage.PROPOSED


def test_reject_with_a_reason(client, world: dict) -> None:
    client.force_login(world["facilitator"])
    client.post(_urls(world)["match-detail"], {"to_stage": "rejected", "note": "too wet"})
    event = MatchEvent.objects.get(match=world["match"])
    assert (event.to_stage, event.note) == ("rejected", "too wet")
    assert event.actor == world["facilitator"]


# --- prospects, map, impact, runs -----------------------------------------------------------


def test_prospects_page_lists_the_ranked_rows(client, world: dict) -> None:
    client.force_login(world["facilitator"])
    html = client.get(_urls(world)["offer-prospects"]).content.decode()
    assert "Steel DE" in html
    assert "steel (NACE 24.10) uses fly ash" in html
    client.force_login(world["outsider"])
    other = reverse("facilitate:offer-prospects", args=[world["other_offer"].pk])
    assert client.get(other).status_code == 200


def test_map_data_colours_and_dashes(client, world: dict) -> None:
    be_site = SiteFactory(organization=world["cement"], country_id="BE", region=world["rotterdam"])
    cross = make_match(world["offer"], DemandFactory(organization=world["cement"], site=be_site))
    client.force_login(world["facilitator"])
    data = client.get(reverse("facilitate:map-data")).json()
    lines = {m["id"]: m for m in data["matches"]}
    assert lines[cross.pk]["cross_border"] is True
    assert lines[world["match"].pk]["cross_border"] is False
    assert data["stage_colours"]["implemented"]
    assert {p["region"] for p in data["ports"]} == {"rotterdam-moerdijk"}
    assert data["match_url"].replace("{id}", "7").endswith("/facilitate/matches/7/")
    stage = client.get(reverse("facilitate:map-data"), {"stage": "implemented"}).json()
    assert stage["matches"] == []


def test_map_page_loads_leaflet_and_outlines_without_inline_script(client, world: dict) -> None:
    client.force_login(world["facilitator"])
    response = client.get(reverse("facilitate:map"))
    html = response.content.decode()
    assert "vendor/leaflet/leaflet.js" in html
    assert "geo/nwe-countries.geojson" in html
    _assert_no_inline_script(html)
    nonce = re.search(r'nonce="([^"]+)"', html).group(1)
    assert f"'nonce-{nonce}'" in response.headers["Content-Security-Policy"]


def _assert_no_inline_script(html: str) -> None:
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag
        assert "nonce=" in tag
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers


def test_impact_dashboard_charts_the_region(client, world: dict) -> None:
    client.force_login(world["facilitator"])
    client.post(_urls(world)["match-detail"], {"to_stage": "shortlisted"})
    response = client.get(reverse("facilitate:impact"), {"region": "rotterdam-moerdijk"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<svg" in html
    assert "Stage moves per month" in html
    assert "NL → NL" in html
    assert html.count("<rect") >= 5


def test_rematch_starts_a_run_and_shows_progress(client, world: dict) -> None:
    world["run"].delete()
    client.force_login(world["facilitator"])
    response = client.post(reverse("facilitate:runs"))
    run = MatchingRun.objects.get()
    assert response["Location"] == reverse("facilitate:run-detail", args=[run.pk])
    assert run.started_by == world["facilitator"]
    page = client.get(response["Location"]).content.decode()
    assert "<progress" in page
    assert "js/run_progress.js" in page
    _assert_no_inline_script(page)
    progress = client.get(reverse("facilitate:run-progress", args=[run.pk])).json()
    assert progress["total_chunks"] == run.total_chunks
    assert progress["done_chunks"] == run.done_chunks


def test_rematch_while_one_runs_goes_to_it(client, world: dict) -> None:
    world["run"].status = MatchingRun.Status.RUNNING
    world["run"].save()
    client.force_login(world["facilitator"])
    response = client.post(reverse("facilitate:runs"))
    assert response["Location"] == reverse("facilitate:run-detail", args=[world["run"].pk])
    assert MatchingRun.objects.count() == 1


def test_progress_json(client, world: dict) -> None:
    client.force_login(world["facilitator"])
    data = client.get(_urls(world)["run-progress"]).json()
    assert data == {
        "id": world["run"].pk,
        "status": "pending",
        "done_chunks": 1,
        "total_chunks": 4,
        "progress": 0.25,
        "matches_written": 0,
        "finished": False,
    }
    missing = reverse("facilitate:run-progress", args=[world["run"].pk + 1000])
    assert client.get(missing).status_code == 404


# --- the nav --------------------------------------------------------------------------------


def test_nav_shows_the_facilitator_section_only_to_facilitators(client, world: dict) -> None:
    client.force_login(world["facilitator"])
    html = client.get(reverse("home")).content.decode()
    assert reverse("facilitate:queue") in html
    assert reverse("facilitate:workshops") in html
    client.force_login(world["anna"])
    assert reverse("facilitate:queue") not in client.get(reverse("home")).content.decode()
    client.logout()
    assert reverse("facilitate:queue") not in client.get(reverse("home")).content.decode()


def test_nav_costs_one_query(client, world: dict, django_assert_num_queries) -> None:
    client.force_login(world["anna"])
    client.get(reverse("home"))
    with django_assert_num_queries(3):  # session, user, and the nav's one region query
        client.get(reverse("home"))
