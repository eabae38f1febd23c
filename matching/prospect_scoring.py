"""Ranking prospects for many offers at once (DESIGN.md, "Matching" -> 5. Prospects).

Pure code: NumPy, SciPy's KD-tree and ``harbors.logistics`` (itself pure, as in
``pair_context``); no Django, no I/O, no clock. ``matching.prospects`` loads the rows, calls
:func:`rank_prospects` once per material and writes what it returns.

The result is the one the scalar rule gives (``combine`` below, and the per-offer loop it
replaced): for each offer, every receiving organisation is scored at its site nearest to the
offer, and the ``top`` best are kept, ordered by (-score, organisation id). Only the way there
is faster:

1. The log of the score is linear in the distance::

       W * log(score) = 0.5 * log(fit) - 0.3 * km / scale + 0.2 * log(legal)

   so an organisation can only beat a known score ``theta`` within a radius of the offer that
   follows from its fit, the best legal score the offer can get, and ``theta``.
2. ``theta`` (a lower bound of each offer's ``top``-th best log score) comes from a few nearest
   organisations of the best-fitting ones (a KD-tree query per fit bucket).
3. Only the sites inside that radius are fetched (a KD-tree ball query per fit bucket), their
   exact road km computed with ``haversine_km_pairs`` (the very operations the per-offer code
   ran, so the km are bit for bit the same), and each organisation keeps its nearest site.
4. The ``top`` best are taken with the same float formula as the scalar rule (``combine``, in
   Python, for the few rows that survive), so scores, ties and ranks are the scalar rule's.

Radii carry a slack of ``EPS_KM`` and bounds a margin of ``KEY_MARGIN``, far above the float
error of the chord and log arithmetic, so no organisation is lost to rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import chain
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from harbors.logistics import EARTH_RADIUS_KM, haversine_km_pairs, unit_vectors

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

ROAD_DETOUR: Final = 1.25  # great-circle km x 1.25 = road km (DESIGN.md, "Logistics")
SECTOR_WEIGHT: Final = 0.5
DISTANCE_WEIGHT: Final = 0.3
LEGAL_WEIGHT: Final = 0.2
TOTAL_WEIGHT: Final = SECTOR_WEIGHT + DISTANCE_WEIGHT + LEGAL_WEIGHT

EPS_KM: Final = 1e-3  # slack on every search radius (1 m; chord rounding is ~1e-9 m)
KEY_MARGIN: Final = 1e-9  # slack on log-score bounds (their float error is ~1e-15)
BUCKET_WIDTH: Final = 0.05  # organisations are searched in buckets of 0.5*log(fit) this wide
PROBE_SLACK: Final = 8  # nearest sites asked for per bucket beyond ``top`` to find theta


def combine(sector: float, distance: float, legal: float) -> float:
    """Weighted geometric mean; any 0 gives 0. The readable specification of the score."""
    if min(sector, distance, legal) <= 0.0:
        return 0.0
    return math.exp(
        (
            SECTOR_WEIGHT * math.log(sector)
            + DISTANCE_WEIGHT * math.log(distance)
            + LEGAL_WEIGHT * math.log(legal)
        )
        / TOTAL_WEIGHT
    )


def pair_score(fit: float, km: float, scale_km: float, legal: float) -> float:
    """The stored score of one organisation for one offer (0 when a component is 0)."""
    return min(combine(fit, math.exp(-km / scale_km), legal), 1.0)


def road_km_pairs(
    lat_a: FloatArray, lon_a: FloatArray, lat_b: FloatArray, lon_b: FloatArray
) -> FloatArray:
    """Road km between A[i] and B[i]: great-circle km times the road detour factor."""
    km: FloatArray = haversine_km_pairs(lat_a, lon_a, lat_b, lon_b) * ROAD_DETOUR
    return km


@dataclass(frozen=True, slots=True)
class Receivers:
    """The organisations that could use one material, each with its sites.

    Organisations are ordered by id, and the sites of organisation ``j`` are
    ``site_start[j]:site_start[j + 1]`` in the caller's order (the first of two equally near
    sites wins). ``site_country`` is a column of the legal-score table.
    """

    org_id: IntArray  # (O,), ascending
    fit: FloatArray  # (O,), in (0, 1]
    site_start: IntArray  # (O + 1,)
    site_lat: FloatArray  # (S,)
    site_lon: FloatArray  # (S,)
    site_country: IntArray  # (S,)


@dataclass(frozen=True, slots=True)
class OfferBlock:
    """Offers of that material. ``legal_row`` is a row of the legal-score table: the score of
    the shipment procedure from the offer to each country."""

    lat: FloatArray  # (T,)
    lon: FloatArray  # (T,)
    max_km: FloatArray  # (T,) beyond this the distance component is 0
    scale_km: FloatArray  # (T,) distance component exp(-km / scale_km)
    legal_row: IntArray  # (T,)


@dataclass(frozen=True, slots=True)
class Ranked:
    """The kept (offer, organisation) pairs, by offer row and then rank."""

    row: IntArray  # offer row in the OfferBlock
    org: IntArray  # organisation position in Receivers
    site: IntArray  # its nearest site (position in Receivers' site arrays)
    km: FloatArray  # road km to that site
    score: FloatArray
    rank: IntArray  # 1..top per offer

    @classmethod
    def empty(cls) -> Ranked:
        i, f = np.zeros(0, np.int64), np.zeros(0, np.float64)
        return cls(i, i, i, f, f, i)


def rank_prospects(
    offers: OfferBlock,
    receivers: Receivers,
    legal_score: FloatArray,
    *,
    excluded_rows: IntArray,
    excluded_orgs: IntArray,
    top: int,
) -> Ranked:
    """The ``top`` best organisations per offer.

    ``legal_score`` is the (legal rows x countries) table of legal component scores.
    ``(excluded_rows[k], excluded_orgs[k])`` are pairs never to propose (the offer's own
    organisation, organisations already matched with it). A pair is kept when the
    organisation's nearest site is within ``max_km`` and the legal score there is above 0.
    """
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    n_rows, n_orgs = len(offers.lat), len(receivers.org_id)
    if n_rows == 0 or n_orgs == 0:
        return Ranked.empty()
    search = _Search(offers, receivers, legal_score, excluded_rows, excluded_orgs, top)
    theta = search.theta()
    rows, sites = search.gather(theta)
    return search.rank(rows, sites, theta)


def _chord(road_km: FloatArray) -> FloatArray:
    """The chord on the unit sphere of a road distance (monotonic; +inf gives the diameter)."""
    angle = np.minimum(road_km / (ROAD_DETOUR * EARTH_RADIUS_KM), math.pi)
    chord: FloatArray = 2.0 * np.sin(angle / 2.0)
    return chord


@dataclass(frozen=True, slots=True)
class _Bucket:
    bias: float  # the best 0.5 * log(fit) of its organisations
    sites: IntArray  # their sites
    tree: cKDTree


class _Search:
    def __init__(
        self,
        offers: OfferBlock,
        receivers: Receivers,
        legal_score: FloatArray,
        excluded_rows: IntArray,
        excluded_orgs: IntArray,
        top: int,
    ) -> None:
        self.offers, self.receivers, self.top = offers, receivers, top
        self.legal = np.asarray(legal_score, dtype=np.float64)
        n_orgs = len(receivers.org_id)
        self.n_orgs = n_orgs
        counts = np.diff(receivers.site_start)
        self.site_org = np.repeat(np.arange(n_orgs, dtype=np.int64), counts)
        self.multi_site = counts > 1
        # An organisation's country, or -1 when its sites lie in several countries.
        first = receivers.site_country[receivers.site_start[:-1]]
        mixed = np.zeros(n_orgs, dtype=bool)
        if self.multi_site.any():
            differs = receivers.site_country != first[self.site_org]
            mixed = np.bincount(self.site_org, weights=differs, minlength=n_orgs) > 0
        self.org_country = np.where(mixed, -1, first)
        self.bias = SECTOR_WEIGHT * np.log(receivers.fit)
        self.per_km = DISTANCE_WEIGHT / offers.scale_km  # (T,)
        with np.errstate(divide="ignore"):
            self.best_legal = LEGAL_WEIGHT * np.log(self.legal[offers.legal_row].max(axis=1))
        self.live = np.isfinite(self.best_legal)  # an offer prohibited everywhere gets none
        self.excluded = np.unique(
            np.asarray(excluded_rows, np.int64) * n_orgs + np.asarray(excluded_orgs, np.int64)
        )
        self.xyz = unit_vectors(offers.lat, offers.lon)
        site_xyz = unit_vectors(receivers.site_lat, receivers.site_lon)
        bucket_of = np.floor(-self.bias / BUCKET_WIDTH).astype(np.int64)
        self.buckets = []
        for bucket in np.unique(bucket_of):  # ascending: best fit first
            members = bucket_of == bucket
            sites = np.flatnonzero(members[self.site_org])
            tree = cKDTree(site_xyz[sites])
            self.buckets.append(_Bucket(float(self.bias[members].max()), sites, tree))

    def _is_excluded(self, rows: IntArray, orgs: IntArray) -> npt.NDArray[np.bool_]:
        if not len(self.excluded):
            return np.zeros(len(rows), dtype=bool)
        codes = rows * self.n_orgs + orgs
        at = np.minimum(np.searchsorted(self.excluded, codes), len(self.excluded) - 1)
        found: npt.NDArray[np.bool_] = self.excluded[at] == codes
        return found

    def _km(self, rows: IntArray, sites: IntArray) -> FloatArray:
        o, r = self.offers, self.receivers
        return road_km_pairs(o.lat[rows], o.lon[rows], r.site_lat[sites], r.site_lon[sites])

    def theta(self) -> FloatArray:
        """Per offer, a lower bound of its ``top``-th best log score (-inf: none known).

        Buckets are probed, best fit first, with the nearest sites, until ``top`` distinct
        eligible organisations are known. Only organisations in one country count (their legal
        score does not depend on which site is the nearest)."""
        n_rows, top = len(self.offers.lat), self.top
        theta = np.full(n_rows, -np.inf)
        found_rows: list[IntArray] = []
        found_keys: list[FloatArray] = []
        for bucket in self.buckets:
            rows = np.flatnonzero(self.live & ~np.isfinite(theta))
            if not len(rows):
                break
            k = min(top + PROBE_SLACK, len(bucket.sites))
            bound = _chord(np.array([self.offers.max_km[rows].max() + EPS_KM]))[0]
            _, nearest = bucket.tree.query(self.xyz[rows], k=k, distance_upper_bound=bound)
            nearest = nearest.reshape(len(rows), k)
            hit = nearest < len(bucket.sites)
            r = np.repeat(rows, k).reshape(len(rows), k)[hit]
            s = bucket.sites[nearest[hit]]
            j = self.site_org[s]
            country = self.org_country[j]
            km = self._km(r, s)
            legal = self.legal[self.offers.legal_row[r], np.maximum(country, 0)]
            ok = (
                (country >= 0)
                & (km <= self.offers.max_km[r])
                & (legal > 0.0)
                & ~self._is_excluded(r, j)
            )
            r, j, km, legal = r[ok], j[ok], km[ok], legal[ok]
            with np.errstate(divide="ignore"):
                key = (self.bias[j] - self.per_km[r] * km + LEGAL_WEIGHT * np.log(legal)) / (
                    TOTAL_WEIGHT
                ) - KEY_MARGIN
            # one entry per (offer, organisation): its best (nearest) site
            order = np.lexsort((-key, j, r))
            r, j, key = r[order], j[order], key[order]
            first = _run_starts(r, j)
            found_rows.append(r[first])
            found_keys.append(key[first])
            theta = _nth_best(np.concatenate(found_rows), np.concatenate(found_keys), top, n_rows)
        return theta

    def gather(self, theta: FloatArray) -> tuple[IntArray, IntArray]:
        """Every (offer, site) pair that could reach ``theta``: within the offer's maximum
        distance, and within the radius where the bucket's best fit and the offer's best
        legal score still reach ``theta``."""
        all_rows: list[IntArray] = []
        all_sites: list[IntArray] = []
        max_km = self.offers.max_km
        for bucket in self.buckets:
            with np.errstate(invalid="ignore"):
                reach = (
                    bucket.bias + self.best_legal - TOTAL_WEIGHT * theta
                ) / self.per_km + EPS_KM
            radius = np.where(np.isfinite(theta), np.minimum(reach, max_km + EPS_KM), max_km)
            rows = np.flatnonzero(self.live & (radius >= 0.0))
            if not len(rows):
                continue
            found = bucket.tree.query_ball_point(
                self.xyz[rows], _chord(radius[rows] + EPS_KM), return_sorted=False
            )
            lengths = np.fromiter((len(f) for f in found), dtype=np.int64, count=len(found))
            flat = np.fromiter(chain.from_iterable(found), dtype=np.int64, count=lengths.sum())
            all_rows.append(np.repeat(rows, lengths))
            all_sites.append(bucket.sites[flat])
        if not all_rows:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(all_rows), np.concatenate(all_sites)

    def rank(self, rows: IntArray, sites: IntArray, theta: FloatArray) -> Ranked:
        offers, receivers, top = self.offers, self.receivers, self.top
        orgs = self.site_org[sites]
        km = self._km(rows, sites)
        # An organisation with several sites is scored at the nearest (the first on a tie).
        multi = self.multi_site[orgs]
        if multi.any():
            m = np.flatnonzero(multi)
            order = m[np.lexsort((sites[m], km[m], orgs[m], rows[m]))]
            keep = np.concatenate(
                [np.flatnonzero(~multi), order[_run_starts(rows[order], orgs[order])]]
            )
            rows, sites, orgs, km = rows[keep], sites[keep], orgs[keep], km[keep]
        legal = self.legal[offers.legal_row[rows], receivers.site_country[sites]]
        ok = (km <= offers.max_km[rows]) & (legal > 0.0) & ~self._is_excluded(rows, orgs)
        rows, sites, orgs, km, legal = rows[ok], sites[ok], orgs[ok], km[ok], legal[ok]
        key = (
            self.bias[orgs] - self.per_km[rows] * km + LEGAL_WEIGHT * np.log(legal)
        ) / TOTAL_WEIGHT
        near = key >= theta[rows] - KEY_MARGIN
        rows, sites, orgs, km, legal, key = (a[near] for a in (rows, sites, orgs, km, legal, key))
        # Per offer, everything within KEY_MARGIN of its top-th best goes to the exact rule.
        nth = _nth_best(rows, key, top, len(offers.lat))
        close = key >= nth[rows] - KEY_MARGIN
        rows, sites, orgs, km, legal = (a[close] for a in (rows, sites, orgs, km, legal))
        # The scalar rule on the few pairs left: exact scores, ranked by (-score, id).
        score = np.fromiter(
            map(
                pair_score,
                receivers.fit[orgs].tolist(),
                km.tolist(),
                offers.scale_km[rows].tolist(),
                legal.tolist(),
            ),
            dtype=np.float64,
            count=len(rows),
        )
        order = np.lexsort((receivers.org_id[orgs], -score, rows))
        order = order[score[order] > 0.0]
        rows = rows[order]
        starts = np.flatnonzero(_run_starts(rows, rows))
        rank = np.arange(len(rows)) - np.repeat(starts, np.diff(np.r_[starts, len(rows)])) + 1
        kept = order[rank <= top]
        return Ranked(
            row=rows[rank <= top],
            org=orgs[kept],
            site=sites[kept],
            km=km[kept],
            score=score[kept],
            rank=rank[rank <= top].astype(np.int64),
        )


def _run_starts(a: IntArray, b: IntArray) -> npt.NDArray[np.bool_]:
    """True at the first element of each run of equal (a, b) pairs."""
    first = np.ones(len(a), dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    return first


def _nth_best(rows: IntArray, keys: FloatArray, n: int, n_rows: int) -> FloatArray:
    """Per row, the n-th largest key (-inf where a row has fewer than n)."""
    nth = np.full(n_rows, -np.inf)
    if not len(rows):
        return nth
    order = np.lexsort((-keys, rows))
    r, k = rows[order], keys[order]
    starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
    counts = np.diff(np.r_[starts, len(r)])
    enough = counts >= n
    nth[r[starts[enough]]] = k[starts[enough] + n - 1]
    return nth
