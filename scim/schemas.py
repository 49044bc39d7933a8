"""The schema documents /Schemas serves: RFC 7643's, trimmed to the attributes this service
stores and returns, so that a client (or a checker) is never told of one we would drop."""

from __future__ import annotations

import copy
from typing import Any

from django_scim.schemas import ALL

from scim.adapters import EXTRA_ENTERPRISE, EXTRA_MULTI, EXTRA_NAME, EXTRA_SINGULAR
from scim.urns import ENTERPRISE_URN, GROUP_URN, USER_URN

SUPPORTED: dict[str, dict[str, set[str] | None]] = {
    # attribute -> the sub-attributes kept (None: a simple attribute)
    USER_URN: {
        "userName": None,
        "externalId": None,
        "name": {"givenName", "familyName", *EXTRA_NAME},
        "displayName": None,
        "emails": {"value", "type", "primary"},
        "active": None,
        "roles": {"value", "display"},
        **dict.fromkeys(EXTRA_SINGULAR),
        **{attr: set(subs) for attr, subs in EXTRA_MULTI.items()},
    },
    ENTERPRISE_URN: {
        "employeeNumber": None,
        "department": None,
        "manager": {"value"},
        **dict.fromkeys(EXTRA_ENTERPRISE),
    },
    GROUP_URN: {"displayName": None, "externalId": None, "members": {"value", "$ref", "type"}},
}


# `active` is always stored and returned (a membership is active or deactivated), so it is
# published as required: it can be replaced, never removed.
# A group's `displayName` is required and unique per organization (name-based mapping and
# Entra's group matching depend on it).
REQUIRED = {(USER_URN, "active"), (GROUP_URN, "displayName")}


def _trim(doc: dict[str, Any]) -> dict[str, Any]:
    keep = SUPPORTED[doc["id"]]
    out = copy.deepcopy(doc)
    attrs = []
    for attr in out.get("attributes", []):
        if attr["name"] not in keep:
            continue
        subs = keep[attr["name"]]
        if subs is not None and "subAttributes" in attr:
            attr["subAttributes"] = [s for s in attr["subAttributes"] if s["name"] in subs]
        if (doc["id"], attr["name"]) in REQUIRED:
            attr["required"] = True
        attrs.append(attr)
    out["attributes"] = attrs
    return out


RESOURCE_SCHEMAS: dict[str, dict[str, Any]] = {
    d["id"]: _trim(d) for d in ALL if d["id"] in SUPPORTED
}
