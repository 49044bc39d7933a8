"""Who is acting, and what they may hand out: the checks every orgs service shares."""

from __future__ import annotations

from collections.abc import Iterable

from core.actors import Actor
from core.exceptions import NotFound, PermissionDenied
from identity.models import User
from orgs import rbac
from orgs.models import ApiKey, Membership, Organization


def acting_membership(actor: Actor | None, org: Organization) -> Membership | None:
    """The membership an actor acts through in `org`; None for the system (unrestricted)."""
    if actor is None:
        return None
    if isinstance(actor, ApiKey):
        return actor.membership if actor.membership.org_id == org.pk else _no_access(org)
    if isinstance(actor, User):
        membership = Membership.objects.filter(org=org, user=actor, is_active=True).first()
        return membership or _no_access(org)
    return None  # SCIM tokens: their services apply their own limits (never grant admin)


def _no_access(org: Organization) -> Membership:
    raise PermissionDenied(f"You are not an active member of {org.name}.")


def require_admin_for_admin_changes(actor: Actor | None, org: Organization) -> None:
    acting = acting_membership(actor, org)
    if acting is not None and not rbac.is_admin(acting):
        raise PermissionDenied("Only an org admin can grant, remove or act on the admin role.")


def require_grantable(actor: Actor | None, org: Organization, perms: Iterable[str]) -> None:
    """A delegated (non-admin) manager cannot hand out permissions they do not hold."""
    acting = acting_membership(actor, org)
    if acting is None or rbac.is_admin(acting):
        return
    missing = sorted(set(perms) - rbac.permissions_of(acting))
    if missing:
        raise PermissionDenied(
            "You cannot grant permissions you do not hold yourself: " + ", ".join(missing) + "."
        )


def lock_membership(membership: Membership) -> Membership:
    try:
        return (
            Membership.objects.select_for_update()
            .select_related("user", "org")
            .get(pk=membership.pk)
        )
    except Membership.DoesNotExist as exc:
        raise NotFound("That member does not exist.") from exc
