"""Coordinate reference systems used by the service, and the one place that picks a metric CRS.

Storage is EPSG:4326. Lengths and areas are computed in UCS-2000 / Ukraine TM zone N
(EPSG:6381–6387, the national 3°-wide Transverse Mercator zones with central meridians
21°E…39°E), chosen by longitude so the distortion stays small anywhere in Ukraine.
"""
from __future__ import annotations

import math

STORAGE_SRID = 4326
UCS2000_GEOGRAPHIC = 5561
# Central meridian → EPSG code of "UCS-2000 / Ukraine TM zone N".
UKRAINE_TM_ZONES = {21: 6381, 24: 6382, 27: 6383, 30: 6384, 33: 6385, 36: 6386, 39: 6387}


def metric_srid(longitude: float) -> int:
    """EPSG code of the UCS-2000 TM zone whose central meridian is nearest to ``longitude``.

    Longitudes west of 19.5°E or east of 40.5°E (outside Ukraine) clamp to the edge zone.
    """
    if not math.isfinite(longitude):
        raise ValueError(f"longitude must be a finite number, got {longitude!r}")
    meridian = 21 + 3 * round((longitude - 21) / 3)
    meridian = min(max(meridian, 21), 39)
    return UKRAINE_TM_ZONES[meridian]


def metric_srid_sql(geom_sql: str) -> str:
    """SQL expression giving the TM zone for a geometry, mirroring :func:`metric_srid`.

    ``geom_sql`` is an SQL expression in EPSG:4326 (a column name, not user input).
    """
    meridian = f"LEAST(GREATEST(21 + 3 * ROUND((ST_X(ST_Centroid({geom_sql})) - 21) / 3.0), 21), 39)"
    return f"(6381 + ({meridian}::int - 21) / 3)"


def area_m2_sql(geom_sql: str) -> str:
    """SQL for the area in square metres of a 4326 geometry, computed in its TM zone."""
    return f"ST_Area(ST_Transform({geom_sql}, {metric_srid_sql(geom_sql)}))"


def length_m_sql(geom_sql: str) -> str:
    """SQL for the length in metres of a 4326 geometry, computed in its TM zone."""
    return f"ST_Length(ST_Transform({geom_sql}, {metric_srid_sql(geom_sql)}))"


def metric_srid_for_hromada(conn, hromada_id: int) -> int:
    """The TM zone for a hromada's analyses: the one of its boundary's centroid."""
    import sqlalchemy as sa

    lon = conn.execute(sa.text("SELECT ST_X(ST_Centroid(boundary)) FROM hromada WHERE id = :id"),
                       {"id": hromada_id}).scalar()
    if lon is None:
        from gis.errors import NotFound
        raise NotFound(f"Громаду {hromada_id} не знайдено", f"Hromada {hromada_id} not found")
    return metric_srid(lon)


def bbox_in_wgs84(conn, values, srid: int) -> tuple[float, ...] | None:
    """A bbox (minx, miny, maxx, maxy in ``srid``) as PostGIS projects it to WGS 84, or None when a
    corner lies where that projection is not defined (PostGIS refuses it, or answers infinities).
    Run on an autocommitting connection: a refused statement leaves it usable."""
    import sqlalchemy as sa

    envelope = sa.func.ST_Transform(sa.func.ST_MakeEnvelope(*values, srid), 4326)
    try:
        box = conn.execute(sa.select(sa.func.ST_XMin(envelope), sa.func.ST_YMin(envelope),
                                     sa.func.ST_XMax(envelope), sa.func.ST_YMax(envelope))).one()
    except (sa.exc.OperationalError, sa.exc.InterfaceError):
        raise  # the database is out of reach, not the bbox wrong: 503 (webmap.errors)
    except sa.exc.DBAPIError:
        return None
    if not all(v is not None and math.isfinite(v) for v in box):
        return None
    return tuple(box)


def geojson_geometry_to_wgs84(conn, geometry: dict, srid: int) -> dict | None:
    """A GeoJSON geometry in ``srid`` (EPSG:4326 latitude first, the others projected) as GeoJSON in
    longitude/latitude; None when PostGIS cannot read it. Autocommitting connection, as above."""
    import json

    import sqlalchemy as sa

    into = "ST_FlipCoordinates(g)" if srid == 4326 else "ST_Transform(g, 4326)"
    try:
        text = conn.execute(sa.text(
            f"SELECT ST_AsGeoJSON({into}, 9) FROM (SELECT ST_SetSRID(ST_GeomFromGeoJSON(:g), :s) AS g) s"),
            {"g": json.dumps(geometry), "s": srid}).scalar()
    except (sa.exc.OperationalError, sa.exc.InterfaceError):
        raise  # the database is out of reach, not the geometry wrong: 503 (webmap.errors)
    except sa.exc.DBAPIError:
        return None
    return json.loads(text) if text is not None else None
