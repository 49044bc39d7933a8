"""The production role split (deploy/postgres-roles.sql) holds: the application's role, which
neither owns the tables nor is a superuser, writes audit events but cannot TRUNCATE the audit
table or DISABLE its append-only trigger, and the trigger refuses its UPDATE and DELETE.
PostgreSQL only: checked as that role (SET ROLE) on the test database."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from audit.choices import AuditAction
from audit.models import AuditEvent
from audit.services import audit_record

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

APP = "governance_app_test"


@pytest.fixture
def app_role(on_postgres):
    if not on_postgres:
        pytest.skip("roles, TRUNCATE and triggers are PostgreSQL's (make test runs this there)")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP ROLE IF EXISTS {APP}")
        cursor.execute(f"CREATE ROLE {APP} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {APP}")
        cursor.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP}"
        )
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP}")
    yield APP
    # The test's transaction is rolled back, role and grants with it.


def as_app(sql: str, params: list | None = None) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {APP}")
        cursor.execute(sql, params or [])


def test_the_app_role_is_neither_owner_nor_superuser(app_role):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, pg_has_role(%s, tableowner, 'USAGE') FROM pg_roles, pg_tables "
            "WHERE rolname = %s AND tablename = 'audit_auditevent'",
            [APP, APP],
        )
        assert cursor.fetchone() == (False, False)


def test_the_app_role_writes_audit_events(app_role, org):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL ROLE {APP}")
        audit_record(action=AuditAction.ORG_CREATED, org=org, actor=None, target=org)
    assert AuditEvent.objects.filter(action="org.created").count() == 2


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("TRUNCATE audit_auditevent", "permission denied"),
        ("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only", "must be owner"),
        ("ALTER TABLE audit_auditevent DISABLE TRIGGER ALL", "must be owner"),
        ("DROP TRIGGER audit_event_append_only ON audit_auditevent", "must be owner"),
        ("UPDATE audit_auditevent SET action = 'x'", "append-only"),
        ("DELETE FROM audit_auditevent", "append-only"),
    ],
)
def test_the_app_role_cannot_remove_or_rewrite_the_audit_trail(app_role, org, sql, words):
    before = AuditEvent.objects.count()
    with pytest.raises(DatabaseError, match=words):
        as_app(sql)
    assert AuditEvent.objects.count() == before > 0
