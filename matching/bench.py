"""Benchmarks of matching on generated NWE-shaped data in the database (``manage.py
bench_matching``; DESIGN.md "Performance targets").

The data follow ``matching.synthetic``: the same streams (material mix, List of Waste codes,
lognormal quantities around each stream's median) and sites clustered around the same 26
ports, with titles and descriptions written from the thesaurus's own names so that concepts and
text similarity do real work. Every description carries a lot number, so no two texts are the
same (the text cache gets no help from repeats). Rows go in by COPY.

Three measurements, through the code that production runs:

* ``incremental``: ``matches_refresh_for_listing`` for one new offer against N demands, end to
  end (the listing's read, the cache sync, the engine, explanations and the write), after a
  warm-up call that builds the demand index (timed on its own).
* ``full_rematch``: ``matching_run_start`` and ``matching_run_chunk_process`` in a pool of
  worker processes (forked, each with its own database connection and its own index, as Celery
  prefork workers have), with the summed resident memory of the workers sampled every 0.1 s.
* ``naive``: an ORM loop over offer × demand model objects, each pair scored with
  ``score_pair`` after its route, legal procedure and text similarity are computed one by one.

This module inserts and deletes rows: only ever point it at a benchmark database.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import platform
import re
import secrets
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

import numpy as np
from django.db import connection, connections, transaction
from django.db.models import Model
from django.utils import timezone

from listings.models import Demand, ListingStatus, MaterialCategory, Offer, Organization, Site

from .synthetic import PORTS, SPREAD_KM, STREAMS

# Per synthetic stream (same order as STREAMS): the taxonomy leaf and the names people use.
STREAM_TEXT: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("fly-ash", ("fly ash", "PFA", "pulverised fuel ash", "biomass fly ash", "coal fly ash")),
    ("bottom-ash", ("bottom ash", "IBA", "incinerator bottom ash", "boiler ash", "grate ash")),
    ("steel-slag", ("steel slag", "BOF slag", "EAF slag", "ladle slag", "steelworks slag")),
    ("fgd-gypsum", ("FGD gypsum", "desulphogypsum", "flue gas desulphurisation gypsum")),
    ("food-residues", ("spent grain", "brewers' grains", "vegetable waste", "potato peel", "whey")),
    ("wood-chips", ("wood chips", "sawdust", "waste wood", "bark", "wood shavings")),
    ("paper-sludge", ("paper sludge", "deinking sludge", "paper mill sludge", "pulper rejects")),
    ("plastic-scrap", ("plastic scrap", "PE film", "PET flakes", "post-industrial plastic")),
    ("ferrous-scrap", ("steel scrap", "ferrous scrap", "metal turnings", "iron scrap")),
    ("aluminium-scrap", ("aluminium scrap", "copper scrap", "cable scrap", "alu scrap")),
    ("solvents", ("spent solvents", "waste solvents", "solvent mixtures", "used solvents")),
    ("concrete-rubble", ("concrete rubble", "crushed concrete", "recycled concrete aggregate")),
    ("sewage-sludge", ("sewage sludge", "biosolids", "WWTP sludge", "municipal sludge")),
    ("glass-cullet", ("glass cullet", "broken glass", "container glass", "cullet")),
    ("used-cooking-oil", ("used cooking oil", "UCO", "waste cooking oil")),
    ("spent-catalyst", ("spent catalyst", "FCC fines", "spent FCC catalyst", "used catalyst")),
    ("steam", ("steam", "process steam", "surplus steam", "waste heat")),
    ("hot-water", ("hot water", "district heat", "waste heat", "residual heat")),
    ("cooling-water", ("cooling water", "process water", "demin water", "industrial water")),
    ("treated-wastewater", ("treated effluent", "treated wastewater", "reclaimed water")),
)
PORT_COUNTRY: Final = (
    "NL", "BE", "BE", "BE", "NL", "NL", "NL", "NL", "FR", "FR", "FR", "FR", "DE", "DE", "DE",
    "DE", "DE", "BE", "LU", "CH", "IE", "IE", "GB", "GB", "GB", "DK",
)  # fmt: skip
QUALIFIERS: Final = ("", " (dry)", ", bulk", " from production", ", surplus", ", sieved", " lots")
ADJECTIVES: Final = ("Clean", "Mixed", "Sorted", "Dry", "Moist", "Screened", "Consistent")
FORMS: Final = ("in bulk", "in big bags", "stored in a silo", "on site", "by truck", "by barge")
WASTE_STATUS: Final = ("waste", "by_product", "end_of_waste", "product", "unknown")
WASTE_STATUS_P: Final = (0.5, 0.2, 0.05, 0.05, 0.2)
OPERATIONS: Final = ("R1", "R3", "R4", "R5", "R10", "R12")
LISTINGS_PER_ORGANIZATION: Final = 4
TODAY: Final = date(2026, 6, 1)


# --------------------------------------------------------------------------------------------
# Generating and inserting the data
# --------------------------------------------------------------------------------------------


def _copy(model: type[Model], columns: dict[str, Sequence[Any]], n: int) -> None:
    """COPY ``n`` rows into ``model``'s table; fields not given get their Python default."""
    now = timezone.now()
    fields = [f for f in model._meta.concrete_fields if f.column not in columns]
    names = list(columns)
    data: list[Sequence[Any]] = [columns[c] for c in names]
    for f in fields:
        if f.primary_key:
            continue
        names.append(f.column)
        if f.name in ("created_at", "updated_at"):
            data.append([now] * n)
        elif f.has_default() and callable(f.default):
            data.append([f.get_default() for _ in range(n)])
        else:
            value = f.get_db_prep_save(f.get_default(), connection)
            data.append([value] * n)
    table = connection.ops.quote_name(model._meta.db_table)
    columns_sql = ", ".join(connection.ops.quote_name(c) for c in names)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({columns_sql}) FROM STDIN") as copy,
    ):
        for row in zip(*data, strict=True):
            copy.write_row(row)


def _next_ids(model: type[Model], n: int) -> np.ndarray:
    """``n`` fresh primary keys (the sequence is moved past them)."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")  # noqa: S608 (our table)
        start = int(cursor.fetchone()[0]) + 1
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, start + n - 1]
        )
    return np.arange(start, start + n, dtype=np.int64)


def _jitter(rng: np.random.Generator, n: int, lat0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dlat = rng.normal(0.0, SPREAD_KM / 111.2, n)
    dlon = rng.normal(0.0, SPREAD_KM / 111.2, n) / np.cos(np.radians(lat0))
    return dlat, dlon


def _sectors(rng: np.random.Generator, n: int) -> list[int | None]:
    """A NACE class for each organisation (as ids of ``NaceCode``), so that prospects have
    sectors to rank: two in three from the classes the sector-knowledge table names as
    receivers, the rest from every class; one in twenty without a code."""
    from listings.models import NaceCode

    from .sector_knowledge import default_index

    classes = dict(
        NaceCode.objects.filter(
            level=NaceCode.Level.CLASS, version=NaceCode.Version.REV2
        ).values_list("code", "id")
    )
    if not classes:
        return [None] * n
    receivers = sorted({row.nace_class for row in default_index().rows} & classes.keys())
    every = sorted(classes)
    pick_receiver = rng.random(n) < 2 / 3
    out: list[int | None] = []
    for n_, receiver in enumerate(pick_receiver.tolist()):
        pool = receivers if receiver and receivers else every
        out.append(classes[pool[int(rng.integers(len(pool)))]] if n_ % 20 else None)
    return out


def insert_organizations(n: int, *, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` organisations with one site each around the ports: (site ids, org ids, port)."""
    rng = np.random.default_rng(seed)
    weights = np.array([p[3] for p in PORTS])
    port = rng.choice(len(PORTS), size=n, p=weights / weights.sum())
    lat0 = np.array([p[1] for p in PORTS])[port]
    lon0 = np.array([p[2] for p in PORTS])[port]
    dlat, dlon = _jitter(rng, n, lat0)
    country = [PORT_COUNTRY[p] for p in port.tolist()]
    org_ids = _next_ids(Organization, n)
    tag = secrets.token_hex(3)
    _copy(
        Organization,
        {
            "id": org_ids.tolist(),
            "name": [f"Bench {tag} organisation {i}" for i in org_ids.tolist()],
            "country_id": country,
            "nace_id": _sectors(rng, n),
        },
        n,
    )
    site_ids = _next_ids(Site, n)
    _copy(
        Site,
        {
            "id": site_ids.tolist(),
            "organization_id": org_ids.tolist(),
            "name": [f"Plant {i}" for i in site_ids.tolist()],
            "country_id": country,
            "lat": np.clip(lat0 + dlat, -90, 90).tolist(),
            "lon": np.clip(lon0 + dlon, -180, 180).tolist(),
        },
        n,
    )
    return site_ids, org_ids, port


@dataclass(slots=True)
class _Listings:
    """Generated listing columns (before insertion)."""

    columns: dict[str, list[Any]]
    accepted_codes: list[tuple[int, str]] = field(default_factory=list)
    accepted_categories: list[tuple[int, int]] = field(default_factory=list)


def _texts(
    rng: np.random.Generator, kinds: np.ndarray, ids: np.ndarray, qty: np.ndarray
) -> tuple[list[str], list[str]]:
    titles, descriptions = [], []
    q = rng.integers(0, len(QUALIFIERS), kinds.size).tolist()
    a = rng.integers(0, len(ADJECTIVES), kinds.size).tolist()
    f = rng.integers(0, len(FORMS), kinds.size).tolist()
    pick = rng.random((kinds.size, 2))
    for n, (kind, pk) in enumerate(zip(kinds.tolist(), ids.tolist(), strict=True)):
        names = STREAM_TEXT[kind][1]
        title = names[int(pick[n, 0] * len(names))]
        other = names[int(pick[n, 1] * len(names))]
        titles.append(f"{title[:1].upper()}{title[1:]}{QUALIFIERS[q[n]]}")
        unit = STREAMS[kind].unit
        descriptions.append(
            f"{ADJECTIVES[a[n]]} {other} {FORMS[f[n]]}. About {qty[n]:.0f} {unit} a year, lot {pk}."
        )
    return titles, descriptions


def _stored_concepts(titles: Sequence[str], descriptions: Sequence[str]) -> dict[str, list[str]]:
    from .selectors import listing_concepts

    stored = [listing_concepts(t, d) for t, d in zip(titles, descriptions, strict=True)]
    return {"concepts": [c for c, _ in stored], "concepts_key": [k for _, k in stored]}


def generate_listings(
    model: type[Offer] | type[Demand],
    n: int,
    *,
    site_ids: np.ndarray,
    org_ids: np.ndarray,
    seed: int,
) -> _Listings:
    """``n`` published listings of NWE-shaped streams on the given sites (one site per row,
    drawn at random)."""
    rng = np.random.default_rng(seed)
    slugs = dict(MaterialCategory.objects.values_list("slug", "id"))
    parents = dict(MaterialCategory.objects.values_list("id", "parent_id"))
    weights = np.array([s.weight for s in STREAMS])
    kinds = rng.choice(len(STREAMS), size=n, p=weights / weights.sum())
    at = rng.integers(0, site_ids.size, n)
    ids = _next_ids(model, n)
    median = np.array([s.median for s in STREAMS])[kinds]
    annual = np.round(median * rng.lognormal(0.0, 1.0, n), 3) + 0.001
    offer = model is Offer
    code_share = 0.9 if offer else 0.4
    codes: list[str | None] = []
    categories: list[int | None] = []
    category_draw = rng.random(n)
    for kind, has, draw in zip(
        kinds.tolist(), rng.random(n).tolist(), category_draw.tolist(), strict=True
    ):
        stream = STREAMS[kind]
        codes.append(str(rng.choice(stream.codes)) if stream.codes and has < code_share else None)
        leaf = slugs[STREAM_TEXT[kind][0]]
        # 60 % the leaf, 20 % its parent, 20 % no category (derived from the code, if any).
        categories.append(leaf if draw < 0.6 else parents[leaf] if draw < 0.8 else None)
    titles, descriptions = _texts(rng, kinds, ids, annual)
    starts: list[date | None] = []
    ends: list[date | None] = []
    for a, b, c, d in zip(
        rng.random(n).tolist(),
        rng.integers(0, 365, n).tolist(),
        rng.random(n).tolist(),
        rng.integers(400, 1500, n).tolist(),
        strict=True,
    ):
        starts.append(TODAY + timedelta(days=b) if offer and a < 0.15 else None)
        ends.append(TODAY + timedelta(days=d) if offer and c < 0.2 else None)
    units = [STREAMS[k].unit for k in kinds.tolist()]
    quantity = [Decimal(f"{q:.3f}") for q in annual.tolist()]
    columns: dict[str, list[Any]] = {
        "id": ids.tolist(),
        "organization_id": org_ids[at].tolist(),
        "site_id": site_ids[at].tolist(),
        "title": titles,
        "description": descriptions,
        # as listings.services stores them: what the matching engine reads
        **_stored_concepts(titles, descriptions),
        "resource_type": [STREAMS[k].resource_type for k in kinds.tolist()],
        "category_id": categories,
        "waste_code_id": codes,
        "quantity": quantity,
        "unit": units,
        "frequency": ["year"] * n,
        "annual_quantity": quantity,
        "available_from": starts,
        "available_until": ends,
        "status": [ListingStatus.PUBLISHED] * n,
        "published_at": [timezone.now()] * n,
    }
    result = _Listings(columns)
    if offer:
        hazard = np.array([s.hazardous for s in STREAMS])[kinds]
        columns["hazardous"] = (rng.random(n) < hazard).tolist()
        columns["waste_status"] = rng.choice(WASTE_STATUS, size=n, p=WASTE_STATUS_P).tolist()
        columns["list_class"] = rng.choice(
            ["green", "amber", ""], size=n, p=[0.4, 0.1, 0.5]
        ).tolist()
        return result
    reach: list[int | None] = []
    for kind, r, u in zip(
        kinds.tolist(), rng.random(n).tolist(), rng.random(n).tolist(), strict=True
    ):
        low, high = {"material": (50, 800), "energy": (3, 20), "water": (20, 100)}[
            STREAMS[kind].resource_type
        ]
        reach.append(round(low + u * (high - low)) if r < 0.2 else None)
    columns["max_distance_km"] = reach
    columns["quantity_min"] = [
        Decimal(f"{float(q) * 0.1:.3f}") if r < 0.3 else None
        for q, r in zip(quantity, rng.random(n).tolist(), strict=True)
    ]
    columns["accepts_hazardous"] = (rng.random(n) < 0.3).tolist()
    columns["has_permit"] = (rng.random(n) < 0.5).tolist()
    material = np.array([STREAMS[k].resource_type == "material" for k in kinds.tolist()])
    operation = rng.choice(OPERATIONS, size=n).astype(object)
    operation[~material | (rng.random(n) < 0.3)] = None
    columns["operation_id"] = operation.tolist()
    for pk, kind, draw, size, cat in zip(
        ids.tolist(),
        kinds.tolist(),
        rng.random(n).tolist(),
        rng.integers(1, 5, n).tolist(),
        rng.random(n).tolist(),
        strict=True,
    ):
        stream = STREAMS[kind]
        if stream.codes and draw < 0.6:
            chosen = stream.codes[: min(size, len(stream.codes))]
            result.accepted_codes.extend((pk, c) for c in chosen)
        if cat < 0.3:
            leaf = slugs[STREAM_TEXT[kind][0]]
            result.accepted_categories.append((pk, parents[leaf] or leaf))
    return result


def insert_listings(
    model: type[Offer] | type[Demand], n: int, *, seed: int, organizations: int | None = None
) -> np.ndarray:
    """Insert ``n`` published listings (and their organisations and sites); their ids."""
    orgs = organizations or max(1, n // LISTINGS_PER_ORGANIZATION)
    site_ids, org_ids, _ = insert_organizations(orgs, seed=seed + 1)
    generated = generate_listings(model, n, site_ids=site_ids, org_ids=org_ids, seed=seed)
    _copy(model, generated.columns, n)
    if model is Demand:
        codes = Demand.accepted_codes.through
        _copy(
            codes,
            {
                "demand_id": [d for d, _ in generated.accepted_codes],
                "wastecode_id": [c for _, c in generated.accepted_codes],
            },
            len(generated.accepted_codes),
        )
        categories = Demand.accepted_categories.through
        _copy(
            categories,
            {
                "demand_id": [d for d, _ in generated.accepted_categories],
                "materialcategory_id": [c for _, c in generated.accepted_categories],
            },
            len(generated.accepted_categories),
        )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {model._meta.db_table}")
    return np.asarray(generated.columns["id"], dtype=np.int64)


def reset_database() -> None:
    """Empty the tables the benchmark fills (never the reference data)."""
    tables = [
        "matching_matchingrunchunk",
        "matching_matchingrun",
        "matching_matchevent",
        "matching_match",
        "matching_prospect",
        Demand.accepted_codes.through._meta.db_table,
        Demand.accepted_categories.through._meta.db_table,
        Offer._meta.db_table,
        Demand._meta.db_table,
        Site._meta.db_table,
        Organization._meta.db_table,
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")


def settle() -> None:
    """Let the database finish what the inserts and the previous run left it to do (their
    tables' first vacuum, the write-back of their pages), as a database in service has long
    done before a full rematch, so that the rematch is not measured against it: a cold run
    started right after 100,000 offers were inserted took 59.9 s, and 46.4 s on the same
    data once settled (this machine, 3 December 2026)."""
    if connection.in_atomic_block:
        raise RuntimeError("VACUUM cannot run inside a transaction")
    tables = [
        Offer._meta.db_table,
        Demand._meta.db_table,
        Demand.accepted_codes.through._meta.db_table,
        Demand.accepted_categories.through._meta.db_table,
        Site._meta.db_table,
        Organization._meta.db_table,
        "matching_match",
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")
        cursor.execute("CHECKPOINT")  # the benchmark's role is the database's superuser


def count(model: type[Model]) -> int:
    return model.objects.filter(status=ListingStatus.PUBLISHED).count()


# --------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Incremental:
    opposite: int
    build_seconds: float
    warmup_seconds: float
    samples: list[float]
    written: list[int]
    full_check_seconds: float

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.samples, q)) * 1000.0


def _sample_offer(rng: np.random.Generator, site: Site) -> Offer:
    kind = int(
        rng.choice(
            len(STREAMS), p=np.array([s.weight for s in STREAMS]) / sum(s.weight for s in STREAMS)
        )
    )
    stream = STREAMS[kind]
    names = STREAM_TEXT[kind][1]
    title = str(rng.choice(names))
    qty = Decimal(f"{stream.median * rng.lognormal(0.0, 1.0):.3f}")
    category = (
        MaterialCategory.objects.filter(slug=STREAM_TEXT[kind][0])
        .values_list("id", flat=True)
        .first()
    )
    return Offer.objects.create(
        organization_id=site.organization_id,
        site=site,
        title=f"{title[:1].upper()}{title[1:]}",
        description=f"{ADJECTIVES[0]} {rng.choice(names)} {FORMS[0]}, bench sample",
        resource_type=stream.resource_type,
        category_id=category,
        waste_code_id=str(rng.choice(stream.codes)) if stream.codes else None,
        quantity=qty,
        unit=stream.unit,
        frequency="year",
        annual_quantity=qty,
        status=ListingStatus.PUBLISHED,
        published_at=timezone.now(),
        waste_status="waste",
    )


def incremental(*, samples: int, seed: int) -> Incremental:
    """``matches_refresh_for_listing`` for ``samples`` new offers, one at a time, after a
    warm-up that builds the demand index. The offers are deleted afterwards."""
    from .candidates import caches_clear, side_cache
    from .models import Match
    from .services import matches_refresh_for_listing

    rng = np.random.default_rng(seed)
    caches_clear()
    sites = list(Site.objects.order_by("?")[: samples + 1])
    created: list[int] = []
    try:
        warm = _sample_offer(rng, sites[0])
        created.append(warm.pk)
        started = time.perf_counter()
        matches_refresh_for_listing(kind="offer", listing_id=warm.pk, version=warm.version)
        warmup = time.perf_counter() - started
        cache = side_cache("demand")
        build = cache.build_seconds
        timings: list[float] = []
        written: list[int] = []
        for site in sites[1 : samples + 1]:
            offer = _sample_offer(rng, site)
            created.append(offer.pk)
            started = time.perf_counter()
            written.append(
                matches_refresh_for_listing(
                    kind="offer", listing_id=offer.pk, version=offer.version
                )
            )
            timings.append(time.perf_counter() - started)
        started = time.perf_counter()
        cache._full_check(_router())
        full_check = time.perf_counter() - started
    finally:
        Match.objects.filter(offer_id__in=created).delete()
        Offer.objects.filter(pk__in=created).delete()
    return Incremental(count(Demand), build, warmup, timings, written, full_check)


def _router() -> Any:
    from .selectors import router_get

    return router_get()


@dataclass(slots=True)
class FullRematch:
    offers: int
    demands: int
    workers: int
    chunks: int
    chunk_size: int
    chunks_seconds: float  # start → every chunk done
    matches_seconds: float  # start → run done: the run table swapped in
    prospects_seconds: float  # then the prospects of every chunk's range, in the same workers
    peak_rss_bytes: int  # summed over the worker processes, sampled every 0.1 s, to the swap
    peak_pss_bytes: int  # the same, shared pages divided among the processes sharing them
    peak_total_pss_bytes: int  # the workers' and the process that forked them, summed
    prospects_peak_pss_bytes: int  # the workers' summed PSS while they refresh the prospects
    matches: int
    written: int
    index: str  # one of INDEX_MODES

    @property
    def pairs_per_second(self) -> float:
        return self.offers * self.demands / self.matches_seconds


def _memory(pid: int, field: str = "VmRSS:", path: str = "status") -> int:
    """A /proc memory figure of a process, in bytes (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/{path}", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


def _rss(pid: int) -> int:
    return _memory(pid)


def _pss(pid: int) -> int:
    """Proportional set size: shared pages divided among the processes that share them."""
    return _memory(pid, "Pss:", "smaps_rollup")


def _worker(run_id: int, queue: Any) -> None:
    """A worker process: chunks of the run (an int), then prospects ranges (a pair), as the
    Celery tasks would run them; None ends it."""
    from django.db import connections as worker_connections

    from .prospects import prospects_refresh_for_offer_range
    from .services import matching_run_chunk_process

    for conn in worker_connections.all():
        conn.close()  # the parent's socket is not ours: open our own
    while True:
        job = queue.get()
        if job is None:
            break
        if isinstance(job, int):
            matching_run_chunk_process(run_id=run_id, chunk_index=job)
        else:
            prospects_refresh_for_offer_range(first_offer_id=job[0], last_offer_id=job[1])
    for conn in worker_connections.all():
        conn.close()


def isolate() -> None:
    """What the benchmark's processes change in the settings: tasks the services queue on
    commit (prospects) are not part of the measurement, and must not land on a shared queue;
    the index's periodic full check is measured on its own."""
    from django.conf import settings

    from symbiosis.celery import app

    app.conf.broker_url = "memory://"
    settings.MATCHING_INDEX_FULL_CHECK_SECONDS = 3600.0


def worker_parent(run_jobs: Any, events: Any, *, workers: int, index: str) -> None:
    """The workers' parent, as a Celery worker's main process (``bench_parent.main``, spawned):
    imports the engine and builds the demand index unless ``index`` is "cold" (before it says
    it is ready if "prewarmed" or "cold", where it builds no index; after it is given the run
    if "fresh"), forks the workers, tells their pids and waits for them."""
    from .services import matching_worker_prepare

    isolate()
    if index != "fresh":  # cold: as with MATCHING_WORKER_PREPARE off, the engine but no index
        matching_worker_prepare(build_index=index == "prewarmed")
    events.put("ready")
    run_id = run_jobs.get()
    if index == "fresh":
        matching_worker_prepare()
    connections.close_all()
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_worker, args=(run_id, run_jobs)) for _ in range(workers)]
    for process in processes:
        process.start()
    events.put([p.pid for p in processes])
    for process in processes:
        process.join()


class _Sampler:
    """Peak summed memory of the worker processes: the resident set every 0.1 s, the
    proportional set (costly to read: the kernel walks the page tables) every 0.5 s, also with
    their parent's (a Celery worker's main process holds its share of the pages they share:
    the libraries and, if it built it, the demand index)."""

    def __init__(self, parent: int, workers: Sequence[int]) -> None:
        self.parent, self.workers = parent, workers
        self.rss = self.pss = self.total = 0
        self.calls = 0

    def sample(self) -> None:
        rss = sum(_rss(pid) for pid in self.workers)
        if self.calls % 5 == 0:
            workers = sum(_pss(pid) for pid in self.workers)
            self.pss = max(self.pss, workers)
            self.total = max(self.total, workers + _pss(self.parent))
        self.rss = max(self.rss, rss)
        self.calls += 1

    def restart(self) -> tuple[int, int, int]:
        """The peaks (workers' RSS, workers' PSS, with their parent's PSS) so far; the next
        peaks count from now."""
        peaks = (self.rss, self.pss, self.total)
        self.rss = self.pss = self.total = 0
        return peaks


# Where the workers' demand index comes from: each builds its own on its first chunk (a worker
# started with MATCHING_WORKER_PREPARE off, or after the index outgrew its changes); their
# parent builds it before forking them, as a Celery worker just started does, within the time
# measured; or it was built before (a worker that has been up).
INDEX_MODES = {
    "cold": "cold: each worker builds it, empty table",
    "fresh": "built by the parent (timed), table full",
    "prewarmed": "prewarmed by the parent, table full",
}


def full_rematch(*, workers: int, index: str) -> FullRematch:
    """A full rematch through the chunk service in ``workers`` processes forked by a parent
    spawned for them (``worker_parent``), then the prospects refresh of every chunk's offer
    range in the same processes. ``index``: one of ``INDEX_MODES``; a cold run starts from an
    empty match table."""
    from . import bench_parent
    from .models import Match, MatchingRun
    from .services import matching_run_start

    if index == "cold":
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE matching_match, matching_matchevent, matching_prospect")
    settle()
    spawn = multiprocessing.get_context("spawn")
    run_jobs: Any = spawn.Queue()
    events: Any = spawn.Queue()
    parent = spawn.Process(
        target=bench_parent.main,
        args=(run_jobs, events),
        kwargs={"workers": workers, "index": index},
    )
    parent.start()
    if events.get(timeout=600) != "ready":
        raise RuntimeError("the workers' parent did not start")
    started = time.perf_counter()
    run = matching_run_start(enqueue=False)
    ranges = list(run.chunks.order_by("index").values_list("first_offer_id", "last_offer_id"))
    run_jobs.put(run.pk)
    for chunk in range(run.total_chunks):
        run_jobs.put(chunk)
    pids: list[int] = events.get(timeout=600)
    sampler = _Sampler(parent.pid or 0, pids)
    chunks_done: float | None = None
    while True:
        sampler.sample()
        run.refresh_from_db(fields=["done_chunks", "status"])
        if chunks_done is None and run.done_chunks >= run.total_chunks:
            chunks_done = time.perf_counter() - started
        if run.status != MatchingRun.Status.RUNNING:
            break
        if not parent.is_alive() or not any(_rss(pid) for pid in pids):
            raise RuntimeError(f"the workers stopped before run {run.pk} was done")
        time.sleep(0.1)
    matches_done = time.perf_counter() - started
    rematch_rss, rematch_pss, rematch_total = sampler.restart()  # the full rematch's own peak
    if run.status != MatchingRun.Status.DONE:
        raise RuntimeError(f"run {run.pk} ended {run.status}")
    for first, last in ranges:  # what the run queued on commit, to the same workers
        run_jobs.put((first, last))
    for _ in range(workers):
        run_jobs.put(None)
    while parent.is_alive():
        sampler.sample()
        time.sleep(0.1)
    parent.join()
    prospects = time.perf_counter() - started - matches_done
    run.refresh_from_db()
    return FullRematch(
        offers=count(Offer),
        demands=count(Demand),
        workers=workers,
        chunks=run.total_chunks,
        chunk_size=(ranges[0][1] - ranges[0][0] + 1) if ranges else 0,
        chunks_seconds=chunks_done or matches_done,
        matches_seconds=matches_done,
        prospects_seconds=prospects,
        peak_rss_bytes=rematch_rss,
        peak_pss_bytes=rematch_pss,
        peak_total_pss_bytes=rematch_total,
        prospects_peak_pss_bytes=sampler.pss,
        matches=Match.objects.count(),
        written=run.matches_written,
        index=index,
    )


@dataclass(slots=True)
class Naive:
    offers: int
    demands: int
    seconds: float
    kept: int

    @property
    def pairs_per_second(self) -> float:
        return self.offers * self.demands / self.seconds


def naive(*, offers: int, demands: int, seed: int) -> Naive:
    """Every offer × demand pair through the ORM and ``score_pair``, one at a time: model
    objects, the route, the legal procedure and the text similarity of each pair."""
    from django.conf import settings

    from .pair_context import DemandLegal, LegalOracle, OfferLegal
    from .scoring import DemandProfile, OfferProfile, PairContext, score_pair
    from .selectors import category_table
    from .text import TextSimilarity, Thesaurus

    started = time.perf_counter()
    today = timezone.localdate()
    router = _router()
    oracle = LegalOracle(shipment_date=today)
    text = TextSimilarity.default()
    thesaurus = Thesaurus.default()
    categories = category_table()
    offer_objects = list(
        Offer.objects.filter(status=ListingStatus.PUBLISHED)
        .select_related("site", "waste_code")
        .order_by("?")[:offers]
    )
    demand_objects = list(
        Demand.objects.filter(status=ListingStatus.PUBLISHED)
        .select_related("site")
        .prefetch_related("accepted_codes", "accepted_categories")
        .order_by("?")[:demands]
    )
    from listings.units import base_unit

    kept = 0
    for o in offer_objects:
        o_text = f"{o.title}. {o.description}"
        offer = OfferProfile(
            id=o.pk,
            resource_type=o.resource_type,
            low_code=o.waste_code_id or "",
            category_path=categories.path_for(o.category_id, o.waste_code_id or ""),
            concepts=thesaurus.concepts_in(o_text),
            annual_quantity=float(o.annual_quantity),
            base_unit=base_unit(o.unit),
            lat=o.site.lat,
            lon=o.site.lon,
            available_from=o.available_from,
            available_until=o.available_until,
            hazardous=o.hazardous,
        )
        offer_legal = OfferLegal(
            country=o.site.country_id,
            waste_status=o.waste_status,
            evidence=o.status_evidence,
            low_code=o.waste_code_id or "",
            hazardous=o.hazardous,
            mirror=bool(o.waste_code and o.waste_code.mirror),
            list_class=o.list_class,
            resource_type=o.resource_type,
        )
        for d in demand_objects:
            d_text = f"{d.title}. {d.description}"
            demand = DemandProfile(
                id=d.pk,
                resource_type=d.resource_type,
                low_code=d.waste_code_id or "",
                category_path=categories.path_for(d.category_id, d.waste_code_id or ""),
                concepts=thesaurus.concepts_in(d_text),
                annual_quantity=float(d.annual_quantity),
                base_unit=base_unit(d.unit),
                lat=d.site.lat,
                lon=d.site.lon,
                accepted_codes=frozenset(c.pk for c in d.accepted_codes.all()),
                accepted_categories=frozenset(c.slug for c in d.accepted_categories.all()),
                max_distance_km=float(d.max_distance_km) if d.max_distance_km else None,
                accepts_hazardous=d.accepts_hazardous,
                has_permit=d.has_permit,
            )
            route = router.best_route(o.site.lat, o.site.lon, d.site.lat, d.site.lon)
            legal = oracle.outcome(
                offer_legal, DemandLegal(country=d.site.country_id, operation=d.operation_id or "")
            )
            ctx = PairContext(
                distance_km=route.km,
                transport_mode=str(route.mode),
                legal_score=legal.score,
                legal_label=legal.label,
                text_similarity=text.similarity(o_text, d_text),
            )
            result = score_pair(offer, demand, ctx, today=today)
            kept += result.score >= settings.MATCHING_MIN_SCORE
    return Naive(len(offer_objects), len(demand_objects), time.perf_counter() - started, kept)


# --------------------------------------------------------------------------------------------
# The machine and the report
# --------------------------------------------------------------------------------------------


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout  # noqa: S607
        found = re.search(r"Model name:\s*(.+)", lscpu)
        if found:
            model = found.group(1).strip()
    except OSError:
        pass
    cores = os.cpu_count() or 0
    with open("/proc/meminfo", encoding="ascii") as handle:
        total_kb = int(handle.readline().split()[1])
    return (
        f"{model}, {cores} cores, {total_kb / 1024 / 1024:.0f} GB RAM, PostgreSQL {_pg_version()}"
    )


def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def _pg_version() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return str(cursor.fetchone()[0]).split()[0]


def _gb(value: int) -> str:
    return f"{value / 1024**3:.2f} GB"


def _median_seconds(runs: Sequence[FullRematch]) -> float:
    return float(np.median([r.matches_seconds for r in runs]))


def report(
    *,
    command: str,
    incrementals: Sequence[Incremental],
    skipped: Sequence[str],
    full: Sequence[FullRematch],
    baseline: Naive | None,
    notes: Sequence[str],
    started: datetime,
) -> str:
    """The markdown between the bench_matching markers."""
    out = io.StringIO()
    w: Callable[[str], int] = out.write
    w(f"Measured {started:%Y-%m-%d %H:%M} UTC on {machine()}.\n\n")
    w(f"Load average during the run (1/5/15 min, at the end): {_load()}; ")
    w("the benchmark's own processes count in it (two workers on two cores make 2); more ")
    w("means other jobs shared the machine, and the times are pessimistic.\n\n")
    w(f"Command: `{command}`\n\n")
    if incrementals or skipped:
        w("**Incremental** (one new offer against N published demands, ")
        w("`matches_refresh_for_listing` end to end including the database write):\n\n")
        w("| demands | index build (warm-up) | p50 | p95 | max | matches written ")
        w("| periodic full check |\n")
        w("|---|---|---|---|---|---|---|\n")
        for r in incrementals:
            w(
                f"| {r.opposite:,} | {r.build_seconds:.1f} s ({r.warmup_seconds:.1f} s) "
                f"| {r.percentile(50):.1f} ms | {r.percentile(95):.1f} ms "
                f"| {max(r.samples) * 1000:.1f} ms | {np.mean(r.written):.1f} per offer "
                f"| {r.full_check_seconds * 1000:.0f} ms |\n"
            )
        for line in skipped:
            w(f"| {line} |\n")
        w(f"\n{len(incrementals[0].samples) if incrementals else 0} samples per size, each a new ")
        w("offer of a random stream at a random site. The index build is the first call of a ")
        w("process; the periodic full check (every `MATCHING_INDEX_FULL_CHECK_SECONDS`) is ")
        w("paid by one call a minute.\n\n")
    if full:
        w("**Full rematch** (`matching_run_start` + `matching_run_chunk_process` in forked ")
        w("worker processes, each with its own database connection; the last chunk swaps the ")
        w("run table in; then the prospects of each chunk's offers, as the run queues them):\n\n")
        w("| offers × demands | workers | chunks | index | chunks done | matches live ")
        w("| prospects after | peak memory (workers; with their parent) | pairs/s ")
        w("| rows written |\n")
        w("|---|---|---|---|---|---|---|---|---|---|\n")
        for r in full:
            w(
                f"| {r.offers:,} × {r.demands:,} | {r.workers} | {r.chunks} × {r.chunk_size:,} "
                f"| {INDEX_MODES[r.index]} "
                f"| {r.chunks_seconds:.1f} s | **{r.matches_seconds:.1f} s** "
                f"| +{r.prospects_seconds:.1f} s ({_gb(r.prospects_peak_pss_bytes)} PSS) "
                f"| {_gb(r.peak_pss_bytes)} PSS, {_gb(r.peak_rss_bytes)} RSS; "
                f"{_gb(r.peak_total_pss_bytes)} PSS "
                f"| {r.pairs_per_second:,.0f} | {r.written:,} of {r.matches:,} |\n"
            )
        w("\n*Matches live* is the full rematch: from the start until every match of the run is ")
        w("in the live table (the swap done). pairs/s = offers × demands / that time (the ")
        w("candidate-equivalent pairs). Peak memory sums the workers' memory, sampled every ")
        w("0.1 s (PSS every 0.5 s), from the start until the swap: PSS divides the pages ")
        w("they share since the fork among them, RSS counts them once per process. The ")
        w("workers' parent is a process of its own, spawned fresh as a Celery worker's main ")
        w("process is, which forks them (after `matching_worker_prepare` where the index is ")
        w("the parent's); *with their parent* adds its PSS: its share of the libraries and ")
        w("of the index it built. The prospects' own peak (PSS) is given with their time.\n\n")
        w("By index mode, the modes taken in turn:\n\n")
        for mode, label in INDEX_MODES.items():
            runs = sorted((r for r in full if r.index == mode), key=lambda r: r.matches_seconds)
            if runs:
                times = ", ".join(f"{r.matches_seconds:.1f}" for r in runs)
                w(
                    f"- {label}: matches live in **{_median_seconds(runs):.1f} s** (median of "
                    f"{len(runs)}: {times} s), peak memory at most "
                    f"{_gb(max(r.peak_total_pss_bytes for r in runs))} PSS with their parent\n"
                )
        w("\n")
    if baseline is not None:
        w("**Naive baseline** (ORM objects, every pair through `score_pair`): ")
        w(f"{baseline.offers} × {baseline.demands} pairs in {baseline.seconds:.1f} s, ")
        w(f"{baseline.pairs_per_second:,.0f} pairs/s")
        if full:
            pairs_per_second = full[0].offers * full[0].demands / _median_seconds(full)
            ratio = pairs_per_second / baseline.pairs_per_second
            w(f"; the engine's full rematch (median) is **{ratio:,.0f}×** faster per pair")
        w(".\n\n")
    for note in notes:
        w(f"- {note}\n")
    return out.getvalue()


MARK_START: Final = "<!-- bench_matching:start -->"
MARK_END: Final = "<!-- bench_matching:end -->"


def write_section(path: str, body: str) -> None:
    """Replace the text between the markers in ``path`` (appending the section if absent)."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        text = "# Benchmarks\n"
    section = f"{MARK_START}\n{body.rstrip()}\n{MARK_END}"
    if MARK_START in text and MARK_END in text:
        before, rest = text.split(MARK_START, 1)
        _, after = rest.split(MARK_END, 1)
        text = before + section + after
    else:
        text = text.rstrip() + "\n\n## Matching\n\n" + section + "\n"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def ensure(model: type[Offer] | type[Demand], wanted: int, *, seed: int) -> float:
    """Top the published ``model`` rows up to ``wanted``; seconds spent inserting."""
    have = count(model)
    if have >= wanted:
        return 0.0
    started = time.perf_counter()
    with transaction.atomic():
        insert_listings(model, wanted - have, seed=seed + have)
    return time.perf_counter() - started


__all__ = ["ensure", "full_rematch", "incremental", "naive", "report", "reset_database"]
