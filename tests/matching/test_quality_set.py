"""Matching and prospects on the labelled quality set of documented NWE exchanges
(matching/data/quality_set, SOURCES.md): recall must not fall below the measured floor.

The figures are in docs/quality.md. Matching runs synchronously, listing by listing, as the
Celery task would (offers first, then demands), without a broker.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from listings.importing import import_listings
from listings.models import Demand, Offer
from matching.evaluation import Report, evaluate_file
from matching.prospects import prospects_refresh_all
from matching.services import matches_refresh_for_listing

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

QUALITY_SET = Path(__file__).resolve().parents[2] / "matching" / "data" / "quality_set"

# Measured on scoring versions 2026.11.1 and .2 (docs/quality.md): 0.985 (64 of 65) and 0.981 (51 of
# 52). The floors leave room for two or three labels to slip while scoring is tuned.
MATCH_RECALL_AT_10_FLOOR = 0.95
SECTOR_RECALL_AT_10_FLOOR = 0.95


@pytest.fixture
def quality_set() -> None:
    listings = QUALITY_SET / "listings.csv"
    import_listings(data=listings.read_bytes(), filename=listings.name, actor=None)
    for model, kind in ((Offer, "offer"), (Demand, "demand")):
        for pk, version in model.objects.published().order_by("id").values_list("id", "version"):
            matches_refresh_for_listing(kind=kind, listing_id=pk, version=version)
    prospects_refresh_all()


def _show(reports: list[Report]) -> None:
    for report in reports:
        print("\n".join(report.lines()))


def test_quality_set_recall(quality_set: None) -> None:
    (matches,) = evaluate_file(QUALITY_SET / "labels_matches.csv")
    sectors, prospects_only = evaluate_file(QUALITY_SET / "labels_sectors.csv")
    _show([matches, sectors, prospects_only])
    assert not matches.unknown_offers
    assert not matches.unknown_targets
    assert not sectors.unknown_offers
    assert matches.metrics.recall[10] >= MATCH_RECALL_AT_10_FLOOR
    assert sectors.metrics.recall[10] >= SECTOR_RECALL_AT_10_FLOOR
