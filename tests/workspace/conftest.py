"""The seed 000 world the workspace tests share: Builder and Consumer roles, the Support and Data
teams, and an agent owned by Support that uses Slack and Zendesk."""

from __future__ import annotations

import pytest

from orgs.services.assignments import role_assign, team_member_add
from orgs.services.roles import custom_role_create
from orgs.services.teams import team_create
from workspace.services.resources import resource_create

BUILDER = [
    "agents.create",
    "agents.edit",
    "agents.run",
    "workflows.build",
    "integrations.use.slack",
    "integrations.use.zendesk",
]
CONSUMER = ["agents.run", "workflows.execute", "integrations.use.slack", "integrations.use.zendesk"]


@pytest.fixture
def world(org, admin, make_member):
    builder_role = custom_role_create(org=org, name="Builder", permissions=BUILDER, actor=None)
    consumer_role = custom_role_create(org=org, name="Consumer", permissions=CONSUMER, actor=None)
    support = team_create(org=org, name="Support", actor=None)
    data = team_create(org=org, name="Data", actor=None)
    builder = make_member(org, "builder@acme.example")
    consumer = make_member(org, "consumer@acme.example")
    outsider = make_member(org, "outsider@acme.example")
    role_assign(membership=builder, role=builder_role, actor=None)
    role_assign(membership=consumer, role=consumer_role, actor=None)
    role_assign(membership=outsider, role=builder_role, actor=None)
    team_member_add(team=support, membership=builder, actor=None)
    team_member_add(team=support, membership=consumer, actor=None)
    team_member_add(team=data, membership=outsider, actor=None)
    agent = resource_create(
        org=org,
        kind="agent",
        fields={"name": "Support triage", "integrations": ["slack", "zendesk"], "team": support},
        actor=builder.user,
    )
    return {
        "org": org,
        "admin": admin,
        "builder": builder,
        "consumer": consumer,
        "outsider": outsider,
        "agent": agent,
        "support": support,
        "data": data,
    }
