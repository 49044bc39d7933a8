"""The preview predicts exactly what the sync then does: random IdP groups, group memberships,
hand-made and IdP-granted assignments, memberships in another organization, modes and tables
(hypothesis)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mapping import selectors
from mapping.services.sync import mapping_sync_job_run, mapping_sync_start
from mapping.services.table import (
    MappingRow,
    mapping_mode_set,
    mapping_rows_resolve,
    mapping_table_replace,
)
from orgs.models import CustomRole, RoleAssignment, Team, TeamMembership
from orgs.services.assignments import role_assign, team_member_add
from orgs.services.roles import custom_role_create
from orgs.services.teams import team_create
from scim.adapters import GroupChange, UserFields
from scim.services.groups import scim_group_create
from scim.services.tokens import scim_token_create
from scim.services.users import scim_user_create

ROLE_NAMES = ["Builder", "Viewer", "Support"]
TEAM_NAMES = ["Data", "Growth"]
# Group names: exact and case/space variants of targets (hits), and new names (misses).
GROUP_NAMES = ["Builder", " viewer ", "DATA", "growth", "Finance", "Ops", "eng", "support"]
USERS = ["ada", "bob", "cy", "di"]

world = st.fixed_dictionaries(
    {
        "direction": st.sampled_from(["roles", "teams"]),
        "use_table": st.booleans(),
        "groups": st.lists(st.sampled_from(GROUP_NAMES), min_size=1, max_size=5, unique=True),
        "links": st.sets(st.tuples(st.integers(0, 4), st.sampled_from(USERS)), max_size=12),
        "table": st.sets(st.tuples(st.integers(0, 4), st.integers(0, 2)), max_size=6),
        "manual": st.sets(st.tuples(st.sampled_from(USERS), st.integers(0, 2)), max_size=6),
        "granted": st.sets(st.tuples(st.sampled_from(USERS), st.integers(0, 2)), max_size=6),
        "elsewhere": st.sets(st.sampled_from(USERS), max_size=2),
    }
)


def holdings(org: Any, direction: str) -> dict[str, set[str]]:
    if direction == "roles":
        rows = RoleAssignment.objects.filter(membership__org=org).values_list(
            "membership__idp__user_name", "role__name"
        )
    else:
        rows = TeamMembership.objects.filter(membership__org=org).values_list(
            "membership__idp__user_name", "team__name"
        )
    out: dict[str, set[str]] = {}
    for user, name in rows:
        out.setdefault(user, set()).add(name)
    return out


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(w=world)
def test_preview_equals_what_the_sync_does(org, other_org, make_member, w):
    with transaction.atomic():
        _check(org, other_org, make_member, w)
        transaction.set_rollback(True)  # each example starts from the same empty org


def _check(org, other_org, make_member, w):
    token, _ = scim_token_create(org=org, actor=None)
    roles = [custom_role_create(org=org, name=n, actor=None) for n in ROLE_NAMES]
    teams = [team_create(org=org, name=n, actor=None) for n in TEAM_NAMES]
    users = {
        u: scim_user_create(
            org=org, fields=UserFields(user_name=f"{u}@acme.example"), actor=token
        ).scim_user
        for u in USERS
    }
    targets = roles if w["direction"] == "roles" else teams
    for user, i in w["manual"]:
        _grant(w["direction"], users[user].membership, targets[i % len(targets)], "manual")
    for user, i in w["granted"]:
        _grant(w["direction"], users[user].membership, targets[i % len(targets)], "idp")
    far_team = team_create(org=other_org, name="Research", actor=None)
    for user in w["elsewhere"]:
        far = make_member(other_org, f"{user}@acme.example")
        team_member_add(team=far_team, membership=far, actor=None)
    groups = []
    for n, name in enumerate(w["groups"]):
        members = [str(users[u].uid) for g, u in w["links"] if g % len(w["groups"]) == n]
        change = GroupChange(display_name=name, members=members)
        groups.append(scim_group_create(org=org, change=change, actor=token))
    rows = [
        MappingRow(group=str(groups[g % len(groups)].uid), target=targets[t % len(targets)].pk)
        for g, t in w["table"]
    ]
    pairs = mapping_rows_resolve(org=org, direction=w["direction"], rows=rows)

    before = holdings(org, w["direction"])
    far_before = set(
        TeamMembership.objects.filter(team__org=other_org).values_list("id", flat=True)
    )
    plan = selectors.mapping_preview(
        org=org, direction=w["direction"], use_table=w["use_table"], rows=pairs
    )

    mapping_table_replace(org=org, direction=w["direction"], rows=rows, actor=None)
    mapping_mode_set(
        org=org, direction=w["direction"], use_table=w["use_table"], confirm=True, actor=None
    )
    job = mapping_sync_start(org=org, actor=None)
    job = mapping_sync_job_run(job_id=job.pk)
    assert job.status == "done", job.error

    after = holdings(org, w["direction"])
    predicted = {m.label: m for m in plan.members}
    for user in USERS:
        name = f"{user}@acme.example"
        gained = after.get(name, set()) - before.get(name, set())
        lost = before.get(name, set()) - after.get(name, set())
        delta = predicted.get(name)
        assert gained == set(delta.gains if delta else []), (user, w)
        assert lost == set(delta.losses if delta else []), (user, w)
    lost_far = far_before - set(
        TeamMembership.objects.filter(team__org=other_org).values_list("id", flat=True)
    )
    assert len(lost_far) == sum(len(m.lost_elsewhere) for m in plan.members)
    model = CustomRole if w["direction"] == "roles" else Team
    created = set(model.objects.filter(org=org).values_list("name", flat=True)) - {
        t.name for t in targets
    }
    assert created == set(plan.create)
    assert sorted(job.auto_created) == sorted(plan.create)


def _grant(direction: str, membership: Any, target: Any, source: str) -> None:
    if direction == "roles":
        role_assign(membership=membership, role=target, source=source, actor=None)
    else:
        team_member_add(team=target, membership=membership, source=source, actor=None)
