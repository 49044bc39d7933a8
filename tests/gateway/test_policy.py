"""One planner decides live calls and the policy preview. A property test draws random policies
(custom roles with random integration permissions, random role assignments, random tool rules)
and checks, for every member, server and tool, that the gateway's live decision (the token
authenticated and the call prepared as the gateway does) is the preview's decision on the
policy it reads; then it draws a random change, previews it, makes it through the services,
and checks the live decisions are the ones the preview predicted."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway import access
from gateway.models import McpServer, ToolRule
from gateway.preview import Change, Policy
from gateway.services import rule_create, rule_delete
from gateway.tokens import mcp_token_create
from orgs.models import CustomRole
from orgs.services.assignments import role_assign, role_unassign
from orgs.services.members import membership_add
from orgs.services.roles import custom_role_create, custom_role_update

INTEGRATIONS = ["jira", "zendesk", "snowflake"]
SERVERS = {"jira": ["create_issue", "search"], "zendesk": ["reply", "search"]}
TOOLS = [(s, t) for s, tools in SERVERS.items() for t in [*tools, "*"]]

policies = st.fixed_dictionaries(
    {
        "roles": st.lists(
            st.sets(st.sampled_from(INTEGRATIONS)), min_size=1, max_size=3
        ),  # each role: the integrations it allows
        "members": st.lists(
            st.tuples(st.sampled_from(["admin", "member"]), st.sets(st.integers(0, 2))),
            min_size=1,
            max_size=4,
        ),  # each member: RBAC role, custom roles held (indexes)
        "rules": st.sets(
            st.tuples(st.sampled_from(TOOLS), st.one_of(st.none(), st.integers(0, 2))),
            max_size=4,
        ),  # (server, tool), reserved to a role index or blocked (None)
        "change": st.one_of(
            st.tuples(
                st.just("role_permissions"),
                st.integers(0, 2),
                st.sets(st.sampled_from(INTEGRATIONS)),
            ),
            st.tuples(st.just("role_assign"), st.integers(0, 2), st.integers(0, 3)),
            st.tuples(st.just("role_unassign"), st.integers(0, 2), st.integers(0, 3)),
            st.tuples(
                st.just("rule_add"), st.sampled_from(TOOLS), st.one_of(st.none(), st.integers(0, 2))
            ),
            st.tuples(st.just("rule_remove"), st.integers(0, 3)),
        ),
    }
)


def _build(org, drawn):
    roles = [
        custom_role_create(
            org=org,
            name=f"Role {i}",
            permissions=[f"integrations.use.{n}" for n in sorted(allowed)],
            actor=None,
        )
        for i, allowed in enumerate(drawn["roles"])
    ]
    servers = {
        integration: McpServer.objects.create(  # as saved after a refresh listed its tools
            org=org,
            name=integration.capitalize(),
            integration=integration,
            transport="http",
            url=f"https://{integration}.example/mcp",
            tools=[{"name": t, "description": "", "input_schema": {}} for t in tools],
            tools_refreshed_at=timezone.now(),
        )
        for integration, tools in SERVERS.items()
    }
    members, tokens = [], []
    for i, (rbac, held) in enumerate(drawn["members"]):
        member = membership_add(
            org=org, email=f"m{i}@acme.example", role=rbac, full_name="", actor=None
        ).membership
        for index in sorted(held):
            if index < len(roles):
                role_assign(membership=member, role=roles[index], actor=None)
        members.append(member)
        tokens.append(mcp_token_create(membership=member, actor=None)[1])
    rules = []
    for (integration, tool), index in sorted(drawn["rules"], key=repr):
        role = roles[index] if index is not None and index < len(roles) else None
        if not ToolRule.objects.filter(server=servers[integration], tool=tool, role=role).exists():
            rules.append(
                rule_create(
                    server=servers[integration], tool=tool, role=role and role.pk, actor=None
                )
            )
    return roles, servers, members, tokens, rules


def _live(org, servers, members, tokens):
    """Every (member, server, tool): allowed, as the gateway decides a call now."""
    out = {}
    for member, token in zip(members, tokens, strict=True):
        caller = access.authenticate(f"Bearer {token}", "")
        for integration, tools in SERVERS.items():
            for tool in tools:
                name = f"{integration}__{tool}"
                _, reason, _ = access.prepare_call(caller, name)
                out[(member.pk, integration, tool)] = reason == ""
    return out


def _planned(policy, servers, members):
    return {
        (m.pk, integration, tool): policy.decide(m.pk, servers[integration], tool).allowed
        for m in members
        for integration, tools in SERVERS.items()
        for tool in tools
    }


def _change(drawn, roles, servers, members, rules):
    """The drawn change as a preview Change, and the function that makes it for real (or
    None when it does not apply to this policy)."""
    kind = drawn[0]
    if kind == "role_permissions":
        role = roles[drawn[1] % len(roles)]
        perms = [f"integrations.use.{n}" for n in sorted(drawn[2])]
        return Change(kind, role=role.pk, permissions=perms), lambda: custom_role_update(
            role=role, permissions=perms, actor=None
        )
    if kind in ("role_assign", "role_unassign"):
        role, member = roles[drawn[1] % len(roles)], members[drawn[2] % len(members)]
        held = member.role_assignments.filter(role=role).exists()
        if held == (kind == "role_assign"):
            return None, None
        act = role_assign if kind == "role_assign" else role_unassign
        return Change(kind, role=role.pk, member=member.pk), lambda: act(
            membership=member, role=role, actor=None
        )
    if kind == "rule_add":
        (integration, tool), index = drawn[1], drawn[2]
        role = roles[index % len(roles)] if index is not None else None
        server = servers[integration]
        if ToolRule.objects.filter(server=server, tool=tool, role=role).exists():
            return None, None
        return Change(
            kind, server=server.pk, tool=tool, role=role and role.pk
        ), lambda: rule_create(server=server, tool=tool, role=role and role.pk, actor=None)
    if not rules:
        return None, None
    rule = rules[drawn[1] % len(rules)]
    return Change(kind, rule=rule.pk), lambda: rule_delete(rule=rule, actor=None)


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=policies)
def test_the_live_decision_is_the_planners_now_and_after_a_previewed_change(org, drawn):
    with transaction.atomic():
        roles, servers, members, tokens, rules = _build(org, drawn)
        policy = Policy.load(org)
        assert _live(org, servers, members, tokens) == _planned(policy, servers, members)
        change, make = _change(drawn["change"], roles, servers, members, rules)
        if change is not None:
            predicted = _planned(policy.apply(change), servers, members)
            make()
            for member in members:
                member.refresh_from_db()
            assert _live(org, servers, members, tokens) == predicted
        transaction.set_rollback(True)  # the next example starts from an empty organization


@pytest.mark.django_db
def test_a_reserved_tool_is_hidden_and_refused_and_a_blocked_one_for_admins_too(org, admin):
    role = custom_role_create(
        org=org, name="Support", permissions=["integrations.use.zendesk"], actor=None
    )
    agents = custom_role_create(
        org=org, name="Refunds", permissions=["integrations.use.zendesk"], actor=None
    )
    server = _desk(org, ("reply", "refund"))
    member = membership_add(
        org=org, email="agent@acme.example", role="member", full_name="", actor=None
    ).membership
    role_assign(membership=member, role=role, actor=None)
    rule_create(server=server, tool="refund", role=agents.pk, actor=None)
    caller = access.authenticate(f"Bearer {mcp_token_create(membership=member, actor=None)[1]}", "")
    assert [t["name"] for t in access.visible_tools(caller)] == ["desk__reply"]
    _, reason, _ = access.prepare_call(caller, "desk__refund")
    assert "reserved to Refunds" in reason
    assert CustomRole.objects.filter(pk=agents.pk).exists()
    rule_create(server=server, tool="*", role=None, note="incident 42", actor=None)
    boss = access.authenticate(f"Bearer {mcp_token_create(membership=admin, actor=None)[1]}", "")
    assert access.visible_tools(boss) == []
    _, reason, _ = access.prepare_call(boss, "desk__reply")
    assert "blocks every tool of it" in reason


@pytest.mark.django_db
def test_tools_list_reads_the_rules_once_whatever_the_tools(org, django_assert_max_num_queries):
    server = _desk(org, [f"t{i}" for i in range(30)])
    for i in range(0, 30, 3):
        rule_create(server=server, tool=f"t{i}", role=None, actor=None)
    member = membership_add(
        org=org, email="agent@acme.example", role="admin", full_name="", actor=None
    ).membership
    caller = access.authenticate(f"Bearer {mcp_token_create(membership=member, actor=None)[1]}", "")
    # The rules and the tools' cache fill (the servers came with the caller's statement).
    with django_assert_max_num_queries(2):
        visible = access.visible_tools(caller)
    assert len(visible) == 20  # every third tool blocked


def _desk(org, tools):
    """A Zendesk MCP server of the organization with these tools, listed now."""
    return McpServer.objects.create(
        org=org,
        name="Desk",
        integration="zendesk",
        transport="http",
        url="https://desk.example/mcp",
        tools=[{"name": n, "description": "", "input_schema": {}} for n in tools],
        tools_refreshed_at=timezone.now(),
    )
