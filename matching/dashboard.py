"""Reads behind the facilitator's map and impact dashboard, scoped to the facilitator's
harbour regions. The map gets plain JSON; the dashboard gets SVG chart geometry (charts.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.db.models import Count, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from harbors.models import HarborRegion, Port
from listings.models import Site

from .charts import STAGE_COLOURS, Chart, horizontal_bars, stacked_columns
from .filters import OPEN_STAGES
from .impact import ImpactRow, ImpactStatus, impact_totals
from .models import Match, MatchEvent, Stage

MAP_MATCH_LIMIT = 1500
MAP_SITE_LIMIT = 5000
HISTORY_MONTHS = 12


def map_data_for_facilitator(
    *, regions: list[HarborRegion], stage: str | None = None
) -> dict[str, Any]:
    """Regions, ports, sites and the best ``MAP_MATCH_LIMIT`` matches touching the regions, as
    plain JSON-ready dicts. Four queries, whatever the size of the queue.

    ``stage``: one stage, or None for the open stages (proposed to negotiating).
    """
    region_ids = [r.pk for r in regions]
    stages = [stage] if stage in Stage.values else list(OPEN_STAGES)
    ports = Port.objects.filter(region_id__in=region_ids).values(
        "unlocode", "name", "lat", "lon", "kind", "region__code"
    )
    sites = (
        Site.objects.filter(region_id__in=region_ids, organization__closed_at__isnull=True)
        .values("id", "name", "lat", "lon", "country_id", "organization__name", "region__code")
        .order_by("id")[:MAP_SITE_LIMIT]
    )
    matches = (
        Match.objects.filter(
            Q(offer__site__region_id__in=region_ids) | Q(demand__site__region_id__in=region_ids),
            stage__in=stages,
        )
        .values(
            "id",
            "stage",
            "score",
            "offer__title",
            "demand__title",
            "offer__site__lat",
            "offer__site__lon",
            "offer__site__country_id",
            "demand__site__lat",
            "demand__site__lon",
            "demand__site__country_id",
        )
        .order_by("-score", "id")[:MAP_MATCH_LIMIT]
    )
    return {
        "stage_colours": STAGE_COLOURS,
        "stage_labels": {value: str(label) for value, label in Stage.choices},
        "regions": [{"code": r.code, "name": r.name, "lat": r.lat, "lon": r.lon} for r in regions],
        "ports": [
            {
                "unlocode": p["unlocode"],
                "name": p["name"],
                "lat": p["lat"],
                "lon": p["lon"],
                "kind": p["kind"],
                "region": p["region__code"],
            }
            for p in ports
        ],
        "sites": [
            {
                "id": s["id"],
                "name": s["name"],
                "organization": s["organization__name"],
                "lat": s["lat"],
                "lon": s["lon"],
                "country": s["country_id"],
                "region": s["region__code"],
            }
            for s in sites
        ],
        "matches": [
            {
                "id": m["id"],
                "stage": m["stage"],
                "score": round(m["score"], 3),
                "offer": m["offer__title"],
                "demand": m["demand__title"],
                "from": [m["offer__site__lat"], m["offer__site__lon"]],
                "to": [m["demand__site__lat"], m["demand__site__lon"]],
                "cross_border": m["offer__site__country_id"] != m["demand__site__country_id"],
            }
            for m in matches
        ],
    }


def _months(end: date, count: int) -> list[date]:
    first = end.replace(day=1)
    months = []
    for back in range(count - 1, -1, -1):
        year, month = divmod(first.year * 12 + first.month - 1 - back, 12)
        months.append(date(year, month + 1, 1))
    return months


def stage_history_chart(*, region: HarborRegion, months: int = HISTORY_MONTHS) -> Chart:
    """Moves into each stage per month over the last ``months`` months, from the audit trail
    (a match belongs to the region of its offer's site, as in impact.py). One query."""
    month_starts = _months(timezone.localdate(), months)
    start = timezone.make_aware(datetime.combine(month_starts[0], time.min))
    rows = (
        MatchEvent.objects.filter(
            kind=MatchEvent.Kind.STAGE,
            created_at__gte=start,
            match__offer__site__region=region,
        )
        .annotate(month=TruncMonth("created_at"))
        .values("month", "to_stage")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: dict[tuple[date, str], int] = {}
    for row in rows:
        month = row["month"]
        month = month.date() if hasattr(month, "date") else month
        counts[(month, row["to_stage"])] = row["n"]
    series = [
        (
            str(label),
            STAGE_COLOURS[value],
            [float(counts.get((m, value), 0)) for m in month_starts],
        )
        for value, label in Stage.choices
        if value != Stage.PROPOSED
    ]
    return stacked_columns(
        _("Stage moves per month"),
        [m.strftime("%b %y") for m in month_starts],
        series,
    )


@dataclass(frozen=True, slots=True)
class ImpactDashboard:
    totals: dict[str, ImpactRow]  # "implemented" / "proposed" → the region's total row
    pairs: list[ImpactRow]  # per country pair and status
    tonnes: Chart
    co2: Chart
    cross_border: Chart
    counts: Chart


def impact_dashboard(*, region: HarborRegion) -> ImpactDashboard:
    """The region's impact totals (``impact_totals``) and their charts. Two queries."""
    rows = impact_totals(region_code=region.code)
    totals = {str(r.status): r for r in rows if r.region == region.code and not r.origin_country}
    pairs = [r for r in rows if r.region == region.code and r.origin_country]
    implemented = totals.get(str(ImpactStatus.IMPLEMENTED))
    proposed = totals.get(str(ImpactStatus.PROPOSED))

    def pair(attr: str, scale: float = 1.0) -> list[tuple[str, float, str]]:
        return [
            (
                _("Implemented"),
                getattr(implemented, attr, 0.0) * scale,
                STAGE_COLOURS["implemented"],
            ),
            (
                _("Open (potential)"),
                getattr(proposed, attr, 0.0) * scale,
                STAGE_COLOURS["proposed"],
            ),
        ]

    return ImpactDashboard(
        totals=totals,
        pairs=pairs,
        counts=horizontal_bars(_("Synergies"), pair("count"), decimals=0),
        tonnes=horizontal_bars(
            _("Tonnes per year"), pair("tonnes_per_year"), unit="t/yr", decimals=0
        ),
        co2=horizontal_bars(_("Transport CO2"), pair("co2_tonnes_per_year"), unit="t CO2e/yr"),
        cross_border=horizontal_bars(
            _("Cross-border share"), pair("cross_border_share", 100.0), unit="%", maximum=100.0
        ),
    )
