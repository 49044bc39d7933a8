"""SCIM writes. Each is atomic and audited with the token as actor."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.choices import AuditAction
from audit.services import AuditActor, audit_batch, audit_record
from governance import rows, tokens
from governance import services as gov
from governance.choices import AssignmentSource, MembershipSource, RbacRole
from governance.exceptions import Conflict, ValidationFailed
from governance.models import (
    CustomRole,
    Membership,
    Organization,
    RoleAssignment,
    TeamMembership,
    name_key,
)
from identity.selectors import user_by_email
from scim import mapping
from scim.adapters import GroupChange, UserFields
from scim.choices import Direction, SyncStatus, SyncTrigger
from scim.exceptions import ScimError
from scim.models import (
    GroupMapping,
    MappingSettings,
    MappingSyncJob,
    ScimGroup,
    ScimGroupMember,
    ScimToken,
    ScimUser,
)
from scim.selectors import STORED_FIELDS

SCIM_TOKEN_PREFIX = "scim_"
logger = logging.getLogger(__name__)


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
        if scim_user._state.adding:
            rows.insert(scim_user)
        else:
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
        user = user_by_email(email)
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
        if fields.active:
            mapping_sync_members(org=scim_user.org, membership_ids=[membership.pk], actor=actor)
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


def _uuid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _uuids(ids: list[str]) -> tuple[list[uuid.UUID], list[str]]:
    good, bad = [], []
    for raw in ids:
        parsed = _uuid_or_none(raw)
        if parsed is None:
            bad.append(raw)
        else:
            good.append(parsed)
    return good, bad


def _users_by_id(org: Organization, ids: list[str], *, strict: bool) -> dict[uuid.UUID, ScimUser]:
    """The org's SCIM users with these ids. Strict: an unknown id is a 400 naming it (a member
    must be a provisioned user of this org); otherwise unknown ids are skipped (removing a user
    that is already gone is not an error)."""
    good, bad = _uuids(ids)
    found = {
        u.scim_id: u
        for u in ScimUser.objects.filter(org=org, scim_id__in=good).only(
            "id", "scim_id", "user_name", "membership_id"
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
    mapping_sync_members(org=org, membership_ids=[u.membership_id for u in members], actor=actor)
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
            "id", "user_name", "membership_id"
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
    affected = {u.membership_id for u in adding} | {u.membership_id for u in removed}
    if "display_name" in old:  # a rename can change what the group resolves to by name
        affected |= set(links.values_list("user__membership_id", flat=True))
    mapping_sync_members(org=org, membership_ids=affected, actor=actor)
    return group


@transaction.atomic
def scim_group_delete(*, group: ScimGroup, actor: ScimToken) -> None:
    group = ScimGroup.objects.select_for_update().select_related("org").get(pk=group.pk)
    former = list(group.members.values_list("user__membership_id", flat=True))
    count = len(former)
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
    mapping_sync_members(org=group.org, membership_ids=former, actor=actor)


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


# --- IdP group → role and team mapping ------------------------------------------------------


def _mapping_settings_locked(org: Organization) -> MappingSettings:
    """The organization's mapping settings, locked: every sync and settings change of the
    organization takes this lock first, so they never interleave."""
    MappingSettings.objects.bulk_create([MappingSettings(org=org)], ignore_conflicts=True)
    return MappingSettings.objects.select_for_update().get(org=org)


def _mapping_apply(plan: mapping.Plan, *, org: Organization, actor: AuditActor | None) -> dict:
    """Write what `plan` says, in bulk, with one audit event per member whose set changed."""
    direction = plan.direction
    model = mapping.assignment_model(direction)
    field_name = mapping.target_field(direction)
    created: list[str] = []
    for name in plan.create:
        try:
            if direction == Direction.ROLES:
                entity = gov.custom_role_create(org=org, name=name, permissions=[], actor=actor)
            else:
                entity = gov.team_create(org=org, name=name, actor=actor)
        except Conflict:
            continue  # made by hand since the plan was read: it matches by name now
        created.append(entity.name)
        audit_record(
            action=AuditAction.SCIM_AUTO_CREATED_ENTITY,
            org=org,
            actor=actor,
            target=entity,
            data={"new": {"kind": direction[:-1], "name": entity.name}},
        )
    id_of = dict(
        mapping.target_model(direction).objects.filter(org=org).values_list("name_key", "id")
    )
    for ids in mapping._chunks(plan.delete_ids):
        model.objects.filter(pk__in=ids).delete()
    model.objects.bulk_create(
        [
            model(membership_id=mid, source=AssignmentSource.IDP, **{field_name: id_of[key]})
            for mid, key in plan.add
        ],
        batch_size=mapping.CHUNK,
        ignore_conflicts=True,
    )
    for ids in mapping._chunks([loss.row_id for loss in plan.elsewhere]):
        TeamMembership.objects.filter(pk__in=ids).delete()
    action = (
        AuditAction.SCIM_USER_ROLE_CHANGED
        if direction == Direction.ROLES
        else AuditAction.SCIM_USER_TEAM_CHANGED
    )
    with audit_batch():
        for delta in plan.members:
            if delta.before != delta.after:
                audit_record(
                    action=action,
                    org=org,
                    actor=actor,
                    target_type="membership",
                    target_id=str(delta.membership_id),
                    target_label=delta.label,
                    data={
                        "old": delta.before,
                        "new": delta.after,
                        "mode": "mapping table" if plan.use_table else "name-based",
                    },
                )
        lost_by_membership: dict[tuple[int, int], list[str]] = {}
        for loss in plan.elsewhere:
            lost_by_membership.setdefault((loss.org_id, loss.membership_id), []).append(
                loss.team_name
            )
        for (other_org_id, mid), teams in lost_by_membership.items():
            audit_record(
                action=AuditAction.SCIM_USER_TEAM_CHANGED,
                org=Organization(pk=other_org_id),
                actor=actor,
                target_type="membership",
                target_id=str(mid),
                data={
                    "removed": sorted(teams, key=str.casefold),
                    "reason": f"name-based team sync of organization {org.slug!r} "
                    "is authoritative across organizations",
                },
            )
    return {"members_changed": len(plan.members), "auto_created": created}


def _mapping_sync(
    *,
    org: Organization,
    settings: MappingSettings,
    scope: list[int] | None,
    actor: AuditActor | None,
) -> dict:
    """Both directions for the members in `scope` (None: everyone), under the settings lock."""
    changed, created = 0, []
    for direction in Direction.values:
        plan = mapping.plan(
            org,
            direction,
            use_table=settings.use_table(direction),
            rows=mapping.table_rows(org, direction),
            scope=scope,
        )
        if not plan.empty:
            result = _mapping_apply(plan, org=org, actor=actor)
            changed += result["members_changed"]
            created += result["auto_created"]
    return {"members_changed": changed, "auto_created": created}


def mapping_sync_members(
    *, org: Organization, membership_ids: Iterable[int], actor: AuditActor | None
) -> dict:
    """The sync that follows a SCIM change, for the members it affected, inside the SCIM
    change's own transaction (call it from an atomic service)."""
    ids = sorted(set(membership_ids))
    if not ids:
        return {"members_changed": 0, "auto_created": []}
    settings = _mapping_settings_locked(org)
    return _mapping_sync(org=org, settings=settings, scope=ids, actor=actor)


@dataclass(frozen=True)
class MappingRow:
    """A mapping table row as an admin names it: the group's SCIM id and the target's id."""

    group: str
    target: int


MAX_MAPPING_ROWS = 1000


def mapping_rows_resolve(
    *, org: Organization, direction: str, rows: Iterable[MappingRow]
) -> list[tuple[int, int]]:
    """Check a proposed table against this organization: (group pk, target pk) pairs, each
    once. Unknown or other organizations' groups and targets are refused by name."""
    rows = list(rows)
    if direction not in Direction.values:
        raise ValidationFailed(f"Unknown direction {direction!r}: use roles or teams.")
    if len(rows) > MAX_MAPPING_ROWS:
        raise ValidationFailed(f"A mapping table holds at most {MAX_MAPPING_ROWS} rows.")
    sids = [_uuid_or_none(r.group) for r in rows]
    groups = dict(
        ScimGroup.objects.filter(org=org, scim_id__in=[s for s in sids if s]).values_list(
            "scim_id", "id"
        )
    )
    targets = set(
        mapping.target_model(direction)
        .objects.filter(org=org, pk__in=[r.target for r in rows])
        .values_list("id", flat=True)
    )
    out: dict[tuple[int, int], None] = {}  # ordered, each pair once
    for i, (row, sid) in enumerate(zip(rows, sids, strict=True), start=1):
        if sid not in groups:
            raise ValidationFailed(
                f"Row {i}: no IdP group {row.group!r} in this organization (use the group's "
                "SCIM id, as GET /scim/v2/Groups lists it).",
                field="rows",
            )
        if row.target not in targets:
            what = "custom role" if direction == Direction.ROLES else "team"
            raise ValidationFailed(
                f"Row {i}: no {what} with id {row.target} in this organization.", field="rows"
            )
        out[(groups[sid], row.target)] = None
    return list(out)


def _table_names(org: Organization, direction: str, pairs: Iterable[tuple[int, int]]) -> list:
    pairs = list(pairs)
    groups = dict(
        ScimGroup.objects.filter(pk__in=[g for g, _ in pairs]).values_list("id", "display_name")
    )
    targets = dict(
        mapping.target_model(direction)
        .objects.filter(pk__in=[t for _, t in pairs])
        .values_list("id", "name")
    )
    return sorted(
        ({"group": groups.get(g, str(g)), "target": targets.get(t, str(t))} for g, t in pairs),
        key=lambda r: (r["group"].casefold(), r["target"].casefold()),
    )


@transaction.atomic
def mapping_table_replace(
    *, org: Organization, direction: str, rows: Iterable[MappingRow], actor: AuditActor | None
) -> MappingSyncJob | None:
    """Replace a direction's mapping table as a whole, then resync everyone (a Celery job).
    Returns the job, or None when the table did not change."""
    pairs = mapping_rows_resolve(org=org, direction=direction, rows=rows)
    _mapping_settings_locked(org)
    field_name = mapping.target_field(direction)
    current = mapping.table_rows(org, direction)
    if set(current) == set(pairs):
        return None
    GroupMapping.objects.filter(org=org, direction=direction).delete()
    GroupMapping.objects.bulk_create(
        GroupMapping(org=org, direction=direction, group_id=g, **{field_name: t}) for g, t in pairs
    )
    audit_record(
        action=(
            AuditAction.SCIM_ROLE_MAPPING_UPDATED
            if direction == Direction.ROLES
            else AuditAction.SCIM_TEAM_MAPPING_UPDATED
        ),
        org=org,
        actor=actor,
        target_type="mapping_table",
        target_id=direction,
        target_label=f"{direction} mapping table",
        data={
            "old": _table_names(org, direction, current),
            "new": _table_names(org, direction, pairs),
        },
    )
    return _mapping_job_create(org=org, trigger=SyncTrigger.TABLE_REPLACED, actor=actor)


@transaction.atomic
def mapping_mode_set(
    *,
    org: Organization,
    direction: str,
    use_table: bool,
    confirm: bool = False,
    actor: AuditActor | None,
) -> MappingSyncJob | None:
    """Flip "Use mapping table". Switching to name-based mode (the IdP becomes authoritative and
    removes what it does not grant) is refused without an explicit confirmation."""
    if direction not in Direction.values:
        raise ValidationFailed(f"Unknown direction {direction!r}: use roles or teams.")
    settings = _mapping_settings_locked(org)
    if settings.use_table(direction) == use_table:
        return None
    if not use_table and not confirm:
        raise ValidationFailed(
            f"Switching {direction} to name-based mode removes every {direction[:-1]} the IdP "
            "does not grant, hand-made ones included. Preview it first, then repeat the "
            'request with "confirm": true.',
            field="confirm",
        )
    setattr(settings, f"{direction}_use_table", use_table)
    settings.updated_at = timezone.now()
    settings.save()
    audit_record(
        action=AuditAction.SCIM_USE_MAPPING_TABLE_CHANGED,
        org=org,
        actor=actor,
        target_type="mapping_settings",
        target_id=direction,
        target_label=f"{direction}: use mapping table",
        data={
            "old": {"use_mapping_table": not use_table},
            "new": {"use_mapping_table": use_table},
            "confirmed": bool(confirm),
        },
    )
    return _mapping_job_create(org=org, trigger=SyncTrigger.MODE_CHANGED, actor=actor)


def _mapping_job_create(
    *, org: Organization, trigger: str, actor: AuditActor | None
) -> MappingSyncJob:
    from audit.services import describe_actor

    job = MappingSyncJob.objects.create(
        org=org, trigger=trigger, requested_by=describe_actor(actor)[2][:300]
    )

    def enqueue() -> None:
        from scim.tasks import mapping_sync_job

        mapping_sync_job.delay(job.pk)

    transaction.on_commit(enqueue)
    return job


@transaction.atomic
def mapping_sync_start(
    *, org: Organization, trigger: str = SyncTrigger.MANUAL, actor: AuditActor | None
) -> MappingSyncJob:
    """ "Run sync now" and the nightly reconciliation: a full sync of both directions."""
    return _mapping_job_create(org=org, trigger=trigger, actor=actor)


def mapping_sync_job_run(*, job_id: int, actor: AuditActor | None = None) -> MappingSyncJob:
    """Run a full sync job: every SCIM-provisioned member, in chunks, each chunk one
    transaction under the settings lock (a SCIM change waits at most one chunk). Progress is
    saved after each chunk. A failure is recorded on the job, never raised to the worker."""
    job = MappingSyncJob.objects.select_related("org").get(pk=job_id)
    if job.status != SyncStatus.QUEUED:
        return job
    org = job.org
    ids = list(
        ScimUser.objects.filter(org=org)
        .order_by("membership_id")
        .values_list("membership_id", flat=True)
    )
    job.status, job.started_at, job.total = SyncStatus.RUNNING, timezone.now(), len(ids)
    job.save(update_fields=["status", "started_at", "total"])
    actor = actor or _job_actor(job)
    try:
        for chunk in mapping._chunks(ids):
            with transaction.atomic():
                settings = _mapping_settings_locked(org)
                result = _mapping_sync(org=org, settings=settings, scope=chunk, actor=actor)
            job.processed += len(chunk)
            job.members_changed += result["members_changed"]
            job.auto_created = job.auto_created + result["auto_created"]
            job.save(update_fields=["processed", "members_changed", "auto_created"])
    except Exception as exc:
        logger.exception("mapping sync job %s failed", job.pk)
        job.status, job.error = SyncStatus.FAILED, f"{type(exc).__name__}: {exc}"[:500]
    else:
        job.status = SyncStatus.DONE
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "finished_at"])
    return job


def _job_actor(job: MappingSyncJob) -> AuditActor:
    from audit.services import SystemActor

    return SystemActor(f"mapping sync ({job.get_trigger_display()})")


def mapping_reconcile_all(*, trigger: str = SyncTrigger.NIGHTLY) -> int:
    """Queue a full sync for every organization with SCIM-provisioned members."""
    from audit.services import SystemActor

    actor = SystemActor("nightly mapping reconciliation")
    count = 0
    for org in Organization.objects.filter(scim_users__isnull=False).distinct():
        mapping_sync_start(org=org, trigger=trigger, actor=actor)
        count += 1
    return count
