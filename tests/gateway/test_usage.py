"""Usage analytics: the daily rows are exactly what the traces say (recomputed, never
incremented, a day recomputed again when more of its traces arrive), shown as charts and CSV
on the Usage page and as JSON or CSV through /api/v1/usage/, for one organization only."""

from __future__ import annotations

import csv
import io
import random
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest

from gateway.models import UsageDaily, UsageDirty
from gateway.traces import store
from gateway.usage import rollup
from orgs.services.api_keys import api_key_create
from orgs.services.teams import team_create
from tests.conftest import api

DAY = date(2026, 11, 20)


def _traces(org, members, teams, n, seed, day=DAY):
    rnd = random.Random(seed)
    made = []
    for i in range(n):
        member = rnd.choice(members)
        at = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(
            days=rnd.choice([0, 0, 1]), seconds=rnd.randrange(86400)
        )
        made.append(
            {
                "trace_id": str(uuid.uuid4()),
                "org_id": org.pk,
                "member_id": member.pk,
                "member_label": member.user.email,
                "run_id": rnd.choice([None, 1, 2, 3, 4]),
                "agent_id": rnd.choice([None, 7, 8]),
                "team_id": rnd.choice([None, *[t.pk for t in teams]]),
                "server_name": "Jira",
                "integration": rnd.choice(["jira", "zendesk", "snowflake"]),
                "tool": "echo",
                "outcome": rnd.choice(["ok", "ok", "ok", "error", "denied"]),
                "latency_ms": 1.0,
                "arguments": f'{{"i": {i}}}',
                "result": "{}",
                "at": at.isoformat(),
            }
        )
    return made


def _expected(traces):
    """The figures counted straight from the traces, per (day, dimension, key)."""
    out = defaultdict(lambda: {"calls": 0, "errors": 0, "denied": 0, "runs": set(), "m": set()})
    for t in traces:
        day = datetime.fromisoformat(t["at"]).date()
        keys = [("all", ""), ("member", str(t["member_id"]))]
        if t["team_id"]:
            keys.append(("team", str(t["team_id"])))
        if t["agent_id"]:
            keys.append(("agent", str(t["agent_id"])))
        keys.append(("integration", t["integration"]))
        for dim, key in keys:
            e = out[(day, dim, key)]
            e["calls"] += 1
            e["errors"] += t["outcome"] == "error"
            e["denied"] += t["outcome"] == "denied"
            if t["run_id"]:
                e["runs"].add(t["run_id"])
            e["m"].add(t["member_id"])
    return {
        k: (v["calls"], v["errors"], v["denied"], len(v["runs"]), len(v["m"]))
        for k, v in out.items()
    }


def _stored(org):
    return {
        (r.day, r.dimension, r.key): (r.calls, r.errors, r.denied, r.runs, r.members)
        for r in UsageDaily.objects.filter(org=org)
    }


@pytest.fixture
def people(org, make_member):
    members = [make_member(org, f"user{i}@acme.example") for i in range(4)]
    teams = [team_create(org=org, name=n, actor=None) for n in ("Support", "Sales")]
    return members, teams


@pytest.mark.django_db
def test_the_daily_rows_are_exactly_the_traces_and_follow_late_ones(org, people):
    members, teams = people
    first = _traces(org, members, teams, 300, seed=1)
    store(first)
    assert UsageDirty.objects.filter(org=org).count() == 2  # the two days touched
    assert rollup() == 2 and not UsageDirty.objects.exists()
    assert _stored(org) == _expected(first)
    late = _traces(org, members, teams, 120, seed=2)  # more calls of the same days arrive
    store(late)
    rollup()
    assert _stored(org) == _expected(first + late)
    store(late)  # the same segment again (a writer that died before deleting it)
    rollup()
    assert _stored(org) == _expected(first + late)


@pytest.mark.django_db
def test_the_usage_page_charts_and_exports_the_figures(org, people, admin_client):
    members, teams = people
    store(_traces(org, members, teams, 200, seed=3))
    rollup()
    url = f"/o/{org.slug}/usage/?dimension=team&since=2026-11-15&until=2026-11-25"
    page = admin_client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="usage-figures"' in text and "Support" in text and "Sales" in text
    export = admin_client.get(url + "&format=csv")
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    support = [r for r in rows if r["label"] == "Support"]
    assert sum(int(r["calls"]) for r in support) == sum(
        r.calls for r in UsageDaily.objects.filter(org=org, dimension="team", key=teams[0].pk)
    )
    bad = admin_client.get(f"/o/{org.slug}/usage/?since=yesterday", follow=True)
    assert bad.status_code == 200 and "YYYY-MM-DD" in bad.content.decode()


@pytest.mark.django_db
def test_the_page_reads_a_bounded_number_of_statements(
    org, people, admin_client, django_assert_max_num_queries
):
    members, teams = people
    store(_traces(org, members, teams, 400, seed=4))
    rollup()
    with django_assert_max_num_queries(12):
        admin_client.get(f"/o/{org.slug}/usage/?dimension=member&since=2026-11-01")


@pytest.mark.django_db
def test_the_usage_api_for_an_admin_and_only_their_organization(
    client, org, other_org, people, api_key, make_member
):
    members, teams = people
    store(_traces(org, members, teams, 150, seed=5))
    rollup()
    response = api(
        client,
        "GET",
        "/api/v1/usage/?dimension=integration&since=2026-11-19&until=2026-11-22",
        api_key,
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["dimension"] == "integration"
    assert {r["key"] for r in body["rows"]} <= {"jira", "zendesk", "snowflake"}
    assert sum(r["calls"] for r in body["rows"]) == 150
    csv_body = api(
        client, "GET", "/api/v1/usage/?dimension=all&since=2026-11-19&format=csv", api_key
    )
    assert csv_body["Content-Type"].startswith("text/csv")
    wrong = api(client, "GET", "/api/v1/usage/?dimension=weekday", api_key)
    assert wrong.status_code == 400 and "dimension must be one of" in wrong.content.decode()
    wrong = api(client, "GET", "/api/v1/usage/?since=2026-13-01", api_key)
    assert wrong.status_code == 400 and "YYYY-MM-DD" in wrong.content.decode()
    # Another organization's admin sees none of it.
    outsider = make_member(other_org, "admin@globex.example", role="admin")
    _, other_key = api_key_create(membership=outsider, actor=None)
    theirs = api(client, "GET", "/api/v1/usage/?dimension=all&since=2026-11-01", other_key)
    assert theirs.status_code == 200 and theirs.json()["rows"] == []
    # A member without admin.tracing is refused.
    _, member_key = api_key_create(membership=members[0], actor=None)
    assert api(client, "GET", "/api/v1/usage/", member_key).status_code == 403
