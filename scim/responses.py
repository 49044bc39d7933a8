"""SCIM wire format: application/scim+json bodies and the RFC 7644 §3.12 error schema."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse

from scim.urns import ERROR_URN, LIST_URN

SCIM_CONTENT_TYPE = "application/scim+json"


def scim_response(
    body: Any,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    return HttpResponse(
        json.dumps(body, default=str),
        status=status,
        content_type=SCIM_CONTENT_TYPE,
        headers=headers,
    )


def scim_error(
    status: int, detail: str, scim_type: str | None = None, headers: dict[str, str] | None = None
) -> HttpResponse:
    body: dict[str, Any] = {"schemas": [ERROR_URN], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return scim_response(body, status=status, headers=headers)


def door_error(status: int, code: str, message: str, scim_type: str | None = None) -> HttpResponse:
    """The SCIM door's shape for refusals made before a SCIM view runs (core.doors)."""
    if scim_type is None and status == 400:
        scim_type = "invalidSyntax"
    return scim_error(status, message, scim_type)


def list_response(resources: list[dict[str, Any]], *, total: int, start: int) -> dict[str, Any]:
    return {
        "schemas": [LIST_URN],
        "totalResults": total,
        "itemsPerPage": len(resources),
        "startIndex": start,
        "Resources": resources,
    }
