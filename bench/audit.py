"""The audit trail on PostgreSQL: `make bench-audit` (`.venv/bin/python bench/audit.py`).

Builds a fresh database `governance_bench_audit` and measures, side by side in one run:
  - ingest: 4 clients, each committing single-event transactions, through `audit_record` (the
    ORM and the leaf hash) and as a raw single-row INSERT of the same row (interleaved rounds);
  - the sealer: BENCH_AUDIT_SEALED events (default 1,000,000) loaded with their leaves, then
    sealed by `seal_all` (events/s), and the sealer's lag under the ingest load (a pass every
    BENCH_AUDIT_SEAL_EVERY seconds while 4 clients write);
  - verification: `verify` of the sealed organization (events/s, and the time 10 million would
    take at that rate);
  - export: `manage.py audit_export` of the sealed organization as JSON Lines, in a process of
    its own: events/s and peak RSS;
  - filtered pages: BENCH_AUDIT_VOLUME events (default 10,000,000, generated in SQL) in one
    organization, then the audit page's filters at page 1 and at page 10,000 (keyset), warm:
    p50/p95 over 200 reads each.
Targets (issue 14): ingest >= 2,000 transactions/s and >= 0.75 of raw; sealer >= 20,000
events/s with lag <= 60 s; verify 10 million < 10 minutes; export >= 50,000 events/s in
constant memory; filtered page p95 < 10 ms.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DATABASE", "governance_bench_audit")

from bench.scim import ENV, fresh_database, machine_loop_seconds, pct  # noqa: E402

os.environ.update(ENV)
os.environ.pop("REDIS_URL", None)
SEALED = int(os.environ.get("BENCH_AUDIT_SEALED", "1000000"))
VOLUME = int(os.environ.get("BENCH_AUDIT_VOLUME", "10000000"))
SEAL_EVERY = float(os.environ.get("BENCH_AUDIT_SEAL_EVERY", "20"))
CLIENTS = 4
INGEST_SECONDS = float(os.environ.get("BENCH_AUDIT_INGEST_SECONDS", "8"))


def setup() -> tuple[object, object]:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from orgs.services.orgs import org_create

    return (
        org_create(slug="sealed", name="Sealed", actor=None),
        org_create(slug="volume", name="Volume", actor=None),
    )


def ingest(org: object, raw: bool, seconds: float) -> float:
    """Transactions per second from CLIENTS threads, each committing one event at a time."""
    from django.db import connection, connections, transaction

    from audit.services import audit_record

    counts = [0] * CLIENTS
    stop = time.perf_counter() + seconds

    def client(i: int) -> None:
        try:
            n = 0
            while time.perf_counter() < stop:
                if raw:
                    # The same durable transaction (BEGIN, one INSERT, COMMIT), without
                    # audit_record: no ORM, no leaf hash.
                    with transaction.atomic(), connection.cursor() as cur:
                        cur.execute(
                            "INSERT INTO audit_auditevent (org_id, occurred_at, action, "
                            "actor_kind, actor_id, actor_label, target_type, target_id, "
                            "target_label, user_agent, request_id, data, leaf) VALUES "
                            "(%s, now(), 'team.created', 'user', '7', 'admin@bench.example', "
                            "'team', %s, 'Team', 'bench', '', %s, '')",
                            [org.pk, str(n), json.dumps({"new": {"name": f"Team {n}"}})],
                        )
                else:
                    with transaction.atomic():
                        audit_record(
                            action="team.created",
                            org=org,
                            actor=None,
                            target_type="team",
                            target_id=str(n),
                            target_label="Team",
                            data={"new": {"name": f"Team {n}"}},
                        )
                n += 1
            counts[i] = n
        finally:
            connections.close_all()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - t0)


def load_sealed(org: object, n: int) -> None:
    """n events with their leaves, written with COPY (volume, not behaviour)."""
    import datetime as dt

    from django.db import connection

    from audit import ledger

    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cols = ("org_id", "occurred_at", "action", "actor_kind", "actor_id", "actor_label",
            "target_type", "target_id", "target_label", "user_agent", "request_id", "data",
            "leaf")  # fmt: skip
    connection.ensure_connection()
    copy_sql = f"COPY audit_auditevent ({', '.join(cols)}) FROM STDIN"
    with connection.connection.cursor() as cur, cur.copy(copy_sql) as copy:
        for i in range(n):
            values = {
                "org_id": org.pk,
                "occurred_at": base + dt.timedelta(milliseconds=i),
                "action": "member.role_changed" if i % 7 else "access.denied",
                "actor_kind": "user",
                "actor_id": str(i % 500),
                "actor_label": f"user{i % 500}@bench.example",
                "target_type": "membership",
                "target_id": str(i % 10000),
                "target_label": f"member {i % 10000}",
                "ip": None,
                "user_agent": "bench",
                "request_id": "",
                "data": {"old": {"role": "member"}, "new": {"role": "admin"}, "i": i},
            }
            row = [values[c] for c in cols[:-2]]
            copy.write_row([*row, json.dumps(values["data"]), ledger.leaf(values).hex()])
    connection.commit() if not connection.get_autocommit() else None


def load_volume(org: object, n: int) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO audit_auditevent (org_id, occurred_at, action, actor_kind, actor_id, "
            "actor_label, target_type, target_id, target_label, user_agent, request_id, data, "
            "leaf) SELECT %s, timestamp '2025-01-01' + g * interval '3 seconds', "
            "(ARRAY['member.role_changed','access.denied','scim.user_created','team.created',"
            "'agent.updated','auth.login_succeeded'])[1 + g %% 6], 'user', (g %% 5000)::text, "
            "'user' || (g %% 5000) || '@volume.example', 'membership', (g %% 50000)::text, "
            "'member ' || (g %% 50000), 'bench', '', '{\"i\": 1}'::jsonb, '' "
            "FROM generate_series(1, %s) g",
            [org.pk, n],
        )
        cur.execute("ANALYZE audit_auditevent")


def page_reads(org: object) -> dict[str, object]:
    from audit.selectors import AuditFilter, audit_page

    cases = {
        "all": AuditFilter(),
        "action": AuditFilter(action="access.denied"),
        "prefix": AuditFilter(action="scim."),
        "actor": AuditFilter(actor="user42@volume.example"),
    }
    out: dict[str, object] = {}
    for name, f in cases.items():
        # Page 10,000 of 50: the cursor 500,000 events deep (walked by keyset from the top).
        _, cursor = audit_page(org=org, filters=f, limit=50)
        deep = None
        from audit.selectors import audit_events

        ids = list(audit_events(org=org, filters=f).values_list("id", flat=True)[499_950:499_951])
        deep = ids[0] if ids else cursor
        for label, before in (("page1", None), ("page10000", deep)):
            for _ in range(20):
                audit_page(org=org, filters=f, before=before)
            times = []
            for _ in range(200):
                t0 = time.perf_counter()
                audit_page(org=org, filters=f, before=before)
                times.append((time.perf_counter() - t0) * 1000)
            out[f"{name}_{label}_p50_ms"] = round(statistics.median(times), 2)
            out[f"{name}_{label}_p95_ms"] = round(pct(times, 95), 2)
    return out


def export_figures() -> dict[str, object]:
    """`manage.py audit_export sealed` (JSON Lines with its seals) to /dev/null in a process of
    its own: events per second, and its peak RSS (constant memory: it does not grow with the
    export)."""
    import subprocess

    from audit.models import AuditEvent
    from orgs.models import Organization

    org = Organization.objects.get(slug="sealed")
    count = AuditEvent.objects.filter(org_id=org.pk).count()
    # The child reports its own peak (VmHWM): a forked child's ru_maxrss would also count the
    # parent's pages it held before exec.
    code = (
        "import runpy, sys\n"
        "sys.argv = ['manage.py', 'audit_export', 'sealed']\n"
        "try:\n"
        "    runpy.run_path('manage.py', run_name='__main__')\n"
        "finally:\n"
        "    peak = [l for l in open('/proc/self/status') if l.startswith('VmHWM')]\n"
        "    sys.stderr.write(peak[0] if peak else '')\n"
    )
    t0 = time.perf_counter()
    with open(os.devnull, "w") as sink:
        done = subprocess.run(
            [sys.executable, "-c", code],
            stdout=sink,
            stderr=subprocess.PIPE,
            text=True,
            check=True,
            env={**os.environ, **ENV},
            cwd=ROOT,
        )
    seconds = time.perf_counter() - t0
    peak_kb = int(done.stderr.split("VmHWM:")[-1].split()[0]) if "VmHWM" in done.stderr else 0
    return {
        "export_events": count,
        "export_events_per_s": round(count / seconds, 1),
        "export_peak_rss_mb": round(peak_kb / 1024, 1),
    }


def main() -> None:
    fresh_database()
    sealed_org, volume_org = setup()
    from audit.sealing import seal_all, seal_pass
    from audit.verification import verify

    report: dict[str, object] = {"sealed_events": SEALED, "volume_events": VOLUME}
    seal_all()
    ours, raw = [], []
    for _ in range(3):
        raw.append(ingest(sealed_org, True, INGEST_SECONDS))
        ours.append(ingest(sealed_org, False, INGEST_SECONDS))
    report["ingest_raw_tps"] = round(statistics.median(raw), 1)
    report["ingest_audit_record_tps"] = round(statistics.median(ours), 1)
    report["ingest_ratio"] = round(report["ingest_audit_record_tps"] / report["ingest_raw_tps"], 3)
    seal_all()
    if os.environ.get("BENCH_AUDIT_ONLY") == "ingest":
        print(json.dumps(report, indent=2))
        return

    t0 = time.perf_counter()
    load_sealed(sealed_org, SEALED)
    report["load_seconds"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    sealed = seal_all()
    seconds = time.perf_counter() - t0
    report["seal_events"] = sealed["events"]
    report["seal_events_per_s"] = round(sealed["events"] / seconds, 1)

    # Lag under load: writers for a while, a sealer pass every SEAL_EVERY seconds.
    from django.db.models import Min

    from audit.models import AuditEvent, AuditSeal
    from audit.sealing import in_range

    lags: list[float] = []
    stop = threading.Event()

    def sealer() -> None:
        from django.db import connections

        try:
            while not stop.wait(SEAL_EVERY):
                done = seal_pass()
                end = time.time()
                if done.get("events"):
                    # The oldest event written in this phase that this pass sealed: how
                    # long it waited for its seal.
                    oldest = (
                        AuditEvent.objects.filter(in_range(done["lo"], done["hi"]))
                        .filter(occurred_at__gte=phase_start)
                        .aggregate(m=Min("occurred_at"))["m"]
                    )
                    if oldest is not None:
                        lags.append(end - oldest.timestamp())
        finally:
            connections.close_all()

    from django.utils import timezone

    phase_start = timezone.now()
    thread = threading.Thread(target=sealer)
    thread.start()
    report["ingest_during_sealing_tps"] = round(ingest(sealed_org, False, 3 * SEAL_EVERY), 1)
    stop.set()
    thread.join()
    report["seal_lag_max_s"] = round(max(lags), 1) if lags else None
    seal_all()

    t0 = time.perf_counter()
    result = verify(sealed_org.pk)
    seconds = time.perf_counter() - t0
    assert result["ok"], result
    report["verify_events"] = result["events_checked"]
    report["verify_events_per_s"] = round(result["events_checked"] / seconds, 1)
    report["verify_10M_minutes_at_that_rate"] = round(
        10_000_000 / (result["events_checked"] / seconds) / 60, 1
    )
    report["seals"] = AuditSeal.objects.count()
    report.update(export_figures())

    if VOLUME:
        t0 = time.perf_counter()
        load_volume(volume_org, VOLUME)
        report["volume_load_seconds"] = round(time.perf_counter() - t0, 1)
        report.update(page_reads(volume_org))
    report["machine_python_loop_10M_s"] = round(machine_loop_seconds(), 3)
    print(json.dumps(report, indent=2))
    pages = [v for k, v in report.items() if k.endswith("_p95_ms")]
    ok = (
        report["ingest_audit_record_tps"] >= 2000
        and report["ingest_ratio"] >= 0.75
        and report["seal_events_per_s"] >= 20_000
        and (report["seal_lag_max_s"] or 0) <= 60
        and report["verify_10M_minutes_at_that_rate"] < 10
        and report["export_events_per_s"] >= 50_000
        and all(p < 10 for p in pages)
    )
    print("targets met" if ok else "TARGETS MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
