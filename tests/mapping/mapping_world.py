"""An IdP (Okta pushing users and groups over SCIM) and an admin (the REST API), for the
mapping scenarios. Nothing here calls the engine directly."""

from __future__ import annotations

from typing import Any

from django.test import Client

from audit.models import AuditEvent
from orgs.models import Membership, RoleAssignment, TeamMembership
from tests.conftest import api
from tests.scim.conftest import PATCH_URN, Scim, okta_user


class World:
    def __init__(self, scim: Scim, key: str, capture: Any) -> None:
        self.scim, self.key, self.capture = scim, key, capture
        self.client = Client()
        self.users: dict[str, str] = {}
        self.groups: dict[str, str] = {}

    # --- the IdP ------------------------------------------------------------------------
    def user(self, name: str) -> str:
        r = self.scim("POST", "/Users", okta_user(f"{name}@acme.example", externalId=name))
        assert r.status_code == 201, r.content
        self.users[name] = r.json()["id"]
        return self.users[name]

    def group(self, name: str, *members: str) -> str:
        body = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": name,
            "members": [{"value": self.users[m]} for m in members],
        }
        r = self.scim("POST", "/Groups", body)
        assert r.status_code == 201, r.content
        self.groups[name] = r.json()["id"]
        return self.groups[name]

    def patch_group(self, name: str, *ops: dict[str, Any]) -> None:
        """Okta's group push: the rename op rides along with every membership change."""
        gid = self.groups[name]
        rename = {"op": "replace", "value": {"id": gid, "displayName": name}}
        body = {"schemas": [PATCH_URN], "Operations": [rename, *ops]}
        r = self.scim("PATCH", f"/Groups/{gid}", body)
        assert r.status_code == 204, r.content

    def join(self, group: str, *users: str) -> None:
        value = [{"value": self.users[u], "display": u} for u in users]
        self.patch_group(group, {"op": "add", "path": "members", "value": value})

    def leave(self, group: str, user: str) -> None:
        path = f'members[value eq "{self.users[user]}"]'
        self.patch_group(group, {"op": "remove", "path": path})

    def rename(self, old: str, new: str) -> None:
        gid = self.groups.pop(old)
        body = {
            "schemas": [PATCH_URN],
            "Operations": [{"op": "replace", "value": {"id": gid, "displayName": new}}],
        }
        assert self.scim("PATCH", f"/Groups/{gid}", body).status_code == 204
        self.groups[new] = gid

    def delete_group(self, name: str) -> None:
        assert self.scim("DELETE", f"/Groups/{self.groups.pop(name)}").status_code == 204

    # --- the admin ----------------------------------------------------------------------
    def call(self, method: str, path: str, data: Any = None) -> Any:
        with self.capture(execute=True):  # the sync job Celery runs once the change commits
            return api(self.client, method, f"/api/v1/scim/mapping/{path}", self.key, data)

    def table(self, direction: str, rows: list[tuple[str, Any]]) -> Any:
        field = "role_id" if direction == "roles" else "team_id"
        body = {"rows": [{"group_id": self.groups[g], field: target.pk} for g, target in rows]}
        r = self.call("PUT", f"{direction}/rows/", body)
        assert r.status_code == 200, r.content
        return r.json()

    def mode(self, direction: str, use_table: bool, confirm: bool = True) -> Any:
        body = {"use_mapping_table": use_table, "confirm": confirm}
        return self.call("PUT", f"{direction}/mode/", body)

    def sync(self) -> Any:
        r = self.call("POST", "sync/")
        assert r.status_code == 202, r.content
        return r.json()

    def preview(self, direction: str, body: dict[str, Any] | None = None) -> Any:
        r = self.call("POST", f"{direction}/preview/", body or {})
        assert r.status_code == 200, r.content
        return r.json()

    # --- what people hold -----------------------------------------------------------------
    @staticmethod
    def member(name: str, org_slug: str = "acme") -> Membership:
        return Membership.objects.get(org__slug=org_slug, user__email=f"{name}@acme.example")

    def roles(self, name: str) -> set[tuple[str, str]]:
        rows = RoleAssignment.objects.filter(membership=self.member(name))
        return set(rows.values_list("role__name", "source"))

    def teams(self, name: str, org_slug: str = "acme") -> set[tuple[str, str]]:
        rows = TeamMembership.objects.filter(membership=self.member(name, org_slug))
        return set(rows.values_list("team__name", "source"))

    @staticmethod
    def events(action: str) -> list[AuditEvent]:
        return list(AuditEvent.objects.filter(action=action).order_by("id"))
