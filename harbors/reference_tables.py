"""The project's reference tables of harbour regions and ports.

Pure data access: the standard library only, no Django. The reference-data loader turns these rows
into ``HarborRegion`` and ``Port`` records; the logistics and matching code may read them directly.

The tables are ``data/harbor_regions.csv`` and ``data/ports.csv`` beside this module. Each begins
with ``#`` comment lines that cite the sources row by row (UN/LOCODE for the codes; the port table
of the PyPI package ``searoute`` 1.6.0, Apache-2.0, for most coordinates). A reader skips those
lines, checks every row and raises :class:`ReferenceTableError`, naming the file and line, on the
first bad one.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

DATA_DIR: Final[Path] = Path(__file__).resolve().parent / "data"
HARBOR_REGIONS_CSV: Final[Path] = DATA_DIR / "harbor_regions.csv"
PORTS_CSV: Final[Path] = DATA_DIR / "ports.csv"

HARBOR_REGION_COLUMNS: Final[tuple[str, ...]] = ("code", "name", "countries", "lat", "lon", "note")
PORT_COLUMNS: Final[tuple[str, ...]] = (
    "unlocode",
    "name",
    "country",
    "kind",
    "lat",
    "lon",
    "region",
    "waterways",
    "coord_source",
)

#: Inland waterways a port can sit on; ``harbors.logistics`` groups them into networks.
WATERWAYS: Final[frozenset[str]] = frozenset(
    {
        "rhine",
        "meuse",
        "scheldt",
        "elbe",
        "weser",
        "seine",
        "moselle",
        "main",
        "albert_canal",
        "north_sea_canal",
    }
)

_REGION_CODE = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_COUNTRY = re.compile(r"[A-Z]{2}")
# UN/LOCODE: ISO 3166-1 alpha-2 country, then three letters or digits 2-9.
_UNLOCODE = re.compile(r"[A-Z]{2}[A-Z2-9]{3}")


class PortKind(StrEnum):
    SEAPORT = "seaport"
    INLAND = "inland"


class ReferenceTableError(ValueError):
    """A reference table is malformed; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class HarborRegionRow:
    code: str
    name: str
    countries: tuple[str, ...]  # ISO 3166-1 alpha-2
    lat: float
    lon: float
    note: str


@dataclass(frozen=True, slots=True)
class PortRow:
    unlocode: str
    name: str
    country: str  # ISO 3166-1 alpha-2
    kind: PortKind
    lat: float
    lon: float
    region: str  # HarborRegionRow.code
    waterways: tuple[str, ...]  # members of WATERWAYS; empty for a port with no barge hinterland
    coord_source: str

    @property
    def coordinates_approximate(self) -> bool:
        """Whether lat/lon were placed by hand rather than taken from a published table."""
        return self.coord_source.startswith("APPROXIMATE")


def read_harbor_regions(path: Path = HARBOR_REGIONS_CSV) -> list[HarborRegionRow]:
    """Return every harbour region in the table, in file order."""
    rows: list[HarborRegionRow] = []
    seen: set[str] = set()
    for where, raw in _records(path, HARBOR_REGION_COLUMNS):
        code = raw["code"]
        if not _REGION_CODE.fullmatch(code):
            raise ReferenceTableError(f"{where}: bad region code {code!r}")
        if code in seen:
            raise ReferenceTableError(f"{where}: duplicate region code {code!r}")
        seen.add(code)
        countries = tuple(raw["countries"].split())
        if not countries or not all(_COUNTRY.fullmatch(c) for c in countries):
            raise ReferenceTableError(f"{where}: bad countries {raw['countries']!r}")
        lat, lon = _coordinates(where, raw)
        rows.append(
            HarborRegionRow(
                code=code,
                name=_required(where, raw, "name"),
                countries=countries,
                lat=lat,
                lon=lon,
                note=raw["note"],
            )
        )
    return rows


def read_ports(path: Path = PORTS_CSV) -> list[PortRow]:
    """Return every port in the table, in file order.

    Checks each row on its own; that every ``region`` names a row of the regions table is left to
    the caller (and to the tests), so either file can be read alone.
    """
    rows: list[PortRow] = []
    seen: set[str] = set()
    for where, raw in _records(path, PORT_COLUMNS):
        unlocode, country = raw["unlocode"], raw["country"]
        if not _COUNTRY.fullmatch(country):
            raise ReferenceTableError(f"{where}: bad country {country!r}")
        if not _UNLOCODE.fullmatch(unlocode) or not unlocode.startswith(country):
            raise ReferenceTableError(f"{where}: bad UN/LOCODE {unlocode!r} for {country}")
        if unlocode in seen:
            raise ReferenceTableError(f"{where}: duplicate UN/LOCODE {unlocode!r}")
        seen.add(unlocode)
        try:
            kind = PortKind(raw["kind"])
        except ValueError:
            raise ReferenceTableError(f"{where}: bad kind {raw['kind']!r}") from None
        waterways = tuple(raw["waterways"].split())
        unknown = sorted(set(waterways) - WATERWAYS)
        if unknown:
            raise ReferenceTableError(f"{where}: unknown waterways {unknown}")
        region = raw["region"]
        if not _REGION_CODE.fullmatch(region):
            raise ReferenceTableError(f"{where}: bad region code {region!r}")
        lat, lon = _coordinates(where, raw)
        rows.append(
            PortRow(
                unlocode=unlocode,
                name=_required(where, raw, "name"),
                country=country,
                kind=kind,
                lat=lat,
                lon=lon,
                region=region,
                waterways=waterways,
                coord_source=_required(where, raw, "coord_source"),
            )
        )
    return rows


def _records(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[str, dict[str, str]]]:
    """Yield ``("file:line", row)`` for each data row, skipping ``#`` comment lines."""
    with path.open(encoding="utf-8", newline="") as handle:
        numbered = [(n, line) for n, line in enumerate(handle, start=1) if not line.startswith("#")]
    if not numbered:
        raise ReferenceTableError(f"{path.name}: no header row")
    reader = csv.reader(line for _, line in numbered)
    header = tuple(next(reader))
    if header != columns:
        raise ReferenceTableError(f"{path.name}:{numbered[0][0]}: header {header}, want {columns}")
    for (line_no, _), values in zip(numbered[1:], reader, strict=True):
        where = f"{path.name}:{line_no}"
        if len(values) != len(columns):
            raise ReferenceTableError(f"{where}: {len(values)} fields, want {len(columns)}")
        yield where, {key: value.strip() for key, value in zip(columns, values, strict=True)}


def _required(where: str, raw: dict[str, str], key: str) -> str:
    value = raw[key]
    if not value:
        raise ReferenceTableError(f"{where}: empty {key}")
    return value


def _coordinates(where: str, raw: dict[str, str]) -> tuple[float, float]:
    try:
        lat, lon = float(raw["lat"]), float(raw["lon"])
    except ValueError:
        raise ReferenceTableError(
            f"{where}: bad coordinates {raw['lat']!r}, {raw['lon']!r}"
        ) from None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise ReferenceTableError(f"{where}: coordinates out of range {lat}, {lon}")
    return lat, lon
