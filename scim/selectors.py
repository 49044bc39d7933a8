"""SCIM reads, always scoped to the token's organization."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet

from core import rows
from core.input import as_id, uuid_or_none
from mapping.models import IdpGroup, IdpGroupMember, IdpUser
from orgs.choices import AssignmentSource
from orgs.models import Organization, RoleAssignment
from scim.adapters import UserFields
from scim.models import ScimRequestError, ScimToken

# The IdpUser columns that UserFields carries as they are.
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
    "extra",
)


def scim_token_by_prefix(prefix: str) -> ScimToken | None:
    """The token with this public prefix, and its organization, in one indexed read. Every
    SCIM request starts here, so the read is written out (core.rows, where the measured reason
    is); revocation still shows on the very next request."""
    return rows.fetch_with_related(ScimToken, "org", "prefix", prefix)


def scim_users(*, org: Organization, q: Q | None = None) -> QuerySet[IdpUser]:
    """The tenant scope wraps the whole filter expression: `org AND (filter)`."""
    qs = IdpUser.objects.filter(org=org)
    if q is not None:
        qs = qs.filter(q)
    return qs


def with_representation(qs: QuerySet[IdpUser]) -> QuerySet[IdpUser]:
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

    uid: uuid.UUID
    created_at: datetime
    updated_at: datetime
    fields: UserFields


def scim_user_rows(*, org: Organization, ids: list[int]) -> list[UserRow]:
    """The users with these ids (one page), in id order, in two queries and without
    model instances: a list page renders up to 200 users, and building 600 ORM objects (user,
    membership, SCIM user) with a related manager each costs more than the queries."""
    if not ids:
        return []
    head = ("uid", "created_at", "updated_at", "membership_id", "membership__is_active")
    rows = list(
        IdpUser.objects.filter(org=org, pk__in=ids)
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
        out.append(UserRow(uid=r[0], created_at=r[1], updated_at=r[2], fields=fields))
    return out


def scim_user_get(*, org: Organization, scim_id: str) -> IdpUser | None:
    try:
        key = uuid.UUID(str(scim_id))
    except ValueError:
        return None
    return with_representation(scim_users(org=org)).filter(uid=key).first()


def scim_groups(*, org: Organization, q: Q | None = None) -> QuerySet[IdpGroup]:
    qs = IdpGroup.objects.filter(org=org)
    if q is not None:
        qs = qs.filter(q)  # members filters are EXISTS subqueries: each group once
    return qs


def with_members(qs: QuerySet[IdpGroup]) -> QuerySet[IdpGroup]:
    """Each group with its members as SCIM knows them (id and userName)."""
    return qs.prefetch_related(
        Prefetch(
            "members",
            queryset=IdpGroupMember.objects.select_related("membership__idp")
            .only("group_id", "membership__idp__uid", "membership__idp__user_name")
            .order_by("id"),
        )
    )


def scim_group_get(*, org: Organization, scim_id: str) -> IdpGroup | None:
    key = uuid_or_none(scim_id)
    return scim_groups(org=org).filter(uid=key).first() if key else None


def scim_tokens(*, org: Organization) -> QuerySet[ScimToken]:
    return ScimToken.objects.filter(org=org).order_by("revoked_at", "-created_at")


def scim_token_get(*, org: Organization, pk: object) -> ScimToken | None:
    pk = as_id(pk)
    return ScimToken.objects.filter(org=org, pk=pk).first() if pk else None


def scim_recent_errors(*, org: Organization, limit: int = 20) -> QuerySet[ScimRequestError]:
    return ScimRequestError.objects.filter(org=org).select_related("token").order_by("-at")[:limit]


def scim_counts(*, org: Organization) -> dict[str, int]:
    return {
        "users": IdpUser.objects.filter(org=org).count(),
        "groups": IdpGroup.objects.filter(org=org).count(),
    }
