"""`manage.py mcp_trace_writer [--spool DIR] [--interval SECONDS]`: writes the gateway's spooled
traces to the database until stopped (SIGTERM or SIGINT: one last pass, then exit).
`manage.py mcp_gateway` starts one beside the gateway; run it yourself for a gateway served
another way with `writer="process"`."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Write the MCP gateway's spooled traces to the database until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--spool", default=None, help="the spool directory")
        parser.add_argument("--interval", type=float, default=1.0)
        parser.add_argument(
            "--parent", type=int, default=None, help="stop (after a last pass) when it is gone"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        from gateway.traces import drain

        directory = Path(opts["spool"] or settings.MCP_TRACE_SPOOL_DIR)
        directory.mkdir(parents=True, exist_ok=True)
        stopped = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stopped.set())
        drain(directory, opts["interval"], stopped, opts["parent"])
