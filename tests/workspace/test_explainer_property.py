"""The explainer agrees with the decision function (Hypothesis): random custom roles and their
permissions, members with random roles, teams and RBAC roles, agents owned by random teams and
owners and using random integrations, and random shares to members and teams; every action on
every agent, for every member, gets the same verdict from both."""

from __future__ import annotations

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orgs.services.assignments import role_assign, team_member_add
from orgs.services.members import membership_change_role
from orgs.services.roles import custom_role_create
from orgs.services.teams import team_create
from workspace.decisions import ACTIONS, Question, decide_many
from workspace.explainer import explain
from workspace.models import Agent
from workspace.services.resources import share_set

PERMS = [
    "agents.run",
    "agents.edit",
    "agents.delete",
    "integrations.use.slack",
    "integrations.use.zendesk",
    "integrations.use.snowflake",
]
AGENT_ACTIONS = [a for a, spec in ACTIONS.items() if spec.kind == "agent"]

world = st.fixed_dictionaries(
    {
        "roles": st.lists(st.sets(st.sampled_from(PERMS)), min_size=1, max_size=3),
        "members": st.lists(
            st.tuples(st.booleans(), st.sets(st.integers(0, 2)), st.sets(st.integers(0, 1))),
            min_size=1,
            max_size=4,
        ),
        "agents": st.lists(
            st.tuples(
                st.integers(-1, 1),
                st.integers(-1, 3),
                st.sets(st.sampled_from(["slack", "zendesk", "snowflake"])),
                st.booleans(),
            ),
            min_size=1,
            max_size=3,
        ),
        "shares": st.lists(
            st.tuples(
                st.integers(0, 2),
                st.booleans(),
                st.integers(0, 3),
                st.sampled_from(["owner", "editor", "runner", "viewer"]),
            ),
            max_size=5,
        ),
    }
)


@pytest.mark.django_db
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(w=world)
def test_the_explainer_agrees_with_the_decision_function(org, admin, make_member, w):
    with transaction.atomic():
        _check(org, make_member, w)
        transaction.set_rollback(True)


def _check(org, make_member, w):
    roles = [
        custom_role_create(org=org, name=f"R{i}", permissions=sorted(p), actor=None)
        for i, p in enumerate(w["roles"])
    ]
    teams = [team_create(org=org, name=f"T{i}", actor=None) for i in range(2)]
    members = []
    for i, (is_admin, role_ids, team_ids) in enumerate(w["members"]):
        m = make_member(org, f"m{i}@acme.example", password=None)
        if is_admin:
            m = membership_change_role(membership=m, role="admin", actor=None)
        for r in role_ids:
            role_assign(membership=m, role=roles[r % len(roles)], actor=None)
        for t in team_ids:
            team_member_add(team=teams[t], membership=m, actor=None)
        members.append(m)
    agents = []
    for team, owner, uses, active in w["agents"]:
        agents.append(
            Agent.objects.create(
                org=org,
                name=f"A{len(agents)}",
                team=teams[team] if team >= 0 else None,
                owner=members[owner % len(members)] if owner >= 0 else None,
                integrations=sorted(uses),
                status="active" if active else "paused",
            )
        )
    for agent_i, to_member, who, level in w["shares"]:
        agent = agents[agent_i % len(agents)]
        if to_member:
            share_set(obj=agent, level=level, member=members[who % len(members)], actor=None)
        else:
            share_set(obj=agent, level=level, team=teams[who % 2], actor=None)
    questions = [
        Question(m.pk, action, resource=("agent", a.pk))
        for m in members
        for a in agents
        for action in AGENT_ACTIONS
    ]
    decisions = decide_many(org, questions)
    for q, d in zip(questions, decisions, strict=True):
        member = next(m for m in members if m.pk == q.member_id)
        e = explain(org, member, q.action, q.resource)
        assert e.allowed == d.allowed, (q, d.reasons, e.as_dict())
        assert bool(e.missing) == (not e.allowed)
