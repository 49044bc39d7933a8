"""A real MCP client (the SDK's) through the gateway to a real upstream: tools filtered by the
member's roles, calls decided by the RBAC decision function (a refusal is an MCP error, audited),
a deactivated member refused at the next call, a revoked role effective at the next call, and
the member's own credential injected upstream, never the client's token."""

from __future__ import annotations

import pytest
import requests
from mcp import MCPError

from audit.models import AuditEvent
from orgs.services.assignments import role_unassign
from orgs.services.members import membership_deactivate
from tests.gateway.conftest import auth as _auth
from tests.gateway.conftest import mcp_call

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_member_sees_and_calls_the_tools_their_roles_allow(gateway, setup):
    tools = mcp_call(gateway.url, _auth(setup["key"]), "list_tools")
    assert sorted(t.name for t in tools.tools) == ["jira__add", "jira__echo"]
    result = mcp_call(gateway.url, _auth(setup["key"]), "call_tool", "jira__add", {"a": 2, "b": 3})
    assert not result.is_error and result.content[0].text == "5"


def test_a_member_without_the_integration_sees_none_and_is_refused_by_name(gateway, setup, org):
    tools = mcp_call(gateway.url, _auth(setup["outsider_key"]), "list_tools")
    assert tools.tools == []
    with pytest.raises(MCPError, match="may not use jira"):
        mcp_call(
            gateway.url, _auth(setup["outsider_key"]), "call_tool", "jira__add", {"a": 1, "b": 1}
        )
    denied = AuditEvent.objects.filter(org_id=org.pk, action="access.denied").latest("id")
    assert denied.data["door"] == "mcp_gateway" and denied.data["tool"] == "jira__add"


def test_a_revoked_role_counts_at_the_next_call(gateway, setup):
    key = setup["key"]
    assert mcp_call(gateway.url, _auth(key), "call_tool", "jira__echo", {"text": "hi"})
    role_unassign(membership=setup["member"], role=setup["role"], actor=None)
    with pytest.raises(MCPError, match="may not use jira"):
        mcp_call(gateway.url, _auth(key), "call_tool", "jira__echo", {"text": "hi"})


def test_a_deactivated_member_is_refused_at_the_next_call(gateway, setup):
    key = setup["key"]
    assert mcp_call(gateway.url, _auth(key), "list_tools").tools
    membership_deactivate(membership=setup["member"], actor=None)
    response = requests.post(
        f"{gateway.url}/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={**_auth(key), "Accept": "application/json, text/event-stream"},
        timeout=10,
    )
    assert response.status_code == 401
    assert "resource_metadata=" in response.headers["WWW-Authenticate"]


def test_the_clients_token_never_reaches_the_upstream(gateway, setup):
    mcp_call(gateway.url, _auth(setup["key"]), "call_tool", "jira__echo", {"text": "x"})
    seen = setup["upstream"].record.read_text()
    assert setup["key"] not in seen


def test_protected_resource_metadata(gateway):
    body = requests.get(f"{gateway.url}/.well-known/oauth-protected-resource", timeout=5).json()
    assert body["resource"] == f"{gateway.url}/mcp"
    assert body["bearer_methods_supported"] == ["header"]


def test_the_members_own_credential_is_injected_upstream(gateway, setup, org):
    """The member connected Jira through the organization's Okta: the upstream receives that
    access token; the client never sees it and its own key never goes upstream."""
    from datetime import timedelta

    from django.utils import timezone

    from core import crypto
    from credentials.models import CredentialService, OktaCredential, ServiceConnection

    credential = OktaCredential.objects.create(  # as saved after its discovery document
        org=org,
        name="Okta",
        okta_domain="acme.okta.com",
        server_id="aus1",
        client_id="client",
        client_secret=crypto.encrypt("secret"),
        issuer="https://acme.okta.com/oauth2/aus1",
        authorization_endpoint="https://acme.okta.com/oauth2/aus1/v1/authorize",
        token_endpoint="https://acme.okta.com/oauth2/aus1/v1/token",
    )
    service = CredentialService.objects.create(
        org=org, credential=credential, name="Jira", integration="jira"
    )
    okta_token = "eyJ.member-okta-access-token.sig"
    ServiceConnection.objects.create(
        org=org,
        membership=setup["member"],
        service=service,
        status="connected",
        access_token=crypto.encrypt(okta_token),
        expires_at=timezone.now() + timedelta(hours=1),
        scopes=["openid"],
    )
    result = mcp_call(
        gateway.url, _auth(setup["key"]), "call_tool", "jira__echo", {"text": "hello"}
    )
    assert result.content[0].text == "hello" and okta_token not in str(result)
    seen = setup["upstream"].record.read_text()
    assert f"Bearer {okta_token}" in seen
    assert setup["key"] not in seen


def test_a_stdio_upstream_through_the_gateway(gateway, setup, org, admin, everything):
    from gateway.services import ServerSpec, server_create, tools_refresh

    server = server_create(
        org=org,
        actor=admin.user,
        spec=ServerSpec(
            name="Everything", integration="jira", transport="stdio", command=everything
        ),
    )
    tools_refresh(server=server)
    result = mcp_call(
        gateway.url, _auth(setup["key"]), "call_tool", "everything__echo", {"message": "hi"}
    )
    assert not result.is_error and "hi" in result.content[0].text


def test_server_everything_over_streamable_http_through_the_gateway(
    gateway, setup, org, admin, everything_http
):
    from gateway.services import ServerSpec, server_create, tools_refresh

    server = server_create(
        org=org,
        actor=admin.user,
        spec=ServerSpec(
            name="Everything", integration="jira", transport="http", url=everything_http
        ),
    )
    assert tools_refresh(server=server)["health"] == "up"
    names = {t.name for t in mcp_call(gateway.url, _auth(setup["key"]), "list_tools").tools}
    assert {"everything__echo", "everything__get-sum"} <= names
    for word in ("one", "two"):
        result = mcp_call(
            gateway.url, _auth(setup["key"]), "call_tool", "everything__echo", {"message": word}
        )
        assert not result.is_error and result.content[0].text == f"Echo: {word}"
    result = mcp_call(
        gateway.url, _auth(setup["key"]), "call_tool", "everything__get-sum", {"a": 2, "b": 40}
    )
    assert "42" in result.content[0].text


def test_the_audit_log_links_a_runs_refused_calls(gateway, setup, org, admin_client, admin):
    from orgs.services.service_keys import service_key_create
    from workspace.models import Run

    run = Run.objects.create(
        org=org, member=setup["member"], resource_name="Nightly", trigger="api", status="running"
    )
    role_unassign(membership=setup["member"], role=setup["role"], actor=None)
    _, service_key = service_key_create(org=org, label="runtime", actor=admin.user)
    headers = {**_auth(service_key), "X-Governance-Run": str(run.pk)}
    with pytest.raises(MCPError, match="may not use jira"):
        mcp_call(gateway.url, headers, "call_tool", "jira__echo", {"text": "x"})
    denied = AuditEvent.objects.filter(org_id=org.pk, action="access.denied").latest("id")
    assert denied.data["run"] == run.pk
    page = admin_client.get(f"/o/{org.slug}/audit/{denied.pk}/").content.decode()
    assert f"/o/{org.slug}/traces/?run={run.pk}&amp;outcome=denied" in page
    run_page = admin_client.get(f"/o/{org.slug}/runs/{run.pk}/").content.decode()
    assert f"/o/{org.slug}/traces/?run={run.pk}" in run_page


def test_bad_requests_get_a_clear_error_and_no_500(gateway, setup):
    headers = {
        **_auth(setup["key"]),
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
    }
    huge = requests.post(
        f"{gateway.url}/mcp", data=b"x" * (4 * 1024 * 1024 + 1), headers=headers, timeout=20
    )
    assert huge.status_code == 413 and "send smaller arguments" in huge.json()["error"]["message"]
    broken = requests.post(
        f"{gateway.url}/mcp", data=b'{"jsonrpc": "2.0", ', headers=headers, timeout=10
    )
    assert broken.status_code == 400 and broken.json()["error"]["code"] == -32700
    for params in ({"name": 42}, {"name": "jira__echo", "arguments": "text"}, None):
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
        response = requests.post(f"{gateway.url}/mcp", json=body, headers=headers, timeout=10)
        assert response.status_code < 500, response.text
        assert "error" in response.json() or response.json()["result"].get("isError")


def _modern_client(url: str, headers: dict, *steps):
    """The SDK's own `Client` (mcp 2.x, mode "auto"): it probes `server/discover` and then
    speaks 2026-07-28, one self-contained POST per request with its routing headers. Returns
    what each step gave (or the MCPError it raised) and the protocol version of every POST."""
    import httpx2
    from mcp.client import Client
    from mcp.client.streamable_http import streamable_http_client

    from gateway.upstream import run_sync

    versions = []

    async def seen(request):
        versions.append(request.headers.get("mcp-protocol-version"))

    async def run():
        out = []
        async with (
            httpx2.AsyncClient(headers=headers, timeout=20, event_hooks={"request": [seen]}) as h,
            Client(streamable_http_client(f"{url}/mcp", http_client=h)) as client,
        ):
            for method, *args in steps:
                try:
                    out.append(await getattr(client, method)(*args))
                except MCPError as exc:
                    out.append(exc)
        return out

    return run_sync(run), versions


def test_the_sdks_own_client_speaks_2026_07_28_through_the_gateway(
    gateway, setup, org, monkeypatch
):
    from gateway import access

    listed = []
    visible_tools = access.visible_tools

    def counted(caller):  # calls through: only counts how often every tool is listed
        listed.append(caller)
        return visible_tools(caller)

    monkeypatch.setattr(access, "visible_tools", counted)
    (tools, added, echoed), versions = _modern_client(
        gateway.url,
        _auth(setup["key"]),
        ("list_tools",),
        ("call_tool", "jira__add", {"a": 2, "b": 3}),
        ("call_tool", "jira__echo", {"text": "hi"}),
    )
    assert set(versions) == {"2026-07-28"}
    assert sorted(t.name for t in tools.tools) == ["jira__add", "jira__echo"]
    assert not added.is_error and added.content[0].text == "5"
    assert not echoed.is_error
    # The SDK checks a 2026-07-28 call's Mcp-Param headers against the tool's input schema:
    # the gateway answers from the call it prepared, without listing every tool again.
    assert len(listed) == 1

    (refused,), _ = _modern_client(
        gateway.url, _auth(setup["outsider_key"]), ("call_tool", "jira__add", {"a": 1, "b": 1})
    )
    assert isinstance(refused, MCPError) and "may not use jira" in str(refused)
    denied = AuditEvent.objects.filter(org_id=org.pk, action="access.denied").latest("id")
    assert denied.data["tool"] == "jira__add"
