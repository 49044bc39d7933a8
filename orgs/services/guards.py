"""Who is acting, and what they may hand out: the checks every orgs service shares."""

from __future__ import annotations

from collections.abc import Iterable

from core.actors import Actor
from core.exceptions import Conflict, NotFound, PermissionDenied
from identity.models import User
from orgs import rbac
from orgs.models import ApiKey, Membership, Organization


def acting_membership(
    actor: Actor | None, org: Organization, *, as_authenticated: bool = False
) -> Membership | None:
    """The membership an actor acts through in `org`; None for the system (unrestricted).
    `as_authenticated`: an API key's membership as it was when the request was authenticated
    (what the caller was when it asked), not as it is now."""
    if actor is None:
        return None
    if isinstance(actor, ApiKey):
        if actor.membership.org_id != org.pk:
            return _no_access(org)
        if as_authenticated:
            return actor.membership if actor.membership.is_active else _no_access(org)
        # Read again: the role may have changed since the key was authenticated (a concurrent
        # demotion), and what the actor may do is decided on the current row.
        current = Membership.objects.filter(pk=actor.membership_id, is_active=True).first()
        return current or _no_access(org)
    if isinstance(actor, User):
        membership = Membership.objects.filter(org=org, user=actor, is_active=True).first()
        return membership or _no_access(org)
    return None  # SCIM tokens: their services apply their own limits (never grant admin)


def _no_access(org: Organization) -> Membership:
    raise PermissionDenied(f"You are not an active member of {org.name}.")


def require_admin_for_admin_changes(
    actor: Actor | None, org: Organization, *, as_authenticated: bool = False
) -> None:
    acting = acting_membership(actor, org, as_authenticated=as_authenticated)
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


# Lock order, everywhere: the organization row first, then membership rows, then anything
# else. Every `select_for_update` that joins names `of=("self",)`, so a statement never locks a
# joined row (an organization) behind the rows it is about. Two admins demoting each other at
# once used to take (member A, org) and (member B, org) in opposite orders and deadlock.


def lock_org(org_id: int) -> None:
    """Serialize changes to an organization's people: the first lock every such write takes."""
    list(Organization.objects.select_for_update().filter(pk=org_id).values_list("pk"))


def lock_membership(membership: Membership) -> Membership:
    """The organization row, then this membership row (read again: another transaction may have
    changed it while this one waited)."""
    lock_org(membership.org_id)
    try:
        return (
            Membership.objects.select_for_update(of=("self",))
            .select_related("user", "org")
            .get(pk=membership.pk)
        )
    except Membership.DoesNotExist as exc:
        raise NotFound("That member does not exist.") from exc


def recheck_admin_after_lock(actor: Actor | None, org: Organization) -> None:
    """The actor was an admin when the request came in (checked before locking, on what the
    request was authenticated as); if a concurrent change took that away since, this change
    loses: 409."""
    try:
        require_admin_for_admin_changes(actor, org)
    except PermissionDenied as exc:
        raise Conflict(
            "Your admin role changed while this request waited for another admin's change to "
            "finish; nothing was changed. Reload the page to see the current roles."
        ) from exc
