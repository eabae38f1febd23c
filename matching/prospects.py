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

How (see ``prospect_scoring`` for the search): offers are grouped by material (List of Waste
code and category path), because the receiving NACE classes, the organisations that could take
the material and those whose demands already share it are the same for the whole group. Each
group is ranked in one vectorised call that gives the per-offer rule's rows (bit for bit as
measured; the tests, which keep that rule as the oracle, allow 1e-9 on scores and km), and
explanations are written only for the kept rows. An offer whose
rows are unchanged is not rewritten (a digest per offer, computed by PostgreSQL); the others go
in by COPY on PostgreSQL, ``bulk_create`` elsewhere (SQLite for the embedded demo).

Refreshes are idempotent and can run side by side over disjoint ranges of offer ids
(``prospects_refresh_for_offer_range``; ``prospects_refresh_range_task`` over
``prospects_offer_ranges()``).
"""

from __future__ import annotations

import hashlib
import logging
import struct
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import chain
from typing import Any, Final

import numpy as np
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from listings.models import Demand, ListingStatus, Offer, Organization, Site
from listings.units import base_unit

from . import selectors
from .models import Match, Prospect
from .pair_context import DemandLegal, LegalOracle, LegalOutcome, OfferLegal
from .prospect_scoring import (
    DISTANCE_WEIGHT,
    LEGAL_WEIGHT,
    ROAD_DETOUR,
    SECTOR_WEIGHT,
    FloatArray,
    IntArray,
    OfferBlock,
    Ranked,
    Receivers,
    rank_prospects,
)
from .scoring import DEFAULT_MAX_DISTANCE_KM, DISTANCE_SCALE_KM, SCORING_VERSION, OfferProfile
from .sector_knowledge import (
    NACE_DIVISION_SCALE,
    NACE_GROUP_SCALE,
    SectorIndex,
    SectorMatch,
    default_index,
    normalize_nace,
)

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_TOP",
    "DISTANCE_WEIGHT",
    "LEGAL_WEIGHT",
    "OFFER_BATCH",
    "RANGE_SIZE",
    "ROAD_DETOUR",
    "SECTOR_WEIGHT",
    "prospects_offer_ranges",
    "prospects_refresh_all",
    "prospects_refresh_for_offer",
    "prospects_refresh_for_offer_range",
]

DEFAULT_TOP: Final = 10
OFFER_BATCH: Final = 1000  # offers whose rows are replaced per transaction (their rows locked)
RANGE_SIZE: Final = 20_000  # offers scored at once by prospects_refresh_all (bounds memory)
FEW_OFFERS: Final = 50  # up to this many, load only the organisations that could use them


# offer_id, organization_id, score, sector_score, distance_km, legal_procedure, rank, explanation
_Row = tuple[int, int, float, float, float, str, int, str]


# --------------------------------------------------------------------------------------------
# What a refresh reads
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _OfferFacts:
    id: int
    organization_id: int
    resource_type: str
    low_code: str
    path: tuple[str, ...]
    lat: float
    lon: float
    legal: OfferLegal
    material_name: str


@dataclass(slots=True)
class _Group:
    """The organisations that could use one material (a List of Waste code and a category
    path), with what their rows say, computed once per material and refresh."""

    receivers: Receivers
    nace_code: list[str]  # per receiving organisation
    sector: list[str]  # its sector in words ("cement")
    use: dict[str, str] = field(default_factory=dict)  # NACE code -> ": what it does with it"


class _Universe:
    """Every open organisation with a NACE code and a site (ordered by id, its sites contiguous
    and ordered by id), loaded once (five queries) and shared by all the offers of a refresh.

    Given ``materials`` (a few offers' (code, category path)), only the organisations whose
    NACE code could use one of them are loaded (one more query, much less to read)."""

    def __init__(self, *, materials: Collection[tuple[str, tuple[str, ...]]] | None = None) -> None:
        self.index: SectorIndex = default_index()
        open_orgs = Q(closed_at__isnull=True, nace__isnull=False)
        if materials is not None:
            codes = Organization.objects.filter(open_orgs).values_list("nace__code", flat=True)
            receivers = [self.index.matches(code, path) for code, path in materials]
            fitting = [
                c for c in set(codes) if any(_sector_fit(r, c) > 0.0 for r in receivers if r)
            ]
            open_orgs &= Q(nace__code__in=fitting)
        organizations = list(
            Organization.objects.filter(open_orgs)
            .order_by("id")
            .values_list("id", "nace__code", "nace__title")
        )
        site_rows = list(
            Site.objects.filter(organization__in=Organization.objects.filter(open_orgs))
            .order_by("organization_id", "id")
            .values_list("organization_id", "lat", "lon", "country_id")
        )
        site_org = np.array([row[0] for row in site_rows], dtype=np.int64)
        org_ids = np.array([row[0] for row in organizations], dtype=np.int64)
        with_sites = np.isin(org_ids, site_org)
        kept = [row for row, has in zip(organizations, with_sites.tolist(), strict=True) if has]
        self.org_id = org_ids[with_sites]
        self.nace_code = [row[1] for row in kept]
        self.nace_title = [row[2] for row in kept]
        counts = np.bincount(np.searchsorted(self.org_id, site_org), minlength=len(self.org_id))
        self.site_start = np.r_[0, np.cumsum(counts)].astype(np.int64)
        self.site_lat = np.array([row[1] for row in site_rows], dtype=np.float64)
        self.site_lon = np.array([row[2] for row in site_rows], dtype=np.float64)
        self.countries = sorted({row[3] for row in site_rows})
        column = {code: i for i, code in enumerate(self.countries)}
        self.site_country = np.array([column[row[3]] for row in site_rows], dtype=np.int64)
        by_nace: dict[str, list[int]] = defaultdict(list)
        for position, code in enumerate(self.nace_code):
            by_nace[code].append(position)
        self.by_nace = {code: np.array(p, dtype=np.int64) for code, p in by_nace.items()}
        self.by_division: dict[str, list[str]] = defaultdict(list)
        for code in self.by_nace:
            self.by_division[normalize_nace(code)[:2]].append(code)
        self.sharing = _demand_material_keys(self.org_id, Organization.objects.filter(open_orgs))
        self.oracle = _oracle(timezone.localdate())
        self._groups: dict[tuple[str, tuple[str, ...]], _Group | None] = {}
        self._sector: dict[str, str] = {}
        self._outcomes: dict[OfferLegal, list[LegalOutcome]] = {}

    def group(self, low_code: str, path: tuple[str, ...]) -> _Group | None:
        key = (low_code, path)
        if key not in self._groups:
            self._groups[key] = self._build_group(low_code, path)
        return self._groups[key]

    def _build_group(self, low_code: str, path: tuple[str, ...]) -> _Group | None:
        matches = self.index.matches(low_code, path)
        if not matches:
            return None
        chosen: list[IntArray] = []
        fits: list[FloatArray] = []
        # A NACE code can only fit when its division is a receiver's (class, group or division).
        divisions = {nace[:2] for nace in matches}
        for code in (c for d in divisions for c in self.by_division.get(d, ())):
            members = self.by_nace[code]
            fit = _sector_fit(matches, code)
            if fit > 0.0:
                chosen.append(members)
                fits.append(np.full(len(members), fit))
        if not chosen:
            return None
        positions = np.concatenate(chosen)
        fit = np.concatenate(fits)
        sharing = [
            self.sharing[k] for k in _offer_material_keys(low_code, path) if k in self.sharing
        ]
        if sharing:
            keep = ~np.isin(positions, np.concatenate(sharing))
            positions, fit = positions[keep], fit[keep]
        if not len(positions):
            return None
        order = np.argsort(positions)
        positions, fit = positions[order], fit[order]
        starts = self.site_start[positions]
        counts = self.site_start[positions + 1] - starts
        new_start = np.r_[0, np.cumsum(counts)].astype(np.int64)
        sites = np.arange(new_start[-1], dtype=np.int64) + np.repeat(
            starts - new_start[:-1], counts
        )
        receivers = Receivers(
            org_id=self.org_id[positions],
            fit=fit,
            site_start=new_start,
            site_lat=self.site_lat[sites],
            site_lon=self.site_lon[sites],
            site_country=self.site_country[sites],
        )
        codes = [self.nace_code[p] for p in positions.tolist()]
        group = _Group(receivers, codes, [self._sector_of(p) for p in positions.tolist()])
        for code in set(codes):
            row = _sector_row(matches, code)
            group.use[code] = f": {row.use}" if row is not None else ""
        return group

    def _sector_of(self, position: int) -> str:
        title = self.nace_title[position]
        if title not in self._sector:
            self._sector[title] = _sector_name(title)
        return self._sector[title]

    def outcomes(self, legal: OfferLegal) -> list[LegalOutcome]:
        """The shipment procedure from the offer to each country of ``self.countries``."""
        found = self._outcomes.get(legal)
        if found is None:
            found = [
                self.oracle.outcome(legal, DemandLegal(country=country, operation=""))
                for country in self.countries
            ]
            self._outcomes[legal] = found
        return found


_ORACLES: dict[date, LegalOracle] = {}


def _oracle(day: date) -> LegalOracle:
    """The day's legal oracle, kept by the process: its memo of procedures (pure, one per
    distinct offer facts and country) then serves every refresh a worker runs that day."""
    if day not in _ORACLES:
        _ORACLES.clear()
        _ORACLES[day] = LegalOracle(shipment_date=day)
    return _ORACLES[day]


def _sector_fit(receivers: dict[str, SectorMatch], nace_code: str) -> float:
    """``SectorIndex.sector_fit`` from the material's receivers, computed once per material
    instead of once per NACE code (a test holds the two equal)."""
    digits = normalize_nace(nace_code)
    if len(digits) < 2:
        return 0.0
    if len(digits) >= 4:
        match = receivers.get(f"{digits[:2]}.{digits[2:4]}")
        return match.strength if match else 0.0
    prefix = f"{digits[:2]}.{digits[2:]}"
    best = max(
        (match.strength for nace, match in receivers.items() if nace.startswith(prefix)),
        default=0.0,
    )
    scale = NACE_GROUP_SCALE if len(digits) == 3 else NACE_DIVISION_SCALE
    return round(best * scale, 4)


def _demand_material_keys(
    organization_ids: IntArray, organizations: QuerySet[Organization]
) -> dict[str, IntArray]:
    """Material key ("c:100102", "s:fly-ash") -> positions in ``organization_ids`` of the
    ``organizations`` whose published demands name it (their own code or category, or an
    accepted one)."""
    published = Demand.objects.filter(
        status=ListingStatus.PUBLISHED, organization__in=organizations
    )
    pairs: set[tuple[str, int]] = set()
    for org, code, slug in published.values_list(
        "organization_id", "waste_code_id", "category__slug"
    ):
        if code:
            pairs.add((f"c:{code}", org))
        if slug:
            pairs.add((f"s:{slug}", org))
    through_codes = Demand.accepted_codes.through.objects.filter(demand__in=published).values_list(
        "wastecode_id", "demand__organization_id"
    )
    pairs.update((f"c:{code}", org) for code, org in through_codes)
    through_categories = Demand.accepted_categories.through.objects.filter(
        demand__in=published
    ).values_list("materialcategory__slug", "demand__organization_id")
    pairs.update((f"s:{slug}", org) for slug, org in through_categories)
    by_key: dict[str, list[int]] = defaultdict(list)
    for key, org in pairs:
        by_key[key].append(org)
    result = {}
    for key, orgs in by_key.items():
        ids = np.array(orgs, dtype=np.int64)
        at = np.minimum(np.searchsorted(organization_ids, ids), max(len(organization_ids) - 1, 0))
        hit = organization_ids[at] == ids if len(organization_ids) else np.zeros(len(ids), bool)
        result[key] = at[hit]
    return result


def _offer_material_keys(low_code: str, path: Sequence[str]) -> set[str]:
    keys = {f"c:{low_code}"} if low_code else set()
    below_root = path[1:] if len(path) > 1 else path  # "minerals" alone is too broad to share
    keys.update(f"s:{slug}" for slug in below_root)
    return keys


_OFFER_FIELDS: Final = (
    "id",
    "organization_id",
    "resource_type",
    "waste_code_id",
    "category_id",
    "annual_quantity",
    "unit",
    "available_from",
    "available_until",
    "site__lat",
    "site__lon",
    *selectors.OFFER_LEGAL_FIELDS,
    "category__name",
    "waste_code__title",
    "title",
)


def _offer_facts(first_offer_id: int, last_offer_id: int) -> list[_OfferFacts]:
    """The published offers with ids in [first, last], as the scoring of prospects needs them.

    The same profile and legal facts as ``selectors.offer_scored_listings`` (a row whose
    profile cannot be built is skipped and logged), without the thesaurus concepts of the
    texts, which prospects do not use and which cost most of that selector's time."""
    rows = list(
        selectors.published_offers()
        .filter(pk__gte=first_offer_id, pk__lte=last_offer_id)
        .order_by("id")
        .values_list(*_OFFER_FIELDS)
    )
    if not rows:
        return []
    categories = selectors.category_table()
    facts = []
    for values in rows:
        row = dict(zip(_OFFER_FIELDS, values, strict=True))
        try:
            profile = _profile(row, categories)
        except (ValueError, TypeError) as exc:
            logger.warning("listing %s skipped by prospects: %s", row["id"], exc)
            continue
        legal = selectors.offer_legal(row)
        name = row["category__name"] or row["waste_code__title"] or row["title"]
        facts.append(
            _OfferFacts(
                id=row["id"],
                organization_id=row["organization_id"],
                resource_type=profile.resource_type,
                low_code=profile.low_code,
                path=tuple(profile.category_path),
                lat=profile.lat,
                lon=profile.lon,
                legal=legal,
                material_name=_lower_first(name),
            )
        )
    return facts


def _profile(row: dict[str, Any], categories: selectors.CategoryTable) -> OfferProfile:
    """The offer's scoring profile, validated as matching validates it (no concepts)."""
    low_code = row["waste_code_id"] or ""
    quantity: Decimal | None = row["annual_quantity"]
    return OfferProfile(
        id=row["id"],
        resource_type=row["resource_type"],
        low_code=low_code,
        category_path=categories.path_for(row["category_id"], low_code),
        annual_quantity=float(quantity),  # type: ignore[arg-type]  # None: TypeError, skipped
        base_unit=base_unit(row["unit"]),
        lat=row["site__lat"],
        lon=row["site__lon"],
        available_from=row["available_from"],
        available_until=row["available_until"],
        hazardous=row["hazardous"],
    )


def _matched_pairs(first_offer_id: int, last_offer_id: int) -> tuple[IntArray, IntArray]:
    """(offer id, organisation id) of every match of the offers in [first, last], at any stage
    (repeats possible: an organisation with several matched demands)."""
    pairs = Match.objects.filter(
        offer_id__gte=first_offer_id, offer_id__lte=last_offer_id
    ).values_list("offer_id", "demand__organization_id")
    flat = np.fromiter(chain.from_iterable(pairs), dtype=np.int64)
    return flat[0::2], flat[1::2]


# --------------------------------------------------------------------------------------------
# Words
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------


def _score(
    offers: Sequence[_OfferFacts],
    universe: _Universe,
    matched: tuple[IntArray, IntArray],
    *,
    top: int,
) -> dict[int, list[_Row]]:
    """Offer id -> its prospect rows, ranked (not saved)."""
    by_material: dict[tuple[str, tuple[str, ...]], list[_OfferFacts]] = defaultdict(list)
    for offer in offers:
        by_material[(offer.low_code, offer.path)].append(offer)
    matched_offer, matched_org = matched
    order = np.argsort(matched_offer, kind="stable")
    matched_offer, matched_org = matched_offer[order], matched_org[order]
    result: dict[int, list[_Row]] = {}
    for (low_code, path), members in by_material.items():
        group = universe.group(low_code, path)
        if group is not None:
            result.update(_score_group(members, group, universe, matched_offer, matched_org, top))
    return result


def _score_group(
    offers: list[_OfferFacts],
    group: _Group,
    universe: _Universe,
    matched_offer: IntArray,
    matched_org: IntArray,
    top: int,
) -> dict[int, list[_Row]]:
    receivers = group.receivers
    legal_index: dict[OfferLegal, int] = {}
    legal_row = np.array(
        [legal_index.setdefault(o.legal, len(legal_index)) for o in offers], dtype=np.int64
    )
    outcomes = [universe.outcomes(legal) for legal in legal_index]
    legal_score = np.array([[o.score for o in row] for row in outcomes], dtype=np.float64)
    block = OfferBlock(
        lat=np.array([o.lat for o in offers], dtype=np.float64),
        lon=np.array([o.lon for o in offers], dtype=np.float64),
        max_km=np.array([DEFAULT_MAX_DISTANCE_KM[o.resource_type] for o in offers]),
        scale_km=np.array([DISTANCE_SCALE_KM[o.resource_type] for o in offers]),
        legal_row=legal_row,
    )
    rows, orgs = _exclusions(offers, receivers, matched_offer, matched_org)
    ranked = rank_prospects(
        block, receivers, legal_score, excluded_rows=rows, excluded_orgs=orgs, top=top
    )
    return _rows(offers, group, ranked, legal_row, outcomes)


def _exclusions(
    offers: list[_OfferFacts], receivers: Receivers, matched_offer: IntArray, matched_org: IntArray
) -> tuple[IntArray, IntArray]:
    """(row, receiver position) pairs never to propose: the offer's own organisation and the
    organisations already matched with it."""
    offer_ids = np.array([o.id for o in offers], dtype=np.int64)
    own = np.array([o.organization_id for o in offers], dtype=np.int64)
    lo = np.searchsorted(matched_offer, offer_ids, side="left")
    hi = np.searchsorted(matched_offer, offer_ids, side="right")
    counts = hi - lo
    rows = np.r_[np.arange(len(offers)), np.repeat(np.arange(len(offers)), counts)]
    picks = np.arange(counts.sum()) + np.repeat(lo - np.r_[0, np.cumsum(counts)[:-1]], counts)
    orgs = np.r_[own, matched_org[picks]]
    org_ids = receivers.org_id
    at = np.minimum(np.searchsorted(org_ids, orgs), len(org_ids) - 1)
    hit = org_ids[at] == orgs
    return rows[hit].astype(np.int64), at[hit].astype(np.int64)


def _rows(
    offers: list[_OfferFacts],
    group: _Group,
    ranked: Ranked,
    legal_row: IntArray,
    outcomes: list[list[LegalOutcome]],
) -> dict[int, list[_Row]]:
    """The kept pairs as rows, with their explanations."""
    receivers = group.receivers
    fit = receivers.fit.tolist()
    org_id = receivers.org_id.tolist()
    country = receivers.site_country.tolist()
    legal = legal_row.tolist()
    result: dict[int, list[_Row]] = defaultdict(list)
    for r, j, s, km, score, rank in zip(
        ranked.row.tolist(),
        ranked.org.tolist(),
        ranked.site.tolist(),
        ranked.km.tolist(),
        ranked.score.tolist(),
        ranked.rank.tolist(),
        strict=True,
    ):
        offer = offers[r]
        outcome = outcomes[legal[r]][country[s]]
        code = group.nace_code[j]
        by = "road" if offer.resource_type == "material" else "pipe"
        explanation = (
            f"{group.sector[j]} (NACE {code}) typically uses {offer.material_name}"
            f"{group.use[code]}; {km:.0f} km by {by}; {outcome.label}"
        )
        result[offer.id].append(
            (offer.id, org_id[j], score, fit[j], km, str(outcome.procedure), rank, explanation)
        )
    return result


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _batches(ids: Sequence[int], first: int, last: int) -> Iterator[tuple[int, int]]:
    """Split [first, last] into id ranges of at most OFFER_BATCH of the (sorted) ``ids`` each,
    which together cover the whole range (the unpublished offers between them included)."""
    if not ids:
        yield first, last
        return
    for start in range(0, len(ids), OFFER_BATCH):
        lo = first if start == 0 else ids[start]
        hi = last if start + OFFER_BATCH >= len(ids) else ids[start + OFFER_BATCH] - 1
        yield lo, hi


def _refresh_range(first: int, last: int, universe: _Universe | None, *, top: int) -> int:
    """Score the published offers in [first, last], then bring the prospects of every offer in
    the range up to date, one transaction per batch of OFFER_BATCH offers. Returns how many
    prospects those offers now have."""
    offers = _offer_facts(first, last)
    ids = [o.id for o in offers]  # ascending
    scored: dict[int, list[_Row]] = {}
    if offers:
        if universe is None:
            few = len(offers) <= FEW_OFFERS
            universe = _Universe(materials={(o.low_code, o.path) for o in offers} if few else None)
        # Matches are read only when some offer has receivers at all (a query over the range).
        offers = [o for o in offers if universe.group(o.low_code, o.path) is not None]
        if offers:
            scored = _score(offers, universe, _matched_pairs(first, last), top=top)
    total = 0
    for lo, hi in _batches(ids, first, last):
        with transaction.atomic():
            # Lock the offers (in id order): two refreshes of one offer replace its rows one
            # after the other. An offer unpublished since it was read gets no rows.
            locked = (
                Offer.objects.select_for_update()
                .filter(pk__gte=lo, pk__lte=hi)
                .order_by("pk")
                .values_list("pk", "status")
            )
            published = sorted(pk for pk, status in locked if status == ListingStatus.PUBLISHED)
            rows = [row for pk in published for row in scored.get(pk, ())]
            _replace(lo, hi, rows)
            total += len(rows)
    return total


def _replace(first: int, last: int, rows: list[_Row]) -> None:
    """Make ``rows`` the prospects of the offers in [first, last], writing only what changed.

    Offers are compared by a digest of their rows: an offer whose rows are already there as
    they are is left alone (ids and created_at kept); the other offers' rows are deleted and
    the new ones inserted. Rewriting costs far more than comparing here: every insert updates
    four indexes and runs two deferred foreign-key checks."""
    wanted: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        wanted[row[0]].append((*row, SCORING_VERSION))
    current = _current_digests(first, last)
    stale = [pk for pk, digest in current.items() if _digest(wanted.get(pk, ())) != digest]
    for start in range(0, len(stale), OFFER_BATCH):
        Prospect.objects.filter(offer_id__in=stale[start : start + OFFER_BATCH]).delete()
    changed = set(stale)
    fresh = [row for row in rows if row[0] not in current or row[0] in changed]
    if fresh:
        _insert(fresh)


_VALUES: Final = (
    "offer_id",
    "organization_id",
    "score",
    "sector_score",
    "distance_km",
    "legal_procedure",
    "rank",
    "explanation",
    "scoring_version",
)


def _digest(rows: Iterable[tuple[Any, ...]]) -> str:
    """MD5 of one offer's rows (``_VALUES`` order), by organisation, floats by their bits: the
    same text ``_DIGEST_SQL`` builds in PostgreSQL."""
    lines = sorted(
        (
            org,
            f"{org},{rank},{_hex(score)},{_hex(fit)},{_hex(km)},{procedure},{version},"
            f"{len(explanation)}:{explanation}",
        )
        for _, org, score, fit, km, procedure, rank, explanation, version in rows
    )
    text = "\n".join(line for _, line in lines)
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _hex(value: float) -> str:
    return struct.pack(">d", value).hex()


_DIGEST_SQL: Final = """
SELECT offer_id, md5(string_agg(
    organization_id::text || ',' || rank::text
    || ',' || encode(float8send(score), 'hex')
    || ',' || encode(float8send(sector_score), 'hex')
    || ',' || encode(float8send(distance_km), 'hex')
    || ',' || legal_procedure || ',' || scoring_version
    || ',' || length(explanation)::text || ':' || explanation,
    E'\\n' ORDER BY organization_id))
FROM {table} WHERE offer_id BETWEEN %s AND %s GROUP BY offer_id
"""


def _current_digests(first: int, last: int) -> dict[int, str]:
    """Offer id -> ``_digest`` of its stored prospects, for the offers in [first, last] that
    have any: computed by PostgreSQL, or in Python from the rows elsewhere (SQLite)."""
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(Prospect._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(_DIGEST_SQL.format(table=table), [first, last])
            return dict(cursor.fetchall())
    stored: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    existing = Prospect.objects.filter(offer_id__gte=first, offer_id__lte=last)
    for row in existing.values_list(*_VALUES):
        stored[row[0]].append(row)
    return {pk: _digest(offer_rows) for pk, offer_rows in stored.items()}


def _insert(rows: list[_Row]) -> None:
    """COPY on PostgreSQL; ``bulk_create`` elsewhere (SQLite for the embedded demo)."""
    if connection.vendor == "postgresql":
        now = timezone.now()
        table = connection.ops.quote_name(Prospect._meta.db_table)
        columns = ", ".join(("created_at", "updated_at", *_VALUES))
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row((now, now, *row, SCORING_VERSION))
        return
    Prospect.objects.bulk_create(
        [
            Prospect(
                offer_id=offer_id,
                organization_id=org,
                score=score,
                sector_score=fit,
                distance_km=km,
                legal_procedure=procedure,
                rank=rank,
                explanation=explanation,
                scoring_version=SCORING_VERSION,
            )
            for offer_id, org, score, fit, km, procedure, rank, explanation in rows
        ],
        batch_size=500,
    )


def _check_top(top: int) -> None:
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")


# --------------------------------------------------------------------------------------------
# Services
# --------------------------------------------------------------------------------------------


def prospects_refresh_for_offer(
    *, offer_id: int, version: int | None = None, top: int = DEFAULT_TOP
) -> int:
    """Recompute the top ``top`` prospects of one offer. Idempotent: the offer's prospects are
    brought up to date in one transaction (rewritten only if they changed), so running it
    twice leaves the same rows.

    A ``version`` other than the offer's current one is a no-op (a newer edit queues its own
    refresh). An offer that is not published loses its prospects. Returns how many prospects
    the offer has now. Locks: the offer row while its prospects are replaced. Raises
    ValueError if ``top`` < 1.
    """
    _check_top(top)
    offer = Offer.objects.filter(pk=offer_id).values("version", "status").first()
    if offer is None or (version is not None and offer["version"] != version):
        return 0
    if offer["status"] != ListingStatus.PUBLISHED:
        Prospect.objects.filter(offer_id=offer_id).delete()
        return 0
    return _refresh_range(offer_id, offer_id, None, top=top)


def prospects_refresh_for_offer_range(
    *, first_offer_id: int, last_offer_id: int, top: int = DEFAULT_TOP
) -> int:
    """Recompute the prospects of the published offers with ids in [first, last] and delete
    those of the other offers in that range. Idempotent (only offers whose rows changed are
    rewritten), and safe side by side with refreshes of other ranges, or of the same one (the
    offer locks order them; the last to commit wins, with the same rows). Meant to run as
    ``prospects_refresh_range_task`` over ``prospects_offer_ranges()``, in parallel.

    Returns how many prospects the range's offers have now. Locks: the offer rows of each
    batch of OFFER_BATCH offers while their prospects are replaced (one transaction per
    batch). Raises ValueError if ``top`` < 1 or the range is empty.
    """
    _check_top(top)
    if first_offer_id > last_offer_id:
        raise ValueError(f"empty offer range [{first_offer_id}, {last_offer_id}]")
    return _refresh_range(first_offer_id, last_offer_id, None, top=top)


def prospects_offer_ranges(*, size: int = RANGE_SIZE) -> list[tuple[int, int]]:
    """Consecutive [first, last] id ranges with about ``size`` published offers each, covering
    every offer id from 1 to the highest: what a fan-out hands to
    ``prospects_refresh_range_task`` (every offer then gets its prospects refreshed or, when
    not published, deleted). Two queries."""
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    ids = list(selectors.published_offers().order_by("id").values_list("id", flat=True))
    highest = Offer.objects.order_by("-id").values_list("id", flat=True).first()
    if highest is None:
        return []
    lasts = [ids[i - 1] for i in range(size, len(ids), size)]
    firsts = [1, *(last + 1 for last in lasts)]
    return list(zip(firsts, [*lasts, highest], strict=True))


def prospects_refresh_all(*, top: int = DEFAULT_TOP) -> int:
    """Recompute the prospects of every published offer, RANGE_SIZE offers at a time in this
    process, and delete those of the other offers (the ranges cover every offer id).
    Organisations and sites are loaded once. Returns how many prospects there are now.
    Locks: each batch's offer rows while their prospects are replaced. Raises ValueError if
    ``top`` < 1."""
    _check_top(top)
    ranges = prospects_offer_ranges(size=RANGE_SIZE)
    if not ranges:
        return 0
    universe = _Universe()
    return sum(_refresh_range(lo, hi, universe, top=top) for lo, hi in ranges)
