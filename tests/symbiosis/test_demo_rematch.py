"""A full rematch in the embedded demo (`make run`: SQLite, in-process tasks), the way a
facilitator's rematch button or `match_all --inline` runs it there. The chunk's raw SQL once
took a PostgreSQL row lock that SQLite cannot parse, and the rematch failed there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_match_all_inline_runs_on_the_embedded_demo(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env |= {"SYMBIOSIS_VAR_DIR": str(tmp_path), "DJANGO_SECRET_KEY": "demo-test-only"}

    def manage(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
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
