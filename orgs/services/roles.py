"""Custom roles: org-defined named sets of permissions from the catalog (orgs.rbac)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction

from audit.choices import AuditAction
from audit.services import audit_record
from core.actors import Actor
from core.exceptions import Conflict
from core.input import clean_block
from orgs import rbac
from orgs.models import CustomRole, Organization, name_key
from orgs.services.guards import require_grantable
from orgs.services.names import clean_name, clean_permissions, ensure_name_free


@transaction.atomic
def custom_role_create(
    *,
    org: Organization,
    name: str,
    permissions: Iterable[str] = (),
    description: str = "",
    actor: Actor | None,
) -> CustomRole:
    name = clean_name(name, "role")
    perms = clean_permissions(permissions)
    require_grantable(actor, org, perms)
    ensure_name_free(CustomRole, org, name, None)
    role = CustomRole(
        org=org,
        name=name,
        name_key=name_key(name),
        description=clean_block(
            description, field="description", what="description", max_length=300
        ),
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
    actor: Actor | None,
) -> CustomRole:
    role = CustomRole.objects.select_for_update(of=("self",)).select_related("org").get(pk=role.pk)
    old = {"name": role.name, "permissions": role.permissions, "description": role.description}
    new = dict(old)
    if name is not None:
        new["name"] = clean_name(name, "role")
    if permissions is not None:
        new["permissions"] = clean_permissions(permissions)
    if description is not None:
        new["description"] = clean_block(
            description, field="description", what="description", max_length=300
        )
    if new == old:
        return role
    require_grantable(actor, role.org, set(new["permissions"]) | set(old["permissions"]))
    if new["name"] != old["name"]:
        ensure_name_free(CustomRole, role.org, new["name"], role.pk)
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
def custom_role_delete(*, role: CustomRole, actor: Actor | None) -> None:
    role = CustomRole.objects.select_for_update(of=("self",)).select_related("org").get(pk=role.pk)
    require_grantable(actor, role.org, role.permissions)
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
def role_templates_create(*, org: Organization, actor: Actor | None) -> list[CustomRole]:
    """The built-in templates (orgs.rbac.ROLE_TEMPLATES) this organization does not have yet,
    by name; each is an ordinary custom role afterwards, audited like one."""
    have = set(CustomRole.objects.filter(org=org).values_list("name_key", flat=True))
    made = []
    for name, (description, permissions) in rbac.ROLE_TEMPLATES.items():
        if name_key(name) not in have:
            made.append(
                custom_role_create(
                    org=org,
                    name=name,
                    description=description,
                    permissions=permissions,
                    actor=actor,
                )
            )
    return made
