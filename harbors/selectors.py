"""Reads of harbour geography: where a point lies and which port is nearest."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from .logistics import haversine_km
from .models import Country, HarborRegion, Port

# A site belongs to the harbour region of its nearest port when that port is this close.
REGION_RADIUS_KM = 80.0


@dataclass(frozen=True, slots=True)
class Location:
    region: HarborRegion | None
    nearest_port: Port | None
    port_km: float | None


def location_for_point(*, lat: float, lon: float) -> Location:
    """The nearest port and, within REGION_RADIUS_KM of it, its harbour region."""
    ports = list(Port.objects.select_related("region"))
    if not ports:
        return Location(region=None, nearest_port=None, port_km=None)
    km, port = min(((haversine_km(lat, lon, p.lat, p.lon), p) for p in ports), key=lambda t: t[0])
    region = port.region if km <= REGION_RADIUS_KM else None
    return Location(region=region, nearest_port=port, port_km=km)


def harbor_region_list_for_facilitator(*, user_id: int) -> list[HarborRegion]:
    return list(HarborRegion.objects.filter(facilitators__id=user_id).order_by("name"))


def country_list() -> QuerySet[Country]:
    return Country.objects.order_by("code")


def harbor_region_list() -> QuerySet[HarborRegion]:
    """Every harbour region with its countries (one extra query for all of them)."""
    return HarborRegion.objects.prefetch_related("countries").order_by("code")


def harbor_region_get(*, code: str) -> HarborRegion | None:
    return harbor_region_list().filter(code=code).first()


def port_list() -> QuerySet[Port]:
    return Port.objects.select_related("region").order_by("unlocode")


# Reference codes change only when the reference data is reloaded: hot paths (the partner API's
# search filters) validate against these per-process copies, refreshed every few minutes, and
# query nothing.
REFERENCE_TTL_SECONDS = 300.0
_reference_cache: dict[str, tuple[float, Any]] = {}


def _cached(name: str, load: Callable[[], Any]) -> Any:
    now = time.monotonic()
    hit = _reference_cache.get(name)
    if hit is None or now - hit[0] > REFERENCE_TTL_SECONDS:
        hit = (now, load())
        _reference_cache[name] = hit
    return hit[1]


def country_codes() -> frozenset[str]:
    """Every country code (cached for a few minutes)."""
    return _cached("countries", lambda: frozenset(Country.objects.values_list("code", flat=True)))


def harbor_region_ids_by_code() -> dict[str, int]:
    """Harbour region code → id (cached for a few minutes)."""
    return _cached("regions", lambda: dict(HarborRegion.objects.values_list("code", "id")))


def harbor_regions_by_id() -> dict[int, tuple[str, str]]:
    """Harbour region id → (code, name) (cached for a few minutes)."""
    return _cached(
        "regions-by-id",
        lambda: {
            pk: (code, name)
            for pk, code, name in HarborRegion.objects.values_list("id", "code", "name")
        },
    )
