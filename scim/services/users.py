"""SCIM Users: provisioning (create, PUT/PATCH, DELETE) of members. SCIM never grants the
admin role; the `roles` attribute grants existing custom roles; `active=false` deactivates."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from audit.choices import AuditAction
from audit.services import audit_batch, audit_record
from core.actors import Actor
from identity.selectors import user_by_email
from mapping.models import IdpUser
from mapping.services import users as idp_users
from mapping.services.sync import mapping_sync_members
from orgs.choices import AssignmentSource, MembershipSource, RbacRole
from orgs.models import CustomRole, Membership, Organization, RoleAssignment, name_key
from orgs.selectors import email_domain_verified_by
from orgs.services import assignments, members
from scim.adapters import UserFields
from scim.exceptions import ScimError
from scim.models import ScimToken
from scim.selectors import STORED_FIELDS


def fields_of(scim_user: IdpUser) -> UserFields:
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
    qs = IdpUser.objects.filter(org=org, user_name__lower=user_name.lower())
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


def _sync_attribute_roles(membership: Membership, names: list[str], actor: Actor) -> None:
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
            assignments.role_assign(
                membership=membership, role=role, source=AssignmentSource.SCIM, actor=actor
            )
    keep = {r.pk for r in roles}
    for role_id, role in current.items():
        if role_id not in keep:
            assignments.role_unassign(
                membership=membership, role=role, source=AssignmentSource.SCIM, actor=actor
            )


@dataclass(frozen=True)
class Provisioned:
    scim_user: IdpUser
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
        user = user_by_email(email)
        membership = None
        if user is not None:  # someone who already exists here or in another organization
            membership = (
                Membership.objects.select_for_update(of=("self",))
                .filter(org=org, user=user)
                .select_related("user", "idp")
                .first()
            )
        if membership is None and user is not None and not email_domain_verified_by(org, email):
            # An account that exists through another organization is linked only when this
            # organization holds the address's domain verified: its IdP vouches for it then.
            raise ScimError(
                f"{email} cannot be provisioned here: this organization has not verified the "
                f"domain {email.rsplit('@', 1)[1]!r}. Verify it on the SSO settings page "
                "(DNS TXT record), or provision the user with another e-mail.",
                status=409,
                scim_type="uniqueness",
            )
        if membership is None:
            membership = members.membership_insert(
                org=org,
                user=user,
                email=email,
                full_name=fields.full_name,
                role=RbacRole.MEMBER,
                source=MembershipSource.SCIM,
                actor=actor,
                set_password=False,
            ).membership
        elif hasattr(membership, "idp"):
            raise ScimError(
                f"{email} is already provisioned in this organization as "
                f"{membership.idp.user_name!r}.",
                status=409,
                scim_type="uniqueness",
            )
        elif fields.active and not membership.is_active:
            membership = members.membership_reactivate(membership=membership, actor=actor)
        scim_user = idp_users.idp_user_add(membership=membership, profile=_stored(fields))
        if not fields.active:
            membership = members.membership_deactivate(membership=membership, actor=actor)
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
        if user is not None:
            # Linked to someone who already existed: in name-based mode the IdP's (still
            # empty) group set now decides their roles and teams. A new person has nothing
            # to sync: no groups, no assignments, no other organizations.
            mapping_sync_members(org=org, membership_ids=[membership.pk], actor=actor)
        audit_record(
            action=AuditAction.SCIM_USER_CREATED,
            org=org,
            actor=actor,
            target=membership,
            data={
                "new": {**_stored(fields), "active": fields.active, "roles": fields.roles or []},
                "scim_id": str(scim_user.uid),
            },
        )
    return Provisioned(
        scim_user=scim_user,
        fields=dataclasses.replace(fields, active=membership.is_active, roles=stored_roles),
    )


@transaction.atomic
def scim_user_replace(*, scim_user: IdpUser, fields: UserFields, actor: ScimToken) -> IdpUser:
    """PUT, and PATCH after its operations are applied: the stored user becomes `fields`."""
    scim_user = (
        IdpUser.objects.select_for_update()
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
    changed = idp_users.idp_user_update(idp_user=scim_user, profile=new)
    if fields.active != membership.is_active:
        verb = members.membership_reactivate if fields.active else members.membership_deactivate
        verb(membership=membership, actor=actor)
        changed.add("active")
        if fields.active:
            mapping_sync_members(org=scim_user.org, membership_ids=[membership.pk], actor=actor)
    if fields.roles is not None and sorted(fields.roles, key=name_key) != sorted(
        before.roles or [], key=name_key
    ):
        _sync_attribute_roles(membership, fields.roles, actor)
        changed.add("roles")
    if changed:
        if "active" in changed or "roles" in changed:
            idp_users.idp_user_touch(idp_user=scim_user)
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
def scim_user_delete(*, scim_user: IdpUser, actor: ScimToken) -> None:
    """Deprovision: deactivate at once (sessions and API keys revoked), keep the person's data
    and audit trail, forget the SCIM identity (the id is 404 afterwards)."""
    scim_user = (
        IdpUser.objects.select_for_update()
        .select_related("membership__user", "org")
        .get(pk=scim_user.pk)
    )
    members.membership_deactivate(membership=scim_user.membership, actor=actor)
    audit_record(
        action=AuditAction.SCIM_USER_DELETED,
        org=scim_user.org,
        actor=actor,
        target=scim_user.membership,
        data={"old": {"user_name": scim_user.user_name, "scim_id": str(scim_user.uid)}},
    )
    idp_users.idp_user_remove(idp_user=scim_user)
