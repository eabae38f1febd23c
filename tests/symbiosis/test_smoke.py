"""Start the product the way `make run` does (SQLite, in-process tasks, gunicorn) and fetch the
home page and the admin login."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback only)
        return response.status, response.read().decode()


def test_make_run_serves_the_portal(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env |= {"SYMBIOSIS_VAR_DIR": str(tmp_path), "PORT": str(port), "PYTHON_BIN": sys.executable}
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
