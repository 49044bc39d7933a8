"""Hand-written SQL, each statement kept because a benchmark shows it is worth more than 10 % of
a figure. The other homes of such statements are workspace.rows (the decision function's two)
and credentials.rows (the runtime token endpoint's read), each with its figures. `make
bench-rows` measures every candidate here against the ORM in one run (README, Benchmarks).
Everything else goes through the ORM.

Measured on 2026-11-29 (python-svc machine, 2 cores, PostgreSQL 15), CPU per call, hand / ORM:

- `fetch_with_related`, the SCIM token and its organization by prefix, on every SCIM request:
  0.38-0.43 / 1.73-1.79 ms, saving 15-17 % of a SCIM create and 14-17 % of a `userName eq`
  lookup (three runs).
- `fetch_with_related` again for the service key and its organization, on every call of the
  runtime's API (2026-11-29 23:00, wall time in-process, bench database): 0.23 ms written out
  against 1.55 ms through the ORM, a quarter of a whole decision's 5.2 ms.
- `fetch_by_lower`, the user by e-mail (every SCIM create, every password sign-in): 0.29-0.34 /
  0.90-1.18 ms, 6, 10 and 11 % of a create in three runs; in a whole create, switching only this
  read back to the ORM cost 9, 10 and 20 % more CPU in three interleaved A/B rounds.

Measured and given back to the ORM: the one-INSERT audit batch (6, 9 and 15 % of a create in
three runs; bulk_create now), and the membership and IdP user inserts of a SCIM create (3 % and
0 % alone; -8 to +15 % in the create A/B rounds, within the machine's noise).

- `delete_ids`, a DELETE by primary keys written out, for two callers. The audit purge
  (audit.purge) uses it because the model refuses every deletion and a purge is the one
  sanctioned path. Retention uses it for run events, whose payloads are already gone: Django's
  delete collector loads the rows to look for payloads to cascade. Measured 2026-11-30 on
  SQLite, 100,000 rows without pauses: 3.46 s written out against 5.22 s through the ORM.

Rows still become model instances the way the ORM makes them (every concrete column, through
the same database converters). That leans on Django's model metadata (`_meta`, `from_db`,
`get_db_converters`): tests/core/test_rows.py compares every result with what the ORM returns,
so an upgrade that changes them fails there, not in production.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from django.conf import settings
from django.db import connections, models

M = TypeVar("M", bound=models.Model)


def cursor(using: str = "default") -> Any:
    """The cursor for this module's statements and workspace.rows'. On PostgreSQL each statement
    is prepared on the server, once per connection (connections live `conn_max_age`, 60 s): it
    is planned once, not on every call. A decision's two statements spent 0.93 ms of their
    1.3 ms in the planner (EXPLAIN ANALYZE, bench database). Still a Django cursor wrapper, so
    query logging and query counts see every statement. GOVERNANCE_DB_PREPARE=0 turns it off
    (a PgBouncer in transaction mode older than 1.21 cannot keep prepared statements)."""
    connection = connections[using]
    if connection.vendor != "postgresql" or not settings.GOVERNANCE_DB_PREPARE:
        return connection.cursor()
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        # Django leaves psycopg's automatic preparing off (None), which also refuses the
        # explicit `prepare=True`; a threshold no query reaches allows only the explicit one.
        raw.prepare_threshold = 2**31 - 1
    with connection.wrap_database_errors:
        return connection._prepare_cursor(_prepared_cursor_class()(raw))


_PREPARED: type | None = None


def _prepared_cursor_class() -> type:
    """A psycopg cursor with server-side binding whose every execute is prepared."""
    global _PREPARED
    if _PREPARED is None:
        import psycopg

        class PreparedCursor(psycopg.Cursor):
            def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
                kwargs["prepare"] = True
                return super().execute(query, params, **kwargs)

        _PREPARED = PreparedCursor
    return _PREPARED


def _select_list(model: type[models.Model], alias: str, using: str) -> str:
    """`alias.col1, alias.col2, ...`: the model's concrete columns in field order."""
    qn = connections[using].ops.quote_name
    return ", ".join(f"{alias}.{qn(f.column)}" for f in model._meta.concrete_fields)


def _built(model: type[M], fields: Sequence[Any], values: Sequence[Any], using: str) -> M:
    connection = connections[using]
    converted = []
    for field, value in zip(fields, values, strict=True):
        col = field.get_col(model._meta.db_table)
        for conv in (*connection.ops.get_db_converters(col), *field.get_db_converters(connection)):
            value = conv(value, col, connection)
        converted.append(value)
    return model.from_db(using, [f.attname for f in fields], converted)


def _instance(model: type[M], values: Sequence[Any], using: str) -> M:
    """A model instance from the values of `_select_list(model, ...)`, as the ORM builds it."""
    return _built(model, model._meta.concrete_fields, values, using)


def instance_of(
    model: type[M], names: Sequence[str], values: Sequence[Any], using: str = "default"
) -> M:
    """A model instance from some of its fields' values, as the ORM builds it for `.only()`:
    the other fields are deferred (read from the database on first use)."""
    return _built(model, [model._meta.get_field(name) for name in names], values, using)


def fetch_with_related(
    model: type[M], related: str, field: str, value: Any, using: str = "default"
) -> M | None:
    """`model.objects.select_related(related).filter(field=value).first()` as one written-out
    indexed read (`field` is unique), without the query compiler."""
    connection = connections[using]
    meta = model._meta
    fk = meta.get_field(related)
    other = fk.related_model
    qn = connection.ops.quote_name
    # Names come from the models and are quoted; the value is a parameter.
    sql = (
        f"SELECT {_select_list(model, 't', using)}, {_select_list(other, 'r', using)} "  # noqa: S608
        f"FROM {qn(meta.db_table)} t JOIN {qn(other._meta.db_table)} r "
        f"ON r.{qn(other._meta.pk.column)} = t.{qn(fk.column)} "
        f"WHERE t.{qn(meta.get_field(field).column)} = %s"
    )
    with cursor(using) as cur:
        cur.execute(sql, [value])
        row = cur.fetchone()
    if row is None:
        return None
    split = len(meta.concrete_fields)
    obj = _instance(model, row[:split], using)
    setattr(obj, related, _instance(other, row[split:], using))
    return obj


class Joined:
    """A model and its related rows along foreign-key paths (a path's parent comes before it,
    e.g. "member", "member__user"), as one written-out SELECT: `select` (the columns),
    `source` (FROM and LEFT JOINs), `alias(path)` for a caller adding columns or joins of its
    own, and `build(row)` for the instances (a missing related row, a null foreign key, is
    None) and what is left of the row."""

    def __init__(self, model: type[models.Model], paths: Sequence[str], using: str) -> None:
        qn = connections[using].ops.quote_name
        self.model, self.paths, self.using = model, tuple(paths), using
        models_: dict[str, type[models.Model]] = {"": model}
        self.aliases = {"": "t"}
        selects = [_select_list(model, "t", using)]
        joins = []
        self.parts: list[tuple[str, str, type[models.Model], int]] = []
        for i, path in enumerate(self.paths):
            parent_path, _, name = path.rpartition("__")
            fk = models_[parent_path]._meta.get_field(name)
            other = fk.related_model
            alias = f"r{i}"
            models_[path], self.aliases[path] = other, alias
            selects.append(_select_list(other, alias, using))
            joins.append(
                f"LEFT JOIN {qn(other._meta.db_table)} {alias} "
                f"ON {alias}.{qn(other._meta.pk.column)} = "
                f"{self.aliases[parent_path]}.{qn(fk.column)}"
            )
            self.parts.append((parent_path, name, other, len(other._meta.concrete_fields)))
        self.select = ", ".join(selects)
        self.source = f"FROM {qn(model._meta.db_table)} t {' '.join(joins)}"

    def alias(self, path: str) -> str:
        return self.aliases[path]

    def column(self, path: str, field: str) -> str:
        model = self.model if not path else None
        if model is None:
            for p, (_, _, other, _) in zip(self.paths, self.parts, strict=True):
                if p == path:
                    model = other
        assert model is not None
        qn = connections[self.using].ops.quote_name
        return f"{self.aliases[path]}.{qn(model._meta.get_field(field).column)}"

    def build(self, row: Sequence[Any]) -> tuple[Any, Sequence[Any]]:
        at = len(self.model._meta.concrete_fields)
        objects: dict[str, Any] = {"": _instance(self.model, row[:at], self.using)}
        for path, (parent_path, name, other, width) in zip(self.paths, self.parts, strict=True):
            values = row[at : at + width]
            at += width
            parent = objects.get(parent_path)
            found = _instance(other, values, self.using) if values[0] is not None else None
            objects[path] = found
            if parent is not None:
                setattr(parent, name, found)
        return objects[""], row[at:]


_JOINED: dict[tuple, tuple[Joined, str]] = {}


def joined(model: type[models.Model], paths: Sequence[str], using: str = "default") -> Joined:
    key = (model, tuple(paths), using, "")
    if key not in _JOINED:
        _JOINED[key] = (Joined(model, paths, using), "")
    return _JOINED[key][0]


def fetch_joined(
    model: type[M], paths: Sequence[str], field: str, value: Any, using: str = "default"
) -> M | None:
    """`model.objects.select_related(*paths).filter(field=value).first()` as one written-out
    read (`field` is unique; see Joined)."""
    key = (model, tuple(paths), using, field)
    if key not in _JOINED:
        shape = joined(model, paths, using)
        # Names come from the models and are quoted; the value is a parameter.
        sql = f"SELECT {shape.select} {shape.source} WHERE {shape.column('', field)} = %s"
        _JOINED[key] = (shape, sql)
    shape, sql = _JOINED[key]
    with cursor(using) as cur:
        cur.execute(sql, [value])
        row = cur.fetchone()
    return shape.build(row)[0] if row is not None else None


def fetch_by_lower(model: type[M], field: str, value: str, using: str = "default") -> M | None:
    """`model.objects.filter(**{f"{field}__lower": value.lower()}).first()` as one written-out
    read that a functional unique index on LOWER(field) answers."""
    connection = connections[using]
    meta = model._meta
    qn = connection.ops.quote_name
    # Names come from the model and are quoted; the value is a parameter.
    sql = (
        f"SELECT {_select_list(model, 't', using)} FROM {qn(meta.db_table)} t "  # noqa: S608
        f"WHERE LOWER(t.{qn(meta.get_field(field).column)}) = %s"
    )
    with cursor(using) as cur:
        cur.execute(sql, [value.lower()])
        row = cur.fetchone()
    return _instance(model, row, using) if row is not None else None


def delete_ids(
    model: type[models.Model], ids: Sequence[int], *, declare: str = "", using: str = "default"
) -> int:
    """DELETE the rows with these primary keys, in the caller's transaction; returns how many.
    `declare` is a `SET LOCAL` statement run first on PostgreSQL (the audit purge's)."""
    if not ids:
        return 0
    connection = connections[using]
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(model._meta.pk.column)
    with connection.cursor() as cur:
        if declare and connection.vendor == "postgresql":
            cur.execute(declare)
        marks = ", ".join(["%s"] * len(ids))
        cur.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", list(ids))  # noqa: S608
        return cur.rowcount
