"""Names whose case-folded key is longer than the name (ß folds to ss) fit, and a group the
name-based sync cannot apply is skipped and reported (job, drift view, audit), never a failure
for the whole organization."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from mapping import selectors
from mapping.services.sync import mapping_sync_job_run, mapping_sync_start
from mapping.services.table import mapping_mode_set
from orgs.models import CustomRole, RoleAssignment, Team
from orgs.services.roles import custom_role_create
from orgs.services.teams import team_create
from scim.adapters import GroupChange, UserFields
from scim.services.groups import scim_group_create
from scim.services.tokens import scim_token_create
from scim.services.users import scim_user_create

pytestmark = pytest.mark.django_db

FOLDS = "ß" * 100  # 100 characters, a 200-character key
TOO_LONG = "Engineering " * 13  # 155 characters: no role or team can have this name


def test_a_100_character_name_that_folds_longer_is_a_role_and_a_team(org, admin):
    role = custom_role_create(org=org, name=FOLDS, actor=None)
    team = team_create(org=org, name="ΐ" * 100, actor=None)  # folds to three characters each
    assert len(role.name_key) == 200 and len(team.name_key) == 300
    assert CustomRole.objects.get(pk=role.pk).name == FOLDS


def test_a_100_character_role_name_through_the_api(api_key, client):
    r = client.post(
        "/api/v1/roles/",
        {"name": FOLDS},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_key}",
    )
    assert r.status_code == 201 and r.json()["name"] == FOLDS


def test_name_based_sync_skips_and_reports_a_group_it_cannot_apply(org, admin):
    token, _ = scim_token_create(org=org, actor=None)
    ada = scim_user_create(
        org=org, fields=UserFields(user_name="ada@acme.example", emails=[]), actor=token
    )
    uid = str(ada.scim_user.uid)
    for name in (FOLDS, TOO_LONG, "Support"):
        scim_group_create(
            org=org, change=GroupChange(display_name=name, members=[uid]), actor=token
        )
    mapping_mode_set(org=org, direction="roles", use_table=False, confirm=True, actor=None)
    job = mapping_sync_job_run(job_id=mapping_sync_start(org=org, actor=None).pk)
    assert job.status == "done", job.error
    held = set(
        RoleAssignment.objects.filter(membership_id=ada.scim_user.membership_id).values_list(
            "role__name", flat=True
        )
    )
    assert held == {FOLDS, "Support"}  # everyone else's groups applied
    assert [s["group"] for s in job.skipped] == [TOO_LONG]
    assert "at most 100" in job.skipped[0]["reason"]
    event = AuditEvent.objects.get(action="scim.mapping_group_skipped")
    assert event.data["group"] == TOO_LONG and event.data["kind"] == "role"
    drift = selectors.mapping_drift(org=org)["roles"]
    assert [g["group"] for g in drift["skipped_groups"]] == [TOO_LONG]
    assert not Team.objects.filter(name__startswith="Engineering").exists()


def test_name_based_mode_creates_a_target_for_every_unmatched_group_members_or_not(org, admin):
    token, _ = scim_token_create(org=org, actor=None)
    scim_group_create(org=org, change=GroupChange(display_name="Empty Group"), actor=token)
    preview = selectors.mapping_preview(org=org, direction="teams", use_table=False, rows=[])
    assert preview.create == ["Empty Group"]
    mapping_mode_set(org=org, direction="teams", use_table=False, confirm=True, actor=None)
    job = mapping_sync_job_run(job_id=mapping_sync_start(org=org, actor=None).pk)
    assert job.status == "done" and job.auto_created == ["Empty Group"]
    assert Team.objects.filter(org=org, name="Empty Group").exists()
