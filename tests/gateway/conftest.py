"""MCP servers for the gateway tests: the small SDK server above over Streamable HTTP (started
per test, so it can be stopped or swapped), and the npm reference server `server-everything`
over stdio."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.services import ServerSpec, server_create, tools_refresh
from gateway.tokens import mcp_token_create
from orgs.services.assignments import role_assign
from orgs.services.roles import custom_role_create

HERE = Path(__file__).resolve().parent
EVERYTHING = (
    HERE.parent
    / "oidc_provider"
    / "node_modules"
    / "@modelcontextprotocol"
    / "server-everything"
    / "dist"
    / "index.js"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Upstream:
    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.record = tmp_path / "authorization.txt"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def start(self, tools: str = "v1", tls: tuple[str, str] | None = None) -> Upstream:
        """`tls`: (certificate, key) files: HTTPS (then ready is when the port accepts)."""
        self.stop()
        env = {**os.environ, "TOOLS": tools, "RECORD": str(self.record)}
        if tls:
            env.update(TLS_CERT=tls[0], TLS_KEY=tls[1])
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "upstream_server.py"), str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                if tls:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return self
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", "/mcp")
                conn.getresponse()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the test MCP server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=5)
            self.process = None


@pytest.fixture
def upstream(tmp_path, settings):
    settings.MCP_ALLOW_HTTP_UPSTREAMS = True  # the test server speaks plain HTTP on loopback
    settings.MCP_ALLOW_PRIVATE_UPSTREAMS = True
    server = Upstream(tmp_path)
    yield server.start()
    server.stop()


@pytest.fixture
def everything(settings):
    if not EVERYTHING.exists():
        raise RuntimeError("server-everything is not installed: `make test` runs `npm ci`.")
    settings.MCP_STDIO_SERVERS = {
        "everything": {"command": "node", "args": [str(EVERYTHING), "stdio"]}
    }
    return "everything"


@pytest.fixture
def everything_http(settings):
    """server-everything over Streamable HTTP on a free loopback port; its /mcp URL."""
    if not EVERYTHING.exists():
        raise RuntimeError("server-everything is not installed: `make test` runs `npm ci`.")
    settings.MCP_ALLOW_HTTP_UPSTREAMS = True
    settings.MCP_ALLOW_PRIVATE_UPSTREAMS = True
    port = free_port()
    process = subprocess.Popen(
        ["node", str(EVERYTHING), "streamableHttp"],
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=10)


class Gateway:
    """The gateway app served by uvicorn in a thread of this process (its ORM calls run in
    worker threads with their own connections: the tests using it commit their data)."""

    def __init__(self, spool_dir: Path) -> None:
        import threading

        import uvicorn

        from gateway.server import build_app

        self.port = free_port()
        self.app = build_app(str(spool_dir), flush_interval=0.2)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        for _ in range(100):
            if self.server.started:
                break
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.app.flusher.stop()
        # Its worker threads keep their database sessions open (as they should in production);
        # end them so the test database can be flushed and dropped.
        from django.db import connection

        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend'"
                )


@pytest.fixture
def gateway(settings, tmp_path):
    served = Gateway(tmp_path / "spool")
    settings.MCP_GATEWAY_URL = served.url
    yield served
    served.stop()


def mcp_call(url: str, headers: dict, method: str, *args):
    """An MCP client (the SDK's) through the gateway: `list_tools` or `call_tool`."""
    import httpx2
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def run():
        async with (
            httpx2.AsyncClient(headers=headers, timeout=20) as http,
            streamable_http_client(f"{url}/mcp", http_client=http) as streams,
            ClientSession(streams[0], streams[1]) as client,
        ):
            await client.initialize()
            return await getattr(client, method)(*args)

    from gateway.upstream import run_sync

    try:
        return run_sync(run)
    except BaseExceptionGroup as group:  # the SDK's task groups wrap what the server said
        leaf: BaseException = group
        while isinstance(leaf, BaseExceptionGroup):
            leaf = leaf.exceptions[0]
        raise leaf from None


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def setup(org, admin, make_member, upstream):
    server = server_create(
        org=org,
        actor=admin.user,
        spec=ServerSpec(name="Jira", integration="jira", transport="http", url=upstream.url),
    )
    tools_refresh(server=server)
    role = custom_role_create(
        org=org, name="Jira users", permissions=["integrations.use.jira"], actor=None
    )
    member = make_member(org, "dev@acme.example")
    role_assign(membership=member, role=role, actor=None)
    _, key = mcp_token_create(membership=member, actor=None)
    outsider = make_member(org, "outsider@acme.example")
    _, outsider_key = mcp_token_create(membership=outsider, actor=None)
    return {
        "member": member,
        "role": role,
        "key": key,
        "outsider_key": outsider_key,
        "upstream": upstream,
    }


def _auth(key):
    return {"Authorization": f"Bearer {key}"}
