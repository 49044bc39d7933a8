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


def test_an_upstream_that_never_answers_fails_the_call_and_the_next_call_tries_again(
    settings, monkeypatch
):
    """A server that accepts the connection and says nothing: the session's opening gives up
    after the timeout (the call fails with the reason), nothing is left waiting, and the next
    call opens a new session rather than waiting on the dead one."""
    import asyncio
    import time
    from types import SimpleNamespace

    from gateway import pool, upstream
    from gateway.upstream import run_sync

    settings.MCP_ALLOW_HTTP_UPSTREAMS = True
    settings.MCP_ALLOW_PRIVATE_UPSTREAMS = True
    monkeypatch.setattr(upstream, "TIMEOUT", 0.5)

    async def go():
        accepted = []

        async def silent(reader, writer):
            accepted.append(writer)
            await reader.read()  # until the gateway hangs up

        listener = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        server = SimpleNamespace(
            pk=1, transport="http", url=f"http://127.0.0.1:{port}/mcp", command=""
        )
        sessions = pool.Pool()
        outcomes = []
        for _ in range(2):
            started = time.monotonic()
            try:
                await sessions.call(server, {}, "echo", {"text": "x"})
            except (TimeoutError, pool.Broken) as exc:
                outcomes.append((type(exc).__name__, time.monotonic() - started))
            await asyncio.sleep(0.2)  # the session's own timeout has ended it
        await asyncio.sleep(0.6)  # the sessions' own timeouts end their tasks
        tasks = [e.task for e in list(sessions.entries.values())]
        await sessions.close()
        listener.close()
        return outcomes, sessions.opened, len(accepted), tasks

    outcomes, opened, accepted, left = run_sync(go)
    assert len(outcomes) == 2 and all(seconds < 2 for _, seconds in outcomes), outcomes
    assert (opened, accepted) == (2, 2), outcomes  # the second call did not wait on the first
    assert left == []  # no session is left open


def test_a_tls_upstream_is_verified_by_both_clients_against_the_same_authorities(
    gateway, setup, org, admin, tmp_path, monkeypatch
):
    """An MCP server on HTTPS with a certificate from a company's own CA: neither the tool
    listing (the SDK's client) nor a call (the gateway's) trusts it until SSL_CERT_FILE names
    that CA; then both do, for the URL's host name, on the address the SSRF guard checked."""
    from gateway.models import McpServer
    from gateway.services import tools_refresh
    from gateway.upstream import UpstreamError, list_tools
    from tests.siem.conftest import make_pki

    pki = make_pki(tmp_path)  # a certificate for localhost and 127.0.0.1
    ca = tmp_path / "company-ca.pem"
    ca.write_text(pki["ca_pem"])
    upstream = setup["upstream"]
    upstream.start(tls=(pki["cert"], pki["key"]))
    McpServer.objects.filter(org=org, name="Jira").update(
        url=f"https://localhost:{upstream.port}/mcp"
    )
    server = McpServer.objects.get(org=org, name="Jira")
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with pytest.raises(UpstreamError, match="certificate verify failed"):
        list_tools(server)
    with pytest.raises(MCPError, match="certificate verify failed"):
        _echo(gateway, setup["key"], "untrusted")
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    assert [t["name"] for t in list_tools(server)] == ["add", "echo"]
    tools_refresh(server=server)
    assert _echo(gateway, setup["key"], "over tls") == "over tls"
