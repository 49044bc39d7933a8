"""SCIM filters (RFC 7644 §3.4.2.2) to Django `Q` objects.

Built on scim2-filter-parser's parser and Django transpiler, with the rules that transpiler
lacks: an unknown attribute is an `invalidFilter` error (never a silently dropped clause, which
would widen or empty the result), comparisons follow each attribute's type and caseExact, `pr`
means "has a non-empty value", and case-insensitive equality compares LOWER() values so the
functional indexes are used. The tenant scope is applied by the caller, outside the expression.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from scim2_filter_parser import ast as scim_ast
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser
from scim2_filter_parser.transpilers.django_q_object import Transpiler

from core.input import parse_instant
from scim.exceptions import InvalidFilter
from scim.urns import ENTERPRISE_URN, GROUP_URN, USER_URN

# The filter lexer lower-cases attribute paths, schema URNs included.
CORE_USER = USER_URN.lower()
CORE_GROUP = GROUP_URN.lower()
ENTERPRISE = ENTERPRISE_URN.lower()
MAX_FILTER_LENGTH = 2000


@dataclass(frozen=True)
class Attr:
    path: str = ""  # ORM path
    kind: str = "string"  # string | boolean | datetime | uuid | const
    case_exact: bool = False
    const: str = ""  # for kind="const": the value every row has (e.g. emails.type "work")


Key = tuple[str, str | None, str | None]

USER_ATTRS: dict[Key, Attr] = {
    ("id", None, None): Attr("uid", "uuid", case_exact=True),
    ("username", None, None): Attr("user_name"),
    ("externalid", None, None): Attr("external_id", case_exact=True),
    ("displayname", None, None): Attr("display_name"),
    ("name", "givenname", None): Attr("given_name"),
    ("name", "familyname", None): Attr("family_name"),
    ("emails", None, None): Attr("membership__user__email"),
    ("emails", "value", None): Attr("membership__user__email"),
    ("emails", "type", None): Attr(kind="const", const="work"),
    ("emails", "primary", None): Attr(kind="const", const="true"),
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
    ("members", None, None): Attr("members__membership__idp__uid", "uuid", case_exact=True),
    ("members", "value", None): Attr("members__membership__idp__uid", "uuid", case_exact=True),
    ("meta", "created", None): Attr("created_at", "datetime"),
    ("meta", "lastmodified", None): Attr("updated_at", "datetime"),
}

_MATCH_NONE = Q(pk__in=[])


class _ScimTranspiler(Transpiler):
    def __init__(self, attrs: dict[Key, Attr], core_urn: str) -> None:
        super().__init__({k: v.path for k, v in attrs.items()})
        self.attrs = attrs
        self.core_urn = core_urn

    def attr_for(self, path: scim_ast.AttrPath) -> Attr:
        uri = path.uri.lower() if path.uri else None
        if uri == self.core_urn:
            uri = None
        sub = path.sub_attr.value.lower() if path.sub_attr else None
        key = (path.attr_name.lower(), sub, uri)
        attr = self.attrs.get(key)
        if attr is None:
            name = ".".join(p for p in [path.uri, path.attr_name, sub] if p)
            raise InvalidFilter(
                f"The filter uses the attribute {name!r}, which cannot be filtered on here."
            )
        return attr

    def visit_AttrExpr(self, node: scim_ast.AttrExpr) -> Q:
        if isinstance(node.attr_path.attr_name, scim_ast.Filter):
            # emails[type eq "work"].value eq "x": both parts must hold.
            value_filter = node.attr_path.attr_name
            inner = self.visit(value_filter)
            outer_path = scim_ast.AttrPath(
                value_filter.namespace.attr_name, node.attr_path.sub_attr, node.attr_path.uri
            )
            return inner & self.compare(self.attr_for(outer_path), node)
        return self.compare(self.attr_for(node.attr_path), node)

    def compare(self, attr: Attr, node: scim_ast.AttrExpr) -> Q:
        op = node.value.lower()
        value = self.visit(node.comp_value) if node.comp_value else None
        if attr.kind == "const":
            return self.compare_const(attr, op, value)
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
            if not attr.case_exact:
                lookup = "i" + lookup
            return Q(**{f"{attr.path}__{lookup}": value})  # Django escapes % and _
        if op in {"gt", "ge", "lt", "le"}:
            if attr.kind in {"boolean", "uuid"}:
                raise InvalidFilter(f"{op!r} cannot compare a {attr.kind} attribute.")
            lookup = {"gt": "gt", "ge": "gte", "lt": "lt", "le": "lte"}[op]
            return Q(**{f"{attr.path}__{lookup}": value})
        raise InvalidFilter(f"Unknown operator {op!r}.")

    @staticmethod
    def compare_const(attr: Attr, op: str, value: Any) -> Q:
        text = str(value).lower() if value is not None else None
        holds = {
            "pr": True,
            "eq": text == attr.const,
            "ne": text != attr.const,
            "co": text is not None and text in attr.const,
            "sw": text is not None and attr.const.startswith(text),
            "ew": text is not None and attr.const.endswith(text),
        }.get(op)
        if holds is None:
            raise InvalidFilter(f"{op!r} cannot be used on this attribute.")
        return Q() if holds else _MATCH_NONE

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
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)


def filter_q(expression: str, *, resource: str) -> Q:
    """The Q for a SCIM filter on Users or Groups. Raises InvalidFilter with a plain reason."""
    if len(expression) > MAX_FILTER_LENGTH:
        raise InvalidFilter(f"The filter is longer than {MAX_FILTER_LENGTH} characters.")
    attrs, urn = (USER_ATTRS, CORE_USER) if resource == "User" else (GROUP_ATTRS, CORE_GROUP)
    try:
        tree = SCIMParser().parse(SCIMLexer().tokenize(expression))
    except Exception as exc:  # the parser raises several types; all mean bad syntax
        raise InvalidFilter(
            f"The filter {expression!r} is not valid SCIM filter syntax "
            '(e.g. userName eq "ada@example.com").'
        ) from exc
    if tree is None:
        raise InvalidFilter("The filter is empty.")
    try:
        query = _ScimTranspiler(attrs, urn).transpile(tree)
    except InvalidFilter:
        raise
    except (ValueError, NotImplementedError, AttributeError) as exc:
        raise InvalidFilter(f"The filter {expression!r} cannot be evaluated: {exc}.") from exc
    if not isinstance(query, Q):
        raise InvalidFilter(f"The filter {expression!r} selects nothing that can be filtered.")
    return query
