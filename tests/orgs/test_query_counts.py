"""Page and list query counts stay flat as the data grows (10 rows vs 1,000 rows)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from audit.choices import AuditAction
from audit.models import AuditEvent
from core.actors import ActorKind
from identity.models import User
from orgs.choices import AssignmentSource
from orgs.models import Membership, RoleAssignment, TeamMembership
from orgs.services.roles import custom_role_create
from orgs.services.teams import team_create
from tests.conftest import api

# A constant, whatever the data: the sign-in policy check (sso.middleware) is one of them.
MAX_PAGE_QUERIES = 12


def grow(org, n):
    """n members (each with a role and a team) and n audit events, in bulk: this is volume,
    not behaviour, so it is built the fast way."""
    role = custom_role_create(org=org, name=f"Role {n}", actor=None)
    team = team_create(org=org, name=f"Team {n}", actor=None)
    users = User.objects.bulk_create(User(email=f"u{i}-{n}@acme.example") for i in range(n))
    ms = Membership.objects.bulk_create(Membership(org=org, user=u) for u in users)
    RoleAssignment.objects.bulk_create(
        RoleAssignment(membership=m, role=role, source=AssignmentSource.MANUAL) for m in ms
    )
    TeamMembership.objects.bulk_create(
        TeamMembership(membership=m, team=team, source=AssignmentSource.IDP) for m in ms
    )
    AuditEvent.objects.bulk_create(
        AuditEvent(
            org_id=org.pk,
            action=AuditAction.MEMBER_ADDED,
            actor_kind=ActorKind.SYSTEM,
            actor_label="bulk",
            target_type="membership",
            target_id=str(m.pk),
            target_label=m.user.email,
            occurred_at=timezone.now(),
        )
        for m in ms
    )


@pytest.mark.parametrize("rows", [10, 1000])
@pytest.mark.parametrize(
    "url",
    [
        "/o/acme/members/",
        "/o/acme/members/?q=u1&page=2",
        "/o/acme/audit/",
        "/o/acme/audit/?action=member.added",
        "/o/acme/",
    ],
)
def test_admin_pages_query_count_is_flat(
    admin_client, org, rows, url, django_assert_max_num_queries
):
    grow(org, rows)
    # The Overview adds its two daily aggregates (runs by team; sign-ins and denials).
    limit = MAX_PAGE_QUERIES + 2 if url == "/o/acme/" else MAX_PAGE_QUERIES
    with django_assert_max_num_queries(limit):
        assert admin_client.get(url).status_code == 200


@pytest.mark.parametrize("rows", [10, 1000])
@pytest.mark.parametrize(
    "path", ["/api/v1/members/", "/api/v1/audit-events/", "/api/v1/teams/", "/api/v1/roles/"]
)
def test_api_lists_query_count_is_flat(
    client, api_key, org, rows, path, django_assert_max_num_queries
):
    grow(org, rows)
    with django_assert_max_num_queries(6):
        r = api(client, "GET", path, api_key)
    assert r.status_code == 200 and r.json()["results"]
