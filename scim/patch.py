"""SCIM PATCH (RFC 7644 §3.5.2) of a User: the operations applied to its SCIM representation,
as Okta and Entra send them (no-path replace, capitalised ops, value paths, enterprise URNs)."""

from __future__ import annotations

import copy
import re
from typing import Any

from scim.adapters import invalid
from scim.urns import ENTERPRISE_URN

_FILTER = re.compile(
    r'^(?P<attr>[\w$-]+)\[(?P<sub>[\w$-]+)\s+eq\s+"(?P<val>(?:[^"\\]|\\.)*)"\]'
    r"(?:\.(?P<rest>[\w$.-]+))?$",
    re.IGNORECASE,
)


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
    if not path:  # the whole extension object
        if op == "remove":
            resource.pop(section, None)
            return
        if not isinstance(value, dict):
            raise invalid(f"The value for {section} must be an object.")
        for k, v in value.items():
            _set(resource, f"{section}:{k}", v, op, core_urn)
        return
    match = _FILTER.match(path)
    if match:  # emails[type eq "work"].value, members[value eq "id"]
        attr, sub, wanted, rest = match["attr"], match["sub"], match["val"], match["rest"]
        items = target.setdefault(_key(target, attr), [])
        if not isinstance(items, list):
            raise invalid(f"{attr} is not multi-valued.", "invalidPath")
        hits = [
            i
            for i in items
            if isinstance(i, dict) and str(i.get(sub, "")).lower() == wanted.lower()
        ]
        if op == "remove":
            if rest:
                for h in hits:
                    h.pop(rest, None)
            else:
                items[:] = [i for i in items if i not in hits]
            return
        if not hits:
            hits = [{sub: wanted}]
            items.append(hits[0])
        for h in hits:
            if rest:
                h[rest] = value
            elif isinstance(value, dict):
                h.update(value)
        return
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
