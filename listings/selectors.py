"""Reads of listings and their reference codes, partner tokens, and the company portal's scoped
reads."""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    FloatField,
    Func,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone

from .models import (
    ApiToken,
    Demand,
    ListingStatus,
    MaterialCategory,
    Membership,
    NaceCode,
    Offer,
    Operation,
    Organization,
    Site,
    WasteCode,
)
from .reference_tables import normalise_low_code

API_TOKEN_MARK: Final = "sx_"  # noqa: S105 (a marker, not a secret)
API_TOKEN_PREFIX_LENGTH: Final = 12
API_TOKEN_MAX_LENGTH: Final = 200


def waste_code_get(code: str) -> WasteCode | None:
    """The List of Waste entry for ``code`` in any usual form ("100104", "10 01 04*").

    Returns None when the code is well formed but not in the List of Waste. Raises ValueError
    (from ``normalise_low_code``) when it is not a six-digit code at all. One query.
    """
    return WasteCode.objects.filter(pk=normalise_low_code(code)).first()


# --- partner API tokens ----------------------------------------------------------------------


def api_token_get_valid(*, raw: str) -> ApiToken | None:
    """The live token for the bearer string ``raw``, or None.

    Live: the digest matches (compared in constant time), not revoked, not expired, its user
    active; an organisation's token also needs its organisation open and its user still a
    member. One query, by the token's public prefix.
    """
    prefix = api_token_prefix(raw)
    if prefix is None:
        return None
    found = _api_tokens_with_membership().filter(prefix=prefix, revoked_at__isnull=True)[:1]
    token = next(iter(found), None)
    if token is None or not hmac.compare_digest(token.digest, api_token_digest(raw)):
        return None
    if token.expires_at is not None and token.expires_at <= timezone.now():
        return None
    if not token.user.is_active:
        return None
    if token.kind == ApiToken.Kind.ORGANIZATION and (
        token.organization.closed_at is not None or not token.member
    ):
        return None
    return token


@functools.cache
def _api_tokens_with_membership() -> QuerySet[ApiToken]:
    """Tokens with their user and organisation and whether the user is still a member. Built
    once per process, since every API call starts with it (resolving the subquery cost about
    as much as running the query); callers only ever .filter() it, which copies it, so it is
    never evaluated and holds no rows."""
    return (
        ApiToken.objects.select_related("user", "organization")
        .annotate(
            member=Exists(
                Membership.objects.filter(
                    user_id=OuterRef("user_id"), organization_id=OuterRef("organization_id")
                )
            )
        )
        .order_by()
    )


def api_token_prefix(raw: str) -> str | None:
    """The public part of ``sx_<prefix>_<secret>``, or None when ``raw`` is not one."""
    if not raw.startswith(API_TOKEN_MARK) or len(raw) > API_TOKEN_MAX_LENGTH:
        return None
    prefix, sep, secret = raw[len(API_TOKEN_MARK) :].partition("_")
    if not sep or not secret or len(prefix) != API_TOKEN_PREFIX_LENGTH:
        return None
    return prefix


def api_token_digest(raw: str) -> str:
    """SHA-256 of the whole token: the secret has 256 random bits, so no slow hash is needed."""
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_list_for_user(*, user: User) -> QuerySet[ApiToken]:
    """The tokens a user manages: their own facilitator tokens and the tokens of every open
    organisation they administer (whoever made them)."""
    admin_of = Membership.objects.filter(
        user=user, role=Membership.Role.ADMIN, organization__closed_at__isnull=True
    ).values("organization_id")
    return (
        ApiToken.objects.filter(
            Q(kind=ApiToken.Kind.FACILITATOR, user=user) | Q(organization_id__in=admin_of)
        )
        .select_related("organization", "user")
        .order_by("revoked_at", "-created_at")
    )


def api_token_get_for_user(*, user: User, token_id: int) -> ApiToken | None:
    return api_token_list_for_user(user=user).filter(pk=token_id).first()


def organization_list_administered(*, user: User) -> QuerySet[Organization]:
    return Organization.objects.filter(
        memberships__user=user,
        memberships__role=Membership.Role.ADMIN,
        closed_at__isnull=True,
    ).order_by("name")


# --- reference-code pickers ------------------------------------------------------------------

LOOKUP_LIMIT = 20
_CODE_QUERY = re.compile(r"[0-9][0-9\s*.\-]*")


def waste_code_search(query: str, *, limit: int = LOOKUP_LIMIT) -> list[WasteCode]:
    """List of Waste entries for a picker, in code order. One query.

    Digits ("10 01", "1001", "10 01 02*") search by code prefix; words search the titles, every
    word must occur ("fly ash" finds 10 01 02 and its neighbours).
    """
    text = query.strip()[:100]
    if not text:
        return []
    if _CODE_QUERY.fullmatch(text):
        digits = re.sub(r"\D", "", text)[:6]
        return list(WasteCode.objects.filter(code__startswith=digits).order_by("code")[:limit])
    codes = WasteCode.objects.all()
    for word in text.split()[:6]:
        codes = codes.filter(title__icontains=word)
    return list(codes.order_by("code")[:limit])


def nace_code_get(code: str) -> NaceCode | None:
    """The NACE entry for a code such as "23.51": Rev. 2 where both revisions have it, as the
    importer chooses. One query."""
    return NaceCode.objects.filter(code=code.strip()).order_by("version").first()


def nace_code_search(query: str, *, limit: int = LOOKUP_LIMIT) -> list[NaceCode]:
    """NACE entries for a picker: by code prefix ("23.5") or by every word of the title. One
    entry per code (Rev. 2 where both revisions have it). One query."""
    text = query.strip()[:100]
    if not text:
        return []
    codes = NaceCode.objects.all()
    if text[0].isdigit() or (len(text) == 1 and text.isalpha()):
        codes = codes.filter(code__istartswith=text)
    else:
        for word in text.split()[:6]:
            codes = codes.filter(title__icontains=word)
    found: dict[str, NaceCode] = {}
    for nace in codes.order_by("code", "version")[: limit * 2]:
        found.setdefault(nace.code, nace)
    return list(found.values())[:limit]


# --- the company portal: scoped to the caller's organisation ---------------------------------
# A company's page reads through the caller's Membership. A row of another organisation is
# "not found" (None), never "forbidden", so an id reveals nothing.


def membership_for_user(*, user: User | AnonymousUser) -> Membership | None:
    """The user's membership of an open organisation (the oldest, when there are several),
    with the organisation, its country and its NACE code. One query."""
    if not user.is_authenticated:
        return None
    return (
        Membership.objects.filter(user=user, organization__closed_at__isnull=True)
        .select_related("organization__country", "organization__nace")
        .order_by("created_at", "id")
        .first()
    )


def membership_list_for_organization(*, organization: Organization) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .order_by("created_at", "id")
    )


def _open_matches() -> Q:
    from matching.models import Stage

    return ~Q(matches__stage__in=(Stage.REJECTED, Stage.WITHDRAWN))


def listing_list_for_organization(
    *, model: type[Offer] | type[Demand], organization: Organization, status: str = ""
) -> QuerySet[Any]:
    """The organisation's offers or demands, open ones first, newest first, each with its site,
    code, category and `match_count` (matches not rejected or withdrawn). One query."""
    listings = model.objects.filter(organization=organization)
    if status:
        listings = listings.filter(status=status)
    return (
        listings.select_related("site", "waste_code", "category")
        .annotate(match_count=Count("matches", filter=_open_matches()))
        .order_by(
            Case(When(status=ListingStatus.CLOSED, then=Value(1)), default=Value(0)),
            "-created_at",
            "-id",
        )
    )


def listing_get_for_organization(
    *, model: type[Offer] | type[Demand], organization: Organization, pk: int
) -> Offer | Demand | None:
    """One of the organisation's offers or demands, or None (another's, or none at all)."""
    listings = model.objects.filter(organization=organization, pk=pk).select_related(
        "site__region", "site__country", "waste_code", "category"
    )
    if model is Demand:
        listings = listings.select_related("operation").prefetch_related(
            "accepted_codes", "accepted_categories"
        )
    return listings.first()


def listing_status_counts(
    *, model: type[Offer] | type[Demand], organization: Organization
) -> dict[str, int]:
    """How many of the organisation's offers or demands are in each status. One query."""
    counts = dict.fromkeys(ListingStatus.values, 0)
    rows = (
        model.objects.filter(organization=organization)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
    )
    for status, n in rows:
        counts[status] = n
    return counts


def site_list_for_organization(*, organization: Organization) -> QuerySet[Site]:
    return (
        Site.objects.filter(organization=organization)
        .select_related("region", "nearest_port", "country")
        .order_by("name", "id")
    )


@dataclass(frozen=True, slots=True)
class Contact:
    """The counterpart's identity: shown only once identities are disclosed."""

    organization: str
    name: str
    email: str
    phone: str


@dataclass(frozen=True, slots=True)
class CounterpartListing:
    """What a company may see of the other side's listing before an introduction."""

    title: str
    resource_type: str
    waste_code: WasteCode | None
    annual_quantity: Decimal
    base_unit: str


@dataclass(frozen=True, slots=True)
class CompanyMatch:
    """A match as one organisation sees it: its own listing, the counterpart anonymised, and
    the counterpart's contact details only once both sides said "interested" after an
    introduction (matching.workflow.identities_disclosed)."""

    match: Any  # matching.models.Match
    side: str  # the organisation's side: "offer" or "demand"
    own: Offer | Demand
    counterpart: CounterpartListing
    counterpart_label: str
    response: str
    response_reason: str
    contact: Contact | None

    @property
    def co2_tonnes_per_year(self) -> float | None:
        if self.match.co2_kg_per_tonne is None or self.match.tonnes_per_year is None:
            return None
        return self.match.co2_kg_per_tonne * self.match.tonnes_per_year / 1000


def company_match_list(*, user: User, organization_id: int) -> QuerySet[Any]:
    """The matches of the user's organisation `organization_id`, best first, without rejected
    or withdrawn ones (matching.selectors.match_list_for_company). Two queries."""
    from matching.selectors import match_list_for_company

    return match_list_for_company(user=user).filter(
        Q(offer__organization_id=organization_id) | Q(demand__organization_id=organization_id)
    )


def company_match_get(*, user: User, organization_id: int, match_id: int) -> CompanyMatch | None:
    """One match of the organisation as it sees it, or None when it is not one of its own."""
    from matching.selectors import match_get_for_company

    match = match_get_for_company(user=user, match_id=match_id)
    if match is None or organization_id not in (
        match.offer.organization_id,
        match.demand.organization_id,
    ):
        return None
    return company_match_view(match=match, organization_id=organization_id)


def company_match_view(*, match: Any, organization_id: int) -> CompanyMatch:
    """The organisation's view of a match loaded by a matching selector (no further query)."""
    from matching.selectors import counterpart_label
    from matching.workflow import identities_disclosed

    from .units import base_unit

    side = "offer" if match.offer.organization_id == organization_id else "demand"
    own, other = (match.offer, match.demand) if side == "offer" else (match.demand, match.offer)
    contact = None
    if identities_disclosed(match):
        organization = other.organization
        contact = Contact(
            organization=organization.name,
            name=organization.contact_name,
            email=organization.contact_email,
            phone=organization.contact_phone,
        )
    return CompanyMatch(
        match=match,
        side=side,
        own=own,
        counterpart=CounterpartListing(
            title=other.title,
            resource_type=other.resource_type,
            waste_code=other.waste_code,
            annual_quantity=other.annual_quantity,
            base_unit=base_unit(other.unit),
        ),
        counterpart_label=counterpart_label(match=match, listing=other),
        response=getattr(match, f"{side}_response"),
        response_reason=getattr(match, f"{side}_response_reason"),
        contact=contact,
    )


def company_match_stage_counts(*, user: User, organization_id: int) -> dict[str, int]:
    """How many of the organisation's visible matches are at each stage. Two queries."""
    from matching.models import Stage

    counts = dict.fromkeys(Stage.values, 0)
    rows = (
        company_match_list(user=user, organization_id=organization_id)
        .order_by()
        .values_list("stage")
        .annotate(n=Count("id"))
    )
    for stage, n in rows:
        counts[stage] = n
    return counts


# --- facilitators: organisations awaiting verification ---------------------------------------


def organization_list_pending_for_facilitator(*, user: User) -> QuerySet[Organization] | None:
    """Open, unverified organisations with a site in the user's harbour regions (staff: all),
    oldest first, with their sites and admin members. None when the user is neither staff nor
    the facilitator of any region: for them the page does not exist."""
    pending = Organization.objects.filter(verified_at__isnull=True, closed_at__isnull=True)
    if not user.is_staff:
        region_ids = list(user.facilitated_regions.values_list("id", flat=True))
        if not region_ids:
            return None
        pending = pending.filter(
            pk__in=Site.objects.filter(region_id__in=region_ids).values("organization_id")
        )
    return (
        pending.select_related("country", "nace")
        .prefetch_related(
            Prefetch("sites", queryset=Site.objects.select_related("region").order_by("name")),
            Prefetch(
                "memberships",
                queryset=Membership.objects.filter(role=Membership.Role.ADMIN)
                .select_related("user")
                .order_by("created_at"),
                to_attr="admin_memberships",
            ),
        )
        .order_by("created_at", "id")
    )


def organization_get_pending_for_facilitator(*, user: User, pk: int) -> Organization | None:
    pending = organization_list_pending_for_facilitator(user=user)
    return None if pending is None else pending.filter(pk=pk).first()


# --- an organisation's own data, for its export ----------------------------------------------


def _listing_export(listing: Offer | Demand) -> dict[str, Any]:
    return {
        "id": listing.pk,
        "ref": listing.ref,
        "title": listing.title,
        "description": listing.description,
        "status": listing.status,
        "resource_type": listing.resource_type,
        "category": listing.category.slug if listing.category else "",
        "low_code": listing.waste_code_id or "",
        "quantity": listing.quantity,
        "unit": listing.unit,
        "frequency": listing.frequency,
        "annual_quantity": listing.annual_quantity,
        "available_from": listing.available_from,
        "available_until": listing.available_until,
        "site_id": listing.site_id,
        "created_at": listing.created_at,
        "published_at": listing.published_at,
    }


def organization_export_data(*, organization: Organization) -> dict[str, Any]:
    """Everything the portal holds about an organisation, for its administrator's export: the
    organisation, its members (names and emails), sites, offers, demands, and its matches with
    every counterpart anonymised as the portal shows it before an introduction.

    Returns plain dicts and lists (values: str, int, float, bool, Decimal, date, datetime or
    None), one list per table. A fixed number of queries.
    """
    from matching.models import Match
    from matching.selectors import counterpart_label

    organization = Organization.objects.select_related("country", "nace").get(pk=organization.pk)
    members = [
        {
            "username": m.user.username,
            "first_name": m.user.first_name,
            "last_name": m.user.last_name,
            "email": m.user.email,
            "role": m.role,
            "member_since": m.created_at,
            "last_login": m.user.last_login,
        }
        for m in membership_list_for_organization(organization=organization)
    ]
    sites = [
        {
            "id": s.pk,
            "name": s.name,
            "address": s.address,
            "city": s.city,
            "country": s.country_id,
            "lat": s.lat,
            "lon": s.lon,
            "harbour_region": s.region.name if s.region else "",
            "nearest_port": s.nearest_port.unlocode if s.nearest_port else "",
        }
        for s in site_list_for_organization(organization=organization)
    ]
    offers = [
        {
            **_listing_export(o),
            "waste_status": o.waste_status,
            "status_evidence": o.status_evidence,
            "hazardous": o.hazardous,
            "physical_form": o.physical_form,
            "price_eur_per_unit": o.price_eur_per_unit,
            "can_deliver": o.can_deliver,
        }
        for o in Offer.objects.filter(organization=organization)
        .select_related("category")
        .order_by("created_at", "id")
    ]
    demands = [
        {
            **_listing_export(d),
            "accepted_codes": " ".join(c.code for c in d.accepted_codes.all()),
            "quantity_min": d.quantity_min,
            "max_distance_km": d.max_distance_km,
            "operation": d.operation_id or "",
            "has_permit": d.has_permit,
            "accepts_hazardous": d.accepts_hazardous,
        }
        for d in Demand.objects.filter(organization=organization)
        .select_related("category")
        .prefetch_related("accepted_codes")
        .order_by("created_at", "id")
    ]
    matches = []
    for match in (
        Match.objects.filter(
            Q(offer__organization=organization) | Q(demand__organization=organization)
        )
        .select_related(
            "offer__organization__nace",
            "offer__site__region",
            "demand__organization__nace",
            "demand__site__region",
        )
        .order_by("created_at", "id")
    ):
        side = "offer" if match.offer.organization_id == organization.pk else "demand"
        own, other = (match.offer, match.demand) if side == "offer" else (match.demand, match.offer)
        matches.append(
            {
                "id": match.pk,
                "side": side,
                "own_listing_id": own.pk,
                "own_listing_title": own.title,
                "counterpart": counterpart_label(match=match, listing=other),
                "score": round(match.score, 4),
                "explanation": match.explanation,
                "stage": match.stage,
                "legal_procedure": match.legal_procedure,
                "distance_km": round(match.distance_km, 1),
                "transport_mode": match.transport_mode,
                "co2_kg_per_tonne": match.co2_kg_per_tonne,
                "tonnes_per_year": match.tonnes_per_year,
                "response": getattr(match, f"{side}_response"),
                "response_reason": getattr(match, f"{side}_response_reason"),
                "created_at": match.created_at,
            }
        )
    return {
        "organization": {
            "id": organization.pk,
            "name": organization.name,
            "country": organization.country_id,
            "nace": organization.nace.code if organization.nace else "",
            "nace_version": organization.nace.version if organization.nace else "",
            "website": organization.website,
            "contact_name": organization.contact_name,
            "contact_email": organization.contact_email,
            "contact_phone": organization.contact_phone,
            "verified_at": organization.verified_at,
            "created_at": organization.created_at,
        },
        "members": members,
        "sites": sites,
        "offers": offers,
        "demands": demands,
        "matches": matches,
    }


# --- listings for the partner API and the portal ---------------------------------------------

EARTH_RADIUS_KM: Final = 6371.0
KM_PER_DEGREE: Final = math.pi * EARTH_RADIUS_KM / 180  # great-circle km per degree of latitude
PUBLIC_PRECISION_DEG: Final = 0.1  # anonymised locations are rounded to 0.1 degree (~10 km)


def listing_model(kind: str) -> type[Offer] | type[Demand]:
    """``"offer"`` → Offer, ``"demand"`` → Demand; anything else is a programming error."""
    return {"offer": Offer, "demand": Demand}[kind]


def public_coordinate(value: float) -> float:
    """A latitude or longitude rounded to PUBLIC_PRECISION_DEG, as the public search shows it.

    floor(x * 10 + 0.5) / 10, the same arithmetic as migration 0006 does in SQL (PostgreSQL has
    no round(double precision, int)). listings.services stores it on each listing.
    """
    return math.floor(value * 10 + 0.5) / 10.0


# What the public search reads of a listing: no organisation id, no site, no contact. The
# primary key and created_at are only for the keyset cursor; the organisation's name only to
# redact it from the free text (PublicListingSerializer drops all three).
_PUBLIC_COLUMNS: Final = (
    "id",
    "created_at",
    "public_id",
    "title",
    "description",
    "resource_type",
    "waste_code_id",
    "category_id",
    "quantity",
    "unit",
    "frequency",
    "annual_quantity",
    "available_from",
    "available_until",
    "published_at",
    "country_id",
    "region_id",
    "approx_lat",
    "approx_lon",
)
_PUBLIC_COLUMNS_OF: Final = {
    "offer": (*_PUBLIC_COLUMNS, "waste_status", "physical_form", "hazardous"),
    "demand": (
        *_PUBLIC_COLUMNS,
        "quantity_min",
        "max_distance_km",
        "operation_id",
        "accepts_hazardous",
    ),
}


def listing_search_public(*, kind: str) -> QuerySet[Any]:
    """Published listings for the anonymised search, newest first, as dicts of the columns the
    public answer needs (``kind`` is added to each row), with the location already rounded.

    One table: the site's country, region and rounded location are copied onto the listing
    (kept in step by listings.services), so every filter is a column of this row and the
    partial indexes of _public_search_indexes serve it without a join. The organisation's name
    is a scalar subquery, which PostgreSQL evaluates only for the rows of the page (after the
    sort and the limit); a join would let the planner hash the whole organisation table. A row
    without a copied country was written around the services and is left out.
    """
    return _public_listings(kind).all()


@functools.cache
def _public_listings(kind: str) -> QuerySet[Any]:
    # Built once per process and kind (like _api_tokens_with_membership): callers get a copy.
    model = listing_model(kind)
    name = Organization.objects.filter(pk=OuterRef("organization_id")).order_by().values("name")
    return (
        model.objects.filter(status=ListingStatus.PUBLISHED, country__isnull=False)
        .values(*_PUBLIC_COLUMNS_OF[kind], organization_name=Subquery(name), kind=Value(kind))
        .order_by("-created_at", "-id")
    )


def listing_get_public(*, public_id: str) -> dict[str, Any] | None:
    """A published listing by its opaque public id ("off_…" or "dem_…"), as the public search
    row, or None."""
    kind = {"off_": "offer", "dem_": "demand"}.get(public_id[:4])
    if kind is None or len(public_id) > 24:
        return None
    return listing_search_public(kind=kind).filter(public_id=public_id).first()


def listing_filter_near(
    queryset: QuerySet, *, lat: float, lon: float, radius_km: float
) -> QuerySet:
    """Listings whose rounded location lies within ``radius_km`` of (lat, lon).

    A bounding box on the rounded coordinates first (a range of the partial index
    listings_<kind>_pubnear_idx), then the exact haversine distance from the ROUNDED location,
    annotated as ``distance_km``: measuring from the exact site would let repeated radius
    searches triangulate it.
    """
    margin = 1e-7  # degrees: the box only pre-filters, float noise must not drop a border point
    dlat = radius_km / KM_PER_DEGREE + margin
    cos_lat = math.cos(math.radians(lat))
    max_abs_lat = abs(lat) + dlat
    if max_abs_lat >= 89.0 or cos_lat < 0.01:
        lon_bounds = None
    else:
        dlon = radius_km / (KM_PER_DEGREE * math.cos(math.radians(max_abs_lat))) + margin
        lon_bounds = (lon - dlon, lon + dlon) if dlon < 180.0 else None
    box = Q(approx_lat__gte=lat - dlat, approx_lat__lte=lat + dlat)
    if lon_bounds is not None:
        low, high = lon_bounds
        if low < -180.0:
            box &= Q(approx_lon__gte=low + 360) | Q(approx_lon__lte=high)
        elif high > 180.0:
            box &= Q(approx_lon__gte=low) | Q(approx_lon__lte=high - 360)
        else:
            box &= Q(approx_lon__gte=low, approx_lon__lte=high)
    distance = _GreatCircleKm("approx_lat", "approx_lon", lat=lat, lon=lon)
    return queryset.filter(box).annotate(distance_km=distance).filter(distance_km__lte=radius_km)


class _GreatCircleKm(Func):
    """The haversine distance in km from (lat, lon) to the point in two columns:
    2R asin(sqrt(min(1, sin²(Δφ/2) + cos φ cos φ0 sin²(Δλ/2)))).

    One expression node rather than a tree of a dozen Django functions, which cost more to build
    and compile on every radius search than PostgreSQL takes to run it (bench_api). LEAST is
    MIN on SQLite (the demo), whose math functions Django provides."""

    output_field = FloatField()

    def __init__(self, lat_field: str, lon_field: str, *, lat: float, lon: float) -> None:
        cos_lat = math.cos(math.radians(lat))
        super().__init__(F(lat_field), F(lon_field), Value(lat), Value(lon), Value(cos_lat))

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        compiled = [compiler.compile(e) for e in self.get_source_expressions()]
        (phi, phi_p), (lam, lam_p), (phi0, phi0_p), (lam0, lam0_p), (cos0, cos0_p) = compiled
        least = "MIN" if connection.vendor == "sqlite" else "LEAST"
        sql = (
            f"(2 * {EARTH_RADIUS_KM!r} * ASIN(SQRT({least}("
            f"POWER(SIN(RADIANS({phi} - {phi0}) / 2), 2) + COS(RADIANS({phi})) * {cos0} * "
            f"POWER(SIN(RADIANS({lam} - {lam0}) / 2), 2), 1.0))))"
        )
        return sql, [*phi_p, *phi0_p, *phi_p, *cos0_p, *lam_p, *lam0_p]


def low_code_range(prefix: str) -> tuple[str, str]:
    """The codes a List of Waste prefix covers, as an inclusive range of six-digit codes (a
    range uses the index where LIKE 'x%' would not)."""
    return prefix.ljust(6, "0"), prefix.ljust(6, "9")


def material_category_descendant_ids(*, category: MaterialCategory) -> list[int]:
    """The category and every category below it (the tree has a few hundred nodes)."""
    return material_category_descendants_by_slug()[category.slug]


def material_category_descendants_by_slug() -> dict[str, list[int]]:
    """Category slug → the ids of the category and every category below it; cached per
    process for a few minutes, like the other reference codes (harbors.selectors)."""
    from harbors.selectors import _cached

    return _cached("category-descendants", _category_descendants)


def _category_descendants() -> dict[str, list[int]]:
    rows = list(MaterialCategory.objects.values_list("id", "parent_id", "slug"))
    children: dict[int | None, list[int]] = {}
    for pk, parent, _ in rows:
        children.setdefault(parent, []).append(pk)
    return {slug: _subtree(pk, children) for pk, _, slug in rows}


def _subtree(root: int, children: dict[int | None, list[int]]) -> list[int]:
    result, stack = [], [root]
    while stack:
        node = stack.pop()
        result.append(node)
        stack.extend(children.get(node, ()))
    return result


def _fold(text: str) -> str:
    # str.casefold() equates every pair of characters that re.IGNORECASE does, except the
    # dotless i, which re also matches to "i" (re._casefix).
    return text.casefold().replace("\u0131", "i")


def redact_names(text: str, *names: str) -> str:
    """``text`` with each of ``names`` (case-insensitive, 3 characters or more) replaced by
    "[organisation]": companies sometimes name themselves in a listing's free text."""
    folded = _fold(text)
    for name in names:
        name = (name or "").strip()
        # _fold equates at least what IGNORECASE does, so a name it does not find is not
        # there: the regex (compiled per name) runs only when it is (the public search calls
        # this twice for each of its 25 rows).
        if len(name) >= 3 and _fold(name) in folded:
            text = re.sub(re.escape(name), "[organisation]", text, flags=re.IGNORECASE)
    return text


def listing_public_text(listing: Offer | Demand, text: str) -> str:
    return redact_names(text, listing.organization.name)


def listing_list_for_organizations(
    *, kind: str, organization_ids: Collection[int]
) -> QuerySet[Offer] | QuerySet[Demand]:
    """The listings of the given organisations (the caller's own), newest first."""
    model = listing_model(kind)
    queryset = (
        model.objects.filter(organization_id__in=list(organization_ids))
        .select_related("site", "waste_code", "category")
        .order_by("-id")
    )
    if model is Demand:
        queryset = queryset.select_related("operation").prefetch_related(
            "accepted_codes", "accepted_categories"
        )
    return queryset


def listing_get_for_organizations(
    *, kind: str, organization_ids: Collection[int], listing_id: int
) -> Offer | Demand | None:
    return (
        listing_list_for_organizations(kind=kind, organization_ids=organization_ids)
        .filter(pk=listing_id)
        .first()
    )


def listing_ref_taken(*, kind: str, ref: str, exclude_id: int | None = None) -> bool:
    """Whether another listing of that kind already uses ``ref`` (refs are unique per kind)."""
    queryset = listing_model(kind).objects.filter(ref=ref)
    if exclude_id is not None:
        queryset = queryset.exclude(pk=exclude_id)
    return bool(ref) and queryset.exists()


def site_list_for_organizations(*, organization_ids: Collection[int]) -> QuerySet[Site]:
    return (
        Site.objects.filter(organization_id__in=list(organization_ids))
        .select_related("region", "nearest_port")
        .order_by("-id")
    )


def site_get_for_organizations(*, organization_ids: Collection[int], site_id: int) -> Site | None:
    return site_list_for_organizations(organization_ids=organization_ids).filter(pk=site_id).first()


def site_has_listings(*, site: Site) -> bool:
    return Offer.objects.filter(site=site).exists() or Demand.objects.filter(site=site).exists()


def waste_code_list() -> QuerySet[WasteCode]:
    return WasteCode.objects.order_by("code")


def waste_code_list_matching(queryset: QuerySet[WasteCode], *, q: str) -> QuerySet[WasteCode]:
    """Codes by code or prefix ("10", "10 01", "100102*") or by every word of the title."""
    digits = re.sub(r"[\s*-]", "", q)
    if digits.isdigit():
        return queryset.filter(code__startswith=digits[:6])
    for word in q.split()[:8]:
        queryset = queryset.filter(title__icontains=word)
    return queryset


def material_category_list() -> QuerySet[MaterialCategory]:
    return MaterialCategory.objects.select_related("parent").order_by("slug")


def material_category_get(*, slug: str) -> MaterialCategory | None:
    return MaterialCategory.objects.filter(slug=slug).first()


def operation_list() -> QuerySet[Operation]:
    return Operation.objects.order_by("kind", "code")


def operation_get(*, code: str) -> Operation | None:
    return Operation.objects.filter(pk=code.strip().upper().replace(" ", "")).first()


def nace_list() -> QuerySet[NaceCode]:
    return NaceCode.objects.select_related("parent").order_by("id")


def waste_codes_get(*, codes: Collection[str]) -> dict[str, WasteCode]:
    """The List of Waste entries among ``codes`` (six digits each), by code."""
    return {c.code: c for c in WasteCode.objects.filter(code__in=list(codes))}


def material_categories_get(*, slugs: Collection[str]) -> dict[str, MaterialCategory]:
    return {c.slug: c for c in MaterialCategory.objects.filter(slug__in=list(slugs))}


def nace_list_matching(queryset: QuerySet[NaceCode], *, q: str) -> QuerySet[NaceCode]:
    """NACE codes by code prefix ("23.5") or by every word of the title."""
    text = q.strip()
    if text[:1].isdigit() or (len(text) == 1 and text.isalpha()):
        return queryset.filter(code__istartswith=text)
    for word in text.split()[:6]:
        queryset = queryset.filter(title__icontains=word)
    return queryset


def organization_get(*, organization_id: int) -> Organization:
    """An organisation the caller is known to act for (the API resolved it from its caller)."""
    return Organization.objects.get(pk=organization_id)


def waste_code_refs() -> dict[str, dict[str, Any]]:
    """List of Waste code → its public description (cached per process for a few minutes): the
    hot search reads it instead of joining the table."""
    from harbors.selectors import _cached

    return _cached(
        "waste-code-refs",
        lambda: {
            code.code: {
                "code": code.code,
                "display_code": code.display_code,
                "title": code.title,
                "hazardous": code.hazardous,
            }
            for code in WasteCode.objects.all()
        },
    )


def material_category_refs() -> dict[int, dict[str, str]]:
    """Category id → slug and name (cached per process for a few minutes)."""
    from harbors.selectors import _cached

    return _cached(
        "category-refs",
        lambda: {
            pk: {"slug": slug, "name": name}
            for pk, slug, name in MaterialCategory.objects.values_list("id", "slug", "name")
        },
    )


def listing_public_references(row: dict[str, Any]) -> dict[str, Any]:
    """The reference rows a public search row names (its code, category and harbour region),
    from the cached tables: no query."""
    from harbors.selectors import harbor_regions_by_id

    region = harbor_regions_by_id().get(row["region_id"]) if row["region_id"] else None
    return {
        "waste_code": waste_code_refs().get(row["waste_code_id"] or ""),
        "category": material_category_refs().get(row["category_id"])
        if row["category_id"]
        else None,
        "region": {"code": region[0], "name": region[1]} if region else None,
    }
