"""The binary COPY payloads of a full rematch read back exactly in PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching import pgcopy

pytestmark = pytest.mark.django_db

texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40)
rows = st.lists(
    st.tuples(
        st.integers(-(2**63), 2**63 - 1),
        st.integers(-(2**31), 2**31 - 1),
        st.floats(allow_nan=False, width=64),
        st.datetimes(
            min_value=datetime(1990, 1, 1),  # noqa: DTZ001 (hypothesis takes naive bounds)
            max_value=datetime(2100, 1, 1),  # noqa: DTZ001
            timezones=st.just(UTC),
        ),
        st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
        st.one_of(st.none(), texts),
        st.lists(texts, max_size=3),
    ),
    max_size=20,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows, st.booleans(), st.integers(1, 25))
def test_every_kind_of_column_reads_back(data: list[tuple], text_first: bool, piece: int) -> None:
    """Either order of the variable columns: a text column first has its length words laid
    out with the fixed fields (the explanations of a full rematch). Written whole or in
    pieces of any number of rows."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE pgcopy_check (a bigint, b integer, c double precision, "
            "d timestamptz, e double precision, f text, g jsonb)"
        )
        variable = {
            "e": pgcopy.Column("float8_or_null", [r[4] for r in data]),
            "f": pgcopy.Column("text", [r[5] for r in data]),
            "g": pgcopy.Column("jsonb", [r[6] for r in data]),
        }
        order = ["f", "e", "g"] if text_first else ["e", "f", "g"]
        columns = [
            pgcopy.Column("int8", np.array([r[0] for r in data], dtype=np.int64)),
            pgcopy.Column("int4", np.array([r[1] for r in data], dtype=np.int64)),
            pgcopy.Column("float8", np.array([r[2] for r in data], dtype=np.float64)),
            pgcopy.Column(
                "timestamptz", np.array([pgcopy.timestamp(r[3]) for r in data], dtype=np.int64)
            ),
            *(variable[name] for name in order),
        ]
        parts = list(pgcopy.encode_parts(columns, rows_per_part=piece))
        assert b"".join(parts) == pgcopy.encode(columns)  # pieces or whole: the same bytes
        with cursor.cursor.copy(
            f"COPY pgcopy_check (a, b, c, d, {', '.join(order)}) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            for part in parts:  # the rows a piece at a time, as a full rematch sends them
                copy.write(part)
        cursor.execute("SELECT a, b, c, d, e, f, g FROM pgcopy_check")
        back = cursor.fetchall()
        transaction.set_rollback(True)
    # Every value exact, NULLs included (Django's connection hands jsonb over as text).
    assert [(*row[:6], json.loads(row[6])) for row in back] == data


def test_fixed_columns_come_first() -> None:
    with pytest.raises(ValueError, match="fixed-width"):
        pgcopy.encode([pgcopy.Column("text", ["x"]), pgcopy.Column("int8", np.array([1]))])


def test_timestamps_count_microseconds_from_2000() -> None:
    moment = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(days=1, microseconds=7)
    assert pgcopy.timestamp(moment) == 86_400_000_007
