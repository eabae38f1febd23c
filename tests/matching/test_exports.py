"""export_matches, export_prospects and evaluate_matching (CONTRACTS.md, "Matching"): exact
columns, ranks computed in SQL, --top, the CSV formula guard, JSON, and recall/MRR on a tiny
hand-computed label file."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from listings.models import Demand, NaceCode, Offer
from matching.evaluation import metrics, rank_of, read_labels, sector_rank
from matching.models import Match, Prospect
from matching.scoring import SCORING_VERSION
from tests.factories import DemandFactory, OfferFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

MATCH_HEADER = (
    "offer_ref,demand_ref,score,rank_for_offer,rank_for_demand,material_score,quantity_score,"
    "distance_score,legal_score,distance_km,legal_procedure,explanation"
)
PROSPECT_HEADER = "offer_ref,organization,nace,rank,score,explanation"


def _match(offer: Offer, demand: Demand, score: float, explanation: str = "same code") -> Match:
    return Match.objects.create(
        offer=offer,
        demand=demand,
        score=score,
        material_score=1.0,
        quantity_score=0.5,
        distance_score=0.8,
        legal_score=1.0,
        timing_score=1.0,
        distance_km=42.04,
        legal_procedure="none",
        explanation=explanation,
        scoring_version=SCORING_VERSION,
        offer_version=offer.version,
        demand_version=demand.version,
    )


@pytest.fixture
def small_set() -> dict[str, Offer | Demand]:
    """Two offers and three demands. Scores (offer → demand):
    O1 → D1 0.9, O1 → D2 0.7, O1 → D3 0.7 (a tie: D2 has the lower id);
    O2 → D1 0.95, O2 → D3 0.6."""
    o1 = OfferFactory(ref="O1")
    o2 = OfferFactory(ref="=HYPERLINK(1)")  # a hostile ref
    d1 = DemandFactory(ref="D1")
    d2 = DemandFactory(ref="D2")
    d3 = DemandFactory(ref="")  # no ref: exported by id
    _match(o1, d1, 0.9)
    _match(o1, d2, 0.7)
    _match(o1, d3, 0.7, explanation="-1 km? @odd, +cmd")
    _match(o2, d1, 0.95)
    _match(o2, d3, 0.6)
    return {"o1": o1, "o2": o2, "d1": d1, "d2": d2, "d3": d3}


def _export(command: str, *args: str) -> str:
    out = io.StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_export_matches_columns_and_ranks(small_set: dict) -> None:
    text = _export("export_matches")
    assert text.splitlines()[0] == MATCH_HEADER
    rows = _csv(text)
    d3 = str(small_set["d3"].pk)
    ranks = {
        (r["offer_ref"], r["demand_ref"]): (int(r["rank_for_offer"]), int(r["rank_for_demand"]))
        for r in rows
    }
    assert ranks == {
        ("O1", "D1"): (1, 2),
        ("O1", "D2"): (2, 1),
        ("O1", d3): (3, 1),
        ("'=HYPERLINK(1)", "D1"): (1, 1),
        ("'=HYPERLINK(1)", d3): (2, 2),
    }
    first = rows[0]
    assert (first["offer_ref"], first["demand_ref"], first["score"]) == ("O1", "D1", "0.9")
    assert first["distance_km"] == "42.0"
    assert first["legal_procedure"] == "none"


def test_export_matches_top_keeps_best_per_offer(small_set: dict) -> None:
    rows = _csv(_export("export_matches", "--top", "1"))
    assert [(r["offer_ref"], r["demand_ref"]) for r in rows] == [
        ("O1", "D1"),
        ("'=HYPERLINK(1)", "D1"),
    ]
    # rank_for_demand is computed over all matches, not only the kept ones
    assert [r["rank_for_demand"] for r in rows] == ["2", "1"]


def test_export_matches_guards_formula_cells(small_set: dict) -> None:
    rows = _csv(_export("export_matches"))
    odd = next(r for r in rows if r["explanation"].startswith("'"))
    assert odd["explanation"] == "'-1 km? @odd, +cmd"
    assert all(not r["offer_ref"].startswith("=") for r in rows)


def test_export_matches_json_parses_with_raw_values(small_set: dict) -> None:
    data = json.loads(_export("export_matches", "--format", "json"))
    assert len(data) == 5
    assert list(data[0]) == MATCH_HEADER.split(",")
    assert data[0]["score"] == 0.9
    assert data[0]["rank_for_offer"] == 1
    assert {d["offer_ref"] for d in data} == {"O1", "=HYPERLINK(1)"}  # JSON is not a spreadsheet


def test_export_empty_json_is_an_empty_list() -> None:
    assert json.loads(_export("export_matches", "--format", "json")) == []
    assert _export("export_prospects").strip() == PROSPECT_HEADER


def test_export_matches_to_a_file(small_set: dict, tmp_path: Path) -> None:
    target = tmp_path / "matches.csv"
    call_command("export_matches", "--output", str(target), stdout=io.StringIO())
    assert len(_csv(target.read_text(encoding="utf-8"))) == 5


def test_export_rejects_a_bad_top() -> None:
    with pytest.raises(CommandError, match="--top"):
        call_command("export_matches", "--top", "0")


def test_export_prospects_columns_ranks_and_top(small_set: dict) -> None:
    cement = OrganizationFactory(
        name="@Cement", nace=NaceCode.objects.get(version="2", code="23.51")
    )
    concrete = OrganizationFactory(
        name="Concrete", nace=NaceCode.objects.get(version="2", code="23.63")
    )
    for rank, (org, score) in enumerate(((cement, 0.8), (concrete, 0.6)), start=1):
        Prospect.objects.create(
            offer=small_set["o1"],
            organization=org,
            score=score,
            sector_score=score,
            distance_km=10,
            rank=rank,
            explanation="=sum(A1)",
            scoring_version=SCORING_VERSION,
        )
    text = _export("export_prospects")
    assert text.splitlines()[0] == PROSPECT_HEADER
    rows = _csv(text)
    assert [(r["offer_ref"], r["organization"], r["nace"], r["rank"]) for r in rows] == [
        ("O1", "'@Cement", "23.51", "1"),
        ("O1", "Concrete", "23.63", "2"),
    ]
    assert rows[0]["explanation"] == "'=sum(A1)"
    assert len(_csv(_export("export_prospects", "--top", "1"))) == 1
    data = json.loads(_export("export_prospects", "--format", "json"))
    assert list(data[0]) == PROSPECT_HEADER.split(",")
    assert data[0]["organization"] == "@Cement"


# --- evaluation ------------------------------------------------------------------------------


def test_metrics_by_hand() -> None:
    assert rank_of([5, 7, 9], 9) == 3
    assert rank_of([5, 7, 9], 4) is None
    assert sector_rank(["23.63", "23.51"], "23.51") == 2
    assert sector_rank(["23.63", "23.51"], "23.5") == 2  # a group label finds its classes
    assert sector_rank(["23.63", "23.51"], "23") == 1
    m = metrics([1, 3, None, 12], ks=(1, 5, 10))
    assert m.recall == {1: 0.25, 5: 0.5, 10: 0.5}
    assert m.mrr == pytest.approx((1 + 1 / 3 + 1 / 12) / 4)
    assert read_labels("offer_ref,demand_ref\nA,B\n\n") == ("matches", [("A", "B")])


def test_evaluate_matching_match_labels(small_set: dict, tmp_path: Path) -> None:
    # O1 → D2 is rank 2, O2 → D1 rank 1, O1 → D9 unknown demand, O9 unknown offer:
    # recall@1 = 1/4, recall@5 = 2/4, MRR = (1/2 + 1) / 4 = 0.375
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "offer_ref,demand_ref\nO1,D2\n=HYPERLINK(1),D1\nO1,D9\nO9,D1\n", encoding="utf-8"
    )
    out = _export("evaluate_matching", str(labels))
    assert "matches: 4 labels on 3 offers, 2 found; 1 missing offers, 1 unknown demand refs" in out
    assert "recall@1   0.250" in out
    assert "recall@5   0.500" in out
    assert "recall@10  0.500" in out
    assert "MRR        0.375" in out
    assert "missing offers: O9" in out
    assert "unknown demand refs: D9" in out


def test_evaluate_matching_sector_labels(small_set: dict, tmp_path: Path) -> None:
    # O1's demands belong to 35.11 organisations (the factory's NACE). Add a 23.51 prospect
    # scored between the matches: merged ranking of O1 is 35.11 (0.9), 23.51 (0.8).
    cement = OrganizationFactory(nace=NaceCode.objects.get(version="2", code="23.51"))
    Prospect.objects.create(
        offer=small_set["o1"],
        organization=cement,
        score=0.8,
        sector_score=1.0,
        distance_km=10,
        rank=1,
        explanation="cement",
        scoring_version=SCORING_VERSION,
    )
    labels = tmp_path / "sectors.csv"
    labels.write_text("offer_ref,receiver_nace\nO1,23.51\nO1,35.11\nO1,01.13\n", encoding="utf-8")
    out = _export("evaluate_matching", str(labels), "--k", "1,2")
    merged, prospects_only = out.split("sectors (prospects only)")
    # merged: ranks 2, 1, absent -> recall@1 1/3, recall@2 2/3, MRR (1/2 + 1) / 3 = 0.5
    assert "recall@1   0.333" in merged
    assert "recall@2   0.667" in merged
    assert "MRR        0.500" in merged
    # prospects only: 23.51 at rank 1 -> recall@1 1/3, MRR 1/3
    assert "recall@1   0.333" in prospects_only
    assert "MRR        0.333" in prospects_only


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("offer,demand\nA,B\n", "want offer_ref,demand_ref or offer_ref,receiver_nace"),
        ("", "empty"),
        ("offer_ref,demand_ref\nA\n", "row 2"),
    ],
)
def test_evaluate_matching_rejects_bad_files(tmp_path: Path, content: str, message: str) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text(content, encoding="utf-8")
    with pytest.raises(CommandError, match=message) as caught:
        call_command("evaluate_matching", str(labels))
    assert caught.value.returncode == 2


def test_evaluate_matching_missing_file_exits_2(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot read") as caught:
        call_command("evaluate_matching", str(tmp_path / "absent.csv"))
    assert caught.value.returncode == 2


def test_evaluate_matching_bad_k(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("offer_ref,demand_ref\n", encoding="utf-8")
    with pytest.raises(CommandError, match="--k"):
        call_command("evaluate_matching", str(labels), "--k", "a,0")
