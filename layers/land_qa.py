"""Quality checks of the land inventory (issue #8): what to fix before the inventory is trusted.

Each check gives a list of problems — the parcels concerned, the size of the problem in square
metres (computed in the hromada's UCS-2000 TM zone) and the problem's own geometry — so the QA
page can list and map them and offer them as CSV and GeoJSON:

- ``overlap``: two parcels share more than :data:`OVERLAP_TOLERANCE_M2` (the shared area);
- ``outside``: a parcel lies partly outside the hromada's boundary by more than
  :data:`OUTSIDE_TOLERANCE_M2` (the part outside; the boundary from OpenStreetMap is rarely exact
  to the metre, hence the larger tolerance);
- ``gap``: a hole inside a block larger than :data:`GAP_TOLERANCE_M2`. The *block* is the
  cadastral quarter (parcels with the same ``koatuu:zone:quarter``); a gap is a hole in the union
  of the block's parcels not covered by any other parcel. Land between a block's parcels that is
  open to the block's edge cannot be told from land outside it without the quarter's own polygon,
  which the inventory does not have: such land is not reported;
- ``duplicate``: one cadastral number on more than one parcel;
- ``area``: the declared area differs from the computed one (``layers.land``'s tolerance).
"""
from __future__ import annotations

import json

import shapely.geometry
import sqlalchemy as sa

from gis import geojson, tabular
from gis.crs import metric_srid_for_hromada
from layers.base import label
from layers.land import AREA_TOLERANCE_M2, AREA_TOLERANCE_SHARE

OVERLAP_TOLERANCE_M2 = 1.0
OUTSIDE_TOLERANCE_M2 = 10.0
GAP_TOLERANCE_M2 = 1.0
SLIVER_M = 0.01  # slivers narrower than 2 cm between parcels are drawing noise, not gaps

KINDS = {
    "overlap": {"uk": "ділянки накладаються", "en": "parcels overlap"},
    "outside": {"uk": "ділянка виходить за межу громади", "en": "parcel crosses the hromada boundary"},
    "gap": {"uk": "прогалина всередині кварталу", "en": "gap inside a block"},
    "duplicate": {"uk": "повторюється кадастровий номер", "en": "duplicate cadastral number"},
    "area": {"uk": "площа за документами не збігається з обчисленою", "en": "declared and computed areas differ"},
}
TOLERANCES_M2 = {"overlap": OVERLAP_TOLERANCE_M2, "outside": OUTSIDE_TOLERANCE_M2, "gap": GAP_TOLERANCE_M2}

_AREA = "ST_Area(ST_Transform({g}, :srid))"

_OVERLAPS = f"""
    SELECT json_build_array(json_build_object('id', a.id, 'cadastral_number', a.cadastral_number),
                            json_build_object('id', b.id, 'cadastral_number', b.cadastral_number)) AS parcels,
           {_AREA.format(g='x.geom')} AS area_m2, ST_AsGeoJSON(x.geom, 7) AS geometry, NULL::text AS block
    FROM parcel a JOIN parcel b ON a.id < b.id AND a.geom && b.geom
    CROSS JOIN LATERAL (SELECT ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3) AS geom) x
    WHERE a.hromada_id = :h AND b.hromada_id = :h AND ST_Intersects(a.geom, b.geom)
      AND NOT ST_Touches(a.geom, b.geom) AND {_AREA.format(g='x.geom')} > :tol
    ORDER BY area_m2 DESC"""

_OUTSIDE = f"""
    SELECT json_build_array(json_build_object('id', p.id, 'cadastral_number', p.cadastral_number)) AS parcels,
           {_AREA.format(g='x.geom')} AS area_m2, ST_AsGeoJSON(x.geom, 7) AS geometry, NULL::text AS block
    FROM parcel p JOIN hromada h ON h.id = p.hromada_id
    CROSS JOIN LATERAL (SELECT ST_CollectionExtract(ST_Difference(p.geom, h.boundary), 3) AS geom) x
    WHERE p.hromada_id = :h AND NOT ST_CoveredBy(p.geom, h.boundary) AND {_AREA.format(g='x.geom')} > :tol
    ORDER BY area_m2 DESC"""

_BLOCK = "{p}.koatuu || ':' || {p}.cadastral_zone || ':' || {p}.cadastral_quarter"
# In metres, in the TM zone: the union is "closed" (grown and shrunk by SLIVER_M) so that the
# hair-thin slivers between parcels digitised separately neither open a hole to the outside nor
# count as gaps themselves.
_GAPS = f"""
    WITH blocks AS (
        SELECT {_BLOCK.format(p='p')} AS block,
               ST_Buffer(ST_Buffer(ST_Union(ST_Transform(p.geom, :srid)), :sliver, 'join=mitre'),
                         -:sliver, 'join=mitre') AS geom
        FROM parcel p WHERE p.hromada_id = :h GROUP BY 1),
    polygons AS (SELECT block, (ST_Dump(geom)).geom AS poly FROM blocks),
    holes AS (
        SELECT block, ST_MakePolygon(ST_InteriorRingN(poly, n)) AS hole
        FROM polygons, generate_series(1, ST_NumInteriorRings(poly)) AS n),
    gaps AS (  -- what no parcel of the hromada covers (an enclave of another block is no gap)
        SELECT h.block, h.hole, COALESCE(ST_CollectionExtract(ST_Difference(h.hole, o.geom), 3), h.hole) AS geom
        FROM holes h LEFT JOIN LATERAL (
            SELECT ST_Union(ST_Transform(p.geom, :srid)) AS geom FROM parcel p
            WHERE p.hromada_id = :h AND p.geom && ST_Transform(h.hole, 4326)
              AND {_BLOCK.format(p='p')} <> h.block) o ON true)
    SELECT (SELECT json_agg(json_build_object('id', p.id, 'cadastral_number', p.cadastral_number) ORDER BY p.id)
            FROM parcel p WHERE p.hromada_id = :h AND p.geom && ST_Transform(ST_Buffer(g.hole, 1), 4326)
              AND {_BLOCK.format(p='p')} = g.block AND ST_DWithin(ST_Transform(p.geom, :srid), g.hole, :sliver * 2))
           AS parcels,
           ST_Area(g.geom) AS area_m2, ST_AsGeoJSON(ST_Transform(g.geom, 4326), 7) AS geometry, g.block
    FROM gaps g WHERE NOT ST_IsEmpty(g.geom) AND ST_Area(g.geom) > :tol
    ORDER BY area_m2 DESC"""

_DUPLICATES = f"""
    SELECT json_agg(json_build_object('id', id, 'cadastral_number', cadastral_number) ORDER BY id) AS parcels,
           {_AREA.format(g='ST_Union(geom)')} AS area_m2, ST_AsGeoJSON(ST_Union(geom), 7) AS geometry,
           NULL::text AS block
    FROM parcel WHERE hromada_id = :h GROUP BY cadastral_number HAVING count(*) > 1
    ORDER BY cadastral_number"""

_AREA_MISMATCHES = """
    SELECT json_build_array(json_build_object('id', id, 'cadastral_number', cadastral_number,
                                              'area_declared_ha', area_declared_ha,
                                              'area_computed_ha', round(area_computed_ha::numeric, 4))) AS parcels,
           abs(area_difference_ha) * 10000.0 AS area_m2, ST_AsGeoJSON(geom, 7) AS geometry, NULL::text AS block
    FROM parcel WHERE hromada_id = :h AND area_mismatch ORDER BY abs(area_difference_ha) DESC"""

_QUERIES = {"overlap": _OVERLAPS, "outside": _OUTSIDE, "gap": _GAPS, "duplicate": _DUPLICATES,
            "area": _AREA_MISMATCHES}


def problems(conn: sa.Connection, hromada_id: int) -> list[dict]:
    """Every problem of the hromada's parcels: ``kind`` (a key of :data:`KINDS`), ``parcels``
    (``[{id, cadastral_number}]``), ``area_m2`` (the problem's size), ``block`` (for gaps) and
    ``geometry`` (GeoJSON, EPSG:4326). Raises NotFound for a hromada that is not loaded."""
    srid = metric_srid_for_hromada(conn, hromada_id)
    out = []
    for kind, sql in _QUERIES.items():
        params = {"h": hromada_id, "srid": srid, "tol": TOLERANCES_M2.get(kind, 0.0), "sliver": SLIVER_M}
        for row in conn.execute(sa.text(sql), params).mappings():
            out.append({"kind": kind, "parcels": row["parcels"] or [], "area_m2": round(float(row["area_m2"]), 2),
                        "block": row["block"], "geometry": json.loads(row["geometry"]) if row["geometry"] else None})
    return out


def summary(found: list[dict]) -> dict[str, int]:
    """How many problems of each kind."""
    return {kind: sum(1 for p in found if p["kind"] == kind) for kind in KINDS}


def describe(problem: dict, lang: str = "uk") -> str:
    """One problem in words, for the page and the CSV."""
    uk = lang != "en"
    area = f"{problem['area_m2']:.1f} {'м²' if uk else 'm²'}"
    kind = problem["kind"]
    if kind == "overlap":
        return f"спільна площа {area}" if uk else f"shared area {area}"
    if kind == "outside":
        return f"поза межею {area}" if uk else f"outside the boundary {area}"
    if kind == "gap":
        return (f"прогалина {area} у кварталі {problem['block']}" if uk
                else f"a gap of {area} in block {problem['block']}")
    if kind == "duplicate":
        return (f"{len(problem['parcels'])} ділянки з одним номером" if uk
                else f"{len(problem['parcels'])} parcels with one number")
    p = problem["parcels"][0]
    return (f"за документами {p['area_declared_ha']} га, за межами {p['area_computed_ha']} га "
            f"(допуск {AREA_TOLERANCE_SHARE:.0%} або {AREA_TOLERANCE_M2:.0f} м²)" if uk else
            f"declared {p['area_declared_ha']} ha, drawn {p['area_computed_ha']} ha "
            f"(tolerance {AREA_TOLERANCE_SHARE:.0%} or {AREA_TOLERANCE_M2:.0f} m²)")


def as_geojson(found: list[dict], lang: str = "uk") -> dict:
    """The problems as a FeatureCollection: one feature per problem, its geometry the problem's."""
    return geojson.collection(geojson.feature(n, p["geometry"], {
        "kind": p["kind"], "kind_label": label(KINDS[p["kind"]], lang), "area_m2": p["area_m2"],
        "cadastral_numbers": [q["cadastral_number"] for q in p["parcels"]],
        "parcel_ids": [q["id"] for q in p["parcels"]], "block": p["block"],
        "description": describe(p, lang)}) for n, p in enumerate(found, start=1))


def as_csv(found: list[dict], lang: str = "uk") -> str:
    """The problems as CSV (the geometry as WKT), headings in ``lang``."""
    header = (["kind", "problem", "cadastral_numbers", "parcel_ids", "area_m2", "description", "wkt"]
              if lang == "en" else
              ["kind", "проблема", "кадастрові номери", "ідентифікатори ділянок", "площа_м2", "опис", "wkt"])
    return tabular.csv_text(header, ([p["kind"], label(KINDS[p["kind"]], lang),
                                      "; ".join(q["cadastral_number"] for q in p["parcels"]),
                                      "; ".join(str(q["id"]) for q in p["parcels"]), p["area_m2"], describe(p, lang),
                                      shapely.geometry.shape(p["geometry"]).wkt if p["geometry"] else None]
                                     for p in found))
