"""`manage.py mcp_gateway [--host H] [--port P]`: serves the MCP gateway (Streamable HTTP at
/mcp) with uvicorn until stopped."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve the MCP gateway (Streamable HTTP at /mcp) with uvicorn."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8100)

    def handle(self, *args: Any, **opts: Any) -> None:
        import sys

        import uvicorn

        sys.setswitchinterval(0.001)

        from gateway.server import build_app

        uvicorn.run(
            build_app(),
            host=opts["host"],
            port=opts["port"],
            log_level="warning",
            loop="uvloop",
            http="httptools",
        )
