"""Reads for matching: listings as scoring profiles, and the routing tables from the database.

This is where matching adapts listings rows to the pure dataclasses of scoring.py and
pair_context.py (matching owns this direction).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from harbors.logistics import ModeFactor, PortNode, Router, SeaLegCache
from harbors.models import Port, TransportFactor
from listings.models import Demand, ListingStatus, MaterialCategory, Offer

from .models import Match
from .pair_context import DemandLegal, OfferLegal
from .scoring import DemandProfile, OfferProfile

_LISTING_FIELDS = (
    "id",
    "organization_id",
    "ref",
    "version",
    "resource_type",
    "waste_code_id",
    "category_id",
    "title",
    "description",
    "annual_quantity",
    "unit",
    "available_from",
    "available_until",
    "site__lat",
    "site__lon",
    "site__country_id",
)
_OFFER_FIELDS = (
    *_LISTING_FIELDS,
    "hazardous",
    "waste_status",
    "status_evidence",
    "list_class",
    "basel_code",
    "mixture",
    "contaminated",
    "pops",
    "waste_code__mirror",
)
_DEMAND_FIELDS = (
    *_LISTING_FIELDS,
    "quantity_min",
    "quantity",
    "max_distance_km",
    "accepts_hazardous",
    "has_permit",
    "operation_id",
)


@dataclass(frozen=True, slots=True)
class ScoredListing:
    """A listing as the engine sees it: the profile, its legal facts and its words."""

    id: int
    organization_id: int
    ref: str
    version: int
    profile: OfferProfile | DemandProfile
    legal: OfferLegal | DemandLegal
    text: str


def category_paths() -> dict[int, tuple[str, ...]]:
    """Category id → slugs from the root to the category (the tree has a few hundred nodes)."""
    rows = {
        pk: (slug, parent)
        for pk, slug, parent in MaterialCategory.objects.values_list("id", "slug", "parent_id")
    }
    paths: dict[int, tuple[str, ...]] = {}
    for pk in rows:
        path, node = [], pk
        while node is not None and len(path) < 16:
            slug, parent = rows[node]
            path.append(slug)
            node = parent
        paths[pk] = tuple(reversed(path))
    return paths


def _concepts(text: str) -> frozenset[str]:
    from .text import Thesaurus

    return Thesaurus.default().concepts_in(text)


def _base_unit(unit: str) -> str:
    from listings.units import base_unit

    return base_unit(unit)


def _common(row: dict[str, Any], paths: dict[int, tuple[str, ...]]) -> dict[str, Any]:
    text = f"{row['title']}. {row['description']}"
    return {
        "id": row["id"],
        "resource_type": row["resource_type"],
        "low_code": row["waste_code_id"] or "",
        "category_path": paths.get(row["category_id"], ()) if row["category_id"] else (),
        "concepts": _concepts(text),
        "annual_quantity": float(row["annual_quantity"]),
        "base_unit": _base_unit(row["unit"]),
        "lat": row["site__lat"],
        "lon": row["site__lon"],
        "available_from": row["available_from"],
        "available_until": row["available_until"],
    }


def offer_scored_listings(queryset: QuerySet[Offer]) -> list[ScoredListing]:
    paths = category_paths()
    result = []
    for row in queryset.values(*_OFFER_FIELDS):
        profile = OfferProfile(**_common(row, paths), hazardous=row["hazardous"])
        legal = OfferLegal(
            country=row["site__country_id"],
            waste_status=row["waste_status"],
            evidence=row["status_evidence"],
            low_code=row["waste_code_id"] or "",
            hazardous=row["hazardous"],
            mirror=bool(row["waste_code__mirror"]),
            list_class=row["list_class"],
            basel_code=row["basel_code"],
            mixture=row["mixture"],
            contaminated=row["contaminated"],
            pops=row["pops"],
            resource_type=row["resource_type"],
        )
        result.append(
            ScoredListing(
                row["id"],
                row["organization_id"],
                row["ref"],
                row["version"],
                profile,
                legal,
                f"{row['title']}. {row['description']}",
            )
        )
    return result


def demand_scored_listings(queryset: QuerySet[Demand]) -> list[ScoredListing]:
    paths = category_paths()
    rows = list(queryset.values(*_DEMAND_FIELDS))
    ids = [r["id"] for r in rows]
    accepted_codes: dict[int, set[str]] = {i: set() for i in ids}
    for demand_id, code in Demand.accepted_codes.through.objects.filter(
        demand_id__in=ids
    ).values_list("demand_id", "wastecode_id"):
        accepted_codes[demand_id].add(code)
    slugs = {pk: path[-1] for pk, path in paths.items() if path}
    accepted_categories: dict[int, set[str]] = {i: set() for i in ids}
    for demand_id, category in Demand.accepted_categories.through.objects.filter(
        demand_id__in=ids
    ).values_list("demand_id", "materialcategory_id"):
        accepted_categories[demand_id].add(slugs[category])
    result = []
    for row in rows:
        minimum = None
        if row["quantity_min"] is not None and row["quantity"]:
            minimum = float(row["annual_quantity"]) * float(row["quantity_min"] / row["quantity"])
        profile = DemandProfile(
            **_common(row, paths),
            accepted_codes=frozenset(accepted_codes[row["id"]]),
            accepted_categories=frozenset(accepted_categories[row["id"]]),
            annual_quantity_min=minimum,
            max_distance_km=float(row["max_distance_km"]) if row["max_distance_km"] else None,
            accepts_hazardous=row["accepts_hazardous"],
            has_permit=row["has_permit"],
        )
        legal = DemandLegal(country=row["site__country_id"], operation=row["operation_id"] or "")
        result.append(
            ScoredListing(
                row["id"],
                row["organization_id"],
                row["ref"],
                row["version"],
                profile,
                legal,
                f"{row['title']}. {row['description']}",
            )
        )
    return result


def published_offers() -> QuerySet[Offer]:
    return Offer.objects.filter(status=ListingStatus.PUBLISHED)


def published_demands() -> QuerySet[Demand]:
    return Demand.objects.filter(status=ListingStatus.PUBLISHED)


_ROUTER: dict[tuple[Any, ...], Router] = {}


def router_get() -> Router:
    """A Router over the ports and the operator's transport factors, built once per process and
    rebuilt when either changes. Sea legs between every pair of seaports are computed up front,
    so scoring never calls the sea router in a loop."""
    ports = list(
        Port.objects.values_list(
            "unlocode", "name", "lat", "lon", "kind", "waterways", "country_id"
        )
    )
    factors = list(
        TransportFactor.objects.values_list(
            "mode", "g_co2e_per_tkm", "eur_per_tkm", "eur_per_tonne_handling", "detour_factor"
        )
    )
    key = (tuple(ports), tuple(factors))
    if key not in _ROUTER:
        nodes = [
            PortNode(
                unlocode=u,
                name=n,
                lat=lat,
                lon=lon,
                kind=kind,
                waterways=frozenset(w.split()),
                country=c,
            )
            for u, n, lat, lon, kind, w, c in ports
        ]
        mode_factors = {
            m: ModeFactor(
                mode=m, g_co2e_per_tkm=g, eur_per_tkm=e, eur_per_tonne_handling=h, detour_factor=d
            )
            for m, g, e, h, d in factors
        } or None
        sea_legs = SeaLegCache(nodes)
        sea_legs.precompute(nodes)
        _ROUTER.clear()
        _ROUTER[key] = Router(nodes, mode_factors, sea_legs)
    return _ROUTER[key]


# --- scoped reads for companies and facilitators --------------------------------------------
# Every read of a match goes through one of these. A company sees the matches of its own
# organisations; a facilitator sees the matches touching the harbour regions assigned to them;
# anything else is "not found", never "forbidden", so an id reveals nothing.

_MATCH_RELATED = (
    "offer__organization__nace",
    "offer__site__region",
    "offer__site__country",
    "offer__waste_code",
    "demand__organization__nace",
    "demand__site__region",
    "demand__site__country",
    "demand__waste_code",
)
HIDDEN_STAGES = ("rejected", "withdrawn")


def organization_ids_for_user(*, user: Any) -> list[int]:
    from listings.models import Membership

    return list(
        Membership.objects.filter(user=user, organization__closed_at__isnull=True).values_list(
            "organization_id", flat=True
        )
    )


def match_list_for_company(*, user: Any) -> QuerySet[Match]:
    """The matches of the user's organisations, best first, without rejected or withdrawn."""
    orgs = organization_ids_for_user(user=user)
    return (
        Match.objects.filter(
            Q(offer__organization_id__in=orgs) | Q(demand__organization_id__in=orgs)
        )
        .exclude(stage__in=HIDDEN_STAGES)
        .select_related(*_MATCH_RELATED)
        .order_by("-score", "id")
    )


def match_get_for_company(*, user: Any, match_id: int) -> Match | None:
    return match_list_for_company(user=user).filter(pk=match_id).first()


def facilitator_region_ids(*, user: Any) -> list[int]:
    from harbors.models import HarborRegion

    if getattr(user, "is_staff", False):
        return list(HarborRegion.objects.values_list("id", flat=True))
    return list(user.facilitated_regions.values_list("id", flat=True))


def match_queue_for_facilitator(*, user: Any) -> QuerySet[Match]:
    """The matches touching the facilitator's harbour regions (staff: all), best first."""
    regions = facilitator_region_ids(user=user)
    return (
        Match.objects.filter(
            Q(offer__site__region_id__in=regions) | Q(demand__site__region_id__in=regions)
        )
        .select_related(*_MATCH_RELATED)
        .order_by("-score", "id")
    )


def match_get_for_facilitator(*, user: Any, match_id: int) -> Match | None:
    return match_queue_for_facilitator(user=user).filter(pk=match_id).first()


def counterpart_label(*, match: Match, listing: Offer | Demand) -> str:
    """The other side, anonymised: "a cement plant (NACE 23.51) in the Rotterdam and Moerdijk
    region, NL, 38 km". Never a name, an exact place or an id."""
    organization = listing.organization
    sector = (
        f"{organization.nace.title[:1].lower()}{organization.nace.title[1:]} "
        f"(NACE {organization.nace.code})"
        if organization.nace
        else "an organisation"
    )
    sector = sector if not organization.nace else f"a company in {sector}"
    region = listing.site.region
    where = f"in the {region.name} region, " if region else ""
    return f"{sector} {where}{listing.site.country_id}, {match.distance_km:.0f} km"
