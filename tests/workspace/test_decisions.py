"""The decision function on seed 000's example: Builders build, Consumers run but cannot edit,
integrations per role, teams own agents, shares at owner > editor > runner > viewer (stored as
django-guardian object permissions), and every grant or revoke counts at the next decision."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from core.exceptions import PermissionDenied
from orgs.choices import RbacRole
from workspace.decisions import Question, decide, decide_many
from workspace.services.resources import resource_update, share_set

pytestmark = pytest.mark.django_db


def ask(w, who, action, **kw):
    return decide(w["org"], Question(w[who].pk, action, resource=("agent", w["agent"].pk), **kw))


def test_builders_build_and_consumers_run_but_cannot_edit(world):
    assert ask(world, "builder", "agent.edit").allowed
    run = ask(world, "consumer", "agent.run")
    assert run.allowed and "integration slack: allowed" in run.reasons
    edit = ask(world, "consumer", "agent.edit")
    assert not edit.allowed and any("agents.edit: missing" in r for r in edit.reasons)
    assert ask(world, "admin", "agent.delete").allowed


def test_no_access_outside_the_owning_team_until_shared(world):
    denied = ask(world, "outsider", "agent.edit")
    assert not denied.allowed and any("no access" in r for r in denied.reasons)
    share_set(
        obj=world["agent"], level="editor", member=world["outsider"], actor=world["builder"].user
    )
    assert ask(world, "outsider", "agent.edit").allowed
    share_set(
        obj=world["agent"], level="viewer", member=world["outsider"], actor=world["builder"].user
    )
    assert not ask(world, "outsider", "agent.edit").allowed  # the next decision sees it
    assert ask(world, "outsider", "agent.view").allowed
    share_set(obj=world["agent"], level=None, member=world["outsider"], actor=world["builder"].user)
    assert not ask(world, "outsider", "agent.view").allowed


def test_a_team_share_reaches_its_members(world):
    share_set(obj=world["agent"], level="runner", team=world["data"], actor=world["admin"].user)
    assert ask(world, "outsider", "agent.run").allowed
    assert not ask(world, "outsider", "agent.edit").allowed


def test_running_needs_every_integration_the_agent_uses(world):
    resource_update(
        obj=world["agent"],
        fields={"integrations": ["slack", "snowflake"]},
        actor=world["builder"].user,
    )
    run = ask(world, "consumer", "agent.run")
    assert not run.allowed
    assert any("integrations.use.snowflake" in r for r in run.reasons)


def test_a_refused_write_is_audited_as_a_denied_attempt_and_changes_nothing(world):
    with pytest.raises(PermissionDenied, match=r"agent\.edit refused"):
        resource_update(
            obj=world["agent"], fields={"name": "Hijacked"}, actor=world["consumer"].user
        )
    world["agent"].refresh_from_db()
    assert world["agent"].name == "Support triage" and world["agent"].version == 1
    denied = AuditEvent.objects.get(action="access.denied")
    assert denied.actor_label == "consumer@acme.example" and denied.data["action"] == "agent.edit"


def test_edits_keep_versions_with_their_diff(world):
    agent = resource_update(
        obj=world["agent"],
        fields={"name": "Triage v2", "model": "gpt"},
        actor=world["builder"].user,
    )
    assert agent.version == 2
    v2 = agent.versions.get(version=2)
    assert v2.diff == {
        "name": {"old": "Support triage", "new": "Triage v2"},
        "model": {"old": "", "new": "gpt"},
    }
    assert v2.changed_by == "builder@acme.example"
    event = AuditEvent.objects.filter(action="agent.updated").get()
    assert (
        event.data["old"]["name"] == "Support triage" and event.data["new"]["name"] == "Triage v2"
    )


def test_a_batch_of_100_is_two_queries(world, django_assert_num_queries):
    w = world
    questions = [
        Question(w[who].pk, action, resource=("agent", w["agent"].pk))
        for who in ("builder", "consumer", "outsider", "admin")
        for action in ("agent.view", "agent.run", "agent.edit", "agent.delete", "agent.share")
    ] * 5
    with django_assert_num_queries(2):
        answers = decide_many(w["org"], questions)
    assert len(answers) == 100 and answers[0].allowed


def test_other_organizations_members_and_objects_are_unknown(world, other_org, make_member):
    stranger = make_member(other_org, "boss@globex.example", RbacRole.ADMIN, password=None)
    answer = decide(
        world["org"], Question(stranger.pk, "agent.view", resource=("agent", world["agent"].pk))
    )
    assert not answer.allowed and answer.reasons == ["no such member in this organization"]
    theirs = decide(
        other_org, Question(stranger.pk, "agent.view", resource=("agent", world["agent"].pk))
    )
    assert not theirs.allowed and "no such agent" in theirs.reasons[0]


def test_actors_that_are_not_members_are_refused(world):
    from orgs.models import ServiceKey
    from orgs.services.service_keys import service_key_create
    from workspace.services.resources import resource_create as create

    service_key_create(org=world["org"], actor=world["admin"].user)
    key = ServiceKey.objects.select_related("org").get()
    with pytest.raises(PermissionDenied, match="only a member"):
        create(org=world["org"], kind="agent", fields={"name": "By a key"}, actor=key)
