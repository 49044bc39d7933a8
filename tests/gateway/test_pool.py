"""The gateway keeps its upstream sessions: calls share one session per upstream and
credential, a restarted upstream is reconnected without losing the call, a dead one fails the
call with the reason (traced), and stdio servers are started once, not per call."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from mcp import MCPError

from gateway.models import ToolTrace
from tests.gateway.conftest import auth, mcp_call

pytestmark = pytest.mark.django_db(transaction=True)


def _echo(gateway, key, text):
    result = mcp_call(gateway.url, auth(key), "call_tool", "jira__echo", {"text": text})
    return result.content[0].text


def test_calls_share_one_upstream_session(gateway, setup):
    with ThreadPoolExecutor(8) as workers:
        answers = list(workers.map(lambda i: _echo(gateway, setup["key"], f"m{i}"), range(24)))
    assert answers == [f"m{i}" for i in range(24)]
    assert gateway.app.sessions.opened == 1
    (entry,) = gateway.app.sessions.entries.values()
    assert entry.calls == 24


def test_a_restarted_upstream_is_reconnected_and_the_call_answered(gateway, setup):
    assert _echo(gateway, setup["key"], "before") == "before"
    setup["upstream"].start()  # a new process on the same port: the old session is unknown
    assert _echo(gateway, setup["key"], "after") == "after"
    assert gateway.app.sessions.opened == 2


def test_a_stopped_upstream_fails_the_call_with_the_reason_then_recovers(gateway, setup, org):
    assert _echo(gateway, setup["key"], "one") == "one"
    setup["upstream"].stop()
    with pytest.raises(MCPError, match="Jira failed"):
        _echo(gateway, setup["key"], "two")
    setup["upstream"].start()
    assert _echo(gateway, setup["key"], "three") == "three"
    gateway.app.spool.flush()
    outcomes = list(
        ToolTrace.objects.filter(org=org).order_by("at").values_list("outcome", "error")
    )
    assert [o for o, _ in outcomes] == ["ok", "error", "ok"]
    assert "Jira failed" in outcomes[1][1]


def test_a_stdio_server_is_started_once_for_many_calls(gateway, setup, org, admin, everything):
    from gateway.services import ServerSpec, server_create, tools_refresh

    server = server_create(
        org=org,
        actor=admin.user,
        spec=ServerSpec(
            name="Everything", integration="jira", transport="stdio", command=everything
        ),
    )
    tools_refresh(server=server)
    for word in ("a", "b", "c"):
        result = mcp_call(
            gateway.url, auth(setup["key"]), "call_tool", "everything__echo", {"message": word}
        )
        assert word in result.content[0].text
    stdio = [e for e in gateway.app.sessions.entries.values() if e.key[1] == "stdio"]
    assert len(stdio) == 1 and stdio[0].calls == 3


def test_each_credential_gets_its_own_session(settings):
    """The pool's key separates members' credentials (a digest, not the token) and follows a
    changed address."""
    from types import SimpleNamespace

    from gateway.pool import _key

    server = SimpleNamespace(pk=1, transport="http", url="https://mcp.example/mcp", command="")
    alice = _key(server, {"Authorization": "Bearer alice-token"})
    bob = _key(server, {"Authorization": "Bearer bob-token"})
    assert alice != bob and "alice-token" not in repr(alice)
    assert _key(server, {}) != alice
    moved = SimpleNamespace(pk=1, transport="http", url="https://mcp2.example/mcp", command="")
    assert _key(moved, {"Authorization": "Bearer alice-token"}) != alice


def test_a_request_the_upstream_sends_during_a_call_is_answered_and_the_call_ends(
    gateway, setup, org
):
    """The upstream asks the client a question (elicitation) on the call's event stream and
    waits for the answer: the gateway answers it, on another connection, that it does not pass
    such requests on, and the call ends with the upstream's result. The session serves the
    next call."""
    from gateway.models import McpServer
    from gateway.services import tools_refresh

    setup["upstream"].start("asks")
    tools_refresh(server=McpServer.objects.get(org=org, name="Jira"))
    result = mcp_call(gateway.url, auth(setup["key"]), "call_tool", "jira__confirm", {})
    assert result.content[0].text == (
        "not asked: The governance gateway does not pass elicitation/create on to its clients."
    )
    assert _echo(gateway, setup["key"], "after") == "after"
    gateway.app.spool.flush()
    assert list(
        ToolTrace.objects.filter(org=org).order_by("at").values_list("tool", "outcome")
    ) == [
        ("confirm", "ok"),
        ("echo", "ok"),
    ]
