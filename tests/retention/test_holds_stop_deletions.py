"""Held data is never deleted, by retention or by anything else: deleting a held team, agent or
workflow is refused at every door (its runs would lose what the hold follows them by), and the
SCIM error log's own pruning keeps what an organization hold covers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.exceptions import Conflict
from orgs.models import Team
from orgs.services.teams import team_delete
from retention.services import hold_place, hold_release
from scim.models import ScimRequestError
from scim.services.errors import scim_error_record
from scim.services.tokens import scim_token_create
from tests.conftest import api, audit_count
from workspace.models import Agent
from workspace.services.resources import resource_delete

pytestmark = pytest.mark.django_db


def test_a_held_team_cannot_be_deleted_by_service_or_api(world, client, api_key):
    support = world["support"]
    hold = hold_place(
        org=world["org"],
        actor=None,
        scope="team",
        target_id=support.pk,
        reason="Subpoena",
        case_reference="C-9",
    )
    with pytest.raises(Conflict, match="under a legal hold \\(C-9: Subpoena\\)"):
        team_delete(team=support, actor=None)
    r = api(client, "DELETE", f"/api/v1/teams/{support.pk}/", api_key)
    assert r.status_code == 409 and "Release the hold first" in r.content.decode()
    assert Team.objects.filter(pk=support.pk).exists()
    assert audit_count(action="team.deleted") == 0
    hold_release(hold=hold, actor=None)
    team_delete(team=support, actor=None)
    assert not Team.objects.filter(pk=support.pk).exists()


def test_a_held_agent_cannot_be_deleted_on_the_page(world, admin_client):
    agent = world["agent"]
    hold_place(org=world["org"], actor=None, scope="agent", target_id=agent.pk, reason="Audit")
    with pytest.raises(Conflict):
        resource_delete(obj=agent, actor=world["admin"].user)
    r = admin_client.post(f"/o/acme/agents/{agent.pk}/delete/", follow=True)
    assert "under a legal hold" in r.content.decode()
    assert Agent.objects.filter(pk=agent.pk).exists()
    assert audit_count(action="agent.deleted") == 0


def test_the_scim_error_log_keeps_what_an_organization_hold_covers(org):
    token, _ = scim_token_create(org=org, label="okta", actor=None)

    def refused():
        scim_error_record(
            token=token,
            method="GET",
            path="/Users",
            status=400,
            scim_type="invalidFilter",
            detail="bad filter",
        )

    refused()
    ScimRequestError.objects.update(at=timezone.now() - timedelta(days=30))
    hold = hold_place(org=org, actor=None, scope="org", reason="Investigation")
    refused()
    assert ScimRequestError.objects.count() == 2  # the old one is held
    hold_release(hold=hold, actor=None)
    refused()
    assert ScimRequestError.objects.count() == 2  # pruned again: the two recent ones
