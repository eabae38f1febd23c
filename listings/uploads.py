"""Keeping an uploaded import file between its preview and its confirmation.

The bytes go to a file with a random name under VAR_DIR/uploads/; only the name, the original
file name, the SHA-256 and the organisation travel in the (server-side) session. A stash is read
only by the session that made it, for the organisation it was made for, and only if its bytes
are unchanged. Stashes older than STASH_MAX_AGE are swept whenever a new one is made.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from django.conf import settings

from .importing import MAX_FILE_BYTES

STASH_MAX_AGE: Final = 24 * 3600
_TOKEN: Final = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class Stash:
    token: str
    filename: str
    sha256: str
    organization_id: int

    def as_session(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "filename": self.filename,
            "sha256": self.sha256,
            "organization_id": self.organization_id,
        }

    @classmethod
    def from_session(cls, value: Any) -> Stash | None:
        try:
            stash = cls(
                token=str(value["token"]),
                filename=str(value["filename"]),
                sha256=str(value["sha256"]),
                organization_id=int(value["organization_id"]),
            )
        except (TypeError, KeyError, ValueError):
            return None
        return stash if _TOKEN.fullmatch(stash.token) else None


def _directory() -> Path:
    directory = Path(settings.VAR_DIR) / "uploads"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def upload_stash(*, data: bytes, filename: str, organization_id: int) -> Stash:
    if len(data) > MAX_FILE_BYTES:
        raise ValueError("the file is larger than the importer's limit")
    directory = _directory()
    cutoff = time.time() - STASH_MAX_AGE
    for old in directory.glob("*.upload"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    token = secrets.token_hex(16)
    (directory / f"{token}.upload").write_bytes(data)
    return Stash(
        token=token,
        filename=Path(filename).name[-200:],
        sha256=hashlib.sha256(data).hexdigest(),
        organization_id=organization_id,
    )


def upload_load(stash: Stash) -> bytes | None:
    """The stashed bytes, or None when they are gone (swept, confirmed already) or altered."""
    path = _directory() / f"{stash.token}.upload"
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != stash.sha256:
        return None
    return data


def upload_discard(stash: Stash) -> None:
    (_directory() / f"{stash.token}.upload").unlink(missing_ok=True)
