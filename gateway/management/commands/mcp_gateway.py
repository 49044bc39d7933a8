"""`manage.py mcp_gateway [--host H] [--port P] [--no-writer]`: serves the MCP gateway
(Streamable HTTP at /mcp) with uvicorn until stopped, with `manage.py mcp_trace_writer` beside
it as a process of its own (the traces' database writes never hold the gateway's interpreter;
--no-writer writes them from a thread of the gateway instead)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve the MCP gateway (Streamable HTTP at /mcp) with uvicorn."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument(
            "--no-writer",
            action="store_true",
            help="write traces from a thread of the gateway, not a writer process",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        import uvicorn

        from gateway.server import build_app

        # The event loop hands the interpreter to the database threads within 1 ms, not 5 ms:
        # a call waits on one (measured: p95 overhead 5.1 -> 3.9 ms).
        sys.setswitchinterval(0.001)
        writer = None
        if not opts["no_writer"]:
            writer = subprocess.Popen(  # noqa: S603 (this interpreter, this project's command)
                [
                    sys.executable,
                    sys.argv[0],
                    "mcp_trace_writer",
                    "--spool",
                    str(settings.MCP_TRACE_SPOOL_DIR),
                    "--parent",
                    str(os.getpid()),  # uvicorn ends this process by re-raising SIGTERM
                ]
            )
        try:
            uvicorn.run(
                build_app(writer="thread" if writer is None else "process"),
                host=opts["host"],
                port=opts["port"],
                log_level="warning",
                loop="uvloop",
                http="httptools",
            )
        finally:
            if writer is not None:
                writer.terminate()  # its last pass writes what the gateway spooled last
                writer.wait(timeout=30)
