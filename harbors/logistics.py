"""Door-to-door freight routing between two sites: road, short-sea and inland waterway.

Pure domain code: the standard library, NumPy and (lazily, only to fill the sea-leg cache) the
PyPI package ``searoute``. No Django, no clock, no randomness. The only I/O is reading the
default factor table and the optional JSON file of the sea-leg cache, both at paths the caller
chooses.

Formula, per tonne of cargo
---------------------------
* Great-circle distance ``gc`` is the haversine distance on a sphere of radius 6371.0088 km.
* A **leg** of mode ``m`` over ``km`` kilometres costs ``km x eur_per_tkm[m] + 2 x
  eur_per_tonne_handling[m]`` euros (handling is charged at both ends of the leg: one
  transshipment each) and emits ``km x g_co2e_per_tkm[m] / 1000`` kg CO2e.
* **Road only**: one road leg of ``gc(origin, destination) x detour[road]`` km.
* **Sea**: road ``origin → seaport p``, the sea leg ``p → q`` whose km come from
  ``searoute.searoute`` (network km, so ``detour[sea]`` is normally 1.0 and multiplies them),
  then road ``q → destination``. The ``nearest`` (default 2) seaports of each side by
  great-circle are tried, every combination with ``p ≠ q``.
* **Inland waterway**: the same shape, through ports of one waterway network, the waterway leg
  being ``gc(p, q) x detour[inland_waterway]``. The Rhine, Meuse, Scheldt, Albert Canal,
  Moselle, Main and North Sea Canal and the Rhine-Scheldt delta seaports (Rotterdam, Antwerp,
  Moerdijk, Ghent, Terneuzen, Vlissingen, Amsterdam) form one network; the Elbe (Hamburg) and
  the Weser (Bremen) are separate ones. Any other waterway name is a network of its own.
* The candidate with the lowest euros per tonne wins (ties: road, then sea, then inland
  waterway). A multimodal route reports the mode of its main leg and its total km; its
  kg CO2e per tonne is ``Σ km_leg x g_co2e_per_tkm[mode_leg] / 1000``.

Rail has a factor row, but no rail network is modelled, so no rail route is proposed yet.

Factor sources (``data/transport_factors.csv``, which also carries them per row)
-------------------------------------------------------------------------------
* CO2e, well-to-wheel: UK DESNZ GHG conversion factors 2025 (road: HGV diesel articulated
  >33 t, average laden, 95.0 g/tkm; sea: general cargo ship average, 16.2 g/tkm; rail: UK
  freight train, 34.7 g/tkm); inland waterway 38.6 g/tkm (KiM / CE Delft STREAM, as tabulated in
  European Transport Research Review 2019, doi:10.1186/s12544-019-0344-x, Table 9).
* Euros per tonne-km and per tonne handled: project estimate 2026.
* Detour factors: road 1.25, rail 1.2, inland waterway 1.3, sea 1.0.

Operators can change the factors (the admin stores them in the database); every function here
therefore takes the factors as a parameter, and ``read_default_factors`` only supplies defaults.

Performance
-----------
``SeaLegCache`` calls searoute once per unordered seaport pair and memoises it; ``Router``
fills it when it is built, so routing never calls searoute. ``Router.best_route_matrix`` uses
nearest-port tables and port-by-port leg matrices: a few NumPy operations per pair and candidate.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
Int8Array = npt.NDArray[np.int8]

EARTH_RADIUS_KM: Final = 6371.0088  # IUGG mean Earth radius
DEFAULT_FACTORS_PATH: Final = Path(__file__).resolve().parent / "data" / "transport_factors.csv"
DEFAULT_NEAREST_PORTS: Final = 2

ORIGIN_LABEL: Final = "origin"
DESTINATION_LABEL: Final = "destination"


class Mode(StrEnum):
    ROAD = "road"
    SEA = "sea"
    INLAND_WATERWAY = "inland_waterway"
    RAIL = "rail"


#: ``RouteMatrix.mode`` holds the index of the mode in this tuple.
MODE_CODES: Final[tuple[Mode, ...]] = (Mode.ROAD, Mode.SEA, Mode.INLAND_WATERWAY, Mode.RAIL)


def mode_code(mode: Mode | str) -> int:
    """The int8 code of ``mode`` in ``RouteMatrix.mode``."""
    return MODE_CODES.index(Mode(mode))


def mode_from_code(code: int) -> Mode:
    """The mode for a ``RouteMatrix.mode`` code."""
    return MODE_CODES[int(code)]


# --------------------------------------------------------------------------------------------
# Factors
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModeFactor:
    """Cost, emission and detour factors of one transport mode, per tonne of cargo."""

    mode: Mode
    g_co2e_per_tkm: float
    eur_per_tkm: float
    eur_per_tonne_handling: float
    detour_factor: float
    source: str = ""
    year: int | None = None

    def __post_init__(self) -> None:
        # Coerce (e.g. Decimal from the database, str from CSV) and validate once, here.
        object.__setattr__(self, "mode", Mode(self.mode))
        for name in ("g_co2e_per_tkm", "eur_per_tkm", "eur_per_tonne_handling", "detour_factor"):
            value = float(getattr(self, name))
            if not math.isfinite(value) or value < 0.0:
                raise ValueError(f"{self.mode}: {name} must be finite and >= 0, got {value!r}")
            object.__setattr__(self, name, value)
        if self.detour_factor < 1.0:
            raise ValueError(f"{self.mode}: detour_factor must be >= 1, got {self.detour_factor}")

    def leg_eur_per_tonne(self, km: float) -> float:
        """Euros per tonne for one leg of this mode: km x €/tkm + 2 x handling (both ends)."""
        return km * self.eur_per_tkm + 2.0 * self.eur_per_tonne_handling

    def leg_kg_co2e_per_tonne(self, km: float) -> float:
        """kg CO2e per tonne for ``km`` of this mode."""
        return km * self.g_co2e_per_tkm / 1000.0


def _data_lines(path: Path) -> list[str]:
    """The lines of a CSV file without its ``#`` comment lines."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [line for line in handle if not line.lstrip().startswith("#")]


def read_default_factors(path: Path | str = DEFAULT_FACTORS_PATH) -> dict[str, ModeFactor]:
    """Read the factor table (``#`` lines are comments) into ``{mode: ModeFactor}``."""
    factors: dict[str, ModeFactor] = {}
    for row in csv.DictReader(_data_lines(Path(path))):
        factor = ModeFactor(
            mode=Mode(row["mode"].strip()),
            g_co2e_per_tkm=float(row["g_co2e_per_tkm"]),
            eur_per_tkm=float(row["eur_per_tkm"]),
            eur_per_tonne_handling=float(row["eur_per_tonne_handling"]),
            detour_factor=float(row["detour_factor"]),
            source=row["source"].strip(),
            year=int(row["year"]) if row["year"].strip() else None,
        )
        if factor.mode in factors:
            raise ValueError(f"duplicate mode {factor.mode!r} in {path}")
        factors[factor.mode] = factor
    return factors


# --------------------------------------------------------------------------------------------
# Great-circle distances
# --------------------------------------------------------------------------------------------


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points given in decimal degrees."""
    phi1 = math.radians(lat1)
    phi2 = math.radians(lat2)
    half_dphi = (phi2 - phi1) / 2
    half_dlmb = math.radians(lon2 - lon1) / 2
    a = math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlmb) ** 2
    return 2.0 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


def _as_vector(values: npt.ArrayLike, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim > 1:
        raise ValueError(f"{name} must be a scalar or a 1-D array, got shape {array.shape}")
    return np.atleast_1d(array)


def _coordinates(
    lat: npt.ArrayLike, lon: npt.ArrayLike, side: str
) -> tuple[FloatArray, FloatArray]:
    lat_v = _as_vector(lat, f"{side} latitude")
    lon_v = _as_vector(lon, f"{side} longitude")
    if lat_v.shape != lon_v.shape:
        raise ValueError(f"{side} latitude and longitude differ in length")
    return lat_v, lon_v


def _haversine_broadcast(
    lat1: FloatArray, lon1: FloatArray, lat2: FloatArray, lon2: FloatArray
) -> FloatArray:
    """The same operations as ``haversine_km``, on broadcastable arrays."""
    phi1 = np.radians(lat1)
    phi2 = np.radians(lat2)
    half_dphi = (phi2 - phi1) / 2
    half_dlmb = np.radians(lon2 - lon1) / 2
    a = np.sin(half_dphi) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(half_dlmb) ** 2
    out: FloatArray = 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(1.0, a)))
    return out


def haversine_km_matrix(
    lat_a: npt.ArrayLike, lon_a: npt.ArrayLike, lat_b: npt.ArrayLike, lon_b: npt.ArrayLike
) -> FloatArray:
    """Great-circle km between every point of A (N) and every point of B (M): an NxM array."""
    la, oa = _coordinates(lat_a, lon_a, "A")
    lb, ob = _coordinates(lat_b, lon_b, "B")
    return _haversine_broadcast(la[:, None], oa[:, None], lb[None, :], ob[None, :])


def haversine_km_pairs(
    lat_a: npt.ArrayLike, lon_a: npt.ArrayLike, lat_b: npt.ArrayLike, lon_b: npt.ArrayLike
) -> FloatArray:
    """Great-circle km between A[i] and B[i], element-wise (arrays of the same length)."""
    la, oa = _coordinates(lat_a, lon_a, "A")
    lb, ob = _coordinates(lat_b, lon_b, "B")
    if la.shape != lb.shape:
        raise ValueError(f"pairwise arrays differ in length: {la.shape} vs {lb.shape}")
    return _haversine_broadcast(la, oa, lb, ob)


def unit_vectors(lat: FloatArray, lon: FloatArray) -> FloatArray:
    """Points on the unit sphere (n x 3): their dot product is the cosine of the central angle."""
    phi = np.radians(lat)
    lmb = np.radians(lon)
    cos_phi = np.cos(phi)
    return np.stack([cos_phi * np.cos(lmb), cos_phi * np.sin(lmb), np.sin(phi)], axis=1)


def road_km(
    a: tuple[float, float] | PortNode,
    b: tuple[float, float] | PortNode,
    factors: Mapping[str, ModeFactor],
) -> float:
    """Road km between two (lat, lon) points or ports: great-circle x road detour factor."""
    lat1, lon1 = (a.lat, a.lon) if isinstance(a, PortNode) else a
    lat2, lon2 = (b.lat, b.lon) if isinstance(b, PortNode) else b
    return haversine_km(lat1, lon1, lat2, lon2) * factors[Mode.ROAD].detour_factor


# --------------------------------------------------------------------------------------------
# Ports and waterway networks
# --------------------------------------------------------------------------------------------

PortKind = Literal["seaport", "inland"]

RHINE_SCHELDT: Final = "rhine_scheldt"

#: Waterway name → network. Names not listed form a network of their own (e.g. ``seine``).
WATERWAY_NETWORKS: Final[Mapping[str, str]] = {
    "rhine": RHINE_SCHELDT,
    "waal": RHINE_SCHELDT,
    "lek": RHINE_SCHELDT,
    "ijssel": RHINE_SCHELDT,
    "meuse": RHINE_SCHELDT,
    "maas": RHINE_SCHELDT,
    "scheldt": RHINE_SCHELDT,
    "albert_canal": RHINE_SCHELDT,
    "moselle": RHINE_SCHELDT,
    "main": RHINE_SCHELDT,
    "north_sea_canal": RHINE_SCHELDT,
    "amsterdam_rhine_canal": RHINE_SCHELDT,
    "ghent_terneuzen_canal": RHINE_SCHELDT,
    "scheldt_rhine_canal": RHINE_SCHELDT,
    "elbe": "elbe",
    "weser": "weser",
}

#: Delta seaports reached by Rhine/Scheldt barges whatever their ``waterways`` say.
RHINE_SCHELDT_DELTA_SEAPORTS: Final = frozenset(
    {"NLRTM", "BEANR", "NLMOE", "BEGNE", "NLTNZ", "NLVLI", "NLAMS"}
)


@dataclass(frozen=True, slots=True)
class PortNode:
    """A sea or inland port: a node of the sea network and/or of waterway networks."""

    unlocode: str
    lat: float
    lon: float
    kind: PortKind
    waterways: frozenset[str]
    country: str
    name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("seaport", "inland"):
            raise ValueError(
                f"{self.unlocode}: kind must be 'seaport' or 'inland', got {self.kind}"
            )
        if not (-90.0 <= float(self.lat) <= 90.0 and -180.0 <= float(self.lon) <= 180.0):
            raise ValueError(f"{self.unlocode}: coordinates out of range")
        object.__setattr__(self, "lat", float(self.lat))
        object.__setattr__(self, "lon", float(self.lon))
        object.__setattr__(self, "waterways", frozenset(w.lower() for w in self.waterways))

    @property
    def is_seaport(self) -> bool:
        return self.kind == "seaport"

    @property
    def networks(self) -> frozenset[str]:
        """The inland waterway networks this port is on."""
        names = {WATERWAY_NETWORKS.get(w, w) for w in self.waterways}
        if self.unlocode in RHINE_SCHELDT_DELTA_SEAPORTS:
            names.add(RHINE_SCHELDT)
        return frozenset(names)


def port_nodes_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[PortNode]:
    """Build ports from rows shaped like ``harbors/data/ports.csv``.

    Keys: ``unlocode, name?, country, kind, lat, lon, waterways`` (space-separated names).
    A kind starting with ``seaport`` (``seaport/river``) is a seaport, anything else inland.
    """
    nodes: list[PortNode] = []
    for row in rows:
        kind: PortKind = "seaport" if str(row["kind"]).strip().startswith("seaport") else "inland"
        nodes.append(
            PortNode(
                unlocode=str(row["unlocode"]).strip(),
                lat=float(row["lat"]),
                lon=float(row["lon"]),
                kind=kind,
                waterways=frozenset(str(row.get("waterways") or "").split()),
                country=str(row.get("country") or "").strip(),
                name=str(row.get("name") or "").strip(),
            )
        )
    return nodes


def read_port_nodes(path: Path | str) -> list[PortNode]:
    """Read a ports CSV (``#`` lines are comments) with ``port_nodes_from_rows``."""
    return port_nodes_from_rows(csv.DictReader(_data_lines(Path(path))))


# --------------------------------------------------------------------------------------------
# Sea legs
# --------------------------------------------------------------------------------------------

#: ``searoute.searoute``-compatible: ``fn([lon, lat], [lon, lat], units="km")`` → GeoJSON
#: Feature whose ``properties["length"]`` is the route length.
SeaRouteFunction = Callable[..., Mapping[str, Any]]

_PortKey = tuple[str, float, float]
_PairKey = tuple[_PortKey, _PortKey]


def _searoute_default(origin: list[float], destination: list[float], units: str = "km") -> Any:
    import searoute  # lazy: importing it (with networkx) costs ~0.25 s

    return searoute.searoute(origin, destination, units=units)


def _port_key(port: PortNode) -> _PortKey:
    # Coordinates are part of the key, so moving a port invalidates its cached legs.
    return (port.unlocode, round(port.lat, 6), round(port.lon, 6))


def _pair_key(a: PortNode, b: PortNode) -> _PairKey:
    ka, kb = _port_key(a), _port_key(b)
    return (ka, kb) if ka <= kb else (kb, ka)


class SeaLegCache:
    """Sea-leg km between seaports, from searoute, computed once per unordered pair.

    ``km(a, b)`` memoises; ``precompute(ports)`` fills every seaport pair up front. The result
    can be saved to and loaded from a JSON file whose path the caller gives. A pair searoute
    cannot connect is stored as ``inf`` (``null`` in JSON).
    """

    def __init__(
        self,
        ports: Iterable[PortNode] = (),
        *,
        searoute_fn: SeaRouteFunction | None = None,
    ) -> None:
        self._searoute: SeaRouteFunction = searoute_fn or _searoute_default
        self._ports: dict[str, PortNode] = {}
        self._km: dict[_PairKey, float] = {}
        self.searoute_calls = 0
        self.add_ports(ports)

    def __len__(self) -> int:
        return len(self._km)

    def add_ports(self, ports: Iterable[PortNode]) -> None:
        """Register ports so that ``km`` can look them up by UN/LOCODE."""
        for port in ports:
            self._ports[port.unlocode] = port

    def precompute(self, ports: Iterable[PortNode] | None = None) -> int:
        """Register ``ports`` and compute every missing seaport pair; returns searoute calls."""
        if ports is not None:
            self.add_ports(ports)
        before = self.searoute_calls
        seaports = sorted(p.unlocode for p in self._ports.values() if p.is_seaport)
        for i, a in enumerate(seaports):
            for b in seaports[i + 1 :]:
                self.km(a, b)
        return self.searoute_calls - before

    def km(self, a: str, b: str) -> float:
        """Sea km between seaports ``a`` and ``b`` (UN/LOCODEs); 0 when they are the same."""
        if a == b:
            return 0.0
        port_a, port_b = self._port(a), self._port(b)
        key = _pair_key(port_a, port_b)
        cached = self._km.get(key)
        if cached is not None:
            return cached
        first, second = sorted((port_a, port_b), key=lambda p: p.unlocode)
        feature = self._searoute([first.lon, first.lat], [second.lon, second.lat], units="km")
        self.searoute_calls += 1
        length = float(feature["properties"]["length"])
        km = length if math.isfinite(length) and length >= 0.0 else math.inf
        self._km[key] = km
        return km

    def _port(self, unlocode: str) -> PortNode:
        try:
            port = self._ports[unlocode]
        except KeyError:
            raise KeyError(f"unknown port {unlocode!r}: register it with add_ports()") from None
        if not port.is_seaport:
            raise ValueError(f"{unlocode} is not a seaport; sea legs join seaports only")
        return port

    def save(self, path: Path | str) -> None:
        """Write the memoised legs to a JSON file."""
        legs = [
            {
                "a": {"unlocode": ka[0], "lat": ka[1], "lon": ka[2]},
                "b": {"unlocode": kb[0], "lat": kb[1], "lon": kb[2]},
                "km": km if math.isfinite(km) else None,
            }
            for (ka, kb), km in sorted(self._km.items())
        ]
        payload = {"format": 1, "units": "km", "source": "searoute", "legs": legs}
        Path(path).write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")

    def load(self, path: Path | str) -> int:
        """Merge legs from a JSON file written by ``save``; returns how many were read.

        A missing file reads as empty. Legs are keyed by UN/LOCODE *and* coordinates, so a
        leg saved for a port that has since moved is simply never used.
        """
        file = Path(path)
        if not file.exists():
            return 0
        payload = json.loads(file.read_text(encoding="utf-8"))
        if payload.get("format") != 1 or payload.get("units") != "km":
            raise ValueError(f"{file}: not a sea-leg cache in km (format 1)")
        for leg in payload["legs"]:
            ka = (str(leg["a"]["unlocode"]), float(leg["a"]["lat"]), float(leg["a"]["lon"]))
            kb = (str(leg["b"]["unlocode"]), float(leg["b"]["lat"]), float(leg["b"]["lon"]))
            key = (ka, kb) if ka <= kb else (kb, ka)
            self._km[key] = math.inf if leg["km"] is None else float(leg["km"])
        return len(payload["legs"])


# --------------------------------------------------------------------------------------------
# Routes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Leg:
    mode: Mode
    km: float
    from_label: str
    to_label: str


@dataclass(frozen=True, slots=True)
class Route:
    """One door-to-door candidate; ``mode`` is the mode of its main leg."""

    mode: Mode
    km: float
    eur_per_tonne: float
    kg_co2e_per_tonne: float
    legs: tuple[Leg, ...]


@dataclass(frozen=True, slots=True)
class RouteMatrix:
    """Best routes for NxM origin/destination pairs (or N pairs); ``mode`` holds mode codes."""

    km: FloatArray
    eur_per_tonne: FloatArray
    kg_co2e_per_tonne: FloatArray
    mode: Int8Array

    def mode_at(self, *index: int) -> Mode:
        return mode_from_code(int(self.mode[index]))


@dataclass(frozen=True, slots=True)
class _Network:
    """Ports joined by one main-leg mode, with the leg km between every two of them."""

    name: str
    mode: Mode
    factor: ModeFactor
    ports: tuple[PortNode, ...]
    lat: FloatArray
    lon: FloatArray
    xyz: FloatArray  # unit vectors of the ports, ports x 3
    leg_km: FloatArray  # len(ports) x len(ports); inf on the diagonal and where unreachable


class Router:
    """Chooses the cheapest of road, sea and inland-waterway routes between two points.

    Built once from the ports, the factors (``{mode: ModeFactor}``; ``road`` required, no
    ``sea`` / ``inland_waterway`` row switches that mode off) and a ``SeaLegCache``, which it
    fills for every seaport pair. ``routes``/``best_route`` are the readable scalar
    specification; ``best_route_matrix``/``best_route_pairs`` compute the same thing with NumPy.
    """

    def __init__(
        self,
        ports: Iterable[PortNode],
        factors: Mapping[str, ModeFactor] | None = None,
        sea_legs: SeaLegCache | None = None,
        *,
        nearest: int = DEFAULT_NEAREST_PORTS,
    ) -> None:
        if nearest < 1:
            raise ValueError("nearest must be >= 1")
        self.ports: tuple[PortNode, ...] = tuple(ports)
        codes = [p.unlocode for p in self.ports]
        if len(set(codes)) != len(codes):
            raise ValueError("duplicate UN/LOCODEs in ports")
        self.factors: dict[str, ModeFactor] = dict(
            read_default_factors() if factors is None else factors
        )
        if Mode.ROAD not in self.factors:
            raise ValueError("factors need a 'road' row")
        self.road: ModeFactor = self.factors[Mode.ROAD]
        self.nearest = nearest
        self.sea_legs = sea_legs if sea_legs is not None else SeaLegCache()
        self.networks: tuple[_Network, ...] = tuple(self._build_networks())

    # -- construction -------------------------------------------------------------------------

    def _build_networks(self) -> list[_Network]:
        groups: list[tuple[str, Mode, list[PortNode]]] = []
        if Mode.SEA in self.factors:
            seaports = [p for p in self.ports if p.is_seaport]
            self.sea_legs.precompute(seaports)
            groups.append(("sea", Mode.SEA, seaports))
        if Mode.INLAND_WATERWAY in self.factors:
            names = sorted({n for p in self.ports for n in p.networks})
            groups.extend(
                (name, Mode.INLAND_WATERWAY, [p for p in self.ports if name in p.networks])
                for name in names
            )
        networks = []
        for name, mode, members in groups:
            if len(members) < 2:  # a main leg needs two distinct ports
                continue
            factor = self.factors[mode]
            leg_km = np.array(
                [[self._main_leg_km(mode, factor, p, q) for q in members] for p in members],
                dtype=np.float64,
            )
            networks.append(
                _Network(
                    name=name,
                    mode=mode,
                    factor=factor,
                    ports=tuple(members),
                    lat=np.array([p.lat for p in members], dtype=np.float64),
                    lon=np.array([p.lon for p in members], dtype=np.float64),
                    xyz=unit_vectors(
                        np.array([p.lat for p in members], dtype=np.float64),
                        np.array([p.lon for p in members], dtype=np.float64),
                    ),
                    leg_km=leg_km,
                )
            )
        return networks

    def _main_leg_km(self, mode: Mode, factor: ModeFactor, p: PortNode, q: PortNode) -> float:
        """km of the main leg p → q; inf when p is q (no leg) or unreachable."""
        if p.unlocode == q.unlocode:
            return math.inf
        if mode is Mode.SEA:
            return self.sea_legs.km(p.unlocode, q.unlocode) * factor.detour_factor
        return haversine_km(p.lat, p.lon, q.lat, q.lon) * factor.detour_factor

    # -- scalar specification -----------------------------------------------------------------

    def _nearest_ports(self, network: _Network, lat: float, lon: float) -> list[tuple[int, float]]:
        """(index in network, great-circle km) of the ``nearest`` ports, nearest first."""
        distances = [(haversine_km(lat, lon, p.lat, p.lon), i) for i, p in enumerate(network.ports)]
        distances.sort()
        return [(i, km) for km, i in distances[: self.nearest]]

    def routes(
        self,
        origin_lat: float,
        origin_lon: float,
        dest_lat: float,
        dest_lon: float,
        *,
        origin_label: str = ORIGIN_LABEL,
        dest_label: str = DESTINATION_LABEL,
    ) -> list[Route]:
        """The best candidate of each available mode: road first, then sea, inland waterway."""
        road = self.road
        road_leg_km = haversine_km(origin_lat, origin_lon, dest_lat, dest_lon) * road.detour_factor
        candidates = [
            Route(
                mode=Mode.ROAD,
                km=road_leg_km,
                eur_per_tonne=road_leg_km * road.eur_per_tkm + 2.0 * road.eur_per_tonne_handling,
                kg_co2e_per_tonne=road_leg_km * road.g_co2e_per_tkm / 1000.0,
                legs=(Leg(Mode.ROAD, road_leg_km, origin_label, dest_label),),
            )
        ]
        best_by_mode: dict[Mode, Route] = {}
        for network in self.networks:
            main = network.factor
            handling = 4.0 * road.eur_per_tonne_handling + 2.0 * main.eur_per_tonne_handling
            for i, gc_in in self._nearest_ports(network, origin_lat, origin_lon):
                for j, gc_out in self._nearest_ports(network, dest_lat, dest_lon):
                    main_km = float(network.leg_km[i, j])
                    if not math.isfinite(main_km):
                        continue
                    road_in = gc_in * road.detour_factor
                    road_out = gc_out * road.detour_factor
                    road_total = road_in + road_out
                    eur = road_total * road.eur_per_tkm + main_km * main.eur_per_tkm + handling
                    best = best_by_mode.get(network.mode)
                    if best is not None and not eur < best.eur_per_tonne:
                        continue
                    p, q = network.ports[i], network.ports[j]
                    best_by_mode[network.mode] = Route(
                        mode=network.mode,
                        km=road_total + main_km,
                        eur_per_tonne=eur,
                        kg_co2e_per_tonne=(
                            road_total * road.g_co2e_per_tkm + main_km * main.g_co2e_per_tkm
                        )
                        / 1000.0,
                        legs=(
                            Leg(Mode.ROAD, road_in, origin_label, p.unlocode),
                            Leg(network.mode, main_km, p.unlocode, q.unlocode),
                            Leg(Mode.ROAD, road_out, q.unlocode, dest_label),
                        ),
                    )
        candidates.extend(best_by_mode[m] for m in MODE_CODES if m in best_by_mode)
        return candidates

    def best_route(
        self,
        origin_lat: float,
        origin_lon: float,
        dest_lat: float,
        dest_lon: float,
        *,
        origin_label: str = ORIGIN_LABEL,
        dest_label: str = DESTINATION_LABEL,
    ) -> Route:
        """The cheapest route in euros per tonne (ties: road, then sea, inland waterway)."""
        candidates = self.routes(
            origin_lat,
            origin_lon,
            dest_lat,
            dest_lon,
            origin_label=origin_label,
            dest_label=dest_label,
        )
        best = candidates[0]
        for route in candidates[1:]:
            if route.eur_per_tonne < best.eur_per_tonne:
                best = route
        return best

    # -- vectorised ---------------------------------------------------------------------------

    def _nearest_table(
        self, network: _Network, lat: FloatArray, lon: FloatArray, xyz: FloatArray
    ) -> tuple[IntArray, FloatArray]:
        """For each point: indices (n x k) and great-circle km (n x k) of the nearest ports.

        Nearest = largest dot product of unit vectors (one matrix product), which orders ports
        as the great-circle distance does (up to rounding); haversine runs for k ports only.
        """
        closeness = xyz @ network.xyz.T  # n x ports, cos(central angle)
        k = min(self.nearest, closeness.shape[1])
        rows = np.arange(closeness.shape[0])
        index = np.empty((closeness.shape[0], k), dtype=np.intp)
        for column in range(k):  # k argmax passes: ties go to the lower index, as in sorted()
            nearest = np.argmax(closeness, axis=1)
            index[:, column] = nearest
            closeness[rows, nearest] = -np.inf
        km = _haversine_broadcast(
            lat[:, None], lon[:, None], network.lat[index], network.lon[index]
        )
        return index, km

    def best_route_matrix(
        self,
        origin_lat: npt.ArrayLike,
        origin_lon: npt.ArrayLike,
        dest_lat: npt.ArrayLike,
        dest_lon: npt.ArrayLike,
    ) -> RouteMatrix:
        """``best_route`` for every origin (N) x destination (M) pair: NxM arrays."""
        o_lat, o_lon = _coordinates(origin_lat, origin_lon, "origin")
        d_lat, d_lon = _coordinates(dest_lat, dest_lon, "destination")
        gc = haversine_km_matrix(o_lat, o_lon, d_lat, d_lon)
        return self._best(gc, o_lat, o_lon, d_lat, d_lon, outer=True)

    def best_route_pairs(
        self,
        origin_lat: npt.ArrayLike,
        origin_lon: npt.ArrayLike,
        dest_lat: npt.ArrayLike,
        dest_lon: npt.ArrayLike,
    ) -> RouteMatrix:
        """``best_route`` for origin[i] → destination[i], element-wise: arrays of length N."""
        o_lat, o_lon = _coordinates(origin_lat, origin_lon, "origin")
        d_lat, d_lon = _coordinates(dest_lat, dest_lon, "destination")
        gc = haversine_km_pairs(o_lat, o_lon, d_lat, d_lon)
        return self._best(gc, o_lat, o_lon, d_lat, d_lon, outer=False)

    def _best(
        self,
        gc: FloatArray,
        o_lat: FloatArray,
        o_lon: FloatArray,
        d_lat: FloatArray,
        d_lon: FloatArray,
        *,
        outer: bool,
    ) -> RouteMatrix:
        road = self.road
        # The running best of every pair: road only to start with (main leg 0 km).
        road_km_best = gc * road.detour_factor
        eur = road_km_best * road.eur_per_tkm + 2.0 * road.eur_per_tonne_handling
        main_km_best = np.zeros_like(gc)
        main_g_best = np.zeros_like(gc)
        mode = np.full(gc.shape, mode_code(Mode.ROAD), dtype=np.int8)
        o_xyz = unit_vectors(o_lat, o_lon)
        d_xyz = unit_vectors(d_lat, d_lon)

        def origin_side(column: npt.NDArray[Any]) -> npt.NDArray[Any]:
            return column[:, None] if outer else column

        def dest_side(column: npt.NDArray[Any]) -> npt.NDArray[Any]:
            return column[None, :] if outer else column

        with np.errstate(invalid="ignore"):  # inf legs x a zero rate give NaN: never "better"
            for network in self.networks:
                main = network.factor
                code = mode_code(network.mode)
                handling = 4.0 * road.eur_per_tonne_handling + 2.0 * main.eur_per_tonne_handling
                o_idx, o_gc = self._nearest_table(network, o_lat, o_lon, o_xyz)
                d_idx, d_gc = self._nearest_table(network, d_lat, d_lon, d_xyz)
                o_road = o_gc * road.detour_factor
                d_road = d_gc * road.detour_factor
                for a in range(o_idx.shape[1]):
                    # outer: the legs from each origin's a-th port to every port (N x ports)
                    legs_from_a = network.leg_km[o_idx[:, a]] if outer else network.leg_km
                    for b in range(d_idx.shape[1]):
                        if outer:
                            main_km = legs_from_a[:, d_idx[:, b]]
                        else:
                            main_km = legs_from_a[o_idx[:, a], d_idx[:, b]]
                        road_total = origin_side(o_road[:, a]) + dest_side(d_road[:, b])
                        cand = road_total * road.eur_per_tkm + main_km * main.eur_per_tkm + handling
                        better = cand < eur
                        np.copyto(eur, cand, where=better)
                        np.copyto(road_km_best, road_total, where=better)
                        np.copyto(main_km_best, main_km, where=better)
                        np.copyto(main_g_best, main.g_co2e_per_tkm, where=better)
                        np.copyto(mode, code, where=better)
        km = road_km_best + main_km_best
        co2 = (road_km_best * road.g_co2e_per_tkm + main_km_best * main_g_best) / 1000.0
        return RouteMatrix(km=km, eur_per_tonne=eur, kg_co2e_per_tonne=co2, mode=mode)


__all__ = [
    "DEFAULT_FACTORS_PATH",
    "MODE_CODES",
    "RHINE_SCHELDT_DELTA_SEAPORTS",
    "WATERWAY_NETWORKS",
    "Leg",
    "Mode",
    "ModeFactor",
    "PortKind",
    "PortNode",
    "Route",
    "RouteMatrix",
    "Router",
    "SeaLegCache",
    "SeaRouteFunction",
    "haversine_km",
    "haversine_km_matrix",
    "haversine_km_pairs",
    "mode_code",
    "mode_from_code",
    "port_nodes_from_rows",
    "read_default_factors",
    "read_port_nodes",
    "road_km",
]
