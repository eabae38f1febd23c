"""docker-compose.yml cannot run here (no Docker engine), so check what can be checked: its
services, and that each command it runs exists in the project."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml
from celery import current_app
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _command(service: dict) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def test_compose_has_the_production_services_from_one_image() -> None:
    services = _compose()["services"]
    assert {"db", "redis", "web", "worker", "beat"} <= set(services)
    python_services = [services[name] for name in ("web", "worker", "beat", "migrate")]
    assert {s["image"] for s in python_services} == {"symbiosis-exchange"}
    assert all(s["build"] == "." for s in python_services)
    assert (ROOT / "Dockerfile").is_file()
    for s in python_services:
        assert s["depends_on"]["db"]["condition"] == "service_healthy"
        assert s["environment"]["DATABASE_URL"].startswith("postgres://")
        assert s["environment"]["CELERY_BROKER_URL"].startswith("redis://")


def test_postgres_has_a_healthcheck_and_redis_persists() -> None:
    services = _compose()["services"]
    assert services["db"]["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert "--appendonly" in services["redis"]["command"]


def test_compose_commands_exist_in_the_project() -> None:
    services = _compose()["services"]
    web = _command(services["web"])
    assert web[0] == "gunicorn"
    module, attribute = web[1].split(":")
    assert (ROOT / (module.replace(".", "/") + ".py")).is_file()
    assert attribute in (ROOT / (module.replace(".", "/") + ".py")).read_text()

    for name in ("worker", "beat"):
        command = _command(services[name])
        assert command[:3] == ["celery", "-A", "symbiosis"]
        assert command[3] == name
    assert current_app.main == "symbiosis"

    migrate = " ".join(_command(services["migrate"]))
    for management_command in ("migrate", "load_reference_data"):
        assert f"manage.py {management_command}" in migrate
        assert management_command in get_commands()


def test_beat_schedule_names_registered_tasks() -> None:
    from django.conf import settings

    import matching.tasks  # noqa: F401  (registers the tasks)

    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in current_app.tasks, entry["task"]


def test_every_matching_task_acks_late_and_retries_a_lost_database() -> None:
    """The tasks share one retry policy: acknowledged after running (their services are
    idempotent), retried on a lost connection, no result kept; queued work jitters its retries."""
    import matching.tasks as tasks

    matching = {n: t for n, t in current_app.tasks.items() if n.startswith("matching.")}
    assert len(matching) >= 8
    for name, task in matching.items():
        assert task.acks_late, name
        assert task.ignore_result, name
        assert tuple(task.autoretry_for) == tasks.TRANSIENT, name
        assert task.retry_backoff, name
    assert matching["matching.run_chunk"].retry_jitter
    assert matching["matching.run_chunk"].max_retries == 5
    assert matching["matching.runs_sweep"].max_retries == 3
