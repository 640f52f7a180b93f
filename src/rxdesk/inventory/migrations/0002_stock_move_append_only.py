"""On PostgreSQL a trigger refuses UPDATE and DELETE of stock moves: the ledger is history,
corrected only by a further move (the model refuses too; this stops SQL typed by hand)."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION rxdesk_stock_move_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'rxdesk stock ledger is append-only: % refused on inventory_stockmove',
        TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS rxdesk_stock_move_append_only ON inventory_stockmove;
CREATE TRIGGER rxdesk_stock_move_append_only
    BEFORE UPDATE OR DELETE ON inventory_stockmove
    FOR EACH ROW EXECUTE FUNCTION rxdesk_stock_move_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS rxdesk_stock_move_append_only ON inventory_stockmove;
DROP FUNCTION IF EXISTS rxdesk_stock_move_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("inventory", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
