"""Management commands print JSON on stdout; errors are JSON on stderr with exit code 2."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from audit.models import AuditEvent
from core.tokens import token_hash
from identity.models import User
from orgs.models import Membership, Organization


def run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return json.loads(out.getvalue())


def test_org_create_prints_json_with_a_one_time_password(db, client):
    out = run("org_create", "acme", "--name", "Acme Corp", "--admin-email", "Boss@Acme.example")
    assert out["org"] == "acme" and out["admin_email"] == "boss@acme.example"
    assert out["password_change_required"] is True and len(out["one_time_password"]) >= 16
    m = Membership.objects.get(org__slug="acme")
    assert m.role == "admin" and m.user.check_password(out["one_time_password"])
    events = AuditEvent.objects.filter(org_id=Organization.objects.get(slug="acme").pk).order_by(
        "id"
    )
    assert [e.action for e in events] == [
        "org.created",
        "user.created",
        "member.added",
        *["custom_role.created"] * 3,  # the built-in role templates
    ]
    assert {e.actor_label for e in events} == {"manage.py org_create"}
    r = client.post("/login/", {"email": "boss@acme.example", "password": out["one_time_password"]})
    assert r["Location"].startswith("/account/password/")


def test_org_create_refuses_an_existing_slug_with_json_on_stderr(db):
    run("org_create", "acme", "--name", "Acme", "--admin-email", "a@acme.example")
    err = StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command(
            "org_create",
            "acme",
            "--name",
            "Again",
            "--admin-email",
            "b@x.example",
            stdout=StringIO(),
            stderr=err,
        )
    assert exit_info.value.code == 2
    assert "already exists" in json.loads(err.getvalue())["error"]
    assert Organization.objects.count() == 1
    assert not User.objects.filter(email="b@x.example").exists()


def test_org_create_is_all_or_nothing_on_a_bad_email(db):
    with pytest.raises(SystemExit):
        call_command(
            "org_create",
            "acme",
            "--name",
            "Acme",
            "--admin-email",
            "not-an-email",
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert not Organization.objects.exists() and not AuditEvent.objects.exists()


def test_api_key_create_prints_a_working_key(org, admin, client):
    out = run("api_key_create", "acme", "--email", "ADMIN@acme.example", "--label", "ci")
    assert out["api_key"].startswith("gov_") and out["label"] == "ci"
    r = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {out['api_key']}")
    assert r.status_code == 200 and r.json()["member"]["email"] == "admin@acme.example"
    from orgs.models import ApiKey

    assert ApiKey.objects.get(pk=out["key_id"]).key_hash == token_hash(out["api_key"])


def test_api_key_create_for_a_non_member_fails_cleanly(org, admin):
    err = StringIO()
    with pytest.raises(SystemExit):
        call_command(
            "api_key_create", "acme", "--email", "ghost@acme.example", stdout=StringIO(), stderr=err
        )
    assert "not a member" in json.loads(err.getvalue())["error"]
    with pytest.raises(SystemExit):
        call_command(
            "api_key_create",
            "nope",
            "--email",
            "admin@acme.example",
            stdout=StringIO(),
            stderr=StringIO(),
        )


def test_demo_seed_is_idempotent(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    first = run("demo_seed")
    second = run("demo_seed")
    assert first["created"] is True and second["created"] is False
    assert first["admin_password"] == second["admin_password"]
    org = Organization.objects.get(slug="acme")
    assert org.memberships.count() == 5 and org.custom_roles.count() == 3
    # The workspace, made through the same services: three weeks of runs, a schedule, shares.
    from workspace.models import Agent, IntegrationConnection, Run, Schedule, Workflow

    assert (
        Agent.objects.filter(org=org).count() == 2 and Workflow.objects.filter(org=org).count() == 1
    )
    assert IntegrationConnection.objects.filter(org=org).count() == 4
    assert Schedule.objects.filter(org=org).count() == 1
    runs = Run.objects.filter(org=org)
    assert runs.count() == 63 and runs.filter(status="failed").exists()
    assert (
        max(runs.values_list("started_at", flat=True))
        - min(runs.values_list("started_at", flat=True))
    ).days >= 19
    assert (tmp_path / "demo-credentials.json").stat().st_mode & 0o777 == 0o600
