"""The matching pipeline end to end: a real Celery worker (a subprocess, as in production) on the
real Redis broker and the pytest-django test database.

Each test starts its own worker with `celery -A symbiosis worker` and kills its whole process
group in teardown; the test queue and kombu's unacknowledged-message store are emptied before
and after every test. The worker runs with a 10 s visibility timeout so that a message held by
a killed worker comes back within the test (DESIGN.md, "Pipeline and reliability").

Tests are transactional (the worker is another process and sees committed rows only).
Two pytest sessions at once share the test queue and database and disturb each other; give
a concurrent session its own with e.g. CELERY_TASK_DEFAULT_QUEUE=symbiosis-test-b and
DATABASE_URL=postgres://postgres@127.0.0.1:5432/symbiosis_b.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from harbors.models import Country
from listings import services as listing_services
from listings.models import Demand, Offer, Organization
from matching.models import Match, MatchingRun, MatchingRunChunk
from matching.services import matching_run_chunk_process, matching_run_start
from matching.tasks import listing_match_task
from symbiosis.celery import app as celery_app
from tests.factories import DemandFactory, OfferFactory, OrganizationFactory, SiteFactory

pytestmark = [pytest.mark.pipeline, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).with_name("celery")
QUEUE = settings.CELERY_TASK_DEFAULT_QUEUE
VISIBILITY_TIMEOUT = 10  # seconds; production keeps the default of an hour
UNACKED = "unacked"  # kombu's Redis transport: hash of delivered messages, and its "_index"
# kombu's lock around restoring unacknowledged messages (a worker killed while it restores
# leaves it held until it expires: CELERY_BROKER_TRANSPORT_OPTIONS["unacked_mutex_expire"]).
UNACKED_MUTEX = "unacked_mutex"
WORKER_OPTIONS = (
    "--concurrency=1",
    "--prefetch-multiplier=1",
    "--loglevel=INFO",  # logs "Task …[id] succeeded", which the tests read
    "--without-gossip",
    "--without-mingle",
    "--without-heartbeat",
)


def wait_until(
    condition: Callable[[], Any],
    *,
    timeout: float = 30,
    what: str,
    log: Path | None = None,
    state: Callable[[], str] | None = None,
) -> Any:
    """Poll `condition` until it returns something truthy; fail with the worker log (and
    `state()`, what else the test can tell about the moment) otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
    more = f"\n--- state ---\n{state()}" if state is not None else ""
    pytest.fail(f"timed out after {timeout} s waiting for {what}{more}\n--- worker log ---\n{tail}")


class Worker:
    """`celery -A symbiosis worker` in a subprocess of its own session, on the test database."""

    def __init__(self, log: Path, pool: str) -> None:
        self.log, self.pool = log, pool
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def env() -> dict[str, str]:
        db = connection.settings_dict
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "symbiosis.settings_test",
            "DATABASE_URL": f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "CELERY_TASK_DEFAULT_QUEUE": QUEUE,
            "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
        }

    def start(self) -> Worker:
        assert self.process is None, "worker already running"
        offset = self.log.stat().st_size if self.log.exists() else 0
        command = [str(CELERY), "-A", "symbiosis", "worker", "-Q", QUEUE]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*command, "-P", self.pool, *WORKER_OPTIONS],
                cwd=ROOT,
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill -9 reaches the pool too
            )
        wait_until(
            lambda: self.process.poll() is not None or b" ready." in self._log_bytes(offset),
            timeout=30,
            what="the worker to start",
            log=self.log,
        )
        assert self.process.poll() is None, self.log.read_text()[-3000:]
        return self

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool children): nothing is acknowledged."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def succeeded(self, task_id: str) -> int:
        """How many times the worker logged `task_id` as succeeded."""
        return self._log_bytes().count(f"[{task_id}] succeeded".encode())

    def _log_bytes(self, offset: int = 0) -> bytes:
        with self.log.open("rb") as f:
            f.seek(offset)
            return f.read()


def broker_clear() -> None:
    """Empty the test queue and drop its delivered-but-unacknowledged messages from kombu's store
    (the store is shared by every queue of the Redis database: other entries are left alone)."""
    celery_app.control.purge()
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        for tag, payload in client.hgetall(UNACKED).items():
            _message, exchange, routing_key = json.loads(payload)
            if QUEUE in (exchange, routing_key):
                client.hdel(UNACKED, tag)
                client.zrem(f"{UNACKED}_index", tag)
    finally:
        client.close()


def broker_state() -> str:
    """What the broker holds for the test queue: queued, and delivered but unacknowledged (with
    how long ago), and the restore lock's time to live; for a failure's report."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        now = time.time()
        unacked = []
        for tag, payload in client.hgetall(UNACKED).items():
            message, exchange, routing_key = json.loads(payload)
            if QUEUE in (exchange, routing_key):
                delivered = client.zscore(f"{UNACKED}_index", tag)
                age = f"{now - delivered:.1f} s ago" if delivered is not None else "not indexed"
                unacked.append(f"{message['headers'].get('argsrepr')} delivered {age}")
        return (
            f"queued: {client.llen(QUEUE)}; unacknowledged: {unacked or 'none'}; "
            f"restore lock ttl: {client.ttl(UNACKED_MUTEX)} s"
        )
    finally:
        client.close()


def queued() -> int:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        return int(client.llen(QUEUE))
    finally:
        client.close()


@pytest.fixture
def worker_factory(tmp_path: Path, transactional_db: None) -> Iterator[Callable[..., Worker]]:
    """Make workers (not started); every one is killed, and the broker cleared, in teardown.

    Teardown runs before pytest-django truncates the tables, so no worker writes during it.
    """
    # These tests purge the queue: never a real one.
    assert settings.CELERY_BROKER_URL.endswith("/9")
    assert QUEUE.startswith("symbiosis-test")
    broker_clear()
    workers: list[Worker] = []

    def make(pool: str = "solo") -> Worker:
        workers.append(Worker(tmp_path / f"worker-{len(workers)}.log", pool))
        return workers[-1]

    yield make
    for w in workers:
        w.kill()
    broker_clear()


@pytest.fixture
def worker(worker_factory: Callable[..., Worker]) -> Worker:
    return worker_factory().start()


def verified_organization(name: str, country: str) -> Organization:
    organization = listing_services.organization_create(
        name=name, country=Country.objects.get(code=country), contact_email="a@example.com"
    )
    return listing_services.organization_verify(organization=organization, by=None)


@pytest.fixture
def fly_ash_demand() -> Demand:
    """A published demand for fly ash in Antwerp (no matching queued for it)."""
    cement = OrganizationFactory(name="Cement BE", country_id="BE")
    demand = DemandFactory(
        organization=cement,
        site=SiteFactory(
            organization=cement, country_id="BE", city="Antwerpen", lat=51.27, lon=4.36
        ),
        title="Fly ash for clinker",
    )
    demand.accepted_codes.set(["100102"])
    return demand


@pytest.fixture
def fly_ash_draft() -> Offer:
    """A draft fly-ash offer of a verified Rotterdam power plant, created through the services."""
    power = verified_organization("Power NL", "NL")
    site = listing_services.site_create(
        organization=power,
        name="Maasvlakte plant",
        country=power.country,
        lat=51.95,
        lon=4.14,
        city="Rotterdam",
    )
    return listing_services.listing_create(
        model=Offer,
        organization=power,
        site=site,
        title="Pulverised fuel ash",
        description="dry fly ash, silo",
        waste_code_id="100102",
        waste_status=Offer.WasteStatus.WASTE,
        quantity=Decimal(1000),
        unit="t",
        frequency="year",
    )


def matched(offer: Offer) -> Callable[[], bool]:
    """True once the worker has matched the offer's current version."""
    return lambda: Offer.objects.filter(
        pk=offer.pk, needs_matching=False, matched_version=offer.version
    ).exists()


def test_publish_makes_matches_appear(
    worker: Worker, fly_ash_draft: Offer, fly_ash_demand: Demand
) -> None:
    assert not Match.objects.exists()
    offer = listing_services.listing_publish(listing=fly_ash_draft)
    wait_until(
        Match.objects.filter(offer=offer, demand=fly_ash_demand).exists,
        what="the match to appear",
        log=worker.log,
    )
    wait_until(matched(offer), what="the offer to be marked matched", log=worker.log)
    assert 0 < Match.objects.get().score <= 1


def test_edit_removes_stale_matches(
    worker: Worker, fly_ash_draft: Offer, fly_ash_demand: Demand
) -> None:
    offer = listing_services.listing_publish(listing=fly_ash_draft)
    wait_until(matched(offer), what="the first matching", log=worker.log)
    assert Match.objects.filter(offer=offer, demand=fly_ash_demand).exists()

    offer = listing_services.listing_update(
        listing=offer, waste_code_id="020304", title="Spoiled fruit", description="pulp"
    )
    wait_until(matched(offer), what="matching of the edited offer", log=worker.log)
    assert not Match.objects.filter(offer=offer).exists()


def test_sweeper_recovers_a_lost_message(
    worker_factory: Callable[..., Worker], fly_ash_draft: Offer, fly_ash_demand: Demand
) -> None:
    offer = listing_services.listing_publish(listing=fly_ash_draft)  # no worker running yet
    assert queued() >= 1  # the matching message (the queue is shared with other test runs)
    broker_clear()  # Redis loses it

    w = worker_factory().start()
    time.sleep(0.5)
    assert not Match.objects.exists()
    offer.refresh_from_db()
    assert offer.needs_matching

    # The sweeper re-queues only listings flagged for longer than MATCHING_SWEEP_AFTER_SECONDS.
    Offer.objects.filter(pk=offer.pk).update(
        matching_requested_at=timezone.now()
        - timedelta(seconds=settings.MATCHING_SWEEP_AFTER_SECONDS + 5)
    )
    sweep = celery_app.send_task("matching.listings_sweep")  # as beat sends it
    wait_until(
        Match.objects.filter(offer=offer, demand=fly_ash_demand).exists,
        what="the sweeper to recover the match",
        log=w.log,
    )
    wait_until(matched(offer), what="the offer to be marked matched", log=w.log)
    assert w.succeeded(sweep.id) == 1


def _full_rows() -> list[dict[str, Any]]:
    return sorted(
        ({k: v for k, v in row.items() if k != "updated_at"} for row in Match.objects.values()),
        key=lambda r: (r["offer_id"], r["demand_id"]),
    )


def test_same_task_delivered_twice_writes_identical_rows(
    worker: Worker, fly_ash_demand: Demand
) -> None:
    offer = OfferFactory(title="Pulverised fuel ash", needs_matching=True)
    second = DemandFactory(
        organization=fly_ash_demand.organization, site=fly_ash_demand.site, title="More ash"
    )
    args = ("offer", offer.pk, offer.version)
    task_id = "pipeline-test-listing-match-redelivered"

    listing_match_task.apply_async(args=args, task_id=task_id)
    wait_until(lambda: worker.succeeded(task_id) == 1, what="the first delivery", log=worker.log)
    once = _full_rows()
    assert {(r["offer_id"], r["demand_id"]) for r in once} == {
        (offer.pk, fly_ash_demand.pk),
        (offer.pk, second.pk),
    }
    stamps = dict(Match.objects.values_list("id", "updated_at"))

    listing_match_task.apply_async(args=args, task_id=task_id)  # the same message again
    wait_until(lambda: worker.succeeded(task_id) == 2, what="the redelivery", log=worker.log)
    assert _full_rows() == once
    # The second delivery did rewrite the rows (so the comparison is not vacuous).
    assert all(
        updated > stamps[pk] for pk, updated in Match.objects.values_list("id", "updated_at")
    )


# --- a worker killed in the middle of a full rematch -------------------------------------------

CHUNK_SIZE = 5
OFFERS = 40  # 8 chunks
DEMANDS = 30


def _marketplace() -> None:
    """Offers and demands of two materials around the Rhine–Scheldt delta, on a grid."""
    materials = [("100102", "Fly ash"), ("100101", "Bottom ash")]
    orgs = [OrganizationFactory(name=f"Org {i}") for i in range(6)]
    sites = [
        SiteFactory(organization=orgs[i % 6], lat=51.0 + 0.1 * (i % 10), lon=3.5 + 0.15 * (i // 2))
        for i in range(20)
    ]
    for i in range(OFFERS):
        site = sites[i % len(sites)]
        code, title = materials[i % 2]
        OfferFactory(
            organization=site.organization,
            site=site,
            title=f"{title} lot {i}",
            waste_code_id=code,
            annual_quantity=Decimal(200 + 50 * i),
        )
    for j in range(DEMANDS):
        site = sites[(7 * j + 3) % len(sites)]
        code, title = materials[j % 2]
        demand = DemandFactory(
            organization=site.organization,
            site=site,
            title=f"{title} wanted {j}",
            annual_quantity=Decimal(300 + 40 * j),
            max_distance_km=100 + 20 * (j % 5),
        )
        demand.accepted_codes.set([code])


def _match_set() -> set[tuple[int, int, float]]:
    return {
        (o, d, round(s, 6))
        for o, d, s in Match.objects.values_list("offer_id", "demand_id", "score")
    }


def test_killed_worker_mid_rematch_matches_every_listing_once(
    worker_factory: Callable[..., Worker],
) -> None:
    _marketplace()
    first = worker_factory("prefork").start()
    run = matching_run_start(chunk_size=CHUNK_SIZE)  # queues one chunk task per 5 offers
    assert run.total_chunks == OFFERS // CHUNK_SIZE

    def chunk_in_flight() -> MatchingRunChunk | None:
        run.refresh_from_db()
        if run.done_chunks < 1:
            return None
        return MatchingRunChunk.objects.filter(run=run, attempts=1, done_at__isnull=True).first()

    killed = wait_until(chunk_in_flight, timeout=60, what="a chunk in flight", log=first.log)
    first.kill()  # kill -9 the main process and its pool child, mid-chunk
    run.refresh_from_db()
    assert run.done_chunks < run.total_chunks, "the run finished before the kill"
    killed.refresh_from_db()
    # Almost always the chunk dies half-done. Rarely it commits in the few ms before the kill;
    # its message is still unacknowledged then, and the redelivery must be a no-op.
    died_half_done = killed.done_at is None

    second = worker_factory("prefork").start()
    # The killed chunk comes back after the visibility timeout (+ the restore interval, and a
    # margin for a loaded machine).
    wait_until(
        lambda: MatchingRun.objects.filter(pk=run.pk, status=MatchingRun.Status.DONE).exists(),
        timeout=VISIBILITY_TIMEOUT + 60,
        what="the run to finish after the restart",
        log=second.log,
        state=lambda: (
            f"{broker_state()}; chunks not done: "
            f"{list(run.chunks.filter(done_at__isnull=True).values_list('index', 'attempts'))}"
        ),
    )
    second.kill()

    run.refresh_from_db()
    chunks = list(run.chunks.order_by("index"))
    assert run.done_chunks == run.total_chunks == len(chunks) == OFFERS // CHUNK_SIZE
    assert all(c.done_at is not None for c in chunks)
    killed.refresh_from_db()
    # Started, killed, redelivered after the visibility timeout, done once. (More attempts only
    # if a chunk outran the visibility timeout on a loaded machine; still done once.)
    assert killed.attempts >= (2 if died_half_done else 1)
    # Every published offer lies in exactly one chunk, and each chunk was completed once.
    offer_ids = sorted(Offer.objects.values_list("id", flat=True))
    covered = sorted(
        i for c in chunks for i in offer_ids if c.first_offer_id <= i <= c.last_offer_id
    )
    assert covered == offer_ids
    assert not Offer.objects.filter(needs_matching=True).exists()

    by_worker = _match_set()
    assert by_worker
    assert len({(o, d) for o, d, _ in by_worker}) == len(by_worker)
    assert Match.objects.count() == len(by_worker)

    # A fresh rematch computed inline (same chunking) writes exactly the same set.
    Match.objects.all().delete()
    fresh = matching_run_start(chunk_size=CHUNK_SIZE, enqueue=False)
    for index in range(fresh.total_chunks):
        matching_run_chunk_process(run_id=fresh.pk, chunk_index=index)
    assert _match_set() == by_worker


def test_lost_chunk_messages_are_requeued_by_the_runs_sweeper(
    worker_factory: Callable[..., Worker],
) -> None:
    _marketplace()
    run = matching_run_start(chunk_size=CHUNK_SIZE)  # no worker running yet
    assert queued() >= run.total_chunks
    broker_clear()  # Redis loses them (restarted without persistence, say)
    assert "queued: 0; unacknowledged: none" in broker_state()

    w = worker_factory().start()
    time.sleep(0.5)
    run.refresh_from_db()
    assert (run.status, run.done_chunks) == (MatchingRun.Status.RUNNING, 0)

    # The sweeper re-queues only chunks queued longer ago than MATCHING_RUN_REQUEUE_AFTER_SECONDS
    # (this process's value, an hour and more, is beyond the worker's).
    MatchingRunChunk.objects.filter(run=run).update(
        queued_at=timezone.now()
        - timedelta(seconds=settings.MATCHING_RUN_REQUEUE_AFTER_SECONDS + 5)
    )
    sweep = celery_app.send_task("matching.runs_sweep")  # as beat sends it
    wait_until(
        lambda: MatchingRun.objects.filter(pk=run.pk, status=MatchingRun.Status.DONE).exists(),
        timeout=60,
        what="the sweeper to recover the run",
        log=w.log,
        state=broker_state,
    )
    assert w.succeeded(sweep.id) == 1
    run.refresh_from_db()
    assert run.done_chunks == run.total_chunks == OFFERS // CHUNK_SIZE
    assert list(run.chunks.values_list("attempts", flat=True)) == [1] * run.total_chunks
    assert not Offer.objects.filter(needs_matching=True).exists()
    assert Match.objects.exists()


def test_a_killed_workers_restore_lock_expires_within_the_recovery_window() -> None:
    """kombu's restore lock, held by a worker SIGKILLed while it restores, blocks every
    worker's restoring until it expires (5 minutes by default): the settings reach the channel."""
    with celery_app.connection_for_write() as conn:
        channel = conn.default_channel
        assert channel.unacked_mutex_key == UNACKED_MUTEX
        assert channel.unacked_mutex_expire == 30
        assert channel.unacked_mutex_expire < VISIBILITY_TIMEOUT + 60 - 5  # the test's window
