"""The type-ahead index over products, chosen by the database backend (see
rxdesk.catalog.search for how it is queried):

* SQLite: an FTS5 table with external content, kept in step by triggers on
  catalog_product so that bulk imports keep it current with no extra call; prefix indexes
  of 1 to 4 characters so that 'oxycodone 5' or 'lisinopril 10 mg' stay fast.
* PostgreSQL: a tsvector column of the same columns, kept by a trigger, under a GIN index
  (prefix queries 'ator:*'), and pg_trgm over the lower-cased name for close spellings.
* Both: (active, lower(name)) and (active, lower(generic_name)) indexes, byte-ordered, so
  that the names beginning with what was typed are read in order and the read stops at
  the page size.

Django rebuilds a SQLite table to alter it, which drops triggers and indexes it does not
know about: rxdesk.catalog.search.ensure_index puts them back after every migrate."""

from django.db import migrations

# The columns indexed, in this order, in both backends (search.INDEXED_COLUMNS).
COLUMNS = (
    "name",
    "tall_man_name",
    "generic_name",
    "substances",
    "strength",
    "dosage_form",
)
# NDCs are searched through the unique index on catalog_package.ndc11 (search.py): in the
# word index a labeler code such as 10544 would make "lisinopril 10" match every strength.

_cols = ", ".join(COLUMNS)
_new = ", ".join(f"new.{c}" for c in COLUMNS)
_old = ", ".join(f"old.{c}" for c in COLUMNS)
_changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in COLUMNS)

# (name, statement): ensure_index recreates by name whatever a table rebuild dropped.
SQLITE_TABLE = (
    "catalog_product_fts",
    # External content: the index keeps only the words; the text stays in catalog_product.
    f"""CREATE VIRTUAL TABLE catalog_product_fts USING fts5(
        {_cols},
        content='catalog_product', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2', prefix='1 2 3 4'
    )""",
)
SQLITE_TRIGGERS = (
    (
        "catalog_product_fts_ai",
        f"""CREATE TRIGGER catalog_product_fts_ai AFTER INSERT ON catalog_product BEGIN
            INSERT INTO catalog_product_fts(rowid, {_cols}) VALUES (new.id, {_new});
        END""",
    ),
    (
        "catalog_product_fts_ad",
        f"""CREATE TRIGGER catalog_product_fts_ad AFTER DELETE ON catalog_product BEGIN
            INSERT INTO catalog_product_fts(catalog_product_fts, rowid, {_cols})
            VALUES ('delete', old.id, {_old});
        END""",
    ),
    # Only a change to an indexed column re-indexes the row: an import that flips
    # ``active`` on thousands of rows does not rewrite the index.
    (
        "catalog_product_fts_au",
        f"""CREATE TRIGGER catalog_product_fts_au AFTER UPDATE ON catalog_product
        WHEN {_changed} BEGIN
            INSERT INTO catalog_product_fts(catalog_product_fts, rowid, {_cols})
            VALUES ('delete', old.id, {_old});
            INSERT INTO catalog_product_fts(rowid, {_cols}) VALUES (new.id, {_new});
        END""",
    ),
)
SQLITE_INDEXES = (
    (
        "catalog_product_active_lname",
        "CREATE INDEX catalog_product_active_lname ON catalog_product (active, lower(name))",
    ),
    (
        "catalog_product_active_lgeneric",
        "CREATE INDEX catalog_product_active_lgeneric "
        "ON catalog_product (active, lower(generic_name))",
    ),
)
SQLITE_REBUILD = "INSERT INTO catalog_product_fts(catalog_product_fts) VALUES ('rebuild')"

SQLITE_FORWARD = [
    SQLITE_TABLE[1],
    *(sql for _, sql in SQLITE_TRIGGERS),
    *(sql for _, sql in SQLITE_INDEXES),
    SQLITE_REBUILD,
]
SQLITE_BACKWARD = [
    *(f"DROP INDEX IF EXISTS {name}" for name, _ in SQLITE_INDEXES),
    *(f"DROP TRIGGER IF EXISTS {name}" for name, _ in SQLITE_TRIGGERS),
    "DROP TABLE IF EXISTS catalog_product_fts",
]

# PostgreSQL keeps the words of each product in a tsvector column that Django does not
# know about, set by a trigger on every insert and on every update of an indexed column
# (computing it per row at query time would make a broad query scan the table). A
# migration that changes the type of a column named in the trigger's UPDATE OF list must
# drop the trigger first and recreate it after (see 0003).
# The words: lower case, every run of characters other than letters and digits one space —
# what SQLite's unicode61 tokenizer sees.
def _pg_document(row):
    return (
        "to_tsvector('simple'::regconfig, regexp_replace(lower("
        + " || ' ' || ".join(f"coalesce({row}.{c}, '')" for c in COLUMNS)
        + "), '[^[:alnum:]]+', ' ', 'g'))"
    )


POSTGRES_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "ALTER TABLE catalog_product ADD COLUMN search_doc tsvector",
    f"""CREATE FUNCTION catalog_product_search_doc() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.search_doc := {_pg_document("NEW")};
        RETURN NEW;
    END
    $$""",
    f"""CREATE TRIGGER catalog_product_search_doc
        BEFORE INSERT OR UPDATE OF {_cols} ON catalog_product
        FOR EACH ROW EXECUTE FUNCTION catalog_product_search_doc()""",
    f"UPDATE catalog_product AS p SET search_doc = {_pg_document('p')}",
    "CREATE INDEX catalog_product_search_doc ON catalog_product USING gin (search_doc)",
    "CREATE INDEX catalog_product_name_trgm ON catalog_product "
    "USING gin (lower(name) gin_trgm_ops)",
    # Byte order (COLLATE "C"), as SQLite compares: prefix ranges and ORDER BY use them.
    'CREATE INDEX catalog_product_active_lname ON catalog_product (active, (lower(name) COLLATE "C"))',
    "CREATE INDEX catalog_product_active_lgeneric ON catalog_product "
    '(active, (lower(generic_name) COLLATE "C"))',
]

POSTGRES_BACKWARD = [
    "DROP INDEX IF EXISTS catalog_product_active_lgeneric",
    "DROP INDEX IF EXISTS catalog_product_active_lname",
    "DROP INDEX IF EXISTS catalog_product_name_trgm",
    "DROP INDEX IF EXISTS catalog_product_search_doc",
    "DROP TRIGGER IF EXISTS catalog_product_search_doc ON catalog_product",
    "DROP FUNCTION IF EXISTS catalog_product_search_doc()",
    "ALTER TABLE catalog_product DROP COLUMN IF EXISTS search_doc",
]


def _run(schema_editor, statements):
    for sql in statements:
        # params=None: psycopg must not read a '%' as a placeholder.
        schema_editor.execute(sql, params=None)


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        _run(schema_editor, SQLITE_FORWARD)
    elif vendor == "postgresql":
        _run(schema_editor, POSTGRES_FORWARD)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        _run(schema_editor, SQLITE_BACKWARD)
    elif vendor == "postgresql":
        _run(schema_editor, POSTGRES_BACKWARD)


class Migration(migrations.Migration):

    dependencies = [
        ("catalog", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(forward, backward),
    ]
