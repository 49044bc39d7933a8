"""Members: adding a person, their RBAC role, deactivation (which ends their sessions' access to
this organization and revokes their API keys here, at once) and reactivation. An organization
always keeps an active admin, and acts only on itself: deactivation here leaves the person's
access to every other organization as it was."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from audit.choices import AuditAction
from audit.services import audit_record
from core.actors import Actor
from core.exceptions import Conflict, LastAdminError, ValidationFailed
from identity import services as identity
from identity.models import User
from identity.selectors import user_by_email
from orgs.choices import MembershipSource, RbacRole
from orgs.models import ApiKey, Membership, Organization
from orgs.services.guards import (
    lock_membership,
    recheck_admin_after_lock,
    require_admin_for_admin_changes,
)


@dataclass(frozen=True)
class MembershipAdded:
    membership: Membership
    user_created: bool
    one_time_password: str | None  # shown once to whoever added the member, never stored


@transaction.atomic
def membership_add(
    *,
    org: Organization,
    email: str,
    full_name: str = "",
    role: str = RbacRole.MEMBER,
    source: str = MembershipSource.MANUAL,
    actor: Actor | None,
    set_password: bool = True,
) -> MembershipAdded:
    """Add a person to the org, creating the user when the e-mail is new (with a one-time
    password they must change at first sign-in)."""
    email = identity.clean_email(email)
    # No org-wide lock: the unique constraints on (org, user) and on LOWER(email) decide
    # concurrent adds of one person, and the loser gets a Conflict.
    user = user_by_email(email)
    if user is not None and Membership.objects.filter(org=org, user=user).exists():
        raise Conflict(f"{email} is already a member of {org.name}.", field="email")
    return membership_insert(
        org=org,
        user=user,
        email=email,
        full_name=full_name,
        role=role,
        source=source,
        actor=actor,
        set_password=set_password,
    )


def membership_insert(
    *,
    org: Organization,
    user: User | None,
    email: str,
    full_name: str = "",
    role: str = RbacRole.MEMBER,
    source: str = MembershipSource.MANUAL,
    actor: Actor | None,
    set_password: bool = True,
) -> MembershipAdded:
    """The write of `membership_add`, for a service that already holds the transaction and has
    looked the person up: `user` is who has the e-mail, or None to create them. A concurrent
    add of the same person ends in `Conflict` from the unique constraints."""
    if role not in RbacRole.values:
        raise ValidationFailed(f"Unknown RBAC role {role!r}: use admin or member.", field="role")
    if source not in MembershipSource.values:
        raise ValidationFailed(f"Unknown membership source {source!r}.", field="source")
    if role == RbacRole.ADMIN:
        require_admin_for_admin_changes(actor, org)
    password = None
    created = user is None
    if user is None:
        password = identity.generate_password() if set_password else None
        user = identity.user_create(
            email=email,
            full_name=full_name,
            password=password,
            password_change_required=bool(password),
            actor=actor,
            org=org,
        )
    try:
        membership = Membership.objects.create(org=org, user=user, role=role, source=source)
    except IntegrityError as exc:
        raise Conflict(f"{email} is already a member of {org.name}.", field="email") from exc
    audit_record(
        action=AuditAction.MEMBER_ADDED,
        org=org,
        actor=actor,
        target=membership,
        data={"new": {"email": email, "role": role, "source": source, "status": "active"}},
    )
    return MembershipAdded(membership=membership, user_created=created, one_time_password=password)


def _ensure_another_admin(membership: Membership, verb: str) -> None:
    """An org always keeps at least one active admin. Locks the admin rows, so two concurrent
    demotions cannot both pass."""
    admins = list(
        Membership.objects.select_for_update()
        .order_by("pk")
        .filter(org_id=membership.org_id, role=RbacRole.ADMIN, is_active=True)
        .values_list("pk", flat=True)
    )
    if not [pk for pk in admins if pk != membership.pk]:
        raise LastAdminError(
            f"{membership.user.email} is the last active admin of {membership.org.name}; "
            f"make another member admin before you {verb} them."
        )


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str, actor: Actor | None) -> Membership:
    if role not in RbacRole.values:
        raise ValidationFailed(f"Unknown RBAC role {role!r}: use admin or member.", field="role")
    if membership.role != role:
        require_admin_for_admin_changes(actor, membership.org, as_authenticated=True)  # 403 first
    membership = lock_membership(membership)
    if membership.role == role:
        return membership
    recheck_admin_after_lock(actor, membership.org)
    if membership.role == RbacRole.ADMIN and membership.is_active:
        _ensure_another_admin(membership, "demote")
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    audit_record(
        action=AuditAction.MEMBER_ROLE_CHANGED,
        org=membership.org,
        actor=actor,
        target=membership,
        data={"old": {"role": old}, "new": {"role": role}},
    )
    return membership


@transaction.atomic
def membership_deactivate(*, membership: Membership, actor: Actor | None) -> Membership:
    """Deactivate at once: every session signed in until now loses this org for good (even
    after a reactivation), and the member's API keys here are revoked, in the same transaction.
    Their access to other organizations is not this org's to end; nothing they made is
    deleted."""
    if membership.role == RbacRole.ADMIN:
        require_admin_for_admin_changes(actor, membership.org, as_authenticated=True)
    membership = lock_membership(membership)
    if not membership.is_active:
        return membership
    if membership.role == RbacRole.ADMIN:
        recheck_admin_after_lock(actor, membership.org)
        _ensure_another_admin(membership, "deactivate")
    now = timezone.now()
    membership.is_active = False
    membership.deactivated_at = now
    membership.sessions_not_before = now
    membership.save(
        update_fields=["is_active", "deactivated_at", "sessions_not_before", "updated_at"]
    )
    keys = ApiKey.objects.filter(membership=membership, revoked_at__isnull=True).update(
        revoked_at=now
    )
    audit_record(
        action=AuditAction.MEMBER_DEACTIVATED,
        org=membership.org,
        actor=actor,
        target=membership,
        data={
            "old": {"status": "active"},
            "new": {"status": "deactivated"},
            "sessions_ended_before": now.isoformat(),
            "api_keys_revoked": keys,
        },
    )
    # What the layers above must end with the membership (credentials: the member's service
    # tokens revoked), in this transaction; the project wires them in settings.
    for path in settings.GOVERNANCE_ON_MEMBER_DEACTIVATED:
        import_string(path)(membership, actor)
    return membership


@transaction.atomic
def membership_reactivate(*, membership: Membership, actor: Actor | None) -> Membership:
    if membership.role == RbacRole.ADMIN:
        require_admin_for_admin_changes(actor, membership.org, as_authenticated=True)
    membership = lock_membership(membership)
    if membership.is_active:
        return membership
    if membership.role == RbacRole.ADMIN:
        recheck_admin_after_lock(actor, membership.org)
    membership.is_active = True
    membership.deactivated_at = None
    membership.save(update_fields=["is_active", "deactivated_at", "updated_at"])
    audit_record(
        action=AuditAction.MEMBER_REACTIVATED,
        org=membership.org,
        actor=actor,
        target=membership,
        data={"old": {"status": "deactivated"}, "new": {"status": "active"}},
    )
    return membership
