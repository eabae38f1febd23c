"""`manage.py` in a subprocess of its own, for tests of what a shell user sees: the exit status,
stdout and stderr of a command (no traceback), or the product run as `make run` runs it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def manage_py(
    *args: str, env: Mapping[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `python manage.py ARGS` from the project root with `env`; never raises on a non-zero
    exit (the caller asserts on it)."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
