from __future__ import annotations

import json
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError

from core.doors import json_error, machine_error
from core.input import storable, text_problem, unstorable_text


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


class UnstorableTextMiddleware:
    """One input-cleaning rule for every door (dashboard forms, the REST API, SCIM, SSO
    settings): text holding a NUL character or an unpaired surrogate is refused with 400 before
    any view runs, wherever it is: the URL path, the query string, a form field, or any string
    (or key) of a JSON body. PostgreSQL text cannot hold U+0000 and nothing can encode a lone
    surrogate, so such a value would otherwise fail deep inside a query, a log or a template.
    (Management commands apply the same rule to their arguments: core.management.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        found = self.problem(request)
        if found is not None:
            where, what = found
            return refuse(
                request,
                400,
                "bad_request",
                f"{where} contains {what}; send valid Unicode text without NUL characters.",
                "invalidValue",
            )
        return self.get_response(request)

    @staticmethod
    def problem(request: HttpRequest) -> tuple[str, str] | None:
        what = text_problem(request.path)
        if what:
            return "The URL path", what
        raw = request.META.get("QUERY_STRING", "")
        if "%" in raw or "\x00" in raw:
            for key, values in request.GET.lists():
                for part in (key, *values):
                    what = text_problem(part)
                    if what:
                        return f"The query parameter {_shown(key)}", what
        content_type = request.content_type or ""
        if request.method in ("GET", "HEAD", "OPTIONS", "DELETE") and not request.META.get(
            "CONTENT_LENGTH"
        ):
            return None
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            try:
                fields = list(request.POST.lists())
            except MultiPartParserError:
                return "The form body", "a malformed multipart structure"
            for key, values in fields:
                for part in (key, *values):
                    what = text_problem(part)
                    if what:
                        return f"The form field {_shown(key)}", what
        elif "json" in content_type:
            try:
                data = json.loads(request.body)
            except (ValueError, RecursionError):
                return None  # malformed JSON: the door explains that in its own words
            found = unstorable_text(data)
            if found:
                return f"The JSON body at {_shown(found[0])}", found[1]
        return None


def _shown(name: str) -> str:
    """A name for an error message, itself made printable."""
    return repr(storable(name)[:100])
