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

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DATABASE", "governance_bench_gw")

from bench.mcp_clients import (  # noqa: E402
    CLIENTS,
    MODERN,
    Client,
    process_cpu,
    throughput,
    throughput_async,
    wait_for,
)
from bench.scim import ENV, PG, free_port, fresh_database, machine_loop_seconds, pct  # noqa: E402

DB = os.environ["BENCH_DATABASE"]
PAIRS = int(os.environ.get("BENCH_PAIRS", "2000"))
EVERYTHING = (
    ROOT / "tests/oidc_provider/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
)
ENV["DATABASE_URL"] = f"{PG}/{DB}"
os.environ["DATABASE_URL"] = ENV["DATABASE_URL"]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
os.environ["GOVERNANCE_MCP_ALLOW_HTTP_UPSTREAMS"] = "1"
os.environ["GOVERNANCE_MCP_ALLOW_PRIVATE_UPSTREAMS"] = "1"


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


# The two ways a client talks to the gateway: the SDK's own `Client` (mcp 2.x, mode "auto")
# speaks 2026-07-28, one self-contained POST per request; clients of the initialize handshake
# (the TypeScript SDK, mcp 1.x, ClientSession) speak 2025-11-25, stateless at the gateway.
PROTOCOLS = {MODERN: "2026-07-28 (per-request)", "2025-11-25": "2025-11-25 (handshake)"}
if os.environ.get("BENCH_PROTOCOL"):
    PROTOCOLS = {p: PROTOCOLS[p] for p in os.environ["BENCH_PROTOCOL"].split(",")}


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
