"""How custom role and team names and permission lists are checked before they are stored."""

from __future__ import annotations

from collections.abc import Iterable

from core.exceptions import Conflict, ValidationFailed
from orgs import rbac
from orgs.models import CustomRole, Organization, Team, name_key

NAME_MAX = 100


def clean_name(name: str, what: str) -> str:
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise ValidationFailed(f"The {what} name cannot be empty.", field="name")
    if len(cleaned) > NAME_MAX:
        raise ValidationFailed(
            f"The {what} name must be at most {NAME_MAX} characters.", field="name"
        )
    return cleaned


def clean_permissions(permissions: Iterable[str]) -> list[str]:
    if isinstance(permissions, str):
        raise ValidationFailed(
            "permissions must be a list of capability codes.", field="permissions"
        )
    perms = list(dict.fromkeys(permissions))
    unknown = [p for p in perms if not isinstance(p, str) or p not in rbac.CATALOG_CODES]
    if unknown:
        raise ValidationFailed(
            "Unknown permission(s): " + ", ".join(map(str, unknown)) + ". See the permission "
            "catalog for valid codes.",
            field="permissions",
        )
    return sorted(perms)


def ensure_name_free(
    model: type[CustomRole] | type[Team], org: Organization, name: str, exclude: int | None
) -> None:
    """Role and team names are unique per org, compared case- and whitespace-insensitively.
    (The database constraint on name_key backs this up under concurrency.)"""
    qs = model.objects.filter(org=org, name_key=name_key(name))
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    if qs.exists():
        what = "custom role" if model is CustomRole else "team"
        raise Conflict(
            f"A {what} named {name!r} already exists (names compare case- and "
            "whitespace-insensitively).",
            field="name",
        )
