"""A small MCP server for the tests, built with the SDK's MCPServer and served over Streamable
HTTP on 127.0.0.1 (uvicorn). TOOLS=v2 serves a changed tool set: echo's description changes,
`add` is gone and `search` is new. TOOLS=asks adds `confirm` to v1: it asks the client a
question (elicitation) in the middle of the call, on the call's own event stream. Every
request's Authorization header is appended to RECORD, so a test can see which credential
reached the upstream."""

from __future__ import annotations

import os
import sys

from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel

VERSION = os.environ.get("TOOLS", "v1")
server = MCPServer("upstream-test")


V1 = VERSION != "v2"  # "asks" is v1 and one tool more


@server.tool(description="Echo the text back." if V1 else "Echo the text, shouted.")
def echo(text: str) -> str:
    return text if V1 else text.upper()


class Go(BaseModel):
    go: bool


if V1:

    @server.tool(description="Add two numbers.")
    def add(a: int, b: int) -> int:
        return a + b

else:

    @server.tool(description="Search the knowledge base.")
    def search(query: str, limit: int = 5) -> list[str]:
        return [f"{query} #{i}" for i in range(limit)]


if VERSION == "asks":

    @server.tool(description="Ask the user to confirm, in the middle of the call.")
    async def confirm(ctx: Context) -> str:
        try:  # a request to the client on the call's own event stream
            answer = await ctx.elicit("Go ahead?", Go)
        except Exception as exc:
            return f"not asked: {exc}"
        return f"answered: {answer.action}"


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

    tls = {}
    if os.environ.get("TLS_CERT"):  # HTTPS with this certificate and key
        tls = {"ssl_certfile": os.environ["TLS_CERT"], "ssl_keyfile": os.environ["TLS_KEY"]}
    uvicorn.run(app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", **tls)
