"""Loads the harbour reference tables: countries, harbour regions, ports, transport factors."""

from __future__ import annotations

from django.db import transaction

from symbiosis.sync import SyncCounts, sync_rows

from .countries import COUNTRIES
from .logistics import read_default_factors
from .models import Country, HarborRegion, Port, TransportFactor
from .reference_tables import read_harbor_regions, read_ports


@transaction.atomic
def harbors_reference_data_load() -> dict[str, SyncCounts]:
    """Idempotent: a second run reports everything unchanged and writes nothing.

    Transport factors are created from the file only when missing: an operator's edits in the
    admin are kept.
    """
    counts = {
        "countries": sync_rows(
            Country,
            ("code",),
            {
                (c.code,): {
                    "name": c.name,
                    "eu": c.eu,
                    "eea": c.eea,
                    "efta": c.efta,
                    "oecd": c.oecd,
                    "basel_party": c.basel_party,
                }
                for c in COUNTRIES.values()
            },
        )
    }
    regions = read_harbor_regions()
    counts["harbour regions"] = sync_rows(
        HarborRegion,
        ("code",),
        {(r.code,): {"name": r.name, "lat": r.lat, "lon": r.lon} for r in regions},
    )
    by_code = {r.code: r for r in HarborRegion.objects.all()}
    for row in regions:
        region = by_code[row.code]
        wanted = set(row.countries)
        if {c.code for c in region.countries.all()} != wanted:
            region.countries.set(list(wanted))
    counts["ports"] = sync_rows(
        Port,
        ("unlocode",),
        {
            (p.unlocode,): {
                "name": p.name,
                "country_id": p.country,
                "kind": str(p.kind),
                "lat": p.lat,
                "lon": p.lon,
                "region_id": by_code[p.region].pk,
                "waterways": " ".join(p.waterways),
            }
            for p in read_ports()
        },
    )
    present = set(TransportFactor.objects.values_list("mode", flat=True))
    factors = {
        (mode,): {
            "g_co2e_per_tkm": f.g_co2e_per_tkm,
            "eur_per_tkm": f.eur_per_tkm,
            "eur_per_tonne_handling": f.eur_per_tonne_handling,
            "detour_factor": f.detour_factor,
            "source": f.source[:400],
            "year": f.year,
        }
        for mode, f in read_default_factors().items()
        if mode not in present
    }
    counts["transport factors"] = sync_rows(TransportFactor, ("mode",), factors)
    counts["transport factors"].unchanged += len(present)
    return counts
