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
    assert call(theirs, f"{run_id}/events/", {"events": [{"type": "log"}]}).status_code == 404
    assert call(theirs, f"{run_id}/close/", {"status": "failed"}).status_code == 404
    assert Run.objects.get(pk=run_id).status == "running"
