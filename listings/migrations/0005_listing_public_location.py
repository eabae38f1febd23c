"""The site's country, harbour region and rounded location on each offer and demand, for the
partner API's public search (listings.selectors.listing_search_public).

Three steps, so that a million listings are filled quickly:
- 0005 (this): the columns, nullable and without their foreign-key constraints yet, so that the
  fill queues no per-row constraint check; and the old public_idx goes, as 0007 replaces it and
  the fill would otherwise update it for every row.
- 0006: the fill, one UPDATE … FROM listings_site per slice of ids.
- 0007: the constraints (each checked by one scan) and the search indexes, built concurrently.
"""

import django.db.models.deletion
from django.db import migrations, models


def _fields(model_name):
    return [
        migrations.AddField(
            model_name=model_name,
            name="country",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                editable=False,
                help_text="The site's country (kept in step by listings.services).",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="harbors.country",
            ),
        ),
        migrations.AddField(
            model_name=model_name,
            name="region",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                editable=False,
                help_text="The site's harbour region (kept in step by listings.services).",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="harbors.harborregion",
            ),
        ),
        migrations.AddField(
            model_name=model_name,
            name="approx_lat",
            field=models.FloatField(
                blank=True, editable=False, help_text="The site's latitude, rounded.", null=True
            ),
        ),
        migrations.AddField(
            model_name=model_name,
            name="approx_lon",
            field=models.FloatField(
                blank=True, editable=False, help_text="The site's longitude, rounded.", null=True
            ),
        ),
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("harbors", "0001_initial"),
        ("listings", "0004_listing_updated_at_indexes"),
    ]

    operations = [
        *_fields("offer"),
        *_fields("demand"),
        migrations.RemoveIndex(model_name="offer", name="listings_offer_public_idx"),
        migrations.RemoveIndex(model_name="demand", name="listings_demand_public_idx"),
        # The radius search no longer reads the site's exact coordinates.
        migrations.RemoveIndex(model_name="site", name="listings_site_latlon_idx"),
    ]
