"""Reads of harbour geography: where a point lies and which port is nearest."""

from __future__ import annotations

from dataclasses import dataclass

from .logistics import haversine_km
from .models import HarborRegion, Port

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
