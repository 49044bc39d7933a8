from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


def _short(value: Any) -> str:
    """A value as people read it: lists joined, objects as `key=value`, never a Python repr."""
    if isinstance(value, list | tuple):
        return ", ".join(_short(v) for v in value) or "∅"
    if isinstance(value, dict):
        return "(" + ", ".join(f"{k}={_short(v)}" for k, v in value.items()) + ")" if value else "∅"
    if value is None or value == "":
        return "∅"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@register.filter
def audit_change(data: dict[str, Any] | None) -> list[str]:
    """One line per changed field: 'role: member → admin'; other keys as 'key: value'."""
    if not data:
        return []
    old = data.get("old") if isinstance(data.get("old"), dict) else {}
    new = data.get("new") if isinstance(data.get("new"), dict) else {}
    lines = []
    for key in dict.fromkeys([*old, *new]):
        if key in old and key in new:
            lines.append(f"{key}: {_short(old[key])} → {_short(new[key])}")
        elif key in new:
            lines.append(f"{key}: {_short(new[key])}")
        else:
            lines.append(f"{key}: {_short(old[key])} (removed)")
    lines += [f"{k}: {_short(v)}" for k, v in data.items() if k not in {"old", "new"}]
    return lines


@register.filter
def audit_value(value: Any) -> str:
    """One value as people read it (lists joined, objects as key=value, never a repr)."""
    return _short(value)


@register.filter
def pretty_json(data: Any) -> str:
    """An event's `data` as indented JSON (the template escapes it)."""
    import json

    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str)
