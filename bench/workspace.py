"""The runtime's API on PostgreSQL: `make bench-workspace` (`.venv/bin/python bench/workspace.py`).

Builds a fresh database `governance_bench_ws` with 10,000 members, 500 teams (each member in two),
2,000 team-owned agents and 20,000 shares (half to members, half to teams, stored as
django-guardian object permissions), starts the real gunicorn server and measures, over HTTP on
loopback with a service key:
  - single decisions (`POST /api/v1/authorize`): p50/p95, and the SQL statements per decision;
  - batches of 100 questions: p50/p95 and statements per batch;
  - ingest: 4 clients appending tool-call events (batches of 100, with input and output
    payloads) to 4 open runs: events per second.
Targets (issue 13): decision p95 < 5 ms with at most 2 statements per decision and per batch
(beside the key's own lookup); ingest >= 1,000 tool-call events/s.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DATABASE", "governance_bench_ws")

from bench.scim import (  # noqa: E402
    ENV,
    PG,
    Http,
    free_port,
    fresh_database,
    machine_loop_seconds,
    pct,
    start_server,
)

DB = os.environ["BENCH_DATABASE"]
MEMBERS, TEAMS, AGENTS, SHARES = 10_000, 500, 2_000, 20_000
EVENTS = int(os.environ.get("BENCH_EVENTS", "20000"))
CLIENTS = 4
ENV["DATABASE_URL"] = f"{PG}/{DB}"
os.environ["DATABASE_URL"] = ENV["DATABASE_URL"]


def seed() -> tuple[str, list[int], list[int]]:
    import django

    django.setup()
    from django.contrib.auth.models import Group, Permission
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from identity.models import User
    from orgs.models import CustomRole, Membership, RoleAssignment, Team, TeamMembership, name_key
    from orgs.services.orgs import org_create
    from orgs.services.service_keys import service_key_create
    from workspace.models import Agent, AgentTeamShare, AgentUserShare

    rnd = random.Random(7)
    org = org_create(slug="bench", name="Bench", actor=None)
    _, key = service_key_create(org=org, label="bench", actor=None)
    users = User.objects.bulk_create(
        User(email=f"m{i:05d}@bench.example", password="!") for i in range(MEMBERS)
    )
    members = Membership.objects.bulk_create(Membership(org=org, user=u) for u in users)
    groups = Group.objects.bulk_create(Group(name=f"team:bench:{i}") for i in range(TEAMS))
    teams = Team.objects.bulk_create(
        Team(org=org, name=f"Team {i}", name_key=name_key(f"Team {i}"), auth_group=g)
        for i, g in enumerate(groups)
    )
    TeamMembership.objects.bulk_create(
        TeamMembership(team=teams[(i * 7 + k) % TEAMS], membership=m)
        for i, m in enumerate(members)
        for k in (0, 1)
    )
    builder = CustomRole.objects.create(
        org=org,
        name="Builder",
        name_key="builder",
        permissions=["agents.create", "agents.edit", "agents.run", "integrations.use.slack"],
    )
    consumer = CustomRole.objects.create(
        org=org,
        name="Consumer",
        name_key="consumer",
        permissions=["agents.run", "integrations.use.slack", "integrations.use.zendesk"],
    )
    RoleAssignment.objects.bulk_create(
        RoleAssignment(membership=m, role=builder if i % 3 == 0 else consumer)
        for i, m in enumerate(members)
    )
    agents = Agent.objects.bulk_create(
        Agent(
            org=org,
            name=f"Agent {i}",
            team=teams[i % TEAMS],
            owner=members[i % MEMBERS],
            integrations=["slack"] if i % 2 else ["slack", "zendesk"],
        )
        for i in range(AGENTS)
    )
    perms = {
        p.codename: p
        for p in Permission.objects.filter(
            content_type__app_label="workspace",
            codename__startswith="share_",
            content_type__model="agent",
        )
    }
    levels = ["share_viewer", "share_runner", "share_editor", "share_owner"]
    user_pairs, team_pairs = set(), set()
    while len(user_pairs) < SHARES // 2:
        user_pairs.add((rnd.randrange(AGENTS), rnd.randrange(MEMBERS)))
    while len(team_pairs) < SHARES // 2:
        team_pairs.add((rnd.randrange(AGENTS), rnd.randrange(TEAMS)))
    AgentUserShare.objects.bulk_create(
        AgentUserShare(
            content_object=agents[a], user=users[u], permission=perms[rnd.choice(levels)]
        )
        for a, u in user_pairs
    )
    AgentTeamShare.objects.bulk_create(
        AgentTeamShare(
            content_object=agents[a], group=groups[t], permission=perms[rnd.choice(levels)]
        )
        for a, t in team_pairs
    )
    from django.db import connection

    with connection.cursor() as c:
        c.execute("VACUUM ANALYZE")
    return key, [m.pk for m in members], [a.pk for a in agents]


def statements(key: str, body: dict) -> int:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.post(
        "/api/v1/authorize",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    with CaptureQueriesContext(connection) as ctx:
        r = client.post(
            "/api/v1/authorize",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {key}",
        )
    assert r.status_code == 200, r.content
    return len(ctx) - 1  # less the service key's own lookup


def main() -> None:
    fresh_database()
    t0 = time.perf_counter()
    key, members, agents = seed()
    print(f"seeded in {time.perf_counter() - t0:.1f} s")
    rnd = random.Random(11)
    actions = ["agent.view", "agent.run", "agent.edit", "agent.delete"]

    def question() -> dict:
        return {
            "member": rnd.choice(members),
            "action": rnd.choice(actions),
            "resource": f"agent:{rnd.choice(agents)}",
        }

    single_sql = statements(key, question())
    batch_sql = statements(key, {"questions": [question() for _ in range(100)]})
    port = free_port()
    server = start_server(port)
    try:
        client = Http(port, key)
        client.headers["Content-Type"] = "application/json"
        for _ in range(50):
            client.call("POST", "/api/v1/authorize", question())
        singles, batches, allowed = [], [], 0
        for _ in range(500):
            status, ms, data = client.call("POST", "/api/v1/authorize", question())
            assert status == 200, data
            allowed += json.loads(data)["allowed"]
            singles.append(ms)
        for _ in range(100):
            status, ms, _ = client.call(
                "POST", "/api/v1/authorize", {"questions": [question() for _ in range(100)]}
            )
            assert status == 200
            batches.append(ms)
        # Ingest: open a run per client for a member who may run the agent (a Consumer in the
        # agent's team), then append tool calls in batches of 100.
        runs = []
        from orgs.models import TeamMembership
        from workspace.models import Agent

        for i in range(CLIENTS):
            agent = Agent.objects.get(pk=agents[2 * i + 1])
            member = (
                TeamMembership.objects.filter(team_id=agent.team_id)
                .values_list("membership_id", flat=True)
                .first()
            )
            status, _, data = client.call(
                "POST", "/api/v1/runs/", {"member": member, "agent": agent.pk, "trigger": "api"}
            )
            assert status == 201, data
            runs.append(json.loads(data)["id"])
        batch = [
            {
                "type": "tool_call",
                "integration": "slack",
                "action": "post_message",
                "latency_ms": 42,
                "outcome": "ok",
                "input": {"channel": "#support", "text": "hello"},
                "output": {"ok": True},
            }
        ] * 100
        errors: list[int] = []

        def feeder(i: int) -> None:
            c = Http(port, key)
            c.headers["Content-Type"] = "application/json"
            for _ in range(EVENTS // CLIENTS // 100):
                status, _, _ = c.call("POST", f"/api/v1/runs/{runs[i]}/events/", {"events": batch})
                if status != 202:
                    errors.append(status)

        t0 = time.perf_counter()
        threads = [threading.Thread(target=feeder, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ingest_seconds = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait(timeout=10)
    rate = EVENTS / ingest_seconds
    report = {
        "members": MEMBERS,
        "teams": TEAMS,
        "agents": AGENTS,
        "shares": SHARES,
        "decision_p50_ms": round(statistics.median(singles), 2),
        "decision_p95_ms": round(pct(singles, 95), 2),
        "decisions_allowed_share": round(allowed / len(singles), 2),
        "statements_per_decision": single_sql,
        "batch100_p50_ms": round(statistics.median(batches), 2),
        "batch100_p95_ms": round(pct(batches, 95), 2),
        "statements_per_batch100": batch_sql,
        "ingest_events": EVENTS,
        "ingest_clients": CLIENTS,
        "ingest_events_per_second": round(rate, 1),
        "ingest_errors": len(errors),
        "machine_python_loop_10M_s": round(machine_loop_seconds(), 3),
    }
    print(json.dumps(report, indent=2))
    ok = (
        report["decision_p95_ms"] < 5
        and single_sql <= 2
        and batch_sql <= 2
        and rate >= 1000
        and not errors
    )
    print("targets met" if ok else "TARGETS MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
