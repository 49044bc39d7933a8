"""A gateway token's read on the event loop, without the hop to a worker thread.

Every request reads its caller: the token, member, user, organization, roles and servers, one
statement (gateway.rows.with_grants). In a worker thread (gateway.server._db) that cost a
thread hand-off each way: measured 2026-11-30 in-process on the bench database, the hop made
the read 0.52 ms of CPU and 0.67 ms of wall time; on an async psycopg connection on the loop,
the statement and building its rows took 0.23 ms and 0.35 ms.

So on PostgreSQL a request with a gateway token (`gmt_…`) reads that row here, then runs the
very same `access.admit` on the loop with the row handed to it (gateway.rows.READ_AHEAD):
the same checks, the same decision. Whatever else would touch the database (a tool rule to
read, a refusal to audit, a credential to fetch, "last used" to refresh, a tool list not yet
cached) is refused before any statement runs (`on_loop`), and the whole `admit` runs again
in a worker thread, as it always did. A service key, SQLite, or any
failure of the async connection (the database down included) takes the worker thread too,
which is where the outage fallback (gateway.outage) is decided.

The connections use Django's own connection parameters and adapters (the same loaders, so
the row becomes the same objects), autocommit, prepared statements, and live as long as
Django's (CONN_MAX_AGE); at most POOL are open, and a request that finds none free reads in
a worker thread.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from django.conf import settings
from django.core.exceptions import SynchronousOnlyOperation

from gateway import access, tokens
from gateway import rows as gateway_rows

POOL = 16


class Reads:
    def __init__(self) -> None:
        self.idle: list[tuple[float, Any]] = []
        self.open = 0
        self.params: dict[str, Any] | None = None
        self.enabled: bool | None = None

    def _usable(self) -> bool:
        if self.enabled is None:
            from django.db import connection

            self.enabled = connection.vendor == "postgresql" and settings.GOVERNANCE_DB_PREPARE
            if self.enabled:
                params = connection.get_connection_params()
                params.pop("cursor_factory", None)  # Django's is a synchronous client cursor
                params.pop("prepare_threshold", None)
                self.params = params
        return self.enabled

    async def _connection(self) -> tuple[float, Any] | None:
        import psycopg

        while self.idle:
            born, conn = self.idle.pop()
            if conn.closed or time.monotonic() - born > _max_age():
                self._discard(conn)
                continue
            return born, conn
        if self.open >= POOL:
            return None
        self.open += 1
        try:
            conn = await psycopg.AsyncConnection.connect(**self.params, autocommit=True)
        except BaseException:
            self.open -= 1
            raise
        # Only the explicit `prepare=True` below prepares (as core.rows.cursor does).
        conn.prepare_threshold = 2**31 - 1
        return time.monotonic(), conn

    def _discard(self, conn: Any) -> None:
        self.open -= 1
        if not conn.closed:
            asyncio.get_running_loop().create_task(conn.close())

    async def fetch(self, sql: str, value: Any) -> tuple[bool, Any]:
        """(True, the row or None) or (False, None) when this path cannot read now."""
        if not self._usable():
            return False, None
        try:
            found = await self._connection()
        except Exception:
            return False, None
        if found is None:
            return False, None
        born, conn = found
        try:
            async with conn.cursor() as cur:
                await cur.execute(sql, [value], prepare=True)
                row = await cur.fetchone()
        except BaseException as exc:
            self._discard(conn)  # in an unknown state: never reused
            if isinstance(exc, Exception):
                return False, None
            raise  # cancelled
        self.idle.append((born, conn))
        return True, row

    async def close(self) -> None:
        idle, self.idle = self.idle, []
        for _, conn in idle:
            self.open -= 1
            await conn.close()


def _max_age() -> float:
    from django.db import connection

    age = connection.settings_dict.get("CONN_MAX_AGE") or 0
    return float(age) if age else 0.0


async def admit(reads: Reads, authorization: str, run: str, tool: str | None) -> Any:
    """access.admit for this request, on the loop when it can be: (caller, prepared), or
    access.Refused; None when it has to run in a worker thread."""
    if run or not authorization.lower().startswith("bearer "):
        return None
    secret = authorization.split(" ", 1)[1].strip()
    prefix = tokens.prefix_of(secret)
    if not prefix:
        return None
    key, sql = gateway_rows.grants_statement(*tokens.READ)
    read, row = await reads.fetch(sql, prefix)
    if not read:
        return None
    ahead = gateway_rows.READ_AHEAD.set({(key, prefix): row})
    try:
        done, admitted = on_loop(access.admit, authorization, run, tool)
    finally:
        gateway_rows.READ_AHEAD.reset(ahead)
    return admitted if done else None  # not done: it needs the database, in a worker thread


class QueryOnLoop(SynchronousOnlyOperation):
    """A statement asked for on the event loop, refused before it ran."""


def _refuse(*_: Any) -> Any:
    raise QueryOnLoop("A query on the gateway's event loop: it runs in a worker thread.")


def on_loop(fn: Any, *args: Any) -> tuple[bool, Any]:
    """(True, fn(*args)) when `fn` needed no database; (False, None) when it asked for a
    statement, which was refused before it ran (nothing written). Django refuses queries on
    an event loop by itself (SynchronousOnlyOperation), but not when DJANGO_ALLOW_ASYNC_UNSAFE
    is set (as browser test tools do), so every statement is refused here as well."""
    from django.db import connection

    try:
        with connection.execute_wrapper(_refuse):
            return True, fn(*args)
    except SynchronousOnlyOperation:
        return False, None
