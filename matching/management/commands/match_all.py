import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from matching.models import MatchingRun
from matching.services import RUN_CHUNK_SIZE, matching_run_chunk_process, matching_run_start


class Command(BaseCommand):
    help = (
        "Full rematch of every published offer against every published demand. Goes through "
        "the Celery workers when a broker is configured, waits and shows progress; --inline "
        "runs it in this process. Exits 0 when the run is done."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--inline", action="store_true", help="Run in this process.")
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=RUN_CHUNK_SIZE,
            help="Offers per chunk (default: two chunks per worker, at least 500).",
        )
        parser.add_argument(
            "--timeout", type=int, default=3600, help="Seconds to wait for the workers."
        )

    def handle(
        self, *args: Any, inline: bool, chunk_size: int | None, timeout: int, **opts: Any
    ) -> None:
        if chunk_size is not None and chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1", returncode=2)
        inline = inline or settings.CELERY_TASK_ALWAYS_EAGER
        run = matching_run_start(chunk_size=chunk_size, enqueue=not inline)
        show = opts.get("verbosity", 1) > 0
        with tqdm(
            total=run.total_chunks, unit="chunk", disable=not show, file=self.stderr._out
        ) as bar:
            if inline:
                for index in range(run.total_chunks):
                    matching_run_chunk_process(run_id=run.pk, chunk_index=index, inline=True)
                    bar.update(1)
            else:
                deadline = time.monotonic() + timeout
                while True:
                    run.refresh_from_db()
                    bar.update(run.done_chunks - bar.n)
                    if run.status in (MatchingRun.Status.DONE, MatchingRun.Status.FAILED):
                        break
                    if time.monotonic() > deadline:
                        raise CommandError(
                            f"run {run.pk} not done after {timeout} s "
                            f"({run.done_chunks}/{run.total_chunks} chunks); are workers running?"
                        )
                    time.sleep(0.5)
        run.refresh_from_db()
        if run.status != MatchingRun.Status.DONE:
            raise CommandError(f"run {run.pk} ended {run.status}: {run.error}")
        self.stdout.write(
            f"run {run.pk}: {run.total_listings} offers in {run.total_chunks} chunks, "
            f"{run.matches_written} matches written"
        )
