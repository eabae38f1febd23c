"""The vectorised prospect ranking (matching/prospect_scoring.py) against a brute-force loop
that scores every organisation at its nearest site, as the per-offer code did. No database."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest

from harbors.logistics import haversine_km_matrix
from matching.prospect_scoring import (
    ROAD_DETOUR,
    OfferBlock,
    Ranked,
    Receivers,
    combine,
    pair_score,
    rank_prospects,
)

ROOT = Path(__file__).resolve().parents[2]
RESOURCES = ((500.0, 150.0), (50.0, 20.0), (10.0, 3.0))  # (max km, scale) material/water/energy
LEGAL_SCORES = (1.0, 0.85, 0.5, 0.3, 0.0)
FITS = (1.0, 0.95, 0.9, 0.81, 0.8, 0.72, 0.6, 0.45, 0.3, 0.12, 0.05, 0.0045)


def _brute(
    offers: OfferBlock,
    receivers: Receivers,
    legal: np.ndarray,
    excluded: set[tuple[int, int]],
    top: int,
) -> list[tuple[int, int, int, float, float, int]]:
    """(row, org, site, km, score, rank) as the per-offer loop computed them."""
    out = []
    for i in range(len(offers.lat)):
        km_all = (
            haversine_km_matrix(
                [offers.lat[i]], [offers.lon[i]], receivers.site_lat, receivers.site_lon
            )[0]
            * ROAD_DETOUR
        )
        found = []
        for j in range(len(receivers.org_id)):
            if (i, j) in excluded:
                continue
            start, end = int(receivers.site_start[j]), int(receivers.site_start[j + 1])
            nearest = start + int(np.argmin(km_all[start:end])) if end - start > 1 else start
            km = float(km_all[nearest])
            if km > offers.max_km[i]:
                continue
            score = combine(
                float(receivers.fit[j]),
                math.exp(-km / float(offers.scale_km[i])),
                float(legal[offers.legal_row[i], receivers.site_country[nearest]]),
            )
            if score > 0.0:
                found.append((-min(score, 1.0), int(receivers.org_id[j]), j, nearest, km))
        found.sort()
        for rank, (neg, _, j, site, km) in enumerate(found[:top], start=1):
            out.append((i, j, site, km, -neg, rank))
    return out


def _as_tuples(ranked: Ranked) -> list[tuple[int, int, int, float, float, int]]:
    return list(
        zip(
            ranked.row.tolist(),
            ranked.org.tolist(),
            ranked.site.tolist(),
            ranked.km.tolist(),
            ranked.score.tolist(),
            ranked.rank.tolist(),
            strict=True,
        )
    )


def _case(seed: int, n_offers: int, n_orgs: int, spread: float):
    """Clustered points with repeats (ties), several-site organisations across borders, some
    prohibited shipments and exclusions."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform([49.0, -3.0], [56.0, 12.0], size=(6, 2))

    def points(n: int) -> tuple[np.ndarray, np.ndarray]:
        c = centres[rng.integers(0, len(centres), n)]
        jitter = rng.normal(0.0, spread, size=(n, 2)) * rng.choice([0.0, 0.05, 1.0], size=(n, 1))
        p = np.round(c + jitter, 4)
        return p[:, 0], p[:, 1]

    n_sites = rng.integers(1, 4, n_orgs) * (rng.random(n_orgs) < 0.3) + 1
    site_start = np.r_[0, np.cumsum(np.minimum(n_sites, 3))].astype(np.int64)
    site_lat, site_lon = points(int(site_start[-1]))
    n_countries = 5
    receivers = Receivers(
        org_id=np.sort(rng.choice(10 * n_orgs, n_orgs, replace=False)).astype(np.int64) + 1,
        fit=rng.choice(FITS[:-1] if seed % 2 else FITS, n_orgs),
        site_start=site_start,
        site_lat=site_lat,
        site_lon=site_lon,
        site_country=rng.integers(0, n_countries, int(site_start[-1])).astype(np.int64),
    )
    receivers = Receivers(
        receivers.org_id,
        np.where(receivers.fit > 0, receivers.fit, 0.5),
        *(getattr(receivers, f) for f in ("site_start", "site_lat", "site_lon", "site_country")),
    )
    lat, lon = points(n_offers)
    # some offers sit exactly on a site
    on_site = rng.random(n_offers) < 0.2
    pick = rng.integers(0, len(site_lat), n_offers)
    lat, lon = np.where(on_site, site_lat[pick], lat), np.where(on_site, site_lon[pick], lon)
    kind = rng.integers(0, 3, n_offers) if seed % 3 else np.zeros(n_offers, np.int64)
    n_legal = 4
    legal = rng.choice(LEGAL_SCORES, size=(n_legal, n_countries), p=[0.4, 0.25, 0.2, 0.1, 0.05])
    legal[0, :] = 0.0  # an offer that can go nowhere
    offers = OfferBlock(
        lat=lat,
        lon=lon,
        max_km=np.array([RESOURCES[k][0] for k in kind]),
        scale_km=np.array([RESOURCES[k][1] for k in kind]),
        legal_row=rng.choice(n_legal, n_offers, p=[0.05, 0.35, 0.3, 0.3]).astype(np.int64),
    )
    n_excluded = int(0.05 * n_offers * n_orgs)
    ex_rows = rng.integers(0, n_offers, n_excluded).astype(np.int64)
    ex_orgs = rng.integers(0, n_orgs, n_excluded).astype(np.int64)
    return offers, receivers, legal, ex_rows, ex_orgs


@pytest.mark.parametrize("seed", range(24))
@pytest.mark.parametrize("top", [1, 3, 10])
def test_rank_prospects_equals_the_per_offer_loop(seed: int, top: int) -> None:
    n_offers, n_orgs, spread = [(40, 150, 0.4), (25, 600, 1.5), (3, 2, 0.2), (30, 900, 0.1)][
        seed % 4
    ]
    offers, receivers, legal, ex_rows, ex_orgs = _case(seed, n_offers, n_orgs, spread)
    ranked = rank_prospects(
        offers, receivers, legal, excluded_rows=ex_rows, excluded_orgs=ex_orgs, top=top
    )
    expected = _brute(
        offers, receivers, legal, set(zip(ex_rows.tolist(), ex_orgs.tolist(), strict=True)), top
    )
    assert _as_tuples(ranked) == expected  # bit for bit: km, scores, ties and ranks


def test_rank_prospects_breaks_ties_by_organisation_id() -> None:
    """Three organisations on one spot score the same: the lower id ranks first."""
    receivers = Receivers(
        org_id=np.array([7, 9, 30], np.int64),
        fit=np.array([0.8, 0.8, 0.8]),
        site_start=np.array([0, 1, 2, 3], np.int64),
        site_lat=np.full(3, 51.3),
        site_lon=np.full(3, 4.3),
        site_country=np.zeros(3, np.int64),
    )
    offers = OfferBlock(
        lat=np.array([51.9]),
        lon=np.array([4.1]),
        max_km=np.array([500.0]),
        scale_km=np.array([150.0]),
        legal_row=np.zeros(1, np.int64),
    )
    ranked = rank_prospects(
        offers,
        receivers,
        np.ones((1, 1)),
        excluded_rows=np.array([0], np.int64),
        excluded_orgs=np.array([1], np.int64),  # id 9
        top=2,
    )
    assert receivers.org_id[ranked.org].tolist() == [7, 30]
    assert ranked.rank.tolist() == [1, 2]
    assert ranked.score[0] == ranked.score[1]


def test_rank_prospects_uses_the_nearest_site_and_its_country() -> None:
    """The far site would be legally better, but the near one decides (old rule)."""
    receivers = Receivers(
        org_id=np.array([1], np.int64),
        fit=np.array([1.0]),
        site_start=np.array([0, 2], np.int64),
        site_lat=np.array([52.0, 51.0]),
        site_lon=np.array([4.0, 4.0]),
        site_country=np.array([1, 0], np.int64),
    )
    offers = OfferBlock(
        lat=np.array([51.0, 51.0]),
        lon=np.array([4.01, 4.01]),
        max_km=np.array([500.0, 500.0]),
        scale_km=np.array([150.0, 150.0]),
        legal_row=np.array([0, 1], np.int64),
    )
    legal = np.array([[1.0, 0.5], [0.0, 1.0]])  # row 1: prohibited to the near site's country
    ranked = rank_prospects(
        offers,
        receivers,
        legal,
        excluded_rows=np.zeros(0, np.int64),
        excluded_orgs=np.zeros(0, np.int64),
        top=5,
    )
    assert ranked.row.tolist() == [0]
    assert ranked.site.tolist() == [1]
    assert ranked.score[0] == pytest.approx(pair_score(1.0, float(ranked.km[0]), 150.0, 1.0))


def test_rank_prospects_with_nothing_to_rank() -> None:
    empty = Receivers(
        org_id=np.zeros(0, np.int64),
        fit=np.zeros(0),
        site_start=np.zeros(1, np.int64),
        site_lat=np.zeros(0),
        site_lon=np.zeros(0),
        site_country=np.zeros(0, np.int64),
    )
    offers = OfferBlock(
        lat=np.array([51.0]),
        lon=np.array([4.0]),
        max_km=np.array([500.0]),
        scale_km=np.array([150.0]),
        legal_row=np.zeros(1, np.int64),
    )
    none = np.zeros(0, np.int64)
    ranked = rank_prospects(
        offers, empty, np.ones((1, 1)), excluded_rows=none, excluded_orgs=none, top=3
    )
    assert len(ranked.row) == 0
    with pytest.raises(ValueError, match="top"):
        rank_prospects(
            offers, empty, np.ones((1, 1)), excluded_rows=none, excluded_orgs=none, top=0
        )


def test_prospect_scoring_imports_no_django_or_apps() -> None:
    """Pure like pair_context: NumPy, SciPy and harbors.logistics (itself pure) only."""
    tree = ast.parse((ROOT / "matching" / "prospect_scoring.py").read_text(encoding="utf-8"))
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    roots = {m.split(".")[0] for m in modules}
    assert not roots & {"django", "listings", "symbiosis"}
    assert {m for m in modules if m.startswith("harbors")} == {"harbors.logistics"}


def test_rank_prospects_searches_only_near_the_offers() -> None:
    """With many receivers around, the bound keeps the search to a small share of the pairs
    (the point of the exercise: a regression here is a silent return to all pairs)."""
    from matching.prospect_scoring import _Search

    offers, receivers, legal, ex_rows, ex_orgs = _case(3, 200, 3000, 0.6)
    legal[:] = 1.0
    search = _Search(offers, receivers, legal, ex_rows, ex_orgs, 10)
    theta = search.theta()
    rows, _ = search.gather(theta)
    assert np.isfinite(theta).mean() > 0.9
    assert len(rows) < 0.2 * len(offers.lat) * len(receivers.site_lat)
