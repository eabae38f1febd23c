"""Fill the listings' copy of their site's country, harbour region and rounded location.

One set-based UPDATE … FROM listings_site per slice of BATCH ids, each committed on its own
(the migration is not atomic): no Python loop over rows, no transaction holding a million row
locks, and autovacuum can reclaim the old row versions while the rest goes on. Idempotent, so
an interrupted run simply starts again. UPDATE … FROM runs on SQLite (the demo) too.

The rounding is listings.selectors.public_coordinate's, floor(x * 10 + 0.5) / 10.0, in SQL.
"""

from django.db import migrations

BATCH = 20_000

FILL = """
UPDATE {table} AS l
SET country_id = s.country_id,
    region_id = s.region_id,
    approx_lat = floor(s.lat * 10 + 0.5) / 10.0,
    approx_lon = floor(s.lon * 10 + 0.5) / 10.0
FROM listings_site AS s
WHERE s.id = l.site_id AND l.id >= %s AND l.id < %s
"""


def fill(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        for table in ("listings_offer", "listings_demand"):
            cursor.execute(f"SELECT min(id), max(id) FROM {table}")
            low, high = cursor.fetchone()
            if low is None:
                continue
            for start in range(low, high + 1, BATCH):
                cursor.execute(FILL.format(table=table), [start, start + BATCH])
            if connection.vendor == "postgresql":
                cursor.execute(f"ANALYZE {table}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("listings", "0005_listing_public_location"),
    ]

    operations = [
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
    ]
