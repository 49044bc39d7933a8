"""SCIM writes. Each is atomic and audited with the token as actor."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.choices import AuditAction
from audit.services import AuditActor, audit_batch, audit_record
from governance import services as gov
from governance import tokens
from governance.choices import AssignmentSource, MembershipSource, RbacRole
from governance.models import CustomRole, Membership, Organization, RoleAssignment, name_key
from identity.models import User
from identity.services import clean_email
from scim.adapters import GroupChange, UserFields
from scim.exceptions import ScimError
from scim.models import ScimGroup, ScimGroupMember, ScimToken, ScimUser
from scim.selectors import STORED_FIELDS

SCIM_TOKEN_PREFIX = "scim_"


@transaction.atomic
def scim_token_create(
    *, org: Organization, label: str = "", actor: AuditActor | None
) -> tuple[ScimToken, str]:
    """Returns the token and its secret. The secret is shown once and stored only as an HMAC
    (a keyed hash, not a slow password hash: each SCIM request checks it)."""
    label = " ".join((label or "").split())[:100]
    prefix, secret, key_hash = tokens.mint(SCIM_TOKEN_PREFIX)
    token = ScimToken.objects.create(org=org, label=label, prefix=prefix, key_hash=key_hash)
    audit_record(
        action=AuditAction.SCIM_TOKEN_CREATED,
        org=org,
        actor=actor,
        target=token,
        data={"new": {"label": label, "prefix": prefix}},
    )
    return token, secret


@transaction.atomic
def scim_token_revoke(*, token: ScimToken, actor: AuditActor | None) -> ScimToken:
    token = ScimToken.objects.select_for_update().select_related("org").get(pk=token.pk)
    if token.revoked_at is not None:
        return token
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit_record(
        action=AuditAction.SCIM_TOKEN_REVOKED,
        org=token.org,
        actor=actor,
        target=token,
        data={"label": token.label, "prefix": token.prefix},
    )
    return token


# --- Users ---------------------------------------------------------------------------------


def fields_of(scim_user: ScimUser) -> UserFields:
    """Our stored SCIM user as adapter fields (roles: the IdP-granted custom roles)."""
    roles = sorted(
        a.role.name
        for a in scim_user.membership.role_assignments.all()
        if a.source == AssignmentSource.SCIM
    )
    return UserFields(
        **{f: getattr(scim_user, f) for f in STORED_FIELDS},
        active=scim_user.membership.is_active,
        roles=roles,
    )


def _stored(fields: UserFields) -> dict[str, Any]:
    return {f: getattr(fields, f) for f in STORED_FIELDS}


def placeholder_email(org: Organization, user_name: str) -> str:
    """A person is identified by e-mail here, but RFC 7643 does not require one. A user sent
    without any gets a stable, non-routable address (RFC 2606 .invalid) derived from the org-
    scoped userName; it can never receive mail or match a real sign-in e-mail."""
    digest = hashlib.sha256(f"{org.pk}:{user_name.lower()}".encode()).hexdigest()[:24]
    return f"scim-{digest}@users.invalid"


def _ensure_user_name_free(org: Organization, user_name: str, exclude: int | None) -> None:
    qs = ScimUser.objects.filter(org=org, user_name__lower=user_name.lower())
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    if qs.exists():
        raise ScimError(
            f"A user with userName {user_name!r} already exists in this "
            "organization (userName compares case-insensitively).",
            status=409,
            scim_type="uniqueness",
        )


def _resolve_roles(org: Organization, names: list[str]) -> list[CustomRole]:
    """Each name must be an existing custom role (case- and whitespace-insensitive)."""
    if not names:
        return []
    wanted = {name_key(n): n for n in names}
    found = {r.name_key: r for r in CustomRole.objects.filter(org=org, name_key__in=wanted)}
    unknown = [n for k, n in wanted.items() if k not in found]
    if unknown:
        raise ScimError(
            "Unknown role(s): " + ", ".join(repr(u) for u in unknown) + ". Each "
            "roles value must name an existing custom role.",
            status=400,
            scim_type="invalidValue",
        )
    return list(found.values())


def _sync_attribute_roles(membership: Membership, names: list[str], actor: AuditActor) -> None:
    """The member's roles from the SCIM `roles` attribute become exactly `names`; hand-made
    and group-mapped ones stay."""
    roles = _resolve_roles(membership.org, names)
    current = {
        a.role_id: a.role
        for a in RoleAssignment.objects.select_related("role").filter(
            membership=membership, source=AssignmentSource.SCIM
        )
    }
    for role in roles:
        if role.pk not in current:
            gov.role_assign(
                membership=membership, role=role, source=AssignmentSource.SCIM, actor=actor
            )
    keep = {r.pk for r in roles}
    for role_id, role in current.items():
        if role_id not in keep:
            gov.role_unassign(
                membership=membership, role=role, source=AssignmentSource.SCIM, actor=actor
            )


def _save(scim_user: ScimUser) -> None:
    try:
        scim_user.save()
    except IntegrityError as exc:  # a concurrent create or rename of the same userName
        raise ScimError(
            f"A user with userName {scim_user.user_name!r} already exists in this organization.",
            status=409,
            scim_type="uniqueness",
        ) from exc


@dataclass(frozen=True)
class Provisioned:
    scim_user: ScimUser
    fields: UserFields  # as stored: `active` as applied, `roles` by their canonical names


@transaction.atomic
def scim_user_create(*, org: Organization, fields: UserFields, actor: ScimToken) -> Provisioned:
    """Provision a member: always the baseline `member` RBAC role (SCIM never grants admin).

    A taken userName is left to the unique index on (org, LOWER(user_name)): the insert fails,
    the whole transaction (user, membership, audit rows) rolls back and the client gets 409.
    The happy path pays for no lookup that the index already makes."""
    with audit_batch():  # its user, member and SCIM events in one INSERT
        email = fields.primary_email or placeholder_email(org, fields.user_name)
        roles = _resolve_roles(org, fields.roles or [])  # refuse before writing anything
        user = User.objects.filter(email__lower=clean_email(email)).first()
        membership = None
        if user is not None:  # someone who already exists here or in another organization
            membership = (
                Membership.objects.select_for_update(of=("self",))
                .filter(org=org, user=user)
                .select_related("user", "scim")
                .first()
            )
        if membership is None:
            membership = gov.membership_insert(
                org=org,
                user=user,
                email=email,
                full_name=fields.full_name,
                role=RbacRole.MEMBER,
                source=MembershipSource.SCIM,
                actor=actor,
                set_password=False,
            ).membership
        elif hasattr(membership, "scim"):
            raise ScimError(
                f"{email} is already provisioned in this organization as "
                f"{membership.scim.user_name!r}.",
                status=409,
                scim_type="uniqueness",
            )
        elif fields.active and not membership.is_active:
            membership = gov.membership_reactivate(membership=membership, actor=actor)
        scim_user = ScimUser(org=org, membership=membership, **_stored(fields))
        _save(scim_user)
        if not fields.active:
            membership = gov.membership_deactivate(membership=membership, actor=actor)
            scim_user.membership = membership
        if roles or user is not None:
            # Canonical names, and any IdP roles an earlier provisioning of this member left.
            if roles:
                _sync_attribute_roles(membership, fields.roles or [], actor)
            stored_roles = sorted(
                RoleAssignment.objects.filter(
                    membership=membership, source=AssignmentSource.SCIM
                ).values_list("role__name", flat=True)
            )
        else:
            stored_roles = []  # a new membership holds no assignments yet
        audit_record(
            action=AuditAction.SCIM_USER_CREATED,
            org=org,
            actor=actor,
            target=membership,
            data={
                "new": {**_stored(fields), "active": fields.active, "roles": fields.roles or []},
                "scim_id": str(scim_user.scim_id),
            },
        )
    return Provisioned(
        scim_user=scim_user,
        fields=dataclasses.replace(fields, active=membership.is_active, roles=stored_roles),
    )


@transaction.atomic
def scim_user_replace(*, scim_user: ScimUser, fields: UserFields, actor: ScimToken) -> ScimUser:
    """PUT, and PATCH after its operations are applied: the stored user becomes `fields`."""
    scim_user = (
        ScimUser.objects.select_for_update()
        .select_related("membership__user", "org")
        .get(pk=scim_user.pk)
    )
    membership = scim_user.membership
    before = fields_of(scim_user)
    if fields.user_name.lower() != scim_user.user_name.lower():
        _ensure_user_name_free(scim_user.org, fields.user_name, scim_user.pk)
    if fields.roles is not None:
        _resolve_roles(scim_user.org, fields.roles)
    old, new = _stored(before), _stored(fields)
    changed = {k for k in new if new[k] != old[k]}
    if changed:
        for k in changed:
            setattr(scim_user, k, new[k])
        scim_user.updated_at = timezone.now()
        _save(scim_user)
    if fields.active != membership.is_active:
        verb = gov.membership_reactivate if fields.active else gov.membership_deactivate
        verb(membership=membership, actor=actor)
        changed.add("active")
    if fields.roles is not None and sorted(fields.roles, key=name_key) != sorted(
        before.roles or [], key=name_key
    ):
        _sync_attribute_roles(membership, fields.roles, actor)
        changed.add("roles")
    if changed:
        if "active" in changed or "roles" in changed:
            ScimUser.objects.filter(pk=scim_user.pk).update(updated_at=timezone.now())
        olds = {**old, "active": before.active, "roles": before.roles}
        news = {**new, "active": fields.active, "roles": fields.roles}
        audit_record(
            action=AuditAction.SCIM_USER_UPDATED,
            org=scim_user.org,
            actor=actor,
            target=membership,
            data={
                "old": {k: olds[k] for k in sorted(changed)},
                "new": {k: news[k] for k in sorted(changed)},
            },
        )
    return scim_user


@transaction.atomic
def scim_user_delete(*, scim_user: ScimUser, actor: ScimToken) -> None:
    """Deprovision: deactivate at once (sessions and API keys revoked), keep the person's data
    and audit trail, forget the SCIM identity (the id is 404 afterwards)."""
    scim_user = (
        ScimUser.objects.select_for_update()
        .select_related("membership__user", "org")
        .get(pk=scim_user.pk)
    )
    gov.membership_deactivate(membership=scim_user.membership, actor=actor)
    audit_record(
        action=AuditAction.SCIM_USER_DELETED,
        org=scim_user.org,
        actor=actor,
        target=scim_user.membership,
        data={"old": {"user_name": scim_user.user_name, "scim_id": str(scim_user.scim_id)}},
    )
    scim_user.delete()


# --- Groups --------------------------------------------------------------------------------

AUDIT_NAME_CAP = 1000  # member names listed per event; counts are always exact


def _uuids(ids: list[str]) -> tuple[list[uuid.UUID], list[str]]:
    good, bad = [], []
    for raw in ids:
        try:
            good.append(uuid.UUID(str(raw)))
        except ValueError:
            bad.append(raw)
    return good, bad


def _users_by_id(org: Organization, ids: list[str], *, strict: bool) -> dict[uuid.UUID, ScimUser]:
    """The org's SCIM users with these ids. Strict: an unknown id is a 400 naming it (a member
    must be a provisioned user of this org); otherwise unknown ids are skipped (removing a user
    that is already gone is not an error)."""
    good, bad = _uuids(ids)
    found = {
        u.scim_id: u
        for u in ScimUser.objects.filter(org=org, scim_id__in=good).only(
            "id", "scim_id", "user_name"
        )
    }
    missing = bad + [str(g) for g in good if g not in found]
    if strict and missing:
        shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
        raise ScimError(
            f"Unknown member id(s): {shown}. Members must be users provisioned in "
            "this organization.",
            status=400,
            scim_type="invalidValue",
        )
    return found


def _names(users: list[ScimUser]) -> list[str]:
    return sorted(u.user_name for u in users)[:AUDIT_NAME_CAP]


@transaction.atomic
def scim_group_create(*, org: Organization, change: GroupChange, actor: ScimToken) -> ScimGroup:
    members = list(_users_by_id(org, change.members or [], strict=True).values())
    group = ScimGroup.objects.create(
        org=org, display_name=change.display_name or "", external_id=change.external_id or ""
    )
    ScimGroupMember.objects.bulk_create(ScimGroupMember(group=group, user=u) for u in members)
    audit_record(
        action=AuditAction.SCIM_GROUP_CREATED,
        org=org,
        actor=actor,
        target=group,
        data={
            "new": {
                "display_name": group.display_name,
                "external_id": group.external_id,
                "member_count": len(members),
                "members": _names(members),
            },
            "scim_id": str(group.scim_id),
        },
    )
    return group


@transaction.atomic
def scim_group_update(*, group: ScimGroup, change: GroupChange, actor: ScimToken) -> ScimGroup:
    """PUT and PATCH. The group row is locked, and member changes are applied as deltas, so two
    concurrent PATCHes that add different members both land."""
    group = ScimGroup.objects.select_for_update().select_related("org").get(pk=group.pk)
    org = group.org
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for attr, value in (("display_name", change.display_name), ("external_id", change.external_id)):
        if value is not None and getattr(group, attr) != value:
            old[attr], new[attr] = getattr(group, attr), value
            setattr(group, attr, value)
    links = ScimGroupMember.objects.filter(group=group)
    if change.members is not None:
        target = _users_by_id(org, change.members, strict=True)
        current = set(links.values_list("user__scim_id", flat=True))
        adding = [u for sid, u in target.items() if sid not in current]
        removing_ids = current - set(target)
    else:
        adding_all = _users_by_id(org, change.add, strict=True)
        present = set(
            links.filter(user__scim_id__in=list(adding_all)).values_list("user__scim_id", flat=True)
        )
        adding = [u for sid, u in adding_all.items() if sid not in present]
        if change.remove_all:
            removing_ids = set(links.values_list("user__scim_id", flat=True))
        else:
            removing_ids = set(_users_by_id(org, change.remove, strict=False))
    removed = list(
        ScimUser.objects.filter(org=org, scim_id__in=removing_ids, group_links__group=group).only(
            "id", "user_name"
        )
    )
    if removed:
        links.filter(user__in=removed).delete()
    if adding:
        ScimGroupMember.objects.bulk_create(
            (ScimGroupMember(group=group, user=u) for u in adding), ignore_conflicts=True
        )
    if not (old or adding or removed):
        return group
    group.updated_at = timezone.now()
    group.save()
    data: dict[str, Any] = {"old": old, "new": new}
    if adding:
        data["members_added"] = _names(adding)
        data["members_added_count"] = len(adding)
    if removed:
        data["members_removed"] = _names(removed)
        data["members_removed_count"] = len(removed)
    audit_record(
        action=AuditAction.SCIM_GROUP_UPDATED, org=org, actor=actor, target=group, data=data
    )
    return group


@transaction.atomic
def scim_group_delete(*, group: ScimGroup, actor: ScimToken) -> None:
    group = ScimGroup.objects.select_for_update().select_related("org").get(pk=group.pk)
    count = group.members.count()
    audit_record(
        action=AuditAction.SCIM_GROUP_DELETED,
        org=group.org,
        actor=actor,
        target=group,
        data={
            "old": {
                "display_name": group.display_name,
                "member_count": count,
                "scim_id": str(group.scim_id),
            }
        },
    )
    group.delete()


ERROR_LOG_DAYS = 7


def scim_error_record(
    *, token: ScimToken, method: str, path: str, status: int, scim_type: str | None, detail: str
) -> None:
    """Log a refused request for the dashboard. Not audited: nothing changed."""
    from datetime import timedelta

    from scim.models import ScimRequestError

    now = timezone.now()
    ScimRequestError.objects.filter(
        org_id=token.org_id, at__lt=now - timedelta(days=ERROR_LOG_DAYS)
    ).delete()
    ScimRequestError.objects.create(
        org_id=token.org_id,
        token=token,
        at=now,
        method=method,
        path=path[:300],
        status=status,
        scim_type=scim_type or "",
        detail=detail[:500],
    )
