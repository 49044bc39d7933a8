"""SCIM JSON <-> our fields. Pure translation: no database writes.

Accepts what Okta and Microsoft Entra ID send: capitalised PATCH ops, "True"/"False" strings,
no-path PATCH with dotted and URN keys, `emails[type eq "work"].value`, `roles` as strings or
objects, and Okta's `password` (accepted and ignored: sign-in is the IdP's job).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from scim.exceptions import ScimError
from scim.urns import ENTERPRISE_URN, GROUP_URN, USER_URN

MAX_LEN = 255


def invalid(detail: str, scim_type: str = "invalidValue") -> ScimError:
    return ScimError(detail, status=400, scim_type=scim_type)


def json_shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"  # Entra sends "True"/"False"
    raise invalid(f"{name} must be true or false, not {json_shown(value)}.")


_JSON_TYPE = {
    bool: "a boolean",
    int: "a number",
    float: "a number",
    dict: "an object",
    list: "an array",
}


def as_text(value: Any, name: str, *, required: bool = False, limit: int = MAX_LEN) -> str:
    """A string attribute: a JSON string (a number or an object is refused, not coerced)."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        shown = _JSON_TYPE.get(type(value), type(value).__name__)
        raise invalid(f"{name} must be a string, not {shown} ({json_shown(value)}).")
    text = str(value).strip()
    if required and not text:
        raise invalid(f"{name} is required.")
    if len(text) > limit:
        raise invalid(f"{name} is longer than {limit} characters.")
    return text


@dataclass
class UserFields:
    user_name: str
    external_id: str = ""
    given_name: str = ""
    family_name: str = ""
    display_name: str = ""
    emails: list[dict[str, Any]] = field(default_factory=list)
    active: bool = True
    roles: list[str] | None = None  # None: the request did not mention roles
    department: str = ""
    employee_number: str = ""
    manager_id: str = ""
    # The other attributes of RFC 7643's User and enterprise extension that IdPs send (EXTRA),
    # in their SCIM shape: stored as sent and returned, never interpreted.
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def primary_email(self) -> str:
        for e in self.emails:
            if e.get("primary"):
                return e["value"]
        if self.emails:
            return self.emails[0]["value"]
        # A userName stands in for the e-mail only when it is one: userName is any Unicode
        # string the IdP sends (zoë.müller@exämple.de is not a deliverable address).
        try:
            validate_email(self.user_name)
        except ValidationError:
            return ""
        return self.user_name

    @property
    def full_name(self) -> str:
        return self.display_name or " ".join(p for p in [self.given_name, self.family_name] if p)


def _emails(value: Any) -> list[dict[str, Any]]:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise invalid("emails must be a list of {value, type, primary} objects.")
    out = []
    for item in value:
        if isinstance(item, str):
            item = {"value": item}
        if not isinstance(item, dict):
            raise invalid("Each email must be an object with a value.")
        address = as_text(item.get("value"), "emails.value", required=True)
        out.append(
            {
                "value": address,
                "type": as_text(item.get("type") or "work", "emails.type"),
                "primary": as_bool(item.get("primary", False), "emails.primary"),
            }
        )
    return out


# RFC 7643 attributes kept as sent (Entra's default mappings send most of them): singular
# strings, name parts, enterprise strings, and multi-valued ones with their sub-attributes.
EXTRA_SINGULAR = (
    "title",
    "nickName",
    "preferredLanguage",
    "locale",
    "timezone",
    "userType",
    "profileUrl",
)
EXTRA_NAME = ("formatted", "middleName", "honorificPrefix", "honorificSuffix")
EXTRA_ENTERPRISE = ("organization", "division", "costCenter")
EXTRA_MULTI: dict[str, tuple[str, ...]] = {
    "phoneNumbers": ("value", "display", "type", "primary"),
    "addresses": (
        "formatted",
        "streetAddress",
        "locality",
        "region",
        "postalCode",
        "country",
        "type",
        "primary",
    ),
}


def _multi(value: Any, attr: str, subs: tuple[str, ...]) -> list[dict[str, Any]]:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise invalid(f"{attr} must be an array of objects.")
    out = []
    for item in value:
        if not isinstance(item, dict):
            raise invalid(f"Each of {attr} must be an object.")
        kept: dict[str, Any] = {}
        for sub in subs:
            raw = _get(item, sub)
            if raw is None:
                continue
            if sub == "primary":
                kept[sub] = as_bool(raw, f"{attr}.{sub}")
            else:
                kept[sub] = as_text(raw, f"{attr}.{sub}", limit=1024)
        if kept:
            out.append(kept)
    return out[:20]


def _extra(payload: dict[str, Any], name: dict[str, Any], ent: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attr in EXTRA_SINGULAR:
        text = as_text(_get(payload, attr), attr, limit=1024)
        if text:
            out[attr] = text
    for attr, subs in EXTRA_MULTI.items():
        items = _multi(_get(payload, attr), attr, subs)
        if items:
            out[attr] = items
    parts = {a: as_text(_get(name, a), f"name.{a}", limit=1024) for a in EXTRA_NAME}
    if any(parts.values()):
        out["name"] = {a: v for a, v in parts.items() if v}
    org = {a: as_text(_get(ent, a), a, limit=1024) for a in EXTRA_ENTERPRISE}
    if any(org.values()):
        out[ENTERPRISE_URN] = {a: v for a, v in org.items() if v}
    return out


def _roles(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        value = [value]
    names = []
    for item in value:
        if isinstance(item, dict):
            item = item.get("value", item.get("display"))
        names.append(as_text(item, "roles.value", required=True, limit=100))
    return list(dict.fromkeys(names))


def _section(payload: dict[str, Any], urn: str) -> dict[str, Any]:
    for key, value in payload.items():
        if key.lower() == urn.lower():
            if not isinstance(value, dict):
                raise invalid(f"{urn} must be an object.")
            return value
    return {}


def _get(obj: dict[str, Any], name: str) -> Any:
    """Attribute names are case-insensitive (RFC 7643 §2.1)."""
    for key, value in obj.items():
        if key.lower() == name.lower():
            return value
    return None


def user_from_scim(payload: Any) -> UserFields:
    if not isinstance(payload, dict):
        raise invalid("The body must be a JSON object (a SCIM User).", "invalidSyntax")
    name = _get(payload, "name") or {}
    if not isinstance(name, dict):
        raise invalid("name must be an object with givenName and familyName.")
    ent = _section(payload, ENTERPRISE_URN)
    manager = _get(ent, "manager")
    if isinstance(manager, dict):
        manager = manager.get("value")
    active = _get(payload, "active")
    roles = _get(payload, "roles")
    has_roles = any(k.lower() == "roles" for k in payload)
    return UserFields(
        user_name=as_text(_get(payload, "userName"), "userName", required=True),
        external_id=as_text(_get(payload, "externalId"), "externalId"),
        given_name=as_text(_get(name, "givenName"), "name.givenName", limit=200),
        family_name=as_text(_get(name, "familyName"), "name.familyName", limit=200),
        display_name=as_text(_get(payload, "displayName"), "displayName", limit=200),
        emails=_emails(_get(payload, "emails")),
        active=True if active is None else as_bool(active, "active"),
        roles=_roles(roles) if has_roles else None,
        department=as_text(_get(ent, "department"), "department", limit=200),
        employee_number=as_text(_get(ent, "employeeNumber"), "employeeNumber", limit=100),
        manager_id=as_text(manager, "manager.value"),
        extra=_extra(payload, name, ent),
    )


def user_to_scim(
    fields: UserFields, *, scim_id: str, created: str, modified: str, base: str
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": [USER_URN, ENTERPRISE_URN],
        "id": scim_id,
        "userName": fields.user_name,
        "name": {"givenName": fields.given_name, "familyName": fields.family_name},
        "displayName": fields.display_name,
        "emails": fields.emails,
        "active": fields.active,
        "roles": [{"value": r, "display": r} for r in (fields.roles or [])],
        ENTERPRISE_URN: {
            "department": fields.department,
            "employeeNumber": fields.employee_number,
            **({"manager": {"value": fields.manager_id}} if fields.manager_id else {}),
        },
        "meta": {
            "resourceType": "User",
            "created": created,
            "lastModified": modified,
            "location": f"{base}/Users/{scim_id}",
        },
    }
    if fields.external_id:
        body["externalId"] = fields.external_id
    for key, value in (fields.extra or {}).items():
        if isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = {**body[key], **value}
        else:
            body[key] = value
    return compact(body)


def compact(value: Any) -> Any:
    """Unassigned attributes are omitted (RFC 7643 §2.5): drop empty strings, lists and
    objects, recursively. False and 0 are values and stay."""
    if isinstance(value, dict):
        out = {k: compact(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in ("", None, [], {})}
    if isinstance(value, list):
        return [compact(v) for v in value]
    return value


# --- Groups --------------------------------------------------------------------------------


@dataclass
class GroupChange:
    """What a Group request asks for. `members` None means untouched; for PATCH the member
    changes are deltas, so concurrent PATCHes compose instead of overwriting each other."""

    display_name: str | None = None
    external_id: str | None = None
    members: list[str] | None = None  # a full replacement set (POST, PUT, replace)
    add: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    remove_all: bool = False


def _member_ids(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        value = [value]
    ids = []
    for item in value:
        if isinstance(item, dict):
            item = item.get("value")
        ids.append(as_text(item, "members.value", required=True))
    return list(dict.fromkeys(ids))


def group_from_scim(payload: Any) -> GroupChange:
    if not isinstance(payload, dict):
        raise invalid("The body must be a JSON object (a SCIM Group).", "invalidSyntax")
    return GroupChange(
        display_name=as_text(_get(payload, "displayName"), "displayName", required=True),
        external_id=as_text(_get(payload, "externalId"), "externalId"),
        members=_member_ids(_get(payload, "members")),
    )


_MEMBER_FILTER = re.compile(r'^members\[value eq "(?P<id>[^"]+)"\]$', re.IGNORECASE)


def group_patch(body: Any, current_id: str = "") -> GroupChange:
    """Okta: no-path replace of {id, displayName} with every membership change, remove with
    members[value eq "id"], add with a members list. Entra: capitalised ops, Remove of members
    with a value list, Replace of displayName."""
    if not isinstance(body, dict) or not isinstance(body.get("Operations"), list):
        raise invalid("A PATCH body is a PatchOp with an Operations list.", "invalidSyntax")
    change = GroupChange()
    for index, operation in enumerate(body["Operations"]):
        if not isinstance(operation, dict):
            raise invalid(f"Operation {index} is not an object.", "invalidSyntax")
        op = str(operation.get("op", "")).strip().lower()
        if op not in {"add", "replace", "remove"}:
            raise invalid(f"Operation {index}: op must be add, replace or remove.", "invalidSyntax")
        path = operation.get("path") or ""
        value = operation.get("value")
        if not isinstance(path, str):
            raise invalid(f"Operation {index}: path must be a string.", "invalidPath")
        if path.lower().startswith(GROUP_URN.lower() + ":"):
            path = path[len(GROUP_URN) + 1 :]
        if not path:
            if op == "remove":
                raise invalid(f"Operation {index}: remove needs a path.", "noTarget")
            if not isinstance(value, dict):
                raise invalid(f"Operation {index}: without a path, value must be an object.")
            for key, item in value.items():
                if key.lower() == "schemas" or (key.lower() == "id" and str(item) == current_id):
                    continue  # Okta repeats the group's id in its no-path replace: unchanged
                _group_set(change, key.lower(), op, item, index)
            continue
        match = _MEMBER_FILTER.match(path.strip())
        if match:
            if op != "remove":
                raise invalid(
                    f"Operation {index}: only remove takes a members filter.", "invalidPath"
                )
            change.remove.append(match["id"])
            continue
        _group_set(change, path.strip().lower(), op, value, index)
    return change


def _group_set(change: GroupChange, key: str, op: str, value: Any, index: int) -> None:
    if key in {"id", "meta"} or key.startswith("meta."):
        raise invalid(f"Operation {index}: {key} is read-only and cannot be changed.", "mutability")
    if key == "displayname":
        if op == "remove":
            raise invalid(
                f"Operation {index}: displayName is required; replace it instead of removing it."
            )
        change.display_name = as_text(value, "displayName", required=True)
    elif key == "externalid":
        change.external_id = "" if op == "remove" else as_text(value, "externalId")
    elif key in {"members", "members.value"}:
        ids = _member_ids(value)
        if op == "add":
            change.add += ids
        elif op == "remove":
            if ids:
                change.remove += ids
            else:
                change.remove_all = True
        else:
            change.members, change.add, change.remove = ids, [], []
    else:
        raise invalid(f"Operation {index}: Groups have no attribute {key!r}.", "invalidPath")


def group_to_scim(
    *,
    scim_id: str,
    display_name: str,
    external_id: str,
    members: list[tuple[str, str]] | None,
    created: str,
    modified: str,
    base: str,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": [GROUP_URN],
        "id": scim_id,
        "displayName": display_name,
        "meta": {
            "resourceType": "Group",
            "created": created,
            "lastModified": modified,
            "location": f"{base}/Groups/{scim_id}",
        },
    }
    if not display_name:
        del body["displayName"]
    if external_id:
        body["externalId"] = external_id
    if members is not None:
        body["members"] = [
            {"value": m_id, "type": "User", "$ref": f"{base}/Users/{m_id}"} for m_id, _ in members
        ]
    return body
