"""Every tool call through the gateway is traced (member, run, client, server, tool, outcome,
latency, sizes; arguments and result as payloads under zero data retention), through a local
spool that the database can be away from: nothing is lost while it is down, and a segment
written twice is stored once."""

from __future__ import annotations

import shutil
import socket

import pytest
from django.db import connection

from gateway.models import ToolTrace, ToolTracePayload
from gateway.traces import Spool, record
from tests.gateway.conftest import auth as _auth
from tests.gateway.conftest import mcp_call

pytestmark = pytest.mark.django_db(transaction=True)


def _wait_for(count: int, timeout: float = 10) -> None:
    import time

    deadline = time.monotonic() + timeout
    while ToolTrace.objects.count() < count and time.monotonic() < deadline:
        time.sleep(0.1)


def test_calls_and_refusals_are_traced_with_their_payloads(gateway, setup, org):
    mcp_call(gateway.url, _auth(setup["key"]), "call_tool", "jira__add", {"a": 2, "b": 3})
    with pytest.raises(Exception, match="may not use jira"):
        mcp_call(
            gateway.url, _auth(setup["outsider_key"]), "call_tool", "jira__add", {"a": 1, "b": 1}
        )
    _wait_for(2)
    ok = ToolTrace.objects.get(outcome="ok")
    assert (ok.server_name, ok.tool, ok.integration) == ("Jira", "add", "jira")
    assert ok.member_label == "dev@acme.example" and ok.latency_ms > 0
    assert ok.client.startswith("gateway_token:") and ok.arguments_size > 0 and ok.result_size > 0
    contents = {p.direction: p.content for p in ok.payloads.all()}
    assert contents["input"] == '{"a": 2, "b": 3}' and '"5"' in contents["output"]
    denied = ToolTrace.objects.get(outcome="denied")
    assert "may not use jira" in denied.error and denied.member_label == "outsider@acme.example"


def test_zero_data_retention_keeps_sizes_not_content(gateway, setup, org):
    org.zero_data_retention = True
    org.save(update_fields=["zero_data_retention"])
    mcp_call(gateway.url, _auth(setup["key"]), "call_tool", "jira__echo", {"text": "secret"})
    _wait_for(1)
    payloads = ToolTracePayload.objects.all()
    assert payloads and all(p.content == "" and p.size > 0 and p.sha256 for p in payloads)


def _records(org, n):
    return [
        record(
            org_id=org.pk,
            member_label="dev@acme.example",
            server_name="Jira",
            integration="jira",
            tool="echo",
            outcome="ok",
            latency_ms=1.5,
            arguments='{"text": "x"}',
            result='{"ok": true}',
            at="2026-11-30T05:00:00+00:00",
        )
        for _ in range(n)
    ]


def test_a_database_outage_loses_nothing_and_duplicates_nothing(org, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the outage is a refused connection to its port")
    spool = Spool(tmp_path / "spool")
    for trace in _records(org, 50):
        spool.append(trace)
    with socket.socket() as s:  # a port nothing listens on: the database is "down"
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    real = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = dead
    try:
        assert spool.flush() == 0
        assert spool.pending() == 50  # kept on disk while the database is away
    finally:
        connection.settings_dict["PORT"] = real
        connection.close()
    segment = next((tmp_path / "spool").glob("segment-*.jsonl"))
    kept = tmp_path / "copy.jsonl"
    shutil.copy(segment, kept)
    assert spool.flush() == 50 and spool.pending() == 0
    # The process died after the insert and before the delete: the segment comes back.
    shutil.copy(kept, segment)
    assert spool.flush() == 0
    assert ToolTrace.objects.count() == 50 and ToolTracePayload.objects.count() == 100
    spool.close()


def test_a_writer_that_vanished_mid_transaction_does_not_hold_the_next_try(org, monkeypatch):
    """A writer stuck after its inserts, before its commit (to PostgreSQL, a session idle in a
    transaction: what a network fault leaves behind), holds the segment's rows. PostgreSQL ends
    that session after IDLE_IN_TRANSACTION, so the next try stores the segment, exactly once,
    instead of waiting on those rows until TCP keepalive ends the session (hours)."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL's idle_in_transaction_session_timeout (SQLite has one writer and "
            "no sessions to end): make test runs this on PostgreSQL"
        )
    import threading
    import time

    from django.db import connections

    from gateway import traces

    monkeypatch.setattr(traces, "IDLE_IN_TRANSACTION", 1.0)
    segment = _records(org, 3)
    stuck, freed = threading.Event(), threading.Event()
    real_mark = traces._mark_days

    def mark_then_hang(made):
        real_mark(made)
        if threading.current_thread().name == "vanished-writer":
            stuck.set()
            freed.wait(30)  # the process hangs here; its session sits idle in the transaction

    monkeypatch.setattr(traces, "_mark_days", mark_then_hang)
    failures = []

    def vanished():
        try:
            traces.store(segment)
        except Exception as exc:  # its session was ended under it
            failures.append(exc)
        finally:
            connections.close_all()

    first = threading.Thread(target=vanished, name="vanished-writer")
    first.start()
    assert stuck.wait(10)
    retried = []
    started = time.monotonic()
    retry = threading.Thread(
        target=lambda: retried.append(traces.store(segment)) or connections.close_all()
    )
    retry.start()
    retry.join(15)
    waited = time.monotonic() - started
    freed.set()
    first.join(15)
    assert retried == [3], f"the retry did not finish in {waited:.1f} s"
    assert waited < 10
    from django.db import DatabaseError

    assert len(failures) == 1 and isinstance(failures[0], DatabaseError)  # its commit failed
    ids = [t["trace_id"] for t in segment]
    assert ToolTrace.objects.filter(trace_id__in=ids).count() == 3
    assert ToolTracePayload.objects.filter(trace__trace_id__in=ids).count() == 6


def test_a_runs_call_carries_its_agent_and_team_for_the_filters(
    gateway, setup, org, admin, admin_client
):
    from orgs.services.service_keys import service_key_create
    from orgs.services.teams import team_create
    from workspace.models import Run

    team = team_create(org=org, name="Support", actor=None)
    run = Run.objects.create(
        org=org,
        member=setup["member"],
        team=team,
        resource_name="Triage",
        trigger="api",
        status="running",
    )
    _, service_key = service_key_create(org=org, label="runtime", actor=admin.user)
    headers = {**_auth(service_key), "X-Governance-Run": str(run.pk)}
    mcp_call(gateway.url, headers, "call_tool", "jira__echo", {"text": "x"})
    _wait_for(1)
    trace = ToolTrace.objects.get()
    assert (trace.run_id, trace.team_id) == (run.pk, team.pk)
    assert trace.client.startswith("service_key:")
    page = admin_client.get(
        f"/o/{org.slug}/traces/?team={team.pk}&since=2026-01-01T00:00:00Z"
    ).content.decode()
    assert "Jira / echo" in page
    other = admin_client.get(f"/o/{org.slug}/traces/?team=999999").content.decode()
    assert "Jira / echo" not in other
