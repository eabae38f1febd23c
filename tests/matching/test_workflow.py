"""The facilitator pipeline, the companies' answers, and the scoping that keeps identities
hidden: tests that try to break it."""

from __future__ import annotations

import pytest
from django.core import mail

from harbors.models import HarborRegion
from listings.models import Membership
from matching import selectors
from matching.exceptions import (
    MatchNoteRequiredError,
    MatchNotPermittedError,
    MatchOutcomeRequiredError,
    MatchStageInvalidError,
)
from matching.models import Match, MatchEvent, Stage
from matching.workflow import identities_disclosed, match_respond, match_set_stage
from tests.factories import (
    DemandFactory,
    MembershipFactory,
    OfferFactory,
    OrganizationFactory,
    SiteFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _match(offer, demand) -> Match:
    return Match.objects.create(
        offer=offer,
        demand=demand,
        score=0.8,
        material_score=1,
        quantity_score=1,
        distance_score=0.5,
        legal_score=1,
        timing_score=1,
        distance_km=38,
        explanation="same code",
        scoring_version="t",
        offer_version=1,
        demand_version=1,
    )


@pytest.fixture
def world() -> dict:
    rotterdam = HarborRegion.objects.get(code="rotterdam-moerdijk")
    hamburg = HarborRegion.objects.get(code="hamburg")
    power = OrganizationFactory(name="Power NL", contact_email="power@example.com")
    cement = OrganizationFactory(name="Cement NL", contact_email="cement@example.com")
    steel = OrganizationFactory(name="Steel DE", country_id="DE")
    site_p = SiteFactory(organization=power, region=rotterdam)
    site_c = SiteFactory(organization=cement, region=rotterdam)
    site_s = SiteFactory(organization=steel, region=hamburg, country_id="DE", lat=53.5, lon=9.9)
    match = _match(
        OfferFactory(organization=power, site=site_p),
        DemandFactory(organization=cement, site=site_c),
    )
    other = _match(
        OfferFactory(organization=steel, site=site_s),
        DemandFactory(organization=steel, site=site_s, title="x"),
    )
    facilitator, outsider = UserFactory(username="fac"), UserFactory(username="fac.de")
    rotterdam.facilitators.add(facilitator)
    hamburg.facilitators.add(outsider)
    anna = MembershipFactory(organization=power, user=UserFactory(username="anna")).user
    bruno = MembershipFactory(organization=cement, user=UserFactory(username="bruno")).user
    dieter = MembershipFactory(organization=steel, user=UserFactory(username="dieter")).user
    return {
        "match": match,
        "other": other,
        "facilitator": facilitator,
        "outsider": outsider,
        "anna": anna,
        "bruno": bruno,
        "dieter": dieter,
    }


def test_facilitator_moves_a_match_along_with_audit_and_emails(world: dict) -> None:
    match, facilitator = world["match"], world["facilitator"]
    match_set_stage(match=match, user=facilitator, to_stage=Stage.SHORTLISTED, note="good fit")
    with pytest.raises(MatchStageInvalidError):
        match_set_stage(match=match, user=facilitator, to_stage=Stage.IMPLEMENTED)
    match_set_stage(match=match, user=facilitator, to_stage=Stage.INTRODUCED)
    match_set_stage(match=match, user=facilitator, to_stage=Stage.NEGOTIATING)
    with pytest.raises(MatchOutcomeRequiredError):
        match_set_stage(match=match, user=facilitator, to_stage=Stage.IMPLEMENTED)
    match = match_set_stage(
        match=match,
        user=facilitator,
        to_stage=Stage.IMPLEMENTED,
        tonnes_per_year=30000,
        eur_saved_per_year=450000,
    )
    assert match.stage == Stage.IMPLEMENTED
    assert match.implemented_tonnes_per_year == 30000
    events = list(MatchEvent.objects.filter(match=match).values_list("to_stage", "actor__username"))
    assert events == [
        ("shortlisted", "fac"),
        ("introduced", "fac"),
        ("negotiating", "fac"),
        ("implemented", "fac"),
    ]


def test_introduction_emails_both_sides(world: dict, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        match_set_stage(match=world["match"], user=world["facilitator"], to_stage=Stage.INTRODUCED)
    recipients = sorted(address for message in mail.outbox for address in message.to)
    assert "power@example.com" in recipients
    assert "cement@example.com" in recipients
    assert len(mail.outbox) == 2


def test_reject_needs_a_reason(world: dict) -> None:
    with pytest.raises(MatchNoteRequiredError):
        match_set_stage(match=world["match"], user=world["facilitator"], to_stage=Stage.REJECTED)
    match_set_stage(
        match=world["match"],
        user=world["facilitator"],
        to_stage=Stage.REJECTED,
        note="quality unsuitable",
    )
    assert MatchEvent.objects.get(to_stage="rejected").note == "quality unsuitable"


@pytest.mark.parametrize("who", ["outsider", "anna", "dieter"])
def test_nobody_else_moves_a_match(world: dict, who: str) -> None:
    with pytest.raises(MatchNotPermittedError):
        match_set_stage(match=world["match"], user=world[who], to_stage=Stage.SHORTLISTED)
    assert Match.objects.get(pk=world["match"].pk).stage == Stage.PROPOSED
    assert not MatchEvent.objects.exists()


def test_facilitator_queue_is_scoped_to_their_regions(world: dict) -> None:
    queue = selectors.match_queue_for_facilitator(user=world["facilitator"])
    assert list(queue) == [world["match"]]
    assert (
        selectors.match_get_for_facilitator(user=world["facilitator"], match_id=world["other"].pk)
        is None
    )
    assert list(selectors.match_queue_for_facilitator(user=world["outsider"])) == [world["other"]]


def test_company_sees_only_its_own_matches(world: dict) -> None:
    assert list(selectors.match_list_for_company(user=world["anna"])) == [world["match"]]
    assert selectors.match_get_for_company(user=world["anna"], match_id=world["other"].pk) is None
    assert (
        selectors.match_get_for_company(user=world["facilitator"], match_id=world["match"].pk)
        is None
    )


def test_identities_disclosed_only_after_introduction_and_two_yeses(world: dict) -> None:
    match = world["match"]
    match = match_respond(match=match, user=world["anna"], response="interested")
    match = match_respond(match=match, user=world["bruno"], response="interested")
    assert not identities_disclosed(match)  # both said yes, but nobody introduced them yet
    match_set_stage(match=match, user=world["facilitator"], to_stage=Stage.INTRODUCED)
    assert identities_disclosed(Match.objects.get(pk=match.pk))


def test_answers_are_per_side_and_need_a_reason_to_decline(world: dict) -> None:
    match = world["match"]
    with pytest.raises(MatchNoteRequiredError):
        match_respond(match=match, user=world["bruno"], response="not_interested")
    match = match_respond(
        match=match, user=world["bruno"], response="not_interested", reason="too far"
    )
    assert (match.offer_response, match.demand_response) == ("", "not_interested")
    with pytest.raises(MatchNotPermittedError):
        match_respond(match=match, user=world["dieter"], response="interested")
    with pytest.raises(MatchNotPermittedError):
        match_respond(match=match, user=world["facilitator"], response="interested")


def test_counterpart_label_never_names_the_company(world: dict) -> None:
    match = selectors.match_get_for_company(user=world["anna"], match_id=world["match"].pk)
    label = selectors.counterpart_label(match=match, listing=match.demand)
    assert "Cement NL" not in label
    assert "NACE 35.11" in label
    assert "Rotterdam" in label
    assert "38 km" in label
    assert Membership.objects.count() == 3
