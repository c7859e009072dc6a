"""Geometry checks shared by every loader: validity, repair, and promotion to the stored type."""
from __future__ import annotations

from dataclasses import dataclass

import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from gis.errors import InvalidGeometry

# Ukraine with a margin: a coordinate outside this box cannot belong to a hromada.
UKRAINE_BBOX = (22.0, 44.0, 40.3, 52.5)


@dataclass
class Checked:
    geometry: BaseGeometry
    repaired: bool
    reason: str | None = None  # why it was invalid, when it was repaired


def to_multipolygon(geom: BaseGeometry | None, *, what: str = "geometry") -> Checked:
    """Return ``geom`` as a valid MultiPolygon, repairing it with ``make_valid`` when needed.

    Raises InvalidGeometry when it is missing or empty, or has no area left after repair.
    """
    if geom is None or geom.is_empty:
        raise InvalidGeometry(f"{what}: порожня геометрія", f"{what}: empty geometry")
    repaired = False
    reason = None
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        geom = shapely.make_valid(geom)
        repaired = True
    if isinstance(geom, MultiPolygon):  # the common case: kept as it is, not copied
        return Checked(geom, repaired, reason)
    polygons = _polygons(geom)
    if not polygons:
        raise InvalidGeometry(
            f"{what}: немає площинної геометрії (тип {geom.geom_type})",
            f"{what}: no polygonal geometry (type {geom.geom_type})",
        )
    return Checked(MultiPolygon(polygons), repaired, reason)


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    # make_valid can return a GeometryCollection with stray lines or points; keep the areas.
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    if hasattr(geom, "geoms"):
        return [p for part in geom.geoms for p in _polygons(part)]
    return []


def within_ukraine(geom: BaseGeometry) -> bool:
    minx, miny, maxx, maxy = geom.bounds
    bx0, by0, bx1, by1 = UKRAINE_BBOX
    return bx0 <= minx and maxx <= bx1 and by0 <= miny and maxy <= by1
