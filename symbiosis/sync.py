"""Idempotent table synchronisation for reference data: create what is missing, update what
changed, leave the rest alone. Running a load twice therefore writes nothing the second time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import models


@dataclass(slots=True)
class SyncCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: SyncCounts) -> SyncCounts:
        return SyncCounts(
            self.created + other.created,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
        )

    def __str__(self) -> str:
        return f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"


def sync_rows(
    model: type[models.Model],
    key_fields: tuple[str, ...],
    rows: Mapping[tuple[Any, ...], Mapping[str, Any]],
) -> SyncCounts:
    """Make `model` hold `rows` ({key values: other field values}) without touching equal rows."""
    counts = SyncCounts()
    existing = {
        tuple(getattr(obj, f) for f in key_fields): obj
        for obj in model.objects.filter(
            **({f"{key_fields[0]}__in": [k[0] for k in rows]} if len(key_fields) == 1 else {})
        )
    }
    to_create, to_update, changed_fields = [], [], set()
    for key, values in rows.items():
        obj = existing.get(key)
        if obj is None:
            to_create.append(model(**dict(zip(key_fields, key, strict=True)), **values))
            continue
        changed = {f for f, v in values.items() if getattr(obj, f) != v}
        if changed:
            for f in changed:
                setattr(obj, f, values[f])
            changed_fields |= changed
            to_update.append(obj)
        else:
            counts.unchanged += 1
    model.objects.bulk_create(to_create, batch_size=1000)
    if to_update:
        model.objects.bulk_update(to_update, sorted(changed_fields), batch_size=1000)
    counts.created, counts.updated = len(to_create), len(to_update)
    return counts
