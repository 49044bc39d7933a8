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

import asyncio
import contextvars
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from mcp import MCPError
from mcp import types as mcp_types
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway import access, aio, outage, pool, traces, upstream

log = logging.getLogger(__name__)

FORBIDDEN = -32003  # an MCP error code of ours: the call is not allowed


_WORKERS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="gateway-db")


def _db(fn: Any, *args: Any) -> Any:
    """An ORM call from the event loop: in one of the gateway's worker threads (each keeps its
    database connection for CONN_MAX_AGE; one that aged is closed first, one the server ended
    is replaced)."""

    def run() -> Any:
        from django.db import close_old_connections, connection
        from django.db.utils import InterfaceError, OperationalError

        close_old_connections()
        try:
            return fn(*args)
        except (InterfaceError, OperationalError):
            # A kept connection the server ended (a restart, a failover, an idle timeout)
            # fails at its first statement, before anything was written: once more on a new
            # connection.
            if connection.connection is None or connection.is_usable():
                raise
            connection.close()
            return fn(*args)
        finally:
            close_old_connections()

    return asyncio.get_running_loop().run_in_executor(_WORKERS, run)


# The tools/call this request carries, as admit() prepared it: (tool name, prepared or None).
_PREPARED: contextvars.ContextVar[tuple[str | None, Any]] = contextvars.ContextVar(
    "gateway_prepared", default=(None, None)
)


def _input_schema(name: str) -> dict[str, Any] | None:
    """The called tool's input schema, for the SDK's check of `Mcp-Param-*` headers at
    2026-07-28: read from the call admit() prepared, so that the check does not list every
    tool again (None, no check, for a call that will be refused anyway)."""
    asked, prepared = _PREPARED.get()
    if asked != name or prepared is None:
        return None
    found, reason, _ = prepared
    if reason or found is None:
        return None
    for tool in found.server.tools:
        if tool["name"] == found.tool:
            return tool.get("input_schema") or {"type": "object"}
    return None


async def _loop_or_db(fn: Any, *args: Any) -> Any:
    """A read-only `fn` on the event loop when it needs no database (the caller's servers and
    roles came with the caller, tool lists are cached); when it does, the query is refused
    before it runs (aio.on_loop), and `fn` runs in a worker thread."""
    done, value = aio.on_loop(fn, *args)
    return value if done else await _db(fn, *args)


def resource_url() -> str:
    return settings.MCP_GATEWAY_URL.rstrip("/") + "/mcp"


def _list_handler(memory: outage.LastKnown) -> Any:
    async def list_tools(ctx: Any, params: Any) -> mcp_types.ListToolsResult:
        state = ctx.request.state
        digest = state.credential + "\0tools/list"
        try:
            tools = await _loop_or_db(access.visible_tools, state.caller)
            memory.remember(digest, tools)
        except DatabaseError as exc:
            tools = memory.recall(digest)
            if tools is None:
                raise MCPError(-32603, UNREACHABLE) from exc
        return _tools_result(tools)

    return list_tools


UNREACHABLE = (
    "The gateway cannot reach its database and holds no recent answer for this token; "
    "try again when the database is back."
)


def _tools_result(tools: list[dict[str, Any]]) -> mcp_types.ListToolsResult:
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


def _spool_trace(spool: traces.Spool, fields: dict[str, Any], arguments: Any, result: Any) -> None:
    """A call's trace, with its arguments and result, appended to the spool."""
    try:
        spool.append(
            traces.record(
                **fields,
                arguments=_text(arguments),
                result=_text(result.model_dump(mode="json")) if result is not None else None,
            )
        )
    except Exception:  # the spool's disk: logged, and the call has been answered
        log.exception("gateway: a trace of %s could not be spooled", fields.get("tool"))


def _call_handler(spool: traces.Spool, sessions: pool.Pool) -> Any:
    async def call_tool(ctx: Any, params: Any) -> mcp_types.CallToolResult:
        caller = ctx.request.state.caller
        name = params.name
        arguments = params.arguments or {}
        started = time.perf_counter()
        found, reason, headers = None, "", {}
        outcome, error, result = "ok", "", None
        try:
            # One trip to the database: the route, the decision (a refusal audited) and the
            # member's credential for the upstream.
            asked, prepared = ctx.request.state.prepared
            if asked == name and prepared is not None:
                found, reason, headers = prepared
            else:
                found, reason, headers = await _db(access.prepare_call, caller, name)
            if reason:
                outcome, error = "denied", reason
                raise MCPError(FORBIDDEN, reason)
            try:
                result = await sessions.call(found.server, headers, found.tool, arguments)
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
            # The trace goes to the local spool once the answer is on its way (the callback runs
            # after the SDK has handed the response to the server); the database write never
            # holds up the call.
            server = found.server if found else None
            fields = {
                "org_id": caller.org.pk,
                "member_id": caller.membership.pk,
                "member_label": caller.membership.user.email,
                "run_id": caller.run.pk if caller.run else None,
                "agent_id": caller.run.agent_id if caller.run else None,
                "workflow_id": caller.run.workflow_id if caller.run else None,
                "team_id": caller.run.team_id if caller.run else None,
                "client": f"{caller.via}:{getattr(caller.key, 'prefix', '')}",
                "server_id": server.pk if server else None,
                "server_name": server.name if server else "",
                "integration": server.integration if server else "",
                "tool": found.tool if found else name,
                "outcome": outcome,
                "error": error[:1000],
                "latency_ms": round((time.perf_counter() - started) * 1000, 3),
                "offline": bool(getattr(ctx.request.state, "offline", False)),
                "at": timezone.now().isoformat(),
            }
            asyncio.get_running_loop().call_soon(_spool_trace, spool, fields, arguments, result)

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


MAX_BODY = 4 * 1024 * 1024  # bytes of one JSON-RPC message from a client


async def _body(receive: Any) -> bytes | None:
    """The request's body (None when it is over MAX_BODY)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Any) -> Any:
    """The body again for the SDK's transport, then the connection's own messages."""
    sent = False

    async def again() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


def _called_tool(body: bytes) -> str | None:
    """The tool a tools/call request names, so that the caller's authentication and the call's
    decision share one trip to the database (None for anything else: the SDK judges it)."""
    if b"tools/call" not in body:
        return None
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if not isinstance(message, dict) or message.get("method") != "tools/call":
        return None
    params = message.get("params")
    name = params.get("name") if isinstance(params, dict) else None
    return name if isinstance(name, str) else None


def _unavailable() -> JSONResponse:
    return JSONResponse(
        {"jsonrpc": "2.0", "id": None, "error": {"code": -32603, "message": UNREACHABLE}},
        status_code=503,
        headers={"Retry-After": "5"},
    )


def _too_large() -> JSONResponse:
    return JSONResponse(
        {
            "jsonrpc": "2.0",
            "id": None,
            "error": {
                "code": -32600,
                "message": f"The request is over {MAX_BODY} bytes; send smaller arguments.",
            },
        },
        status_code=413,
    )


def _closing_on_shutdown(receive: Any, sessions: pool.Pool, reads: aio.Reads) -> Any:
    """The server's lifespan messages, the upstream sessions closed (stdio processes ended)
    and the event loop's database connections closed when the server shuts down."""

    async def wrapped() -> dict:
        message = await receive()
        if message.get("type") == "lifespan.shutdown":
            await sessions.close()
            await reads.close()
        return message

    return wrapped


def build_app(
    spool_dir: str | None = None, flush_interval: float = 1.0, writer: str = "thread"
) -> Any:
    """The ASGI app, with its trace spool and the thread that writes the spool to the database
    (`app.flusher`; stopped with `app.flusher.stop()`)."""
    from mcp.server.lowlevel import Server
    from mcp.server.transport_security import TransportSecuritySettings

    memory = outage.LastKnown()
    spool = traces.Spool(spool_dir)
    # writer="process": this process only rotates its spool file; `manage.py mcp_trace_writer`
    # (started by `manage.py mcp_gateway`) writes the segments to the database.
    flusher = traces.Flusher(spool, flush_interval, write=writer == "thread").start()
    sessions = pool.Pool()
    reads = aio.Reads()
    server = Server(
        "governance-gateway",
        on_list_tools=_list_handler(memory),
        on_call_tool=_call_handler(spool, sessions),
        get_tool_input_schema=_input_schema,
    )
    if not settings.MCP_OTEL_SPANS:
        server.middleware = []  # the SDK's no-op span per message: 3 % of a call, unused
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

    transport = server.session_manager.asgi_app  # started by `inner`'s lifespan

    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/mcp"):
            headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers") or []}
            body = b""
            if scope.get("method") == "POST":
                body = await _body(receive)
                if body is None:
                    await _too_large()(scope, receive, send)
                    return
                receive = _replay(body, receive)
            tool = _called_tool(body)
            authorization = headers.get("authorization", "")
            run = headers.get("x-governance-run", "")
            credential = outage.key(authorization, run)
            digest = outage.key(authorization, run, tool or "")
            offline = False
            try:
                admitted = await aio.admit(reads, authorization, run, tool)
                if admitted is None:
                    admitted = await _db(access.admit, authorization, run, tool)
                caller, prepared = admitted
                memory.remember(digest, (caller, prepared))
            except access.Refused as exc:
                await _unauthorized(str(exc))(scope, receive, send)
                return
            except DatabaseError:
                known = memory.recall(digest)
                if known is None:
                    await _unavailable()(scope, receive, send)
                    return
                (caller, prepared), offline = known, True
            state = scope.setdefault("state", {})
            state.update(caller=caller, prepared=(tool, prepared))
            state.update(credential=credential, offline=offline)
            _PREPARED.set((tool, prepared))
            if scope["path"] == "/mcp":
                # Straight to the SDK's transport: Starlette's router and its two exception
                # middlewares in front of it cost 3 % of a call and add nothing here.
                await transport(scope, receive, send)
                return
        elif scope["type"] == "lifespan":
            receive = _closing_on_shutdown(receive, sessions, reads)
        await inner(scope, receive, send)

    app.spool = spool  # type: ignore[attr-defined]
    app.sessions = sessions  # type: ignore[attr-defined]
    app.reads = reads  # type: ignore[attr-defined]
    app.flusher = flusher  # type: ignore[attr-defined]
    return app
