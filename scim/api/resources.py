"""The SCIM resources: Users, Groups, and the root .search across both."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from scim import selectors
from scim.adapters import group_from_scim, group_patch, group_to_scim, user_from_scim, user_to_scim
from scim.api.base import ScimResourceView, ScimView, attribute_names, project
from scim.exceptions import ScimError
from scim.filters import filter_q
from scim.patch import apply_patch
from scim.responses import list_response, scim_response
from scim.services.groups import scim_group_create, scim_group_delete, scim_group_update
from scim.services.users import fields_of, scim_user_create, scim_user_delete, scim_user_replace
from scim.urns import (
    USER_URN,
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
        return self.render_fields(scim_user, fields_of(scim_user))

    def render_fields(self, scim_user: Any, fields: Any) -> dict[str, Any]:
        return user_to_scim(
            fields,
            scim_id=str(scim_user.uid),
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
        created = scim_user_create(org=request.org, fields=fields, actor=request.scim_token)
        return self.one(self.render_fields(created.scim_user, created.fields), status=201)

    def put(self, request: HttpRequest, scim_id: str | None = None) -> HttpResponse:
        if scim_id is None:
            return self.http_method_not_allowed(request)
        user = self.found(scim_id)
        fields = user_from_scim(self.read_json())
        scim_user_replace(scim_user=user, fields=fields, actor=request.scim_token)
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
        scim_user_replace(scim_user=user, fields=fields, actor=request.scim_token)
        return self.one(self.render(self.found(scim_id)))

    def delete(self, request: HttpRequest, scim_id: str | None = None) -> HttpResponse:
        if scim_id is None:
            return self.http_method_not_allowed(request)
        scim_user_delete(scim_user=self.found(scim_id), actor=request.scim_token)
        return HttpResponse(status=204)


class GroupsView(ScimResourceView):
    resource = "Group"

    @staticmethod
    def members_wanted(params: Any) -> bool:
        """Loading members is skipped when `attributes`/`excludedAttributes` leave them out."""
        if params is None:
            return True
        attrs = attribute_names(params.get("attributes"))
        excluded = attribute_names(params.get("excludedAttributes"))
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
            members = [
                (str(m.membership.idp.uid), m.membership.idp.user_name) for m in group.members.all()
            ]
        return group_to_scim(
            scim_id=str(group.uid),
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
            selectors.scim_groups(org=self.request.org).filter(uid=self.found(scim_id).uid),
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
        group = scim_group_create(
            org=request.org, change=group_from_scim(self.read_json()), actor=request.scim_token
        )
        return self.show(str(group.uid), status=201)

    def put(self, request: HttpRequest, scim_id: str | None = None) -> HttpResponse:
        if scim_id is None:
            return self.http_method_not_allowed(request)
        group = self.found(scim_id)
        scim_group_update(
            group=group, change=group_from_scim(self.read_json()), actor=request.scim_token
        )
        return self.show(scim_id)

    def patch(self, request: HttpRequest, scim_id: str | None = None) -> HttpResponse:
        if scim_id is None:
            return self.http_method_not_allowed(request)
        group = self.found(scim_id)
        scim_group_update(
            group=group,
            change=group_patch(self.read_json(), current_id=str(group.uid)),
            actor=request.scim_token,
        )
        return HttpResponse(status=204)  # RFC 7644 §3.5.2: no body; groups can be large

    def delete(self, request: HttpRequest, scim_id: str | None = None) -> HttpResponse:
        if scim_id is None:
            return self.http_method_not_allowed(request)
        scim_group_delete(group=self.found(scim_id), actor=request.scim_token)
        return HttpResponse(status=204)


class RootSearchView(ScimView):
    """POST /.search (RFC 7644 §3.4.3): one filter across Users and Groups. A resource type
    whose attributes the filter does not know is left out; unknown to both is invalidFilter."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        views = [UsersView(request=request), GroupsView(request=request)]
        body = views[0].search_body()
        raw_filter = body.get("filter")
        start, count = views[0].paging(body)
        attrs = attribute_names(body.get("attributes"))
        excluded = attribute_names(body.get("excludedAttributes"))
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
            ids = view.page_ids(qs, skip + 1, room, filtered=bool(raw_filter))
            rows = view.page_rows(ids, body)
            resources += [project(view.render_row(r, body), attrs, excluded) for r in rows]
            room -= len(rows)
            skip = 0
        return scim_response(list_response(resources, total=total, start=start))
