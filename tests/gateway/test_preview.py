"""The policy preview replays recorded calls against a proposed change (nothing changes until
it is made), on the page and through the API; tool rules are added and removed there, audited,
for one organization only."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from gateway.models import McpServer, ToolRule
from gateway.traces import store
from orgs.services.api_keys import api_key_create
from orgs.services.assignments import role_assign
from orgs.services.roles import custom_role_create
from tests.conftest import api, assert_audited


@pytest.fixture
def scene(org, make_member):
    jira = McpServer.objects.create(  # as saved after a refresh listed its tools
        org=org,
        name="Jira",
        integration="jira",
        transport="http",
        url="https://jira.example/mcp",
        tools=[{"name": n, "description": "", "input_schema": {}} for n in ("search", "delete")],
        tools_refreshed_at=timezone.now(),
    )
    role = custom_role_create(
        org=org, name="Jira users", permissions=["integrations.use.jira"], actor=None
    )
    dev = make_member(org, "dev@acme.example")
    role_assign(membership=dev, role=role, actor=None)
    outsider = make_member(org, "outsider@acme.example")
    at = timezone.now() - timedelta(days=2)
    calls = [
        (dev, "search", "ok"),
        (dev, "search", "ok"),
        (dev, "delete", "ok"),
        (outsider, "search", "denied"),
    ]
    store(
        [
            {
                "trace_id": str(uuid.uuid4()),
                "org_id": org.pk,
                "member_id": m.pk,
                "member_label": m.user.email,
                "server_id": jira.pk,
                "server_name": "Jira",
                "integration": "jira",
                "tool": tool,
                "outcome": outcome,
                "arguments": "{}",
                "result": "{}",
                "at": at.isoformat(),
            }
            for m, tool, outcome in calls
        ]
    )
    return {"jira": jira, "role": role, "dev": dev, "outsider": outsider}


def _preview(client, org, data):
    response = client.post(f"/o/{org.slug}/settings/mcp/policy/", data)
    assert response.status_code == 200, response.content
    return response.context["result"]


@pytest.mark.django_db
def test_the_preview_lists_who_would_lose_or_gain_a_tool(org, scene, admin_client):
    before = (AuditEvent.objects.count(), ToolRule.objects.count())
    result = _preview(
        admin_client, org, {"kind": "role_permissions", "role": scene["role"].pk, "days": 7}
    )
    assert result["calls_replayed"] == 4 and result["distinct_calls"] == 3
    lost = {(e["email"], e["tool"], e["calls"]) for e in result["newly_denied"]}
    assert lost == {("dev@acme.example", "search", 2), ("dev@acme.example", "delete", 1)}
    assert result["newly_allowed"] == []
    result = _preview(
        admin_client,
        org,
        {"kind": "role_assign", "role": scene["role"].pk, "member": scene["outsider"].pk},
    )
    assert [(e["email"], e["tool"]) for e in result["newly_allowed"]] == [
        ("outsider@acme.example", "search")
    ]
    result = _preview(
        admin_client, org, {"kind": "rule_add", "server": scene["jira"].pk, "tool": "delete"}
    )
    assert [(e["email"], e["tool"]) for e in result["newly_denied"]] == [
        ("dev@acme.example", "delete")
    ]
    assert "blocks the tool 'delete'" in result["newly_denied"][0]["reasons"][-1]
    assert (AuditEvent.objects.count(), ToolRule.objects.count()) == before  # nothing changed


@pytest.mark.django_db
def test_a_rule_is_added_after_its_preview_and_removed_audited(org, scene, admin_client):
    page = admin_client.post(
        f"/o/{org.slug}/settings/mcp/policy/",
        {
            "kind": "rule_add",
            "server": scene["jira"].pk,
            "tool": "delete",
            "note": "prod",
            "apply": "1",
        },
    )
    assert page.status_code == 302
    rule = ToolRule.objects.get(org=org)
    assert (rule.tool, rule.role_id, rule.note) == ("delete", None, "prod")
    assert_audited("mcp_tool_rule.created", org=org)
    result = _preview(admin_client, org, {"kind": "rule_remove", "rule": rule.pk})
    assert [(e["email"], e["tool"]) for e in result["newly_allowed"]] == [
        ("dev@acme.example", "delete")
    ]
    admin_client.post(
        f"/o/{org.slug}/settings/mcp/policy/",
        {"kind": "rule_remove", "rule": rule.pk, "apply": "1"},
    )
    assert not ToolRule.objects.exists()
    assert_audited("mcp_tool_rule.deleted", org=org)
    bad = admin_client.post(
        f"/o/{org.slug}/settings/mcp/policy/",
        {"kind": "rule_add", "server": scene["jira"].pk, "tool": "drop_table"},
    )
    assert bad.status_code == 400 and "lists no tool" in bad.content.decode()


@pytest.mark.django_db
def test_rules_and_preview_through_the_api_for_one_organization(
    client, org, other_org, scene, api_key, make_member
):
    made = api(
        client,
        "POST",
        "/api/v1/mcp/tool-rules/",
        api_key,
        {"server": scene["jira"].pk, "tool": "delete", "role": scene["role"].pk},
    )
    assert made.status_code == 201, made.content
    assert made.json()["effect"] == "reserved"
    listed = api(client, "GET", "/api/v1/mcp/tool-rules/", api_key).json()
    assert [r["tool"] for r in listed["results"]] == ["delete"]
    unknown = api(
        client,
        "POST",
        "/api/v1/mcp/tool-rules/",
        api_key,
        {"server": scene["jira"].pk, "tool": "nope"},
    )
    assert unknown.status_code == 400 and "lists no tool" in unknown.content.decode()
    preview = api(
        client,
        "POST",
        "/api/v1/mcp/policy-preview/",
        api_key,
        {
            "change": {
                "kind": "role_unassign",
                "role": scene["role"].pk,
                "member": scene["dev"].pk,
            },
            "days": 30,
        },
    )
    assert preview.status_code == 200, preview.content
    assert {e["tool"] for e in preview.json()["newly_denied"]} == {"search", "delete"}
    wrong = api(client, "POST", "/api/v1/mcp/policy-preview/", api_key, {"change": {"kind": "x"}})
    assert wrong.status_code == 400 and "kind must be one of" in wrong.content.decode()
    # Another organization's admin reaches none of it.
    outsider = make_member(other_org, "admin@globex.example", role="admin")
    _, other_key = api_key_create(membership=outsider, actor=None)
    theirs = api(client, "GET", "/api/v1/mcp/tool-rules/", other_key).json()
    assert theirs["results"] == []
    rule = ToolRule.objects.get(org=org)
    assert api(client, "DELETE", f"/api/v1/mcp/tool-rules/{rule.pk}/", other_key).status_code == 404
    foreign = api(
        client,
        "POST",
        "/api/v1/mcp/tool-rules/",
        other_key,
        {"server": scene["jira"].pk, "tool": "search"},
    )
    assert foreign.status_code == 404
    cross = api(
        client,
        "POST",
        "/api/v1/mcp/policy-preview/",
        other_key,
        {"change": {"kind": "role_assign", "role": scene["role"].pk, "member": outsider.pk}},
    )
    assert cross.status_code == 400 and "custom role of this organization" in cross.content.decode()
    assert api(client, "DELETE", f"/api/v1/mcp/tool-rules/{rule.pk}/", api_key).status_code == 204
    assert not ToolRule.objects.exists()
