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

from typing import Any

from anyio import to_thread
from django.conf import settings
from mcp import MCPError
from mcp import types as mcp_types
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway import access, upstream

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


async def _call_tool(ctx: Any, params: Any) -> mcp_types.CallToolResult:
    caller = ctx.request.state.caller
    name = params.name
    found = await _db(access.route, caller, name)
    reason = await _db(access.decide_call, caller, found, name)
    if reason:
        raise MCPError(FORBIDDEN, reason)
    headers = await _db(access.upstream_headers, caller, found.server)
    try:
        async with upstream.session(found.server, headers) as client:
            return await client.call_tool(found.tool, params.arguments or {})
    except MCPError:
        raise
    except Exception as exc:  # the upstream is down or broke the protocol
        raise MCPError(-32603, f"{found.server.name} failed: {upstream._describe(exc)}") from exc


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


def build_app() -> Any:
    from mcp.server.lowlevel import Server
    from mcp.server.transport_security import TransportSecuritySettings

    server = Server("governance-gateway", on_list_tools=_list_tools, on_call_tool=_call_tool)
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

    return app
