"""PostgreSQL's JIT is off on every connection the application opens (governance.settings,
GOVERNANCE_DB_JIT): Django's, which serve the web, the workers and the gateway's threads, and
the gateway's own async connections (gateway.aio.Reads), which take Django's parameters."""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.db import connection

from gateway.aio import Reads

pytestmark = pytest.mark.django_db(transaction=True)


def _postgres_only(on_postgres: bool) -> None:
    if not on_postgres:
        pytest.skip("SQLite has no JIT: make test runs this on PostgreSQL")


def test_djangos_connections_run_without_jit(on_postgres):
    _postgres_only(on_postgres)
    with connection.cursor() as cur:
        cur.execute("SHOW jit")
        assert cur.fetchone()[0] == "off"
        # A statement costed far over jit_above_cost is planned without JIT (EXPLAIN without
        # ANALYZE names the JIT it would use, and runs nothing).
        cur.execute(
            "EXPLAIN (FORMAT JSON) SELECT count(*) FROM generate_series(1, 100000) a, "
            "generate_series(1, 100000) b WHERE a + b > %s",
            [10**9],
        )
        plan = cur.fetchone()[0][0]
    assert plan["Plan"]["Total Cost"] > 100_000  # jit_above_cost's default
    assert "JIT" not in plan


def test_the_gateways_event_loop_connections_run_without_jit(on_postgres):
    _postgres_only(on_postgres)

    async def read() -> tuple[bool, object]:
        reads = Reads()
        try:
            return await reads.fetch("SELECT current_setting('jit'), %s::text", "gateway")
        finally:
            await reads.close()

    # On an event loop of its own thread: this process's main thread may hold a browser test
    # tool's running loop, where asyncio.run() refuses to start.
    out: dict[str, object] = {}
    thread = threading.Thread(target=lambda: out.update(read=asyncio.run(read())))
    thread.start()
    thread.join(30)
    done, row = out["read"]
    assert done and tuple(row) == ("off", "gateway")
