"""Store the thesaurus concepts of the listings written before they were stored (0008).

The concepts are what listings.services stores (matching.selectors.listing_concepts), computed in
Python a slice of BATCH ids at a time and written back in one UPDATE per slice (on SQLite, the
demo, row by row), each slice committed on its own (the migration is not atomic). Rows that
already have a key are left as they are. Running it under a later thesaurus is safe: the key
says which thesaurus and words the stored concepts belong to, and the engine scans the words
again wherever it no longer matches. About two minutes per million listings here.
"""

from django.db import migrations

BATCH = 5_000


def fill(apps, schema_editor):
    from matching.selectors import listing_concepts

    connection = schema_editor.connection
    with connection.cursor() as cursor:
        for table in ("listings_offer", "listings_demand"):
            cursor.execute(f"SELECT min(id), max(id) FROM {table}")
            low, high = cursor.fetchone()
            if low is None:
                continue
            for start in range(low, high + 1, BATCH):
                cursor.execute(
                    f"SELECT id, title, description FROM {table} "
                    "WHERE id >= %s AND id < %s AND concepts_key = ''",
                    [start, start + BATCH],
                )
                rows = [
                    (*listing_concepts(title, description), pk)
                    for pk, title, description in cursor.fetchall()
                ]
                if not rows:
                    continue
                if connection.vendor == "postgresql":  # one statement per slice
                    concepts, keys, ids = (list(column) for column in zip(*rows, strict=True))
                    cursor.execute(
                        f"UPDATE {table} AS l SET concepts = v.concepts, concepts_key = v.key "
                        "FROM unnest(%s::text[], %s::text[], %s::bigint[]) AS v(concepts, key, id) "
                        "WHERE l.id = v.id",
                        [concepts, keys, ids],
                    )
                else:
                    cursor.executemany(
                        f"UPDATE {table} SET concepts = %s, concepts_key = %s WHERE id = %s",
                        rows,
                    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("listings", "0008_listing_stored_concepts"),
    ]

    operations = [
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
    ]
