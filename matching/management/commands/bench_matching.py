import shlex
import sys
import time
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import OperationalError, connection
from django.utils import timezone

from listings.models import Demand, Offer, WasteCode
from matching import bench


def _sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})
    except ValueError:
        raise CommandError(f"--sizes wants numbers separated by commas, got {text!r}") from None
    if not sizes or sizes[0] < 1:
        raise CommandError("--sizes wants positive numbers")
    return sizes


def _database_ready() -> None:
    """Create the benchmark database if it is missing, migrate it, load the reference data."""
    import psycopg

    cfg = connection.settings_dict
    try:
        connection.ensure_connection()
    except OperationalError:  # most likely missing: create it
        with psycopg.connect(
            host=cfg["HOST"] or None,
            port=cfg["PORT"] or 5432,
            user=cfg["USER"] or None,
            password=cfg["PASSWORD"] or None,
            dbname="postgres",
            autocommit=True,
        ) as admin:
            admin.execute(f'CREATE DATABASE "{cfg["NAME"]}"')
    call_command("migrate", verbosity=0)
    if not WasteCode.objects.exists():
        call_command("load_reference_data", verbosity=0)


class Command(BaseCommand):
    help = (
        "Benchmarks of matching on generated NWE-shaped data inserted into the database: "
        "incremental matching of one new offer against N demands (p50/p95 end to end), a full "
        "rematch in worker processes (wall time, peak memory) and a naive ORM baseline. "
        "Empties the listing and match tables first: run it on a benchmark database only "
        "(its name must contain 'bench'); it is created and migrated if missing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--sizes",
            default="10000,100000,1000000",
            help="Demand counts for the incremental case (default 10000,100000,1000000).",
        )
        parser.add_argument("--skip-1m", action="store_true", help="Leave out sizes >= 1M.")
        parser.add_argument(
            "--full",
            type=int,
            default=100_000,
            help="Offers and demands of the full rematch (default 100000; 0 skips it).",
        )
        parser.add_argument("--workers", type=int, default=2, help="Worker processes (2).")
        parser.add_argument(
            "--repeat",
            type=int,
            default=3,
            help="Full rematches per index mode, the modes taken in turn (3).",
        )
        parser.add_argument("--samples", type=int, default=50, help="Incremental samples (50).")
        parser.add_argument(
            "--naive", type=int, default=300, help="Offers and demands of the naive loop (300)."
        )
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--write", metavar="PATH", help="Rewrite the bench_matching section of this file."
        )
        parser.add_argument(
            "--keep", action="store_true", help="Keep (and top up) the data already there."
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even if the database name does not contain 'bench'.",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        name = str(connection.settings_dict["NAME"])
        if connection.vendor != "postgresql":
            raise CommandError("bench_matching needs PostgreSQL (COPY)", returncode=2)
        if "bench" not in name and not opts["force"]:
            raise CommandError(
                f"database {name!r} is not a benchmark database (its tables are emptied); "
                "set DATABASE_URL to one whose name contains 'bench', or pass --force",
                returncode=2,
            )
        if opts["workers"] < 1 or opts["samples"] < 1 or opts["repeat"] < 1:
            raise CommandError("--workers, --samples and --repeat must be at least 1", returncode=2)
        bench.isolate()
        sizes = _sizes(opts["sizes"])
        skipped = [s for s in sizes if opts["skip_1m"] and s >= 1_000_000]
        sizes = [s for s in sizes if s not in skipped]
        started = timezone.now()
        _database_ready()
        if not opts["keep"]:
            bench.reset_database()
        seed, full_size = opts["seed"], opts["full"]
        incrementals: list[bench.Incremental] = []
        full: list[bench.FullRematch] = []
        baseline: bench.Naive | None = None
        for size in sorted({*sizes, full_size} - {0}):
            seconds = bench.ensure(Demand, size, seed=seed)
            if seconds:
                self._say(f"{size:,} demands in the database ({seconds:.0f} s to insert)")
            if size in sizes:
                result = bench.incremental(samples=opts["samples"], seed=seed + size)
                incrementals.append(result)
                self._say(
                    f"incremental vs {result.opposite:,} demands: build "
                    f"{result.build_seconds:.1f} s, p50 {result.percentile(50):.1f} ms, "
                    f"p95 {result.percentile(95):.1f} ms"
                )
            if size == full_size:
                seconds = bench.ensure(Offer, full_size, seed=seed + 10_000_000)
                self._say(f"{full_size:,} offers in the database ({seconds:.0f} s to insert)")
                # In turn, so that a slower spell of this shared machine falls on each mode.
                for index in [*bench.INDEX_MODES] * opts["repeat"]:
                    run = bench.full_rematch(workers=opts["workers"], index=index)
                    full.append(run)
                    self._say(
                        f"full rematch {run.offers:,} x {run.demands:,} "
                        f"({index}): matches live in "
                        f"{run.matches_seconds:.1f} s (chunks {run.chunks_seconds:.1f} s), "
                        f"peak {run.peak_pss_bytes / 1024**3:.2f} GB PSS, "
                        f"{run.peak_total_pss_bytes / 1024**3:.2f} GB with their parent; "
                        f"prospects +{run.prospects_seconds:.1f} s, "
                        f"peak {run.prospects_peak_pss_bytes / 1024**3:.2f} GB PSS"
                    )
        if opts["naive"]:
            if not bench.count(Offer):
                bench.ensure(Offer, opts["naive"], seed=seed + 10_000_000)
            baseline = bench.naive(offers=opts["naive"], demands=opts["naive"], seed=seed)
            self._say(
                f"naive: {baseline.offers} x {baseline.demands} in {baseline.seconds:.1f} s "
                f"({baseline.pairs_per_second:,.0f} pairs/s)"
            )
        command = f"DATABASE_URL=…/{name} " + shlex.join(["python", "manage.py", *sys.argv[1:]])
        body = bench.report(
            command=command,
            incrementals=incrementals,
            skipped=[f"{s:,} | skipped (--skip-1m) | | | | |" for s in skipped],
            full=full,
            baseline=baseline,
            notes=[],
            started=started,
        )
        self.stdout.write(body)
        if opts["write"]:
            bench.write_section(opts["write"], body)
            self._say(f"wrote {opts['write']}")

    def _say(self, text: str) -> None:
        self.stderr.write(f"[{time.strftime('%H:%M:%S')}] {text}")
