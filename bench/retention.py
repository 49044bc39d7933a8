"""Retention purges while a writer inserts: `make bench-retention` (`.venv/bin/python
bench/retention.py`).

PostgreSQL by default (a fresh database `governance_bench_retention`); BENCH_RETENTION_DB=sqlite
runs the same on a SQLite file (the embedded default). BENCH_RETENTION_ROWS expired rows
(default 1,000,000; the issue's target is 10,000,000 on PostgreSQL): runs 200 days old, each
with 6 log lines and 3 tool calls, loaded with COPY (volume, not behaviour). A writer thread
inserts one run event per transaction the whole time and records each insert's latency.

Side by side, on the same data loaded twice:
  1. the retention run (`retention.engine.enforce_org`: batches by primary key, one short
     transaction each, a pause between them);
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
ROWS = int(os.environ.get("BENCH_RETENTION_ROWS", "1000000"))
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
    """ROWS expired rows: runs and their events, 200 days old."""
    from django.db import connection, transaction

    from workspace.models import Run, RunEvent

    runs = ROWS // PER_RUN
    started = datetime.now(UTC) - timedelta(days=200)
    batch = 20_000
    made = 0
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
                for _ in range(count)
            )
            events = [
                RunEvent(
                    run_id=run.pk,
                    seq=seq,
                    at=started,
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
        made += count * PER_RUN
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE workspace_run")
            cur.execute("VACUUM ANALYZE workspace_runevent")
    return made


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
        return sum(c.get("rows", 0) for c in run.counts.values())

    figures["retention_run"] = measure("retention run (batches)", ours, writer)

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
