"""Talking to an organization's MCP servers with the official MCP Python SDK (`mcp`): Streamable
HTTP to a URL the admin typed, pinned to the address the SSRF guard checked (core.outbound; a
server on the deployment's own network needs GOVERNANCE_MCP_ALLOW_PRIVATE_UPSTREAMS=1), or stdio
to a command the operator allowed on the gateway's host (GOVERNANCE_MCP_STDIO_SERVERS: an
organization admin picks one by name and never types a command line)."""

from __future__ import annotations

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


@asynccontextmanager
async def _pinned_http(url: str, headers: dict[str, str] | None) -> AsyncIterator[tuple[Any, Any]]:
    """The SDK's Streamable HTTP client on an httpx client that connects to the checked
    address only (the Host header and TLS server name stay the URL's host)."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    addresses = check_url(url)
    parts = urlsplit(url)
    address = outbound.pick(addresses)
    netloc = f"[{address}]" if ":" in address else address
    if parts.port:
        netloc += f":{parts.port}"
    pinned = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    host = parts.hostname or ""

    async def name_the_host(request: Any) -> None:
        request.headers["Host"] = parts.netloc
        request.extensions["sni_hostname"] = host

    client = httpx2.AsyncClient(
        headers=headers or {},
        event_hooks={"request": [name_the_host]},
        trust_env=False,
        follow_redirects=False,
        timeout=TIMEOUT,
    )
    async with client, streamable_http_client(pinned, http_client=client) as streams:
        yield streams[0], streams[1]


@asynccontextmanager
async def session(server: Any, headers: dict[str, str] | None = None) -> AsyncIterator[Any]:
    """An initialized MCP ClientSession to the server."""
    from mcp.client.session import ClientSession
    from mcp.client.stdio import stdio_client

    if server.transport == "stdio":
        opened = stdio_client(stdio_params(server.command))
    else:
        opened = _pinned_http(server.url, headers)
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
