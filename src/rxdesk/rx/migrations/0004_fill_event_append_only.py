"""On PostgreSQL a trigger refuses UPDATE and DELETE of fill history: what happened to a
fill is corrected only by a further step (the model refuses too; this stops SQL by hand)."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION rxdesk_fill_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'rxdesk fill history is append-only: % refused on rx_fillevent',
        TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS rxdesk_fill_event_append_only ON rx_fillevent;
CREATE TRIGGER rxdesk_fill_event_append_only
    BEFORE UPDATE OR DELETE ON rx_fillevent
    FOR EACH ROW EXECUTE FUNCTION rxdesk_fill_event_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS rxdesk_fill_event_append_only ON rx_fillevent;
DROP FUNCTION IF EXISTS rxdesk_fill_event_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("rx", "0003_fill_workflow")]
    operations = [migrations.RunPython(forwards, backwards)]
