"""The runtime's token endpoint on PostgreSQL: `make bench-credentials`
(`.venv/bin/python bench/credentials.py`).

A fresh database `governance_bench_cred`: one organization, 200 members whose role allows
Snowflake, each connected to the Snowflake service of an Okta OAuth credential (tokens
encrypted, valid for an hour, so no refresh is needed), each with a run in progress. The real
gunicorn server; 4 clients on loopback, each with its own connection, ask
`POST /api/v1/credentials/token` for random members. Printed: p50 / p95 / p99 per token, tokens
per second, and the SQL statements of one issue (measured in-process).
Target (issue 16): p95 < 10 ms when no refresh is needed.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DATABASE", "governance_bench_cred")

from bench.scim import (  # noqa: E402
    ENV,
    PG,
    Http,
    cpu_seconds_by_group,
    free_port,
    fresh_database,
    machine_loop_seconds,
    pct,
    start_server,
)

DB = os.environ["BENCH_DATABASE"]
MEMBERS = 200
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
PER_CLIENT = int(os.environ.get("BENCH_TOKENS", "500"))
ENV["DATABASE_URL"] = f"{PG}/{DB}"
os.environ["DATABASE_URL"] = ENV["DATABASE_URL"]


def seed() -> tuple[str, list[tuple[int, int]]]:
    """The service key, and (member id, run id) pairs."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from core import crypto
    from credentials.models import CredentialService, OktaCredential, ServiceConnection
    from orgs.services.assignments import role_assign
    from orgs.services.members import membership_add
    from orgs.services.orgs import org_create
    from orgs.services.roles import custom_role_create
    from orgs.services.service_keys import service_key_create
    from workspace.models import Run

    org = org_create(slug="bench", name="Bench", actor=None)
    admin = membership_add(
        org=org, email="admin@bench.example", role="admin", full_name="", actor=None
    ).membership
    _, key = service_key_create(org=org, label="runtime", actor=admin.user)
    role = custom_role_create(
        org=org, name="Analyst", permissions=["integrations.use.snowflake"], actor=None
    )
    credential = OktaCredential.objects.create(  # as saved after its discovery document
        org=org,
        name="Okta",
        okta_domain="acme.okta.com",
        server_id="aus1",
        client_id="client",
        client_secret=crypto.encrypt("secret"),
        issuer="https://acme.okta.com/oauth2/aus1",
        authorization_endpoint="https://acme.okta.com/oauth2/aus1/v1/authorize",
        token_endpoint="https://acme.okta.com/oauth2/aus1/v1/token",
    )
    service = CredentialService.objects.create(
        org=org, credential=credential, name="Snowflake", integration="snowflake"
    )
    pairs = []
    for i in range(MEMBERS):
        member = membership_add(
            org=org, email=f"analyst{i}@bench.example", role="member", full_name="", actor=None
        ).membership
        role_assign(membership=member, role=role, actor=None)
        ServiceConnection.objects.create(
            org=org,
            membership=member,
            service=service,
            status="connected",
            access_token=crypto.encrypt(f"eyJ.bench-access-token-{i}." + "x" * 800),
            refresh_token=crypto.encrypt(f"bench-refresh-{i}"),
            expires_at=timezone.now() + timedelta(hours=2),
            scopes=["openid", "offline_access", "session:role:ANALYST"],
            refreshed_at=timezone.now(),
        )
        run = Run.objects.create(
            org=org, member=member, resource_name="Report", trigger="api", status="running"
        )
        pairs.append((member.pk, run.pk))
    return key, pairs


def statements(key: str, body: dict) -> int:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    with CaptureQueriesContext(connection) as ctx:
        r = client.post(
            "/api/v1/credentials/token",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {key}",
        )
    assert r.status_code == 200, r.content
    return len(ctx)


def main() -> None:
    fresh_database()
    t0 = time.perf_counter()
    key, pairs = seed()
    print(f"seeded in {time.perf_counter() - t0:.1f} s")
    member, run = pairs[0]
    sql = statements(key, {"member": member, "service": "Snowflake", "run": run})
    port = free_port()
    server = start_server(port)
    samples: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()
    try:

        def client(seed: int) -> None:
            rnd = random.Random(seed)
            c = Http(port, key)
            c.headers["Content-Type"] = "application/json"
            mine = []
            for i in range(PER_CLIENT + 50):
                member, run = rnd.choice(pairs)
                status, ms, _ = c.call(
                    "POST",
                    "/api/v1/credentials/token",
                    {"member": member, "service": "Snowflake", "run": run},
                )
                if status != 200:
                    errors.append(status)
                if i >= 50:  # the first 50: this connection's and worker's warm-up
                    mine.append(ms)
            with lock:
                samples.extend(mine)

        cpu0 = cpu_seconds_by_group(server.pid)
        t0 = time.perf_counter()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - t0
        cpu1 = cpu_seconds_by_group(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(
        json.dumps(
            {
                "machine_loop_s": machine_loop_seconds(),
                "clients": CLIENTS,
                "tokens": len(samples),
                "errors": len(errors),
                "token_p50_ms": round(statistics.median(samples), 2),
                "token_p95_ms": round(pct(samples, 95), 2),
                "token_p99_ms": round(pct(samples, 99), 2),
                "tokens_per_s": round(CLIENTS * (PER_CLIENT + 50) / seconds),
                "statements_per_token": sql,
                "cpu_ms_per_token": {
                    k: round((cpu1[k] - cpu0[k]) * 1000 / (CLIENTS * (PER_CLIENT + 50)), 2)
                    for k in cpu0
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
