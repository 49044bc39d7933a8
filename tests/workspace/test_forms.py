"""The agent and workflow forms go through the services: a Builder creates and edits (a new
version each time), an owner shares, and the server refuses what a Consumer posts anyway (the
page hides the forms; a forged POST is refused and audited as denied)."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEvent
from workspace.models import Agent, Workflow

pytestmark = pytest.mark.django_db


def client_for(membership):
    c = Client()
    c.force_login(membership.user)
    return c


def test_a_builder_creates_and_edits_an_agent(world):
    builder = client_for(world["builder"])
    r = builder.post(
        "/o/acme/agents/new/",
        {
            "name": "Lead scorer",
            "team": world["support"].pk,
            "integrations_present": "1",
            "integrations": ["slack"],
        },
        follow=True,
    )
    assert "Lead scorer is created" in r.content.decode()
    agent = Agent.objects.get(name="Lead scorer")
    assert agent.team == world["support"] and agent.integrations == ["slack"]
    r = builder.post(
        f"/o/acme/agents/{agent.pk}/edit/",
        {
            "name": "Lead scorer",
            "model": "gpt-5",
            "integrations_present": "1",
            "integrations": ["slack", "zendesk"],
        },
        follow=True,
    )
    assert "version 2" in r.content.decode()
    agent.refresh_from_db()
    assert agent.model == "gpt-5" and agent.integrations == ["slack", "zendesk"]


def test_a_consumer_sees_no_edit_form_and_a_forged_post_is_refused(world):
    consumer = client_for(world["consumer"])
    page = consumer.get(f"/o/acme/agents/{world['agent'].pk}/").content.decode()
    assert 'id="edit-form"' not in page and 'id="share-form"' not in page
    r = consumer.post(f"/o/acme/agents/{world['agent'].pk}/edit/", {"name": "Pwned"}, follow=True)
    assert "agent.edit refused" in r.content.decode()
    world["agent"].refresh_from_db()
    assert world["agent"].name == "Support triage"
    assert AuditEvent.objects.filter(action="access.denied", data__action="agent.edit").count() == 1


def test_sharing_from_the_page(world):
    owner = client_for(world["builder"])  # created it: owner
    r = owner.post(
        f"/o/acme/agents/{world['agent'].pk}/share/",
        {"member": "outsider@acme.example", "level": "runner"},
        follow=True,
    )
    assert "Shared with outsider@acme.example as runner" in r.content.decode()
    assert (
        client_for(world["outsider"]).get(f"/o/acme/agents/{world['agent'].pk}/").status_code == 200
    )


def test_a_workflow_with_bad_steps_is_refused_and_nothing_is_made(world):
    r = client_for(world["admin"]).post(
        "/o/acme/workflows/new/", {"name": "Broken", "steps": "not json"}, follow=True
    )
    assert "Steps are a JSON list" in r.content.decode()
    assert not Workflow.objects.exists()
