"""On PostgreSQL: every inserted event gets the id of its inserting transaction (the sealer's
ordering key; a client cannot choose it), and seals are append-only like events."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION audit_event_stamp_xact() RETURNS trigger AS $$
BEGIN
    NEW.xact := pg_current_xact_id()::text::bigint;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS audit_event_xact ON audit_auditevent;
CREATE TRIGGER audit_event_xact
    BEFORE INSERT ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_event_stamp_xact();

DROP TRIGGER IF EXISTS audit_seal_append_only ON audit_auditseal;
CREATE TRIGGER audit_seal_append_only
    BEFORE UPDATE OR DELETE ON audit_auditseal
    FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change();
"""

DROP = """
DROP TRIGGER IF EXISTS audit_event_xact ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_event_stamp_xact();
DROP TRIGGER IF EXISTS audit_seal_append_only ON audit_auditseal;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_tamper_evidence")]
    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
