"""Measure matching and prospects against labelled exchanges: ``manage.py evaluate_matching``
and the quality-set test share this module.

Two label files (CONTRACTS.md, "Matching"):

- ``offer_ref,demand_ref``: known-good matches. An offer's matches are ranked by score (ties by
  demand id); a label's rank is the position of its demand, or absent.
- ``offer_ref,receiver_nace``: known-good receiving sectors. The NACE classes of the offer's
  matched demands' organisations and of its prospects' organisations are merged by score (ties:
  matches first, then by id) and each class is kept at its first position, so the rank is "the
  k-th distinct sector a facilitator would see". A label is found where a class starts with the
  label's digits ("23.51" finds 23.51; a group label "23.5" finds any class under it).

recall@k is the share of labels ranked k or better; MRR is the mean of 1/rank, 0 when absent.
A label whose offer is unknown counts as absent and is reported; so does an unknown demand.

The metric functions are pure and take ranked lists; the loaders read Match and Prospect rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Final

from django.db.models import Model

from listings.models import Demand, Offer

from .models import Match, Prospect
from .sector_knowledge import normalize_nace

DEFAULT_KS: Final[tuple[int, ...]] = (1, 5, 10)


class LabelKind(StrEnum):
    MATCHES = "matches"
    SECTORS = "sectors"


LABEL_HEADERS: Final[dict[tuple[str, ...], LabelKind]] = {
    ("offer_ref", "demand_ref"): LabelKind.MATCHES,
    ("offer_ref", "receiver_nace"): LabelKind.SECTORS,
}


class LabelFileError(ValueError):
    """The label file cannot be read or has neither known header; the message says why."""


# --- pure metrics ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Metrics:
    labels: int
    found: int  # labels ranked at all
    recall: dict[int, float]  # k -> recall@k
    mrr: float


def rank_of[T](ranked: Sequence[T], wanted: T) -> int | None:
    """1-based position of ``wanted`` in ``ranked``; None when absent."""
    for position, item in enumerate(ranked, start=1):
        if item == wanted:
            return position
    return None


def sector_rank(ranked_nace: Sequence[str], receiver_nace: str) -> int | None:
    """1-based position of the first NACE code in ``ranked_nace`` that falls under
    ``receiver_nace`` (both compared by their digits); None when absent."""
    wanted = normalize_nace(receiver_nace)
    if not wanted:
        return None
    for position, code in enumerate(ranked_nace, start=1):
        if normalize_nace(code).startswith(wanted):
            return position
    return None


def metrics(ranks: Sequence[int | None], ks: Sequence[int] = DEFAULT_KS) -> Metrics:
    """recall@k for every k and the mean reciprocal rank of labels ranked ``ranks``."""
    n = len(ranks)
    found = [r for r in ranks if r is not None]
    return Metrics(
        labels=n,
        found=len(found),
        recall={k: (sum(1 for r in found if r <= k) / n if n else 0.0) for k in ks},
        mrr=sum(1.0 / r for r in found) / n if n else 0.0,
    )


def distinct_in_order[T: Hashable](items: Iterable[T]) -> list[T]:
    seen: set[T] = set()
    result = []
    for item in items:
        if item not in seen:
            seen.add(item)
            result.append(item)
    return result


# --- label files -----------------------------------------------------------------------------


def read_labels(data: str) -> tuple[LabelKind, list[tuple[str, str]]]:
    """Parse a label CSV: (kind, [(offer_ref, target), ...]). Blank lines are skipped."""
    rows = [row for row in csv.reader(io.StringIO(data)) if any(cell.strip() for cell in row)]
    if not rows:
        raise LabelFileError("the file is empty; want a header offer_ref,demand_ref or ...")
    header = tuple(cell.strip().lstrip("\ufeff") for cell in rows[0])
    kind = LABEL_HEADERS.get(header)
    if kind is None:
        wanted = " or ".join(",".join(h) for h in LABEL_HEADERS)
        raise LabelFileError(f"header {','.join(header)!r}; want {wanted}")
    labels = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise LabelFileError(f"row {number}: want two non-empty cells, got {row!r}")
        labels.append((row[0].strip(), row[1].strip()))
    return kind, labels


def read_label_file(path: Path) -> tuple[LabelKind, list[tuple[str, str]]]:
    try:
        data = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise LabelFileError(f"cannot read it: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise LabelFileError("not UTF-8 text") from exc
    return read_labels(data)


# --- loaders ---------------------------------------------------------------------------------


def ids_by_ref(model: type[Model], refs: Iterable[str]) -> dict[str, int]:
    """Listing ref -> id; a ref that names no listing but is a number is taken as an id (the
    exports write the id where a listing has no ref)."""
    refs = set(refs)
    found = dict(model.objects.filter(ref__in=refs).values_list("ref", "id"))
    numbers = {int(r): r for r in refs - found.keys() if r.isdigit()}
    for pk in model.objects.filter(pk__in=numbers, ref="").values_list("id", flat=True):
        found[numbers[pk]] = pk
    return found


def ranked_demands(offer_ids: Iterable[int]) -> dict[int, list[int]]:
    """Offer id -> its matched demand ids, best score first (ties by demand id)."""
    ranked: dict[int, list[int]] = {pk: [] for pk in offer_ids}
    rows = (
        Match.objects.filter(offer_id__in=list(ranked))
        .order_by("offer_id", "-score", "demand_id")
        .values_list("offer_id", "demand_id")
    )
    for offer_id, demand_id in rows:
        ranked[offer_id].append(demand_id)
    return ranked


def ranked_sectors(offer_ids: Iterable[int], *, with_matches: bool = True) -> dict[int, list[str]]:
    """Offer id -> distinct NACE codes of its matches' demand organisations and its prospects'
    organisations, merged by score (ties: matches first, then by id)."""
    entries: dict[int, list[tuple[float, int, int, str]]] = {pk: [] for pk in offer_ids}
    if with_matches:
        for offer_id, pk, score, nace in Match.objects.filter(
            offer_id__in=list(entries), demand__organization__nace__isnull=False
        ).values_list("offer_id", "id", "score", "demand__organization__nace__code"):
            entries[offer_id].append((-score, 0, pk, nace))
    for offer_id, pk, score, nace in Prospect.objects.filter(
        offer_id__in=list(entries), organization__nace__isnull=False
    ).values_list("offer_id", "id", "score", "organization__nace__code"):
        entries[offer_id].append((-score, 1, pk, nace))
    return {
        offer_id: distinct_in_order(nace for *_, nace in sorted(rows))
        for offer_id, rows in entries.items()
    }


# --- evaluation ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Report:
    name: str
    metrics: Metrics
    offers: int  # distinct labelled offers
    unknown_offers: list[str] = field(default_factory=list)
    unknown_targets: list[str] = field(default_factory=list)  # demand refs for match labels

    def lines(self) -> list[str]:
        m = self.metrics
        head = (
            f"{self.name}: {m.labels} labels on {self.offers} offers, {m.found} found; "
            f"{len(self.unknown_offers)} missing offers"
        )
        if self.name == LabelKind.MATCHES:
            head += f", {len(self.unknown_targets)} unknown demand refs"
        out = [head]
        out.extend(f"  recall@{k:<3} {value:.3f}" for k, value in m.recall.items())
        out.append(f"  MRR        {m.mrr:.3f}")
        if self.unknown_offers:
            out.append(f"  missing offers: {', '.join(sorted(self.unknown_offers))}")
        if self.unknown_targets:
            out.append(f"  unknown demand refs: {', '.join(sorted(self.unknown_targets))}")
        return out


def evaluate_match_labels(
    labels: Sequence[tuple[str, str]], ks: Sequence[int] = DEFAULT_KS
) -> Report:
    offers = ids_by_ref(Offer, (o for o, _ in labels))
    demands = ids_by_ref(Demand, (d for _, d in labels))
    ranked = ranked_demands(offers.values())
    ranks = []
    for offer_ref, demand_ref in labels:
        offer_id, demand_id = offers.get(offer_ref), demands.get(demand_ref)
        if offer_id is None or demand_id is None:
            ranks.append(None)
        else:
            ranks.append(rank_of(ranked[offer_id], demand_id))
    return Report(
        name=LabelKind.MATCHES,
        metrics=metrics(ranks, ks),
        offers=len({o for o, _ in labels}),
        unknown_offers=sorted({o for o, _ in labels if o not in offers}),
        unknown_targets=sorted({d for _, d in labels if d not in demands}),
    )


def evaluate_sector_labels(
    labels: Sequence[tuple[str, str]], ks: Sequence[int] = DEFAULT_KS
) -> list[Report]:
    """Two reports: matches and prospects merged ("sectors"), and prospects alone."""
    offers = ids_by_ref(Offer, (o for o, _ in labels))
    reports = []
    for name, with_matches in (("sectors", True), ("sectors (prospects only)", False)):
        ranked = ranked_sectors(offers.values(), with_matches=with_matches)
        ranks = [
            sector_rank(ranked[offers[o]], nace) if o in offers else None for o, nace in labels
        ]
        reports.append(
            Report(
                name=name,
                metrics=metrics(ranks, ks),
                offers=len({o for o, _ in labels}),
                unknown_offers=sorted({o for o, _ in labels if o not in offers}),
            )
        )
    return reports


def evaluate_labels(
    kind: LabelKind, labels: Sequence[tuple[str, str]], ks: Sequence[int] = DEFAULT_KS
) -> list[Report]:
    if kind is LabelKind.MATCHES:
        return [evaluate_match_labels(labels, ks)]
    return evaluate_sector_labels(labels, ks)


def evaluate_file(path: Path, ks: Sequence[int] = DEFAULT_KS) -> list[Report]:
    """Read a label file and evaluate it against the stored matches and prospects."""
    kind, labels = read_label_file(path)
    return evaluate_labels(kind, labels, ks)
