"""The facilitator's pipeline and the companies' answers: every change of a match's stage or
response, each with an audit event. Portal views and the partner API both call these.

Who may do what:
- a facilitator of the offer's or the demand's harbour region, or staff, moves a match along
  the pipeline (proposed → shortlisted → introduced → negotiating → implemented, or rejected /
  withdrawn at any point);
- a member of the offering or the demanding organisation answers "interested" or "not
  interested" for its side.
Each service re-reads the match under `select_for_update()` and writes a `MatchEvent`.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from listings.models import Membership

from .exceptions import (
    MatchNoteRequiredError,
    MatchNotPermittedError,
    MatchOutcomeRequiredError,
    MatchStageInvalidError,
)
from .models import Match, MatchEvent, Response, Stage

logger = logging.getLogger("symbiosis.audit")

TERMINAL = frozenset({Stage.IMPLEMENTED, Stage.REJECTED, Stage.WITHDRAWN})
NEXT_STAGES: dict[str, frozenset[str]] = {
    Stage.PROPOSED: frozenset({Stage.SHORTLISTED, Stage.INTRODUCED, Stage.REJECTED}),
    Stage.SHORTLISTED: frozenset({Stage.PROPOSED, Stage.INTRODUCED, Stage.REJECTED}),
    Stage.INTRODUCED: frozenset({Stage.NEGOTIATING, Stage.REJECTED, Stage.WITHDRAWN}),
    Stage.NEGOTIATING: frozenset({Stage.IMPLEMENTED, Stage.REJECTED, Stage.WITHDRAWN}),
    Stage.IMPLEMENTED: frozenset(),
    Stage.REJECTED: frozenset(),
    Stage.WITHDRAWN: frozenset(),
}
# Once introduced, and both sides said "interested", each side sees the other's identity.
DISCLOSED_STAGES = frozenset({Stage.INTRODUCED, Stage.NEGOTIATING, Stage.IMPLEMENTED})


def user_facilitates_match(*, user: User, match: Match) -> bool:
    if user.is_staff:
        return True
    region_ids = {match.offer.site.region_id, match.demand.site.region_id} - {None}
    return user.facilitated_regions.filter(pk__in=region_ids).exists()


def identities_disclosed(match: Match) -> bool:
    return (
        match.stage in DISCLOSED_STAGES
        and match.offer_response == Response.INTERESTED
        and match.demand_response == Response.INTERESTED
    )


def _locked(match: Match) -> Match:
    return (
        Match.objects.select_for_update(of=("self",))
        .select_related(
            "offer__site", "demand__site", "offer__organization", "demand__organization"
        )
        .get(pk=match.pk)
    )


@transaction.atomic
def match_set_stage(
    *,
    match: Match,
    user: User,
    to_stage: str,
    note: str = "",
    tonnes_per_year: float | None = None,
    eur_saved_per_year: float | None = None,
) -> Match:
    """Move a match along the pipeline.

    Locks: the match row. Writes: a MatchEvent. Sends: on "introduced", an email to both
    organisations, after commit. Raises: match_not_permitted, match_stage_invalid,
    match_note_required (rejecting needs a reason), match_outcome_required (implemented needs
    tonnes per year and euros saved).
    """
    match = _locked(match)
    if not user_facilitates_match(user=user, match=match):
        logger.warning("denied: user %s set stage of match %s", user.pk, match.pk)
        raise MatchNotPermittedError(
            "Only a facilitator of this match's harbour regions can move it.", match_id=match.pk
        )
    if to_stage not in NEXT_STAGES.get(match.stage, frozenset()):
        raise MatchStageInvalidError(
            f"A {match.stage} match cannot move to {to_stage}.",
            match_id=match.pk,
            stage=match.stage,
            allowed=sorted(NEXT_STAGES.get(match.stage, ())),
        )
    if to_stage == Stage.REJECTED and not note.strip():
        raise MatchNoteRequiredError("Say why the match is rejected.", match_id=match.pk)
    if to_stage == Stage.IMPLEMENTED:
        if tonnes_per_year is None or eur_saved_per_year is None or tonnes_per_year < 0:
            raise MatchOutcomeRequiredError(
                "Record the tonnes per year and the euros saved per year of the synergy.",
                match_id=match.pk,
            )
        match.implemented_tonnes_per_year = tonnes_per_year
        match.implemented_eur_saved_per_year = eur_saved_per_year
    from_stage = match.stage
    match.stage = to_stage
    match.stage_changed_at = timezone.now()
    match.save()
    MatchEvent.objects.create(
        match=match,
        actor=user,
        kind=MatchEvent.Kind.STAGE,
        from_stage=from_stage,
        to_stage=to_stage,
        note=note,
    )
    if to_stage == Stage.INTRODUCED:
        transaction.on_commit(lambda: _send_introduction(match.pk))
    return match


def _send_introduction(match_id: int) -> None:
    match = Match.objects.select_related(
        "offer__organization", "demand__organization", "offer", "demand"
    ).get(pk=match_id)
    for organization, listing in (
        (match.offer.organization, match.demand),
        (match.demand.organization, match.offer),
    ):
        recipients = [organization.contact_email] if organization.contact_email else []
        recipients += list(
            Membership.objects.filter(organization=organization)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
        if not recipients:
            continue
        send_mail(
            subject=f"Symbiosis Exchange: an introduction for “{listing.title}”",
            message=(
                f"A facilitator of Symbiosis Exchange introduces you to a company whose "
                f"listing “{listing.title}” matches yours ({match.explanation}).\n\n"
                "Log in and answer “interested” or “not interested”. When both sides are "
                "interested, you will see each other's name and contact details."
            ),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=sorted(set(recipients)),
        )


@transaction.atomic
def match_respond(
    *,
    match: Match,
    user: User,
    response: str,
    reason: str = "",
    organization_ids: Collection[int] | None = None,
) -> Match:
    """Record an organisation's answer for its side of the match.

    ``organization_ids`` narrows the sides the user answers for to those organisations (an
    organisation's API token answers for that organisation only).
    Locks: the match row. Writes: a MatchEvent. Raises: match_not_permitted (the user is no
    member of either side, or the match is closed), match_note_required (not interested needs
    a reason).
    """
    match = _locked(match)
    if response not in (Response.INTERESTED, Response.NOT_INTERESTED):
        raise MatchStageInvalidError(f"Unknown answer {response!r}.", match_id=match.pk)
    orgs = set(Membership.objects.filter(user=user).values_list("organization_id", flat=True))
    if organization_ids is not None:
        orgs &= set(organization_ids)
    sides = [
        side
        for side, org_id in (
            ("offer", match.offer.organization_id),
            ("demand", match.demand.organization_id),
        )
        if org_id in orgs
    ]
    if not sides or match.stage in TERMINAL - {Stage.IMPLEMENTED}:
        logger.warning("denied: user %s answered match %s", user.pk, match.pk)
        raise MatchNotPermittedError("You cannot answer this match.", match_id=match.pk)
    if response == Response.NOT_INTERESTED and not reason.strip():
        raise MatchNoteRequiredError("Say why you are not interested.", match_id=match.pk)
    for side in sides:
        setattr(match, f"{side}_response", response)
        setattr(match, f"{side}_response_reason", reason)
    match.save()
    MatchEvent.objects.create(
        match=match,
        actor=user,
        kind=MatchEvent.Kind.RESPONSE,
        note=f"{'/'.join(sides)}: {response}" + (f" ({reason})" if reason else ""),
    )
    return match
