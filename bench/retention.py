"""Retention purges while a writer inserts: `make bench-retention` (`.venv/bin/python
bench/retention.py`).

PostgreSQL by default (a fresh database `governance_bench_retention`); BENCH_RETENTION_DB=sqlite
runs the same on a SQLite file (the embedded default). BENCH_RETENTION_ROWS expired rows
(default 10,000,000 on PostgreSQL and 1,000,000 on SQLite, the issue's targets): runs 200 to
379 days old, each with 6 log lines and 3 tool calls, generated in the database on PostgreSQL
and by bulk_create on SQLite (volume, not behaviour). A writer process inserts one run event per
transaction the whole time and records each insert's latency.

Side by side, on the same data loaded twice:
  1. the retention run (`retention.engine.enforce_org`): on PostgreSQL, whole expired months
     detached and dropped (runs and run events are monthly partitions), the rest in batches by
     primary key, one short transaction each, a pause between them; on SQLite, all in batches;
  2. the naive purge: one DELETE per table, what an ORM `.delete()` of the expired rows
     amounts to.
Printed: rows, seconds, rows/s, and the writer's p50 / p99 / max insert latency during each.
Targets (issue 15): PostgreSQL 10 million rows < 5 minutes with writer p99 <= 25 ms; SQLite 1
million with writer p99 <= 50 ms.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DATABASE", "governance_bench_retention")

from bench.scim import ENV, fresh_database, machine_loop_seconds, pct  # noqa: E402

SQLITE = os.environ.get("BENCH_RETENTION_DB", "postgres") == "sqlite"
os.environ.update(ENV)
os.environ.pop("REDIS_URL", None)
if SQLITE:
    os.environ.pop("DATABASE_URL", None)
    os.environ["GOVERNANCE_VAR_DIR"] = str(ROOT / "var" / "bench-retention")
ROWS = int(os.environ.get("BENCH_RETENTION_ROWS", "1000000" if SQLITE else "10000000"))
PER_RUN = 10  # the run, 6 log lines, 3 tool calls


def setup() -> tuple[object, object, object]:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from orgs.services.members import membership_add
    from orgs.services.orgs import org_create
    from workspace.services.resources import resource_create

    org = org_create(slug="bench", name="Bench", actor=None)
    member = membership_add(
        org=org, email="writer@bench.example", role="admin", full_name="", actor=None
    ).membership
    agent = resource_create(org=org, kind="agent", fields={"name": "Bench agent"}, actor=None)
    return org, member, agent


def load(org: object, member: object, agent: object) -> int:
    """ROWS expired rows: runs and their events, 200 to 379 days old (six months or seven)."""
    from django.db import connection

    runs = ROWS // PER_RUN
    if connection.vendor == "postgresql":
        _load_postgres(org, member, agent, runs)
    else:
        _load_orm(org, member, agent, runs)
    return runs * PER_RUN


def _ages(count: int, first: int) -> list[datetime]:
    now = datetime.now(UTC)
    return [now - timedelta(days=200 + (first + i) % 180) for i in range(count)]


def _load_postgres(org: object, member: object, agent: object, runs: int) -> None:
    """Generated in the database (INSERT ... SELECT over generate_series): volume, not
    behaviour. The months' partitions are made first, as a server in use has them (the daily
    task makes each month ahead of time)."""
    from django.db import connection

    from core.partitions import ensure_months

    now = datetime.now(UTC)
    for table in ("workspace_run", "workspace_runevent"):
        ensure_months(table, now - timedelta(days=380), now)
    with connection.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) FROM workspace_run")
        after = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO workspace_run (org_id, agent_id, resource_name, member_id, trigger, "
            "status, started_at, ended_at, error, events_count) "
            "SELECT %s, %s, 'Bench agent', %s, 'api', 'succeeded', t, t, '', 9 FROM "
            "(SELECT now() - interval '200 days' - (g %% 180) * interval '1 day' AS t "
            "FROM generate_series(1, %s) g) s",
            [org.pk, agent.pk, member.pk, runs],
        )
        cur.execute(
            "INSERT INTO workspace_runevent (run_id, seq, at, kind, level, message, "
            "integration, action, latency_ms, outcome) "
            "SELECT r.id, s, r.started_at, "
            "CASE WHEN s > 6 THEN 'tool_call' ELSE 'log' END, '', "
            "CASE WHEN s > 6 THEN '' ELSE 'a log line of a bench run' END, "
            "CASE WHEN s > 6 THEN 'slack' ELSE '' END, CASE WHEN s > 6 THEN 'post' ELSE '' END, "
            "CASE WHEN s > 6 THEN 120 END, CASE WHEN s > 6 THEN 'ok' ELSE '' END "
            "FROM workspace_run r CROSS JOIN generate_series(1, 9) s "
            "WHERE r.id > %s AND r.resource_name = 'Bench agent'",
            [after],
        )
        cur.execute("VACUUM ANALYZE workspace_run")
        cur.execute("VACUUM ANALYZE workspace_runevent")


def _load_orm(org: object, member: object, agent: object, runs: int) -> None:
    from django.db import transaction

    from workspace.models import Run, RunEvent

    batch = 20_000
    for first in range(0, runs, batch):
        count = min(batch, runs - first)
        with transaction.atomic():
            created = Run.objects.bulk_create(
                Run(
                    org_id=org.pk,
                    agent_id=agent.pk,
                    resource_name="Bench agent",
                    member_id=member.pk,
                    trigger="api",
                    status="succeeded",
                    started_at=started,
                    ended_at=started,
                    events_count=9,
                )
                for started in _ages(count, first)
            )
            events = [
                RunEvent(
                    run_id=run.pk,
                    seq=seq,
                    at=run.started_at,
                    kind="tool_call" if seq > 6 else "log",
                    message="a log line of a bench run" if seq <= 6 else "",
                    integration="slack" if seq > 6 else "",
                    action="post" if seq > 6 else "",
                    latency_ms=120 if seq > 6 else None,
                    outcome="ok" if seq > 6 else "",
                )
                for run in created
                for seq in range(1, 10)
            ]
            RunEvent.objects.bulk_create(events, batch_size=10_000)


def writer_process(run_id: int, out: str, stop: object) -> None:
    """One run event per transaction, all the time, in a process of its own (a thread would
    wait for the purge's Python, not for the database): each insert's time and latency go to
    `out`."""
    import django

    django.setup()
    from django.db import OperationalError, transaction

    from workspace.models import RunEvent

    seq = 1_000_000
    with open(out, "w") as f:
        while not stop.is_set():
            seq += 1
            t0 = time.perf_counter()
            ok = True
            try:
                with transaction.atomic():
                    RunEvent.objects.create(run_id=run_id, seq=seq, kind="log", message="live")
            except OperationalError:  # SQLite: "database is locked" past the busy timeout
                ok = False
            f.write(f"{time.time()} {(time.perf_counter() - t0) * 1000} {int(ok)}\n")
            f.flush()
            time.sleep(0.005)


class Writer:
    def __init__(self, run_id: int) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.out = str(ROOT / "var" / f"bench-retention-writer-{os.getpid()}.txt")
        self.stop = context.Event()
        self.process = context.Process(target=writer_process, args=(run_id, self.out, self.stop))

    def start(self) -> None:
        self.process.start()
        time.sleep(3)  # its Django start-up

    def window(self, start: float, end: float) -> tuple[list[float], int]:
        samples, failed = [], 0
        with open(self.out) as f:
            for line in f:
                at, ms, ok = line.split()
                if start <= float(at) <= end:
                    samples.append(float(ms))
                    failed += ok == "0"
        return samples, failed

    def close(self) -> None:
        self.stop.set()
        self.process.join(10)


def measure(label: str, purge, writer: Writer) -> dict[str, object]:
    time.sleep(2)  # an insert the load held up finishes before the window opens
    start = time.time()
    t0 = time.perf_counter()
    rows = purge()
    seconds = time.perf_counter() - t0
    time.sleep(0.2)
    samples, failed = writer.window(start, time.time())
    samples = samples or [0.0, 0.0]
    return {
        "purge": label,
        "rows": rows,
        "seconds": round(seconds, 1),
        "rows_per_s": round(rows / seconds) if seconds else None,
        "writer_inserts": len(samples),
        "writer_failed": failed,
        "writer_p50_ms": round(pct(samples, 50), 2),
        "writer_p99_ms": round(pct(samples, 99), 2),
        "writer_max_ms": round(max(samples), 1),
    }


def main() -> None:
    if not SQLITE:
        fresh_database()
    else:
        import shutil

        shutil.rmtree(os.environ["GOVERNANCE_VAR_DIR"], ignore_errors=True)
    org, member, agent = setup()
    from django.db import connection

    from retention.engine import enforce_org
    from workspace.models import Run

    live = Run.objects.create(
        org_id=org.pk, agent_id=agent.pk, resource_name="live", member_id=member.pk, trigger="api"
    )
    connection.close()  # the writer process opens its own
    figures: dict[str, object] = {
        "machine_loop_s": machine_loop_seconds(),
        "database": connection.vendor,
        "rows": ROWS,
    }
    writer = Writer(live.pk)
    writer.start()

    loaded = load(org, member, agent)
    figures["loaded"] = loaded

    def ours() -> int:
        run = enforce_org(org)
        figures["months_dropped"] = len(
            [m for m in run.plan.get("months_dropped", []) if m["rows"]]
        )
        return sum(c.get("rows", 0) for c in run.counts.values())

    label = (
        "retention run (whole months, then batches)" if not SQLITE else "retention run (batches)"
    )
    figures["retention_run"] = measure(label, ours, writer)

    load(org, member, agent)
    cutoff = datetime.now(UTC) - timedelta(days=90)

    def naive() -> int:
        with connection.cursor() as cur:
            cur.execute(
                "DELETE FROM workspace_runevent WHERE run_id IN "
                "(SELECT id FROM workspace_run WHERE started_at < %s)",
                [cutoff],
            )
            rows = cur.rowcount
            cur.execute("DELETE FROM workspace_run WHERE started_at < %s", [cutoff])
            return rows + cur.rowcount

    figures["naive_delete"] = measure("one DELETE per table", naive, writer)
    writer.close()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
