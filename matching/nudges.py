"""Nudges that keep the pipeline moving, sent by Celery beat (settings.CELERY_BEAT_SCHEDULE):

- a reminder to an organisation that has not answered an introduction within
  ``MATCHING_REMINDER_DAYS`` days, once per side of a match, ever;
- a weekly digest of each organisation's new matches, once per organisation and ISO week.

Both are idempotent and safe to run concurrently. A reminder is claimed by its
``MatchEvent(kind=reminder, side=...)`` row, written while the match row is locked with
``SELECT … FOR UPDATE SKIP LOCKED`` and backed by a unique constraint. A digest is claimed by
its unique ``DigestSent(organization, week)`` row. Emails leave only after the claim commits.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.utils import timezone

from listings.models import Membership, Organization

from .models import DigestSent, Match, MatchEvent, Stage
from .selectors import _MATCH_RELATED, HIDDEN_STAGES, counterpart_label

logger = logging.getLogger(__name__)

REMINDER_BATCH = 500
# The first digest of an organisation covers the last week; a digest never reaches back further
# than this, however long ago the previous one was.
DIGEST_FIRST_DAYS = 7
DIGEST_MAX_DAYS = 35
SIDES = (MatchEvent.Side.OFFER, MatchEvent.Side.DEMAND)


def organization_recipients(organization: Organization) -> list[str]:
    """The organisation's contact address and its members' addresses, sorted, no duplicates."""
    emails = {organization.contact_email} if organization.contact_email else set()
    emails.update(
        Membership.objects.filter(organization=organization)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    return sorted(emails)


def _reminded(side: str) -> Exists:
    return Exists(
        MatchEvent.objects.filter(match=OuterRef("pk"), kind=MatchEvent.Kind.REMINDER, side=side)
    )


def introductions_remind(*, now: datetime | None = None, limit: int = REMINDER_BATCH) -> int:
    """Remind each side that has not answered an introduction older than
    ``MATCHING_REMINDER_DAYS`` days, once per side and match.

    Locks: the due match rows, skipping rows another run holds (that run reminds them).
    Writes: one MatchEvent(kind=reminder, side) per reminder. Sends: the emails, after commit.
    Returns the number of reminders recorded.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.MATCHING_REMINDER_DAYS)
    with transaction.atomic():
        due = list(
            Match.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(stage=Stage.INTRODUCED, stage_changed_at__lt=cutoff)
            .filter(
                (Q(offer_response="") & ~_reminded(MatchEvent.Side.OFFER))
                | (Q(demand_response="") & ~_reminded(MatchEvent.Side.DEMAND))
            )
            .order_by("stage_changed_at", "id")[:limit]
        )
        done = set(
            MatchEvent.objects.filter(match__in=due, kind=MatchEvent.Kind.REMINDER).values_list(
                "match_id", "side"
            )
        )
        events = [
            MatchEvent(
                match=match,
                kind=MatchEvent.Kind.REMINDER,
                side=side,
                note=f"no answer since {match.stage_changed_at:%Y-%m-%d}",
            )
            for match in due
            for side in SIDES
            if getattr(match, f"{side}_response") == "" and (match.pk, side) not in done
        ]
        MatchEvent.objects.bulk_create(events)
        for event in events:
            transaction.on_commit(partial(_send_reminder, event.match_id, event.side))
    return len(events)


def _send_reminder(match_id: int, side: str) -> None:
    match = Match.objects.select_related(*_MATCH_RELATED).get(pk=match_id)
    mine, theirs = (match.offer, match.demand) if side == "offer" else (match.demand, match.offer)
    recipients = organization_recipients(mine.organization)
    if not recipients:
        logger.info("reminder for match %s (%s): no address", match_id, side)
        return
    days = (timezone.now() - match.stage_changed_at).days if match.stage_changed_at else 0
    send_mail(
        subject=f"Symbiosis Exchange: an introduction for “{mine.title}” is waiting for you",
        message=(
            f"{days} days ago a facilitator of Symbiosis Exchange introduced your listing "
            f"“{mine.title}” to {counterpart_label(match=match, listing=theirs)}.\n\n"
            "Log in and answer “interested” or “not interested”, so the facilitator knows "
            "whether to go on. This is the only reminder you will get for this introduction."
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
    )


def week_of(moment: datetime) -> date:
    """The Monday of the ISO week of ``moment`` (in the site's time zone)."""
    day = timezone.localdate(moment)
    return day - timedelta(days=day.weekday())


def digests_send(*, now: datetime | None = None) -> int:
    """Send each open organisation a digest of the matches it can see that were created since
    its last digest (the first one: the last ``DIGEST_FIRST_DAYS`` days), at most once per ISO
    week. Rejected and withdrawn matches are left out; counterparts stay anonymous.

    Writes: one DigestSent per organisation and week, the claim (a concurrent run that loses
    the insert sends nothing). Sends: the emails, after each claim commits.
    Returns the number of digests claimed.
    """
    now = now or timezone.now()
    week = week_of(now)
    floor, first = now - timedelta(days=DIGEST_MAX_DAYS), now - timedelta(days=DIGEST_FIRST_DAYS)
    last = dict(
        DigestSent.objects.values("organization_id")
        .annotate(cutoff=Max("cutoff"))
        .values_list("organization_id", "cutoff")
    )
    since = {org: max(cutoff, floor) for org, cutoff in last.items()}
    earliest = min([first, *since.values()])
    new: dict[int, list[int]] = defaultdict(list)
    rows = (
        Match.objects.exclude(stage__in=HIDDEN_STAGES)
        .filter(created_at__gt=earliest, created_at__lte=now)
        .values_list("id", "offer__organization_id", "demand__organization_id", "created_at")
        .order_by("-score", "id")
    )
    for match_id, offer_org, demand_org, created in rows:
        for org in {offer_org, demand_org}:
            if created > since.get(org, first):
                new[org].append(match_id)
    closed = set(
        Organization.objects.filter(pk__in=new, closed_at__isnull=False).values_list(
            "pk", flat=True
        )
    )
    claimed = 0
    for org_id, match_ids in sorted(new.items()):
        if org_id in closed:
            continue
        with transaction.atomic():
            _, created = DigestSent.objects.get_or_create(
                organization_id=org_id,
                week=week,
                defaults={"cutoff": now, "match_count": len(match_ids)},
            )
            if created:
                transaction.on_commit(partial(_send_digest, org_id, match_ids))
                claimed += 1
    return claimed


def _send_digest(organization_id: int, match_ids: list[int]) -> None:
    organization = Organization.objects.get(pk=organization_id)
    recipients = organization_recipients(organization)
    if not recipients:
        return
    matches = Match.objects.filter(pk__in=match_ids).select_related(*_MATCH_RELATED)
    lines = []
    for match in matches.order_by("-score", "id"):
        if match.offer.organization_id == organization_id:
            mine, theirs = match.offer, match.demand
        else:
            mine, theirs = match.demand, match.offer
        lines.append(
            f"- “{mine.title}” ↔ {counterpart_label(match=match, listing=theirs)} "
            f"(score {match.score:.2f})"
        )
    send_mail(
        subject=f"Symbiosis Exchange: {len(lines)} new match(es) this week",
        message=(
            f"New matches for {organization.name} since the last digest:\n\n"
            + "\n".join(lines)
            + "\n\nA facilitator reviews each match and introduces both sides when it fits. "
            "Log in to see the details."
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
    )
