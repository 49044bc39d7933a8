"""Error bodies for machine clients, in the shape of the door they knocked on.

The kernel cannot know the SCIM error schema (SCIM sits layers above it), so the project's
settings name one error builder per path prefix (`GOVERNANCE_ERROR_SHAPES`); the kernel's
middlewares and the project's 403/404/500 handlers answer through it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.module_loading import import_string

ErrorShape = Callable[[int, str, str, "str | None"], HttpResponse]


def json_error(status: int, code: str, message: str, scim_type: str | None = None) -> HttpResponse:
    """The REST API's error body: {"error": {"code": ..., "message": ...}}."""
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


@cache
def _shapes() -> tuple[tuple[str, ErrorShape], ...]:
    return tuple(
        (prefix, import_string(path)) for prefix, path in settings.GOVERNANCE_ERROR_SHAPES.items()
    )


def machine_error(
    request: HttpRequest, status: int, code: str, message: str, scim_type: str | None = None
) -> HttpResponse | None:
    """The error in the shape of the machine door the request came through; None for pages."""
    for prefix, shape in _shapes():
        if request.path.startswith(prefix):
            return shape(status, code, message, scim_type)
    return None
