"""The match table a full rematch builds beside the live one, and the swap that puts it live
(PostgreSQL; DESIGN.md, "Pipeline and reliability": "write only what changed, or stage and
swap").

Writing a million match rows into the live table costs minutes here: every row updates seven
indexes in random order and queues two foreign-key checks (each a locking lookup of the
listing). A full rematch therefore fills a bare table of its own instead:

1. ``create``: ``matching_match_run_<id>``, the live table's columns and check constraints,
   no index, no foreign key.
2. ``insert_chunk`` (each chunk, in its own transaction): the chunk's rows go by COPY into a
   temporary table, then into the run table joined with the live one, so that a pair already
   stored keeps its id, its creation time and the companies' answers. A pair a person has
   moved past "proposed" is not written: the live row stays.
3. ``prepare`` then ``swap`` (once every chunk is done):
   - ``prepare``, without any lock on the live table: the primary key, the unique pair
     constraint and every other index of the live table are built on the run table in bulk
     (sorted, in parallel workers where PostgreSQL uses them), far faster than row by row;
   - ``swap``, in one short transaction holding the listing tables in SHARE mode (no edit
     or delete meanwhile; reads go on) and the live match table in EXCLUSIVE mode (reads go
     on): rows of listings that are gone or no longer published are dropped; every live row
     a person has reviewed, and every live row written since the run started (the
     incremental path kept running), replaces the run's row of its pair; the foreign keys
     are added and validated in one scan each; events of matches that are gone are deleted
     (as the cascade would); the live table is dropped and the run table takes its name,
     its constraints' and indexes' names, and an identity that goes on from the old one.

   Listings edited during the run are flagged ``needs_matching`` by the caller, so the
   sweeper matches them again against what is live now.

The names of the live table's constraints and indexes are read from the catalogue, so a
migration that adds an index is carried over without a change here
(``tests/matching/test_run_table.py`` holds the swapped table to the migrated schema).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from django.db import connection
from django.db.models import Field
from django.utils import timezone

from listings.models import Demand, ListingStatus, Offer

from . import pgcopy
from .engine import top_k_union_mask
from .models import Match, MatchEvent, Stage

if TYPE_CHECKING:
    from .services import MatchColumns

SCORE_COLUMNS: tuple[str, ...] = (
    "score",
    "material_score",
    "quantity_score",
    "distance_score",
    "legal_score",
    "timing_score",
)
COPY_PIECE_ROWS = 5_000  # rows encoded and sent to PostgreSQL at a time
_READ_OFFER_IDS = 5_000  # offer ids whose stored matches are read back at a time
_INDEX_DEF_RE = re.compile(r"^(CREATE (?:UNIQUE )?INDEX )(\S+)( ON )(\S+)( .*)$", re.DOTALL)


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _carried() -> list[Field[Any, Any]]:
    """The match columns a chunk does not compute: the stage, the answers and outcomes."""
    computed = {"id", "created_at", "updated_at", "offer", "demand", *SCORE_COLUMNS,
                "distance_km", "transport_mode", "cost_eur_per_tonne", "co2_kg_per_tonne",
                "tonnes_per_year", "legal_procedure", "legal_flags", "explanation",
                "scoring_version", "offer_version", "demand_version"}  # fmt: skip
    return [f for f in Match._meta.concrete_fields if f.name not in computed]


@dataclass(frozen=True, slots=True, eq=False)
class _Stored:
    """The live matches of a chunk's offers, sorted by pair."""

    key: npt.NDArray[np.int64]
    id: npt.NDArray[np.int64]
    reviewed: npt.NDArray[np.bool_]  # past "proposed"
    created: npt.NDArray[np.int64]  # µs since 2000 (``pgcopy.timestamp``)
    carried: npt.NDArray[np.bool_]  # answers or outcomes recorded: copied over one by one

    @classmethod
    def read(cls, cursor: Any, live: str, first: int, last: int) -> _Stored:
        """The six 8-byte columns of every row, packed by PostgreSQL into one bytea per
        ``_READ_OFFER_IDS`` offer ids and read as NumPy arrays (a million rows as tuples took
        seconds; as one value, the result, its bytes and their copy held 220 MB at once)."""
        fields = _carried()
        recorded = " OR ".join(f"{_q(f.column)} IS DISTINCT FROM %s" for f in fields)
        defaults = [f.get_db_prep_save(f.get_default(), connection) for f in fields]
        pieces: list[npt.NDArray[np.int64]] = []
        for start in range(first, last + 1, _READ_OFFER_IDS):
            cursor.execute(
                "SELECT string_agg(int8send(offer_id) || int8send(demand_id) || int8send(id) "  # noqa: S608
                "|| int8send((stage <> %s)::int) || timestamptz_send(created_at) "
                f"|| int8send(({recorded})::int), ''::bytea) FROM {_q(live)} "
                "WHERE offer_id BETWEEN %s AND %s",
                [Stage.PROPOSED, *defaults, start, min(start + _READ_OFFER_IDS - 1, last)],
            )
            packed = cursor.fetchone()[0]
            pieces.append(np.frombuffer(packed or b"", dtype=">i8").astype(np.int64))
            del packed
        rows = np.concatenate(pieces).reshape(-1, 6)
        del pieces
        # created_at: timestamptz_send gives µs since 2000, as ``pgcopy.timestamp`` counts
        offer, demand, ids, reviewed, created, carried = (rows[:, n] for n in range(6))
        key = _pair_key(offer, demand)
        order = np.argsort(key)
        return cls(
            key[order],
            ids[order],
            reviewed[order].astype(np.bool_),
            created[order],
            carried[order].astype(np.bool_),
        )

    def find(
        self, offer_id: npt.NDArray[np.int64], demand_id: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """(position, found) of each pair."""
        key = _pair_key(offer_id, demand_id)
        if self.key.size == 0:
            return np.zeros(key.size, dtype=np.int64), np.zeros(key.size, dtype=np.bool_)
        at = np.minimum(np.searchsorted(self.key, key), self.key.size - 1)
        return at, self.key[at] == key


def _pair_key(
    offer_id: npt.NDArray[np.int64], demand_id: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """One int64 per (offer, demand): ids stay far below 2**31 here; larger ones fail loudly
    rather than collide."""
    if offer_id.size and max(int(offer_id.max()), int(demand_id.max())) >= 1 << 31:
        raise OverflowError("listing ids beyond 2**31: widen the pair key")
    return (offer_id.astype(np.int64) << 31) | demand_id.astype(np.int64)


@dataclass(frozen=True, slots=True)
class SwapResult:
    replaced: int  # run rows whose pair the live table had reviewed or rewritten meanwhile
    kept_from_live: int  # reviewed or recently written rows carried over
    dropped_orphans: int  # run rows whose listing was deleted or unpublished meanwhile
    events_deleted: int  # events of proposed matches that are gone


class RunTable:
    """The run table of one full rematch."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self.name = f"matching_match_run_{int(run_id)}"
        self.live = Match._meta.db_table

    # -- building ----------------------------------------------------------------------

    def create(self) -> None:
        """A new, empty run table (a stale one of the same run is dropped first). Its id takes
        the live table's next values, and the columns a chunk does not write default to a new
        match's values (proposed, no answers)."""
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {_q(self.name)}")
            cursor.execute(
                f"CREATE TABLE {_q(self.name)} "
                f"(LIKE {_q(self.live)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
            )
            defaults = [f"ALTER COLUMN {_q(Match._meta.pk.column)} SET DEFAULT nextval(%s)"]
            params: list[Any] = [self._sequence(cursor)]
            for f in _carried():
                defaults.append(f"ALTER COLUMN {_q(f.column)} SET DEFAULT %s")
                params.append(f.get_db_prep_save(f.get_default(), connection))
            cursor.execute(f"ALTER TABLE {_q(self.name)} {', '.join(defaults)}", params)

    def exists(self) -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [self.name])
            return bool(cursor.fetchone()[0])

    def drop(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {_q(self.name)}")

    @staticmethod
    def drop_all() -> list[str]:
        """Drop every run table there is (call when no run is running): a table left by a run
        whose worker died, or whose row was deleted, takes its ids from the live table's
        sequence, and would keep the next swap from dropping the live table. Returns their
        names."""
        pattern = "^" + re.escape(f"{Match._meta.db_table}_run_") + "[0-9]+$"
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind = 'r' AND n.nspname = current_schema() AND c.relname ~ %s",
                [pattern],
            )
            names = sorted(str(name) for (name,) in cursor.fetchall())
            for name in names:
                cursor.execute(f"DROP TABLE IF EXISTS {_q(name)}")
        return names

    def insert_chunk(
        self, parts: Iterable[MatchColumns], *, first_offer_id: int, last_offer_id: int
    ) -> int:
        """Add a chunk's scored pairs (call inside the chunk's transaction; the chunk's offers
        have ids first..last). A pair stored live keeps its id and creation time, and its
        answers; a pair stored live past "proposed" is not added (the live row stays).
        Returns the rows added."""
        now = pgcopy.timestamp(timezone.now())
        with connection.cursor() as cursor:
            stored = _Stored.read(cursor, self.live, first_offer_id, last_offer_id)
            carried: list[npt.NDArray[np.int64]] = []
            added = 0
            for columns in parts:
                at, hit = stored.find(columns.offer_id, columns.demand_id)
                new = np.flatnonzero(~hit)
                old = np.flatnonzero(hit)
                old = old[~stored.reviewed[at[old]]]
                carried.append(stored.id[at[old[stored.carried[at[old]]]]])
                batches = (
                    (new, None, np.full(new.size, now)),
                    (old, stored.id[at[old]], stored.created[at[old]]),
                )
                for rows, ids, created in batches:
                    if rows.size:
                        self._copy(cursor, columns, rows, ids=ids, created=created, now=now)
                added += new.size + old.size
            ids = np.concatenate(carried) if carried else np.zeros(0, dtype=np.int64)
            if ids.size:  # answers and outcomes recorded on proposed matches
                names = [_q(f.column) for f in _carried()]
                cursor.execute(
                    f"UPDATE {_q(self.name)} r SET ({', '.join(names)}) = "  # noqa: S608
                    f"(SELECT {', '.join(f'm.{c}' for c in names)} FROM {_q(self.live)} m "
                    "WHERE m.id = r.id) WHERE r.id = ANY(%s)",
                    [ids.tolist()],
                )
        return added

    def _copy(
        self,
        cursor: Any,
        columns: MatchColumns,
        rows: npt.NDArray[np.int64],
        *,
        ids: npt.NDArray[np.int64] | None,
        created: npt.NDArray[np.int64],
        now: int,
    ) -> None:
        """COPY the given rows of ``columns`` in binary, with their ids (None: the table's
        default, the live sequence)."""
        from .scoring import SCORING_VERSION

        fixed: list[tuple[str, pgcopy.Column]] = [
            ("offer_id", pgcopy.Column("int8", columns.offer_id[rows])),
            ("demand_id", pgcopy.Column("int8", columns.demand_id[rows])),
        ]
        if ids is not None:
            fixed.append((Match._meta.pk.column, pgcopy.Column("int8", ids)))
        fixed += [
            ("created_at", pgcopy.Column("timestamptz", created)),
            ("updated_at", pgcopy.Column("timestamptz", np.full(rows.size, now))),
            *(
                (name, pgcopy.Column("float8", values[rows]))
                for name, values in zip(SCORE_COLUMNS, columns.scores, strict=True)
            ),
            ("distance_km", pgcopy.Column("float8", columns.distance_km[rows])),
            ("cost_eur_per_tonne", pgcopy.Column("float8", columns.cost_eur_per_tonne[rows])),
            ("co2_kg_per_tonne", pgcopy.Column("float8", columns.co2_kg_per_tonne[rows])),
            ("offer_version", pgcopy.Column("int4", columns.offer_version[rows])),
            ("demand_version", pgcopy.Column("int4", columns.demand_version[rows])),
        ]
        whole = rows.size == len(columns)  # rows are ascending: the batch as it is
        pick = rows.tolist()

        def each(values: Sequence[Any]) -> Sequence[Any]:
            return values if whole else [values[i] for i in pick]

        variable = [  # the explanation first: pgcopy lays its lengths out with the fixed fields
            ("explanation", pgcopy.Column("text", each(columns.explanation))),
            ("tonnes_per_year", pgcopy.Column("float8_or_null", each(columns.tonnes_per_year))),
            ("transport_mode", pgcopy.Column("text", each(columns.transport_mode))),
            ("legal_procedure", pgcopy.Column("text", each(columns.legal_procedure))),
            ("legal_flags", pgcopy.Column("jsonb", each(columns.legal_flags))),
            ("scoring_version", pgcopy.Column("text", [SCORING_VERSION] * rows.size)),
        ]
        named = fixed + variable
        names = ", ".join(_q(name) for name, _ in named)
        with cursor.cursor.copy(
            f"COPY {_q(self.name)} ({names}) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            # In pieces: a batch's whole payload made about 90 MB of objects at once.
            for piece in pgcopy.encode_parts(
                [column for _, column in named], rows_per_part=COPY_PIECE_ROWS
            ):
                copy.write(piece)

    # -- swapping ----------------------------------------------------------------------

    def _temporary(self, kind: str, n: int) -> str:
        return f"mrun{int(self.run_id)}_{kind}{n}"

    def prepare(self, *, top_k: int | None) -> int:
        """Keep the global top ``top_k`` of each offer and of each demand (None: the rows are
        known to be those already), then build the live table's primary key, unique
        constraints and indexes on the run table in bulk, without any lock on the live table.
        Idempotent (a retried finish does it again). Returns the rows dropped.

        Each chunk kept every demand's top k among its own offers; a demand's global top k is
        among those, and an offer's is whole in its chunk. Ties go to the smaller id of the
        other side, as in the engine (``engine.merge_top_k``)."""
        with connection.cursor() as cursor:
            constraints = self._constraints(cursor)
            indexes = self._plain_indexes(cursor)
            # Room to sort a million keys in memory (this session only, for these builds).
            cursor.execute("SET maintenance_work_mem = '512MB'")
            cursor.execute("SET work_mem = '256MB'")
            try:
                dropped = 0 if top_k is None else self._keep_top_k(cursor, top_k)
                for n, (_, kind, definition) in enumerate(constraints):
                    if kind in ("p", "u"):
                        name = _q(self._temporary("c", n))
                        cursor.execute(
                            f"ALTER TABLE {_q(self.name)} DROP CONSTRAINT IF EXISTS {name}"
                        )
                        cursor.execute(
                            f"ALTER TABLE {_q(self.name)} ADD CONSTRAINT {name} {definition}"
                        )
                for n, (_, definition) in enumerate(indexes):
                    found = _INDEX_DEF_RE.match(definition)
                    if found is None:
                        raise ValueError(f"unexpected index definition: {definition}")
                    head, _, on, _, rest = found.groups()
                    name = _q(self._temporary("i", n))
                    cursor.execute(f"DROP INDEX IF EXISTS {name}")
                    cursor.execute(f"{head}{name}{on}{_q(self.name)}{rest}")
                cursor.execute(f"ANALYZE {_q(self.name)}")
            finally:
                cursor.execute("RESET maintenance_work_mem")
                cursor.execute("RESET work_mem")
        return dropped

    def _keep_top_k(self, cursor: Any, top_k: int) -> int:
        """Delete the rows in neither top k; returns how many. The pairs and scores are read
        as one packed value and ranked in NumPy (``engine.top_k_union_mask``): a window
        function over two million rows took half a minute here."""
        cursor.execute(
            "SELECT string_agg(int8send(id) || int8send(offer_id) || int8send(demand_id) "  # noqa: S608
            f"|| float8send(score), ''::bytea) FROM {_q(self.name)}"
        )
        packed = cursor.fetchone()[0]
        rows = np.frombuffer(bytes(packed or b""), dtype=[("id", ">i8"), ("offer", ">i8"),
                             ("demand", ">i8"), ("score", ">f8")])  # fmt: skip
        keep = top_k_union_mask(
            rows["offer"].astype(np.int64),
            rows["demand"].astype(np.int64),
            rows["score"].astype(np.float64),
            top_k,
        )
        drop = rows["id"][~keep].astype(np.int64)
        if drop.size:
            pk = _q(Match._meta.pk.column)
            cursor.execute(  # a hash join: "= ANY" of a long array is a linear scan per row
                f"DELETE FROM {_q(self.name)} r USING unnest(%s::bigint[]) AS d(id) "  # noqa: S608
                f"WHERE r.{pk} = d.id",
                [drop.tolist()],
            )
        return int(drop.size)

    def swap(self, *, started_at: datetime) -> SwapResult:
        """Put the prepared run table live (see the module docstring); call it inside a
        transaction, which the caller commits with the run's own bookkeeping. Rows of the live
        table written at or after ``started_at`` win over the run's.

        Locks: the listing tables (SHARE) and the live match table (EXCLUSIVE, then ACCESS
        EXCLUSIVE for the drop) until the caller's transaction ends."""
        with connection.cursor() as cursor:
            # Settle the transaction's deferred foreign-key checks now: a table with pending
            # trigger events cannot be altered or dropped.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            constraints = self._constraints(cursor)
            indexes = self._plain_indexes(cursor)
            cursor.execute(
                f"LOCK TABLE {_q(Offer._meta.db_table)}, {_q(Demand._meta.db_table)} IN SHARE MODE"
            )
            cursor.execute(f"LOCK TABLE {_q(self.live)} IN EXCLUSIVE MODE")
            orphans = 0
            for model, column in ((Offer, "offer_id"), (Demand, "demand_id")):
                cursor.execute(
                    f"DELETE FROM {_q(self.name)} r WHERE NOT EXISTS "  # noqa: S608
                    f"(SELECT 1 FROM {_q(model._meta.db_table)} l "
                    f"WHERE l.id = r.{column} AND l.status = %s)",
                    [ListingStatus.PUBLISHED],
                )
                orphans += cursor.rowcount
            live_wins = "m.stage <> %s OR m.updated_at >= %s"
            cursor.execute(
                f"DELETE FROM {_q(self.name)} r USING {_q(self.live)} m "  # noqa: S608
                f"WHERE r.offer_id = m.offer_id AND r.demand_id = m.demand_id "
                f"AND ({live_wins})",
                [Stage.PROPOSED, started_at],
            )
            replaced = cursor.rowcount
            columns = ", ".join(_q(f.column) for f in Match._meta.concrete_fields)
            cursor.execute(
                f"INSERT INTO {_q(self.name)} ({columns}) "  # noqa: S608
                f"SELECT {columns} FROM {_q(self.live)} m WHERE {live_wins}",
                [Stage.PROPOSED, started_at],
            )
            kept = cursor.rowcount
            renames = [
                (self._temporary("c", n), name)
                for n, (name, kind, _) in enumerate(constraints)
                if kind in ("p", "u")
            ]
            for n, (name, kind, definition) in enumerate(constraints):
                if kind == "f":
                    temporary = self._temporary("f", n)
                    cursor.execute(
                        f"ALTER TABLE {_q(self.name)} "
                        f"ADD CONSTRAINT {_q(temporary)} {definition} NOT VALID"
                    )
                    cursor.execute(
                        f"ALTER TABLE {_q(self.name)} VALIDATE CONSTRAINT {_q(temporary)}"
                    )
                    renames.append((temporary, name))
            events = _q(MatchEvent._meta.db_table)
            cursor.execute(
                f"DELETE FROM {events} e WHERE NOT EXISTS "  # noqa: S608 (model tables)
                f"(SELECT 1 FROM {_q(self.name)} r WHERE r.id = e.match_id)"
            )
            events_deleted = cursor.rowcount
            referencing = self._referencing(cursor)
            for table, name, _ in referencing:
                cursor.execute(f"ALTER TABLE {_q(table)} DROP CONSTRAINT {_q(name)}")
            pk = _q(Match._meta.pk.column)
            cursor.execute(
                f"SELECT GREATEST((SELECT last_value FROM {self._sequence(cursor)}), "  # noqa: S608
                f"(SELECT max({pk}) FROM {_q(self.name)}), 0)"
            )
            last_id = int(cursor.fetchone()[0])
            undefault = ", ".join(
                f"ALTER COLUMN {_q(f.column)} DROP DEFAULT" for f in (Match._meta.pk, *_carried())
            )
            cursor.execute(f"ALTER TABLE {_q(self.name)} {undefault}")
            cursor.execute(f"DROP TABLE {_q(self.live)}")
            cursor.execute(f"ALTER TABLE {_q(self.name)} RENAME TO {_q(self.live)}")
            for temporary, final in renames:
                cursor.execute(
                    f"ALTER TABLE {_q(self.live)} RENAME CONSTRAINT {_q(temporary)} TO {_q(final)}"
                )
            for n, (name, _) in enumerate(indexes):
                cursor.execute(f"ALTER INDEX {_q(self._temporary('i', n))} RENAME TO {_q(name)}")
            cursor.execute(
                f"ALTER TABLE {_q(self.live)} ALTER COLUMN {pk} "
                f"ADD GENERATED BY DEFAULT AS IDENTITY (START WITH {last_id + 1})"
            )
            for table, name, definition in referencing:
                cursor.execute(
                    f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(name)} {definition} NOT VALID"
                )
                cursor.execute(f"ALTER TABLE {_q(table)} VALIDATE CONSTRAINT {_q(name)}")
        return SwapResult(replaced, kept, orphans, events_deleted)

    def _constraints(self, cursor: Any) -> list[tuple[str, str, str]]:
        """(name, kind, definition) of the live table's primary key, unique and foreign-key
        constraints (its check constraints come with ``create``)."""
        cursor.execute(
            "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('p', 'u', 'f') ORDER BY conname",
            [self.live],
        )
        return [(str(a), str(b), str(c)) for a, b, c in cursor.fetchall()]

    def _plain_indexes(self, cursor: Any) -> list[tuple[str, str]]:
        """(name, definition) of the live table's indexes that back no constraint."""
        cursor.execute(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = %s::regclass AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) ORDER BY 1",
            [self.live],
        )
        return [(str(a), str(b)) for a, b in cursor.fetchall()]

    def _referencing(self, cursor: Any) -> list[tuple[str, str, str]]:
        """(table, name, definition) of the foreign keys that point at the live table."""
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE confrelid = %s::regclass AND contype = 'f'",
            [self.live],
        )
        found = [(str(a), str(b), str(c)) for a, b, c in cursor.fetchall()]
        expected = {MatchEvent._meta.db_table}
        tables = {table for table, _, _ in found}
        if tables - expected:
            # A new table points at matches: decide what the swap does with its rows first.
            raise RuntimeError(f"tables referencing matches not handled: {tables - expected}")
        return found

    def _sequence(self, cursor: Any) -> str:
        """The live table's id sequence, as a qualified, quoted name."""
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [self.live, Match._meta.pk.column])
        return str(cursor.fetchone()[0])
