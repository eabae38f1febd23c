"""Rows in PostgreSQL's binary COPY format, built column by column with NumPy.

A full rematch writes about a million match rows per chunk. Formatting them row by row (text
COPY through ``copy.write_row``) costs about 10 µs a row here; laying the fixed-width columns
out as arrays and joining the few variable-width ones costs about 1 µs. The format is
PostgreSQL's own (https://www.postgresql.org/docs/current/sql-copy.html, "Binary Format"):
a header, then per row a 16-bit field count and, per field, a 32-bit length (-1 for NULL)
and the value in network byte order; then a trailer.

Pure: NumPy and the standard library only. ``tests/matching/test_pgcopy.py`` holds it to
what PostgreSQL reads back.
"""

from __future__ import annotations

import itertools
import json
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import numpy as np
import numpy.typing as npt

HEADER: Final = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
TRAILER: Final = (-1).to_bytes(2, "big", signed=True)
NULL: Final = (-1).to_bytes(4, "big", signed=True)
_POSTGRES_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)
_FIXED: Final = {"int8": ">i8", "int4": ">i4", "float8": ">f8", "timestamptz": ">i8"}
_FLOAT_FIELD: Final = struct.Struct(">id")  # length 8, then the value
_FEW: Final = 4096  # distinct values below which a column is encoded once per value


def timestamp(value: datetime) -> int:
    """A timestamptz as PostgreSQL stores it: microseconds since 2000-01-01 UTC."""
    delta = value - _POSTGRES_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the rows: ``kind`` is int8, int4, float8 or timestamptz (an array, no
    NULL; timestamps in microseconds since 2000, see ``timestamp``), text, jsonb (a sequence
    of values, None for NULL) or float8_or_null (a sequence of float or None)."""

    kind: str
    values: npt.ArrayLike | Sequence[object]


def _fixed_block(
    columns: Sequence[Column], n: int, fields: int, lead_length: npt.NDArray[np.int64] | None
) -> npt.NDArray[np.uint8]:
    """The fixed-width fields of every row, as an n × width byte array, with the row's field
    count in front and, given ``lead_length``, the length word of the first variable field
    behind."""
    parts = [np.full((n, 1), fields, dtype=">i2").view(np.uint8)]
    for column in columns:
        dtype = np.dtype(_FIXED[column.kind])
        values = np.asarray(column.values).astype(dtype, copy=False).reshape(n, 1)
        parts.append(np.full((n, 1), dtype.itemsize, dtype=">i4").view(np.uint8))
        parts.append(values.view(np.uint8))
    if lead_length is not None:
        parts.append(lead_length.astype(">i4").reshape(n, 1).view(np.uint8))
    return np.ascontiguousarray(np.hstack(parts))


def _lead_text(values: Sequence[object]) -> tuple[list[bytes], npt.NDArray[np.int64]]:
    """A text column laid out as data alone, its length words (-1 for NULL) going into the
    fixed block: no per-row concatenation for the column of a million distinct texts (the
    explanations)."""
    data = [b"" if v is None else str(v).encode() for v in values]
    length = np.fromiter(map(len, data), dtype=np.int64, count=len(data))
    if None in values:
        length[[n for n, v in enumerate(values) if v is None]] = -1
    return data, length


def _text(value: object) -> bytes:
    data = str(value).encode()
    return len(data).to_bytes(4, "big") + data


def _jsonb(value: object) -> bytes:
    data = b"\x01" + json.dumps(value).encode()  # jsonb's binary form: version 1, then text
    return len(data).to_bytes(4, "big") + data


def _variable(column: Column) -> list[bytes]:
    """Length-prefixed fields of a variable-width column; a column of few distinct values
    (a mode, a procedure, the flags of a legal outcome) is encoded once per value."""
    values: Sequence[object] = column.values  # type: ignore[assignment]
    if column.kind == "float8_or_null":
        return [NULL if v is None else _FLOAT_FIELD.pack(8, v) for v in values]
    encode = _text if column.kind == "text" else _jsonb
    if column.kind == "text":
        distinct = set(values)
        if len(distinct) <= _FEW:
            table = {v: NULL if v is None else encode(v) for v in distinct}
            return list(map(table.__getitem__, values))
        return [NULL if v is None else encode(v) for v in values]
    # jsonb values (lists, dicts) are unhashable: the caller shares one object per distinct
    # value, so they are told apart by identity (all of them live while this runs).
    objects = {id(v): v for v in values}
    if len(objects) <= _FEW:
        table = {k: NULL if v is None else encode(v) for k, v in objects.items()}
        return [table[id(v)] for v in values]
    return [NULL if v is None else encode(v) for v in values]


def encode(columns: Sequence[Column]) -> bytes:
    """The whole COPY payload (header, rows, trailer) of equally long columns. The fixed-width
    columns must come first: each row is laid out in the order given."""
    return b"".join(encode_parts(columns, rows_per_part=max(1, _length(columns))))


def encode_parts(columns: Sequence[Column], *, rows_per_part: int) -> Iterator[bytes]:
    """``encode``'s payload in pieces to write one after the other: the header, the rows
    ``rows_per_part`` at a time, the trailer. A piece's strings and buffers go before the next
    is made (a million rows' payload never sits in memory whole)."""
    kinds = [c.kind in _FIXED for c in columns]
    if kinds != sorted(kinds, reverse=True):
        raise ValueError("put the fixed-width columns before the variable-width ones")
    n = _length(columns)
    yield HEADER
    for start in range(0, n, rows_per_part):
        stop = start + rows_per_part
        yield _rows([Column(c.kind, c.values[start:stop]) for c in columns])  # type: ignore[index]
    yield TRAILER


def _length(columns: Sequence[Column]) -> int:
    fixed = [c for c in columns if c.kind in _FIXED]
    return len(np.asarray(fixed[0].values)) if fixed else len(columns[0].values)  # type: ignore[arg-type]


def _rows(columns: Sequence[Column]) -> bytes:
    """The rows of equally long columns, fixed-width ones first, without header or trailer."""
    fixed = [c for c in columns if c.kind in _FIXED]
    variable = [c for c in columns if c.kind not in _FIXED]
    n = _length(columns)
    fields: list[Sequence[bytes]] = []
    lead_length = None
    if variable and variable[0].kind == "text":  # its length word joins the fixed block
        lead, lead_length = _lead_text(variable[0].values)  # type: ignore[arg-type]
        fields.append(lead)
        variable = variable[1:]
    block = _fixed_block(fixed, n, len(columns), lead_length)
    width = block.shape[1]
    raw = block.tobytes()
    heads = [raw[i : i + width] for i in range(0, n * width, width)]
    fields += map(_variable, variable)
    return b"".join(itertools.chain.from_iterable(zip(heads, *fields, strict=True)))
