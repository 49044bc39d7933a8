"""SCIM Groups: the IdP's groups (mapping.models.IdpGroup) as a SCIM client pushes them. This
translates SCIM member ids into members and calls the mapping app, which stores the group,
syncs roles and teams, and audits."""

from __future__ import annotations

import uuid

from django.db import transaction

from core.actors import Actor
from core.input import uuid_or_none
from mapping.models import IdpGroup, IdpUser
from mapping.services import groups as idp_groups
from orgs.models import Organization
from scim.adapters import GroupChange
from scim.exceptions import ScimError


def _members_by_id(org: Organization, ids: list[str], *, strict: bool) -> dict[uuid.UUID, int]:
    """SCIM user id → membership id for the org's SCIM users with these ids. Strict: an unknown
    id is a 400 naming it (a member must be a provisioned user of this org); otherwise unknown
    ids are skipped (removing a user that is already gone is not an error)."""
    good = [u for u in map(uuid_or_none, ids) if u is not None]
    found = dict(IdpUser.objects.filter(org=org, uid__in=good).values_list("uid", "membership_id"))
    missing = [raw for raw in ids if uuid_or_none(raw) not in found]
    if strict and missing:
        shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
        raise ScimError(
            f"Unknown member id(s): {shown}. Members must be users provisioned in "
            "this organization.",
            status=400,
            scim_type="invalidValue",
        )
    return found


@transaction.atomic
def scim_group_create(*, org: Organization, change: GroupChange, actor: Actor) -> IdpGroup:
    members = _members_by_id(org, change.members or [], strict=True)
    return idp_groups.idp_group_create(
        org=org,
        display_name=change.display_name or "",
        external_id=change.external_id or "",
        membership_ids=list(members.values()),
        actor=actor,
    )


@transaction.atomic
def scim_group_update(*, group: IdpGroup, change: GroupChange, actor: Actor) -> IdpGroup:
    """PUT and PATCH: a full member set, or deltas (so concurrent PATCHes compose)."""
    org = group.org
    if change.members is not None:
        return idp_groups.idp_group_update(
            group=group,
            display_name=change.display_name,
            external_id=change.external_id,
            members=list(_members_by_id(org, change.members, strict=True).values()),
            actor=actor,
        )
    return idp_groups.idp_group_update(
        group=group,
        display_name=change.display_name,
        external_id=change.external_id,
        add=list(_members_by_id(org, change.add, strict=True).values()),
        remove=list(_members_by_id(org, change.remove, strict=False).values()),
        remove_all=change.remove_all,
        actor=actor,
    )


@transaction.atomic
def scim_group_delete(*, group: IdpGroup, actor: Actor) -> None:
    idp_groups.idp_group_delete(group=group, actor=actor)
