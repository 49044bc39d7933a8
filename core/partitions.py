"""Monthly range partitions on PostgreSQL, for the tables that grow with activity (a workspace's
runs and run events): a whole expired month is detached and dropped instead of deleted row by
row (retention.partitions decides when). SQLite has no partitions; every function here does
nothing there.

A partitioned table keeps Django's view of it: `id` is the model's primary key (a sequence owned
by the column gives the values, so they stay unique), while the database's primary key is
`(id, <time column>)`, as PostgreSQL requires of a partitioned table's unique constraints.
Foreign keys that point at such a table are not constraints in the database (`db_constraint=
False`; Django's deletion collector still cascades), and a unique constraint without the time
column becomes a plain index (the code that writes the rows keeps it: run events are numbered
under the run's row lock).

Partitions are named `<table>_p<YYYYMM>` and hold [first of the month, first of the next) in
UTC; `<table>_pdefault` takes rows of a month that has no partition yet (a back-dated import),
and those go row by row. `ensure_ahead()` (called by the daily retention task and by the
migration) keeps the current month and the next three ready.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import DatabaseError, connection, transaction

AHEAD = 3  # months created in advance
DETACHED = "governance: detached by retention, to be dropped"


@dataclass(frozen=True)
class Month:
    name: str
    starts: datetime
    ends: datetime


def month_start(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def next_month(moment: datetime) -> datetime:
    return datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


def postgres() -> bool:
    return connection.vendor == "postgresql"


def partitioned_tables() -> dict[str, str]:
    """{table: its partition column} for every range-partitioned table."""
    if not postgres():
        return {}
    with connection.cursor() as cur:
        cur.execute(
            "SELECT c.relname, a.attname FROM pg_partitioned_table pt "
            "JOIN pg_class c ON c.oid = pt.partrelid "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = pt.partattrs[0] "
            "WHERE pt.partstrat = 'r' AND pg_table_is_visible(c.oid)"
        )
        return dict(cur.fetchall())


def months(table: str) -> list[Month]:
    """The table's monthly partitions, oldest first (not the default one)."""
    if not postgres():
        return []
    pattern = re.compile(re.escape(table) + r"_p(\d{4})(\d{2})$")
    with connection.cursor() as cur:
        cur.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [table],
        )
        names = [row[0] for row in cur.fetchall()]
    found = []
    for name in names:
        match = pattern.match(name)
        if match:
            starts = datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)
            found.append(Month(name, starts, next_month(starts)))
    return sorted(found, key=lambda m: m.starts)


def ensure_months(table: str, first: datetime, last: datetime) -> list[str]:
    """Creates the monthly partitions from `first`'s month to `last`'s that are missing; returns
    their names. A month whose rows already sit in the default partition is left there (making
    its partition would have to move them under a lock on the whole table)."""
    if not postgres():
        return []
    have = {m.name for m in months(table)}
    made = []
    at = month_start(first)
    while at <= last:
        name = f"{table}_p{at:%Y%m}"
        if name not in have:
            try:
                with transaction.atomic(), connection.cursor() as cur:
                    cur.execute(
                        f"CREATE TABLE {_qn(name)} PARTITION OF {_qn(table)} "
                        "FOR VALUES FROM (%s) TO (%s)",
                        [at, next_month(at)],
                    )
                made.append(name)
            except DatabaseError:  # rows of that month in the default partition: kept there
                pass
        at = next_month(at)
    return made


def ensure_ahead(now: datetime | None = None) -> list[str]:
    """This month and the next AHEAD for every partitioned table."""
    now = now or datetime.now(UTC)
    end = now
    for _ in range(AHEAD):
        end = next_month(month_start(end))
    made = []
    for table in partitioned_tables():
        made += ensure_months(table, now, end)
    return made


DETACH_ATTEMPTS = 25  # of DETACH_LOCK_MS each, 50 ms apart: about 6 s in all
DETACH_LOCK_MS = 200


def detach(table: str, month: Month) -> bool:
    """Detaches a month inside the caller's transaction, marked to be dropped (`drop_detached`,
    after the commit: the parent's exclusive lock is held only from here to that commit).
    False when the lock never came (the caller keeps the month and deletes row by row).

    DETACH needs an exclusive lock on the parent; waiting for it would queue every writer behind
    it, so each attempt waits at most DETACH_LOCK_MS and then lets the writers through."""
    import time

    for _ in range(DETACH_ATTEMPTS):
        try:
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute(f"SET LOCAL lock_timeout = '{int(DETACH_LOCK_MS)}ms'")
                cur.execute(f"ALTER TABLE {_qn(table)} DETACH PARTITION {_qn(month.name)}")
                cur.execute(f"COMMENT ON TABLE {_qn(month.name)} IS %s", [DETACHED])
                cur.execute("SET LOCAL lock_timeout = 0")
            return True
        except DatabaseError:
            time.sleep(0.05)
    return False


def drop_detached() -> list[str]:
    """Drops the months `detach` marked (also those of a run killed between the two)."""
    if not postgres():
        return []
    with connection.cursor() as cur:
        cur.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relkind = 'r' AND NOT c.relispartition "
            "AND obj_description(c.oid, 'pg_class') = %s AND pg_table_is_visible(c.oid)",
            [DETACHED],
        )
        names = [row[0] for row in cur.fetchall()]
        if names and connection.in_atomic_block:
            # Inside a caller's transaction, its deferred foreign key checks on the detached
            # rows must run before the table can go.
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for name in names:
            cur.execute(f"DROP TABLE IF EXISTS {_qn(name)}")
        if names and connection.in_atomic_block:
            cur.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's foreign keys again
    return names


def partition_by_month(schema_editor: Any, table: str, column: str) -> None:
    """A migration step: turns `table` into one range-partitioned by month on `column`, with its
    rows, indexes, foreign keys, checks and id sequence (values continue where they were).

    Unique constraints without `column` become plain indexes of the same name (PostgreSQL
    cannot enforce them across partitions). Nothing may point at the table with a foreign key
    constraint (make those `db_constraint=False` first)."""
    if schema_editor.connection.vendor != "postgresql":
        return
    old = f"{table}_unpartitioned"
    with schema_editor.connection.cursor() as cur:
        cur.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f'",
            [table],
        )
        foreign_keys = cur.fetchall()
        cur.execute(
            "SELECT pg_get_indexdef(i.indexrelid), i.indisprimary FROM pg_index i "
            "WHERE i.indrelid = %s::regclass",
            [table],
        )
        indexes = [d for d, primary in cur.fetchall() if not primary]
        cur.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'u'",
            [table],
        )
        for (name,) in cur.fetchall():  # the index stays in `indexes`, non-unique
            cur.execute(f"ALTER TABLE {_qn(table)} DROP CONSTRAINT {_qn(name)}")
        cur.execute(f"ALTER TABLE {_qn(table)} RENAME TO {_qn(old)}")
        cur.execute("SELECT pg_sequence_last_value(pg_get_serial_sequence(%s, 'id'))", [old])
        last = cur.fetchone()[0]
        cur.execute(f"ALTER TABLE {_qn(old)} ALTER COLUMN id DROP IDENTITY IF EXISTS")
        cur.execute(
            f"CREATE TABLE {_qn(table)} (LIKE {_qn(old)} INCLUDING DEFAULTS INCLUDING "
            f"CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY RANGE ({_qn(column)})"
        )
        sequence = f"{table}_id_seq"
        cur.execute(f"CREATE SEQUENCE {_qn(sequence)} AS bigint OWNED BY {_qn(table)}.id")
        cur.execute(f"ALTER TABLE {_qn(table)} ALTER COLUMN id SET DEFAULT nextval('{sequence}')")
        cur.execute(  # quoted identifiers of our own tables
            f"SELECT min({_qn(column)}), max({_qn(column)}), max(id) FROM {_qn(old)}"  # noqa: S608
        )
        oldest, newest, top = cur.fetchone()
        cur.execute(f"CREATE TABLE {_qn(table + '_pdefault')} PARTITION OF {_qn(table)} DEFAULT")
        now = datetime.now(UTC)
        end = max(newest or now, now)
        for _ in range(AHEAD):
            end = next_month(month_start(end))
        at = month_start(oldest or now)
        while at <= end:
            cur.execute(
                f"CREATE TABLE {_qn(f'{table}_p{at:%Y%m}')} PARTITION OF {_qn(table)} "
                "FOR VALUES FROM (%s) TO (%s)",
                [at, next_month(at)],
            )
            at = next_month(at)
        cur.execute(f"INSERT INTO {_qn(table)} SELECT * FROM {_qn(old)}")  # noqa: S608
        value = max(v for v in (last, top, 0) if v is not None)
        if value:
            cur.execute("SELECT setval(%s, %s)", [sequence, value])
        cur.execute(f"DROP TABLE {_qn(old)}")
        cur.execute(
            f"ALTER TABLE {_qn(table)} ADD CONSTRAINT {_qn(table + '_pkey')} "
            f"PRIMARY KEY (id, {_qn(column)})"
        )
        # The definitions were read before the rename: they name `table`, and their names are
        # free again now that the old table is gone.
        for definition in indexes:
            cur.execute(definition.replace("CREATE UNIQUE INDEX", "CREATE INDEX", 1))
        for name, definition in foreign_keys:
            cur.execute(f"ALTER TABLE {_qn(table)} ADD CONSTRAINT {_qn(name)} {definition}")
