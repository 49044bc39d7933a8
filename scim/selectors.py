"""SCIM reads, always scoped to the token's organization."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from governance.choices import AssignmentSource
from governance.models import Organization, RoleAssignment
from scim.models import ScimUser


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
            queryset=RoleAssignment.objects.filter(source=AssignmentSource.IDP).select_related(
                "role"
            ),
        )
    )


def scim_user_get(*, org: Organization, scim_id: str) -> ScimUser | None:
    import uuid

    try:
        key = uuid.UUID(str(scim_id))
    except ValueError:
        return None
    return with_representation(scim_users(org=org)).filter(scim_id=key).first()
