"""The only hand-written SQL of the project, each statement kept because a benchmark shows it
is worth more than 10 % of a figure (`make bench-rows` measures every candidate against the
ORM in one run; README, Benchmarks). Everything else goes through the ORM.

Measured on 2026-11-29 (python-svc machine, 2 cores, PostgreSQL 15), CPU per call, hand / ORM:

- `fetch_with_related`, the SCIM token and its organization by prefix, on every SCIM request:
  0.38 / 1.73 ms, saving 15 % of a SCIM create and 17 % of a `userName eq` lookup.
- `insert_many`, the audit events of one change in one INSERT (a SCIM create writes three):
  0.97 / 2.34 ms, saving 15 % of a SCIM create. Django 5.2's bulk_create sends UNNEST text
  arrays on PostgreSQL, which psycopg escapes in Python.
- `fetch_by_lower`, the user by e-mail (every SCIM create, every password sign-in): 0.34 /
  0.90 ms alone (6 % of a create); in a whole create, switching only this read back to the ORM
  cost 9, 10 and 20 % more CPU in three interleaved A/B rounds.

Measured and dropped for the ORM: the membership and IdP user inserts of a SCIM create (3 % and
0 % alone; -8 to +15 % in the create A/B rounds, within the machine's noise).

Rows still become model instances the way the ORM makes them (every concrete column, through
the same database converters), and inserted values go through the same field methods as
`save()`. These lean on private Django API (`_meta`, `_state`,
`_prepare_related_fields_for_save`): tests/core/test_rows.py compares every result with what
the ORM does, so an upgrade that changes them fails there, not in production.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import connections, models
from django.db.models import signals

M = TypeVar("M", bound=models.Model)


def _select_list(model: type[models.Model], alias: str, using: str) -> str:
    """`alias.col1, alias.col2, ...`: the model's concrete columns in field order."""
    qn = connections[using].ops.quote_name
    return ", ".join(f"{alias}.{qn(f.column)}" for f in model._meta.concrete_fields)


def _instance(model: type[M], values: Sequence[Any], using: str) -> M:
    """A model instance from the values of `_select_list(model, ...)`, as the ORM builds it."""
    connection = connections[using]
    fields = model._meta.concrete_fields
    converted = []
    for field, value in zip(fields, values, strict=True):
        col = field.get_col(model._meta.db_table)
        for conv in (*connection.ops.get_db_converters(col), *field.get_db_converters(connection)):
            value = conv(value, col, connection)
        converted.append(value)
    return model.from_db(using, [f.attname for f in fields], converted)


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
    with connection.cursor() as cursor:
        cursor.execute(sql, [value])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(meta.concrete_fields)
    obj = _instance(model, row[:split], using)
    setattr(obj, related, _instance(other, row[split:], using))
    return obj


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
    with connection.cursor() as cursor:
        cursor.execute(sql, [value.lower()])
        row = cursor.fetchone()
    return _instance(model, row, using) if row is not None else None


def insert_many(objs: Sequence[models.Model], using: str = "default") -> None:
    """Insert new instances of one model with `INSERT ... VALUES (...), (...) RETURNING pk` and
    set their primary keys: what `bulk_create` does, without the query compiler and without
    the UNNEST form. Values go through each field's own `pre_save` and `get_db_prep_save`, as
    in `save()`; a model with save signal receivers, or a database without RETURNING, gets
    `save()` itself."""
    if not objs:
        return
    if any(not obj._state.adding for obj in objs):
        raise ValueError("insert_many() writes new instances; update a stored one with save().")
    model = type(objs[0])
    connection = connections[using]
    if (
        signals.pre_save.has_listeners(model)
        or signals.post_save.has_listeners(model)
        or not connection.features.can_return_rows_from_bulk_insert  # SQLite before 3.35
    ):
        for obj in objs:  # someone listens to save(), or no RETURNING: save() itself
            obj.save(force_insert=True, using=using)
        return
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="insert")  # as save() checks
    meta = model._meta
    # The database numbers an auto primary key; any other primary key is a column we write.
    fields = [f for f in meta.concrete_fields if not (f is meta.pk and f.db_returning)]
    qn = connection.ops.quote_name
    head = f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) VALUES "  # noqa: S608
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    size = max(1, connection.ops.bulk_batch_size(fields, objs))  # SQLite's variable limit
    with connection.cursor() as cursor:
        for start in range(0, len(objs), size):
            batch = objs[start : start + size]
            params = [
                f.get_db_prep_save(f.pre_save(obj, True), connection)
                for obj in batch
                for f in fields
            ]
            cursor.execute(
                f"{head}{', '.join([row] * len(batch))} RETURNING {qn(meta.pk.column)}", params
            )
            for obj, (pk,) in zip(batch, cursor.fetchall(), strict=True):
                obj.pk = pk
                obj._state.adding = False
                obj._state.db = using
