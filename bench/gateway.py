"""The MCP gateway's overhead over calling the upstream directly: `make bench-gateway`
(`.venv/bin/python bench/gateway.py`).

A fresh PostgreSQL database `governance_bench_gw`: one organization, a member whose role allows
Jira holding a gateway token, and one MCP server of the Jira integration: the npm reference
server `@modelcontextprotocol/server-everything` over Streamable HTTP on loopback (Node; its
`echo` tool). The gateway is the real process (`manage.py mcp_gateway`, uvicorn, one process).
The client is the same small Streamable HTTP client for both paths (http.client, a kept
connection): the direct path holds an initialized upstream session, the gateway path sends the
member's token (the gateway is stateless to its clients).

1. Latency, side by side: one client alternates a direct `tools/call` and one through the
   gateway; printed are both paths' p50 / p95 and the overhead (gateway minus direct) at p50 and
   p95, and the percentiles of the per-pair differences.
2. Throughput: 8 concurrent clients through the gateway for BENCH_SECONDS, then 8 directly.
3. Every call through the gateway is traced: the traces in the database after the run equal the
   calls made.
Targets (issue 17): overhead p50 < 2 ms and p95 < 5 ms; >= 500 calls/s with 8 clients.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DATABASE", "governance_bench_gw")

from bench.scim import ENV, PG, free_port, fresh_database, machine_loop_seconds, pct  # noqa: E402

DB = os.environ["BENCH_DATABASE"]
PAIRS = int(os.environ.get("BENCH_PAIRS", "2000"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "8"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
EVERYTHING = (
    ROOT / "tests/oidc_provider/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
)
ENV["DATABASE_URL"] = f"{PG}/{DB}"
os.environ["DATABASE_URL"] = ENV["DATABASE_URL"]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
os.environ["GOVERNANCE_MCP_ALLOW_HTTP_UPSTREAMS"] = "1"
os.environ["GOVERNANCE_MCP_ALLOW_PRIVATE_UPSTREAMS"] = "1"


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


def seed(upstream_url: str) -> str:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from gateway.services import ServerSpec, server_create, tools_refresh
    from gateway.tokens import mcp_token_create
    from orgs.services.assignments import role_assign
    from orgs.services.members import membership_add
    from orgs.services.orgs import org_create
    from orgs.services.roles import custom_role_create

    org = org_create(slug="bench", name="Bench", actor=None)
    admin = membership_add(
        org=org, email="admin@bench.example", role="admin", full_name="", actor=None
    ).membership
    role = custom_role_create(
        org=org, name="Jira users", permissions=["integrations.use.jira"], actor=None
    )
    member = membership_add(
        org=org, email="dev@bench.example", role="member", full_name="", actor=None
    ).membership
    role_assign(membership=member, role=role, actor=None)
    server = server_create(
        org=org,
        actor=admin.user,
        spec=ServerSpec(name="Jira", integration="jira", transport="http", url=upstream_url),
    )
    tools_refresh(server=server)
    _, token = mcp_token_create(membership=member, actor=None)
    return token


MODERN = "2026-07-28"
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}
# The two ways a client talks to the gateway: the SDK's own `Client` (mcp 2.x, mode "auto")
# speaks 2026-07-28, one self-contained POST per request; clients of the initialize handshake
# (the TypeScript SDK, mcp 1.x, ClientSession) speak 2025-11-25, stateless at the gateway.
PROTOCOLS = {MODERN: "2026-07-28 (per-request)", "2025-11-25": "2025-11-25 (handshake)"}
if os.environ.get("BENCH_PROTOCOL"):
    PROTOCOLS = {p: PROTOCOLS[p] for p in os.environ["BENCH_PROTOCOL"].split(",")}


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


def main() -> None:
    if not EVERYTHING.exists():
        raise SystemExit("server-everything is not installed: run `make oidc-provider` first.")
    fresh_database()
    up_port, gw_port = free_port(), free_port()
    upstream = subprocess.Popen(
        ["node", str(EVERYTHING), "streamableHttp"],
        env={**os.environ, "PORT": str(up_port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    gateway = None
    missed: list[str] = []
    spool = tempfile.mkdtemp(prefix="bench-gw-spool-")
    try:
        wait_for(up_port)
        os.environ["GOVERNANCE_MCP_GATEWAY_URL"] = f"http://127.0.0.1:{gw_port}"  # the audience
        token = seed(f"http://127.0.0.1:{up_port}/mcp")
        gateway = subprocess.Popen(
            [str(ROOT / ".venv/bin/python"), "manage.py", "mcp_gateway", "--port", str(gw_port)],
            cwd=ROOT,
            env={
                **os.environ,
                **ENV,
                "GOVERNANCE_MCP_TRACE_SPOOL_DIR": spool,
                "GOVERNANCE_MCP_GATEWAY_URL": f"http://127.0.0.1:{gw_port}",
            },
        )
        wait_for(gw_port, "/healthz")
        profiler = None
        if os.environ.get("BENCH_PROFILE"):  # py-spy's collapsed stacks of the gateway
            profiler = subprocess.Popen(
                [
                    "py-spy",
                    "record",
                    "-r",
                    "250",
                    "--gil",
                    "--format",
                    "raw",
                    "-o",
                    os.environ["BENCH_PROFILE"],
                    "--pid",
                    str(gateway.pid),
                ]
            )
            time.sleep(2)

        def direct() -> Client:
            return Client(up_port, {}).initialize()

        def through(protocol: str) -> Any:
            def make() -> Client:
                client = Client(gw_port, {"Authorization": f"Bearer {token}"})
                if protocol == MODERN:  # no handshake: the version rides on every request
                    client.headers["MCP-Protocol-Version"] = MODERN
                    return client
                return client.initialize()  # answered 2025-11-25; stateless afterwards

            return make

        base = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        session = direct()
        upstream_headers = {
            **base,
            "Mcp-Session-Id": session.headers["Mcp-Session-Id"],
            "MCP-Protocol-Version": session.headers["MCP-Protocol-Version"],
        }
        calls = 0

        def measure(protocol: str) -> dict[str, Any]:
            nonlocal calls
            d, g = direct(), through(protocol)()
            for i in range(200):  # warm-up: connections, worker threads, the upstream session
                d.call("echo", {"message": f"w{i}"})
                g.call("jira__echo", {"message": f"w{i}"})
            direct_ms, gateway_ms = [], []
            for i in range(PAIRS):
                direct_ms.append(d.call("echo", {"message": f"p{i}"}))
                gateway_ms.append(g.call("jira__echo", {"message": f"p{i}"}))
            diffs = [b - a for a, b in zip(direct_ms, gateway_ms, strict=True)]
            cpu0 = process_cpu(gateway.pid)
            t0 = time.perf_counter()
            gw_rate, gw_calls = throughput(through(protocol), "jira__echo")
            busy = (process_cpu(gateway.pid) - cpu0) / (time.perf_counter() - t0)
            # The same 8 clients from one event loop: the load generator's CPU is the
            # gateway's competitor on two cores.
            headers = {**base, "Authorization": f"Bearer {token}"}
            if protocol == MODERN:
                headers["MCP-Protocol-Version"] = MODERN
            else:
                headers["MCP-Protocol-Version"] = g.headers["MCP-Protocol-Version"]
            cpu0 = process_cpu(gateway.pid)
            t0 = time.perf_counter()
            async_rate, async_calls = throughput_async(gw_port, headers, "jira__echo")
            async_busy = (process_cpu(gateway.pid) - cpu0) / (time.perf_counter() - t0)
            calls += 200 + PAIRS + gw_calls + async_calls
            return {
                "protocol": g.headers.get("MCP-Protocol-Version"),
                "direct_p50_ms": round(statistics.median(direct_ms), 3),
                "direct_p95_ms": round(pct(direct_ms, 95), 3),
                "gateway_p50_ms": round(statistics.median(gateway_ms), 3),
                "gateway_p95_ms": round(pct(gateway_ms, 95), 3),
                "overhead_p50_ms": round(
                    statistics.median(gateway_ms) - statistics.median(direct_ms), 3
                ),
                "overhead_p95_ms": round(pct(gateway_ms, 95) - pct(direct_ms, 95), 3),
                "paired_difference_p50_ms": round(statistics.median(diffs), 3),
                "paired_difference_p95_ms": round(pct(diffs, 95), 3),
                "gateway_calls_per_s": round(gw_rate),
                "gateway_cpu_share_of_one_core": round(busy, 2),
                "gateway_cpu_ms_per_call": round(busy * 1000 / gw_rate, 3),
                "gateway_calls_per_s_one_loop_clients": round(async_rate),
                "gateway_cpu_ms_per_call_one_loop_clients": round(
                    async_busy * 1000 / async_rate, 3
                ),
            }

        results = {}
        for protocol in PROTOCOLS:
            results[protocol] = measure(protocol)
            if profiler is not None:
                import signal

                profiler.send_signal(signal.SIGINT)
                profiler.wait(timeout=30)
                profiler = None
        direct_rate, _ = throughput(direct, "echo")
        direct_async_rate, _ = throughput_async(up_port, upstream_headers, "echo")

        from gateway.models import ToolTrace

        for _ in range(60):
            stored = ToolTrace.objects.count()
            if stored >= calls:
                break
            time.sleep(0.5)
        figures = {
            "machine_loop_s": machine_loop_seconds(),
            "pairs": PAIRS,
            "clients": CLIENTS,
            "direct_calls_per_s": round(direct_rate),
            "direct_calls_per_s_one_loop_clients": round(direct_async_rate),
            **{f"gateway {label}": results[p] for p, label in PROTOCOLS.items() if p in results},
            "gateway_calls": calls,
            "traces_stored": stored,
        }
        missed = [
            f"{PROTOCOLS[p]}: {name}"
            for p, r in results.items()
            for name, ok in (
                ("overhead p50 < 2 ms", r["overhead_p50_ms"] < 2),
                ("overhead p95 < 5 ms", r["overhead_p95_ms"] < 5),
                (
                    "500 calls/s",
                    max(r["gateway_calls_per_s"], r["gateway_calls_per_s_one_loop_clients"]) >= 500,
                ),
            )
            if not ok
        ]
        if stored != calls:
            missed.append("every call traced once")
        figures["targets_missed"] = missed
        print(json.dumps(figures, indent=2))
    finally:
        if gateway is not None:
            gateway.terminate()
            gateway.wait(timeout=15)
        upstream.terminate()
        upstream.wait(timeout=10)
    if missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
