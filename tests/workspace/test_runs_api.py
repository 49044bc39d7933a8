"""Runs through the runtime's API: opened only when the member may run the agent now (403 with
the reasons and an audited denied attempt otherwise), events appended in batches with payloads
kept apart from their metadata, closed; start and finish audited."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client

from audit.models import AuditEvent
from orgs.services.service_keys import service_key_create
from workspace.models import Run, RunEvent, RunPayload

pytestmark = pytest.mark.django_db


@pytest.fixture
def key(world):
    return service_key_create(org=world["org"], label="runtime", actor=world["admin"].user)[1]


def call(key, path, body=None, method="post"):
    kwargs = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    if body is not None:
        kwargs.update(data=body, content_type="application/json")
    return getattr(Client(), method)(f"/api/v1/runs/{path}", **kwargs)


def test_a_run_opened_fed_and_closed(world, key):
    r = call(
        key,
        "",
        {
            "member": "consumer@acme.example",
            "agent": world["agent"].pk,
            "trigger": "slack",
            "input": {"text": "help"},
        },
    )
    assert r.status_code == 201, r.content
    run_id = r.json()["id"]
    assert r.json()["status"] == "running"
    events = [
        {"type": "log", "level": "info", "message": "started"},
        {
            "type": "tool_call",
            "integration": "zendesk",
            "action": "search_tickets",
            "latency_ms": 120,
            "outcome": "ok",
            "input": {"q": "refund"},
            "output": {"hits": 3},
        },
    ]
    r = call(key, f"{run_id}/events/", {"events": events})
    assert r.status_code == 202 and r.json() == {"appended": 2}
    assert list(RunEvent.objects.filter(run_id=run_id).values_list("seq", "kind")) == [
        (1, "log"),
        (2, "tool_call"),
    ]
    tool_payloads = RunPayload.objects.filter(event__isnull=False)
    assert tool_payloads.count() == 2
    stored = tool_payloads.get(direction="output")
    assert stored.sha256 == hashlib.sha256(
        stored.content.encode()
    ).hexdigest() and stored.size == len(stored.content)
    r = call(key, f"{run_id}/close/", {"status": "succeeded", "output": "done"})
    assert r.status_code == 200 and r.json()["status"] == "succeeded" and r.json()["events"] == 2
    assert call(key, f"{run_id}/events/", {"events": events}).status_code == 409
    started = AuditEvent.objects.get(action="run.started")
    assert (
        started.actor_kind == "service_key"
        and started.data["new"]["member"] == "consumer@acme.example"
    )
    assert AuditEvent.objects.get(action="run.finished").data["events"] == 2


def test_a_run_the_member_may_not_start_is_403_with_reasons_and_audited(world, key):
    r = call(
        key, "", {"member": world["outsider"].pk, "agent": world["agent"].pk, "trigger": "web"}
    )
    assert r.status_code == 403 and "no access" in r.json()["error"]["message"]
    reasons = r.json()["error"]["reasons"]
    assert any(reason.startswith("no access; agent.run needs runner") for reason in reasons)
    assert not Run.objects.exists()
    denied = AuditEvent.objects.get(action="access.denied")
    assert denied.data["action"] == "agent.run" and denied.data["member"] == "outsider@acme.example"


@pytest.mark.parametrize(
    "body",
    [
        {"member": 1, "trigger": "web"},
        {"member": 1, "agent": 1, "workflow": 1, "trigger": "web"},
        {"member": "nobody@acme.example", "agent": 1, "trigger": "web"},
        {"member": 1, "agent": 999999, "trigger": "web"},
        {"member": 1, "agent": 1, "trigger": "carrier pigeon"},
    ],
)
def test_bad_run_requests_are_refused_and_change_nothing(world, key, body):
    before = AuditEvent.objects.count()
    r = call(key, "", body)
    assert r.status_code in (400, 404) and r.json()["error"]["message"]
    assert not Run.objects.exists() and AuditEvent.objects.count() == before


@pytest.mark.parametrize(
    "events",
    [
        [],
        [{"type": "dance"}],
        [{"type": "tool_call", "integration": "myspace"}],
        [{"type": "log", "latency_ms": -1}],
        [{"type": "log", "at": "yesterday"}],
        "lots",
    ],
)
def test_bad_events_are_refused_whole(world, key, events):
    run_id = call(
        key, "", {"member": world["consumer"].pk, "agent": world["agent"].pk, "trigger": "api"}
    ).json()["id"]
    r = call(key, f"{run_id}/events/", {"events": events})
    assert r.status_code == 400
    assert not RunEvent.objects.exists()


def test_another_organizations_runs_are_invisible(world, key, other_org, make_member):
    run_id = call(
        key, "", {"member": world["consumer"].pk, "agent": world["agent"].pk, "trigger": "api"}
    ).json()["id"]
    boss = make_member(other_org, "boss@globex.example", "admin", password=None)
    _, theirs = service_key_create(org=other_org, actor=boss.user)
    assert call(theirs, f"{run_id}/", method="get").status_code == 404
    assert call(theirs, f"{run_id}/events/", method="get").status_code == 404
    assert call(theirs, "", method="get").json()["results"] == []
    assert call(theirs, f"{run_id}/events/", {"events": [{"type": "log"}]}).status_code == 404
    assert call(theirs, f"{run_id}/close/", {"status": "failed"}).status_code == 404
    assert Run.objects.get(pk=run_id).status == "running"


def _open(key, world, trigger="api"):
    body = {"member": world["consumer"].pk, "agent": world["agent"].pk, "trigger": trigger}
    return call(key, "", body).json()["id"]


def test_the_runtime_lists_runs_with_filters_and_keyset_paging(world, key):
    ids = [_open(key, world, trigger) for trigger in ("api", "slack", "api", "web", "api")]
    listed = call(key, "?limit=2", method="get").json()
    assert [r["id"] for r in listed["results"]] == ids[::-1][:2] and listed["next"] == ids[3]
    rest = call(key, f"?limit=2&before={listed['next']}", method="get").json()
    assert [r["id"] for r in rest["results"]] == [ids[2], ids[1]]
    api_runs = call(key, "?trigger=api&member=consumer@", method="get").json()["results"]
    assert [r["id"] for r in api_runs] == [ids[4], ids[2], ids[0]]
    assert (
        call(key, f"?agent={world['agent'].pk}&team={world['data'].pk}", method="get").json()[
            "results"
        ]
        == []
    )


@pytest.mark.parametrize(
    "query", ["?status=exploded", "?since=soon", "?agent=x", "?limit=0", "?limit=abc", "?before=-1"]
)
def test_unreadable_list_parameters_are_400(world, key, query):
    r = call(key, query, method="get")
    assert r.status_code == 400 and r.json()["error"]["message"]


def test_the_runtime_reads_a_timeline_in_pages(world, key):
    run_id = _open(key, world)
    events = [{"type": "log", "level": "info", "message": f"line {i}"} for i in range(5)]
    events.append(
        {
            "type": "tool_call",
            "integration": "zendesk",
            "action": "search",
            "latency_ms": 7,
            "outcome": "ok",
            "output": {"hits": 1},
        }
    )
    call(key, f"{run_id}/events/", {"events": events})
    first = call(key, f"{run_id}/events/?limit=4", method="get").json()
    assert [e["seq"] for e in first["results"]] == [1, 2, 3, 4] and first["next"] == 4
    rest = call(key, f"{run_id}/events/?after=4", method="get").json()
    assert rest["next"] is None and [e["seq"] for e in rest["results"]] == [5, 6]
    tool = rest["results"][1]
    assert tool["type"] == "tool_call" and tool["latency_ms"] == 7
    assert tool["payloads"][0]["direction"] == "output" and len(tool["payloads"][0]["sha256"]) == 64
    assert "hits" not in str(tool)  # the body is not returned


@pytest.mark.parametrize("n", [5, 60])
def test_list_and_timeline_query_counts_are_flat(world, key, n, django_assert_max_num_queries):
    run_id = _open(key, world)
    for _ in range(n):
        _open(key, world)
    tool = {"type": "tool_call", "integration": "slack", "action": "post", "input": {"a": 1}}
    call(key, f"{run_id}/events/", {"events": [tool] * n})
    with django_assert_max_num_queries(4):
        assert call(key, "?limit=200", method="get").status_code == 200
    with django_assert_max_num_queries(5):
        assert call(key, f"{run_id}/events/", method="get").status_code == 200
