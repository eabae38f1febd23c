"""Every write to organisations, sites, offers and demands.

Publishing or editing a published listing sets `needs_matching` and bumps `version` in the same
transaction, then queues matching on commit (matching.tasks). The matching sweeper re-queues any
listing still flagged after a minute, so a lost message never leaves a listing unmatched.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from harbors.models import Country, HarborRegion
from harbors.selectors import location_for_point
from matching.tasks import listing_match_task as _listing_match_task

from .exceptions import (
    ApiTokenNotPermittedError,
    ApiTokenScopeInvalidError,
    ListingClosedError,
    ListingNotPublishableError,
    OrganizationClosedError,
    OrganizationNotPermittedError,
    OrganizationNotVerifiedError,
    SiteInUseError,
)
from .models import (
    ApiToken,
    Demand,
    ListingStatus,
    Membership,
    NaceCode,
    Offer,
    Organization,
    Site,
)
from .selectors import public_coordinate
from .units import annual_quantity

Listing = Offer | Demand

LISTING_KIND = {Offer: "offer", Demand: "demand"}

audit = logging.getLogger("symbiosis.audit")


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


@transaction.atomic
def organization_verify(*, organization: Organization, by: User | None) -> Organization:
    """Mark an organisation verified, so that its listings can be published. Idempotent.

    `by` is None for the system (an import the command runs); staff may verify any
    organisation; anyone else must facilitate a harbour region where the organisation has a
    site. Locks: the organisation row. Sends: when a person verified it, an email to the
    organisation's contact and members, on commit.
    Raises: organization_not_permitted, organization_closed.
    """
    locked = Organization.objects.select_for_update().get(pk=organization.pk)
    if (
        by is not None
        and not by.is_staff
        and not HarborRegion.objects.filter(facilitators=by, sites__organization=locked).exists()
    ):
        audit.warning("denied: user %s verify organisation %s", by.pk, locked.pk)
        raise OrganizationNotPermittedError(
            "Only a facilitator of the organisation's harbour region verifies it.",
            organization_id=locked.pk,
        )
    if locked.closed_at is not None:
        raise OrganizationClosedError("The organisation is closed.", organization_id=locked.pk)
    # The caller's instance carries the result: importers go on using it.
    if locked.verified_at is not None:
        organization.verified_at, organization.verified_by_id = (
            locked.verified_at,
            locked.verified_by_id,
        )
        return organization
    organization.verified_at = timezone.now()
    organization.verified_by = by
    organization.save(update_fields=["verified_at", "verified_by", "updated_at"])
    audit.info("organisation %s verified by %s", organization.pk, by and by.pk)
    if by is not None:
        organization_id = organization.pk
        transaction.on_commit(lambda: _notify_verified(organization_id))
    return organization


def _notify_verified(organization_id: int) -> None:
    organization = Organization.objects.get(pk=organization_id)
    recipients = {organization.contact_email} - {""}
    recipients |= set(
        Membership.objects.filter(organization=organization, user__is_active=True)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    if not recipients:
        return
    send_mail(
        subject=f"Symbiosis Exchange: {organization.name} is verified",
        message=(
            "A facilitator of your harbour region verified your organisation. You can now "
            "publish your offers and demands; published listings are matched at once."
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=sorted(recipients),
    )


@dataclass(frozen=True, slots=True)
class Registration:
    organization: Organization
    site: Site
    user: User


@transaction.atomic
def organization_register(
    *,
    name: str,
    country: Country,
    nace: NaceCode | None,
    site_name: str,
    lat: float,
    lon: float,
    username: str,
    email: str,
    password: str,
    city: str = "",
    address: str = "",
    first_name: str = "",
    last_name: str = "",
    phone: str = "",
    website: str = "",
) -> Registration:
    """Sign-up: a new organisation, its first site, and its first user as its admin member.

    The organisation starts unverified: it may keep drafts, and a facilitator of its site's
    harbour region verifies it before its listings are published. The user's name, email and
    the phone become the organisation's contact details (shown to a counterpart only after an
    introduction both sides accepted). Sends: on commit, an email to the facilitators of the
    site's harbour region (staff when the site lies in none).
    Raises: Django ValidationError (the name is registered in that country already, the
    username is taken, a field is malformed).
    """
    organization = organization_create(
        name=name,
        country=country,
        nace=nace,
        website=website,
        contact_name=f"{first_name} {last_name}".strip(),
        contact_email=email,
        contact_phone=phone,
    )
    site = site_create(
        organization=organization,
        name=site_name,
        country=country,
        lat=lat,
        lon=lon,
        city=city,
        address=address,
    )
    user = User(username=username, email=email, first_name=first_name, last_name=last_name)
    user.set_password(password)
    user.full_clean()
    user.save()
    membership_add(organization=organization, user=user, role=Membership.Role.ADMIN)
    audit.info("organisation %s registered by user %s", organization.pk, user.pk)
    organization_id = organization.pk
    transaction.on_commit(lambda: _notify_verification_needed(organization_id))
    return Registration(organization=organization, site=site, user=user)


def _notify_verification_needed(organization_id: int) -> None:
    organization = Organization.objects.select_related("country").get(pk=organization_id)
    recipients = set(
        User.objects.filter(facilitated_regions__sites__organization=organization, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    ) or set(
        User.objects.filter(is_staff=True, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not recipients:
        return
    send_mail(
        subject=f"Symbiosis Exchange: {organization.name} awaits verification",
        message=(
            f"{organization.name} ({organization.country}) registered on Symbiosis Exchange. "
            "Its listings stay drafts until a facilitator of its harbour region verifies it.\n\n"
            "Log in and open “Organisations awaiting verification”."
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=sorted(recipients),
    )


def _require_admin(*, organization: Organization, user: User) -> None:
    if not Membership.objects.filter(
        organization=organization, user=user, role=Membership.Role.ADMIN
    ).exists():
        audit.warning("denied: user %s administer organisation %s", user.pk, organization.pk)
        raise OrganizationNotPermittedError(
            "Only an administrator of the organisation can do this.",
            organization_id=organization.pk,
        )


@transaction.atomic
def organization_close(*, organization: Organization, by: User) -> Organization:
    """Close an organisation's account and erase its personal data.

    - every listing that is not closed yet is closed (listing_set_status: proposed matches go,
      reviewed ones stay);
    - each member who belongs to no other open organisation, and is neither staff nor a
      facilitator, is anonymised ("closed-user-<id>", no name, no email, no password) and
      deactivated, and their login-attempt records follow the new username; other members
      merely leave the organisation;
    - the organisation's contact details and website are blanked, its name becomes
      "Closed organisation #<id>", site addresses are blanked, and `closed_at` is set.

    The anonymised match history stays: matches keep their listings, scores and audit events.
    Locks: the organisation row, then each open listing. Raises: organization_not_permitted
    (`by` is not an admin member), organization_closed.
    """
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    _require_admin(organization=organization, user=by)
    if organization.closed_at is not None:
        raise OrganizationClosedError(
            "The organisation is closed already.", organization_id=organization.pk
        )
    for model in (Offer, Demand):
        for listing in model.objects.filter(organization=organization).exclude(
            status=ListingStatus.CLOSED
        ):
            listing_set_status(listing=listing, status=ListingStatus.CLOSED)
    for membership in organization.memberships.select_related("user"):
        user = membership.user
        keeps_account = (
            user.is_staff
            or user.facilitated_regions.exists()
            or Membership.objects.filter(user=user, organization__closed_at__isnull=True)
            .exclude(organization=organization)
            .exists()
        )
        if keeps_account:
            membership.delete()
            continue
        old_username, new_username = user.username, f"closed-user-{user.pk}"
        user.username, user.first_name, user.last_name, user.email = new_username, "", "", ""
        user.is_active = False
        user.set_unusable_password()
        user.save()
        for log in (AccessAttempt, AccessLog, AccessFailureLog):
            log.objects.filter(username=old_username).update(username=new_username)
    organization.name = f"Closed organisation #{organization.pk}"
    organization.contact_name = organization.contact_email = organization.contact_phone = ""
    organization.website = ""
    organization.closed_at = timezone.now()
    organization.save()
    organization.sites.update(address="", updated_at=timezone.now())
    audit.info("organisation %s closed by user %s", organization.pk, by.pk)
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


@transaction.atomic
def site_update_location(*, site: Site, lat: float, lon: float) -> Site:
    """Move a site; its harbour region and nearest port are derived again, and its listings'
    copy of its location follows (site_listings_follow)."""
    location = location_for_point(lat=lat, lon=lon)
    site.lat, site.lon = lat, lon
    site.region, site.nearest_port = location.region, location.nearest_port
    site.full_clean()
    site.save(update_fields=["lat", "lon", "region", "nearest_port", "updated_at"])
    site_listings_follow(site=site)
    return site


@transaction.atomic
def site_update(
    *,
    site: Site,
    name: str | None = None,
    address: str | None = None,
    city: str | None = None,
    country: Country | None = None,
    lat: float | None = None,
    lon: float | None = None,
) -> Site:
    """Edit a site. New coordinates re-derive its harbour region and nearest port, and flag its
    published listings for matching (distances changed).

    A new country or location is copied onto every listing of the site, whatever its status
    (site_listings_follow), in the same transaction.

    Locks: the site row. Enqueues: listing_match_task for each published listing it moved.
    """
    site = Site.objects.select_for_update().get(pk=site.pk)
    for attribute, value in (("name", name), ("address", address), ("city", city)):
        if value is not None:
            setattr(site, attribute, value)
    relocated = country is not None and country.pk != site.country_id
    if country is not None:
        site.country = country
    moved = (lat is not None and lat != site.lat) or (lon is not None and lon != site.lon)
    if moved:
        site.lat = site.lat if lat is None else lat
        site.lon = site.lon if lon is None else lon
        location = location_for_point(lat=site.lat, lon=site.lon)
        site.region, site.nearest_port = location.region, location.nearest_port
    site.full_clean()
    site.save()
    if moved or relocated:
        site_listings_follow(site=site)
    if moved:
        for model in (Offer, Demand):
            for listing in model.objects.select_for_update().filter(
                site=site, status=ListingStatus.PUBLISHED
            ):
                _request_matching(listing)
                listing.save(update_fields=["version", "needs_matching", "matching_requested_at"])
                _enqueue_matching(listing)
    return site


@transaction.atomic
def site_delete(*, site: Site) -> None:
    """Delete a site that no listing uses (closed ones included: they keep their history).

    Locks: the site row. Raises: site_in_use.
    """
    site = Site.objects.select_for_update().get(pk=site.pk)
    if Offer.objects.filter(site=site).exists() or Demand.objects.filter(site=site).exists():
        raise SiteInUseError(
            "Listings use this site; close them and keep the site, or move them first.",
            site_id=site.pk,
        )
    site.delete()


def _site_public_location(site: Site) -> dict[str, Any]:
    """What a listing copies from its site for the public search: country, harbour region and
    the location rounded as the search shows it (listings.selectors.public_coordinate)."""
    return {
        "country_id": site.country_id,
        "region_id": site.region_id,
        "approx_lat": public_coordinate(site.lat),
        "approx_lon": public_coordinate(site.lon),
    }


def _copy_site_location(listing: Listing) -> None:
    """Copy the site's location onto ``listing`` as the database holds it, read under a row
    lock (FOR NO KEY UPDATE): a site_update moving the site at the same time (FOR UPDATE)
    either finishes first, or waits and then carries this listing along."""
    site = (
        Site.objects.select_for_update(no_key=True)
        .only("country_id", "region_id", "lat", "lon")
        .get(pk=listing.site_id)
    )
    for name, value in _site_public_location(site).items():
        setattr(listing, name, value)


def site_listings_follow(*, site: Site) -> int:
    """Copy the site's country, region and rounded location onto each of its listings (one
    UPDATE per kind, every status), as saved in ``site``. The site services call it when a site
    moves; the admin after it saves a site or a listing. Returns the rows updated."""
    location = _site_public_location(site)
    return sum(model.objects.filter(site=site).update(**location) for model in (Offer, Demand))


def _fill_annual_quantity(listing: Listing) -> None:
    if listing.quantity is not None and listing.unit and listing.frequency:
        listing.annual_quantity = annual_quantity(
            Decimal(listing.quantity), listing.unit, listing.frequency
        )


def _fill_concepts(listing: Listing) -> None:
    """Store the thesaurus concepts of the listing's words, for the matching engine to read
    instead of scanning the words each time it loads the listing."""
    from matching.selectors import listing_concepts

    listing.concepts, listing.concepts_key = listing_concepts(listing.title, listing.description)


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
    """Create an offer or demand, as a draft or published, with its site's country, harbour
    region and rounded location copied for the public search.

    Locks: the site row (_copy_site_location). Enqueues: listing_match_task on commit when
    published.
    Raises: organization_not_verified when publishing for an unverified organisation.
    """
    listing = model(organization=organization, site=site, **fields)
    _fill_annual_quantity(listing)
    _fill_concepts(listing)
    _copy_site_location(listing)
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
    """Edit a listing. A published listing is flagged for matching and its version bumped. A
    new site's country, harbour region and rounded location are copied for the public search.

    Locks: the listing row (and a new site's row). Enqueues: listing_match_task on commit when
    published. Raises: listing_closed.
    """
    listing = type(listing).objects.select_for_update().get(pk=listing.pk)
    if listing.status == ListingStatus.CLOSED:
        raise ListingClosedError(
            f"{listing} is closed and cannot be edited.", listing_id=listing.pk
        )
    for name, value in fields.items():
        setattr(listing, name, value)
    _fill_annual_quantity(listing)
    _fill_concepts(listing)
    if "site" in fields or "site_id" in fields:
        _copy_site_location(listing)
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


# --- partner API tokens ----------------------------------------------------------------------

API_TOKEN_SCOPES = {
    ApiToken.Kind.ORGANIZATION: frozenset({ApiToken.Scope.READ, ApiToken.Scope.WRITE}),
    ApiToken.Kind.FACILITATOR: frozenset({ApiToken.Scope.READ, ApiToken.Scope.FACILITATE}),
}
API_TOKEN_TOUCH_EVERY = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class IssuedApiToken:
    """A new token and its secret: the only moment the secret exists outside the caller."""

    token: ApiToken
    secret: str


@transaction.atomic
def api_token_create(
    *,
    user: User,
    name: str,
    kind: str,
    scopes: Collection[str],
    organization: Organization | None = None,
    expires_at: datetime | None = None,
) -> IssuedApiToken:
    """Issue a token; only its SHA-256 digest is stored.

    An organisation's token is made by an administrator of that open organisation and may carry
    read and write; a facilitator's token by a facilitator (or staff) and may carry read and
    facilitate. Raises: api_token_scope_invalid, organization_not_permitted,
    api_token_not_permitted.
    """
    from .selectors import API_TOKEN_MARK, API_TOKEN_PREFIX_LENGTH, api_token_digest

    wanted = frozenset(scopes)
    allowed = API_TOKEN_SCOPES.get(kind)
    if allowed is None or not wanted or not wanted <= allowed:
        raise ApiTokenScopeInvalidError(
            f"A {kind} token may carry {', '.join(sorted(allowed or ()))}.", field="scopes"
        )
    if kind == ApiToken.Kind.ORGANIZATION:
        if organization is None or organization.closed_at is not None:
            raise OrganizationNotPermittedError(
                "Choose one of your open organisations.", field="organization"
            )
        _require_admin(organization=organization, user=user)
    else:
        organization = None
        if not (user.is_staff or user.facilitated_regions.exists()):
            raise ApiTokenNotPermittedError(
                "Only a facilitator of a harbour region can hold a facilitator token."
            )
    prefix = secrets.token_hex(API_TOKEN_PREFIX_LENGTH // 2)
    raw = f"{API_TOKEN_MARK}{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken(
        name=name,
        kind=kind,
        organization=organization,
        user=user,
        prefix=prefix,
        digest=api_token_digest(raw),
        scopes=" ".join(sorted(wanted)),
        expires_at=expires_at,
    )
    token.full_clean()
    token.save()
    audit.info("API token %s (%s) created by user %s", token.pk, kind, user.pk)
    return IssuedApiToken(token=token, secret=raw)


def api_token_revoke(*, token: ApiToken, by: User) -> ApiToken:
    """Revoke a token at once. Idempotent. The caller found it through
    ``api_token_get_for_user``, which decides who may manage which token."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at", "updated_at"])
        audit.info("API token %s revoked by user %s", token.pk, by.pk)
    return token


def api_token_touch(*, token: ApiToken) -> None:
    """Record that a token was used, at most once per API_TOKEN_TOUCH_EVERY (one UPDATE)."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > API_TOKEN_TOUCH_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
