"""In Chromium: a Consumer sees the Support team's agent, what they may do with it, its runs'
timeline, and gets a 403 on security settings; the explainer says why they cannot edit it."""

from __future__ import annotations

import re

import pytest

from orgs.services.assignments import role_assign, team_member_add
from orgs.services.roles import custom_role_create
from orgs.services.teams import team_create
from tests.browser.signin import password_sign_in
from tests.conftest import PASSWORD
from workspace.services.resources import resource_create, resource_update
from workspace.services.runs import run_close, run_events_append, run_open

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_consumer_in_the_dashboard(live_server, page, screenshot, org, admin, make_member):
    consumer_role = custom_role_create(
        org=org,
        name="Consumer",
        permissions=["agents.run", "integrations.use.slack", "integrations.use.zendesk"],
        actor=None,
    )
    support = team_create(org=org, name="Support", actor=None)
    consumer = make_member(org, "consumer@acme.example")
    role_assign(membership=consumer, role=consumer_role, actor=None)
    team_member_add(team=support, membership=consumer, actor=None)
    agent = resource_create(
        org=org,
        kind="agent",
        fields={
            "name": "Support triage",
            "integrations": ["slack", "zendesk"],
            "team": support,
            "instructions": "Triage tickets.",
        },
        actor=admin.user,
    )
    resource_update(obj=agent, fields={"model": "gpt-5"}, actor=admin.user)
    run = run_open(org=org, member=consumer, resource=agent, trigger="slack", actor=None)
    run_events_append(
        run=run,
        events=[
            {"type": "log", "level": "info", "message": "ticket 4711 received"},
            {
                "type": "tool_call",
                "integration": "zendesk",
                "action": "get_ticket",
                "latency_ms": 95,
                "outcome": "ok",
            },
            {
                "type": "tool_call",
                "integration": "slack",
                "action": "post_message",
                "latency_ms": 40,
                "outcome": "ok",
            },
        ],
    )
    run_close(run=run, status="succeeded", actor=None)

    page.goto(live_server.url + "/login/")
    password_sign_in(page, "consumer@acme.example", PASSWORD)
    page.wait_for_url(re.compile(r"/o/acme/me/$"))
    page.click("nav.side >> text=Agents")
    page.click("text=Support triage")
    assert page.inner_text("#may").strip() == "view, run"  # not edit, not share
    assert page.locator("#edit-form").count() == 0 and page.locator("#share-form").count() == 0
    screenshot("workspace-agent-as-consumer")
    page.click("#run-now")  # seed 000: a Consumer runs the Support agent
    page.wait_for_url(re.compile(r"/o/acme/runs/\d+/$"))
    assert "is started" in page.inner_text(".messages")
    page.goto(live_server.url + "/o/acme/integrations/")
    assert page.locator("text=Connect an integration").count() == 0  # cannot connect one
    page.goto(live_server.url + f"/o/acme/agents/{agent.pk}/")
    page.click(f"text=#{run.pk}")
    assert "zendesk.get_ticket" in page.inner_text("#timeline")
    screenshot("workspace-run-timeline")
    page.goto(live_server.url + f"/o/acme/explain/?action=agent.edit&resource=agent:{agent.pk}")
    assert "Denied" in page.inner_text("#explanation") and "agents.edit" in page.inner_text(
        "#explanation"
    )
    screenshot("workspace-explainer")
    response = page.goto(live_server.url + "/o/acme/settings/sso/")
    assert response.status == 403


def test_the_overview_charts_draw_under_the_policy(live_server, page, screenshot, org, admin):
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    support = team_create(org=org, name="Support", actor=None)
    agent = resource_create(
        org=org,
        kind="agent",
        fields={"name": "Triage", "integrations": ["slack"], "team": support},
        actor=admin.user,
    )
    for _ in range(3):
        run_close(
            run=run_open(org=org, member=admin, resource=agent, trigger="web", actor=None),
            status="succeeded",
            actor=None,
        )
    page.goto(live_server.url + "/login/")
    password_sign_in(page, "admin@acme.example", PASSWORD)
    page.wait_for_url(re.compile(r"/o/acme/$"))
    page.wait_for_function(
        "window.Chart && window.Chart.getChart(document.getElementById('chart-runs'))"
    )
    drawn = page.evaluate(
        "window.Chart.getChart(document.getElementById('chart-runs')).data.datasets"
        ".map(d => [d.label, d.data.reduce((a, b) => a + b, 0)])"
    )
    assert drawn == [["Support", 3]]
    assert page.evaluate("document.getElementById('chart-signins').width") > 0
    screenshot("overview-charts")
    page.goto(live_server.url + "/o/acme/audit/")
    page.wait_for_function(
        "window.Chart && window.Chart.getChart(document.getElementById('chart-audit-actors'))"
    )
    categories = page.evaluate(
        "window.Chart.getChart(document.getElementById('chart-audit-categories')).data.datasets"
        ".map(d => d.label)"
    )
    assert {"agent", "run", "team"} <= set(categories)
    actors = page.evaluate(
        "window.Chart.getChart(document.getElementById('chart-audit-actors')).data.labels"
    )
    assert "admin@acme.example" in actors
    screenshot("audit-charts")
    assert violations == []
