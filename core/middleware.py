from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from core.doors import json_error, machine_error


def refuse(
    request: HttpRequest, status: int, code: str, message: str, scim_type: str | None = None
) -> HttpResponse:
    """In the error shape of the door that was knocked on (SCIM, the REST API), else JSON."""
    return machine_error(request, status, code, message, scim_type) or json_error(
        status, code, message
    )


class BodySizeLimitMiddleware:
    """Refuse bodies over GOVERNANCE_MAX_BODY_BYTES before anything reads them (DRF streams
    JSON past Django's own DATA_UPLOAD_MAX_MEMORY_SIZE check)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw = request.META.get("CONTENT_LENGTH") or "0"
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(raw)
        except ValueError:
            return refuse(request, 400, "bad_request", "Content-Length is not a number.")
        if length > limit:
            return refuse(
                request, 413, "too_large", f"The body is {length} bytes; the limit is {limit}."
            )
        return self.get_response(request)


class NulCharacterMiddleware:
    """Refuse a query string holding U+0000: PostgreSQL text cannot store or compare it, so a
    search or filter parameter carrying one would fail in the database. Forms and the REST API's
    serializers refuse it in bodies themselves; SCIM checks its JSON bodies."""

    MESSAGE = "A query parameter contains a NUL character (%00); remove it and try again."

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw = request.META.get("QUERY_STRING", "")
        if ("%00" in raw or "\x00" in raw) and any(
            "\x00" in part for key, values in request.GET.lists() for part in (key, *values)
        ):
            return refuse(request, 400, "bad_request", self.MESSAGE, "invalidValue")
        return self.get_response(request)
