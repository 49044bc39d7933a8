"""SCIM PATCH (RFC 7644 §3.5.2) of a User: the operations applied to its SCIM representation,
as Okta and Entra send them (no-path replace, capitalised ops, value paths, enterprise URNs)."""

from __future__ import annotations

import copy
from typing import Any

from scim import filter_syntax as fs
from scim.adapters import invalid
from scim.exceptions import InvalidFilter
from scim.schemas import SUPPORTED
from scim.urns import ENTERPRISE_URN

READ_ONLY = {"id", "meta"}
# Accepted and not stored: Okta sends `password`; sign-in is the IdP's job.
IGNORED = {"password"}


def _known(section: str | None, attr: str, core_urn: str) -> tuple[str, set[str] | None]:
    """The attribute's canonical name and its sub-attributes (None: simple), or invalidPath."""
    schema = SUPPORTED.get(section or core_urn, {})
    if section is None and attr.lower() == "externalid":
        return "externalId", None
    for name, subs in schema.items():
        if name.lower() == attr.lower():
            return name, subs
    where = "the enterprise extension" if section else "Users"
    raise invalid(
        f"{attr!r} is not an attribute of {where} here (see /Schemas for the attributes this "
        "service stores).",
        "invalidPath",
    )


def _check_sub(attr: str, subs: set[str] | None, sub: str) -> str:
    for name in subs or ():
        if name.lower() == sub.lower():
            return name
    raise invalid(f"{attr} has no sub-attribute {sub!r}.", "invalidPath")


def _filter_paths(node: fs.Node) -> list[fs.AttrPath]:
    if isinstance(node, fs.And | fs.Or):
        return _filter_paths(node.left) + _filter_paths(node.right)
    if isinstance(node, fs.Not):
        return _filter_paths(node.inner)
    if isinstance(node, fs.ValuePath):
        raise invalid("A value filter cannot nest another value filter.", "invalidPath")
    return [node.path]


def _eq_parts(node: fs.Node) -> dict[str, Any] | None:
    """The item a filter of `eq` comparisons joined by `and` describes; None for any other."""
    if isinstance(node, fs.And):
        left, right = _eq_parts(node.left), _eq_parts(node.right)
        return {**left, **right} if left is not None and right is not None else None
    if isinstance(node, fs.Compare) and node.op == "eq" and node.path.sub is None:
        return {node.path.attr: node.value}
    return None


def _split_urn(path: str, core_urn: str) -> tuple[str | None, str]:
    """('enterprise' section or None, the attribute path within it)."""
    lowered = path.lower()
    for urn, section in ((ENTERPRISE_URN, ENTERPRISE_URN), (core_urn, None)):
        if lowered.startswith(urn.lower() + ":"):
            return section, path[len(urn) + 1 :]
        if lowered == urn.lower():
            return section, ""
    return None, path


def _container(resource: dict[str, Any], section: str | None) -> dict[str, Any]:
    if section is None:
        return resource
    return resource.setdefault(section, {})


def _key(obj: dict[str, Any], name: str) -> str:
    for key in obj:
        if key.lower() == name.lower():
            return key
    return name


def _set(resource: dict[str, Any], path: str, value: Any, op: str, core_urn: str) -> None:
    section, path = _split_urn(path, core_urn)
    target = _container(resource, section)
    if not path and section is None:
        raise invalid("A path names an attribute, not only the core schema.", "invalidPath")
    if not path:  # the whole extension object
        if op == "remove":
            resource.pop(section, None)
            return
        if not isinstance(value, dict):
            raise invalid(f"The value for {section} must be an object.")
        for k, v in value.items():
            if k.lower() != "schemas":
                _set(resource, f"{section}:{k}", v, op, core_urn)
        return
    try:
        parsed = fs.parse_patch_path(path)
    except InvalidFilter as exc:
        raise invalid(f"The path {path!r} is malformed: {exc.args[0]}", "invalidPath") from None
    if parsed.path.uri is not None:
        raise invalid(f"The path {path!r} names an unknown schema.", "invalidPath")
    head_name = parsed.path.attr
    if head_name.lower() in READ_ONLY:
        raise invalid(f"{head_name} is read-only and cannot be changed.", "mutability")
    if head_name.lower() in IGNORED and section is None:
        return
    canonical, subs = _known(section, head_name, core_urn)
    if parsed.filter is not None:  # emails[type eq "work" and value co "@x"].value
        if subs is None:
            raise invalid(f"{canonical} is not multi-valued.", "invalidPath")
        for item_path in _filter_paths(parsed.filter):
            if item_path.uri or item_path.sub:
                raise invalid(f"Inside {canonical}[...], name a sub-attribute.", "invalidPath")
            _check_sub(canonical, subs, item_path.attr)
        rest = _check_sub(canonical, subs, parsed.sub) if parsed.sub else None
        items = target.setdefault(_key(target, canonical), [])
        if not isinstance(items, list):
            raise invalid(f"{canonical} is not multi-valued.", "invalidPath")
        hits = [i for i in items if isinstance(i, dict) and fs.matches(parsed.filter, i)]
        if op == "remove":
            if rest:
                for h in hits:
                    h.pop(_key(h, rest), None)
            else:
                items[:] = [i for i in items if i not in hits]
            return
        if not hits:
            described = _eq_parts(parsed.filter)
            if described is None:
                raise invalid(
                    f"No item of {canonical} matches {path!r}, and the filter does not describe "
                    "one to add (use eq comparisons joined by and).",
                    "noTarget",
                )
            hits = [described]
            items.append(described)
        for h in hits:
            if rest:
                h[_key(h, rest)] = value
            elif isinstance(value, dict):
                h.update(value)
            else:
                raise invalid(f"The value for {path!r} must be an object.", "invalidValue")
        return
    if parsed.path.sub:
        sub = parsed.path.sub
        if subs is None:
            raise invalid(f"{canonical} has no sub-attribute {sub!r}.", "invalidPath")
        _check_sub(canonical, subs, sub)
        path = f"{canonical}.{sub}"
    else:
        path = canonical
    head, _, tail = path.partition(".")
    key = _key(target, head)
    if tail:
        inner = target.setdefault(key, {})
        if not isinstance(inner, dict):
            raise invalid(f"{head} has no sub-attribute {tail}.", "invalidPath")
        if op == "remove":
            inner.pop(_key(inner, tail), None)
        else:
            inner[_key(inner, tail)] = value
        return
    if op == "remove":
        if isinstance(value, list) and isinstance(target.get(key), list):
            drop = {str(v.get("value") if isinstance(v, dict) else v).lower() for v in value}
            target[key] = [
                i
                for i in target[key]
                if str(i.get("value") if isinstance(i, dict) else i).lower() not in drop
            ]
        else:
            target.pop(key, None)
        return
    if op == "add" and isinstance(value, list) and isinstance(target.get(key), list):
        existing = {str(i.get("value") if isinstance(i, dict) else i).lower() for i in target[key]}
        target[key] = target[key] + [
            v
            for v in value
            if str(v.get("value") if isinstance(v, dict) else v).lower() not in existing
        ]
        return
    if op == "add" and isinstance(value, dict) and isinstance(target.get(key), dict):
        target[key] = {**target[key], **value}
        return
    target[key] = value


def apply_patch(resource: dict[str, Any], body: Any, core_urn: str) -> dict[str, Any]:
    """A new representation with the PatchOp applied. Raises before anything is written."""
    if not isinstance(body, dict) or not isinstance(body.get("Operations"), list):
        raise invalid("A PATCH body is a PatchOp with an Operations list.", "invalidSyntax")
    result = copy.deepcopy(resource)
    for index, operation in enumerate(body["Operations"]):
        if not isinstance(operation, dict):
            raise invalid(f"Operation {index} is not an object.", "invalidSyntax")
        op = str(operation.get("op", "")).strip().lower()  # Entra: "Replace", "Add", "Remove"
        if op not in {"add", "replace", "remove"}:
            raise invalid(
                f"Operation {index}: op must be add, replace or remove, not "
                f"{operation.get('op')!r}.",
                "invalidSyntax",
            )
        path = operation.get("path")
        value = operation.get("value")
        if path is None or path == "":
            if op == "remove":
                raise invalid(f"Operation {index}: remove needs a path.", "noTarget")
            if not isinstance(value, dict):
                raise invalid(
                    f"Operation {index}: without a path, value must be an object.", "invalidValue"
                )
            for key, item in value.items():  # Okta and Entra: no-path replace
                if key.lower() == "schemas" or (key.lower() == "id" and item == resource.get("id")):
                    continue  # repeated as they are: nothing to change
                _set(result, key, item, op, core_urn)
            continue
        if (
            isinstance(path, str)
            and path.strip().lower() in {"active", f"{core_urn}:active".lower()}
            and op == "remove"
        ):
            raise invalid(
                f"Operation {index}: active cannot be removed; replace it with false "
                "to deactivate the user.",
                "mutability",
            )
        if not isinstance(path, str) or len(path) > 500:
            raise invalid(f"Operation {index}: path must be a string.", "invalidPath")
        if op != "remove" and "value" not in operation:
            raise invalid(f"Operation {index}: {op} needs a value.", "invalidValue")
        _set(result, path, value, op, core_urn)
    return result
