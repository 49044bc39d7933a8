"""Reads about people."""

from __future__ import annotations

from core import rows
from core.input import as_id
from identity.models import User


def user_by_email(email: str) -> User | None:
    """Who has this e-mail, compared as the unique index on LOWER(email) compares it, or None.
    Written out (core.rows, where the measured reason is): every SCIM create asks it."""
    return rows.fetch_by_lower(User, "email", email.strip())


def user_get(pk: object) -> User | None:
    pk = as_id(pk)
    return User.objects.filter(pk=pk).first() if pk else None
