"""The MCP servers registry against real MCP servers (the SDK's own server over Streamable HTTP,
the npm reference server over stdio): tools are listed with the official SDK, every new, changed
or removed tool is audited before anyone uses it, and a server that stops answering is marked
down (audited) with its tools kept."""

from __future__ import annotations

import pytest

from core.exceptions import ValidationFailed
from gateway.models import McpServer
from gateway.services import ServerSpec, server_create, tools_refresh
from tests.conftest import assert_audited

pytestmark = pytest.mark.django_db


def _http(org, admin, upstream, name="Knowledge base"):
    return server_create(
        org=org,
        actor=admin.user,
        spec=ServerSpec(name=name, integration="jira", transport="http", url=upstream.url),
    )


def test_tools_are_listed_and_each_new_one_is_audited(org, admin, upstream):
    server = _http(org, admin, upstream)
    assert_audited("mcp_server.created", org=org)
    result = tools_refresh(server=server)
    assert result["added"] == ["add", "echo"] and result["health"] == "up"
    server.refresh_from_db()
    assert [t["name"] for t in server.tools] == ["add", "echo"]
    assert server.tools[1]["input_schema"]["properties"]["text"]["type"] == "string"
    added = assert_audited("mcp_tool.added", org=org)
    assert added.data["server"] == "Knowledge base" and added.data["new"]["input_schema"]
    assert tools_refresh(server=server)["added"] == []  # nothing new the second time


def test_a_changed_added_or_removed_tool_is_audited_with_old_and_new(org, admin, upstream):
    server = _http(org, admin, upstream)
    tools_refresh(server=server)
    upstream.start(tools="v2")
    result = tools_refresh(server=server)
    assert result == {
        "added": ["search"],
        "changed": ["echo"],
        "removed": ["add"],
        "health": "up",
        "error": "",
    }
    changed = assert_audited("mcp_tool.changed", org=org)
    assert changed.data["old"]["description"] == "Echo the text back."
    assert changed.data["new"]["description"] == "Echo the text, shouted."
    assert assert_audited("mcp_tool.removed", org=org).data["tool"] == "add"


def test_a_server_that_stops_answering_is_down_and_keeps_its_tools(org, admin, upstream):
    server = _http(org, admin, upstream)
    tools_refresh(server=server)
    upstream.stop()
    result = tools_refresh(server=server)
    assert result["health"] == "down" and result["error"]
    server.refresh_from_db()
    assert server.health == "down" and len(server.tools) == 2
    event = assert_audited("mcp_server.health_changed", org=org)
    assert event.data["new"] == {"health": "down"}


def test_the_reference_server_over_stdio(org, admin, everything):
    server = server_create(
        org=org,
        actor=admin.user,
        spec=ServerSpec(
            name="Everything", integration="mcp", transport="stdio", command=everything
        ),
    )
    result = tools_refresh(server=server)
    assert result["health"] == "up", result
    assert {"echo", "get-sum"} <= set(result["added"])


def test_a_command_the_operator_did_not_allow_is_refused(org, admin, settings):
    settings.MCP_STDIO_SERVERS = {}
    with pytest.raises(ValidationFailed, match="GOVERNANCE_MCP_STDIO_SERVERS"):
        server_create(
            org=org,
            actor=admin.user,
            spec=ServerSpec(name="Shell", integration="mcp", transport="stdio", command="bash"),
        )
    assert not McpServer.objects.exists()


def test_a_private_address_is_refused_by_default(org, admin, upstream, settings):
    settings.MCP_ALLOW_PRIVATE_UPSTREAMS = False
    with pytest.raises(ValidationFailed, match="GOVERNANCE_MCP_ALLOW_PRIVATE_UPSTREAMS"):
        _http(org, admin, upstream)
    assert not McpServer.objects.exists()


def test_the_command_refreshes_and_prints_json(org, admin, upstream, capsys):
    import json

    from django.core.management import call_command

    _http(org, admin, upstream)
    call_command("mcp_servers_refresh", "--org", org.slug)
    printed = json.loads(capsys.readouterr().out)
    assert printed["servers"][0]["added"] == ["add", "echo"]
    assert printed["servers"][0]["health"] == "up"
