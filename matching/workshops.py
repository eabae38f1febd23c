"""Workshop mode: a facilitator uploads the "haves and wants" cards of a matchmaking event and
gets the matches among the attendees, ready to print for the room.

The cards use the import format of ``listings.importing`` (CSV or XLSX). The import and the
workshop are one transaction: a bad row imports nothing and creates no workshop. The attendees'
listings are then matched synchronously, so the page is complete when the upload returns.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet

from harbors.models import HarborRegion
from listings.importing import import_listings
from listings.models import Demand, Offer, Organization
from symbiosis.exceptions import ApplicationError

from .models import Match, Workshop
from .selectors import _MATCH_RELATED, HIDDEN_STAGES, facilitator_regions
from .services import matches_refresh_for_listing

_KINDS = ("offer", "demand", "organization")


class WorkshopNotPermittedError(ApplicationError):
    code = "workshop_not_permitted"
    http_status = 403


@dataclass(frozen=True, slots=True)
class WorkshopImport:
    workshop: Workshop
    summary: str
    listings_matched: int
    matches_written: int


def workshop_create_from_upload(
    *,
    facilitator: User,
    name: str,
    date: datetime.date,
    region: HarborRegion,
    data: bytes,
    filename: str,
) -> WorkshopImport:
    """Import the cards, create the workshop with every organisation on them as an attendee,
    then match each imported listing now.

    Locks: nothing beyond the import's rows. Enqueues: the import queues matching on commit as
    usual; the listings matched here are already current when those tasks run, which then
    write the same rows. Raises: workshop_not_permitted (the region is not the user's),
    import_file_invalid, import_rejected (nothing is written).
    """
    if region.pk not in {r.pk for r in facilitator_regions(user=facilitator)}:
        raise WorkshopNotPermittedError(
            "You do not facilitate this harbour region.", region=region.code
        )
    with transaction.atomic():
        summary = import_listings(data=data, filename=filename, actor=facilitator)
        refs = {kind: {r.ref for r in summary.rows if r.kind == kind} for kind in _KINDS}
        offers = list(
            Offer.objects.filter(ref__in=refs["offer"]).values_list(
                "id", "version", "matched_version", "organization_id"
            )
        )
        demands = list(
            Demand.objects.filter(ref__in=refs["demand"]).values_list(
                "id", "version", "matched_version", "organization_id"
            )
        )
        attendees = {row[3] for row in offers} | {row[3] for row in demands}
        attendees.update(
            Organization.objects.filter(ref__in=refs["organization"]).values_list("id", flat=True)
        )
        workshop = Workshop.objects.create(
            name=name,
            date=date,
            region=region,
            facilitator=facilitator,
            source_filename=filename[:200],
        )
        workshop.attendees.set(attendees)
    matched = written = 0
    for kind, rows in (("offer", offers), ("demand", demands)):
        for listing_id, version, matched_version, _org in rows:
            if matched_version == version:
                continue  # already matched at this version (the in-process demo did it)
            written += matches_refresh_for_listing(
                kind=kind, listing_id=listing_id, version=version
            )
            matched += 1
    return WorkshopImport(
        workshop=workshop, summary=str(summary), listings_matched=matched, matches_written=written
    )


def workshop_list_for_facilitator(*, regions: list[HarborRegion]) -> QuerySet[Workshop]:
    return (
        Workshop.objects.filter(region__in=[r.pk for r in regions])
        .select_related("region", "facilitator")
        .order_by("-date", "-id")
    )


def workshop_get_for_facilitator(
    *, regions: list[HarborRegion], workshop_id: int
) -> Workshop | None:
    return (
        workshop_list_for_facilitator(regions=regions)
        .prefetch_related("attendees")
        .filter(pk=workshop_id)
        .first()
    )


def workshop_matches(*, workshop: Workshop) -> QuerySet[Match]:
    """The open and implemented matches whose two organisations both attended, best first."""
    attendees = workshop.attendees.values("pk")
    return (
        Match.objects.filter(offer__organization__in=attendees, demand__organization__in=attendees)
        .exclude(stage__in=HIDDEN_STAGES)
        .select_related(*_MATCH_RELATED)
        .order_by("-score", "id")
    )
