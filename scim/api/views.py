"""SCIM 2.0 endpoints under /scim/v2/. An interface: translate, call services, translate back.

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
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import View
from django_scim.views import SCIMView

from governance import tokens
from governance.exceptions import Conflict, NotFound, PermissionDenied, ServiceError
from scim import selectors, services
from scim.adapters import (
    apply_patch,
    group_from_scim,
    group_patch,
    group_to_scim,
    user_from_scim,
    user_to_scim,
)
from scim.exceptions import ScimError
from scim.filters import filter_q
from scim.models import ScimToken
from scim.responses import list_response, scim_error, scim_response
from scim.schemas import RESOURCE_SCHEMAS
from scim.services import SCIM_TOKEN_PREFIX

logger = logging.getLogger(__name__)

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
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
        services.scim_error_record(
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


class ServiceProviderConfigView(ScimView):
    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        return scim_response(
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
                "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
                "patch": {"supported": True},
                "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
                "filter": {"supported": True, "maxResults": settings.SCIM_MAX_RESULTS},
                "changePassword": {"supported": False},
                "sort": {"supported": False},
                "etag": {"supported": False},
                "authenticationSchemes": settings.SCIM_SERVICE_PROVIDER["AUTHENTICATION_SCHEMES"],
                "meta": {
                    "resourceType": "ServiceProviderConfig",
                    "location": f"{self.base_url()}/ServiceProviderConfig",
                },
            }
        )


def _resource_types(base: str) -> dict[str, dict[str, Any]]:
    def doc(name: str, endpoint: str, schema: str, extensions: list[dict[str, Any]]) -> dict:
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": name,
            "name": name,
            "endpoint": endpoint,
            "description": f"{name} resources of this organization",
            "schema": schema,
            "schemaExtensions": extensions,
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/{name}"},
        }

    return {
        "User": doc("User", "/Users", USER_URN, [{"schema": ENTERPRISE_URN, "required": False}]),
        "Group": doc("Group", "/Groups", GROUP_URN, []),
    }


class ResourceTypesView(ScimView):
    http_method_names = ["get"]

    def get(self, request: HttpRequest, name: str | None = None) -> HttpResponse:
        types = _resource_types(self.base_url())
        if name is not None:
            if name not in types:
                return scim_error(404, f"No resource type {name!r}; there are User and Group.")
            return scim_response(types[name])
        docs = list(types.values())
        return scim_response(list_response(docs, total=len(docs), start=1))


class SchemasView(ScimView):
    http_method_names = ["get"]

    def schema_doc(self, urn: str) -> dict[str, Any]:
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            **RESOURCE_SCHEMAS[urn],
            "meta": {"resourceType": "Schema", "location": f"{self.base_url()}/Schemas/{urn}"},
        }

    def get(self, request: HttpRequest, urn: str | None = None) -> HttpResponse:
        if urn is not None:
            if urn not in RESOURCE_SCHEMAS:
                return scim_error(404, f"No schema {urn!r}.")
            return scim_response(self.schema_doc(urn))
        docs = [self.schema_doc(u) for u in sorted(RESOURCE_SCHEMAS)]
        return scim_response(list_response(docs, total=len(docs), start=1))


class BulkView(ScimView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        return scim_error(501, "Bulk operations are not supported (see ServiceProviderConfig).")


# --- Users ---------------------------------------------------------------------------------


def _int_param(raw: str | None, name: str, default: int) -> int:
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ScimError(
            f"{name} must be an integer, not {raw!r}.", status=400, scim_type="invalidValue"
        ) from None


def _attribute_names(raw: Any) -> set[str]:
    if not raw:
        return set()
    if isinstance(raw, list):
        raw = ",".join(str(r) for r in raw)
    return {a.strip().lower() for a in str(raw).split(",") if a.strip()}


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
        rows = self.page_rows(self.page_ids(qs, start, count), params) if count else []
        if count and len(rows) < count and (rows or start == 1):
            # A short page is the last one, so it ends at the total: no COUNT. This is the
            # common case of the IdPs' `userName eq` / `externalId eq` existence checks.
            total = start - 1 + len(rows)
        else:
            total = qs.count()
        attrs = _attribute_names(params.get("attributes"))
        excluded = _attribute_names(params.get("excludedAttributes"))
        resources = [project(self.render_row(r, params), attrs, excluded) for r in rows]
        return scim_response(list_response(resources, total=total, start=start))

    def render_row(self, row: Any, params: Any) -> dict[str, Any]:
        return self.render(row, params)

    def page_ids(self, qs: Any, start: int, count: int) -> Any:
        """One page of ids in id order, as a subquery: an index-only walk of (org, id), so a
        deep OFFSET skips index entries instead of joined rows. The page's rows are then
        loaded by id in the same statement."""
        return qs.order_by("id").values("id")[start - 1 : start - 1 + count]

    def page_rows(self, ids: Any, params: Any) -> list[Any]:
        """The rows of one page in id order, loaded with what rendering needs."""
        page = ids.model.objects.filter(pk__in=ids).order_by("id")
        return list(self.representation_qs(page, params))

    def search(self) -> HttpResponse:
        body = self.read_json()
        if not isinstance(body, dict):
            raise ScimError(
                "A search body is a SearchRequest object.", status=400, scim_type="invalidSyntax"
            )
        params = {
            k: body.get(k)
            for k in ["filter", "startIndex", "count", "attributes", "excludedAttributes"]
        }
        return self.list_page(params)

    def one(self, resource: dict[str, Any], status: int = 200) -> HttpResponse:
        attrs = _attribute_names(self.request.GET.get("attributes"))
        excluded = _attribute_names(self.request.GET.get("excludedAttributes"))
        return scim_response(
            project(resource, attrs, excluded),
            status=status,
            headers={"Location": resource["meta"]["location"]},
        )


class UsersView(ScimResourceView):
    resource = "User"

    def queryset(self, q: Any) -> Any:
        return selectors.scim_users(org=self.request.org, q=q)

    def representation_qs(self, qs: Any, params: Any = None) -> Any:
        return selectors.with_representation(qs)

    def page_rows(self, ids: Any, params: Any) -> list[Any]:
        return selectors.scim_user_rows(org=self.request.org, ids=ids)

    def render_row(self, row: Any, params: Any) -> dict[str, Any]:
        return self.render_fields(row, row.fields)

    def render(self, scim_user: Any, params: Any = None) -> dict[str, Any]:
        return self.render_fields(scim_user, services.fields_of(scim_user))

    def render_fields(self, scim_user: Any, fields: Any) -> dict[str, Any]:
        return user_to_scim(
            fields,
            scim_id=str(scim_user.scim_id),
            created=scim_user.created_at.isoformat(),
            modified=scim_user.updated_at.isoformat(),
            base=self.base_url(),
        )

    def found(self, scim_id: str) -> Any:
        user = selectors.scim_user_get(org=self.request.org, scim_id=scim_id)
        if user is None:
            raise ScimError(f"User {scim_id} not found.", status=404)
        return user

    def get(self, request: HttpRequest, scim_id: str | None = None) -> HttpResponse:
        if scim_id is None:
            return self.list_page(request.GET)
        return self.one(self.render(self.found(scim_id)))

    def post(self, request: HttpRequest, scim_id: str | None = None) -> HttpResponse:
        if scim_id == ".search":
            return self.search()
        if scim_id is not None:
            return self.http_method_not_allowed(request)
        fields = user_from_scim(self.read_json())
        created = services.scim_user_create(
            org=request.org, fields=fields, actor=request.scim_token
        )
        return self.one(self.render_fields(created.scim_user, created.fields), status=201)

    def put(self, request: HttpRequest, scim_id: str | None = None) -> HttpResponse:
        if scim_id is None:
            return self.http_method_not_allowed(request)
        user = self.found(scim_id)
        fields = user_from_scim(self.read_json())
        services.scim_user_replace(scim_user=user, fields=fields, actor=request.scim_token)
        return self.one(self.render(self.found(scim_id)))

    def patch(self, request: HttpRequest, scim_id: str | None = None) -> HttpResponse:
        if scim_id is None:
            return self.http_method_not_allowed(request)
        user = self.found(scim_id)
        current = self.render(user)
        patched = apply_patch(current, self.read_json(), USER_URN)
        # The representation always carries roles: gone after the patch means removed.
        patched.setdefault("roles", [])
        fields = user_from_scim(patched)
        services.scim_user_replace(scim_user=user, fields=fields, actor=request.scim_token)
        return self.one(self.render(self.found(scim_id)))

    def delete(self, request: HttpRequest, scim_id: str | None = None) -> HttpResponse:
        if scim_id is None:
            return self.http_method_not_allowed(request)
        services.scim_user_delete(scim_user=self.found(scim_id), actor=request.scim_token)
        return HttpResponse(status=204)


class GroupsView(ScimResourceView):
    resource = "Group"

    @staticmethod
    def members_wanted(params: Any) -> bool:
        """Loading members is skipped when `attributes`/`excludedAttributes` leave them out."""
        if params is None:
            return True
        attrs = _attribute_names(params.get("attributes"))
        excluded = _attribute_names(params.get("excludedAttributes"))
        if attrs:
            return any(a == "members" or a.startswith("members.") for a in attrs)
        return "members" not in excluded

    def queryset(self, q: Any) -> Any:
        return selectors.scim_groups(org=self.request.org, q=q)

    def representation_qs(self, qs: Any, params: Any = None) -> Any:
        return selectors.with_members(qs) if self.members_wanted(params) else qs

    def render(self, group: Any, params: Any = None) -> dict[str, Any]:
        members = None
        if self.members_wanted(params):
            members = [(str(m.user.scim_id), m.user.user_name) for m in group.members.all()]
        return group_to_scim(
            scim_id=str(group.scim_id),
            display_name=group.display_name,
            external_id=group.external_id,
            members=members,
            created=group.created_at.isoformat(),
            modified=group.updated_at.isoformat(),
            base=self.base_url(),
        )

    def found(self, scim_id: str) -> Any:
        group = selectors.scim_group_get(org=self.request.org, scim_id=scim_id)
        if group is None:
            raise ScimError(f"Group {scim_id} not found.", status=404)
        return group

    def show(self, scim_id: str, status: int = 200) -> HttpResponse:
        params = self.request.GET
        qs = self.representation_qs(
            selectors.scim_groups(org=self.request.org).filter(scim_id=self.found(scim_id).scim_id),
            params,
        )
        return self.one(self.render(qs.get(), params), status=status)

    def get(self, request: HttpRequest, scim_id: str | None = None) -> HttpResponse:
        if scim_id is None:
            return self.list_page(request.GET)
        return self.show(scim_id)

    def post(self, request: HttpRequest, scim_id: str | None = None) -> HttpResponse:
        if scim_id == ".search":
            return self.search()
        if scim_id is not None:
            return self.http_method_not_allowed(request)
        group = services.scim_group_create(
            org=request.org, change=group_from_scim(self.read_json()), actor=request.scim_token
        )
        return self.show(str(group.scim_id), status=201)

    def put(self, request: HttpRequest, scim_id: str | None = None) -> HttpResponse:
        if scim_id is None:
            return self.http_method_not_allowed(request)
        group = self.found(scim_id)
        services.scim_group_update(
            group=group, change=group_from_scim(self.read_json()), actor=request.scim_token
        )
        return self.show(scim_id)

    def patch(self, request: HttpRequest, scim_id: str | None = None) -> HttpResponse:
        if scim_id is None:
            return self.http_method_not_allowed(request)
        group = self.found(scim_id)
        services.scim_group_update(
            group=group, change=group_patch(self.read_json()), actor=request.scim_token
        )
        return HttpResponse(status=204)  # RFC 7644 §3.5.2: no body; groups can be large

    def delete(self, request: HttpRequest, scim_id: str | None = None) -> HttpResponse:
        if scim_id is None:
            return self.http_method_not_allowed(request)
        services.scim_group_delete(group=self.found(scim_id), actor=request.scim_token)
        return HttpResponse(status=204)


class RootSearchView(ScimView):
    """POST /.search (RFC 7644 §3.4.3): one filter across Users and Groups. A resource type
    whose attributes the filter does not know is left out; unknown to both is invalidFilter."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        views = [UsersView(request=request), GroupsView(request=request)]
        body = views[0].read_json()
        if not isinstance(body, dict):
            raise ScimError(
                "A search body is a SearchRequest object.", status=400, scim_type="invalidSyntax"
            )
        raw_filter = body.get("filter")
        start, count = views[0].paging(body)
        attrs = _attribute_names(body.get("attributes"))
        excluded = _attribute_names(body.get("excludedAttributes"))
        querysets, errors = [], []
        for view in views:
            try:
                q = filter_q(raw_filter, resource=view.resource) if raw_filter else None
            except ScimError as exc:
                errors.append(exc)
                continue
            qs = view.queryset(q).order_by("id")
            querysets.append((view, qs, qs.count()))
        if not querysets:
            raise errors[0]
        total = sum(size for _, _, size in querysets)
        resources: list[dict[str, Any]] = []
        skip, room = start - 1, count
        for view, qs, size in querysets:
            if room <= 0:
                break
            if skip >= size:
                skip -= size
                continue
            rows = list(view.representation_qs(qs[skip : skip + room], body))
            resources += [project(view.render(r, body), attrs, excluded) for r in rows]
            room -= len(rows)
            skip = 0
        return scim_response(list_response(resources, total=total, start=start))
