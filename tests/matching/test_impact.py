"""Impact totals per harbour region and country pair (`matching.impact`) and
`manage.py impact_report`."""

from __future__ import annotations

import csv
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from harbors.models import HarborRegion
from listings.models import Demand, Offer, ResourceType
from matching.impact import (
    IMPACT_COLUMNS,
    HarborRegionUnknownError,
    ImpactRow,
    ImpactStatus,
    impact_totals,
)
from matching.models import Match, Stage
from tests.factories import DemandFactory, OfferFactory, OrganizationFactory, SiteFactory

pytestmark = pytest.mark.django_db

IMPLEMENTED, PROPOSED = ImpactStatus.IMPLEMENTED, ImpactStatus.PROPOSED


def _match(
    *,
    region: str | None,
    origin: str,
    destination: str,
    stage: Stage,
    tonnes: float | None,
    co2_kg_per_tonne: float | None,
    implemented_tonnes: float | None = None,
    resource_type: ResourceType = ResourceType.MATERIAL,
) -> Match:
    giver = OrganizationFactory(country_id=origin)
    taker = OrganizationFactory(country_id=destination)
    offer: Offer = OfferFactory(
        organization=giver,
        resource_type=resource_type,
        site=SiteFactory(
            organization=giver,
            region=None if region is None else HarborRegion.objects.get(code=region),
        ),
    )
    demand: Demand = DemandFactory(organization=taker, resource_type=resource_type)
    return Match.objects.create(
        offer=offer,
        demand=demand,
        score=0.8,
        material_score=1.0,
        quantity_score=0.9,
        distance_score=0.7,
        legal_score=0.85,
        timing_score=1.0,
        distance_km=120.0,
        transport_mode="road",
        co2_kg_per_tonne=co2_kg_per_tonne,
        tonnes_per_year=tonnes,
        implemented_tonnes_per_year=implemented_tonnes,
        explanation="test",
        scoring_version="test",
        offer_version=offer.version,
        demand_version=demand.version,
        stage=stage,
    )


@pytest.fixture
def synergies() -> None:
    antwerp, rotterdam = "antwerp-bruges", "rotterdam-moerdijk"
    # Antwerp-Bruges: BE→NL implemented (no recorded tonnes: falls back to the estimate),
    # two open BE→NL, one open domestic BE→BE, one rejected BE→NL that must not count.
    _match(
        region=antwerp,
        origin="BE",
        destination="NL",
        stage=Stage.IMPLEMENTED,
        tonnes=500,
        co2_kg_per_tonne=20,
    )
    _match(
        region=antwerp,
        origin="BE",
        destination="NL",
        stage=Stage.PROPOSED,
        tonnes=200,
        co2_kg_per_tonne=20,
    )
    _match(
        region=antwerp,
        origin="BE",
        destination="NL",
        stage=Stage.NEGOTIATING,
        tonnes=300,
        co2_kg_per_tonne=10,
    )
    _match(
        region=antwerp,
        origin="BE",
        destination="BE",
        stage=Stage.INTRODUCED,
        tonnes=100,
        co2_kg_per_tonne=5,
    )
    _match(
        region=antwerp,
        origin="BE",
        destination="NL",
        stage=Stage.REJECTED,
        tonnes=10_000,
        co2_kg_per_tonne=50,
    )
    # Rotterdam-Moerdijk: NL→NL implemented with recorded tonnes, an open one without a CO2
    # figure, an energy match (MWh, not tonnes), and a withdrawn one that must not count.
    _match(
        region=rotterdam,
        origin="NL",
        destination="NL",
        stage=Stage.IMPLEMENTED,
        tonnes=1000,
        co2_kg_per_tonne=10,
        implemented_tonnes=800,
    )
    _match(
        region=rotterdam,
        origin="NL",
        destination="NL",
        stage=Stage.SHORTLISTED,
        tonnes=50,
        co2_kg_per_tonne=None,
    )
    _match(
        region=rotterdam,
        origin="NL",
        destination="NL",
        stage=Stage.PROPOSED,
        tonnes=9_999,
        co2_kg_per_tonne=0,
        resource_type=ResourceType.ENERGY,
    )
    _match(
        region=rotterdam,
        origin="NL",
        destination="NL",
        stage=Stage.WITHDRAWN,
        tonnes=7_000,
        co2_kg_per_tonne=10,
    )
    # An offer site outside every harbour region.
    _match(
        region=None,
        origin="NL",
        destination="BE",
        stage=Stage.PROPOSED,
        tonnes=40,
        co2_kg_per_tonne=25,
    )


def _key(row: ImpactRow) -> tuple[str, str, str, str]:
    return (row.region, row.origin_country, row.destination_country, str(row.status))


def _figures(row: ImpactRow) -> tuple[int, float, float, float]:
    return (
        row.count,
        round(row.tonnes_per_year, 6),
        round(row.co2_tonnes_per_year, 6),
        round(row.cross_border_share, 6),
    )


def test_impact_totals_per_region_pair_and_status(synergies: None) -> None:
    rows = {_key(row): _figures(row) for row in impact_totals(region_code=None)}
    assert rows == {
        # pairs
        ("antwerp-bruges", "BE", "NL", "implemented"): (1, 500.0, 10.0, 1.0),
        ("antwerp-bruges", "BE", "BE", "proposed"): (1, 100.0, 0.5, 0.0),
        ("antwerp-bruges", "BE", "NL", "proposed"): (2, 500.0, 7.0, 1.0),
        ("rotterdam-moerdijk", "NL", "NL", "implemented"): (1, 800.0, 8.0, 0.0),
        ("rotterdam-moerdijk", "NL", "NL", "proposed"): (2, 50.0, 0.0, 0.0),
        ("none", "NL", "BE", "proposed"): (1, 40.0, 1.0, 1.0),
        # per-region totals
        ("antwerp-bruges", "", "", "implemented"): (1, 500.0, 10.0, 1.0),
        ("antwerp-bruges", "", "", "proposed"): (3, 600.0, 7.5, round(2 / 3, 6)),
        ("rotterdam-moerdijk", "", "", "implemented"): (1, 800.0, 8.0, 0.0),
        ("rotterdam-moerdijk", "", "", "proposed"): (2, 50.0, 0.0, 0.0),
        ("none", "", "", "implemented"): (0, 0.0, 0.0, 0.0),
        ("none", "", "", "proposed"): (1, 40.0, 1.0, 1.0),
    }


def test_impact_totals_leave_out_rejected_and_withdrawn(synergies: None) -> None:
    rows = impact_totals(region_code=None)
    counted = sum(row.count for row in rows if row.origin_country)
    assert counted == Match.objects.exclude(stage__in=[Stage.REJECTED, Stage.WITHDRAWN]).count()
    assert counted == 8
    assert max(row.tonnes_per_year for row in rows) < 7_000


def test_impact_totals_order_regions_then_none_each_followed_by_totals(synergies: None) -> None:
    rows = impact_totals(region_code=None)
    assert [row.region for row in rows] == sorted(
        (row.region for row in rows), key=lambda code: (code == "none", code)
    )
    antwerp = [row for row in rows if row.region == "antwerp-bruges"]
    assert [(row.origin_country, row.status) for row in antwerp] == [
        ("BE", IMPLEMENTED),
        ("BE", PROPOSED),
        ("BE", PROPOSED),
        ("", IMPLEMENTED),
        ("", PROPOSED),
    ]


def test_impact_totals_filter_by_region(synergies: None) -> None:
    rows = impact_totals(region_code="rotterdam-moerdijk")
    assert {row.region for row in rows} == {"rotterdam-moerdijk"}
    assert len(rows) == 4
    assert [_figures(r) for r in rows if not r.origin_country] == [
        (1, 800.0, 8.0, 0.0),
        (2, 50.0, 0.0, 0.0),
    ]
    outside = impact_totals(region_code="none")
    assert {row.region for row in outside} == {"none"}


def test_impact_totals_of_a_region_without_synergies_are_zero(synergies: None) -> None:
    rows = impact_totals(region_code="dublin")
    assert [(_key(r), _figures(r)) for r in rows] == [
        (("dublin", "", "", "implemented"), (0, 0.0, 0.0, 0.0)),
        (("dublin", "", "", "proposed"), (0, 0.0, 0.0, 0.0)),
    ]


def test_impact_totals_unknown_region_raises() -> None:
    with pytest.raises(HarborRegionUnknownError, match="unknown harbour region 'atlantis'") as e:
        impact_totals(region_code="atlantis")
    assert e.value.code == "harbor_region_unknown"
    assert e.value.extra == {"region": "atlantis"}


def test_impact_totals_query_count_is_constant(synergies: None, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        small = impact_totals(region_code=None)
    for _ in range(3):
        _match(
            region="antwerp-bruges",
            origin="BE",
            destination="DE",
            stage=Stage.PROPOSED,
            tonnes=10,
            co2_kg_per_tonne=1,
        )
    with django_assert_max_num_queries(1):
        large = impact_totals(region_code=None)
    assert len(large) == len(small) + 1
    with django_assert_max_num_queries(2):  # the region check, then the aggregate
        impact_totals(region_code="antwerp-bruges")


def _report(*args: str) -> str:
    out = StringIO()
    call_command("impact_report", *args, stdout=out)
    return out.getvalue()


def test_impact_report_writes_csv_by_default(synergies: None) -> None:
    rows = list(csv.DictReader(StringIO(_report("--region", "antwerp-bruges"))))
    assert tuple(rows[0]) == IMPACT_COLUMNS
    assert rows[-1] == {
        "region": "antwerp-bruges",
        "origin_country": "",
        "destination_country": "",
        "status": "proposed",
        "count": "3",
        "tonnes_per_year": "600.0",
        "co2_tonnes_per_year": "7.5",
        "cross_border_share": "0.6667",
    }
    assert len(rows) == 5


def test_impact_report_writes_json(synergies: None) -> None:
    rows = json.loads(_report("--format", "json"))
    assert all(tuple(row) == IMPACT_COLUMNS for row in rows)
    implemented_nl = next(
        row
        for row in rows
        if row["region"] == "rotterdam-moerdijk"
        and row["origin_country"] == "NL"
        and row["status"] == "implemented"
    )
    assert implemented_nl["tonnes_per_year"] == 800.0
    assert implemented_nl["count"] == 1
    assert len(rows) == 12


def test_impact_report_unknown_region_exits_2() -> None:
    with pytest.raises(CommandError, match="--region: unknown harbour region 'atlantis'") as e:
        _report("--region", "atlantis")
    assert e.value.returncode == 2
    assert "known: amsterdam, antwerp-bruges" in str(e.value)


def test_impact_report_unknown_format_is_an_argparse_error() -> None:
    with pytest.raises(CommandError, match="invalid choice: 'xlsx'"):
        _report("--format", "xlsx")
