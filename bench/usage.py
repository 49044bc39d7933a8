"""Usage analytics over 10 million traces: `make bench-usage` (`.venv/bin/python bench/usage.py`).

A fresh PostgreSQL database `governance_bench_usage`: one organization with 500 members, 20
teams and 50 agents; BENCH_TRACES tool-call traces (default 10,000,000) over the last 90 days,
written with one INSERT … SELECT from generate_series (volume, not behaviour: the trace writer
is exercised by the tests and by bench/gateway.py). Then:
1. the backfill: every day marked and recomputed (`manage.py mcp_usage_rollup --all`), and
   the cost of recomputing one day (what the minute's rollup does for a day that got traces);
2. each chart's reads, as the Usage page makes them (gateway.usage.chart: the top keys, their
   days, the rest summed per day), for every dimension over 30 and 90 days: p50 / p95 / max
   of 50 runs; and the full export of the period (gateway.usage.rows, the CSV's and the
   API's read);
3. the whole Usage page through Django's test client (90 days, per member).
Target (issue 17): each chart's query p95 < 200 ms.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DATABASE", "governance_bench_usage")

from bench.scim import ENV, PG, fresh_database, machine_loop_seconds, pct  # noqa: E402

DB = os.environ["BENCH_DATABASE"]
TRACES = int(os.environ.get("BENCH_TRACES", "10000000"))
DAYS = 90
ENV["DATABASE_URL"] = f"{PG}/{DB}"
os.environ["DATABASE_URL"] = ENV["DATABASE_URL"]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
for k, v in ENV.items():
    os.environ.setdefault(k, v)


def seed() -> tuple[object, object]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from gateway.models import ToolTrace
    from orgs.services.members import membership_add
    from orgs.services.orgs import org_create
    from orgs.services.teams import team_create
    from workspace.models import Agent

    org = org_create(slug="bench", name="Bench", actor=None)
    admin = membership_add(
        org=org, email="admin@bench.example", role="admin", full_name="", actor=None
    ).membership
    members = [
        membership_add(
            org=org, email=f"user{i}@bench.example", role="member", full_name="", actor=None
        ).membership.pk
        for i in range(500)
    ]
    teams = [team_create(org=org, name=f"Team {i}", actor=None).pk for i in range(20)]
    agents = [
        Agent.objects.create(org=org, name=f"Agent {i}", owner_id=admin.pk).pk for i in range(50)
    ]
    table = ToolTrace._meta.db_table
    start = datetime.now(UTC) - timedelta(days=DAYS)
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        # Columns named by the model; the values are parameters.
        cur.execute(
            f"""
            INSERT INTO {table} (trace_id, org_id, member_id, member_label, run_id, agent_id,
                team_id, client, server_name, integration, tool, outcome, error, latency_ms,
                offline, arguments_size, result_size, at)
            SELECT md5(g::text)::uuid, %s, (%s::bigint[])[1 + g %% 500], 'bench',
                1 + (g / 7) %% 400000, CASE WHEN g %% 3 = 0 THEN NULL
                ELSE (%s::bigint[])[1 + g %% 50] END,
                (%s::bigint[])[1 + (g / 11) %% 20], 'bench', 'Jira',
                (ARRAY['jira','zendesk','salesforce','snowflake','slack','github'])[1 + g %% 6],
                'echo', CASE WHEN g %% 17 = 0 THEN 'error' WHEN g %% 29 = 0 THEN 'denied'
                ELSE 'ok' END, '', 1.5, false, 20, 40,
                %s::timestamptz + (g::float8 / %s) * interval '{DAYS} days'
            FROM generate_series(1, %s) AS g
            """,
            [org.pk, members, agents, teams, start, TRACES, TRACES],
        )
        cur.execute(f"ANALYZE {table}")
    print(f"seeded {TRACES} traces in {time.perf_counter() - t0:.1f} s")
    return org, admin


def main() -> None:
    fresh_database()
    org, admin = seed()
    from django.db import connection
    from django.test import Client

    from gateway import usage
    from gateway.models import UsageDaily, UsageDirty

    t0 = time.perf_counter()
    marked = usage.mark_all()
    done = 0
    while step := usage.rollup():
        done += step
    backfill = time.perf_counter() - t0
    day = datetime.now(UTC).date() - timedelta(days=10)
    one_day = []
    for _ in range(5):
        UsageDirty.objects.create(org=org, day=day)
        t = time.perf_counter()
        usage.rollup()
        one_day.append((time.perf_counter() - t) * 1000)

    today = datetime.now(UTC).date()
    charts: dict[str, dict[str, float]] = {}
    for dimension in usage.DIMENSIONS:
        for days in (30, 90):
            since = today - timedelta(days=days - 1)
            samples = []
            for _ in range(50):
                t = time.perf_counter()
                drawn = usage.chart(org, dimension, since, today)
                samples.append((time.perf_counter() - t) * 1000)
            charts[f"{dimension}_{days}d"] = {
                "p50_ms": round(statistics.median(samples), 2),
                "p95_ms": round(pct(samples, 95), 2),
                "max_ms": round(max(samples), 2),
                "series": len(drawn["series"]["calls"]),
            }
    admin.user.password_change_required = False  # else the page sends them to set a password
    admin.user.save()
    exports = {}
    for dimension in ("member", "team"):
        samples = []
        for _ in range(10):
            t = time.perf_counter()
            found = usage.rows(org, dimension, today - timedelta(days=89), today)
            samples.append((time.perf_counter() - t) * 1000)
        exports[f"{dimension}_90d"] = {
            "p50_ms": round(statistics.median(samples), 1),
            "rows": len(found),
        }
    client = Client()
    client.force_login(admin.user)
    url = f"/o/{org.slug}/usage/?dimension=member&since={today - timedelta(days=89)}"
    pages = []
    for _ in range(20):
        t = time.perf_counter()
        response = client.get(url, HTTP_HOST="127.0.0.1", secure=True)
        pages.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, (response.status_code, response.get("Location"))
    with connection.cursor() as cur:
        cur.execute("SELECT pg_size_pretty(pg_total_relation_size('gateway_tooltrace'))")
        size = cur.fetchone()[0]
    print(
        json.dumps(
            {
                "machine_loop_s": machine_loop_seconds(),
                "traces": TRACES,
                "traces_table": size,
                "usage_rows": UsageDaily.objects.count(),
                "backfill_days": marked,
                "backfill_s": round(backfill, 1),
                "recompute_one_day_ms_median": round(statistics.median(one_day), 1),
                "charts": charts,
                "exports": exports,
                "usage_page_90d_per_member_p50_ms": round(statistics.median(pages), 1),
                "usage_page_90d_per_member_p95_ms": round(pct(pages, 95), 1),
                "targets_missed": [k for k, v in charts.items() if v["p95_ms"] >= 200],
            },
            indent=2,
        )
    )
    if any(v["p95_ms"] >= 200 for v in charts.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
