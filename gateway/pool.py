"""Open MCP sessions to the upstreams, kept and shared by the gateway's calls.

Opening a session costs an `initialize` exchange (and, for stdio, a process start: hundreds of
milliseconds for a Node server), so the gateway keeps one session per upstream and credential
and sends every call over it (an MCP session multiplexes concurrent requests by id).

- The key is the server's id, its address (transport, URL or stdio command) and a digest of the
  credential headers: a member's own Okta token opens a session of its own, a changed URL or a
  refreshed token a new one. Sessions idle for IDLE seconds are closed, and at most
  MAX_SESSIONS are open (the least recently used is closed first).
- Each session lives in a task of its own (the SDK's transports are context managers that must
  be entered and left by one task); a call waits on it at most TIMEOUT seconds.
- A session that breaks (the upstream restarted, its process died, the connection dropped) is
  dropped, and the calls in flight on it fail with the reason. A call is sent again, once, on a
  fresh session only when the upstream cannot have run it: it answered HTTP 404 to the session's
  id (it no longer knows the session; the MCP spec has the client start a new one) or the
  connection could not be opened.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp import MCPError
from mcp.types import CONNECTION_CLOSED

from gateway import upstream

IDLE = 300.0  # seconds
MAX_SESSIONS = 256


class Broken(Exception):
    """The session died under a call."""

    def __init__(self, message: str, *, resend: bool) -> None:
        super().__init__(message)
        self.resend = resend


@dataclass(eq=False)
class _Entry:
    key: tuple
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    client: Any = None
    error: BaseException | None = None
    task: asyncio.Task | None = None
    used: float = field(default_factory=time.monotonic)
    calls: int = 0
    lost: bool = False  # the upstream answered 404 to the session's id
    in_flight: set = field(default_factory=set)  # the tasks of the calls on it
    killed: set = field(default_factory=set)  # the calls its death cancelled

    @property
    def alive(self) -> bool:
        return self.error is None and not self.closing.is_set()


def _key(server: Any, headers: dict[str, str] | None) -> tuple:
    address = server.command if server.transport == "stdio" else server.url
    secret = ""
    if headers and server.transport != "stdio":
        canonical = "\n".join(f"{k.lower()}:{v}" for k, v in sorted(headers.items()))
        secret = hashlib.sha256(canonical.encode()).hexdigest()
    return (server.pk, server.transport, address, secret)


def _connect_failure(exc: BaseException | None) -> bool:
    """The connection was never made (nothing reached the upstream)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    name = type(exc).__name__
    connect = {"ConnectError", "ConnectTimeout", "ConnectFailed"}
    return name in connect or isinstance(exc, ConnectionRefusedError)


class Pool:
    def __init__(self, idle: float = IDLE, max_sessions: int = MAX_SESSIONS) -> None:
        self.idle = idle
        self.max_sessions = max_sessions
        self.entries: dict[tuple, _Entry] = {}
        self.opened = 0  # sessions opened since start (the benchmark and tests read it)

    async def _hold(self, entry: _Entry, server: Any, headers: dict[str, str] | None) -> None:
        try:

            def lost() -> None:
                entry.lost = True

            if server.transport == "stdio":
                async with upstream.session(server, headers, lost) as client:
                    entry.client = client
                    entry.ready.set()
                    await entry.closing.wait()
            else:
                http = upstream.HttpSession(server.url, headers, lost)
                try:
                    entry.client = await http.open()
                    entry.ready.set()
                    await entry.closing.wait()
                finally:
                    with anyio.CancelScope(shield=True):
                        await http.close()
        except BaseException as exc:
            entry.error = exc
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            if entry.error is None and not entry.closing.is_set():
                entry.error = ConnectionError("the session ended")
            entry.ready.set()
            if self.entries.get(entry.key) is entry:
                del self.entries[entry.key]
            for task in list(entry.in_flight):
                entry.killed.add(task)
                task.cancel()

    def _evict(self) -> None:
        now = time.monotonic()
        for entry in list(self.entries.values()):
            if now - entry.used > self.idle and not entry.in_flight:
                self._close(entry)
        while len(self.entries) >= self.max_sessions:
            oldest = min(self.entries.values(), key=lambda e: e.used)
            self._close(oldest)

    def _close(self, entry: _Entry) -> None:
        entry.closing.set()
        if self.entries.get(entry.key) is entry:
            del self.entries[entry.key]

    async def _session(self, server: Any, headers: dict[str, str] | None) -> _Entry:
        key = _key(server, headers)
        entry = self.entries.get(key)
        if entry is None or not entry.alive:
            self._evict()
            entry = _Entry(key)
            self.entries[key] = entry
            self.opened += 1
            entry.task = asyncio.get_running_loop().create_task(
                self._hold(entry, server, headers), name=f"mcp-upstream-{server.pk}"
            )
        if not entry.ready.is_set():
            async with asyncio.timeout(upstream.TIMEOUT):
                await entry.ready.wait()
        if entry.error is not None:
            raise Broken(upstream._describe(entry.error), resend=_connect_failure(entry.error))
        entry.used = time.monotonic()
        return entry

    async def _call_once(self, entry: _Entry, tool: str, arguments: dict[str, Any]) -> Any:
        task = asyncio.current_task()
        entry.in_flight.add(task)
        entry.calls += 1
        try:
            async with asyncio.timeout(upstream.TIMEOUT):
                return await entry.client.call_tool(tool, arguments)
        except asyncio.CancelledError:
            if task not in entry.killed:  # not the session's death: the caller's own cancel
                raise
            task.uncancel()
        except MCPError as exc:
            if entry.lost:  # the upstream did not know the session: it ran nothing
                self._close(entry)
                raise Broken(str(exc), resend=True) from exc
            if exc.code != CONNECTION_CLOSED:
                raise  # the upstream's own answer
        except (OSError, TimeoutError) as exc:
            self._close(entry)
            raise Broken(upstream._describe(exc), resend=_connect_failure(exc)) from exc
        except Exception as exc:  # the SDK's HTTP client's errors (httpx, …)
            if not type(exc).__module__.startswith(("httpx", "httpcore")):
                raise
            self._close(entry)
            raise Broken(upstream._describe(exc), resend=_connect_failure(exc)) from exc
        finally:
            entry.in_flight.discard(task)
            entry.used = time.monotonic()
        # Here when the session died under the call: the transport closed, or the session's
        # task cancelled the call. Its task's error says why.
        self._close(entry)
        if entry.task is not None:
            await asyncio.wait([entry.task], timeout=1)
        lost = entry.error or ConnectionError("the session closed")
        raise Broken(
            f"the connection to the upstream was lost: {upstream._describe(lost)}",
            resend=_connect_failure(lost),
        )

    async def call(
        self, server: Any, headers: dict[str, str] | None, tool: str, arguments: dict[str, Any]
    ) -> Any:
        """The upstream's CallToolResult (MCPError as the upstream sent it; Broken when the
        session failed under the call)."""
        for attempt in (1, 2):
            try:
                entry = await self._session(server, headers)
                return await self._call_once(entry, tool, arguments)
            except Broken as exc:
                if attempt == 2 or not exc.resend:
                    raise
        raise AssertionError("unreachable")

    async def close(self) -> None:
        entries = list(self.entries.values())
        self.entries.clear()
        for entry in entries:
            entry.closing.set()
        tasks = [e.task for e in entries if e.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=5)
