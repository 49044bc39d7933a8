"""Reads about people."""

from __future__ import annotations

from django.db import connection

from core import rows
from core.input import as_id
from identity.models import User


def user_by_email(email: str) -> User | None:
    """Who has this e-mail, compared as the unique index on LOWER(email) compares it, or None.
    One indexed read, written out (core.rows) because SCIM asks it on every create."""
    meta = User._meta
    qn = connection.ops.quote_name
    # Names come from the model and are quoted; the e-mail is a parameter.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {rows.select_list(User, 'u')} FROM {qn(meta.db_table)} u "  # noqa: S608
            f"WHERE LOWER(u.{qn(meta.get_field('email').column)}) = %s",
            [email.strip().lower()],
        )
        row = cursor.fetchone()
    return rows.instance(User, row) if row is not None else None


def user_get(pk: object) -> User | None:
    pk = as_id(pk)
    return User.objects.filter(pk=pk).first() if pk else None
