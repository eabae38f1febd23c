"""Write static/geo/nwe-countries.geojson: the country outlines of North-West Europe that the
facilitator map draws under (or instead of) the tiles, so it stays readable offline.

Source: Natural Earth 1:50m admin-0 countries (public domain), as the TopoJSON of the npm
package world-atlas 2.x (ISC licence, Mike Bostock). Get it with

    npm pack world-atlas@2 && tar -xzf world-atlas-2.*.tgz

then run

    python scripts/make_nwe_outlines.py package/countries-50m.json static/geo/nwe-countries.geojson

Polygons centred outside the NWE box are dropped (French Guiana, Svalbard...); the rest are thinned
with Douglas-Peucker (0.01°) and rounded to 3 decimals (about 100 m), which keeps the file small.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

BOX = (-12.0, 42.0, 18.0, 62.0)  # lon min, lat min, lon max, lat max
TOLERANCE = 0.01


def _arcs(topology: dict) -> list[list[tuple[float, float]]]:
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    decoded = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        decoded.append(points)
    return decoded


def _ring(indexes: list[int], arcs: list[list[tuple[float, float]]]) -> list[tuple[float, float]]:
    ring: list[tuple[float, float]] = []
    for index in indexes:
        points = arcs[index] if index >= 0 else list(reversed(arcs[~index]))
        ring.extend(points[1:] if ring else points)
    return ring


def _simplify(points: list[tuple[float, float]], tolerance: float) -> list[tuple[float, float]]:
    if len(points) < 4:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (x1, y1), (x2, y2) = points[first], points[last]
        dx, dy = x2 - x1, y2 - y1
        norm = (dx * dx + dy * dy) ** 0.5
        best, index = 0.0, -1
        for i in range(first + 1, last):
            x, y = points[i]
            if norm:
                distance = abs(dy * (x - x1) - dx * (y - y1)) / norm
            else:  # a closed ring: the distance to its start point
                distance = ((x - x1) ** 2 + (y - y1) ** 2) ** 0.5
            if distance > best:
                best, index = distance, i
        if best > tolerance and index > 0:
            keep[index] = True
            stack.extend([(first, index), (index, last)])
    return [p for p, k in zip(points, keep, strict=True) if k]


def _inside_box(ring: list[tuple[float, float]]) -> bool:
    """The centre of the ring's bounding box lies in BOX (so Russia and Greenland stay out)."""
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    lon, lat = (min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2
    return BOX[0] <= lon <= BOX[2] and BOX[1] <= lat <= BOX[3]


def main(source: Path, target: Path) -> None:
    topology = json.loads(source.read_text())
    arcs = _arcs(topology)
    features = []
    for geometry in topology["objects"]["countries"]["geometries"]:
        polygons = geometry.get("arcs") or []
        if geometry["type"] == "Polygon":
            polygons = [polygons]
        kept = []
        for polygon in polygons:
            rings = [_ring(r, arcs) for r in polygon]
            if not rings or not _inside_box(rings[0]):
                continue
            thinned = [_simplify(r, TOLERANCE) for r in rings]
            thinned = [[[round(x, 3), round(y, 3)] for x, y in r] for r in thinned if len(r) >= 4]
            if thinned:
                kept.append(thinned)
        if kept:
            features.append(
                {
                    "type": "Feature",
                    "properties": {"name": geometry["properties"]["name"]},
                    "geometry": {"type": "MultiPolygon", "coordinates": kept},
                }
            )
    collection = {
        "type": "FeatureCollection",
        "source": "Natural Earth 1:50m admin-0 countries (public domain) via world-atlas 2",
        "features": features,
    }
    target.write_text(json.dumps(collection, separators=(",", ":")))
    print(f"{target}: {len(features)} countries, {target.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
