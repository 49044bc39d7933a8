"""The MCP gateway: a separate ASGI process (`manage.py mcp_gateway`, or `gateway.asgi:app` under
any ASGI server) speaking Streamable HTTP to MCP clients, built on the official MCP Python SDK's
low-level server. Per request:
- the client is authenticated (gateway.access), or answered 401 with `WWW-Authenticate`
  naming the protected resource metadata (RFC 9728, served at
  /.well-known/oauth-protected-resource);
- `tools/list` shows only the tools of integrations the member's roles allow;
- `tools/call` is decided by the RBAC decision function; a refusal is an MCP error with the
  reason, and audited;
- the upstream gets the member's own credential where one is configured, never the client's
  token.
"""

from __future__ import annotations

import json
import time
from typing import Any

from anyio import to_thread
from django.conf import settings
from django.utils import timezone
from mcp import MCPError
from mcp import types as mcp_types
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway import access, traces, upstream

FORBIDDEN = -32003  # an MCP error code of ours: the call is not allowed


def _db(fn: Any, *args: Any) -> Any:
    """An ORM call from the event loop: in a worker thread, its connection closed after."""

    def run() -> Any:
        from django.db import close_old_connections

        close_old_connections()
        try:
            return fn(*args)
        finally:
            close_old_connections()

    return to_thread.run_sync(run)


def resource_url() -> str:
    return settings.MCP_GATEWAY_URL.rstrip("/") + "/mcp"


async def _list_tools(ctx: Any, params: Any) -> mcp_types.ListToolsResult:
    caller = ctx.request.state.caller
    tools = await _db(access.visible_tools, caller)
    return mcp_types.ListToolsResult(
        tools=[
            mcp_types.Tool(
                name=t["name"], description=t["description"], inputSchema=t["input_schema"]
            )
            for t in tools
        ]
    )


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _call_handler(spool: traces.Spool) -> Any:
    async def call_tool(ctx: Any, params: Any) -> mcp_types.CallToolResult:
        caller = ctx.request.state.caller
        name = params.name
        arguments = params.arguments or {}
        started = time.perf_counter()
        found = await _db(access.route, caller, name)
        reason = await _db(access.decide_call, caller, found, name)
        outcome, error, result = "ok", "", None
        try:
            if reason:
                outcome, error = "denied", reason
                raise MCPError(FORBIDDEN, reason)
            headers = await _db(access.upstream_headers, caller, found.server)
            try:
                async with upstream.session(found.server, headers) as client:
                    result = await client.call_tool(found.tool, arguments)
            except MCPError as exc:
                outcome, error = "error", str(exc)
                raise
            except Exception as exc:  # the upstream is down or broke the protocol
                outcome = "error"
                error = f"{found.server.name} failed: {upstream._describe(exc)}"
                raise MCPError(-32603, error) from exc
            if result.is_error:
                outcome = "error"
            return result
        finally:
            # The trace goes to the local spool; the database write never holds up the call.
            server = found.server if found else None
            spool.append(
                traces.record(
                    org_id=caller.org.pk,
                    member_id=caller.membership.pk,
                    member_label=caller.membership.user.email,
                    run_id=caller.run.pk if caller.run else None,
                    agent_id=caller.run.agent_id if caller.run else None,
                    workflow_id=caller.run.workflow_id if caller.run else None,
                    team_id=caller.run.team_id if caller.run else None,
                    client=f"{caller.via}:{getattr(caller.key, 'prefix', '')}",
                    server_id=server.pk if server else None,
                    server_name=server.name if server else "",
                    integration=server.integration if server else "",
                    tool=found.tool if found else name,
                    outcome=outcome,
                    error=error[:1000],
                    latency_ms=round((time.perf_counter() - started) * 1000, 3),
                    arguments=_text(arguments),
                    result=_text(result.model_dump(mode="json")) if result is not None else None,
                    at=timezone.now().isoformat(),
                )
            )

    return call_tool


def _unauthorized(message: str) -> JSONResponse:
    metadata = settings.MCP_GATEWAY_URL.rstrip("/") + "/.well-known/oauth-protected-resource"
    return JSONResponse(
        {"error": "invalid_token", "error_description": message},
        status_code=401,
        headers={
            "WWW-Authenticate": f'Bearer error="invalid_token", resource_metadata="{metadata}"'
        },
    )


def protected_resource(request: Request) -> JSONResponse:
    """RFC 9728: what this resource server is and how to get a token for it."""
    return JSONResponse(
        {
            "resource": resource_url(),
            "authorization_servers": [settings.PUBLIC_URL.rstrip("/")]
            if settings.PUBLIC_URL
            else [],
            "bearer_methods_supported": ["header"],
            "resource_name": "governance MCP gateway",
        }
    )


def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def build_app(spool_dir: str | None = None, flush_interval: float = 1.0) -> Any:
    """The ASGI app, with its trace spool and the thread that writes the spool to the database
    (`app.flusher`; stopped with `app.flusher.stop()`)."""
    from mcp.server.lowlevel import Server
    from mcp.server.transport_security import TransportSecuritySettings

    spool = traces.Spool(spool_dir)
    flusher = traces.Flusher(spool, flush_interval).start()
    server = Server(
        "governance-gateway", on_list_tools=_list_tools, on_call_tool=_call_handler(spool)
    )
    hosts = list(settings.MCP_GATEWAY_HOSTS)  # Host headers accepted (DNS rebinding)
    inner = server.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=True,
        json_response=True,
        transport_security=TransportSecuritySettings(
            enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=[]
        ),
        custom_starlette_routes=[
            Route("/.well-known/oauth-protected-resource", protected_resource),
            Route("/healthz", healthz),
        ],
    )

    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/mcp"):
            headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers") or []}
            try:
                caller = await _db(
                    access.authenticate,
                    headers.get("authorization", ""),
                    headers.get("x-governance-run", ""),
                )
            except access.Refused as exc:
                await _unauthorized(str(exc))(scope, receive, send)
                return
            scope.setdefault("state", {})["caller"] = caller
        await inner(scope, receive, send)

    app.spool = spool  # type: ignore[attr-defined]
    app.flusher = flusher  # type: ignore[attr-defined]
    return app
