"""A chunk's published top pairs (about 20 MB of ids and scores) are stored uncompressed on
PostgreSQL: its default storage (EXTENDED) runs pglz over them on every write, 3.5 s a chunk
here for data that barely compresses; EXTERNAL writes them in 0.8 s. Other databases have no
such setting."""

from django.db import migrations

_ALTER = "ALTER TABLE matching_matchingrunchunk ALTER COLUMN demand_top_pairs SET STORAGE {}"


def _storage(kind):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(_ALTER.format(kind))

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("matching", "0004_run_chunk_demand_top_pairs"),
    ]

    operations = [
        migrations.RunPython(_storage("EXTERNAL"), _storage("EXTENDED"), elidable=False),
    ]
