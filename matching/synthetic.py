"""NWE-shaped synthetic listings for benchmarks and tests (seeded; no I/O, no clock).

Sites cluster around 26 North-West European ports with a gaussian spread of about 15 km. The
material mix, the List of Waste codes, the category paths and the concepts follow what harbour
industrial-symbiosis programmes report: ashes and slags, gypsum, food residues, wood, paper,
plastics, metals, solvents, construction and demolition waste, sludges, glass, heat and water.
Quantities are lognormal around a typical median per stream. This is a data generator, so it is
the one module in ``matching`` that draws random numbers (from ``numpy.random.default_rng``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

import numpy as np

from matching.scoring import DemandProfile, OfferProfile

# (name, lat, lon, weight): approximate port centres; weight ~ relative size of the cluster.
PORTS: Final[tuple[tuple[str, float, float, float], ...]] = (
    ("Rotterdam", 51.904, 4.442, 10.0),
    ("Antwerp", 51.202, 4.383, 9.0),
    ("Zeebrugge", 51.337, 3.217, 2.0),
    ("Ghent", 51.080, 3.735, 3.0),
    ("Terneuzen", 51.335, 3.825, 2.0),
    ("Vlissingen", 51.442, 3.573, 1.5),
    ("Amsterdam", 52.375, 4.904, 5.0),
    ("Moerdijk", 51.689, 4.583, 2.0),
    ("Dunkirk", 51.045, 2.376, 3.0),
    ("Calais", 50.965, 1.862, 1.0),
    ("Le Havre", 49.486, 0.107, 3.0),
    ("Rouen", 49.437, 1.057, 2.0),
    ("Hamburg", 53.548, 9.969, 7.0),
    ("Bremen", 53.075, 8.795, 3.0),
    ("Bremerhaven", 53.543, 8.576, 1.5),
    ("Wilhelmshaven", 53.535, 8.169, 1.0),
    ("Duisburg", 51.430, 6.724, 5.0),
    ("Liège", 50.667, 5.567, 2.0),
    ("Mertert", 49.703, 6.487, 0.5),
    ("Basel", 47.588, 7.593, 1.5),
    ("Dublin", 53.343, -6.227, 2.5),
    ("Cork", 51.900, -8.400, 1.0),
    ("Felixstowe", 51.958, 1.344, 1.0),
    ("Immingham", 53.622, -0.174, 2.0),
    ("Teesport", 54.600, -1.166, 1.5),
    ("Esbjerg", 55.460, 8.433, 1.0),
)

SPREAD_KM: Final = 15.0


@dataclass(frozen=True, slots=True)
class Stream:
    """One kind of residue stream."""

    resource_type: str
    unit: str
    codes: tuple[str, ...]
    path: tuple[str, ...]
    concepts: tuple[str, ...]
    median: float  # per year, base unit
    weight: float
    hazardous: float = 0.0  # share of offers flagged hazardous


STREAMS: Final[tuple[Stream, ...]] = (
    Stream(
        "material",
        "t",
        ("100102", "100117", "190114"),
        ("minerals", "ashes", "fly-ash"),
        ("fly_ash", "pfa"),
        5000,
        8,
    ),
    Stream(
        "material",
        "t",
        ("100101", "190112", "100115"),
        ("minerals", "ashes", "bottom-ash"),
        ("bottom_ash", "iba"),
        20000,
        6,
    ),
    Stream(
        "material",
        "t",
        ("100202", "100201", "100903"),
        ("minerals", "slags", "steel-slag"),
        ("steel_slag", "bf_slag"),
        50000,
        6,
    ),
    Stream(
        "material",
        "t",
        ("100105", "170802"),
        ("minerals", "gypsum", "fgd-gypsum"),
        ("gypsum",),
        20000,
        4,
    ),
    Stream(
        "material",
        "t",
        ("020304", "020701", "020204", "020601"),
        ("organics", "food", "food-residues"),
        ("spent_grain", "food_waste"),
        3000,
        8,
    ),
    Stream(
        "material",
        "t",
        ("030101", "030105", "170201", "191207"),
        ("biomass", "wood", "wood-chips"),
        ("wood_chips", "sawdust"),
        5000,
        7,
    ),
    Stream(
        "material",
        "t",
        ("030307", "030310", "191201"),
        ("fibres", "paper", "paper-sludge"),
        ("paper_sludge", "cardboard"),
        2000,
        5,
    ),
    Stream(
        "material",
        "t",
        ("070213", "160119", "191204", "020104"),
        ("polymers", "plastics", "mixed-plastics"),
        ("plastics", "pe_film"),
        1000,
        8,
    ),
    Stream(
        "material",
        "t",
        ("120101", "120102", "170405", "191202"),
        ("metals", "ferrous", "steel-scrap"),
        ("steel_scrap",),
        2000,
        6,
    ),
    Stream(
        "material",
        "t",
        ("120103", "170402", "170401"),
        ("metals", "non-ferrous", "aluminium-scrap"),
        ("aluminium_scrap", "copper_scrap"),
        500,
        3,
    ),
    Stream(
        "material",
        "t",
        ("140603", "070104", "070103"),
        ("chemicals", "solvents", "spent-solvents"),
        ("spent_solvent",),
        200,
        3,
        hazardous=0.9,
    ),
    Stream(
        "material",
        "t",
        ("170101", "170107", "170302", "170504"),
        ("minerals", "construction", "concrete-rubble"),
        ("concrete_rubble", "aggregate"),
        30000,
        8,
    ),
    Stream(
        "material",
        "t",
        ("190805", "190812", "190814"),
        ("sludges", "wastewater", "sewage-sludge"),
        ("sewage_sludge",),
        5000,
        5,
    ),
    Stream(
        "material",
        "t",
        ("101112", "150107", "191205", "200102"),
        ("minerals", "glass", "glass-cullet"),
        ("glass_cullet",),
        3000,
        3,
    ),
    Stream(
        "material",
        "t",
        ("200125",),
        ("organics", "oils", "used-cooking-oil"),
        ("uco",),
        500,
        2,
    ),
    Stream(
        "material",
        "t",
        ("160803", "160804"),
        ("chemicals", "catalysts", "spent-catalyst"),
        ("spent_catalyst", "fcc_fines"),
        300,
        1,
        hazardous=0.3,
    ),
    Stream("energy", "MWh", (), ("energy", "heat", "steam"), ("waste_heat", "steam"), 20000, 6),
    Stream(
        "energy", "MWh", (), ("energy", "heat", "hot-water"), ("waste_heat", "hot_water"), 10000, 4
    ),
    Stream(
        "water",
        "m3",
        (),
        ("water", "process-water", "cooling-water"),
        ("process_water",),
        200000,
        4,
    ),
    Stream(
        "water",
        "m3",
        (),
        ("water", "process-water", "treated-effluent"),
        ("process_water", "effluent"),
        100000,
        3,
    ),
)


def _sites(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    weights = np.array([p[3] for p in PORTS])
    port = rng.choice(len(PORTS), size=n, p=weights / weights.sum())
    lat0 = np.array([p[1] for p in PORTS])[port]
    lon0 = np.array([p[2] for p in PORTS])[port]
    dlat = rng.normal(0.0, SPREAD_KM / 111.2, n)
    dlon = rng.normal(0.0, SPREAD_KM / 111.2, n) / np.cos(np.radians(lat0))
    return lat0 + dlat, lon0 + dlon


def _concepts(rng: np.random.Generator, stream: Stream) -> frozenset[str]:
    if rng.random() < 0.3:
        return frozenset()
    n = 1 if len(stream.concepts) == 1 or rng.random() < 0.6 else 2
    return frozenset(rng.choice(stream.concepts, size=n, replace=False).tolist())


def _path(rng: np.random.Generator, stream: Stream) -> tuple[str, ...]:
    return stream.path if rng.random() < 0.8 else stream.path[:2]


def generate_profiles(
    n_offers: int, n_demands: int, seed: int = 0, *, today: date = date(2026, 6, 1)
) -> tuple[list[OfferProfile], list[DemandProfile]]:
    """``n_offers`` offers and ``n_demands`` demands (ids 1.. and 1..), reproducible by seed."""
    rng = np.random.default_rng(seed)
    weights = np.array([s.weight for s in STREAMS])
    share = weights / weights.sum()

    offers: list[OfferProfile] = []
    lat, lon = _sites(rng, n_offers)
    kinds = rng.choice(len(STREAMS), size=n_offers, p=share)
    for i in range(n_offers):
        s = STREAMS[kinds[i]]
        code = str(rng.choice(s.codes)) if s.codes and rng.random() < 0.9 else ""
        start = today + timedelta(days=int(rng.integers(0, 365))) if rng.random() < 0.15 else None
        until = today + timedelta(days=int(rng.integers(400, 1500))) if rng.random() < 0.2 else None
        offers.append(
            OfferProfile(
                id=i + 1,
                resource_type=s.resource_type,
                low_code=code,
                category_path=_path(rng, s),
                concepts=_concepts(rng, s),
                annual_quantity=float(s.median * rng.lognormal(0.0, 1.0)),
                base_unit=s.unit,
                lat=float(lat[i]),
                lon=float(lon[i]),
                available_from=start,
                available_until=until,
                hazardous=bool(rng.random() < s.hazardous),
            )
        )

    demands: list[DemandProfile] = []
    lat, lon = _sites(rng, n_demands)
    kinds = rng.choice(len(STREAMS), size=n_demands, p=share)
    for j in range(n_demands):
        s = STREAMS[kinds[j]]
        code = str(rng.choice(s.codes)) if s.codes and rng.random() < 0.4 else ""
        accepted: set[str] = set()
        if s.codes and rng.random() < 0.6:
            pick = rng.choice(s.codes, size=int(rng.integers(1, len(s.codes) + 1)), replace=False)
            accepted.update(str(c) for c in pick)
            if rng.random() < 0.25:
                accepted.add(str(pick[0])[:4])
        categories = {s.path[1]} if rng.random() < 0.3 else set()
        quantity = float(s.median * rng.lognormal(0.0, 1.0))
        reach = None
        if rng.random() < 0.2:
            low, high = {"material": (50, 800), "energy": (3, 20), "water": (20, 100)}[
                s.resource_type
            ]
            reach = float(rng.uniform(low, high))
        demands.append(
            DemandProfile(
                id=j + 1,
                resource_type=s.resource_type,
                low_code=code,
                category_path=_path(rng, s),
                concepts=_concepts(rng, s),
                annual_quantity=quantity,
                base_unit=s.unit,
                lat=float(lat[j]),
                lon=float(lon[j]),
                accepted_codes=frozenset(accepted),
                accepted_categories=frozenset(categories),
                annual_quantity_min=quantity * 0.1 if rng.random() < 0.3 else None,
                max_distance_km=reach,
                accepts_hazardous=bool(rng.random() < 0.3),
                has_permit=bool(rng.random() < 0.5),
            )
        )
    return offers, demands
