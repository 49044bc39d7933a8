"""What every SCIM 2.0 endpoint under /scim/v2/ shares. An interface: translate, call services,
translate back.

Built on django-scim2's SCIMView (its JSON body loading and schema documents); the project owns
authentication (per-org bearer tokens), error bodies, rate limiting and everything below them.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db.models import F, Value
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import View
from django_scim.views import SCIMView

from core import tokens
from core.exceptions import Conflict, NotFound, PermissionDenied, ServiceError
from core.input import ascii_digits
from scim import selectors
from scim.exceptions import ScimError
from scim.filters import filter_q
from scim.models import ScimToken
from scim.responses import list_response, scim_error, scim_response
from scim.services.errors import scim_error_record
from scim.services.tokens import SCIM_TOKEN_PREFIX
from scim.urns import GROUP_URN, SEARCH_URN, USER_URN

logger = logging.getLogger(__name__)

WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="scim"'}


def authenticate(request: HttpRequest) -> ScimToken | None:
    scheme, _, secret = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    token = tokens.lookup(selectors.scim_token_by_prefix, SCIM_TOKEN_PREFIX, secret.strip())
    return token if token is not None and token.revoked_at is None else None


def rate_limited(token: ScimToken) -> int | None:
    """Seconds to wait when this token has used up its minute, else None. The counter lives in
    the cache (Redis in production, so every worker shares it)."""
    window = int(time.time() // 60)
    used = _count_use(f"scim-rate:{token.prefix}:{window}")
    if used > settings.SCIM_RATE_LIMIT_PER_MINUTE:
        return max(1, 60 - int(time.time()) % 60)
    return None


def _count_use(key: str) -> int:
    """Add one to a counter that lives 90 s. On Redis it is one round trip (INCR and EXPIRE in
    a pipeline) on every request; Django's add() + incr() would be three."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        key = backend.make_and_validate_key(key)
        # Django builds a new client object on every get_client(); one per backend (they are
        # per thread) is enough. No MULTI/EXEC: INCR then EXPIRE on one connection suffices.
        client = getattr(backend, "_rate_client", None)
        if client is None:
            client = backend._rate_client = backend._cache.get_client(key, write=True)
        used, _ = client.pipeline(transaction=False).incr(key).expire(key, 90).execute()
        return int(used)
    backend.add(key, 0, timeout=90)
    try:
        return backend.incr(key)
    except ValueError:  # evicted between add and incr
        backend.set(key, 1, timeout=90)
        return 1


def _unstorable(value: Any) -> str | None:
    """Why a decoded JSON body cannot be stored as text, or None. PostgreSQL text cannot hold
    U+0000, and an unpaired UTF-16 surrogate (JSON lets `\\ud800` through) is not UTF-8 at
    all: both are refused up front instead of failing in the database."""
    if isinstance(value, str):
        if "\x00" in value:
            return "a NUL character (\\u0000)"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "an unpaired surrogate (\\ud800-\\udfff), which is not a character"
        return None
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, list):
        items = value
    else:
        return None
    for item in items:
        reason = _unstorable(item)
        if reason is not None:
            return reason
    return None


def _status_of(exc: ServiceError) -> tuple[int, str | None]:
    if isinstance(exc, ScimError):
        return exc.status, exc.scim_type
    if isinstance(exc, NotFound):
        return 404, None
    if isinstance(exc, Conflict):
        return 409, "uniqueness"
    if isinstance(exc, PermissionDenied):
        return 403, None
    return 400, "invalidValue"


class ScimView(SCIMView):
    """Authenticates the token (it names the organization), rate-limits it, and renders every
    error in the SCIM error schema. Never a 500 page, never SQL in a detail."""

    http_method_names = ["get", "post", "put", "patch", "delete"]

    @method_decorator(csrf_exempt)
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        token = authenticate(request)
        if token is None:
            return scim_error(
                401,
                "Missing, invalid or revoked SCIM bearer token. Create one "
                "on the SCIM & mapping page and send 'Authorization: Bearer <token>'.",
                headers=WWW_AUTHENTICATE,
            )
        wait = rate_limited(token)
        if wait is not None:
            return scim_error(
                429,
                f"Too many requests for this token; retry in {wait} s.",
                headers={"Retry-After": str(wait)},
            )
        tokens.touch_last_used(token)
        request.scim_token = token  # type: ignore[attr-defined]
        request.org = token.org  # type: ignore[attr-defined]
        try:
            return View.dispatch(self, request, *args, **kwargs)
        except ServiceError as exc:
            status, scim_type = _status_of(exc)
            detail = exc.message
        except Exception:
            logger.exception("SCIM request failed")
            status, scim_type = 500, None
            detail = (
                "Internal error; it was logged with request id "
                f"{getattr(request, 'request_id', '')}."
            )
        scim_error_record(
            token=token,
            method=request.method or "",
            path=request.get_full_path(),
            status=status,
            scim_type=scim_type,
            detail=detail,
        )
        return scim_error(status, detail, scim_type)

    def http_method_not_allowed(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        return scim_error(405, f"{request.method} is not supported on {request.path}.")

    def base_url(self) -> str:
        return self.request.build_absolute_uri("/scim/v2")


def _int_param(raw: str | None, name: str, default: int) -> int:
    if raw in (None, ""):
        return default
    number = ascii_digits(raw, signed=True, clamp=True)
    if number is None:
        raise ScimError(
            f"{name} must be an integer written with the digits 0-9, not {raw[:40]!r}.",
            status=400,
            scim_type="invalidValue",
        )
    return number


CORE_PREFIXES = tuple(f"{urn.lower()}:" for urn in (USER_URN, GROUP_URN))


def attribute_names(raw: Any) -> set[str]:
    """`attributes` / `excludedAttributes` as lower-case paths. A name qualified with the
    resource's core schema (`urn:...:core:2.0:User:userName`) is the bare name (RFC 7644
    §3.10); an extension's stays qualified, as its section is keyed by its URN."""
    if not raw:
        return set()
    if isinstance(raw, list):
        raw = ",".join(str(r) for r in raw)
    names = set()
    for a in str(raw).split(","):
        a = a.strip().lower()
        for prefix in CORE_PREFIXES:
            if a.startswith(prefix):
                a = a[len(prefix) :]
        if a:
            names.add(a)
    return names


def project(resource: dict[str, Any], attributes: set[str], excluded: set[str]) -> dict[str, Any]:
    """RFC 7644 §3.4.2.5: `attributes` keeps only those (plus id and schemas); else
    `excludedAttributes` drops those. Sub-attributes (name.givenName) and URN paths work."""
    if not attributes and not excluded:
        return resource
    always = {"id", "schemas"}

    def wanted(key: str, chosen: set[str]) -> set[str]:
        k = key.lower()
        return {a for a in chosen if a == k or a.startswith(k + ".") or a.startswith(k + ":")}

    out: dict[str, Any] = {}
    for key, value in resource.items():
        if attributes:
            hits = wanted(key, attributes)
            if key in always or key.lower() in attributes:
                out[key] = value
            elif hits and isinstance(value, dict):
                subs = {h[len(key) + 1 :] for h in hits}
                out[key] = {k: v for k, v in value.items() if k.lower() in subs}
        else:
            if key in always or key.lower() not in excluded:
                if isinstance(value, dict):
                    subs = {h[len(key) + 1 :] for h in wanted(key, excluded) if h != key.lower()}
                    value = {k: v for k, v in value.items() if k.lower() not in subs}
                out[key] = value
    return out


class ScimResourceView(ScimView):
    resource = "User"

    def read_json(self) -> Any:
        try:
            body = self.load_body(self.request.body)
        except Exception as exc:  # django-scim2 raises its own BadRequestError
            raise ScimError(
                "The body is not valid JSON.", status=400, scim_type="invalidSyntax"
            ) from exc
        reason = _unstorable(body)
        if reason is not None:
            raise ScimError(
                f"The body holds {reason}, which no SCIM attribute may hold; remove it and "
                "send the request again.",
                status=400,
                scim_type="invalidValue",
            )
        return body

    def paging(self, params: Any) -> tuple[int, int]:
        # Past 2**62 no page has rows, and OFFSET must stay a 64-bit integer in the database.
        start = min(max(1, _int_param(params.get("startIndex"), "startIndex", 1)), 2**62)
        count = _int_param(params.get("count"), "count", settings.SCIM_MAX_RESULTS)
        return start, min(max(0, count), settings.SCIM_MAX_RESULTS)

    def list_page(self, params: Any) -> HttpResponse:
        raw_filter = params.get("filter")
        q = filter_q(raw_filter, resource=self.resource) if raw_filter else None
        start, count = self.paging(params)
        qs = self.queryset(q)
        ids = self.page_ids(qs, start, count, filtered=q is not None) if count else []
        rows = self.page_rows(ids, params)
        if count and len(rows) < count and (rows or start == 1):
            # A short page is the last one, so it ends at the total: no COUNT. This is the
            # common case of the IdPs' `userName eq` / `externalId eq` existence checks.
            total = start - 1 + len(rows)
        else:
            total = qs.count()
        attrs = attribute_names(params.get("attributes"))
        excluded = attribute_names(params.get("excludedAttributes"))
        resources = [project(self.render_row(r, params), attrs, excluded) for r in rows]
        return scim_response(list_response(resources, total=total, start=start))

    def render_row(self, row: Any, params: Any) -> dict[str, Any]:
        return self.render(row, params)

    def page_ids(self, qs: Any, start: int, count: int, *, filtered: bool = False) -> list[int]:
        """One page of ids in id order, read on its own: an index walk of (org, id), so a deep
        OFFSET skips index entries instead of joined rows. Then the page's rows are loaded by
        that list of ids. Not `id IN (subquery LIMIT …)` in one statement: with stale planner
        statistics (a new deployment's first import, before any ANALYZE) PostgreSQL turned that
        shape into a nested loop that re-ran the subquery per row (seconds per page); two simple
        statements keep a plan that is linear whatever the statistics say
        (bench/scim_stale.py measures it).

        A filtered page sorts its matches by `id + 0`, which no index provides: with stale
        statistics every index looks equally cheap, and ordering by plain `id` made the planner
        walk the (org, id) index and test each row against the filter (linear in the
        organization's size) instead of using the filter's own index (`userName eq`: one
        entry of (org, LOWER(userName)))."""
        order = (F("id") + Value(0)).asc() if filtered else F("id").asc()
        return list(qs.order_by(order).values_list("id", flat=True)[start - 1 : start - 1 + count])

    def page_rows(self, ids: list[int], params: Any) -> list[Any]:
        """The rows of one page in id order, loaded with what rendering needs."""
        if not ids:
            return []
        page = self.queryset(None).filter(pk__in=ids).order_by("id")
        return list(self.representation_qs(page, params))

    def search_body(self) -> dict[str, Any]:
        """A POST .search body (RFC 7644 §3.4.3): a SearchRequest object, naming its schema."""
        body = self.read_json()
        if not isinstance(body, dict):
            raise ScimError(
                "A search body is a SearchRequest object.", status=400, scim_type="invalidSyntax"
            )
        schemas = body.get("schemas")
        if not isinstance(schemas, list) or SEARCH_URN not in schemas:
            raise ScimError(
                f'A search body names its schema: "schemas": ["{SEARCH_URN}"].',
                status=400,
                scim_type="invalidSyntax",
            )
        return body

    def search(self) -> HttpResponse:
        body = self.search_body()
        params = {
            k: body.get(k)
            for k in ["filter", "startIndex", "count", "attributes", "excludedAttributes"]
        }
        return self.list_page(params)

    def one(self, resource: dict[str, Any], status: int = 200) -> HttpResponse:
        attrs = attribute_names(self.request.GET.get("attributes"))
        excluded = attribute_names(self.request.GET.get("excludedAttributes"))
        return scim_response(
            project(resource, attrs, excluded),
            status=status,
            headers={"Location": resource["meta"]["location"]},
        )
