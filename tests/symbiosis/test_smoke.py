"""Start the product the way `make run` does (SQLite, in-process tasks, gunicorn) and fetch the
home page and the admin login; run a full rematch there."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.subprocesses import manage_py

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback only)
        return response.status, response.read().decode()


def _demo_env(var_dir: Path) -> dict[str, str]:
    """The environment of `make run`: no database, broker or settings module from outside."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}
    }
    return env | {"SYMBIOSIS_VAR_DIR": str(var_dir)}


def test_make_run_serves_the_portal(tmp_path: Path) -> None:
    port = _free_port()
    env = _demo_env(tmp_path) | {"PORT": str(port), "PYTHON_BIN": sys.executable}
    env.pop("DJANGO_SECRET_KEY", None)  # the demo generates its own throwaway key
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        ["bash", "scripts/run_demo.sh"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                status, home = _get(f"http://127.0.0.1:{port}/")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        "the demo did not start:\n" + (tmp_path / "server.log").read_text()[-4000:]
                    )
                time.sleep(1)
        assert status == 200
        assert "Symbiosis Exchange" in home
        status, admin = _get(f"http://127.0.0.1:{port}/admin/login/")
        assert status == 200
        assert 'name="password"' in admin
        status, _ = _get(f"http://127.0.0.1:{port}/static/css/app.css")
        assert status == 200
        assert (tmp_path / "symbiosis.sqlite3").is_file()
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
        log.close()


def test_match_all_inline_runs_on_the_embedded_demo(tmp_path: Path) -> None:
    """A full rematch in the demo, as the facilitator's rematch button or `match_all --inline`
    runs it there. The chunk's raw SQL once took a PostgreSQL row lock that SQLite cannot
    parse, and the rematch failed."""
    env = _demo_env(tmp_path) | {"DJANGO_SECRET_KEY": "demo-test-only"}

    def manage(*args: str) -> str:
        done = manage_py(*args, env=env, timeout=600)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
        return done.stdout

    manage("migrate", "--noinput")
    manage("load_reference_data")
    manage("seed_demo")
    report = manage("match_all", "--inline")

    assert "matches written" in report
    counted = (
        manage(
            "shell",
            "-c",
            "from matching.models import Match, MatchingRun; "
            "print(MatchingRun.objects.latest('pk').status, Match.objects.count(), "
            "Match.objects.filter(explanation='').count())",
        )
        .splitlines()[-1]
        .split()
    )
    assert counted[0] == "done"
    assert int(counted[1]) > 0
    assert counted[2] == "0"  # every match explained
