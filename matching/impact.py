"""Impact totals of the synergies (NISP / CircLean style): per harbour region and country pair,
how many matches, how many tonnes a year they move and the transport CO2 of moving them.

A match belongs to the harbour region of its OFFER's site: that is where the residue arises
and where the tonnes are diverted from disposal. A match whose offer site lies in no harbour
region is counted under the region ``"none"``.

Two buckets: ``implemented`` (the implemented stage) and ``proposed`` (every stage still open:
proposed, shortlisted, introduced, negotiating). Rejected and withdrawn matches are left out.

- tonnes per year: an implemented match counts its recorded ``implemented_tonnes_per_year``, or
  ``tonnes_per_year`` when none was recorded; an open match counts ``tonnes_per_year``. Energy
  matches count in ``count`` but not in the tonnes or CO2, since their quantity is in MWh.
- transport CO2 in tonnes per year: tonnes per year × ``co2_kg_per_tonne`` / 1000.
- cross-border share: the share of the matches whose offer site and demand site lie in
  different countries (1 or 0 for a country pair; a fraction on a region's total row).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum

from django.db.models import Case, Count, F, FloatField, Q, Sum, Value, When
from django.db.models.functions import Coalesce

from harbors.models import HarborRegion
from listings.models import ResourceType
from symbiosis.exceptions import ApplicationError

from .models import Match, Stage

NO_REGION = "none"


class ImpactStatus(StrEnum):
    IMPLEMENTED = "implemented"
    PROPOSED = "proposed"  # every open stage: proposed, shortlisted, introduced, negotiating


class HarborRegionUnknownError(ApplicationError):
    code = "harbor_region_unknown"
    http_status = 400


@dataclass(frozen=True, slots=True)
class ImpactRow:
    """One line of the report. A region's total row has empty origin and destination."""

    region: str  # HarborRegion.code, or "none"
    origin_country: str
    destination_country: str
    status: ImpactStatus
    count: int
    tonnes_per_year: float
    co2_tonnes_per_year: float
    cross_border_share: float

    def as_dict(self) -> dict[str, str | int | float]:
        return {
            "region": self.region,
            "origin_country": self.origin_country,
            "destination_country": self.destination_country,
            "status": str(self.status),
            "count": self.count,
            "tonnes_per_year": self.tonnes_per_year,
            "co2_tonnes_per_year": self.co2_tonnes_per_year,
            "cross_border_share": self.cross_border_share,
        }


IMPACT_COLUMNS: tuple[str, ...] = (
    "region",
    "origin_country",
    "destination_country",
    "status",
    "count",
    "tonnes_per_year",
    "co2_tonnes_per_year",
    "cross_border_share",
)

_IMPLEMENTED = Q(stage=Stage.IMPLEMENTED)
_TONNES = Case(
    When(offer__resource_type=ResourceType.ENERGY, then=Value(None)),
    When(_IMPLEMENTED, then=Coalesce(F("implemented_tonnes_per_year"), F("tonnes_per_year"))),
    default=F("tonnes_per_year"),
    output_field=FloatField(),
)


def impact_totals(*, region_code: str | None) -> list[ImpactRow]:
    """Impact per region, country pair and status, then each region's totals per status.

    ``region_code`` None: every region; ``"none"``: matches whose offer site has no region.
    Two queries at most (the region check and one grouped aggregate), whatever the number of
    matches. Raises: harbor_region_unknown.
    """
    matches = Match.objects.exclude(stage__in=[Stage.REJECTED, Stage.WITHDRAWN])
    if region_code == NO_REGION:
        matches = matches.filter(offer__site__region__isnull=True)
    elif region_code is not None:
        if not HarborRegion.objects.filter(code=region_code).exists():
            known = ", ".join(HarborRegion.objects.order_by("code").values_list("code", flat=True))
            raise HarborRegionUnknownError(
                f"unknown harbour region {region_code!r}; known: {known}, or {NO_REGION!r}",
                region=region_code,
            )
        matches = matches.filter(offer__site__region__code=region_code)
    groups = (
        matches.annotate(
            bucket=Case(
                When(_IMPLEMENTED, then=Value(ImpactStatus.IMPLEMENTED.value)),
                default=Value(ImpactStatus.PROPOSED.value),
            ),
            region_code=F("offer__site__region__code"),
            origin=F("offer__site__country_id"),
            destination=F("demand__site__country_id"),
        )
        .values("region_code", "origin", "destination", "bucket")
        .annotate(
            n=Count("id"),
            tonnes=Coalesce(Sum(_TONNES), Value(0.0)),
            co2=Coalesce(Sum(_TONNES * F("co2_kg_per_tonne") / 1000.0), Value(0.0)),
        )
        .order_by()
    )
    pairs: list[ImpactRow] = [
        ImpactRow(
            region=group["region_code"] or NO_REGION,
            origin_country=group["origin"],
            destination_country=group["destination"],
            status=ImpactStatus(group["bucket"]),
            count=group["n"],
            tonnes_per_year=float(group["tonnes"]),
            co2_tonnes_per_year=float(group["co2"]),
            cross_border_share=1.0 if group["origin"] != group["destination"] else 0.0,
        )
        for group in groups
    ]
    regions = {row.region for row in pairs}
    if region_code is not None:
        regions.add(region_code)  # a region with no synergy still gets its (zero) totals
    return _with_totals(pairs, regions)


def _with_totals(pairs: list[ImpactRow], regions: set[str]) -> list[ImpactRow]:
    """Pairs sorted by region ("none" last), status and pair, each region followed by its
    totals; the totals add up the grouped rows, not the matches."""
    by_region: dict[str, list[ImpactRow]] = defaultdict(list)
    for row in pairs:
        by_region[row.region].append(row)
    status_order = list(ImpactStatus)
    result: list[ImpactRow] = []
    for region in sorted(regions, key=lambda code: (code == NO_REGION, code)):
        rows = sorted(
            by_region[region],
            key=lambda r: (status_order.index(r.status), r.origin_country, r.destination_country),
        )
        result.extend(rows)
        for status in status_order:
            of_status = [r for r in rows if r.status is status]
            count = sum(r.count for r in of_status)
            crossing = sum(r.count for r in of_status if r.origin_country != r.destination_country)
            result.append(
                ImpactRow(
                    region=region,
                    origin_country="",
                    destination_country="",
                    status=status,
                    count=count,
                    tonnes_per_year=sum(r.tonnes_per_year for r in of_status),
                    co2_tonnes_per_year=sum(r.co2_tonnes_per_year for r in of_status),
                    cross_border_share=crossing / count if count else 0.0,
                )
            )
    return result
