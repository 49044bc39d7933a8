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

    def start(self, tools: str = "v1") -> Upstream:
        self.stop()
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "upstream_server.py"), str(self.port)],
            env={**os.environ, "TOOLS": tools, "RECORD": str(self.record)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
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
