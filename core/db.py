"""One meaning of LOWER() on both databases. PostgreSQL lowers every Unicode letter (with a
UTF-8 ctype, as `make run`'s and the production setup's databases have); SQLite's built-in
LOWER() lowers ASCII only, so on SQLite `ZOË` and `zoë` were two different userNames and a
filter for one missed the other. Each SQLite connection gets Python's `str.lower` as LOWER
(deterministic, so the functional indexes built with it stay valid)."""

from __future__ import annotations

from typing import Any

from django.db.backends.signals import connection_created
from django.dispatch import receiver


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


@receiver(connection_created, dispatch_uid="core.db.unicode_lower")
def unicode_lower(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function("LOWER", 1, _lower, deterministic=True)
