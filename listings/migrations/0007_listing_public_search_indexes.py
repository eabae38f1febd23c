"""The foreign-key constraints of the copied country and region (0005 left them out for the
fill; each is now checked by one scan of the table), and the indexes of the public search
(listings.models._public_search_indexes), built concurrently on PostgreSQL: writers are not
blocked while a million rows are indexed. Not atomic, as CREATE INDEX CONCURRENTLY requires.
The SQLite demo builds them the plain way."""

import django.db.models.deletion
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

PUBLISHED = models.Q(("status", "published"))


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            migrations.AddIndex.database_forwards(
                self, app_label, schema_editor, from_state, to_state
            )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            migrations.AddIndex.database_backwards(
                self, app_label, schema_editor, from_state, to_state
            )


def _constraints(model_name):
    return [
        migrations.AlterField(
            model_name=model_name,
            name="country",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                editable=False,
                help_text="The site's country (kept in step by listings.services).",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="harbors.country",
            ),
        ),
        migrations.AlterField(
            model_name=model_name,
            name="region",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                editable=False,
                help_text="The site's harbour region (kept in step by listings.services).",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="harbors.harborregion",
            ),
        ),
    ]


def _indexes(model_name):
    walk = ["-created_at", "-id"]
    fields = {
        "public": [*walk, "waste_code", "category", "approx_lat", "approx_lon"],
        "pubcountry": ["country", *walk, "waste_code"],
        "pubregion": ["region", *walk, "waste_code"],
        "pubnear": ["approx_lat", "approx_lon"],
    }
    return [
        AddIndexConcurrentlyOnPostgres(
            model_name=model_name,
            index=models.Index(
                condition=PUBLISHED, fields=columns, name=f"listings_{model_name}_{name}_idx"
            ),
        )
        for name, columns in fields.items()
    ]


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("harbors", "0001_initial"),
        ("listings", "0006_fill_listing_public_location"),
    ]

    operations = [
        *_constraints("offer"),
        *_constraints("demand"),
        *_indexes("offer"),
        *_indexes("demand"),
    ]
