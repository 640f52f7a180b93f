"""On PostgreSQL a trigger refuses UPDATE and DELETE of audit events, so even SQL typed at
a psql prompt by a database user cannot quietly rewrite the log (TRUNCATE stays a DBA's
deliberate act, and the chain head exported off-database still exposes it)."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION rxdesk_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'rxdesk audit log is append-only: % refused on core_auditevent', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS rxdesk_audit_append_only ON core_auditevent;
CREATE TRIGGER rxdesk_audit_append_only
    BEFORE UPDATE OR DELETE ON core_auditevent
    FOR EACH ROW EXECUTE FUNCTION rxdesk_audit_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS rxdesk_audit_append_only ON core_auditevent;
DROP FUNCTION IF EXISTS rxdesk_audit_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
