"""Thin Celery adapters around matching services. They take ids and versions, never objects.

acks_late is safe only because every service here is idempotent: a message delivered twice
writes the same rows.
"""

from celery import shared_task
from celery.signals import worker_init
from celery.utils.log import get_task_logger
from django.db import InterfaceError, OperationalError

logger = get_task_logger(__name__)

TRANSIENT = (OperationalError, InterfaceError)

# Every task here: acknowledged after it ran (its service is idempotent), retried with
# back-off on a lost database connection, no result stored.
_IDEMPOTENT = {"acks_late": True, "autoretry_for": TRANSIENT, "retry_backoff": True,
               "ignore_result": True}  # fmt: skip
# Work queued per listing or per chunk: jittered, so that a burst does not retry in step.
_ON_EVENT = {**_IDEMPOTENT, "retry_jitter": True, "max_retries": 5}
# Work beat runs on a schedule: the next run comes soon anyway.
_ON_SCHEDULE = {**_IDEMPOTENT, "max_retries": 3}


@worker_init.connect
def matching_worker_init(sender: object = None, **_: object) -> None:
    """In the main process of a worker whose pool forks (prefork), before it forks: the engine
    imported, and the demand index built if ``MATCHING_WORKER_PREPARE``. A solo or threads pool
    runs its tasks in this process: there is nothing to share, and it loads what it needs
    when a task first needs it."""
    from celery.concurrency import get_implementation
    from celery.concurrency.prefork import TaskPool
    from django.conf import settings

    from matching.services import matching_worker_prepare

    pool = getattr(sender, "pool_cls", None)
    if pool is not None and issubclass(get_implementation(pool), TaskPool):
        matching_worker_prepare(build_index=settings.MATCHING_WORKER_PREPARE)


@shared_task(
    name="matching.listing_match",  # stable wire name; survives module moves
    **_ON_EVENT,
)
def listing_match_task(kind: str, listing_id: int, version: int) -> None:
    from matching.services import matches_refresh_for_listing  # lazy: listings imports tasks

    written = matches_refresh_for_listing(kind=kind, listing_id=listing_id, version=version)
    logger.info("matched %s %s v%s: %s matches", kind, listing_id, version, written)


@shared_task(
    name="matching.prospects_refresh_for_offer",
    **_ON_EVENT,  # acks late safely: the refresh replaces the offer's prospects in one transaction
)
def prospects_refresh_for_offer_task(offer_id: int, version: int) -> None:
    from matching.prospects import prospects_refresh_for_offer

    prospects_refresh_for_offer(offer_id=offer_id, version=version)


@shared_task(
    name="matching.prospects_refresh_range",
    **_ON_EVENT,  # acks late safely: a range refresh writes the same rows however often it runs
)
def prospects_refresh_range_task(first_offer_id: int, last_offer_id: int) -> None:
    """One chunk of a fanned-out prospects refresh (ranges from prospects_offer_ranges)."""
    from matching.prospects import prospects_refresh_for_offer_range

    rows = prospects_refresh_for_offer_range(
        first_offer_id=first_offer_id, last_offer_id=last_offer_id
    )
    logger.info("prospects of offers %s..%s: %s rows", first_offer_id, last_offer_id, rows)


@shared_task(
    name="matching.listings_sweep",
    **_ON_SCHEDULE,
)
def listings_sweep_task() -> None:
    from matching.services import listings_sweep

    requeued = listings_sweep()
    if requeued:
        logger.info("sweeper re-queued %s flagged listings", requeued)


@shared_task(
    name="matching.runs_sweep",
    **_ON_SCHEDULE,
)
def runs_sweep_task() -> None:
    from matching.services import matching_runs_sweep

    requeued = matching_runs_sweep()
    if requeued:
        logger.warning("sweeper re-queued %s stalled chunks of a full rematch", requeued)


@shared_task(
    name="matching.run_chunk",
    **_ON_EVENT,
)
def matching_run_chunk_task(run_id: int, chunk_index: int) -> None:
    from matching.services import matching_run_chunk_process

    matching_run_chunk_process(run_id=run_id, chunk_index=chunk_index)


@shared_task(
    name="matching.introductions_remind",
    **_ON_SCHEDULE,  # acks late safely: a reminder is claimed by its unique MatchEvent row
)
def introductions_remind_task() -> None:
    from matching.nudges import introductions_remind

    sent = introductions_remind()
    if sent:
        logger.info("reminded %s unanswered introduction side(s)", sent)


@shared_task(
    name="matching.digests_send",
    **_ON_SCHEDULE,  # acks late safely: a digest is claimed by its unique (organisation, week) row
)
def digests_send_task() -> None:
    from matching.nudges import digests_send

    sent = digests_send()
    logger.info("weekly digests: %s sent", sent)
