"""Talking to an organization's MCP servers with the official MCP Python SDK (`mcp`): Streamable
HTTP to a URL the admin typed, pinned to the address the SSRF guard checked (core.outbound; a
server on the deployment's own network needs GOVERNANCE_MCP_ALLOW_PRIVATE_UPSTREAMS=1), or stdio
to a command the operator allowed on the gateway's host (GOVERNANCE_MCP_STDIO_SERVERS: an
organization admin picks one by name and never types a command line)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio
from django.conf import settings

from core import outbound
from core.exceptions import ValidationFailed

TIMEOUT = 15  # seconds for one exchange with an upstream


class UpstreamError(Exception):
    """The MCP server could not be reached or did not answer as an MCP server."""


def mcp_reach() -> outbound.Reach:
    return outbound.Reach(
        private=settings.MCP_ALLOW_PRIVATE_UPSTREAMS,
        http=settings.MCP_ALLOW_HTTP_UPSTREAMS,
        setting="GOVERNANCE_MCP_ALLOW_PRIVATE_UPSTREAMS",
        field="url",
    )


def check_url(url: str) -> list[str]:
    return outbound.server_fetch_check(url, what="MCP server URL", reach=mcp_reach())


def stdio_names() -> list[str]:
    return sorted(settings.MCP_STDIO_SERVERS)


def stdio_params(name: str) -> Any:
    from mcp.client.stdio import StdioServerParameters

    spec = settings.MCP_STDIO_SERVERS.get(name)
    if not isinstance(spec, dict) or not spec.get("command"):
        raise ValidationFailed(
            f"{name!r} is not one of the stdio servers this gateway allows "
            f"({', '.join(stdio_names()) or 'none: the operator lists them in '}"
            f"{'' if stdio_names() else 'GOVERNANCE_MCP_STDIO_SERVERS'}).",
            field="command",
        )
    return StdioServerParameters(
        command=spec["command"],
        args=list(spec.get("args", [])),
        env=dict(spec.get("env", {})) or None,
        cwd=spec.get("cwd"),
    )


def _pinned(url: str) -> tuple[str, Any]:
    """The address the SSRF guard checked for this URL (the one to connect to), and the URL's
    parts."""
    return outbound.pick(check_url(url)), urlsplit(url)


def _pinned_client(url: str, headers: dict[str, str] | None, lost: Any = None) -> tuple[Any, str]:
    """An httpx client that connects to the address the SSRF guard checked only (the Host
    header and TLS server name stay the URL's host), and the URL to post to. `lost()` is
    called when the server answers 404 to a request carrying the session id: it no longer
    knows the session (the MCP spec: the client starts a new one)."""
    import httpx2

    address, parts = _pinned(url)
    netloc = f"[{address}]" if ":" in address else address
    if parts.port:
        netloc += f":{parts.port}"
    pinned = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    host = parts.hostname or ""

    async def name_the_host(request: Any) -> None:
        request.headers["Host"] = parts.netloc
        request.extensions["sni_hostname"] = host

    async def watch_the_session(response: Any) -> None:
        if lost and response.status_code == 404 and "mcp-session-id" in response.request.headers:
            lost()

    from gateway.http1 import tls_context

    client = httpx2.AsyncClient(
        headers=headers or {},
        event_hooks={"request": [name_the_host], "response": [watch_the_session]},
        verify=tls_context(),  # the same authorities as the calls' client
        trust_env=False,  # no proxy from the environment: the pinned address is the one used
        follow_redirects=False,
        timeout=TIMEOUT,
    )
    return client, pinned


@asynccontextmanager
async def _pinned_http(
    url: str, headers: dict[str, str] | None, lost: Any = None
) -> AsyncIterator[tuple[Any, Any]]:
    """The SDK's Streamable HTTP client on the pinned httpx client."""
    from mcp.client.streamable_http import streamable_http_client

    client, pinned = _pinned_client(url, headers, lost)
    async with client, streamable_http_client(pinned, http_client=client) as streams:
        yield streams[0], streams[1]


class HttpSession:
    """The gateway's own Streamable HTTP client for calls, on gateway.http1 (kept connections,
    answers parsed by httptools). The SDK's client (httpx) opens a task and memory streams per
    request and drops the connection after every event-stream answer: measured 3.4 ms a call
    against 1.1 ms for the same exchange on a kept connection. One initialized session
    (initialize, then notifications/initialized), then one POST per request on kept
    connections, pinned to the address the SSRF guard checked (the Host header and TLS server
    name stay the URL's host); the answer is read as JSON or from the event stream, to its end
    so the connection is kept. A request the upstream sends back during a call (sampling,
    elicitation, roots) is answered "method not found": the gateway does not hand its clients'
    capabilities to upstreams; `ping` is answered. A 404 to the session's id calls `lost()`
    (the MCP spec: the client starts a new session). Results are validated with the SDK's
    types."""

    def __init__(self, url: str, headers: dict[str, str] | None, lost: Any = None) -> None:
        self.address, parts = _pinned(url)
        self.tls = parts.scheme == "https"
        self.port = parts.port or (443 if self.tls else 80)
        self.target = urlunsplit(("", "", parts.path or "/", parts.query, ""))
        self.host = parts.hostname or ""
        self.base = {**(headers or {}), "Host": parts.netloc}
        self.lost = lost
        self.http: Any = None
        self.session_id: str | None = None
        self.version: str | None = None
        self.ids = 0

    def _headers(self) -> dict[str, str]:
        headers = {
            **self.base,
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
        }
        if self.session_id:
            headers["Mcp-Session-Id"] = self.session_id
        if self.version:
            headers["MCP-Protocol-Version"] = self.version
        return headers

    def _post(
        self, message: dict[str, Any] | None, method: str = "POST", limited: bool = True
    ) -> Any:
        return self.http.request(
            method,
            self.target,
            self._headers(),
            json.dumps(message).encode() if message is not None else None,
            limited=limited,
        )

    async def open(self) -> HttpSession:
        from mcp import types as mcp_types

        from gateway import http1

        self.http = http1.Client(self.address, self.port, self.host if self.tls else None)
        async with asyncio.timeout(TIMEOUT):  # an upstream that never answers fails the open
            result = await self.request(
                "initialize",
                {
                    "protocolVersion": mcp_types.LATEST_PROTOCOL_VERSION,
                    "capabilities": {},
                    "clientInfo": {"name": "governance-gateway", "version": "1"},
                },
            )
            self.version = str(result.get("protocolVersion") or mcp_types.LATEST_PROTOCOL_VERSION)
            await self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return self

    async def _send(self, message: dict[str, Any], limited: bool = True) -> None:
        """A notification or a reply of ours (the upstream answers 202, no body)."""
        async with self._post(message, limited=limited) as response:
            await response.read()

    async def _answer(self, message: dict[str, Any]) -> None:
        """A request from the upstream in the middle of a call."""
        if message.get("method") == "ping":
            reply: dict[str, Any] = {"jsonrpc": "2.0", "id": message["id"], "result": {}}
        else:
            reply = {
                "jsonrpc": "2.0",
                "id": message["id"],
                "error": {
                    "code": -32601,
                    "message": f"The governance gateway does not pass {message.get('method')} "
                    "on to its clients.",
                },
            }
        await self._send(reply, limited=False)  # while the call holds its connection

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The result of a JSON-RPC request (MCPError for the upstream's error)."""
        from mcp import MCPError

        self.ids += 1
        ident = self.ids
        body = {"jsonrpc": "2.0", "id": ident, "method": method, "params": params}
        answer: Any = None
        async with self._post(body) as response:
            if method == "initialize" and response.headers.get("mcp-session-id"):
                self.session_id = response.headers["mcp-session-id"]
            if response.status == 404 and self.session_id and self.lost:
                self.lost()
            kind = response.headers.get("content-type", "").lower()
            if kind.startswith("text/event-stream"):
                async for message in _events(response.chunks()):
                    if message.get("id") == ident and ("result" in message or "error" in message):
                        answer = message  # read on to the stream's end: the connection stays
                    elif "method" in message and "id" in message:
                        await self._answer(message)
            elif kind.startswith("application/json"):
                answer = _message((await response.read()).decode("utf-8", "replace"))
            if answer is None:
                status = response.status
                if status == 404 and self.session_id:
                    raise MCPError(-32600, "Session terminated")
                raise MCPError(-32603, f"The MCP server answered HTTP {status} without a result.")
        if "error" in answer:
            error = answer["error"] if isinstance(answer["error"], dict) else {}
            raise MCPError(
                int(error.get("code", -32603)),
                str(error.get("message", "error")),
                error.get("data"),
            )
        result = answer.get("result")
        return result if isinstance(result, dict) else {}

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        from mcp import types as mcp_types

        result = await self.request("tools/call", {"name": name, "arguments": arguments})
        return mcp_types.CallToolResult.model_validate(result)

    async def close(self) -> None:
        if self.http is None:
            return
        try:
            if self.session_id:
                with anyio.move_on_after(2):
                    async with self._post(None, "DELETE", limited=False) as response:
                        await response.read()
        except Exception:  # noqa: S110 (the session ends either way)
            pass
        self.http.close()


async def _events(chunks: AsyncIterator[bytes]) -> AsyncIterator[dict[str, Any]]:
    """The JSON-RPC messages of an event stream (each event's data lines joined), read in the
    chunks that arrive (a line at a time cost an await per line), each event handed on as soon
    as its blank line has arrived. A chunk may end inside a character or a CRLF."""
    import codecs

    decode = codecs.getincrementaldecoder("utf-8")(errors="replace").decode
    pending = ""
    async for chunk in chunks:
        text = pending + decode(chunk)
        held = "\r" if text.endswith("\r") else ""  # perhaps half of a CRLF
        if held:
            text = text[:-1]
        if "\r" in text:  # SSE lines end in CRLF, LF or CR
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        *complete, pending = text.split("\n\n")
        pending += held
        for event in complete:
            message = _event_message(event)
            if message is not None:
                yield message
    message = _event_message(pending + decode(b"", final=True))
    if message is not None:
        yield message


def _event_message(event: str) -> dict[str, Any] | None:
    data = [line[5:].lstrip(" ") for line in event.split("\n") if line.startswith("data:")]
    return _message("\n".join(data)) if data else None


def _message(text: str) -> dict[str, Any] | None:
    try:
        message = json.loads(text)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


@asynccontextmanager
async def session(
    server: Any, headers: dict[str, str] | None = None, lost: Any = None
) -> AsyncIterator[Any]:
    """An initialized MCP ClientSession to the server (`lost`: see _pinned_http)."""
    from mcp.client.session import ClientSession
    from mcp.client.stdio import stdio_client

    if server.transport == "stdio":
        opened = stdio_client(stdio_params(server.command))
    else:
        opened = _pinned_http(server.url, headers, lost)
    async with opened as streams:
        read, write = streams[0], streams[1]
        async with ClientSession(read, write, read_timeout_seconds=TIMEOUT) as client:
            await client.initialize()
            yield client


def digest(tool: dict[str, Any]) -> str:
    """What a change of a tool is judged by: its description and its input schema."""
    canonical = json.dumps(
        {"description": tool.get("description") or "", "input_schema": tool.get("input_schema")},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _list(server: Any) -> list[dict[str, Any]]:
    with anyio.fail_after(TIMEOUT * 2):
        async with session(server) as client:
            listed = await client.list_tools()
    tools = []
    for tool in listed.tools:
        entry = {
            "name": tool.name,
            "description": tool.description or "",
            "input_schema": tool.input_schema if hasattr(tool, "input_schema") else None,
        }
        if entry["input_schema"] is None:
            entry["input_schema"] = getattr(tool, "inputSchema", None)
        entry["digest"] = digest(entry)
        tools.append(entry)
    return sorted(tools, key=lambda t: t["name"])


def run_sync(fn: Any, *args: Any) -> Any:
    """Runs an async function to its end from synchronous code: in this thread, or in a
    thread of its own when this one already runs an event loop (anyio.run refuses to nest)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return anyio.run(fn, *args)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, fn, *args).result()


def list_tools(server: Any) -> list[dict[str, Any]]:
    """The tools the server exposes now (UpstreamError when it cannot say)."""
    try:
        return run_sync(_list, server)
    except ValidationFailed:
        raise
    except BaseException as exc:  # the SDK raises task-group errors, timeouts, OSErrors
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise UpstreamError(_describe(exc)) from exc


def _describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]
