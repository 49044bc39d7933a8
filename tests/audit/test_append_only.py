from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from audit.exceptions import AuditImmutableError
from audit.models import AuditEvent
from orgs.services.teams import team_create, team_delete


@pytest.fixture
def event(org):
    team_create(org=org, name="Data", actor=None)
    return AuditEvent.objects.latest("id")


def test_app_refuses_update_and_delete(event):
    event.action = "team.deleted"
    with pytest.raises(AuditImmutableError):
        event.save()
    with pytest.raises(AuditImmutableError):
        event.delete()
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.filter(pk=event.pk).update(action="team.deleted")
    with pytest.raises(AuditImmutableError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "team.created"


@pytest.mark.postgres
def test_postgres_refuses_update_and_delete_in_sql(event):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the trigger is PostgreSQL-only (make test runs it there)")
    for sql in [
        "UPDATE audit_auditevent SET action = 'x' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ]:
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "team.created"


def test_audit_record_refuses_to_run_outside_a_transaction(org):
    from audit.choices import AuditAction
    from audit.services import audit_record

    with pytest.raises(RuntimeError, match="inside the transaction"):
        # pytest-django wraps tests in a transaction; leave it to prove the guard.
        connection.in_atomic_block, saved = False, connection.in_atomic_block
        try:
            audit_record(action=AuditAction.TEAM_CREATED, org=org, actor=None)
        finally:
            connection.in_atomic_block = saved


def test_event_keeps_labels_after_the_target_is_gone(org, admin):
    team = team_create(org=org, name="Ephemeral", actor=admin.user)
    team_delete(team=team, actor=admin.user)
    created = AuditEvent.objects.filter(action="team.created", target_id=str(team.pk)).get()
    assert created.target_label == "Ephemeral" and created.actor_label == "admin@acme.example"


def test_event_records_request_provenance(admin_client, org):
    admin_client.post(
        "/o/acme/teams/",
        {"name": "Traced"},
        HTTP_USER_AGENT="pytest-agent/1",
        HTTP_X_REQUEST_ID="req-123",
        REMOTE_ADDR="203.0.113.9",
    )
    e = AuditEvent.objects.get(action="team.created", target_label="Traced")
    assert (e.ip, e.user_agent, e.request_id) == ("203.0.113.9", "pytest-agent/1", "req-123")
    assert e.actor_kind == "user" and e.org_id == org.pk
