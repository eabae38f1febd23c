"""Every write to organisations, sites, offers and demands.

Publishing or editing a published listing sets `needs_matching` and bumps `version` in the same
transaction, then queues matching on commit (matching.tasks). The matching sweeper re-queues any
listing still flagged after a minute, so a lost message never leaves a listing unmatched.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from harbors.models import Country
from harbors.selectors import location_for_point
from matching.tasks import listing_match_task as _listing_match_task

from .exceptions import ListingClosedError, ListingNotPublishableError, OrganizationNotVerifiedError
from .models import (
    Demand,
    ListingStatus,
    Membership,
    NaceCode,
    Offer,
    Organization,
    Site,
)
from .units import annual_quantity

Listing = Offer | Demand

LISTING_KIND = {Offer: "offer", Demand: "demand"}


def organization_create(
    *,
    name: str,
    country: Country,
    nace: NaceCode | None = None,
    ref: str = "",
    verified_by: User | None = None,
    **contact: Any,
) -> Organization:
    """Register an organisation. It is verified at once only when a facilitator registers it."""
    organization = Organization(name=name, country=country, nace=nace, ref=ref, **contact)
    if verified_by is not None:
        organization.verified_at = timezone.now()
        organization.verified_by = verified_by
    organization.full_clean()
    organization.save()
    return organization


def organization_verify(*, organization: Organization, by: User | None) -> Organization:
    if organization.verified_at is None:
        organization.verified_at = timezone.now()
        organization.verified_by = by
        organization.save(update_fields=["verified_at", "verified_by", "updated_at"])
    return organization


def membership_add(
    *, organization: Organization, user: User, role: str = Membership.Role.MEMBER
) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    return membership


def site_create(
    *,
    organization: Organization,
    name: str,
    country: Country,
    lat: float,
    lon: float,
    city: str = "",
    address: str = "",
) -> Site:
    """Create a site; its harbour region and nearest port are derived from the coordinates."""
    location = location_for_point(lat=lat, lon=lon)
    site = Site(
        organization=organization,
        name=name,
        country=country,
        lat=lat,
        lon=lon,
        city=city,
        address=address,
        region=location.region,
        nearest_port=location.nearest_port,
    )
    site.full_clean()
    site.save()
    return site


def site_update_location(*, site: Site, lat: float, lon: float) -> Site:
    location = location_for_point(lat=lat, lon=lon)
    site.lat, site.lon = lat, lon
    site.region, site.nearest_port = location.region, location.nearest_port
    site.full_clean()
    site.save(update_fields=["lat", "lon", "region", "nearest_port", "updated_at"])
    return site


def _fill_annual_quantity(listing: Listing) -> None:
    if listing.quantity is not None and listing.unit and listing.frequency:
        listing.annual_quantity = annual_quantity(
            Decimal(listing.quantity), listing.unit, listing.frequency
        )


def _request_matching(listing: Listing) -> None:
    """Flag the listing and bump its version; the caller saves it inside its transaction."""
    listing.version += 1
    listing.needs_matching = True
    listing.matching_requested_at = timezone.now()


def _enqueue_matching(listing: Listing) -> None:
    _listing_match_task.delay_on_commit(LISTING_KIND[type(listing)], listing.pk, listing.version)


@transaction.atomic
def listing_create(
    *,
    model: type[Offer] | type[Demand],
    organization: Organization,
    site: Site,
    publish: bool = False,
    accepted_codes: list[Any] | None = None,
    accepted_categories: list[Any] | None = None,
    **fields: Any,
) -> Listing:
    """Create an offer or demand, as a draft or published.

    Enqueues: listing_match_task on commit when published.
    Raises: organization_not_verified when publishing for an unverified organisation.
    """
    listing = model(organization=organization, site=site, **fields)
    _fill_annual_quantity(listing)
    if publish:
        _check_publishable(listing)
        listing.status = ListingStatus.PUBLISHED
        listing.published_at = timezone.now()
        listing.needs_matching = True
        listing.matching_requested_at = timezone.now()
    listing.full_clean(validate_constraints=False)  # the database enforces them
    listing.save()
    if isinstance(listing, Demand):
        if accepted_codes:
            listing.accepted_codes.set(accepted_codes)
        if accepted_categories:
            listing.accepted_categories.set(accepted_categories)
    if publish:
        _enqueue_matching(listing)
    return listing


@transaction.atomic
def listing_update(
    *,
    listing: Listing,
    accepted_codes: list[Any] | None = None,
    accepted_categories: list[Any] | None = None,
    **fields: Any,
) -> Listing:
    """Edit a listing. A published listing is flagged for matching and its version bumped.

    Locks: the listing row. Enqueues: listing_match_task on commit when published.
    Raises: listing_closed.
    """
    listing = type(listing).objects.select_for_update().get(pk=listing.pk)
    if listing.status == ListingStatus.CLOSED:
        raise ListingClosedError(
            f"{listing} is closed and cannot be edited.", listing_id=listing.pk
        )
    for name, value in fields.items():
        setattr(listing, name, value)
    _fill_annual_quantity(listing)
    published = listing.status == ListingStatus.PUBLISHED
    if published:
        _request_matching(listing)
    listing.full_clean(validate_constraints=False)  # the database enforces them
    listing.save()
    if isinstance(listing, Demand):
        if accepted_codes is not None:
            listing.accepted_codes.set(accepted_codes)
        if accepted_categories is not None:
            listing.accepted_categories.set(accepted_categories)
    if published:
        _enqueue_matching(listing)
    return listing


def _check_publishable(listing: Listing) -> None:
    if not listing.organization.is_verified:
        raise OrganizationNotVerifiedError(
            "A facilitator of your harbour region verifies the organisation before its "
            "listings go live. Until then listings stay drafts.",
            organization_id=listing.organization_id,
        )


@transaction.atomic
def listing_publish(*, listing: Listing) -> Listing:
    """Publish a draft or paused listing and queue matching on commit.

    Locks: the listing row. Enqueues: listing_match_task.
    Raises: listing_not_publishable, organization_not_verified.
    """
    listing = (
        type(listing).objects.select_for_update().select_related("organization").get(pk=listing.pk)
    )
    if listing.status not in (ListingStatus.DRAFT, ListingStatus.PAUSED):
        raise ListingNotPublishableError(
            f"{listing} is {listing.status}; only drafts and paused listings can be published.",
            listing_id=listing.pk,
            status=listing.status,
        )
    _check_publishable(listing)
    listing.status = ListingStatus.PUBLISHED
    listing.published_at = listing.published_at or timezone.now()
    _request_matching(listing)
    listing.save()
    _enqueue_matching(listing)
    return listing


@transaction.atomic
def listing_set_status(*, listing: Listing, status: ListingStatus) -> Listing:
    """Pause or close a listing. Its proposed matches go at once; reviewed ones stay.

    Locks: the listing row.
    """
    from matching.services import matches_discard_proposed_for_listing  # matching owns matches

    if status not in (ListingStatus.PAUSED, ListingStatus.CLOSED):
        raise ValueError(f"use listing_publish to publish; got {status}")
    listing = type(listing).objects.select_for_update().get(pk=listing.pk)
    if listing.status == ListingStatus.CLOSED:
        raise ListingClosedError(f"{listing} is already closed.", listing_id=listing.pk)
    listing.status = status
    listing.version += 1
    listing.needs_matching = False
    listing.save()
    matches_discard_proposed_for_listing(listing=listing)
    return listing
