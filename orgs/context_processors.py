from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from orgs import rbac
from orgs.access import has_admin_access
from orgs.selectors import memberships_for_user


def workspace(request: HttpRequest) -> dict[str, Any]:
    """Org switcher and the navigation the viewer may use."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    membership = getattr(request, "membership", None)
    perms = rbac.permissions_of(membership) if membership is not None else frozenset()
    return {
        "switch_memberships": memberships_for_user(user),
        "current_org": getattr(request, "org", None),
        "current_membership": membership,
        "perms": perms,
        "has_admin_access": has_admin_access(membership) if membership is not None else False,
    }
