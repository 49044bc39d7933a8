"""A small MCP server for the tests, built with the SDK's MCPServer and served over Streamable
HTTP on 127.0.0.1 (uvicorn). TOOLS=v2 serves a changed tool set: echo's description changes,
`add` is gone and `search` is new. Every request's Authorization header is appended to
RECORD, so a test can see which credential reached the upstream."""

from __future__ import annotations

import os
import sys

from mcp.server.mcpserver import MCPServer

VERSION = os.environ.get("TOOLS", "v1")
server = MCPServer("upstream-test")


@server.tool(description="Echo the text back." if VERSION == "v1" else "Echo the text, shouted.")
def echo(text: str) -> str:
    return text if VERSION == "v1" else text.upper()


if VERSION == "v1":

    @server.tool(description="Add two numbers.")
    def add(a: int, b: int) -> int:
        return a + b

else:

    @server.tool(description="Search the knowledge base.")
    def search(query: str, limit: int = 5) -> list[str]:
        return [f"{query} #{i}" for i in range(limit)]


def app():
    inner = server.streamable_http_app()
    record = os.environ.get("RECORD")

    async def recording(scope, receive, send):
        if record and scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            with open(record, "a") as f:
                f.write((headers.get(b"authorization") or b"-").decode() + "\n")
        await inner(scope, receive, send)

    return recording


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
