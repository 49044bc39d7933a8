"""SCIM benchmark on PostgreSQL: `make bench` (or `.venv/bin/python bench/scim.py`).

Builds a fresh database `governance_bench`, provisions 100,000 users in one organization, starts
the real HTTP server (gunicorn) and measures, through HTTP on loopback:
  - list pages (count=100) at the start, middle and end: p50/p95 and the queries per page;
  - `userName eq` lookups: p50/p95;
  - creating 10,000 users with 4 concurrent clients: users per second.
Targets (issue 3): list p95 < 50 ms with <= 5 queries; lookup p95 < 10 ms; >= 200 creates/s.

Also printed, to read the figures by: the CPU each create cost per process group (gunicorn,
PostgreSQL, the load generator), and how long this machine takes for a fixed pure-Python loop
(shared 2-core machines vary in speed from hour to hour; a slower loop means slower figures).
Redis is the cache (rate limits) when it answers on 127.0.0.1:6379, as in production.
The stale-statistics variant is bench/scim_stale.py (`make bench-scim-stale`).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DB = os.environ.get("BENCH_DATABASE", "governance_bench")
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
USERS = int(os.environ.get("BENCH_USERS", "100000"))
CREATES = int(os.environ.get("BENCH_CREATES", "10000"))
CLIENTS = 4
ENV = {
    "DATABASE_URL": f"{PG}/{DB}",
    "DJANGO_SECRET_KEY": "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "DJANGO_SETTINGS_MODULE": "governance.settings",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "GOVERNANCE_SCIM_RATE_LIMIT": "100000000",
    "GOVERNANCE_LOG_LEVEL": "WARNING",
}


def redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


if redis_up():
    ENV["REDIS_URL"] = "redis://127.0.0.1:6379/14"
os.environ.update(ENV)


def machine_loop_seconds() -> float:
    """Seconds for ten million additions in pure Python: the best of three."""
    best = float("inf")
    for _ in range(3):
        t0, total = time.perf_counter(), 0
        for i in range(10_000_000):
            total += i
        best = min(best, time.perf_counter() - t0)
    return best


def cpu_seconds_by_group(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far by gunicorn (master and workers) and by this process (the load
    generator), from /proc; the rest of the machine's busy time is PostgreSQL and Redis (the
    machine runs nothing else during a benchmark; their short-lived processes are why this is
    measured as a remainder)."""
    tick = os.sysconf("SC_CLK_TCK")
    cpu = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    busy = sum(int(cpu[i]) for i in (0, 1, 2, 5, 6)) / tick  # user nice system irq softirq
    out = {"gunicorn": 0.0, "load_generator": 0.0}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used = (int(stat[11]) + int(stat[12])) / tick
        if int(pid) == server_pid or int(stat[1]) == server_pid:
            out["gunicorn"] += used
        elif int(pid) == os.getpid():
            out["load_generator"] += used
    out["postgres_redis_rest"] = busy - out["gunicorn"] - out["load_generator"]
    return out


def fresh_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')


def seed() -> tuple[str, list[str]]:
    """100k users in bulk (volume, not behaviour: the services are exercised by the tests and
    by the create phase below)."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from identity.models import User
    from mapping.models import IdpUser
    from orgs.models import Membership
    from orgs.services.orgs import org_create
    from scim.services.tokens import scim_token_create

    org = org_create(slug="bench", name="Bench", actor=None)
    _, secret = scim_token_create(org=org, label="bench", actor=None)
    names = [f"user{i:06d}@bench.example" for i in range(USERS)]
    t0 = time.perf_counter()
    for start in range(0, USERS, 10_000):
        chunk = names[start : start + 10_000]
        users = User.objects.bulk_create(User(email=n, password="!") for n in chunk)
        ms = Membership.objects.bulk_create(
            Membership(org=org, user=u, source="scim") for u in users
        )
        IdpUser.objects.bulk_create(
            IdpUser(
                org=org,
                membership=m,
                user_name=n,
                given_name="Bench",
                family_name=n[:10],
                emails=[{"value": n, "type": "work", "primary": True}],
            )
            for m, n in zip(ms, chunk, strict=True)
        )
    from django.db import connection

    with connection.cursor() as c:
        c.execute("VACUUM ANALYZE")  # the steady state autovacuum keeps a live database in
    print(f"seeded {USERS} users in {time.perf_counter() - t0:.1f} s")
    return secret, names


def queries_per_page(secret: str) -> list[int]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client, counts = Client(), []
    # A token's first request also records "last used" (an UPDATE at most once a minute);
    # count the steady state.
    client.get("/scim/v2/Users?count=1", HTTP_AUTHORIZATION=f"Bearer {secret}")
    for start in (1, USERS // 2, USERS - 99):
        with CaptureQueriesContext(connection) as ctx:
            r = client.get(
                f"/scim/v2/Users?startIndex={start}&count=100",
                HTTP_AUTHORIZATION=f"Bearer {secret}",
            )
        assert r.status_code == 200 and len(r.json()["Resources"]) == 100
        counts.append(len(ctx))
    return counts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "governance.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            os.environ.get("BENCH_WORKERS", "4"),
            "--worker-class",
            os.environ.get("BENCH_WORKER_CLASS", "gthread"),
            "--threads",
            os.environ.get("BENCH_THREADS", "2"),
            "--log-level",
            "warning",
            *(["--preload"] if os.environ.get("BENCH_PRELOAD", "1") == "1" else []),
        ],
        cwd=ROOT,
        env={**os.environ, **ENV},
    )
    for _ in range(100):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("gunicorn did not start")


class Http:
    def __init__(self, port: int, secret: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {
            "Authorization": f"Bearer {secret}",
            "Content-Type": "application/scim+json",
        }

    def call(self, method: str, path: str, body: object = None) -> tuple[int, float, bytes]:
        t0 = time.perf_counter()
        self.conn.request(
            method, path, body=json.dumps(body) if body is not None else None, headers=self.headers
        )
        r = self.conn.getresponse()
        data = r.read()
        return r.status, (time.perf_counter() - t0) * 1000, data


def pct(samples: list[float], p: float) -> float:
    # "inclusive": a percentile of few samples stays within them (the default extrapolates past
    # the largest, so a p99 could exceed the max).
    return statistics.quantiles(samples, n=100, method="inclusive")[int(p) - 1]


def main() -> None:
    fresh_database()
    secret, names = seed()
    counts = queries_per_page(secret)
    port = free_port()
    server = start_server(port)
    try:
        client = Http(port, secret)
        for _ in range(80):  # every worker thread opens its connection and warms its code
            client.call("GET", f"/scim/v2/Users?startIndex={random.randint(1, USERS)}&count=100")
        lists = []
        for _ in range(300):
            start = random.choice([1, USERS // 2, USERS - 99, random.randint(1, USERS - 99)])
            status, ms, _ = client.call("GET", f"/scim/v2/Users?startIndex={start}&count=100")
            assert status == 200
            lists.append(ms)
        lookups = []
        for name in random.sample(names, 300):
            status, ms, data = client.call(
                "GET",
                "/scim/v2/Users?filter="
                + f'userName eq "{name.upper()}"'.replace(" ", "%20").replace('"', "%22"),
            )
            assert status == 200 and json.loads(data)["totalResults"] == 1
            lookups.append(ms)

        errors: list[int] = []

        def creator(worker: int) -> None:
            c = Http(port, secret)
            for i in range(worker, CREATES, CLIENTS):
                n = f"new{i:06d}@bench.example"
                status, _, _ = c.call(
                    "POST",
                    "/scim/v2/Users",
                    {
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "userName": n,
                        "name": {"givenName": "New", "familyName": str(i)},
                        "emails": [{"value": n, "type": "work", "primary": True}],
                        "active": True,
                    },
                )
                if status != 201:
                    errors.append(status)

        cpu0 = cpu_seconds_by_group(server.pid)
        t0 = time.perf_counter()
        threads = [threading.Thread(target=creator, args=(w,)) for w in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        cpu1 = cpu_seconds_by_group(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=10)

    rate = CREATES / elapsed
    report = {
        "users_in_org": USERS,
        "list_count100_p50_ms": round(statistics.median(lists), 1),
        "list_count100_p95_ms": round(pct(lists, 95), 1),
        "list_queries_per_page_start_middle_end": counts,
        "username_eq_p50_ms": round(statistics.median(lookups), 2),
        "username_eq_p95_ms": round(pct(lookups, 95), 2),
        "creates": CREATES,
        "create_clients": CLIENTS,
        "create_seconds": round(elapsed, 1),
        "creates_per_second": round(rate, 1),
        "create_errors": len(errors),
        "create_cpu_ms_per_user": {k: round((cpu1[k] - cpu0[k]) / CREATES * 1000, 2) for k in cpu1},
        "cache": "redis" if "REDIS_URL" in ENV else "local memory",
        "machine_python_loop_10M_s": round(machine_loop_seconds(), 3),
    }
    print(json.dumps(report, indent=2))
    ok = (
        report["list_count100_p95_ms"] < 50
        and max(counts) <= 5
        and report["username_eq_p95_ms"] < 10
        and rate >= 200
        and not errors
    )
    print("targets met" if ok else "TARGETS MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
