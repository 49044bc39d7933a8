"""A gateway token's read on the event loop (gateway.aio): on PostgreSQL a call whose caller
needs nothing more from the database is admitted without a worker thread; anything that needs
the database again (refreshing "last used", auditing a refusal) runs all of `admit` in a worker
thread, once: a refusal is audited exactly once. A tools/list is answered on the loop when it
needs no tool rules, on either database."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone
from mcp import MCPError

from audit.models import AuditEvent
from gateway import server as gateway_server
from gateway.models import McpToken
from tests.gateway.conftest import auth, mcp_call

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def trips(monkeypatch):
    """The functions the gateway sent to its worker threads, by name (calls through). With
    Django's own refusal of queries on an event loop switched off (DJANGO_ALLOW_ASYNC_UNSAFE,
    as browser test tools set it): the gateway refuses them itself. Django's refusal alone is
    test_on_loop_with_djangos_own_refusal."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    sent = []
    db = gateway_server._db

    def counted(fn, *args):
        sent.append(fn.__name__)
        return db(fn, *args)

    monkeypatch.setattr(gateway_server, "_db", counted)
    return sent


def _fresh(key: str) -> None:
    """The token used a moment ago: "last used" needs no refresh at the next call."""
    prefix = key.removeprefix("gmt_").split("_", 1)[0]
    McpToken.objects.filter(prefix=prefix).update(last_used_at=timezone.now())


def test_a_call_is_admitted_on_the_loop_on_postgresql(gateway, setup, trips):
    _fresh(setup["key"])
    # The first request reads the server's tools into the process's cache (the ORM: a worker
    # thread); then every request of the client is admitted on the loop on PostgreSQL.
    mcp_call(gateway.url, auth(setup["key"]), "list_tools")
    trips.clear()
    result = mcp_call(gateway.url, auth(setup["key"]), "call_tool", "jira__add", {"a": 2, "b": 3})
    assert not result.is_error and result.content[0].text == "5"
    on_postgresql = connection.vendor == "postgresql"
    assert gateway.app.reads.enabled is on_postgresql
    # initialize, notifications/initialized, the SDK's tools/list, the call: four requests.
    assert trips.count("admit") == (0 if on_postgresql else 4)
    # The tools/list needed nothing more than the caller: answered on the loop as well.
    assert "visible_tools" not in trips


def test_a_tools_list_that_needs_the_rules_reads_them_in_a_worker_thread(
    gateway, setup, admin, trips
):
    from gateway.models import McpServer
    from gateway.services import rule_create

    _fresh(setup["key"])
    server = McpServer.objects.get(name="Jira")
    rule_create(server=server, tool="add", role=None, actor=admin.user)
    tools = mcp_call(gateway.url, auth(setup["key"]), "list_tools")
    assert [t.name for t in tools.tools] == ["jira__echo"]
    assert "visible_tools" in trips


def test_refreshing_last_used_takes_the_worker_thread(gateway, setup, trips):
    prefix = setup["key"].removeprefix("gmt_").split("_", 1)[0]
    assert McpToken.objects.get(prefix=prefix).last_used_at is None
    mcp_call(gateway.url, auth(setup["key"]), "list_tools")
    assert McpToken.objects.get(prefix=prefix).last_used_at is not None
    assert "admit" in trips


def test_a_refusal_on_the_loop_is_audited_once_in_a_worker_thread(gateway, setup, org, trips):
    _fresh(setup["outsider_key"])
    before = AuditEvent.objects.filter(org_id=org.pk, action="access.denied").count()
    with pytest.raises(MCPError, match="may not use jira"):
        mcp_call(
            gateway.url, auth(setup["outsider_key"]), "call_tool", "jira__add", {"a": 1, "b": 1}
        )
    after = AuditEvent.objects.filter(org_id=org.pk, action="access.denied")
    assert after.count() == before + 1
    assert after.latest("id").data["tool"] == "jira__add"
    assert "admit" in trips


def test_on_loop_with_djangos_own_refusal():
    """On an event loop of its own thread (this process's main thread may hold a browser test
    tool's loop), with DJANGO_ALLOW_ASYNC_UNSAFE unset: a function that needs no database runs
    there; one that asks for a statement is refused before it runs, and says so."""
    import asyncio
    import os
    import threading

    from gateway.aio import on_loop

    def reads():
        return McpToken.objects.count()

    out = {}

    def run():
        async def main():
            out["pure"] = on_loop(lambda: 41 + 1)
            out["reads"] = on_loop(reads)

        asyncio.run(main())

    saved = os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    try:
        thread = threading.Thread(target=run)
        thread.start()
        thread.join(10)
    finally:
        if saved is not None:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = saved
    assert out == {"pure": (True, 42), "reads": (False, None)}
