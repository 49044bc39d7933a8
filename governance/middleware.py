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
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(raw)
        except ValueError:
            return self.refuse(request, 400, "bad_request", "Content-Length is not a number.")
        if length > limit:
            return self.refuse(
                request, 413, "too_large", f"The body is {length} bytes; the limit is {limit}."
            )
        return self.get_response(request)

    @staticmethod
    def refuse(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
        """In the error shape of the door that was knocked on: SCIM or the REST API."""
        if request.path.startswith("/scim/"):
            from scim.responses import scim_error

            return scim_error(status, message, "invalidSyntax" if status == 400 else None)
        return JsonResponse({"error": {"code": code, "message": message}}, status=status)
