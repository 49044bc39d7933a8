"""The MCP gateway as an ASGI application: `uvicorn gateway.asgi:app` (or `manage.py
mcp_gateway`), runnable in the customer's own network beside its MCP servers."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
django.setup()

from gateway.server import build_app  # noqa: E402

app = build_app()
