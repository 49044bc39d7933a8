"""One error shape for the REST API: {"error": {"code", "message", "field"?, "fields"?}}."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_handler

from core import exceptions as domain

STATUS_OF = {
    domain.NotFound: status.HTTP_404_NOT_FOUND,
    domain.Conflict: status.HTTP_409_CONFLICT,
    domain.PermissionDenied: status.HTTP_403_FORBIDDEN,
    domain.ServiceError: status.HTTP_400_BAD_REQUEST,
}


def _flatten(detail: Any) -> str:
    if isinstance(detail, list):
        return " ".join(_flatten(d) for d in detail)
    if isinstance(detail, dict):
        return " ".join(f"{k}: {_flatten(v)}" for k, v in detail.items())
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, domain.ServiceError):
        code = next(s for cls, s in STATUS_OF.items() if isinstance(exc, cls))
        body = {"code": exc.code, "message": exc.message}
        if exc.field:
            body["field"] = exc.field
        if getattr(exc, "reasons", None):
            body["reasons"] = exc.reasons
        return Response({"error": body}, status=code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found in this organization.")
    response = drf_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    body: dict[str, Any] = {
        "code": getattr(exc, "default_code", "error"),
        "message": _flatten(detail.get("detail", detail) if isinstance(detail, dict) else detail),
    }
    if isinstance(exc, exceptions.ValidationError) and isinstance(detail, dict):
        body["code"] = "invalid"
        body["fields"] = detail
        body["message"] = "The request has invalid fields: " + ", ".join(detail) + "."
    response.data = {"error": body}
    return response
