"""Prospects: organisations that posted no demand for an offer but whose sector typically uses
its material (DESIGN.md, "Matching" -> 5. Prospects). This is how a facilitator finds the first
partner.

For one offer, an organisation is a prospect when:

- it is open (``closed_at`` unset), has a NACE code and at least one site;
- it is not the offer's own organisation;
- it has no match with the offer (at any stage) and no published demand that shares the
  material: the same List of Waste code (its own or an accepted one) or a category on the
  offer's category path below the root (its own or an accepted one);
- its NACE class could use the material: ``SectorIndex.sector_fit`` > 0. The code is taken as
  it is stored, whatever its NACE version.

Its score is the weighted geometric mean of three components in [0, 1], so a single 0 vetoes:

- *sector*: the sector fit (the strength of the sector-knowledge row), weight 0.5;
- *distance*: exp(-km / scale) to the organisation's site nearest to the offer, where km is the
  great-circle distance times the road detour factor 1.25 and the scale is the one matching
  uses (150 km for material, 20 km for water, 3 km for energy), weight 0.3. Beyond matching's
  default maximum distance (500 km material, 50 km water, 10 km energy) the distance is 0;
- *legal*: the score of the shipment procedure from the offer's country to that site's country
  (``LegalOracle``, with no operation named, so recovery is assumed), weight 0.2.

The top N per offer are stored as ``Prospect`` rows ranked 1..N, with a plain-words
explanation such as "cement (NACE 23.51) typically uses fly ash: raw material for clinker and
cement constituent; 42 km by road; BE→NL green-listed: Annex VII document".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Final

import numpy as np
from django.db import transaction
from django.utils import timezone

from harbors.logistics import haversine_km_matrix
from listings.models import Demand, ListingStatus, Offer, Organization, Site

from . import selectors
from .models import Match, Prospect
from .pair_context import DemandLegal, LegalOracle, LegalOutcome
from .scoring import DEFAULT_MAX_DISTANCE_KM, DISTANCE_SCALE_KM, SCORING_VERSION
from .sector_knowledge import SectorIndex, SectorMatch, default_index, normalize_nace

DEFAULT_TOP: Final = 10
ROAD_DETOUR: Final = 1.25  # great-circle km x 1.25 = road km (DESIGN.md, "Logistics")
SECTOR_WEIGHT: Final = 0.5
DISTANCE_WEIGHT: Final = 0.3
LEGAL_WEIGHT: Final = 0.2
OFFER_BATCH: Final = 500  # offers scored and written per transaction in prospects_refresh_all


@dataclass(frozen=True, slots=True)
class _Organization:
    id: int
    nace_code: str
    nace_title: str
    material_keys: frozenset[str]  # what its published demands ask for: "c:100102", "s:fly-ash"


@dataclass(frozen=True, slots=True)
class _OfferFacts:
    listing: selectors.ScoredListing
    organization_id: int
    material_name: str


class _Universe:
    """Every open organisation with a NACE code and a site, loaded once (five queries) and shared
    by all the offers of a refresh."""

    def __init__(self) -> None:
        organizations = list(
            Organization.objects.filter(closed_at__isnull=True, nace__isnull=False).values_list(
                "id", "nace__code", "nace__title"
            )
        )
        site_rows = list(
            Site.objects.filter(
                organization__closed_at__isnull=True, organization__nace__isnull=False
            )
            .order_by("organization_id", "id")
            .values_list("organization_id", "lat", "lon", "country_id")
        )
        keys = _demand_material_keys()
        with_sites = {row[0] for row in site_rows}
        self.by_nace: dict[str, list[_Organization]] = {}
        for pk, code, title in organizations:
            if pk in with_sites:
                org = _Organization(pk, code, title, frozenset(keys.get(pk, ())))
                self.by_nace.setdefault(code, []).append(org)
        self.site_lat = np.array([row[1] for row in site_rows], dtype=np.float64)
        self.site_lon = np.array([row[2] for row in site_rows], dtype=np.float64)
        self.site_country = [row[3] for row in site_rows]
        # Sites are sorted by organisation: each organisation owns one contiguous slice.
        site_org = np.array([row[0] for row in site_rows], dtype=np.int64)
        bounds = np.flatnonzero(np.r_[True, site_org[1:] != site_org[:-1], True])
        self.sites_of: dict[int, tuple[int, int]] = {
            int(site_org[a]): (a, b) for a, b in pairwise(bounds.tolist()) if len(site_org)
        }
        self.index: SectorIndex = default_index()
        self.oracle = LegalOracle(shipment_date=timezone.localdate())
        self._fitting: dict[tuple[str, tuple[str, ...]], list[tuple[str, float]]] = {}

    def fitting(self, low_code: str, path: tuple[str, ...]) -> list[tuple[str, float]]:
        """(NACE code, sector fit) of every organisation NACE code that could use the material,
        computed once per distinct material."""
        key = (low_code, path)
        if key not in self._fitting:
            fits = ((code, self.index.sector_fit(low_code, path, code)) for code in self.by_nace)
            self._fitting[key] = [(code, fit) for code, fit in fits if fit > 0.0]
        return self._fitting[key]


def _demand_material_keys() -> dict[int, set[str]]:
    """Organisation id -> the codes ("c:...") and category slugs ("s:...") its published
    demands name, their own or accepted."""
    published = Demand.objects.filter(status=ListingStatus.PUBLISHED)
    keys: dict[int, set[str]] = {}
    for org, code, slug in published.values_list(
        "organization_id", "waste_code_id", "category__slug"
    ):
        found = keys.setdefault(org, set())
        if code:
            found.add(f"c:{code}")
        if slug:
            found.add(f"s:{slug}")
    through_codes = Demand.accepted_codes.through.objects.filter(
        demand__status=ListingStatus.PUBLISHED
    ).values_list("demand__organization_id", "wastecode_id")
    for org, code in through_codes:
        keys.setdefault(org, set()).add(f"c:{code}")
    through_categories = Demand.accepted_categories.through.objects.filter(
        demand__status=ListingStatus.PUBLISHED
    ).values_list("demand__organization_id", "materialcategory__slug")
    for org, slug in through_categories:
        keys.setdefault(org, set()).add(f"s:{slug}")
    return keys


def _offer_material_keys(low_code: str, path: Sequence[str]) -> set[str]:
    keys = {f"c:{low_code}"} if low_code else set()
    below_root = path[1:] if len(path) > 1 else path  # "minerals" alone is too broad to share
    keys.update(f"s:{slug}" for slug in below_root)
    return keys


def _offer_facts(offer_ids: Iterable[int]) -> list[_OfferFacts]:
    queryset = Offer.objects.filter(pk__in=list(offer_ids)).order_by("id")
    names = {
        pk: (org, category, code_title, title)
        for pk, org, category, code_title, title in queryset.values_list(
            "id", "organization_id", "category__name", "waste_code__title", "title"
        )
    }
    facts = []
    for listing in selectors.offer_scored_listings(queryset):
        org, category, code_title, title = names[listing.id]
        facts.append(_OfferFacts(listing, org, _lower_first(category or code_title or title)))
    return facts


def _lower_first(text: str) -> str:
    """ "Fly ash" -> "fly ash", but "IBA" and "FCC catalyst" keep their capitals."""
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def _sector_name(title: str) -> str:
    for prefix in ("Manufacture of ", "Production of "):
        if title.startswith(prefix):
            return title[len(prefix) :]
    return _lower_first(title)


def _sector_row(receivers: dict[str, SectorMatch], nace_code: str) -> SectorMatch | None:
    """The sector-knowledge row behind an organisation's fit: its class's row, or for a group or
    division the best class below it (as ``SectorIndex.sector_fit`` scores it)."""
    digits = normalize_nace(nace_code)
    if len(digits) >= 4:
        return receivers.get(f"{digits[:2]}.{digits[2:4]}")
    prefix = f"{digits[:2]}.{digits[2:]}"
    return next((m for nace, m in receivers.items() if nace.startswith(prefix)), None)


def _combine(sector: float, distance: float, legal: float) -> float:
    """Weighted geometric mean; any 0 gives 0."""
    if min(sector, distance, legal) <= 0.0:
        return 0.0
    total = SECTOR_WEIGHT + DISTANCE_WEIGHT + LEGAL_WEIGHT
    return math.exp(
        (
            SECTOR_WEIGHT * math.log(sector)
            + DISTANCE_WEIGHT * math.log(distance)
            + LEGAL_WEIGHT * math.log(legal)
        )
        / total
    )


@dataclass(frozen=True, slots=True)
class _Candidate:
    score: float
    organization: _Organization
    fit: float
    km: float
    outcome: LegalOutcome


def _prospects_for(
    offer: _OfferFacts, universe: _Universe, matched: set[int], *, top: int
) -> list[Prospect]:
    """The top ``top`` prospects of one offer, ranked 1..top (not saved)."""
    profile = offer.listing.profile
    path = tuple(profile.category_path)
    receivers = universe.index.matches(profile.low_code, path)
    if not receivers or not universe.by_nace:
        return []
    shared = _offer_material_keys(profile.low_code, path)
    km_all = (
        haversine_km_matrix([profile.lat], [profile.lon], universe.site_lat, universe.site_lon)[0]
        * ROAD_DETOUR
    )
    candidates: list[_Candidate] = []
    for nace_code, fit in universe.fitting(profile.low_code, path):
        for org in universe.by_nace[nace_code]:
            if org.id == offer.organization_id or org.id in matched or org.material_keys & shared:
                continue
            candidate = _candidate(offer, org, fit, universe, km_all)
            if candidate is not None:
                candidates.append(candidate)
    candidates.sort(key=lambda c: (-c.score, c.organization.id))
    return [
        _prospect(offer, candidate, rank, receivers)
        for rank, candidate in enumerate(candidates[:top], start=1)
    ]


def _candidate(
    offer: _OfferFacts,
    org: _Organization,
    fit: float,
    universe: _Universe,
    km_all: np.ndarray,
) -> _Candidate | None:
    """One organisation scored against one offer at its nearest site; None when a component
    is 0 (too far for the resource, or a prohibited shipment)."""
    resource = offer.listing.profile.resource_type
    start, end = universe.sites_of[org.id]
    nearest = start + int(np.argmin(km_all[start:end])) if end - start > 1 else start
    km = float(km_all[nearest])
    if km > DEFAULT_MAX_DISTANCE_KM[resource]:
        return None
    outcome = universe.oracle.outcome(
        offer.listing.legal, DemandLegal(country=universe.site_country[nearest], operation="")
    )
    score = _combine(fit, math.exp(-km / DISTANCE_SCALE_KM[resource]), outcome.score)
    return _Candidate(min(score, 1.0), org, fit, km, outcome) if score > 0.0 else None


def _prospect(
    offer: _OfferFacts, candidate: _Candidate, rank: int, receivers: dict[str, SectorMatch]
) -> Prospect:
    org = candidate.organization
    row = _sector_row(receivers, org.nace_code)
    use = f": {row.use}" if row is not None else ""
    by = "road" if offer.listing.profile.resource_type == "material" else "pipe"
    return Prospect(
        offer_id=offer.listing.id,
        organization_id=org.id,
        score=candidate.score,
        sector_score=candidate.fit,
        distance_km=candidate.km,
        legal_procedure=str(candidate.outcome.procedure),
        rank=rank,
        explanation=(
            f"{_sector_name(org.nace_title)} (NACE {org.nace_code}) typically uses "
            f"{offer.material_name}{use}; {candidate.km:.0f} km by {by}; {candidate.outcome.label}"
        ),
        scoring_version=SCORING_VERSION,
    )


def _matched_organizations(offer_ids: Sequence[int]) -> dict[int, set[int]]:
    matched: dict[int, set[int]] = {pk: set() for pk in offer_ids}
    for offer_id, org in Match.objects.filter(offer_id__in=offer_ids).values_list(
        "offer_id", "demand__organization_id"
    ):
        matched[offer_id].add(org)
    return matched


def _refresh(offer_ids: Sequence[int], universe: _Universe, *, top: int) -> int:
    offers = _offer_facts(offer_ids)
    matched = _matched_organizations([o.listing.id for o in offers])
    rows = [p for o in offers for p in _prospects_for(o, universe, matched[o.listing.id], top=top)]
    with transaction.atomic():
        # Lock the offers: two refreshes of one offer replace its rows one after the other.
        list(Offer.objects.select_for_update().filter(pk__in=offer_ids).values_list("pk"))
        Prospect.objects.filter(offer_id__in=offer_ids).delete()
        Prospect.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def prospects_refresh_for_offer(
    *, offer_id: int, version: int | None = None, top: int = DEFAULT_TOP
) -> int:
    """Recompute the top ``top`` prospects of one offer. Idempotent: the offer's old prospects
    are replaced in one transaction, so running it twice writes the same rows.

    A ``version`` other than the offer's current one is a no-op (a newer edit queues its own
    refresh). An offer that is not published loses its prospects. Returns the rows written.
    Locks: the offer row while its prospects are replaced. Raises ValueError if ``top`` < 1.
    """
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    offer = Offer.objects.filter(pk=offer_id).values("version", "status").first()
    if offer is None or (version is not None and offer["version"] != version):
        return 0
    if offer["status"] != ListingStatus.PUBLISHED:
        Prospect.objects.filter(offer_id=offer_id).delete()
        return 0
    return _refresh([offer_id], _Universe(), top=top)


def prospects_refresh_all(*, top: int = DEFAULT_TOP) -> int:
    """Recompute the prospects of every published offer, in batches of OFFER_BATCH offers, and
    delete those of offers no longer published. Organisations and sites are loaded once.
    Returns the rows written. Locks: each batch's offer rows while their prospects are
    replaced. Raises ValueError if ``top`` < 1."""
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    Prospect.objects.exclude(offer__status=ListingStatus.PUBLISHED).delete()
    ids = list(selectors.published_offers().order_by("id").values_list("id", flat=True))
    if not ids:
        return 0
    universe = _Universe()
    return sum(
        _refresh(ids[i : i + OFFER_BATCH], universe, top=top)
        for i in range(0, len(ids), OFFER_BATCH)
    )
