"""The Data retention page: every action through its own URL, previews before shortening a
window or releasing a hold, and another organization's holds are 404."""

from __future__ import annotations

import pytest
from django.test import Client

from retention.models import LegalHold, RetentionPolicy
from retention.services import hold_place
from tests.conftest import assert_audited, audit_count

pytestmark = pytest.mark.django_db


def test_the_page_shows_defaults_rules_and_the_dry_run(admin_client, world, aged):
    aged(45)
    page = admin_client.get("/o/acme/settings/retention/").content.decode()
    assert "A legal hold beats every window" in page and "the longer retention wins" in page
    assert 'name="days_payloads" value="30"' in page
    assert 'id="dry-run"' in page and "Input and output content" in page


def test_shortening_a_window_previews_before_it_saves(admin_client, world, aged):
    aged(20)
    r = admin_client.post("/o/acme/settings/retention/windows/", {"days_payloads": "10"})
    assert r.status_code == 200 and "Save the shorter windows" in r.content.decode()
    assert not RetentionPolicy.objects.filter(windows__has_key="payloads").exists()
    assert audit_count(action="retention.policy_changed") == 0
    r = admin_client.post(
        "/o/acme/settings/retention/windows/", {"days_payloads": "10", "confirmed": "1"}
    )
    assert r.status_code == 302
    assert_audited("retention.policy_changed", org=world["org"])


def test_keep_forever_without_confirmation_is_refused(admin_client, world):
    r = admin_client.post("/o/acme/settings/retention/windows/", {"forever_audit_log": "1"})
    assert r.status_code == 400 and "must be" in r.content.decode()
    r = admin_client.post(
        "/o/acme/settings/retention/windows/", {"forever_audit_log": "1", "confirm_forever": "1"}
    )
    assert r.status_code == 302
    assert "forever (flagged)" in admin_client.get("/o/acme/settings/retention/").content.decode()


def test_holds_are_placed_previewed_and_released_on_the_page(admin_client, world):
    r = admin_client.post(
        "/o/acme/settings/retention/holds/",
        {
            "scope": "team",
            "target": str(world["support"].pk),
            "reason": "Subpoena",
            "case_reference": "C-9",
        },
    )
    assert r.status_code == 302
    hold = LegalHold.objects.get(org=world["org"])
    r = admin_client.post(f"/o/acme/settings/retention/holds/{hold.pk}/release/")
    assert r.status_code == 200 and "Release the hold" in r.content.decode()
    assert LegalHold.objects.get(pk=hold.pk).released_at is None
    admin_client.post(f"/o/acme/settings/retention/holds/{hold.pk}/release/", {"confirmed": "1"})
    assert LegalHold.objects.get(pk=hold.pk).released_at is not None
    assert_audited("retention.hold_released", org=world["org"])


def test_zero_data_retention_on_the_page(admin_client, world):
    admin_client.post("/o/acme/settings/retention/zdr/", {"scope": "org", "enabled": "1"})
    world["org"].refresh_from_db()
    assert world["org"].zero_data_retention
    admin_client.post(
        "/o/acme/settings/retention/zdr/",
        {"scope": "agent", "target": str(world["agent"].pk), "enabled": "1"},
    )
    world["agent"].refresh_from_db()
    assert world["agent"].zero_data_retention


def test_another_organizations_hold_and_team_are_404(world, other_org, make_member):
    from orgs.services.teams import team_create

    hold = hold_place(org=world["org"], actor=None, scope="org", reason="keep")
    boss = make_member(other_org, "boss@globex.example", "admin")
    client = Client()
    client.force_login(boss.user)
    r = client.post(f"/o/globex/settings/retention/holds/{hold.pk}/release/", {"confirmed": "1"})
    assert r.status_code == 404
    assert LegalHold.objects.get(pk=hold.pk).released_at is None
    team_create(org=other_org, name="Theirs", actor=None)
    r = client.post(
        "/o/globex/settings/retention/teams/",
        {"team": str(world["support"].pk), "category": "payloads", "days": "5"},
    )
    assert r.status_code == 404
    r = client.post(
        "/o/globex/settings/retention/zdr/",
        {"scope": "agent", "target": str(world["agent"].pk), "enabled": "1"},
    )
    assert r.status_code == 404
    world["agent"].refresh_from_db()
    assert not world["agent"].zero_data_retention


def test_members_without_the_capability_get_403(member_client):
    assert member_client.get("/o/acme/settings/retention/").status_code == 403
    assert (
        member_client.post(
            "/o/acme/settings/retention/holds/", {"scope": "org", "reason": "x"}
        ).status_code
        == 403
    )
