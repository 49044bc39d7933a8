"""On PostgreSQL the retention job may delete audit events, and only these: events whose
organization has a purge record (audit.purge) covering their sealing key, in a transaction
that declared the purge (`SET LOCAL governance.audit_purge = 'sealed-segments'`). Every other
UPDATE or DELETE is still refused; purge records are append-only like seals. A purge record
that the seal key did not sign fails verification, so this door cannot hide a deletion."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION audit_event_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND current_setting('governance.audit_purge', true) = 'sealed-segments'
       AND EXISTS (
           SELECT 1 FROM audit_auditpurge p
           WHERE p.org_key = COALESCE(OLD.org_id, 0) AND p.bound_hi > COALESCE(OLD.xact, 0)
       ) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit events are append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent;
CREATE TRIGGER audit_event_append_only
    BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_event_guard();

DROP TRIGGER IF EXISTS audit_purge_append_only ON audit_auditpurge;
CREATE TRIGGER audit_purge_append_only
    BEFORE UPDATE OR DELETE ON audit_auditpurge
    FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change();
"""

DROP = """
DROP TRIGGER IF EXISTS audit_purge_append_only ON audit_auditpurge;
DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent;
CREATE TRIGGER audit_event_append_only
    BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change();
DROP FUNCTION IF EXISTS audit_event_guard();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0007_purge_records")]
    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
