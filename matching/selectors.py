"""Reads for matching: listings as scoring profiles, and the routing tables from the database.

This is where matching adapts listings rows to the pure dataclasses of scoring.py and
pair_context.py (matching owns this direction).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import sys
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Case, Prefetch, Q, QuerySet, When
from django.utils.translation import gettext

from harbors.logistics import ModeFactor, PortNode, Router, SeaLegCache
from harbors.models import Port, TransportFactor
from listings.models import Demand, ListingStatus, MaterialCategory, Offer
from symbiosis.exceptions import ApplicationError

from .models import Match, MatchEvent, MatchingRun, Prospect
from .pair_context import DemandLegal, OfferLegal
from .scoring import DemandProfile, OfferProfile

logger = logging.getLogger(__name__)

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
    "concepts",
    "concepts_key",
    "annual_quantity",
    "unit",
    "available_from",
    "available_until",
    "site__lat",
    "site__lon",
    "site__country_id",
    "updated_at",
)
# What ``offer_legal`` reads of an offer row, besides its code and resource type.
OFFER_LEGAL_FIELDS = (
    "site__country_id",
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
_OFFER_FIELDS = tuple(dict.fromkeys((*_LISTING_FIELDS, *OFFER_LEGAL_FIELDS)))
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
    updated_at: datetime | None = None  # of the listing row, to see later edits


@dataclass(frozen=True, slots=True)
class CategoryTable:
    """The material taxonomy as scoring needs it: each category's path from the root, and the
    path a List of Waste code implies: the category whose ``low_prefixes`` holds the longest
    prefix of the code, unless that is a top-level family ("minerals", "chemicals"). A family
    alone would "include" every category below it and link far too much; the code's own
    chapter already says as much."""

    paths: dict[int, tuple[str, ...]]
    by_prefix: dict[str, tuple[str, ...]]

    def path_for(self, category_id: int | None, low_code: str) -> tuple[str, ...]:
        """The listing's own category path, else the one its code implies, else ()."""
        if category_id is not None:
            return self.paths.get(category_id, ())
        if low_code:
            for length in (6, 4, 2):
                path = self.by_prefix.get(low_code[:length])
                if path:
                    return path
        return ()


def category_table() -> CategoryTable:
    """One query over the taxonomy (a few hundred nodes)."""
    rows = {
        pk: (slug, parent, prefixes)
        for pk, slug, parent, prefixes in MaterialCategory.objects.values_list(
            "id", "slug", "parent_id", "low_prefixes"
        )
    }
    paths: dict[int, tuple[str, ...]] = {}
    for pk in rows:
        path, node = [], pk
        while node is not None and len(path) < 16:
            slug, parent, _ = rows[node]
            path.append(slug)
            node = parent
        paths[pk] = tuple(reversed(path))
    by_prefix = {
        prefix: paths[pk]
        for pk, (_, parent, prefixes) in rows.items()
        if parent is not None
        for prefix in prefixes.split()
    }
    return CategoryTable(paths, by_prefix)


def category_paths() -> dict[int, tuple[str, ...]]:
    """Category id → slugs from the root to the category (the tree has a few hundred nodes)."""
    return category_table().paths


def listing_text(title: str, description: str) -> str:
    """The words of a listing the engine reads: its concepts, its text vector."""
    return f"{title}. {description}"


def listing_concepts(title: str, description: str) -> tuple[str, str]:
    """What a listing stores of its words for the engine (``concepts``, ``concepts_key``): the
    thesaurus concepts they name and their key (``Thesaurus.stored_concepts``)."""
    from .text import Thesaurus

    return Thesaurus.default().stored_concepts(listing_text(title, description))


@functools.lru_cache(maxsize=1 << 16)
def _concepts(text: str) -> frozenset[str]:
    """Thesaurus concepts of a text; identical texts (imports repeat them) are matched once."""
    from .text import Thesaurus

    return Thesaurus.default().concepts_in(text)


def _row_concepts(row: dict[str, Any], text: str) -> frozenset[str]:
    """The concepts the listing stored (``listings.services``) while their key still matches
    its words and the thesaurus, else those found in its words again (a row written around
    the services, a new thesaurus). Stored, they cost a hash instead of a scan: 2 s less to
    build the index of 100,000 demands here."""
    from .text import Thesaurus

    key = row["concepts_key"]
    if key and key == Thesaurus.default().concepts_key(text):
        return _stored(row["concepts"])
    return _concepts(text)


@functools.lru_cache(maxsize=1 << 16)
def _shared(values: frozenset[str]) -> frozenset[str]:
    """One object for equal sets: demands accept a few dozen distinct sets of codes and of
    categories, and a set per demand held 40 MB at 100,000 demands."""
    return values


@functools.lru_cache(maxsize=1 << 12)
def _stored(concepts: str) -> frozenset[str]:
    """The set of a stored concepts string, one object per distinct string."""
    return _shared(frozenset(concepts.split()))


def _base_unit(unit: str) -> str:
    from listings.units import base_unit

    return base_unit(unit)


def _common(row: dict[str, Any], categories: CategoryTable) -> dict[str, Any]:
    text = listing_text(row["title"], row["description"])
    low_code = row["waste_code_id"] or ""
    return {
        "id": row["id"],
        "resource_type": sys.intern(row["resource_type"]),  # one object per value, not per row
        "low_code": sys.intern(low_code),
        "category_path": categories.path_for(row["category_id"], low_code),
        "concepts": _row_concepts(row, text),
        "annual_quantity": float(row["annual_quantity"]),
        "base_unit": _base_unit(row["unit"]),
        "lat": row["site__lat"],
        "lon": row["site__lon"],
        "available_from": row["available_from"],
        "available_until": row["available_until"],
    }


def offer_legal(row: dict[str, Any]) -> OfferLegal:
    """The legal facts of an offer row read with ``OFFER_LEGAL_FIELDS`` (and its code and
    resource type)."""
    return OfferLegal(
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


def offer_scored_listings(
    queryset: QuerySet[Offer],
    *,
    errors: dict[int, str] | None = None,
    categories: CategoryTable | None = None,
) -> list[ScoredListing]:
    """The offers as scoring profiles. A row whose profile cannot be built (odd data) is
    skipped and logged; ``errors[id]``, when given, says why."""
    rows = list(queryset.values(*_OFFER_FIELDS))
    categories = _categories_for(rows, categories)
    result = []
    for row in rows:
        try:
            profile = OfferProfile(**_common(row, categories), hazardous=row["hazardous"])
        except (ValueError, TypeError) as exc:
            _skipped(row["id"], exc, errors)
            continue
        legal = offer_legal(row)
        result.append(
            ScoredListing(
                row["id"],
                row["organization_id"],
                row["ref"],
                row["version"],
                profile,
                legal,
                listing_text(row["title"], row["description"]),
                row["updated_at"],
            )
        )
    return result


def demand_scored_listings(
    queryset: QuerySet[Demand],
    *,
    errors: dict[int, str] | None = None,
    categories: CategoryTable | None = None,
) -> list[ScoredListing]:
    """The demands as scoring profiles (three queries). Bad rows: see offer_scored_listings."""
    rows = list(queryset.values(*_DEMAND_FIELDS))
    categories = _categories_for(rows, categories)
    paths = categories.paths
    ids = [r["id"] for r in rows]
    # The accepted codes and categories of the same rows, by a subquery: a list of 100 000 ids
    # as parameters costs seconds to send.
    sliced = queryset.query.is_sliced
    chosen = queryset.order_by().values("pk") if len(ids) > 1000 and not sliced else ids
    accepted_codes: dict[int, set[str]] = {i: set() for i in ids}
    for demand_id, code in Demand.accepted_codes.through.objects.filter(
        demand_id__in=chosen
    ).values_list("demand_id", "wastecode_id"):
        if demand_id in accepted_codes:  # a row published between the two reads is left out
            accepted_codes[demand_id].add(code)
    accepted_rows = [
        (demand_id, category)
        for demand_id, category in Demand.accepted_categories.through.objects.filter(
            demand_id__in=chosen
        ).values_list("demand_id", "materialcategory_id")
        if demand_id in accepted_codes
    ]
    if any(category not in paths for _, category in accepted_rows):
        categories = category_table()  # newer than the cached table
        paths = categories.paths
    slugs = {pk: path[-1] for pk, path in paths.items() if path}
    accepted_categories: dict[int, set[str]] = {i: set() for i in ids}
    for demand_id, category in accepted_rows:
        accepted_categories[demand_id].add(slugs[category])
    result = []
    for row in rows:
        try:
            minimum = None
            if row["quantity_min"] is not None and row["quantity"]:
                minimum = float(row["annual_quantity"]) * float(
                    row["quantity_min"] / row["quantity"]
                )
            profile = DemandProfile(
                **_common(row, categories),
                accepted_codes=_shared(frozenset(accepted_codes[row["id"]])),
                accepted_categories=_shared(frozenset(accepted_categories[row["id"]])),
                annual_quantity_min=minimum,
                max_distance_km=float(row["max_distance_km"]) if row["max_distance_km"] else None,
                accepts_hazardous=row["accepts_hazardous"],
                has_permit=row["has_permit"],
            )
        except (ValueError, TypeError) as exc:
            _skipped(row["id"], exc, errors)
            continue
        legal = DemandLegal(country=row["site__country_id"], operation=row["operation_id"] or "")
        result.append(
            ScoredListing(
                row["id"],
                row["organization_id"],
                row["ref"],
                row["version"],
                profile,
                legal,
                listing_text(row["title"], row["description"]),
                row["updated_at"],
            )
        )
    return result


LOAD_SLICE = 10_000  # listings read and profiled per query by ``scored_listings``


def scored_listings(
    kind: str,
    queryset: QuerySet[Any],
    *,
    errors: dict[int, str] | None = None,
    categories: CategoryTable | None = None,
) -> list[ScoredListing]:
    """The offers or demands of ``queryset`` as scoring profiles, in id order, read
    ``LOAD_SLICE`` at a time. The rows of one query, read whole, are freed between the profiles
    kept, and the allocator cannot give their memory back: 100,000 demands read at once held
    70 MB more for as long as the process lived."""
    load = offer_scored_listings if kind == "offer" else demand_scored_listings
    ids = list(queryset.order_by("id").values_list("id", flat=True))
    result: list[ScoredListing] = []
    with _collector_paused():
        for start in range(0, len(ids), LOAD_SLICE):
            first, last = ids[start], ids[min(start + LOAD_SLICE, len(ids)) - 1]
            part = queryset.filter(id__gte=first, id__lte=last).order_by("id")
            result += load(part, errors=errors, categories=categories)  # type: ignore[arg-type]
    return result


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The garbage collector off while listings are read: a few hundred thousand new objects,
    none in a reference cycle, whose count set off full passes over everything the process
    holds (1.4 s of a 7 s build of the index of 100,000 demands here)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _categories_for(rows: list[dict[str, Any]], categories: CategoryTable | None) -> CategoryTable:
    """``categories`` (a cached table), unless a row names a category it lacks."""
    if categories is not None and all(
        row["category_id"] is None or row["category_id"] in categories.paths for row in rows
    ):
        return categories
    return category_table()


def _skipped(pk: int, exc: Exception, errors: dict[int, str] | None) -> None:
    text = (str(exc) or type(exc).__name__)[:500]
    logger.warning("listing %s skipped by matching: %s", pk, text)
    if errors is not None:
        errors[pk] = text


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


# The partner API's reads of matches (matching/api/views.py) join the seven tables of the
# portal's queue (_QUEUE_RELATED), no more: PostgreSQL spends about 130 ms planning the 15-table
# join of _MATCH_RELATED, far longer than it runs. The reference rows the answers name (harbour
# regions, NACE codes, List of Waste codes) are set afterwards by match_references_fill.


def _reference_rows() -> dict[str, dict[Any, Any]]:
    """Harbour regions, NACE codes and List of Waste codes by primary key: reference data,
    cached per process for a few minutes like the other reference tables (harbors.selectors)."""
    from harbors.models import HarborRegion
    from harbors.selectors import _cached
    from listings.models import NaceCode, WasteCode

    return _cached(
        "match-references",
        lambda: {
            "region": {r.pk: r for r in HarborRegion.objects.all()},
            "nace": {n.pk: n for n in NaceCode.objects.all()},
            "waste_code": {c.pk: c for c in WasteCode.objects.all()},
        },
    )


def match_references_fill(match: Match) -> Match:
    """Give a match read by the API's selectors what they do not join: each site's harbour
    region, each organisation's NACE code and each listing's List of Waste code, from the cached
    reference rows (no query). A row the cache does not know yet is left to load on access."""
    rows = _reference_rows()
    for listing in (match.offer, match.demand):
        for obj, field in (
            (listing.site, "region"),
            (listing.organization, "nace"),
            (listing, "waste_code"),
        ):
            row = rows[field].get(getattr(obj, f"{field}_id"))
            if row is not None:
                setattr(obj, field, row)
    return match


def match_list_for_organizations(*, organization_ids: Collection[int]) -> QuerySet[Match]:
    """The matches of the given organisations (an API token's own), best first, without
    rejected or withdrawn ones.

    The organisations' matches are found as a union of those of their offers and those of their
    demands, each through its index; an OR over the two joined listings would make PostgreSQL
    join every match to both listing tables (about a second at 100k matches)."""
    orgs = list(organization_ids)
    mine = (
        Match.objects.filter(offer__organization_id__in=orgs)
        .values("pk")
        .union(Match.objects.filter(demand__organization_id__in=orgs).values("pk"))
    )
    return (
        Match.objects.filter(pk__in=mine)
        .exclude(stage__in=HIDDEN_STAGES)
        .select_related(*_QUEUE_RELATED)
        .order_by("-score", "id")
    )


def match_get_for_organizations(
    *, organization_ids: Collection[int], match_id: int
) -> Match | None:
    matches = match_list_for_organizations(organization_ids=organization_ids)
    return matches.filter(pk=match_id).first()


def facilitator_region_ids(*, user: Any) -> list[int]:
    from harbors.models import HarborRegion

    if getattr(user, "is_staff", False):
        return list(HarborRegion.objects.values_list("id", flat=True))
    return list(user.facilitated_regions.values_list("id", flat=True))


def match_queue_for_facilitator(*, user: Any) -> QuerySet[Match]:
    """The matches touching the facilitator's harbour regions (staff: all), best first, for the
    partner API: seven tables joined, the rest set by match_references_fill."""
    regions = facilitator_region_ids(user=user)
    return (
        Match.objects.filter(
            Q(offer__site__region_id__in=regions) | Q(demand__site__region_id__in=regions)
        )
        .select_related(*_QUEUE_RELATED)
        .order_by("-score", "id")
    )


def match_get_for_facilitator(*, user: Any, match_id: int) -> Match | None:
    return match_queue_for_facilitator(user=user).filter(pk=match_id).first()


def counterpart_label(*, match: Match, listing: Offer | Demand) -> str:
    """The other side, anonymised: "a cement plant (NACE 23.51) in the Rotterdam and Moerdijk
    region, NL, 38 km". Never a name, an exact place or an id."""
    organization, region = listing.organization, listing.site.region
    values = {
        "country": listing.site.country_id,
        "km": f"{match.distance_km:.0f}",
        "region": region.name if region else "",
    }
    if organization.nace:  # NACE titles are reference data, in English
        title = organization.nace.title
        values |= {"sector": f"{title[:1].lower()}{title[1:]}", "code": organization.nace.code}
        if region:
            text = gettext(
                "a company in %(sector)s (NACE %(code)s) in the %(region)s region, "
                "%(country)s, %(km)s km"
            )
        else:
            text = gettext("a company in %(sector)s (NACE %(code)s) %(country)s, %(km)s km")
    elif region:
        text = gettext("an organisation in the %(region)s region, %(country)s, %(km)s km")
    else:
        text = gettext("an organisation %(country)s, %(km)s km")
    return text % values


# --- the facilitator portal -----------------------------------------------------------------
# Every portal read takes the facilitator's regions (from ``facilitator_regions``) and scopes
# by them; an object outside them is None, which the views turn into a 404.

QUEUE_PAGE_SIZE = 50
_QUEUE_RELATED = ("offer__organization", "offer__site", "demand__organization", "demand__site")
# What a queue row shows, and no more: half the width of the full rows (descriptions,
# explanations), which halves the time spent building model instances.
_QUEUE_COLUMNS = (
    "score",
    "stage",
    "stage_changed_at",
    "offer_response",
    "demand_response",
    "distance_km",
    "transport_mode",
    "legal_procedure",
    "offer__hazardous",
    *(
        f"{side}__{field}"
        for side in ("offer", "demand")
        for field in ("title", "waste_code", "organization__name", "site__country", "site__region")
    ),
)


def facilitator_regions(*, user: Any) -> list[Any]:
    """The harbour regions the user facilitates (staff: every region), by name. One query."""
    from harbors.models import HarborRegion

    if not getattr(user, "is_authenticated", False):
        return []
    regions = HarborRegion.objects.only("id", "code", "name", "lat", "lon").order_by("name")
    if not user.is_staff:
        regions = regions.filter(facilitators=user)
    return list(regions)


class QueueCursorInvalidError(ApplicationError):
    code = "queue_cursor_invalid"
    http_status = 400


@dataclass(frozen=True, slots=True)
class QueuePage:
    matches: list[Match]
    next_cursor: str | None
    filterset: Any


def queue_cursor(match: Match) -> str:
    """``<score>_<id>``: repr() of a float round-trips exactly, so no row is skipped or repeated."""
    return f"{match.score!r}_{match.pk}"


def _parse_cursor(after: str) -> tuple[float, int]:
    score_text, _, id_text = after.rpartition("_")
    try:
        score, pk = float(score_text), int(id_text)
    except ValueError:
        raise QueueCursorInvalidError(f"bad cursor {after[:40]!r}") from None
    if not 0.0 <= score <= 1.0 or pk < 1:
        raise QueueCursorInvalidError(f"bad cursor {after[:40]!r}")
    return score, pk


def match_queue_page_for_facilitator(
    *,
    user: Any,
    regions: list[Any],
    params: Any,
    after: str | None = None,
    limit: int = QUEUE_PAGE_SIZE,
) -> QueuePage:
    """One page of the facilitator's queue, filtered by ``MatchQueueFilter``, best first.

    Keyset pagination on (-score, id): the page after ``after`` ("<score>_<id>") reads the
    ``matching_match_rank_idx`` index from that point and stops after ``limit`` + 1 rows, so a
    deep page costs what the first costs. Nothing is counted. One query (invalid filters: none).
    ``overdue`` is annotated on each match. Raises: queue_cursor_invalid.
    """
    from .filters import MatchQueueFilter, overdue_condition

    region_ids = [r.id for r in regions]
    # Seven tables, no more: PostgreSQL plans a 15-table join (all of _MATCH_RELATED) in about
    # 130 ms, longer than it runs. Regions are filled in below from one small query.
    queryset = (
        Match.objects.filter(
            Q(offer__site__region_id__in=region_ids) | Q(demand__site__region_id__in=region_ids)
        )
        .select_related(*_QUEUE_RELATED)
        .only(*_QUEUE_COLUMNS)
    )
    filterset = MatchQueueFilter(params, queryset, regions=regions)
    if not filterset.is_valid():
        return QueuePage(matches=[], next_cursor=None, filterset=filterset)
    matches = filterset.qs.annotate(
        overdue=Case(When(overdue_condition(), then=True), default=False)
    )
    if after:
        score, pk = _parse_cursor(after)
        # score <= s bounds the index scan; the OR only breaks ties on the bound itself.
        matches = matches.filter(score__lte=score).filter(Q(score__lt=score) | Q(id__gt=pk))
    rows = list(matches.order_by("-score", "id")[: limit + 1])
    next_cursor = queue_cursor(rows[limit - 1]) if len(rows) > limit else None
    _regions_fill(rows[:limit])
    return QueuePage(matches=rows[:limit], next_cursor=next_cursor, filterset=filterset)


def _regions_fill(matches: list[Match]) -> None:
    """Set each site's harbour region from one query of the (few) regions, so templates read
    ``match.offer.site.region.name`` without a query per row."""
    from harbors.models import HarborRegion

    wanted = {m.offer.site.region_id for m in matches} | {m.demand.site.region_id for m in matches}
    wanted.discard(None)
    if not wanted:
        return
    by_id = {r.pk: r for r in HarborRegion.objects.filter(pk__in=wanted).only("id", "code", "name")}
    for match in matches:
        for site in (match.offer.site, match.demand.site):
            if site.region_id is not None:
                site.region = by_id[site.region_id]


def match_detail_for_facilitator(*, user: Any, regions: list[Any], match_id: int) -> Match | None:
    """A match of the facilitator's regions with both listings in full and its audit trail
    (with the actors). A few small queries: the related rows are prefetched rather than joined,
    since planning one 20-table join costs PostgreSQL far more than running these."""
    region_ids = [r.id for r in regions]
    return (
        Match.objects.filter(
            Q(offer__site__region_id__in=region_ids) | Q(demand__site__region_id__in=region_ids),
            pk=match_id,
        )
        .select_related(*_QUEUE_RELATED)
        .prefetch_related(
            "offer__organization__nace",
            "offer__site__region",
            "offer__site__nearest_port",
            "offer__waste_code",
            "offer__category",
            "demand__organization__nace",
            "demand__site__region",
            "demand__site__nearest_port",
            "demand__waste_code",
            "demand__category",
            "demand__operation",
            "demand__accepted_codes",
            Prefetch("events", queryset=MatchEvent.objects.select_related("actor")),
        )
        .first()
    )


def match_legal_procedure(match: Match) -> Any:
    """The full shipment procedure (documents, legal basis, flags) of a match, recomputed from
    the listings' facts as they are now; None for energy and water, or when the facts are
    incomplete (the facilitator then checks them by hand). No query: ``match`` comes from
    ``match_detail_for_facilitator``."""
    from django.utils import timezone

    from .legal import LegalInputError
    from .pair_context import LegalOracle

    offer, demand = match.offer, match.demand
    offer_legal = OfferLegal(
        country=offer.site.country_id,
        waste_status=offer.waste_status,
        evidence=offer.status_evidence,
        low_code=offer.waste_code_id or "",
        hazardous=offer.hazardous,
        mirror=bool(offer.waste_code and offer.waste_code.mirror),
        list_class=offer.list_class,
        basel_code=offer.basel_code,
        mixture=offer.mixture,
        contaminated=offer.contaminated,
        pops=offer.pops,
        resource_type=offer.resource_type,
    )
    demand_legal = DemandLegal(country=demand.site.country_id, operation=demand.operation_id or "")
    try:
        return LegalOracle(shipment_date=timezone.localdate()).procedure(offer_legal, demand_legal)
    except (LegalInputError, ValueError):
        return None


def offer_get_for_facilitator(*, regions: list[Any], offer_id: int) -> Offer | None:
    """An offer whose site lies in one of the facilitator's regions."""
    return (
        Offer.objects.filter(pk=offer_id, site__region_id__in=[r.id for r in regions])
        .select_related("organization", "site__region", "site__country", "waste_code", "category")
        .first()
    )


def prospect_list_for_offer(*, offer: Offer) -> QuerySet[Prospect]:
    return (
        Prospect.objects.filter(offer=offer)
        .select_related("organization__nace", "organization__country")
        .order_by("rank")
    )


def matching_run_list(*, limit: int = 10) -> list[MatchingRun]:
    return list(MatchingRun.objects.select_related("started_by").order_by("-created_at")[:limit])


def matching_run_get(*, run_id: int) -> MatchingRun | None:
    return MatchingRun.objects.select_related("started_by").filter(pk=run_id).first()


def matching_run_active() -> MatchingRun | None:
    """A full rematch still running, started within the last hour (an older one is stuck)."""
    from django.utils import timezone

    since = timezone.now() - timedelta(hours=1)
    return (
        MatchingRun.objects.filter(
            status__in=[MatchingRun.Status.PENDING, MatchingRun.Status.RUNNING],
            created_at__gte=since,
        )
        .order_by("-created_at")
        .first()
    )
