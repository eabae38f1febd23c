"""Tests for harbors.logistics: pure, no database."""

from __future__ import annotations

import ast
import csv
import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import searoute

from harbors import logistics
from harbors.logistics import (
    MODE_CODES,
    Mode,
    ModeFactor,
    PortKind,
    PortNode,
    Router,
    SeaLegCache,
    haversine_km,
    haversine_km_matrix,
    haversine_km_pairs,
    mode_code,
    port_nodes_from_rows,
    read_default_factors,
    read_port_nodes,
    road_km,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
REFERENCE_DIR = REPO_ROOT.parent / "shared" / "reference"
PORTS_CSV = REPO_ROOT / "harbors" / "data" / "ports.csv"

ROTTERDAM = (51.9225, 4.47917)
ANTWERP = (51.2194, 4.4025)
DUBLIN = (53.3498, -6.2603)
DUISBURG = (51.4344, 6.7623)


def _port(
    code: str, lat: float, lon: float, kind: PortKind, waterways: str, country: str
) -> PortNode:
    return PortNode(code, lat, lon, kind, frozenset(waterways.split()), country)


# A small fixture of NWE ports, so these tests do not depend on harbors/data/ports.csv.
FIXTURE_PORTS: tuple[PortNode, ...] = (
    _port("NLRTM", 51.9044, 4.4425, "seaport", "rhine meuse", "NL"),
    _port("BEANR", 51.2024, 4.3829, "seaport", "scheldt albert_canal", "BE"),
    _port("NLAMS", 52.3755, 4.9041, "seaport", "north_sea_canal", "NL"),
    _port("NLMOE", 51.6889, 4.5827, "seaport", "", "NL"),
    _port("BEGNE", 51.0804, 3.7345, "seaport", "", "BE"),
    _port("NLVLI", 51.4421, 3.5733, "seaport", "scheldt", "NL"),
    _port("BEZEE", 51.3371, 3.2173, "seaport", "", "BE"),
    _port("FRDKK", 51.0448, 2.3761, "seaport", "", "FR"),
    _port("FRLEH", 49.4860, 0.1071, "seaport", "seine", "FR"),
    _port("FRURO", 49.4368, 1.0568, "seaport", "seine", "FR"),
    _port("DEHAM", 53.5477, 9.9694, "seaport", "elbe", "DE"),
    _port("DEBRE", 53.0753, 8.7954, "seaport", "weser", "DE"),
    _port("DEBRV", 53.5428, 8.5755, "seaport", "weser", "DE"),
    _port("IEDUB", 53.3434, -6.2267, "seaport", "", "IE"),
    _port("GBFXT", 51.9579, 1.3445, "seaport", "", "GB"),
    _port("GBIMM", 53.6224, -0.1737, "seaport", "", "GB"),
    _port("DEDUI", 51.4302, 6.7240, "inland", "rhine", "DE"),
    _port("BELGG", 50.6667, 5.5667, "inland", "meuse albert_canal", "BE"),
    _port("CHBSL", 47.5880, 7.5930, "inland", "rhine", "CH"),
)
PORTS_BY_CODE = {p.unlocode: p for p in FIXTURE_PORTS}


class CountingSearoute:
    """A searoute-compatible function that counts calls and delegates to the real searoute."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[float, ...], tuple[float, ...]]] = []

    def __call__(
        self, origin: list[float], destination: list[float], units: str = "km"
    ) -> Mapping[str, Any]:
        self.calls.append((tuple(origin), tuple(destination)))
        return searoute.searoute(origin, destination, units=units)


@pytest.fixture(scope="module")
def factors() -> dict[str, ModeFactor]:
    return read_default_factors()


@pytest.fixture(scope="module")
def counting() -> CountingSearoute:
    return CountingSearoute()


@pytest.fixture(scope="module")
def router(factors: dict[str, ModeFactor], counting: CountingSearoute) -> Router:
    return Router(FIXTURE_PORTS, factors, SeaLegCache(searoute_fn=counting))


# -- factors ---------------------------------------------------------------------------------


def test_read_default_factors_has_every_mode(factors: dict[str, ModeFactor]) -> None:
    assert set(factors) == {m.value for m in Mode}
    for mode, factor in factors.items():
        assert factor.mode == mode
        assert factor.source
        assert factor.year is not None
        assert 2015 <= factor.year <= 2026


@pytest.mark.parametrize(
    ("mode", "g_range", "eur_range", "handling_range", "detour"),
    [
        ("road", (90, 100), (0.07, 0.15), (0, 1), 1.25),
        ("sea", (14, 20), (0.01, 0.04), (4, 8), 1.0),
        ("inland_waterway", (33, 42), (0.02, 0.05), (3, 6), 1.3),
        ("rail", (30, 40), (0.03, 0.08), (3, 7), 1.2),
    ],
)
def test_factor_table_values_within_expected_ranges(
    factors: dict[str, ModeFactor],
    mode: str,
    g_range: tuple[float, float],
    eur_range: tuple[float, float],
    handling_range: tuple[float, float],
    detour: float,
) -> None:
    factor = factors[mode]
    assert g_range[0] <= factor.g_co2e_per_tkm <= g_range[1]
    assert eur_range[0] <= factor.eur_per_tkm <= eur_range[1]
    assert handling_range[0] <= factor.eur_per_tonne_handling <= handling_range[1]
    assert factor.detour_factor == pytest.approx(detour)


def test_factor_table_matches_shared_reference(factors: dict[str, ModeFactor]) -> None:
    path = REFERENCE_DIR / "transport_emission_factors.csv"
    if not path.exists():
        pytest.skip("../shared/reference is absent")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))

    def reference(mode: str, vehicle_starts: str, column: str) -> float:
        matches = [r for r in rows if r["mode"] == mode and r["vehicle"].startswith(vehicle_starts)]
        assert len(matches) == 1, (mode, vehicle_starts)
        return float(matches[0][column])

    expected = {
        "road": reference("road", "HGV diesel, articulated >33t", "g_co2e_per_tkm_wtw"),
        "sea": reference("short_sea", "General cargo ship", "g_co2e_per_tkm_wtw"),
        "rail": reference("rail", "Freight train (UK", "g_co2e_per_tkm_wtw"),
        "inland_waterway": reference("inland_waterway", "Inland waterway", "g_co2e_per_tkm_ttw"),
    }
    for mode, value in expected.items():
        assert factors[mode].g_co2e_per_tkm == pytest.approx(value, rel=0.02), mode


def test_mode_factor_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="eur_per_tkm"):
        ModeFactor(Mode.ROAD, 95.0, -0.1, 0.0, 1.25)
    with pytest.raises(ValueError, match="detour_factor"):
        ModeFactor(Mode.ROAD, 95.0, 0.1, 0.0, 0.9)


def test_mode_factor_coerces_strings_and_decimals() -> None:
    from decimal import Decimal

    factor = ModeFactor("sea", Decimal("16.21"), Decimal("0.02"), 6, 1)  # type: ignore[arg-type]
    assert factor.mode is Mode.SEA
    assert isinstance(factor.g_co2e_per_tkm, float)
    assert factor.leg_eur_per_tonne(100.0) == pytest.approx(100 * 0.02 + 2 * 6)


# -- distances -------------------------------------------------------------------------------


def test_haversine_known_values() -> None:
    one_degree = 2 * math.pi * logistics.EARTH_RADIUS_KM / 360
    assert haversine_km(0.0, 0.0, 0.0, 1.0) == pytest.approx(one_degree)
    assert one_degree == pytest.approx(111.195, abs=0.001)
    assert haversine_km(90.0, 0.0, -90.0, 0.0) == pytest.approx(math.pi * 6371.0088)
    assert haversine_km(51.5074, -0.1278, 48.8566, 2.3522) == pytest.approx(343.5, rel=0.005)
    assert haversine_km(*ROTTERDAM, *ROTTERDAM) == 0.0
    assert haversine_km(*ROTTERDAM, *ANTWERP) == pytest.approx(haversine_km(*ANTWERP, *ROTTERDAM))


def test_haversine_matrix_and_pairs_agree_with_scalar() -> None:
    rng = np.random.default_rng(7)
    lat_a, lon_a = rng.uniform(45, 60, 5), rng.uniform(-10, 15, 5)
    lat_b, lon_b = rng.uniform(45, 60, 3), rng.uniform(-10, 15, 3)
    matrix = haversine_km_matrix(lat_a, lon_a, lat_b, lon_b)
    assert matrix.shape == (5, 3)
    assert matrix.dtype == np.float64
    for i in range(5):
        for j in range(3):
            assert matrix[i, j] == pytest.approx(
                haversine_km(lat_a[i], lon_a[i], lat_b[j], lon_b[j]), rel=1e-12
            )
    column = haversine_km_matrix(lat_a, lon_a, [lat_b[0]], [lon_b[0]])
    assert column.shape == (5, 1)
    np.testing.assert_allclose(column[:, 0], matrix[:, 0], rtol=1e-12)
    pairs = haversine_km_pairs(lat_a[:3], lon_a[:3], lat_b, lon_b)
    np.testing.assert_allclose(pairs, np.diag(matrix[:3]), rtol=1e-12)
    with pytest.raises(ValueError, match="length"):
        haversine_km_pairs(lat_a, lon_a, lat_b, lon_b)


def test_road_km_rotterdam_antwerp_about_100(factors: dict[str, ModeFactor]) -> None:
    km = road_km(ROTTERDAM, ANTWERP, factors)
    assert km == pytest.approx(100, rel=0.20)
    assert km == pytest.approx(haversine_km(*ROTTERDAM, *ANTWERP) * 1.25)
    assert road_km(PORTS_BY_CODE["NLRTM"], PORTS_BY_CODE["BEANR"], factors) == pytest.approx(
        km, rel=0.05
    )


# -- sea legs --------------------------------------------------------------------------------


def test_sea_leg_rotterdam_dublin_about_1180() -> None:
    cache = SeaLegCache([PORTS_BY_CODE["NLRTM"], PORTS_BY_CODE["IEDUB"]])
    km = cache.km("NLRTM", "IEDUB")
    assert km == pytest.approx(1180, rel=0.15)
    assert cache.km("IEDUB", "NLRTM") == km
    assert cache.km("NLRTM", "NLRTM") == 0.0


def test_sea_leg_cache_calls_searoute_once_per_pair(tmp_path: Path) -> None:
    counter = CountingSearoute()
    seaports = [p for p in FIXTURE_PORTS if p.is_seaport][:6]
    cache = SeaLegCache(seaports, searoute_fn=counter)
    first = cache.km("NLRTM", "BEANR")
    assert cache.km("BEANR", "NLRTM") == first
    assert len(counter.calls) == 1

    made = cache.precompute(seaports)
    n = len(seaports)
    assert made == n * (n - 1) // 2 - 1
    assert len(counter.calls) == n * (n - 1) // 2 == len(cache)
    assert cache.precompute() == 0
    # searoute was asked about each unordered pair exactly once
    pairs = {frozenset((o, d)) for o, d in counter.calls}
    assert len(pairs) == len(counter.calls)

    path = tmp_path / "sea_legs.json"
    cache.save(path)
    reloaded_counter = CountingSearoute()
    reloaded = SeaLegCache(seaports, searoute_fn=reloaded_counter)
    assert reloaded.load(path) == len(cache)
    assert reloaded.precompute() == 0
    assert reloaded_counter.calls == []
    assert reloaded.km("BEANR", "NLRTM") == first

    # A moved port does not reuse legs cached for its old position.
    moved = dataclasses.replace(PORTS_BY_CODE["NLRTM"], lat=51.95)
    reloaded.add_ports([moved])
    reloaded.km("NLRTM", "BEANR")
    assert len(reloaded_counter.calls) == 1
    assert SeaLegCache().load(tmp_path / "missing.json") == 0


def test_sea_leg_cache_rejects_inland_and_unknown_ports() -> None:
    cache = SeaLegCache(FIXTURE_PORTS)
    with pytest.raises(ValueError, match="not a seaport"):
        cache.km("DEDUI", "NLRTM")
    with pytest.raises(KeyError, match="XXXXX"):
        cache.km("XXXXX", "NLRTM")


# -- ports -----------------------------------------------------------------------------------


def test_port_nodes_from_rows_parses_ports_csv_shape() -> None:
    rows = [
        {
            "unlocode": "FRURO",
            "name": "Rouen",
            "country": "FR",
            "kind": "seaport/river",
            "lat": "49.43682",
            "lon": "1.05675",
            "region": "normandy",
            "waterways": "seine",
            "coord_source": "x",
        },
        {
            "unlocode": "DEDUI",
            "country": "DE",
            "kind": "inland",
            "lat": 51.43,
            "lon": 6.72,
            "waterways": "rhine ruhr",
        },
    ]
    rouen, duisburg = port_nodes_from_rows(rows)
    assert rouen.is_seaport
    assert rouen.name == "Rouen"
    assert rouen.waterways == frozenset({"seine"})
    assert rouen.networks == frozenset({"seine"})
    assert not duisburg.is_seaport
    assert "rhine_scheldt" in duisburg.networks


def test_waterway_networks() -> None:
    assert PORTS_BY_CODE["NLMOE"].networks == frozenset({"rhine_scheldt"})  # delta seaport
    assert PORTS_BY_CODE["BELGG"].networks == frozenset({"rhine_scheldt"})
    assert PORTS_BY_CODE["DEHAM"].networks == frozenset({"elbe"})
    assert PORTS_BY_CODE["DEBRE"].networks == frozenset({"weser"})
    assert PORTS_BY_CODE["IEDUB"].networks == frozenset()


def test_ports_csv_builds_a_router_when_present(factors: dict[str, ModeFactor]) -> None:
    if not PORTS_CSV.exists():
        pytest.skip("harbors/data/ports.csv not written yet")
    ports = read_port_nodes(PORTS_CSV)
    assert len(ports) >= 20
    router = Router(ports, factors)
    assert {n.name for n in router.networks} >= {"sea", "rhine_scheldt"}


# -- routing ---------------------------------------------------------------------------------


def test_long_trip_rotterdam_dublin_chooses_sea(router: Router) -> None:
    route = router.best_route(*ROTTERDAM, *DUBLIN)
    assert route.mode is Mode.SEA
    assert [leg.mode for leg in route.legs] == [Mode.ROAD, Mode.SEA, Mode.ROAD]
    assert route.legs[1].from_label == "NLRTM"
    assert route.legs[1].to_label == "IEDUB"
    assert route.km == pytest.approx(sum(leg.km for leg in route.legs))
    road = router.routes(*ROTTERDAM, *DUBLIN)[0]
    assert road.mode is Mode.ROAD
    assert route.eur_per_tonne < road.eur_per_tonne


def test_short_trip_chooses_road(router: Router, factors: dict[str, ModeFactor]) -> None:
    dest = (ROTTERDAM[0] + 20 / 111.195, ROTTERDAM[1])  # 20 km north
    route = router.best_route(*ROTTERDAM, *dest)
    assert route.mode is Mode.ROAD
    assert route.km == pytest.approx(20 * 1.25, rel=0.01)
    assert len(route.legs) == 1
    assert route.eur_per_tonne == pytest.approx(route.km * factors["road"].eur_per_tkm)


def test_duisburg_rotterdam_chooses_inland_waterway(
    router: Router, factors: dict[str, ModeFactor]
) -> None:
    candidates = {r.mode: r for r in router.routes(*DUISBURG, *ROTTERDAM)}
    barge = candidates[Mode.INLAND_WATERWAY]
    assert [leg.mode for leg in barge.legs] == [Mode.ROAD, Mode.INLAND_WATERWAY, Mode.ROAD]
    assert (barge.legs[1].from_label, barge.legs[1].to_label) == ("DEDUI", "NLRTM")
    # Rhine km Duisburg-Rotterdam are about 220: great-circle x 1.3 should be close.
    assert barge.legs[1].km == pytest.approx(220, rel=0.15)
    assert barge.eur_per_tonne < candidates[Mode.ROAD].eur_per_tonne
    assert router.best_route(*DUISBURG, *ROTTERDAM).mode is Mode.INLAND_WATERWAY

    # Factors are parameters: a dear barge makes road win.
    dear = {mode: factor for mode, factor in factors.items() if mode != "sea"}
    dear["inland_waterway"] = dataclasses.replace(factors["inland_waterway"], eur_per_tkm=0.2)
    no_sea_calls = SeaLegCache(searoute_fn=_forbidden_searoute)
    dear_router = Router(FIXTURE_PORTS, dear, no_sea_calls)  # no "sea" row: sea switched off
    assert dear_router.best_route(*DUISBURG, *ROTTERDAM).mode is Mode.ROAD


def _forbidden_searoute(*args: object, **kwargs: object) -> Mapping[str, Any]:
    raise AssertionError("searoute must not be called here")


def test_router_without_sea_factor_never_calls_searoute(factors: dict[str, ModeFactor]) -> None:
    no_sea = {k: v for k, v in factors.items() if k != "sea"}
    router = Router(FIXTURE_PORTS, no_sea, SeaLegCache(searoute_fn=_forbidden_searoute))
    assert {n.mode for n in router.networks} == {Mode.INLAND_WATERWAY}
    assert router.best_route(*ROTTERDAM, *DUBLIN).mode is not Mode.SEA


def test_road_co2_of_100_km_is_about_9_5_kg_per_tonne(
    router: Router, factors: dict[str, ModeFactor]
) -> None:
    assert factors["road"].leg_kg_co2e_per_tonne(100.0) == pytest.approx(9.5, rel=0.02)
    dest = (ROTTERDAM[0] + 80 / 111.195, ROTTERDAM[1])  # 80 km great-circle = 100 road km
    road = router.routes(*ROTTERDAM, *dest)[0]
    assert road.km == pytest.approx(100, rel=0.005)
    assert road.kg_co2e_per_tonne == pytest.approx(9.5, rel=0.02)


def test_multimodal_co2_sums_legs(router: Router, factors: dict[str, ModeFactor]) -> None:
    for route in router.routes(*DUISBURG, *DUBLIN):
        expected = sum(leg.km * factors[leg.mode].g_co2e_per_tkm / 1000 for leg in route.legs)
        assert route.kg_co2e_per_tonne == pytest.approx(expected)
        assert route.km == pytest.approx(sum(leg.km for leg in route.legs))


def _assert_agrees(
    router: Router,
    o: tuple[float, float],
    d: tuple[float, float],
    km: float,
    eur: float,
    co2: float,
    code: int,
) -> None:
    candidates = router.routes(*o, *d)
    best = router.best_route(*o, *d)
    assert eur == pytest.approx(best.eur_per_tonne, rel=1e-9)
    costs = sorted(c.eur_per_tonne for c in candidates)
    near_tie = len(costs) > 1 and math.isclose(costs[0], costs[1], rel_tol=1e-9)
    if not near_tie:
        assert MODE_CODES[code] is best.mode
        assert km == pytest.approx(best.km, rel=1e-9)
        assert co2 == pytest.approx(best.kg_co2e_per_tonne, rel=1e-9)


def _random_nwe_points(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.uniform(49.0, 56.0, n), rng.uniform(-8.0, 12.0, n)


def test_best_route_matrix_agrees_with_scalar(router: Router, counting: CountingSearoute) -> None:
    calls_before = len(counting.calls)
    rng = np.random.default_rng(20260101)
    o_lat, o_lon = _random_nwe_points(rng, 40)
    d_lat, d_lon = _random_nwe_points(rng, 35)
    # include the named trips and some points right next to ports
    o_lat[:3], o_lon[:3] = (ROTTERDAM[0], DUISBURG[0], 51.43), (ROTTERDAM[1], DUISBURG[1], 6.73)
    d_lat[:2], d_lon[:2] = (DUBLIN[0], ROTTERDAM[0]), (DUBLIN[1], ROTTERDAM[1])
    result = router.best_route_matrix(o_lat, o_lon, d_lat, d_lon)
    assert result.km.shape == result.eur_per_tonne.shape == (40, 35)
    assert result.kg_co2e_per_tonne.shape == result.mode.shape == (40, 35)
    assert result.mode.dtype == np.int8
    for i in range(40):
        for j in range(35):
            _assert_agrees(
                router,
                (o_lat[i], o_lon[i]),
                (d_lat[j], d_lon[j]),
                result.km[i, j],
                result.eur_per_tonne[i, j],
                result.kg_co2e_per_tonne[i, j],
                result.mode[i, j],
            )
    seen = {MODE_CODES[c] for c in np.unique(result.mode)}
    assert {Mode.ROAD, Mode.SEA, Mode.INLAND_WATERWAY} <= seen
    assert result.mode_at(0, 0) is Mode.SEA
    assert result.mode_at(1, 1) is Mode.INLAND_WATERWAY
    assert len(counting.calls) == calls_before  # routing never calls searoute


def test_best_route_pairs_agrees_with_scalar(router: Router) -> None:
    rng = np.random.default_rng(99)
    o_lat, o_lon = _random_nwe_points(rng, 300)
    d_lat, d_lon = _random_nwe_points(rng, 300)
    result = router.best_route_pairs(o_lat, o_lon, d_lat, d_lon)
    assert result.km.shape == (300,)
    for i in range(300):
        _assert_agrees(
            router,
            (o_lat[i], o_lon[i]),
            (d_lat[i], d_lon[i]),
            result.km[i],
            result.eur_per_tonne[i],
            result.kg_co2e_per_tonne[i],
            result.mode[i],
        )


def test_best_route_matrix_with_other_nearest_counts(factors: dict[str, ModeFactor]) -> None:
    cache = SeaLegCache()
    rng = np.random.default_rng(3)
    o_lat, o_lon = _random_nwe_points(rng, 15)
    d_lat, d_lon = _random_nwe_points(rng, 15)
    for nearest in (1, 3):
        router = Router(FIXTURE_PORTS, factors, cache, nearest=nearest)
        result = router.best_route_matrix(o_lat, o_lon, d_lat, d_lon)
        for i in range(15):
            for j in range(15):
                _assert_agrees(
                    router,
                    (o_lat[i], o_lon[i]),
                    (d_lat[j], d_lon[j]),
                    result.km[i, j],
                    result.eur_per_tonne[i, j],
                    result.kg_co2e_per_tonne[i, j],
                    result.mode[i, j],
                )


def test_best_route_matrix_handles_a_single_column(router: Router) -> None:
    result = router.best_route_matrix(
        [ROTTERDAM[0], DUISBURG[0]], [ROTTERDAM[1], DUISBURG[1]], DUBLIN[0], DUBLIN[1]
    )
    assert result.eur_per_tonne.shape == (2, 1)
    assert result.mode[0, 0] == mode_code(Mode.SEA)


# -- purity ----------------------------------------------------------------------------------


def test_logistics_imports_no_django_or_apps() -> None:
    tree = ast.parse(Path(logistics.__file__).read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= {
        "__future__",
        "collections",
        "csv",
        "dataclasses",
        "enum",
        "json",
        "math",
        "numpy",
        "pathlib",
        "searoute",
        "typing",
    }
