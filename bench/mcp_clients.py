"""The Streamable HTTP clients of `make bench-gateway` (bench/gateway.py): a small blocking
client (http.client, a kept connection) that speaks either protocol era, the load generators
(CLIENTS threads, or CLIENTS connections from one event loop, for BENCH_SECONDS) and a
process's CPU time."""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "8"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))


def wait_for(port: int, path: str = "/") -> None:
    for _ in range(600):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", path)
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing answers on port {port}")


MODERN = "2026-07-28"
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


class Client:
    """A Streamable HTTP MCP client reduced to what the benchmark sends: JSON-RPC POSTs on a
    kept connection, answers read as JSON or as one SSE event."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            **headers,
        }
        self.ids = 0

    def post(self, method: str, params: dict | None = None, notify: bool = False) -> dict:
        body: dict = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            body["params"] = params
        if not notify:
            self.ids += 1
            body["id"] = self.ids
        headers = self.headers
        if headers.get("MCP-Protocol-Version") == MODERN:  # 2026-07-28 routing headers
            headers = {**headers, "Mcp-Method": method}
            if method == "tools/call":
                headers["Mcp-Name"] = params["name"]
        self.conn.request("POST", "/mcp", body=json.dumps(body), headers=headers)
        response = self.conn.getresponse()
        data = response.read().decode()
        if response.getheader("mcp-session-id"):
            self.headers["Mcp-Session-Id"] = response.getheader("mcp-session-id")
        if notify:
            return {}
        if response.getheader("content-type", "").startswith("text/event-stream"):
            data = next(  # the answer's event (a priming event has no data)
                line[5:].strip()
                for line in data.splitlines()
                if line.startswith("data:") and line[5:].strip()
            )
        answer = json.loads(data)
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer["result"]

    def initialize(self) -> Client:
        """The same protocol version as the gateway's leg to the upstream asks for (the SDK's
        latest): server-everything answers 2025-11-25 and then primes every answer's event
        stream, which costs it about 1 ms a call over 2025-06-18."""
        from mcp.types import LATEST_PROTOCOL_VERSION

        result = self.post(
            "initialize",
            {
                "protocolVersion": LATEST_PROTOCOL_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "bench", "version": "1"},
            },
        )
        self.headers["MCP-Protocol-Version"] = result["protocolVersion"]
        self.post("notifications/initialized", notify=True)
        return self

    def call(self, tool: str, arguments: dict) -> float:
        t0 = time.perf_counter()
        params = {"name": tool, "arguments": arguments}
        if self.headers.get("MCP-Protocol-Version") == MODERN:
            params["_meta"] = MODERN_META
        result = self.post("tools/call", params)
        ms = (time.perf_counter() - t0) * 1000
        if result.get("isError"):
            raise RuntimeError(result)
        return ms


async def _exchange(reader: Any, writer: Any, request: bytes) -> tuple[int, bytes]:
    """One HTTP/1.1 request on a kept connection: (status, body), chunked or sized."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:] if h)}
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"]))
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, body
        body += chunk[:-2]


def throughput_async(port: int, headers: dict[str, str], tool: str) -> tuple[float, int]:
    """CLIENTS concurrent connections from one event loop (a lighter load generator than
    threads: on two cores the clients' CPU is taken from the gateway's)."""
    import asyncio

    done = [0] * CLIENTS
    errors: list[str] = []

    async def client(i: int, stop: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        n = 0
        modern = headers.get("MCP-Protocol-Version") == MODERN
        sent = {**headers, "Mcp-Method": "tools/call", "Mcp-Name": tool} if modern else headers
        head = "".join(f"{k}: {v}\r\n" for k, v in sent.items())
        while time.perf_counter() < stop:
            n += 1
            params: dict[str, Any] = {"name": tool, "arguments": {"message": f"a{i}"}}
            if modern:
                params["_meta"] = MODERN_META
            body = json.dumps(
                {"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": params}
            ).encode()
            request = (
                f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{head}"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            status, answer = await _exchange(reader, writer, request)
            if status != 200 or b'"error"' in answer or b'"isError":true' in answer:
                errors.append(f"{status} {answer[:200]!r}")
            else:
                done[i] += 1
        writer.close()

    async def run() -> float:
        stop = time.perf_counter() + SECONDS
        t0 = time.perf_counter()
        await asyncio.gather(*(client(i, stop) for i in range(CLIENTS)))
        return time.perf_counter() - t0

    seconds = asyncio.run(run())
    if errors:
        print("errors:", len(errors), errors[:3])
    return sum(done) / seconds, sum(done)


def process_cpu(pid: int) -> float:
    """CPU seconds the process has used (user and system, all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def throughput(make: callable, tool: str) -> tuple[float, int]:
    done = [0] * CLIENTS
    errors: list[str] = []
    stop = time.perf_counter() + SECONDS

    def run(i: int) -> None:
        client = make()
        while time.perf_counter() < stop:
            try:
                client.call(tool, {"message": f"t{i}"})
                done[i] += 1
            except Exception as exc:
                errors.append(str(exc)[:200])

    t0 = time.perf_counter()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        print("errors:", len(errors), errors[:3])
    return sum(done) / (time.perf_counter() - t0), sum(done)
