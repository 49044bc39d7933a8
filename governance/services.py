"""Every write to organizations, members, custom roles, teams and API keys.

Each service is atomic, takes keyword arguments and an explicit `actor` (a User, an ApiKey,
a SCIM token, or None for the system), locks what it changes, returns early when nothing
changes, and records its audit event in the same transaction. A unique-constraint violation
is turned into a Conflict and raised at once: the service's own atomic block (a savepoint when
nested) rolls it back, so no extra savepoint is needed around the write.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.choices import AuditAction
from audit.services import AuditActor, audit_record
from governance import rbac, rows, tokens
from governance.choices import AssignmentSource, MembershipSource, RbacRole
from governance.exceptions import (
    Conflict,
    LastAdminError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from governance.models import (
    ApiKey,
    CustomRole,
    Membership,
    Organization,
    RoleAssignment,
    Team,
    TeamMembership,
    name_key,
)
from identity.models import User
from identity.selectors import user_by_email
from identity.services import (
    clean_email,
    generate_password,
    session_revoke_all,
    user_insert,
)

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$")
NAME_MAX = 100


# --- who is acting ------------------------------------------------------------------------


def acting_membership(actor: AuditActor | None, org: Organization) -> Membership | None:
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


def _require_admin_for_admin_changes(actor: AuditActor | None, org: Organization) -> None:
    acting = acting_membership(actor, org)
    if acting is not None and not rbac.is_admin(acting):
        raise PermissionDenied("Only an org admin can grant, remove or act on the admin role.")


def _require_grantable(actor: AuditActor | None, org: Organization, perms: Iterable[str]) -> None:
    """A delegated (non-admin) manager cannot hand out permissions they do not hold."""
    acting = acting_membership(actor, org)
    if acting is None or rbac.is_admin(acting):
        return
    missing = sorted(set(perms) - rbac.permissions_of(acting))
    if missing:
        raise PermissionDenied(
            "You cannot grant permissions you do not hold yourself: " + ", ".join(missing) + "."
        )


# --- organizations ------------------------------------------------------------------------


@transaction.atomic
def org_create(*, slug: str, name: str, actor: AuditActor | None) -> Organization:
    slug = (slug or "").strip().lower()
    name = " ".join((name or "").split())
    if not SLUG_RE.match(slug):
        raise ValidationFailed(
            f"{slug!r} is not a valid slug: use 1-50 lower-case letters, digits and hyphens, "
            "not starting or ending with a hyphen.",
            field="slug",
        )
    if not name or len(name) > 200:
        raise ValidationFailed("The organization name must be 1-200 characters.", field="name")
    if Organization.objects.filter(slug=slug).exists():
        raise Conflict(f"An organization with the slug {slug!r} already exists.", field="slug")
    org = Organization(slug=slug, name=name)
    try:
        org.save()
    except IntegrityError as exc:
        raise Conflict(f"An organization with the slug {slug!r} already exists.") from exc
    audit_record(
        action=AuditAction.ORG_CREATED,
        org=org,
        actor=actor,
        target=org,
        data={"new": {"slug": slug, "name": name}},
    )
    return org


# --- memberships --------------------------------------------------------------------------


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
    actor: AuditActor | None,
    set_password: bool = True,
) -> MembershipAdded:
    """Add a person to the org, creating the user when the e-mail is new (with a one-time
    password they must change at first sign-in)."""
    email = clean_email(email)
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
    actor: AuditActor | None,
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
        _require_admin_for_admin_changes(actor, org)
    password = None
    created = user is None
    if user is None:
        password = generate_password() if set_password else None
        user = user_insert(
            email=email,
            full_name=full_name,
            password=password,
            password_change_required=bool(password),
            actor=actor,
            org=org,
        )
    try:
        membership = Membership(org=org, user=user, role=role, source=source)
        rows.insert(membership)
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


def _lock_membership(membership: Membership) -> Membership:
    try:
        return (
            Membership.objects.select_for_update()
            .select_related("user", "org")
            .get(pk=membership.pk)
        )
    except Membership.DoesNotExist as exc:
        raise NotFound("That member does not exist.") from exc


def _ensure_another_admin(membership: Membership, verb: str) -> None:
    """An org always keeps at least one active admin. Locks the admin rows, so two concurrent
    demotions cannot both pass."""
    admins = list(
        Membership.objects.select_for_update()
        .filter(org_id=membership.org_id, role=RbacRole.ADMIN, is_active=True)
        .values_list("pk", flat=True)
    )
    if not [pk for pk in admins if pk != membership.pk]:
        raise LastAdminError(
            f"{membership.user.email} is the last active admin of {membership.org.name}; "
            f"make another member admin before you {verb} them."
        )


@transaction.atomic
def membership_change_role(
    *, membership: Membership, role: str, actor: AuditActor | None
) -> Membership:
    if role not in RbacRole.values:
        raise ValidationFailed(f"Unknown RBAC role {role!r}: use admin or member.", field="role")
    membership = _lock_membership(membership)
    if membership.role == role:
        return membership
    _require_admin_for_admin_changes(actor, membership.org)
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
def membership_deactivate(*, membership: Membership, actor: AuditActor | None) -> Membership:
    """Deactivate at once: the member's sessions and API keys are revoked in the same
    transaction; nothing they made is deleted."""
    membership = _lock_membership(membership)
    if not membership.is_active:
        return membership
    if membership.role == RbacRole.ADMIN:
        _require_admin_for_admin_changes(actor, membership.org)
        _ensure_another_admin(membership, "deactivate")
    membership.is_active = False
    membership.deactivated_at = timezone.now()
    membership.save(update_fields=["is_active", "deactivated_at", "updated_at"])
    sessions = session_revoke_all(
        user=membership.user, actor=actor, org=membership.org, reason="membership deactivated"
    )
    keys = ApiKey.objects.filter(membership=membership, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    audit_record(
        action=AuditAction.MEMBER_DEACTIVATED,
        org=membership.org,
        actor=actor,
        target=membership,
        data={
            "old": {"status": "active"},
            "new": {"status": "deactivated"},
            "sessions_revoked": sessions,
            "api_keys_revoked": keys,
        },
    )
    return membership


@transaction.atomic
def membership_reactivate(*, membership: Membership, actor: AuditActor | None) -> Membership:
    membership = _lock_membership(membership)
    if membership.is_active:
        return membership
    if membership.role == RbacRole.ADMIN:
        _require_admin_for_admin_changes(actor, membership.org)
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


# --- custom roles -------------------------------------------------------------------------


def _clean_name(name: str, what: str) -> str:
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise ValidationFailed(f"The {what} name cannot be empty.", field="name")
    if len(cleaned) > NAME_MAX:
        raise ValidationFailed(
            f"The {what} name must be at most {NAME_MAX} characters.", field="name"
        )
    return cleaned


def _clean_permissions(permissions: Iterable[str]) -> list[str]:
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


def _ensure_name_free(
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


@transaction.atomic
def custom_role_create(
    *,
    org: Organization,
    name: str,
    permissions: Iterable[str] = (),
    description: str = "",
    actor: AuditActor | None,
) -> CustomRole:
    name = _clean_name(name, "role")
    perms = _clean_permissions(permissions)
    _require_grantable(actor, org, perms)
    _ensure_name_free(CustomRole, org, name, None)
    role = CustomRole(
        org=org,
        name=name,
        name_key=name_key(name),
        description=(description or "").strip()[:300],
        permissions=perms,
    )
    try:
        role.save()
    except IntegrityError as exc:
        raise Conflict(f"A custom role named {name!r} already exists.", field="name") from exc
    audit_record(
        action=AuditAction.CUSTOM_ROLE_CREATED,
        org=org,
        actor=actor,
        target=role,
        data={"new": {"name": name, "permissions": perms, "description": role.description}},
    )
    return role


@transaction.atomic
def custom_role_update(
    *,
    role: CustomRole,
    name: str | None = None,
    permissions: Iterable[str] | None = None,
    description: str | None = None,
    actor: AuditActor | None,
) -> CustomRole:
    role = CustomRole.objects.select_for_update().select_related("org").get(pk=role.pk)
    old = {"name": role.name, "permissions": role.permissions, "description": role.description}
    new = dict(old)
    if name is not None:
        new["name"] = _clean_name(name, "role")
    if permissions is not None:
        new["permissions"] = _clean_permissions(permissions)
    if description is not None:
        new["description"] = description.strip()[:300]
    if new == old:
        return role
    _require_grantable(actor, role.org, set(new["permissions"]) | set(old["permissions"]))
    if new["name"] != old["name"]:
        _ensure_name_free(CustomRole, role.org, new["name"], role.pk)
    role.name, role.name_key = new["name"], name_key(new["name"])
    role.permissions, role.description = new["permissions"], new["description"]
    try:
        role.save()
    except IntegrityError as exc:
        raise Conflict(f"A custom role named {role.name!r} already exists.") from exc
    changed = [k for k in new if new[k] != old[k]]
    audit_record(
        action=AuditAction.CUSTOM_ROLE_UPDATED,
        org=role.org,
        actor=actor,
        target=role,
        data={"old": {k: old[k] for k in changed}, "new": {k: new[k] for k in changed}},
    )
    return role


@transaction.atomic
def custom_role_delete(*, role: CustomRole, actor: AuditActor | None) -> None:
    role = CustomRole.objects.select_for_update().select_related("org").get(pk=role.pk)
    _require_grantable(actor, role.org, role.permissions)
    holders = list(role.assignments.values_list("membership__user__email", flat=True).distinct())
    audit_record(
        action=AuditAction.CUSTOM_ROLE_DELETED,
        org=role.org,
        actor=actor,
        target=role,
        data={
            "old": {"name": role.name, "permissions": role.permissions, "holders": sorted(holders)}
        },
    )
    role.delete()


@transaction.atomic
def role_assign(
    *,
    membership: Membership,
    role: CustomRole,
    source: str = AssignmentSource.MANUAL,
    actor: AuditActor | None,
) -> bool:
    """Grant a custom role. Returns False when the member already held it from that source."""
    if role.org_id != membership.org_id:
        raise NotFound("That custom role does not exist in this organization.")
    membership = _lock_membership(membership)
    _require_grantable(actor, membership.org, role.permissions)
    if RoleAssignment.objects.filter(membership=membership, role=role, source=source).exists():
        return False
    RoleAssignment.objects.create(membership=membership, role=role, source=source)
    audit_record(
        action=AuditAction.MEMBER_CUSTOM_ROLE_ASSIGNED,
        org=membership.org,
        actor=actor,
        target=membership,
        data={"new": {"role": role.name, "source": source}},
    )
    return True


@transaction.atomic
def role_unassign(
    *,
    membership: Membership,
    role: CustomRole,
    source: str = AssignmentSource.MANUAL,
    actor: AuditActor | None,
) -> bool:
    if role.org_id != membership.org_id:
        raise NotFound("That custom role does not exist in this organization.")
    membership = _lock_membership(membership)
    _require_grantable(actor, membership.org, role.permissions)
    deleted, _ = RoleAssignment.objects.filter(
        membership=membership, role=role, source=source
    ).delete()
    if not deleted:
        return False
    audit_record(
        action=AuditAction.MEMBER_CUSTOM_ROLE_UNASSIGNED,
        org=membership.org,
        actor=actor,
        target=membership,
        data={"old": {"role": role.name, "source": source}},
    )
    return True


# --- teams --------------------------------------------------------------------------------


@transaction.atomic
def team_create(*, org: Organization, name: str, actor: AuditActor | None) -> Team:
    name = _clean_name(name, "team")
    _ensure_name_free(Team, org, name, None)
    team = Team(org=org, name=name, name_key=name_key(name))
    try:
        team.save()
    except IntegrityError as exc:
        raise Conflict(f"A team named {name!r} already exists.", field="name") from exc
    audit_record(
        action=AuditAction.TEAM_CREATED,
        org=org,
        actor=actor,
        target=team,
        data={"new": {"name": name}},
    )
    return team


@transaction.atomic
def team_rename(*, team: Team, name: str, actor: AuditActor | None) -> Team:
    team = Team.objects.select_for_update().select_related("org").get(pk=team.pk)
    name = _clean_name(name, "team")
    if name == team.name:
        return team
    _ensure_name_free(Team, team.org, name, team.pk)
    old = team.name
    team.name, team.name_key = name, name_key(name)
    try:
        team.save(update_fields=["name", "name_key"])
    except IntegrityError as exc:
        raise Conflict(f"A team named {name!r} already exists.", field="name") from exc
    audit_record(
        action=AuditAction.TEAM_RENAMED,
        org=team.org,
        actor=actor,
        target=team,
        data={"old": {"name": old}, "new": {"name": name}},
    )
    return team


@transaction.atomic
def team_delete(*, team: Team, actor: AuditActor | None) -> None:
    team = Team.objects.select_for_update().select_related("org").get(pk=team.pk)
    members = sorted(
        team.team_memberships.values_list("membership__user__email", flat=True).distinct()
    )
    audit_record(
        action=AuditAction.TEAM_DELETED,
        org=team.org,
        actor=actor,
        target=team,
        data={"old": {"name": team.name, "members": members}},
    )
    team.delete()


@transaction.atomic
def team_member_add(
    *,
    team: Team,
    membership: Membership,
    source: str = AssignmentSource.MANUAL,
    actor: AuditActor | None,
) -> bool:
    if team.org_id != membership.org_id:
        raise NotFound("That member does not exist in this organization.")
    team = Team.objects.select_for_update().select_related("org").get(pk=team.pk)
    if TeamMembership.objects.filter(team=team, membership=membership, source=source).exists():
        return False
    TeamMembership.objects.create(team=team, membership=membership, source=source)
    audit_record(
        action=AuditAction.TEAM_MEMBER_ADDED,
        org=team.org,
        actor=actor,
        target=team,
        data={"new": {"member": membership.user.email, "source": source}},
    )
    return True


@transaction.atomic
def team_member_remove(
    *,
    team: Team,
    membership: Membership,
    source: str = AssignmentSource.MANUAL,
    actor: AuditActor | None,
) -> bool:
    if team.org_id != membership.org_id:
        raise NotFound("That member does not exist in this organization.")
    team = Team.objects.select_for_update().select_related("org").get(pk=team.pk)
    deleted, _ = TeamMembership.objects.filter(
        team=team, membership=membership, source=source
    ).delete()
    if not deleted:
        return False
    audit_record(
        action=AuditAction.TEAM_MEMBER_REMOVED,
        org=team.org,
        actor=actor,
        target=team,
        data={"old": {"member": membership.user.email, "source": source}},
    )
    return True


# --- API keys -----------------------------------------------------------------------------

API_KEY_PREFIX = "gov_"


@transaction.atomic
def api_key_create(
    *, membership: Membership, label: str = "", actor: AuditActor | None
) -> tuple[ApiKey, str]:
    """Returns the key and its full secret; the secret is never stored and never shown again."""
    membership = _lock_membership(membership)
    if not membership.is_active:
        raise ValidationFailed("A deactivated member cannot get an API key.")
    label = " ".join((label or "").split())[:100]
    prefix, secret, key_hash = tokens.mint(API_KEY_PREFIX)
    key = ApiKey.objects.create(
        membership=membership, label=label, prefix=prefix, key_hash=key_hash
    )
    audit_record(
        action=AuditAction.API_KEY_CREATED,
        org=membership.org,
        actor=actor,
        target=key,
        data={"new": {"label": label, "member": membership.user.email}},
    )
    return key, secret


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: AuditActor | None) -> ApiKey:
    api_key = (
        ApiKey.objects.select_for_update().select_related("membership__org").get(pk=api_key.pk)
    )
    if api_key.revoked_at is not None:
        return api_key
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])
    audit_record(
        action=AuditAction.API_KEY_REVOKED,
        org=api_key.membership.org,
        actor=actor,
        target=api_key,
        data={"label": api_key.label},
    )
    return api_key
