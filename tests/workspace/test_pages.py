"""The workspace pages show only what the viewer may see (the rest is a 404), and their query
counts do not grow with the data."""

from __future__ import annotations

import pytest
from django.test import Client

from workspace.models import Agent, Run
from workspace.services.resources import share_set
from workspace.services.runs import run_events_append, run_open

pytestmark = pytest.mark.django_db


def client_for(membership):
    c = Client()
    c.force_login(membership.user)
    return c


def test_lists_and_pages_show_only_what_the_viewer_may_see(world):
    agent = world["agent"]
    assert "Support triage" in client_for(world["consumer"]).get("/o/acme/agents/").content.decode()
    outsider = client_for(world["outsider"])
    assert "Support triage" not in outsider.get("/o/acme/agents/").content.decode()
    assert outsider.get(f"/o/acme/agents/{agent.pk}/").status_code == 404
    share_set(obj=agent, level="viewer", member=world["outsider"], actor=world["admin"].user)
    page = outsider.get(f"/o/acme/agents/{agent.pk}/")
    assert page.status_code == 200 and '<td id="may">view</td>' in page.content.decode()


def test_a_runs_timeline(world):
    run = run_open(
        org=world["org"],
        member=world["consumer"],
        resource=world["agent"],
        trigger="web",
        actor=None,
    )
    run_events_append(
        run=run,
        events=[
            {
                "type": "tool_call",
                "integration": "zendesk",
                "action": "search",
                "latency_ms": 80,
                "outcome": "ok",
            }
        ],
    )
    html = client_for(world["consumer"]).get(f"/o/acme/runs/{run.pk}/").content.decode()
    assert "zendesk.search" in html and "80 ms" in html
    assert client_for(world["outsider"]).get(f"/o/acme/runs/{run.pk}/").status_code == 404
    assert f"#{run.pk}" in client_for(world["admin"]).get("/o/acme/runs/").content.decode()


@pytest.mark.parametrize("n", [3, 40])
def test_query_counts_do_not_grow(world, n, django_assert_max_num_queries):
    for i in range(n):
        agent = Agent.objects.create(
            org=world["org"],
            name=f"A{i}",
            team=world["support"],
            owner=world["builder"],
            integrations=["slack"],
        )
        Run.objects.create(
            org=world["org"],
            agent=agent,
            resource_name=agent.name,
            member=world["consumer"],
            trigger="web",
        )
    consumer = client_for(world["consumer"])
    consumer.get("/o/acme/agents/")
    with django_assert_max_num_queries(12):
        assert consumer.get("/o/acme/agents/").status_code == 200
    with django_assert_max_num_queries(12):
        assert consumer.get("/o/acme/runs/").status_code == 200
