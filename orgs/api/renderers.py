"""Renderers for the API's non-JSON answers. DRF reads `?format=` as the renderer to use and
answers 404 when no renderer has that format, so a view that streams CSV or JSON Lines names
these: the view builds the body itself (text, or a streaming response), and an error's body
is still JSON."""

from __future__ import annotations

import json
from typing import Any

from rest_framework.renderers import BaseRenderer


class _Text(BaseRenderer):
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> Any:
        if isinstance(data, str):
            return data.encode()
        return json.dumps(data).encode()  # an error's body, said as JSON


class CsvRenderer(_Text):
    media_type = "text/csv"
    format = "csv"


class JsonLinesRenderer(_Text):
    media_type = "application/x-ndjson"
    format = "jsonl"
