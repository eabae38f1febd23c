"""The entry point of the full-rematch benchmark's worker parent (``bench.worker_parent``).

A fresh interpreter, as a Celery worker's main process is: it must import nothing of Django's
before ``django.setup()``, hence this module of its own.
"""

from __future__ import annotations

from typing import Any


def main(run_jobs: Any, events: Any, *, workers: int, index: str) -> None:
    import django

    django.setup()
    from matching import bench

    bench.worker_parent(run_jobs, events, workers=workers, index=index)
