"""Benchmark the facilitator queue page on a large generated queue.

Generates organisations, sites, offers, demands and ``--matches`` matches (bulk_create) in the
facilitator's harbour regions, plus ``--outside`` matches in other regions that the queue must
leave out, then renders the queue page with the test client ``--requests`` times per scenario
and prints p50/p95 in ms and the queries per request. Everything runs in one transaction that
is rolled back at the end (``--keep`` commits it instead), so the configured database is left
as it was. ``--test-db`` first switches to the test database (created if missing, kept).

    DJANGO_SETTINGS_MODULE=symbiosis.settings_test python manage.py bench_portal --test-db
"""

from __future__ import annotations

import random
import re
import statistics
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from html import unescape
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from harbors.models import HarborRegion
from listings.models import Demand, Offer, Organization, Site, WasteCode
from matching.models import LegalProcedure, Match, Response, Stage

QUEUE_REGIONS = ("rotterdam-moerdijk", "antwerp-bruges", "north-sea-port", "amsterdam", "hamburg")
STAGE_WEIGHTS = {
    Stage.PROPOSED: 80,
    Stage.SHORTLISTED: 8,
    Stage.INTRODUCED: 5,
    Stage.NEGOTIATING: 3,
    Stage.IMPLEMENTED: 2,
    Stage.REJECTED: 2,
}
PROCEDURE_WEIGHTS = {
    LegalProcedure.NONE: 55,
    LegalProcedure.GENERAL_INFORMATION: 30,
    LegalProcedure.NOTIFICATION: 13,
    LegalProcedure.NOTIFICATION_DISPOSAL: 2,
}


class _Rollback(Exception):  # noqa: N818 - a control-flow signal, not an error
    pass


@dataclass(frozen=True, slots=True)
class Timing:
    name: str
    p50: float
    p95: float
    queries: int
    rows: int


class Command(BaseCommand):
    help = "Render the facilitator queue on a generated 100k-match queue; print p50/p95 ms."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--matches", type=int, default=100_000)
        parser.add_argument("--outside", type=int, default=20_000)
        parser.add_argument("--listings", type=int, default=6_000, help="Offers (and demands).")
        parser.add_argument("--requests", type=int, default=50, help="Timed requests per scenario.")
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--keep", action="store_true", help="Commit the generated rows.")
        parser.add_argument(
            "--explain", action="store_true", help="Print the plan of the first page's query."
        )
        parser.add_argument(
            "--test-db", action="store_true", help="Use (and create) the test database."
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["test_db"]:
            connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=True)
        if not HarborRegion.objects.exists():
            call_command("load_reference_data", verbosity=0)
        timings: list[Timing] = []
        try:
            with transaction.atomic():
                started = time.perf_counter()
                user, queue_size = self._generate(opts)
                generated = time.perf_counter() - started
                self.stdout.write(
                    f"generated {queue_size} queue matches (+{opts['outside']} outside the "
                    f"facilitator's regions) in {generated:.1f} s"
                )
                timings = self._measure(user, opts["requests"], explain=opts["explain"])
                if not opts["keep"]:
                    raise _Rollback
        except _Rollback:
            pass
        self.stdout.write(
            f"{connection.vendor} {connection.settings_dict['NAME']}, "
            f"{opts['requests']} requests per scenario"
        )
        self.stdout.write(
            f"{'scenario':<32} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8} {'rows':>5}"
        )
        for t in timings:
            self.stdout.write(f"{t.name:<32} {t.p50:8.1f} {t.p95:8.1f} {t.queries:8d} {t.rows:5d}")

    # --- data ----------------------------------------------------------------------------

    def _generate(self, opts: dict[str, Any]) -> tuple[User, int]:
        rng = random.Random(opts["seed"])
        regions = {r.code: r for r in HarborRegion.objects.all()}
        mine = [regions[c] for c in QUEUE_REGIONS if c in regions]
        others = [r for r in regions.values() if r.code not in QUEUE_REGIONS]
        user, _ = User.objects.get_or_create(username="bench-facilitator")
        user.facilitated_regions.set(mine)
        codes = list(WasteCode.objects.filter(hazardous=False).values_list("code", flat=True)[:400])
        n = opts["listings"]
        tag = f"bench-{opts['seed']}-{int(time.time())}"
        country = {
            r.code: r.countries.order_by("code").values_list("code", flat=True).first()
            for r in regions.values()
        }
        # Organisations with one site each: 2 × n, 80 % in the facilitator's regions.
        placed = [
            rng.choice(mine) if rng.random() < 0.8 or not others else rng.choice(others)
            for _ in range(2 * n)
        ]
        organizations = Organization.objects.bulk_create(
            (
                Organization(name=f"Bench {tag} {i}", country_id=country[region.code])
                for i, region in enumerate(placed)
            ),
            batch_size=5000,
        )
        sites = Site.objects.bulk_create(
            (
                Site(
                    organization=org,
                    name="Plant",
                    city=region.name[:40],
                    country_id=org.country_id,
                    lat=region.lat + rng.uniform(-0.2, 0.2),
                    lon=region.lon + rng.uniform(-0.3, 0.3),
                    region=region,
                )
                for org, region in zip(organizations, placed, strict=True)
            ),
            batch_size=5000,
        )
        common = {"quantity": Decimal(1000), "unit": "t", "frequency": "year"}
        offers = Offer.objects.bulk_create(
            (
                Offer(
                    organization_id=site.organization_id,
                    site=site,
                    title=f"Residue {i}",
                    waste_code_id=rng.choice(codes),
                    annual_quantity=Decimal(rng.randint(100, 50_000)),
                    status="published",
                    waste_status="waste",
                    **common,
                )
                for i, site in enumerate(sites[:n])
            ),
            batch_size=5000,
        )
        demands = Demand.objects.bulk_create(
            (
                Demand(
                    organization_id=site.organization_id,
                    site=site,
                    title=f"Input {i}",
                    waste_code_id=rng.choice(codes),
                    annual_quantity=Decimal(rng.randint(100, 50_000)),
                    status="published",
                    **common,
                )
                for i, site in enumerate(sites[n:])
            ),
            batch_size=5000,
        )
        mine_ids = {r.pk for r in mine}
        offers_in = [o for o in offers if o.site.region_id in mine_ids]
        offers_out = [o for o in offers if o.site.region_id not in mine_ids]
        demands_out = [d for d in demands if d.site.region_id not in mine_ids]
        now = timezone.now()
        stages, stage_w = list(STAGE_WEIGHTS), list(STAGE_WEIGHTS.values())
        procs, proc_w = list(PROCEDURE_WEIGHTS), list(PROCEDURE_WEIGHTS.values())

        def match(offer: Offer, demand: Demand) -> Match:
            stage = rng.choices(stages, stage_w)[0]
            answered = rng.random() < 0.5
            return Match(
                offer=offer,
                demand=demand,
                score=round(rng.betavariate(2, 3), 6),
                material_score=rng.random(),
                quantity_score=rng.random(),
                distance_score=rng.random(),
                legal_score=rng.random(),
                timing_score=1.0,
                distance_km=rng.uniform(1, 400),
                transport_mode=rng.choice(["road", "sea", "inland_waterway"]),
                cost_eur_per_tonne=rng.uniform(2, 60),
                co2_kg_per_tonne=rng.uniform(1, 40),
                tonnes_per_year=float(min(offer.annual_quantity, demand.annual_quantity)),
                legal_procedure=rng.choices(procs, proc_w)[0],
                explanation="generated by bench_portal",
                scoring_version="bench",
                offer_version=1,
                demand_version=1,
                stage=stage,
                stage_changed_at=None
                if stage == Stage.PROPOSED
                else now - timedelta(days=rng.randint(0, 30)),
                offer_response=Response.INTERESTED if answered else Response.PENDING,
            )

        pairs: set[tuple[int, int]] = set()
        rows: list[Match] = []
        target = opts["matches"]
        while len(rows) < target:
            offer = rng.choice(offers_in)
            demand = rng.choice(demands)
            if _new_pair(pairs, offer, demand):
                pairs.add((offer.pk, demand.pk))
                rows.append(match(offer, demand))
        outside = 0
        while outside < opts["outside"] and offers_out and demands_out:
            offer, demand = rng.choice(offers_out), rng.choice(demands_out)
            if _new_pair(pairs, offer, demand):
                pairs.add((offer.pk, demand.pk))
                rows.append(match(offer, demand))
                outside += 1
        Match.objects.bulk_create(rows, batch_size=5000)
        with connection.cursor() as cursor:
            for table in ("matching_match", "listings_offer", "listings_demand", "listings_site"):
                cursor.execute(f"ANALYZE {table}")
        return user, target

    # --- timing --------------------------------------------------------------------------

    def _measure(self, user: User, requests: int, *, explain: bool = False) -> list[Timing]:
        client = Client(
            HTTP_HOST=settings.ALLOWED_HOSTS[0] if settings.ALLOWED_HOSTS else "localhost"
        )
        client.force_login(user)
        url = reverse("facilitate:queue")
        region = HarborRegion.objects.get(code="rotterdam-moerdijk")
        scenarios: dict[str, dict[str, str]] = {
            "first page": {},
            "region filter": {"region": str(region.pk)},
            "country pair BE→NL": {"origin": "BE", "destination": "NL"},
            "chapter 10": {"chapter": "10"},
            "notification, score ≥ 0.6": {"procedure": "notification", "min_score": "0.6"},
            "stage introduced, overdue": {"stage": "introduced", "overdue": "true"},
            "all stages": {"stage": "all"},
        }
        # A deep page: follow the cursor 40 pages down (2,000 matches in).
        params: dict[str, str] = {}
        for _ in range(40):
            after = _next_cursor(client.get(url, params).content.decode())
            if after is None:
                break
            params = {"after": after}
        scenarios["page 41 (keyset cursor)"] = params
        timings = []
        for name, query in scenarios.items():
            for _ in range(3):  # warm-up
                client.get(url, query)
            samples = []
            with CaptureQueriesContext(connection) as captured:
                response = client.get(url, query)
            queries = len(captured)  # now: each request resets the connection's query log
            if explain and name == "first page":
                slowest = max(captured.captured_queries, key=lambda q: float(q["time"]))
                with connection.cursor() as cursor:
                    cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {slowest['sql']}")
                    self.stdout.write("\n".join(row[0] for row in cursor.fetchall()))
            for _ in range(requests):
                start = time.perf_counter()
                response = client.get(url, query)
                samples.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, (name, response.status_code)  # noqa: S101
            samples.sort()
            timings.append(
                Timing(
                    name=name,
                    p50=statistics.median(samples),
                    p95=samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))],
                    queries=queries,
                    rows=response.content.decode().count("data-match="),
                )
            )
        return timings


def _new_pair(pairs: set[tuple[int, int]], offer: Offer, demand: Demand) -> bool:
    return (offer.pk, demand.pk) not in pairs and offer.organization_id != demand.organization_id


def _next_cursor(html: str) -> str | None:
    found = re.search(r'href="\?([^"]*)" rel="next"', html)
    if found is None:
        return None
    return parse_qs(unescape(found.group(1))).get("after", [None])[0]
