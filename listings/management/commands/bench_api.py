"""Benchmark the partner API's filtered public search at 1M listings (DESIGN.md, "Performance
targets": p95 < 50 ms for a single client; report sustained req/s at a given concurrency).

Runs against the configured database, which must be a PostgreSQL database whose name contains
"bench" (it is created when missing, migrated and loaded with the reference data):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/symbiosis_bench DJANGO_SECRET_KEY=x \\
        .venv/bin/python manage.py bench_api

1. Generates ``--offers`` offers and ``--demands`` demands (default 1M and 200k) with their
   organisations and sites in the NWE harbour regions, by COPY, once: a later run reuses them
   (``--regenerate`` starts again). Then ANALYZE.
2. Starts gunicorn on 127.0.0.1 (``--workers`` sync workers, persistent database connections,
   the throttle counters in Redis when it answers) with an organisation's read token.
3. One client: ``--requests`` searches one after another (after a warm-up), a seeded mix of the
   filters partners use (country, resource type, List of Waste chapter/sub-chapter/code,
   harbour region with a quantity range, a category, a 50 km radius); prints p50/p95/p99.
4. ``--concurrency`` clients (threads, http.client) for ``--seconds`` seconds at most or
   ``--requests`` requests each at most: prints the sustained requests per second and p95.

Every loop is bounded in count and time and sends traffic to 127.0.0.1 only; gunicorn is
stopped at the end, whatever happens.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils import timezone

ROOT = Path(settings.BASE_DIR)
UNITS = (("t", "year", 1), ("t", "month", 12), ("t", "week", 52), ("m3", "year", 1))
WASTE_STATUSES = ("waste", "by_product", "end_of_waste", "product", "unknown")
STATUS_WEIGHTS = (("published", 90), ("draft", 5), ("paused", 2), ("closed", 3))
BENCH_ORG = "Bench partner"


@dataclass
class Sample:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def add(self, ms: float, status: int) -> None:
        self.latencies_ms.append(ms)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status != 200:
            self.errors += 1


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Command(BaseCommand):
    help = "Benchmark the partner API's filtered listing search at 1M listings under gunicorn."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--offers", type=int, default=1_000_000)
        parser.add_argument("--demands", type=int, default=200_000)
        parser.add_argument("--sites", type=int, default=50_000)
        parser.add_argument("--regenerate", action="store_true", help="Drop and generate again.")
        parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers.")
        parser.add_argument("--requests", type=int, default=2000, help="Single-client requests.")
        parser.add_argument("--concurrency", type=int, default=16)
        parser.add_argument("--seconds", type=float, default=20.0, help="Concurrent phase cap.")
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--json", dest="json_path", help="Also write the figures here.")

    def handle(self, *args: Any, **options: Any) -> None:
        db = settings.DATABASES["default"]
        if db["ENGINE"] != "django.db.backends.postgresql" or "bench" not in db["NAME"]:
            raise CommandError(
                "Run it on a PostgreSQL database whose name contains 'bench', e.g. "
                "DATABASE_URL=postgres://postgres@127.0.0.1:5432/symbiosis_bench"
            )
        _create_database(db)
        call_command("migrate", verbosity=0)
        call_command("load_reference_data", verbosity=0)
        rng = random.Random(options["seed"])
        started = time.perf_counter()
        generated = _generate(self, rng, options)
        if generated:
            self.stdout.write(f"generated in {time.perf_counter() - started:.1f} s")
        token = _bench_token()
        queries = _query_mix(rng, 500)
        port = _free_port()
        server = _start_gunicorn(port, options["workers"])
        load = {"before": os.getloadavg()}
        try:
            _wait_until_up(port, token)
            single = _single_client(port, token, queries, options["requests"])
            load["after_single"] = os.getloadavg()
            concurrent, elapsed = _concurrent(
                port,
                token,
                queries,
                options["concurrency"],
                options["seconds"],
                options["requests"],
            )
            load["after_concurrent"] = os.getloadavg()
        finally:
            _stop(server)
        figures = _report(self, options, single, concurrent, elapsed, load)
        if options["json_path"]:
            Path(options["json_path"]).write_text(json.dumps(figures, indent=2))


# --- data ------------------------------------------------------------------------------------


def _create_database(db: dict[str, Any]) -> None:
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        if not conn.execute(
            "select 1 from pg_database where datname = %s", [db["NAME"]]
        ).fetchone():
            conn.execute(f'create database "{db["NAME"]}"')


def _generate(command: BaseCommand, rng: random.Random, options: dict[str, Any]) -> bool:
    from listings.models import Demand, Offer

    if not options["regenerate"] and Offer.objects.filter(title__startswith="bench ").exists():
        n = _estimate("listings_offer")
        command.stdout.write(f"reusing the generated data (~{n:,} offers)")
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE listings_offer, listings_demand, listings_site, listings_organization, "
            "listings_membership, listings_apitoken RESTART IDENTITY CASCADE"
        )
    orgs, sites = _sites(rng, options["sites"])
    command.stdout.write(f"{len(orgs):,} organisations, {len(sites):,} sites")
    _listings(rng, "listings_offer", options["offers"], sites, offer=True)
    command.stdout.write(f"{options['offers']:,} offers")
    _listings(rng, "listings_demand", options["demands"], sites, offer=False)
    command.stdout.write(f"{options['demands']:,} demands")
    with connection.cursor() as cursor:
        for table in (
            "listings_organization",
            "listings_site",
            "listings_offer",
            "listings_demand",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")
    if not (Offer.objects.exists() and Demand.objects.exists()):
        raise CommandError("the generated listings are missing")
    return True


def _estimate(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("select reltuples::bigint from pg_class where relname = %s", [table])
        return int(cursor.fetchone()[0])


def _copy(table: str, columns: list[str], rows: Any) -> None:
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _sites(rng: random.Random, n_sites: int) -> tuple[list[int], list[tuple[Any, ...]]]:
    """Organisations (one per 2.5 sites) and sites scattered around the harbour regions."""
    from harbors.models import HarborRegion
    from listings.models import NaceCode, Organization, Site

    regions = list(HarborRegion.objects.prefetch_related("countries"))
    nace = list(NaceCode.objects.filter(level="class").values_list("id", flat=True))
    now = timezone.now()
    n_orgs = max(1, int(n_sites / 2.5))
    org_region = [rng.choice(regions) for _ in range(n_orgs)]
    _copy(
        "listings_organization",
        [
            "created_at",
            "updated_at",
            "name",
            "country_id",
            "nace_id",
            "ref",
            "website",
            "contact_name",
            "contact_email",
            "contact_phone",
            "verified_at",
        ],
        (
            (now, now, f"bench org {i}", _country(r), rng.choice(nace), "", "", "", "", "", now)
            for i, r in enumerate(org_region)
        ),
    )
    org_ids = list(Organization.objects.order_by("id").values_list("id", flat=True))
    site_rows = []
    for i in range(n_sites):
        index = i % len(org_ids)
        region = org_region[index]
        lat = max(-89.0, min(89.0, region.lat + rng.gauss(0, 0.35)))
        lon = max(-179.0, min(179.0, region.lon + rng.gauss(0, 0.5)))
        site_rows.append(
            (
                now,
                now,
                org_ids[index],
                f"bench site {i}",
                "",
                "",
                _country(region),
                lat,
                lon,
                region.pk,
            )
        )
    _copy(
        "listings_site",
        [
            "created_at",
            "updated_at",
            "organization_id",
            "name",
            "address",
            "city",
            "country_id",
            "lat",
            "lon",
            "region_id",
        ],
        site_rows,
    )
    sites = list(
        Site.objects.order_by("id").values_list(
            "id", "organization_id", "country_id", "region_id", "lat", "lon"
        )
    )
    return org_ids, sites


def _country(region: Any) -> str:
    codes = sorted(c.code for c in region.countries.all())
    return codes[0] if codes else "NL"


def _listings(
    rng: random.Random, table: str, n: int, sites: list[tuple[Any, ...]], *, offer: bool
) -> None:
    from listings.models import MaterialCategory, WasteCode
    from listings.selectors import public_coordinate

    codes = list(WasteCode.objects.values_list("code", flat=True))
    categories = list(
        MaterialCategory.objects.filter(resource_type="material").values_list("id", flat=True)
    )
    energy = list(
        MaterialCategory.objects.filter(resource_type="energy").values_list("id", flat=True)
    )
    statuses = [s for s, w in STATUS_WEIGHTS for _ in range(w)]
    start = timezone.now() - timedelta(days=730)
    step = timedelta(days=730) / max(n, 1)
    prefix = "off_" if offer else "dem_"
    common = [
        "created_at",
        "updated_at",
        "organization_id",
        "site_id",
        "ref",
        "title",
        "description",
        "resource_type",
        "category_id",
        "waste_code_id",
        "quantity",
        "unit",
        "frequency",
        "annual_quantity",
        "status",
        "published_at",
        "version",
        "needs_matching",
        "matching_error",
        "public_id",
        # What listings.services copies from the site (the public search reads only these).
        "country_id",
        "region_id",
        "approx_lat",
        "approx_lon",
    ]
    if offer:
        extra = [
            "waste_status",
            "status_evidence",
            "list_class",
            "basel_code",
            "hazardous",
            "mixture",
            "contaminated",
            "pops",
            "physical_form",
            "can_deliver",
        ]
    else:
        extra = ["max_distance_km", "has_permit", "accepts_hazardous"]

    def rows() -> Any:
        for i in range(n):
            site_id, org_id, country, region, lat, lon = sites[rng.randrange(len(sites))]
            created = start + step * i
            is_energy = rng.random() < 0.05
            if is_energy:
                resource, category, code, unit, freq, mult = (
                    "energy",
                    rng.choice(energy),
                    None,
                    "MWh",
                    "continuous",
                    8760,
                )
            else:
                unit, freq, mult = rng.choice(UNITS)
                resource, code = "material", rng.choice(codes)
                category = rng.choice(categories) if rng.random() < 0.6 else None
            quantity = Decimal(rng.randint(1, 50_000))
            status = rng.choice(statuses)
            row = [
                created,
                created,
                org_id,
                site_id,
                "",
                f"bench {'offer' if offer else 'demand'} {i}",
                "",
                resource,
                category,
                code,
                quantity,
                unit,
                freq,
                quantity * mult,
                status,
                created if status != "draft" else None,
                1,
                False,
                "",
                prefix + secrets.token_urlsafe(12),
                country,
                region,
                public_coordinate(lat),
                public_coordinate(lon),
            ]
            if offer:
                row += [
                    rng.choice(WASTE_STATUSES),
                    "none",
                    "",
                    "",
                    False,
                    False,
                    False,
                    False,
                    "",
                    False,
                ]
            else:
                row += [rng.choice((None, 50, 150, 300)), True, False]
            yield row

    _copy(table, common + extra, rows())


def _bench_token() -> str:
    from django.contrib.auth.models import User

    from harbors.models import Country
    from listings import services
    from listings.models import ApiToken, Organization

    organization = Organization.objects.filter(name=BENCH_ORG).first()
    if organization is None:
        organization = services.organization_create(
            name=BENCH_ORG, country=Country.objects.get(code="NL")
        )
    user, _ = User.objects.get_or_create(username="bench-partner")
    services.membership_add(organization=organization, user=user, role="admin")
    return services.api_token_create(
        user=user,
        name="bench",
        kind=ApiToken.Kind.ORGANIZATION,
        organization=organization,
        scopes=["read"],
    ).secret


def _query_mix(rng: random.Random, n: int) -> list[str]:
    """Seeded filtered searches of the kinds partners make."""
    from harbors.models import HarborRegion
    from listings.models import MaterialCategory, WasteCode

    regions = list(HarborRegion.objects.values_list("code", "lat", "lon"))
    countries = ["BE", "NL", "DE", "FR", "IE", "GB", "DK", "NO"]
    codes = list(WasteCode.objects.values_list("code", flat=True))
    categories = list(
        MaterialCategory.objects.filter(resource_type="material").values_list("slug", flat=True)
    )
    makers = [
        lambda: {"country": rng.choice(countries), "resource_type": "material"},
        lambda: {"waste_code": rng.choice(codes)[:2]},
        lambda: {"waste_code": rng.choice(codes)[:4], "country": rng.choice(countries)},
        lambda: {"waste_code": rng.choice(codes)},
        lambda: {
            "region": rng.choice(regions)[0],
            "quantity_min": rng.choice((100, 1000, 10000)),
            "quantity_max": 500000,
        },
        lambda: {"category": rng.choice(categories)},
        lambda: (lambda r: {"lat": r[1], "lon": r[2], "radius_km": 50})(rng.choice(regions)),
        lambda: {"kind": "demand", "country": rng.choice(countries), "waste_code": "10"},
    ]
    return ["/api/v1/listings/public/?" + urlencode(rng.choice(makers)()) for _ in range(n)]


# --- the server ------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_gunicorn(port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "symbiosis.settings",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(40),
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_CONN_MAX_AGE": "600",
        "DJANGO_LOG_LEVEL": "WARNING",
        "DJANGO_API_RATE_READ": "100000000/min",
        "CELERY_BROKER_URL": "",
    }
    if _redis_up():
        env["DJANGO_CACHE_URL"] = "redis://127.0.0.1:6379/7"
    gunicorn = Path(sys.executable).with_name("gunicorn")
    return subprocess.Popen(  # noqa: S603 (fixed arguments, loopback only)
        [
            str(gunicorn),
            "symbiosis.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--backlog",
            "256",
            "--log-level",
            "warning",
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def _get(port: int, token: str, path: str) -> tuple[int, float]:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        response.read()
        status = response.status
    finally:
        conn.close()
    return status, (time.perf_counter() - started) * 1000


def _wait_until_up(port: int, token: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            status, _ = _get(port, token, "/api/v1/harbors/regions/")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise CommandError("gunicorn did not answer within 60 s")


def _single_client(port: int, token: str, queries: list[str], n: int) -> Sample:
    for path in queries[:100]:  # warm-up: connections, caches
        _get(port, token, path)
    sample = Sample()
    deadline = time.monotonic() + 600
    for i in range(n):
        if time.monotonic() > deadline:
            break
        status, ms = _get(port, token, queries[i % len(queries)])
        sample.add(ms, status)
    return sample


def _concurrent(
    port: int, token: str, queries: list[str], clients: int, seconds: float, per_client: int
) -> tuple[Sample, float]:
    sample, lock = Sample(), threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(offset: int) -> None:
        local: list[tuple[float, int]] = []
        for i in range(per_client):
            if time.monotonic() > stop_at:
                break
            try:
                status, ms = _get(port, token, queries[(offset + i) % len(queries)])
            except OSError:
                status, ms = 0, 0.0
            local.append((ms, status))
        with lock:
            for ms, status in local:
                sample.add(ms, status)

    threads = [threading.Thread(target=client, args=(k * 31,)) for k in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    return sample, time.perf_counter() - started


def _report(
    command: BaseCommand,
    options: dict[str, Any],
    single: Sample,
    concurrent: Sample,
    elapsed: float,
    load: dict[str, tuple[float, float, float]],
) -> dict[str, Any]:
    from listings.models import Demand, Offer

    lat = single.latencies_ms
    figures = {
        "offers": _estimate("listings_offer") or Offer.objects.count(),
        "demands": _estimate("listings_demand") or Demand.objects.count(),
        "workers": options["workers"],
        "single_client": {
            "requests": len(lat),
            "errors": single.errors,
            "p50_ms": round(statistics.median(lat), 1),
            "p95_ms": round(_percentile(lat, 0.95), 1),
            "p99_ms": round(_percentile(lat, 0.99), 1),
            "req_per_s": round(len(lat) / (sum(lat) / 1000), 1),
        },
        "concurrent": {
            "clients": options["concurrency"],
            "requests": len(concurrent.latencies_ms),
            "errors": concurrent.errors,
            "seconds": round(elapsed, 1),
            "req_per_s": round(len(concurrent.latencies_ms) / elapsed, 1),
            "p50_ms": round(statistics.median(concurrent.latencies_ms), 1),
            "p95_ms": round(_percentile(concurrent.latencies_ms, 0.95), 1),
        },
        # The 1/5/15-minute load averages: other jobs on the machine skew every figure.
        "load_average": {k: [round(x, 2) for x in v] for k, v in load.items()},
    }
    out = io.StringIO()
    s, c = figures["single_client"], figures["concurrent"]
    out.write(
        f"partner API search, {figures['offers']:,} offers + {figures['demands']:,} demands, "
        f"gunicorn {options['workers']} sync workers, {os.cpu_count()} cores\n"
        f"  1 client : {s['requests']} requests, p50 {s['p50_ms']} ms, p95 {s['p95_ms']} ms, "
        f"p99 {s['p99_ms']} ms, errors {s['errors']}\n"
        f"  {c['clients']} clients: {c['requests']} requests in {c['seconds']} s = "
        f"{c['req_per_s']} req/s sustained, p50 {c['p50_ms']} ms, p95 {c['p95_ms']} ms, "
        f"errors {c['errors']}\n"
        "  load average (1/5/15 min): "
        + ", ".join(
            f"{k.replace('_', ' ')} {'/'.join(f'{x:.2f}' for x in v)}"
            for k, v in figures["load_average"].items()
        )
        + "\n"
    )
    command.stdout.write(out.getvalue())
    return figures
