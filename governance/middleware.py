from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


class BodySizeLimitMiddleware:
    """Refuse bodies over GOVERNANCE_MAX_BODY_BYTES before anything reads them (DRF streams
    JSON past Django's own DATA_UPLOAD_MAX_MEMORY_SIZE check)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw)
        except ValueError:
            return JsonResponse(
                {"error": {"code": "bad_request", "message": "Content-Length is not a number."}},
                status=400,
            )
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if length > limit:
            return JsonResponse(
                {
                    "error": {
                        "code": "too_large",
                        "message": f"The body is {length} bytes; the limit is {limit}.",
                    }
                },
                status=413,
            )
        return self.get_response(request)
