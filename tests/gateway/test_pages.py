"""The MCP servers page and the tool calls page (admin.tracing): add a server and see its tools,
refresh and delete it (another organization's id is a 404), and read traced calls with their
per-tool figures and a run's timeline, in a bounded number of queries."""

from __future__ import annotations

import pytest

from gateway.models import McpServer
from gateway.traces import record, store

pytestmark = pytest.mark.django_db


def test_add_refresh_and_delete_a_server_on_the_page(admin_client, org, upstream, other_org):
    page = f"/o/{org.slug}/settings/mcp/"
    response = admin_client.post(
        page, {"name": "Jira", "integration": "jira", "transport": "http", "url": upstream.url}
    )
    assert response.status_code == 302
    server = McpServer.objects.get(org=org)
    html = admin_client.get(page).content.decode()
    assert "Jira" in html and "echo" in html and "Up" in html
    upstream.start(tools="v2")
    admin_client.post(f"{page}{server.pk}/refresh/")
    html = admin_client.get(page).content.decode()
    assert "search" in html and "changed: echo" in html
    from gateway.services import ServerSpec, server_create

    theirs = server_create(
        org=other_org,
        actor=None,
        spec=ServerSpec(name="Theirs", integration="jira", transport="http", url=upstream.url),
    )
    assert admin_client.post(f"{page}{theirs.pk}/delete/").status_code == 404
    assert McpServer.objects.filter(pk=theirs.pk).exists()
    admin_client.post(f"{page}{server.pk}/delete/")
    assert not McpServer.objects.filter(pk=server.pk).exists()


def test_a_bad_url_is_refused_with_the_reason_and_stores_nothing(admin_client, org, settings):
    settings.MCP_ALLOW_HTTP_UPSTREAMS = False
    response = admin_client.post(
        f"/o/{org.slug}/settings/mcp/",
        {"name": "Jira", "integration": "jira", "transport": "http", "url": "http://x.test/mcp"},
    )
    assert response.status_code == 400 and "https://" in response.content.decode()
    assert not McpServer.objects.exists()


def _trace(org, **over):
    base = dict(
        org_id=org.pk,
        member_label="dev@acme.example",
        run_id=7,
        server_name="Jira",
        integration="jira",
        tool="echo",
        outcome="ok",
        latency_ms=10.0,
        arguments="{}",
        result="{}",
        at="2026-11-30T05:00:00+00:00",
    )
    return record(**{**base, **over})


def test_the_tool_calls_page_in_bounded_queries(
    admin_client, org, django_assert_max_num_queries, other_org
):
    store([_trace(org, latency_ms=float(i)) for i in range(1, 21)])
    store([_trace(org, tool="add", outcome="error", run_id=8)])
    store([_trace(other_org, tool="secret-tool")])
    with django_assert_max_num_queries(30):
        html = admin_client.get(
            f"/o/{org.slug}/traces/?since=2026-11-01T00:00:00Z"
        ).content.decode()
    assert "echo" in html and "add" in html and "secret-tool" not in html
    assert "20" in html  # echo's calls
    timeline = admin_client.get(f"/o/{org.slug}/traces/?run=8&since=2026-11-01T00:00:00Z")
    body = timeline.content.decode()
    assert "Tool calls of run #8" in body and "add" in body
    store([_trace(org, latency_ms=1.0) for _ in range(200)])
    with django_assert_max_num_queries(30):
        admin_client.get(f"/o/{org.slug}/traces/?since=2026-11-01T00:00:00Z")
