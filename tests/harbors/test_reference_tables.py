"""The harbour-region and port reference tables (pure: no database)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from harbors.reference_tables import (
    HARBOR_REGIONS_CSV,
    PORTS_CSV,
    WATERWAYS,
    HarborRegionRow,
    PortKind,
    PortRow,
    ReferenceTableError,
    read_harbor_regions,
    read_ports,
)

REFERENCE_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "reference"

# North-West Europe as this product means it: Cork to Hamburg, Basel to Grangemouth and Esbjerg.
NWE_LAT = (47.0, 58.0)
NWE_LON = (-11.0, 11.0)

REQUIRED_REGIONS = {
    "antwerp-bruges",
    "north-sea-port",
    "rotterdam-moerdijk",
    "amsterdam",
    "dunkirk",
    "haropa",
    "hamburg",
    "bremen-ports",
    "dublin",
    "cork",
    "duisburg",
    "liege",
    "basel-rhine-ports",
    "uk-east-coast",
}

REQUIRED_PORTS = {
    "BEANR": "antwerp-bruges",
    "BEZEE": "antwerp-bruges",
    "BEGNE": "north-sea-port",
    "NLTNZ": "north-sea-port",
    "NLVLI": "north-sea-port",
    "NLRTM": "rotterdam-moerdijk",
    "NLMOE": "rotterdam-moerdijk",
    "NLAMS": "amsterdam",
    "FRDKK": "dunkirk",
    "FRLEH": "haropa",
    "FRURO": "haropa",
    "DEHAM": "hamburg",
    "DEBRE": "bremen-ports",
    "DEBRV": "bremen-ports",
    "IEDUB": "dublin",
    "IEORK": "cork",
    "DEDUI": "duisburg",
    "BELGG": "liege",
    "CHBSL": "basel-rhine-ports",
    "GBIMM": "uk-east-coast",
    "GBHUL": "uk-east-coast",
    "GBTEE": "uk-east-coast",
    "GBFXT": "uk-east-coast",
    "GBTIL": "uk-east-coast",
}

# Codes in the shared reference file that are not UN/LOCODEs, mapped to the real code. Mertert,
# Luxembourg, is LUMRT in the UN/LOCODE code list (4942N 00629E, function 1 = port); there is no
# LUMER. The reference's row is still checked, against our LUMRT row.
REFERENCE_CODE_CORRECTIONS = {"LUMER": "LUMRT"}


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


@pytest.fixture(scope="module")
def regions() -> dict[str, HarborRegionRow]:
    return {row.code: row for row in read_harbor_regions()}


@pytest.fixture(scope="module")
def ports() -> dict[str, PortRow]:
    return {row.unlocode: row for row in read_ports()}


def test_tables_cite_their_sources():
    for path in (HARBOR_REGIONS_CSV, PORTS_CSV):
        head = path.read_text(encoding="utf-8").splitlines()[:3]
        assert head[0].startswith("#"), path.name
    ports_header = PORTS_CSV.read_text(encoding="utf-8")
    assert "searoute 1.6.0" in ports_header
    assert "Apache" in ports_header
    assert "UN/LOCODE" in ports_header


def test_read_harbor_regions_has_every_required_region(regions):
    assert regions.keys() >= REQUIRED_REGIONS
    assert regions["north-sea-port"].countries == ("BE", "NL")
    assert regions["basel-rhine-ports"].countries == ("CH",)


def test_read_ports_has_every_required_port_in_its_region(ports):
    for unlocode, region in REQUIRED_PORTS.items():
        assert unlocode in ports, unlocode
        assert ports[unlocode].region == region, unlocode


def test_every_port_region_exists_and_lists_the_port_country(regions, ports):
    for port in ports.values():
        assert port.region in regions, port.unlocode
        assert port.country in regions[port.region].countries, port.unlocode


def test_every_region_has_a_port(regions, ports):
    assert {port.region for port in ports.values()} == regions.keys()


@pytest.mark.parametrize("which", ["regions", "ports"])
def test_coordinates_are_inside_north_west_europe(which, regions, ports):
    table = regions if which == "regions" else ports
    for key, row in table.items():
        assert NWE_LAT[0] <= row.lat <= NWE_LAT[1], key
        assert NWE_LON[0] <= row.lon <= NWE_LON[1], key


def test_region_reference_point_is_one_of_its_ports(regions, ports):
    for region in regions.values():
        members = [p for p in ports.values() if p.region == region.code]
        assert any((p.lat, p.lon) == (region.lat, region.lon) for p in members), region.code


def test_ports_kinds_and_waterways(ports):
    assert ports["DEDUI"].kind is PortKind.INLAND
    assert ports["NLRTM"].kind is PortKind.SEAPORT
    assert set(ports["NLRTM"].waterways) == {"rhine", "meuse"}
    assert "albert_canal" in ports["BELGG"].waterways
    assert ports["BEZEE"].waterways == ()
    for port in ports.values():
        assert set(port.waterways) <= WATERWAYS
        if port.kind is PortKind.INLAND:
            assert port.waterways, f"inland port {port.unlocode} on no waterway"


def test_approximate_coordinates_are_labelled(ports):
    approximate = {code for code, port in ports.items() if port.coordinates_approximate}
    assert approximate == {"CHBSL", "CHBFL", "CHMUT"}
    for port in ports.values():
        assert port.coord_source.startswith(("searoute 1.6.0", "UN/LOCODE", "APPROXIMATE"))


def test_ports_match_the_shared_reference_within_5_km(ports):
    reference = REFERENCE_DIR / "nwe_ports.csv"
    if not reference.exists():
        pytest.skip(f"no shared reference folder at {REFERENCE_DIR}")
    with reference.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    for ref in rows:
        code = REFERENCE_CODE_CORRECTIONS.get(ref["unlocode"], ref["unlocode"])
        assert code in ports, f"reference port {ref['unlocode']} ({ref['name']}) missing"
        ours = ports[code]
        assert ours.country == ref["country"], code
        expected_kind = PortKind.INLAND if ref["kind"] == "inland" else PortKind.SEAPORT
        assert ours.kind is expected_kind, code
        km = haversine_km(ours.lat, ours.lon, float(ref["lat"]), float(ref["lon"]))
        assert km <= 5.0, f"{code}: {km:.1f} km from the reference"


def test_haversine_km_known_distance():
    # Rotterdam to Antwerp city centres: about 78 km.
    assert haversine_km(51.9225, 4.4792, 51.2194, 4.4025) == pytest.approx(78.3, abs=1.0)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_read_ports_rejects_a_bad_kind(tmp_path):
    path = _write(
        tmp_path / "ports.csv",
        "# comment\n"
        "unlocode,name,country,kind,lat,lon,region,waterways,coord_source\n"
        "NLRTM,Rotterdam,NL,harbour,51.9,4.4,rotterdam-moerdijk,rhine,test\n",
    )
    with pytest.raises(ReferenceTableError, match=r"ports\.csv:3: bad kind"):
        read_ports(path)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("NLRTM,Rotterdam,BE,seaport,51.9,4.4,r,,test", "bad UN/LOCODE"),
        ("NLRTM,Rotterdam,NL,seaport,51.9,4.4,r,amazon,test", "unknown waterways"),
        ("NLRTM,Rotterdam,NL,seaport,95.0,4.4,r,,test", "out of range"),
        ("NLRTM,Rotterdam,NL,seaport,51.9,4.4,r,,", "empty coord_source"),
        ("NLRTM,Rotterdam,NL,seaport,51.9,4.4,r", "fields"),
    ],
)
def test_read_ports_rejects_bad_rows(tmp_path, row, message):
    header = "unlocode,name,country,kind,lat,lon,region,waterways,coord_source\n"
    path = _write(tmp_path / "ports.csv", header + row + "\n")
    with pytest.raises(ReferenceTableError, match=message):
        read_ports(path)


def test_read_harbor_regions_rejects_duplicates_and_bad_header(tmp_path):
    header = "code,name,countries,lat,lon,note\n"
    row = "dublin,Dublin Port,IE,53.3,-6.2,\n"
    with pytest.raises(ReferenceTableError, match="duplicate region code"):
        read_harbor_regions(_write(tmp_path / "a.csv", header + row + row))
    with pytest.raises(ReferenceTableError, match="header"):
        read_harbor_regions(_write(tmp_path / "b.csv", "code,name\n" + row))
