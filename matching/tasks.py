"""Thin Celery adapters around matching services. They take ids and versions, never objects.

acks_late is safe only because every service here is idempotent: a message delivered twice
writes the same rows.
"""

from celery import shared_task
from celery.utils.log import get_task_logger
from django.db import InterfaceError, OperationalError

logger = get_task_logger(__name__)

TRANSIENT = (OperationalError, InterfaceError)


@shared_task(
    name="matching.listing_match",  # stable wire name; survives module moves
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
    ignore_result=True,
)
def listing_match_task(kind: str, listing_id: int, version: int) -> None:
    from matching.services import matches_refresh_for_listing  # lazy: listings imports tasks

    written = matches_refresh_for_listing(kind=kind, listing_id=listing_id, version=version)
    logger.info("matched %s %s v%s: %s matches", kind, listing_id, version, written)


@shared_task(
    name="matching.listings_sweep",
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    max_retries=3,
    ignore_result=True,
)
def listings_sweep_task() -> None:
    from matching.services import listings_sweep

    requeued = listings_sweep()
    if requeued:
        logger.info("sweeper re-queued %s flagged listings", requeued)


@shared_task(
    name="matching.run_chunk",
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
    ignore_result=True,
)
def matching_run_chunk_task(run_id: int, chunk_index: int) -> None:
    from matching.services import matching_run_chunk_process

    matching_run_chunk_process(run_id=run_id, chunk_index=chunk_index)
