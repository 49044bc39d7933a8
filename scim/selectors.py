"""SCIM reads, always scoped to the token's organization."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Count, Prefetch, Q, QuerySet

from governance import rows
from governance.choices import AssignmentSource
from governance.models import Organization, RoleAssignment, name_key
from scim import mapping
from scim.adapters import UserFields
from scim.choices import Direction
from scim.models import (
    GroupMapping,
    MappingSettings,
    MappingSyncJob,
    ScimGroup,
    ScimGroupMember,
    ScimToken,
    ScimUser,
)

# The ScimUser columns that UserFields carries as they are.
STORED_FIELDS = (
    "user_name",
    "external_id",
    "given_name",
    "family_name",
    "display_name",
    "emails",
    "department",
    "employee_number",
    "manager_id",
)


def scim_token_by_prefix(prefix: str) -> ScimToken | None:
    """The token with this public prefix, and its organization, in one indexed read. Every
    SCIM request starts here, so the read is written out (governance.rows) instead of being
    compiled by the ORM each time; revocation still shows on the very next request."""
    token_meta, org_meta = ScimToken._meta, Organization._meta
    qn = connection.ops.quote_name
    # Names come from the models and are quoted; the prefix is a parameter.
    sql = (
        f"SELECT {rows.select_list(ScimToken, 't')}, {rows.select_list(Organization, 'o')} "  # noqa: S608
        f"FROM {qn(token_meta.db_table)} t JOIN {qn(org_meta.db_table)} o "
        f"ON o.{qn(org_meta.pk.column)} = t.{qn(token_meta.get_field('org').column)} "
        f"WHERE t.{qn(token_meta.get_field('prefix').column)} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(token_meta.concrete_fields)
    token = rows.instance(ScimToken, row[:split])
    token.org = rows.instance(Organization, row[split:])
    return token


def scim_users(*, org: Organization, q: Q | None = None) -> QuerySet[ScimUser]:
    """The tenant scope wraps the whole filter expression: `org AND (filter)`."""
    qs = ScimUser.objects.filter(org=org)
    if q is not None:
        qs = qs.filter(q)
    return qs


def with_representation(qs: QuerySet[ScimUser]) -> QuerySet[ScimUser]:
    """What rendering a page of users needs, in two queries whatever the page size."""
    return qs.select_related("membership__user").prefetch_related(
        Prefetch(
            "membership__role_assignments",
            queryset=RoleAssignment.objects.filter(source=AssignmentSource.SCIM).select_related(
                "role"
            ),
        )
    )


@dataclass(frozen=True)
class UserRow:
    """A SCIM user as rendering needs it."""

    scim_id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    fields: UserFields


def scim_user_rows(*, org: Organization, ids: QuerySet[ScimUser]) -> list[UserRow]:
    """The users whose ids the subquery `ids` gives, in id order, in two queries and without
    model instances: a list page renders up to 200 users, and building 600 ORM objects (user,
    membership, SCIM user) with a related manager each costs more than the queries."""
    head = ("scim_id", "created_at", "updated_at", "membership_id", "membership__is_active")
    rows = list(
        ScimUser.objects.filter(org=org, pk__in=ids)
        .order_by("id")
        .values_list(*head, *STORED_FIELDS)
    )
    roles: dict[int, list[str]] = defaultdict(list)
    if rows:
        for membership_id, name in RoleAssignment.objects.filter(
            membership_id__in=[r[3] for r in rows], source=AssignmentSource.SCIM
        ).values_list("membership_id", "role__name"):
            roles[membership_id].append(name)
    out = []
    for r in rows:
        stored = dict(zip(STORED_FIELDS, r[len(head) :], strict=True))
        fields = UserFields(**stored, active=r[4], roles=sorted(roles[r[3]]))
        out.append(UserRow(scim_id=r[0], created_at=r[1], updated_at=r[2], fields=fields))
    return out


def scim_user_get(*, org: Organization, scim_id: str) -> ScimUser | None:
    try:
        key = uuid.UUID(str(scim_id))
    except ValueError:
        return None
    return with_representation(scim_users(org=org)).filter(scim_id=key).first()


def scim_groups(*, org: Organization, q: Q | None = None) -> QuerySet[ScimGroup]:
    qs = ScimGroup.objects.filter(org=org)
    if q is not None:
        # A filter through members joins one row per member: keep each group once.
        qs = ScimGroup.objects.filter(pk__in=qs.filter(q).values("pk"))
    return qs


def with_members(qs: QuerySet[ScimGroup]) -> QuerySet[ScimGroup]:
    return qs.prefetch_related(
        Prefetch(
            "members",
            queryset=ScimGroupMember.objects.select_related("user")
            .only("group_id", "user__scim_id", "user__user_name")
            .order_by("id"),
        )
    )


def scim_group_get(*, org: Organization, scim_id: str) -> ScimGroup | None:
    import uuid

    try:
        key = uuid.UUID(str(scim_id))
    except ValueError:
        return None
    return scim_groups(org=org).filter(scim_id=key).first()


def scim_tokens(*, org: Organization) -> QuerySet:
    from scim.models import ScimToken

    return ScimToken.objects.filter(org=org).order_by("revoked_at", "-created_at")


def scim_token_get(*, org: Organization, pk: object) -> object | None:
    from governance.selectors import as_id
    from scim.models import ScimToken

    pk = as_id(pk)
    return ScimToken.objects.filter(org=org, pk=pk).first() if pk else None


def scim_recent_errors(*, org: Organization, limit: int = 20) -> QuerySet:
    from scim.models import ScimRequestError

    return ScimRequestError.objects.filter(org=org).select_related("token").order_by("-at")[:limit]


def scim_counts(*, org: Organization) -> dict[str, int]:
    return {
        "users": ScimUser.objects.filter(org=org).count(),
        "groups": ScimGroup.objects.filter(org=org).count(),
    }


# --- mapping: settings, preview and drift ----------------------------------------------------


def mapping_settings(*, org: Organization) -> MappingSettings:
    """The organization's mapping settings (the defaults when never saved: both tables on)."""
    return MappingSettings.objects.filter(org=org).first() or MappingSettings(org=org)


def mapping_table(*, org: Organization, direction: str) -> list[GroupMapping]:
    target = "role" if direction == Direction.ROLES else "team"
    return list(
        GroupMapping.objects.filter(org=org, direction=direction)
        .select_related("group", target)
        .order_by("group__display_name", f"{target}__name", "id")
    )


def mapping_preview(
    *,
    org: Organization,
    direction: str,
    use_table: bool | None = None,
    rows: list[tuple[int, int]] | None = None,
) -> mapping.Plan:
    """What a full sync of `direction` would change with this mode and table (the stored ones
    where not given): the very planner the sync runs."""
    settings = mapping_settings(org=org)
    return mapping.plan(
        org,
        direction,
        use_table=settings.use_table(direction) if use_table is None else use_table,
        rows=mapping.table_rows(org, direction) if rows is None else rows,
    )


def mapping_drift(*, org: Organization) -> dict[str, Any]:
    """Per direction: IdP groups that map to nothing, targets no group grants, and members
    whose access in the managed part of the direction was granted by hand."""
    settings = mapping_settings(org=org)
    groups = list(
        ScimGroup.objects.filter(org=org)
        .annotate(member_count=Count("members"))
        .order_by("display_name")
        .values_list("id", "display_name", "member_count")
    )
    out: dict[str, Any] = {}
    for direction in Direction.values:
        targets = list(
            mapping.target_model(direction)
            .objects.filter(org=org)
            .order_by("name_key")
            .values_list("id", "name", "name_key")
        )
        use_table = settings.use_table(direction)
        if use_table:
            pairs = mapping.table_rows(org, direction)
            mapped_groups = {g for g, _ in pairs}
            granted = {t for _, t in pairs}
            managed: set[int] | None = granted
        else:
            keys = {k: pk for pk, _, k in targets}
            mapped_groups = {
                g for g, name, _ in groups if name_key(mapping.group_target_name(name)) in keys
            }
            group_keys = {name_key(mapping.group_target_name(n)) for _, n, _ in groups}
            granted = {pk for pk, _, k in targets if k in group_keys}
            managed = None  # every target of the direction
        hand = mapping.assignment_model(direction).objects.filter(
            membership__org=org,
            membership__scim__isnull=False,
            source=AssignmentSource.MANUAL,
        )
        if managed is not None:
            hand = hand.filter(**{f"{mapping.target_field(direction)}__in": managed})
        target_name = "role__name" if direction == Direction.ROLES else "team__name"
        out[direction] = {
            "use_mapping_table": use_table,
            "unmapped_groups": [
                {"group": name, "members": n} for g, name, n in groups if g not in mapped_groups
            ],
            "ungranted_targets": [name for pk, name, _ in targets if pk not in granted],
            "hand_made": [
                {"member": member, "target": target}
                for member, target in hand.order_by(
                    "membership__scim__user_name", target_name
                ).values_list("membership__scim__user_name", target_name)[:500]
            ],
        }
    return out


def mapping_last_job(*, org: Organization) -> MappingSyncJob | None:
    return MappingSyncJob.objects.filter(org=org).order_by("-id").first()


def mapping_job_get(*, org: Organization, pk: Any) -> MappingSyncJob | None:
    try:
        return MappingSyncJob.objects.filter(org=org, pk=int(pk)).first()
    except (TypeError, ValueError):
        return None
