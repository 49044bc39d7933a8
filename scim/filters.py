"""SCIM filters (RFC 7644 §3.4.2.2) to Django `Q` objects.

The expression is parsed by scim.filter_syntax (precedence `not` > `and` > `or`, JSON string
escapes); here each comparison becomes a `Q` with the rules clients need: an unknown attribute
is an `invalidFilter` error (never a silently dropped clause, which would widen or empty the
result), comparisons follow each attribute's type and caseExact, `pr` means "has a non-empty
value", case-insensitive comparisons compare LOWER() values (Unicode on both databases:
core.db) so the functional indexes are used, and a multi-valued attribute (a user's `emails`,
a group's `members`) matches when any one of its items does: value paths such as
`emails[type eq "work" and value co "@x"]` need one item to satisfy the whole inner filter.
The tenant scope is applied by the caller, outside the expression.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, Model, OuterRef, Q

from core.input import parse_instant
from mapping.models import IdpGroupMember, IdpUserEmail
from scim import filter_syntax as fs
from scim.exceptions import InvalidFilter
from scim.urns import ENTERPRISE_URN, GROUP_URN, USER_URN

CORE_USER = USER_URN.lower()
CORE_GROUP = GROUP_URN.lower()
ENTERPRISE = ENTERPRISE_URN.lower()
MAX_FILTER_LENGTH = 2000

# Multi-valued attributes live in their own rows: (model, the foreign key to the resource).
RELATIONS: dict[str, tuple[type[Model], str]] = {
    "emails": (IdpUserEmail, "idp_user"),
    "members": (IdpGroupMember, "group"),
}


@dataclass(frozen=True)
class Attr:
    path: str = ""  # ORM path
    kind: str = "string"  # string | boolean | datetime | uuid
    case_exact: bool = False
    relation: str = ""  # a key of RELATIONS: `path` is a field of that model


Key = tuple[str, str | None, str | None]

USER_ATTRS: dict[Key, Attr] = {
    ("id", None, None): Attr("uid", "uuid", case_exact=True),
    ("username", None, None): Attr("user_name"),
    ("externalid", None, None): Attr("external_id", case_exact=True),
    ("displayname", None, None): Attr("display_name"),
    ("name", "givenname", None): Attr("given_name"),
    ("name", "familyname", None): Attr("family_name"),
    ("emails", None, None): Attr("value", relation="emails"),
    ("emails", "value", None): Attr("value", relation="emails"),
    ("emails", "type", None): Attr("type", relation="emails"),
    ("emails", "primary", None): Attr("primary", "boolean", relation="emails"),
    ("active", None, None): Attr("membership__is_active", "boolean"),
    ("meta", "created", None): Attr("created_at", "datetime"),
    ("meta", "lastmodified", None): Attr("updated_at", "datetime"),
    ("department", None, ENTERPRISE): Attr("department"),
    ("employeenumber", None, ENTERPRISE): Attr("employee_number", case_exact=True),
    ("manager", None, ENTERPRISE): Attr("manager_id", case_exact=True),
    ("manager", "value", ENTERPRISE): Attr("manager_id", case_exact=True),
}

GROUP_ATTRS: dict[Key, Attr] = {
    ("id", None, None): Attr("uid", "uuid", case_exact=True),
    ("displayname", None, None): Attr("display_name"),
    ("externalid", None, None): Attr("external_id", case_exact=True),
    ("members", None, None): Attr(
        "membership__idp__uid", "uuid", case_exact=True, relation="members"
    ),
    ("members", "value", None): Attr(
        "membership__idp__uid", "uuid", case_exact=True, relation="members"
    ),
    ("meta", "created", None): Attr("created_at", "datetime"),
    ("meta", "lastmodified", None): Attr("updated_at", "datetime"),
}

_MATCH_NONE = Q(pk__in=[])


class _Builder:
    def __init__(self, attrs: dict[Key, Attr], core_urn: str) -> None:
        self.attrs = attrs
        self.core_urn = core_urn

    def attr_for(self, path: fs.AttrPath, within: str = "") -> Attr:
        """The attribute a path names; `within` a multi-valued attribute, paths name its
        sub-attributes (`type` in emails[type eq "work"])."""
        uri = path.uri.lower() if path.uri else None
        if uri == self.core_urn:
            uri = None
        if within:
            if uri is not None or path.sub is not None:
                raise InvalidFilter(f"Inside {within}[...], name a sub-attribute such as value.")
            key: Key = (within, path.attr.lower(), None)
        else:
            key = (path.attr.lower(), path.sub.lower() if path.sub else None, uri)
        attr = self.attrs.get(key)
        if attr is None:
            name = f"{within}.{path.attr}" if within else str(path)
            raise InvalidFilter(
                f"The filter uses the attribute {name!r}, which cannot be filtered on here."
            )
        return attr

    def build(self, node: fs.Node, within: str = "") -> Q:
        if isinstance(node, fs.And):
            return self.build(node.left, within) & self.build(node.right, within)
        if isinstance(node, fs.Or):
            return self.build(node.left, within) | self.build(node.right, within)
        if isinstance(node, fs.Not):
            return ~self.build(node.inner, within)
        if isinstance(node, fs.ValuePath):
            if within:
                raise InvalidFilter("A value filter cannot nest another value filter.")
            name = node.path.attr.lower()
            if (
                name not in RELATIONS
                or node.path.sub
                or (node.path.uri and node.path.uri.lower() != self.core_urn)
            ):
                raise InvalidFilter(
                    f"{str(node.path)!r} is not a multi-valued attribute that takes a value "
                    "filter here (emails on Users, members on Groups)."
                )
            return self._exists(name, self.build(node.filter, within=name))
        attr = self.attr_for(node.path, within)
        leaf = self.compare(attr, node.op, node.value)
        if attr.relation and not within:
            # Any one item: `emails.value eq "x"` holds when some address is x, and
            # `ne` when none is.
            if node.op == "ne":
                return ~self._exists(attr.relation, self.compare(attr, "eq", node.value))
            return self._exists(attr.relation, leaf)
        return leaf

    @staticmethod
    def _exists(relation: str, q: Q) -> Q:
        model, fk = RELATIONS[relation]
        return Q(Exists(model.objects.filter(q, **{fk: OuterRef("pk")})))

    def compare(self, attr: Attr, op: str, value: Any) -> Q:
        if op == "pr":
            if attr.kind == "string":
                return Q(**{f"{attr.path}__isnull": False}) & ~Q(**{attr.path: ""})
            return Q(**{f"{attr.path}__isnull": False})
        value = self.coerce(attr, op, value)
        if op in {"eq", "ne"}:
            if value is None:
                q = Q(**{f"{attr.path}__isnull": True})
                if attr.kind == "string":
                    q |= Q(**{attr.path: ""})
            elif attr.kind == "string" and not attr.case_exact:
                q = Q(**{f"{attr.path}__lower": value.lower()})
            else:
                q = Q(**{attr.path: value})
            return ~q if op == "ne" else q
        if op in {"co", "sw", "ew"}:
            if attr.kind != "string":
                raise InvalidFilter(f"{op!r} needs a string attribute.")
            lookup = {"co": "contains", "sw": "startswith", "ew": "endswith"}[op]
            if attr.case_exact:
                return Q(**{f"{attr.path}__{lookup}": value})  # Django escapes % and _
            return Q(**{f"{attr.path}__lower__{lookup}": value.lower()})
        if op in {"gt", "ge", "lt", "le"}:
            if attr.kind in {"boolean", "uuid"}:
                raise InvalidFilter(f"{op!r} cannot compare a {attr.kind} attribute.")
            lookup = {"gt": "gt", "ge": "gte", "lt": "lt", "le": "lte"}[op]
            if attr.kind == "string" and not attr.case_exact:
                return Q(**{f"{attr.path}__lower__{lookup}": value.lower()})
            return Q(**{f"{attr.path}__{lookup}": value})
        raise InvalidFilter(f"Unknown operator {op!r}.")

    @staticmethod
    def coerce(attr: Attr, op: str, value: Any) -> Any:
        if value is None:
            if op not in {"eq", "ne"}:
                raise InvalidFilter(f"{op!r} cannot compare with null.")
            return None
        if attr.kind == "boolean":
            if isinstance(value, str) and value.lower() in {"true", "false"}:
                return value.lower() == "true"
            if isinstance(value, bool):
                return value
            raise InvalidFilter(f"{value!r} is not a boolean (use true or false).")
        if attr.kind == "datetime":
            # No offset means UTC, as meta dates are written; 0001-01-01T00:00:00+14:00 is
            # before the year 1 in UTC and so no date-time at all.
            parsed = parse_instant(value)
            if parsed is None:
                raise InvalidFilter(
                    f"{value!r} is not a date-time between the years 1 and 9999 in UTC "
                    "(use 2026-01-31T12:00:00Z)."
                )
            return parsed
        if attr.kind == "uuid":
            try:
                return uuid.UUID(str(value))
            except ValueError:
                return uuid.UUID(int=0)  # a well-formed id that no row has
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise InvalidFilter(f"{value!r} cannot be compared with a string attribute.")
        return str(value)


def filter_q(expression: str, *, resource: str) -> Q:
    """The Q for a SCIM filter on Users or Groups. Raises InvalidFilter with a plain reason."""
    if not isinstance(expression, str):
        raise InvalidFilter("The filter must be a string.")
    if len(expression) > MAX_FILTER_LENGTH:
        raise InvalidFilter(f"The filter is longer than {MAX_FILTER_LENGTH} characters.")
    attrs, urn = (USER_ATTRS, CORE_USER) if resource == "User" else (GROUP_ATTRS, CORE_GROUP)
    return _Builder(attrs, urn).build(fs.parse_filter(expression))
