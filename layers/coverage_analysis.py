"""White spots of internet coverage: per settlement and per hex cell, how much is unserved.

For every zone (each settlement with a boundary, each hex cell of the hromada, the whole hromada)
the analysis stores the share of its area — and of its population — that is

- **unserved**: below 25 Mbit/s down or 3 Mbit/s up,
- **underserved**: below 100 / 20 Mbit/s,
- **served**: at least 100 / 20 Mbit/s,
- **unknown**: no evidence at all,

which add up to 1, with the share of the area each kind of evidence decided.

Evidence, best first — a place takes its class from the best kind present there:

1. **measurements**: Ookla ``speed_tiles`` (their polygons; avg_d_kbps/avg_u_kbps) and single
   ``speed_tests`` (a point stands for a disc of ``test_radius_m``, 150 m by default: about a
   village block, the distance at which a fixed line's or a mobile cell's service is still alike);
2. **providers' claims**: ``coverage_areas`` with their advertised down_mbps/up_mbps; a claim
   without speeds takes its technology's typical speeds (:data:`TECHNOLOGY_DEFAULT_MBPS`);
3. **coverage rasters** (``raster_dataset`` rows of the ``coverage_rasters`` layer over the
   hromada): zonal statistics weighted by the share of each pixel inside the zone
   (:mod:`gis.zonal`). Band 1 is download speed, band 2 (if any) upload; the unit is the band's
   unit in the GeoTIFF (``Mbps``/``Mbit/s`` or none: Mbit/s; ``kbps``/``kbit/s``: kbit/s); a raster
   in any other unit (signal strength in dBm, say) is not a speed: it is skipped and the run says so.
   Several rasters are put on the finest one's grid, the best pixel winning.

Within one kind, where pieces overlap the best service counts (a fibre claim beats a 3G claim on
the same street; one good speed test beats a bad one next to it). Evidence with download but no
upload speed is classed by download alone.

Population: a settlement's ``population`` is spread over it by address points when an address
layer (:data:`ADDRESS_LAYER`, Points) is registered and has points in the settlement, otherwise
evenly over its area (then its population shares equal its area shares). A hex cell's population
is that of the settlements' parts it holds, at each settlement's density (or address points).
Zones without known population have no population shares (None).

Areas are computed in the hromada's UCS-2000 TM zone (gis.crs). Each run is kept
(``coverage_run``: when, parameters, evidence used, hromada-wide summary) with its zones
(``coverage_result``); ``hromada coverage analyse`` recomputes on demand.

The Ookla tiles may also be handed in rather than read from ``speed_tile`` (``analyse(speed_tiles=…)``):
the analysis of every hromada at once (layers.coverage_distributed) reads the national Ookla file on a
Dask cluster and gives each hromada its own tiles; everything else is computed here, the same way.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
import sqlalchemy as sa
from affine import Affine
from sqlalchemy.dialects import postgresql as pg

from gis import geojson, tabular
from gis.bulk import ewkb
from gis.crs import metric_srid_for_hromada
from gis.errors import InvalidInput, NotFound, Unprocessable
from gis.models import geometry, gist, metadata
from gis.zonal import RasterArray, apply, zonal_stats
from layers.admin_areas import SETTLEMENTS
from layers.base import Layer

log = logging.getLogger(__name__)

# --- thresholds and defaults ---------------------------------------------------------------------

UNSERVED_BELOW_MBPS = (25.0, 3.0)  # (down, up): below either → unserved
UNDERSERVED_BELOW_MBPS = (100.0, 20.0)  # below either → underserved; otherwise served
CLASSES = ("unserved", "underserved", "served")  # index = rank: a higher rank is better service
UNKNOWN = "unknown"
EVIDENCE_KINDS = ("measurement", "claim", "raster")
ZONE_KINDS = ("settlement", "hex", "hromada")

DEFAULT_HEX_SIZE_M = 1000.0  # a hexagon's side (= its circumradius), as PostGIS ST_HexagonGrid
MIN_HEX_SIZE_M, MAX_HEX_SIZE_M = 100.0, 20_000.0
MAX_HEX_CELLS = 20_000
DEFAULT_TEST_RADIUS_M = 150.0
MAX_TEST_RADIUS_M = 5_000.0
# Weights population when such a Point layer is registered: callers that know the registry pass it
# (address_layer_in), so this module does not import the registry that imports it.
ADDRESS_LAYER = "addresses"


def address_layer_in(layers: dict) -> Layer | None:
    """The registered address layer, if any, from a name → layer registry (layers.registry.LAYERS)."""
    return layers.get(ADDRESS_LAYER)

# Typical speeds (down, up Mbit/s) of a claim that gives none, by technology: what a household
# usually gets on a village line — FTTH/DOCSIS plans of 100 Mbit/s and more, ADSL2+ on old copper
# lines, FWA and 4G shared among a cell's users, 3G (HSPA) at a few Mbit/s.
TECHNOLOGY_DEFAULT_MBPS = {
    "ftth": (100.0, 100.0),
    "docsis": (100.0, 20.0),
    "5g": (100.0, 20.0),
    "fwa": (30.0, 5.0),
    "4g": (30.0, 5.0),
    "xdsl": (20.0, 1.0),
    "3g": (5.0, 1.0),
}
RASTER_UNITS_MBPS = {"": 1.0, "mbps": 1.0, "mbit/s": 1.0, "mb/s": 1.0, "kbps": 0.001, "kbit/s": 0.001}

CLASS_LABELS = {
    "unserved": {"uk": "без якісного інтернету (< 25/3 Мбіт/с)", "en": "unserved (< 25/3 Mbit/s)"},
    "underserved": {"uk": "недостатнє покриття (< 100/20 Мбіт/с)", "en": "underserved (< 100/20 Mbit/s)"},
    "served": {"uk": "покрито (≥ 100/20 Мбіт/с)", "en": "served (≥ 100/20 Mbit/s)"},
    "unknown": {"uk": "немає даних", "en": "no data"},
}
CLASS_COLOURS = {"unserved": "#c92a2a", "underserved": "#e67700", "served": "#2b8a3e", "unknown": "#adb5bd"}
EVIDENCE_LABELS = {
    "measurement": {"uk": "вимірювання", "en": "measurements"},
    "claim": {"uk": "заяви провайдерів", "en": "providers' claims"},
    "raster": {"uk": "растр покриття", "en": "coverage raster"},
}

# --- storage --------------------------------------------------------------------------------------

coverage_run = sa.Table(
    "coverage_run", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE"), nullable=False),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("hex_size_m", sa.Float, nullable=False),
    sa.Column("parameters", pg.JSONB, nullable=False),  # thresholds, radius, defaults, CRS
    sa.Column("evidence", pg.JSONB, nullable=False),  # what was used: counts, raster data sets
    sa.Column("summary", pg.JSONB, nullable=False),  # the whole hromada's shares
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Index("ix_coverage_run_hromada_id_computed_at", "hromada_id", "computed_at"),
)

_SHARE_COLUMNS = ([f"area_{c}" for c in (*CLASSES, UNKNOWN)] + [f"pop_{c}" for c in (*CLASSES, UNKNOWN)]
                  + [f"evidence_{k}" for k in EVIDENCE_KINDS])

coverage_result = sa.Table(
    "coverage_result", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("coverage_run.id", ondelete="CASCADE"), nullable=False),
    sa.Column("zone_kind", sa.Text, nullable=False),
    sa.Column("zone_key", sa.Text, nullable=False),  # settlement id, hex "i,j", or the KATOTTG
    sa.Column("settlement_id", sa.Integer, sa.ForeignKey("settlement.id", ondelete="SET NULL")),
    sa.Column("name", sa.Text),
    sa.Column("area_m2", sa.Float, nullable=False),
    sa.Column("population", sa.Float),
    # Shares (0…1) of area and of population per class; population shares NULL when unknown.
    *[sa.Column(c, sa.Float, nullable=not c.startswith(("area_", "evidence_"))) for c in _SHARE_COLUMNS],
    sa.Column("geom", geometry("MULTIPOLYGON"), nullable=False),
    sa.CheckConstraint(f"zone_kind IN {ZONE_KINDS}", name="zone_kind"),
    sa.UniqueConstraint("run_id", "zone_kind", "zone_key"),
    gist("coverage_result", "geom"),
)

RESULT_FIELDS = ("run_id", "zone_kind", "zone_key", "settlement_id", "name", "area_m2", "population",
                 *_SHARE_COLUMNS, "gap_area", "gap_population", "computed_at")
# The result's own fields are labelled here; what it copies from a settlement keeps the settlement
# layer's labels, and the class shares take theirs from CLASS_LABELS / EVIDENCE_LABELS.
FIELD_LABELS = {
    "run_id": {"uk": "Розрахунок", "en": "Run"},
    "zone_kind": {"uk": "Тип зони", "en": "Zone kind"},
    "zone_key": {"uk": "Код зони", "en": "Zone key"},
    "settlement_id": {"uk": "Населений пункт (id)", "en": "Settlement id"},
    "name": SETTLEMENTS.field("name_uk").label,
    "area_m2": {"uk": "Площа, м²", "en": "Area, m²"},
    "population": SETTLEMENTS.field("population").label,
    **{f"area_{c}": {"uk": f"Частка площі: {v['uk']}", "en": f"Area share: {v['en']}"}
       for c, v in CLASS_LABELS.items()},
    **{f"pop_{c}": {"uk": f"Частка населення: {v['uk']}", "en": f"Population share: {v['en']}"}
       for c, v in CLASS_LABELS.items()},
    **{f"evidence_{k}": {"uk": f"Визначено за: {v['uk']}", "en": f"Decided by: {v['en']}"}
       for k, v in EVIDENCE_LABELS.items()},
    "gap_area": {"uk": "Частка площі без 100/20", "en": "Area share below 100/20"},
    "gap_population": {"uk": "Частка населення без 100/20", "en": "Population share below 100/20"},
    "computed_at": {"uk": "Розраховано", "en": "Computed"},
}


# --- classification -------------------------------------------------------------------------------

def service_class(down_mbps: float | None, up_mbps: float | None) -> int | None:
    """Rank in :data:`CLASSES` (0 unserved, 1 underserved, 2 served); None without a download speed.

    Without an upload speed the class follows download alone.
    """
    if down_mbps is None or (isinstance(down_mbps, float) and math.isnan(down_mbps)):
        return None
    up_ok = (lambda limit: True) if up_mbps is None else (lambda limit: up_mbps >= limit)
    if down_mbps >= UNDERSERVED_BELOW_MBPS[0] and up_ok(UNDERSERVED_BELOW_MBPS[1]):
        return 2
    if down_mbps >= UNSERVED_BELOW_MBPS[0] and up_ok(UNSERVED_BELOW_MBPS[1]):
        return 1
    return 0


def class_grid(down: np.ndarray, up: np.ndarray | None, valid: np.ndarray) -> np.ndarray:
    """:func:`service_class` over pixels (Mbit/s): int8 ranks, -1 where not ``valid``."""
    served = down >= UNDERSERVED_BELOW_MBPS[0]
    under = down >= UNSERVED_BELOW_MBPS[0]
    if up is not None:
        served &= up >= UNDERSERVED_BELOW_MBPS[1]
        under &= up >= UNSERVED_BELOW_MBPS[1]
    ranks = under.astype(np.int8) + served.astype(np.int8)  # served implies underserved's limits
    ranks[~valid] = -1
    return ranks


# --- evidence -------------------------------------------------------------------------------------

@dataclass
class Evidence:
    """Where each kind of evidence decides which class, in the metric CRS, best service winning."""

    regions: dict[tuple[str, int], object]  # (kind, rank) → geometry where that kind says that class
    vector_extent: object  # everything measurements or claims decide
    raster: RasterArray | None  # class ranks (-1: no data) on the rasters' grid
    raster_to_grid: object | None  # callable metric geometry → raster CRS (None: same CRS)
    counts: dict


def _best_first(by_rank: dict[int, list], exclude) -> dict[int, object]:
    """Per class, the area where it is the best this kind of evidence offers, outside ``exclude``."""
    out, better = {}, exclude
    for rank in sorted(by_rank, reverse=True):
        union = shapely.union_all(by_rank[rank])
        out[rank] = union.difference(better) if better is not None else union
        better = union if better is None else shapely.union_all([better, union])
    return out


def _speed_tile_rows(conn, params: dict, speed_tiles) -> sa.CursorResult:
    """(down Mbit/s, up Mbit/s, metric WKB) of the Ookla tiles over the hromada: the ``speed_tile``
    table's, or those given as (avg_d_kbps, avg_u_kbps, WKB in EPSG:4326) rows."""
    b = "(SELECT boundary FROM hromada WHERE id = :h)"
    if speed_tiles is None:
        return conn.execute(sa.text(
            f"SELECT avg_d_kbps / 1000.0, avg_u_kbps / 1000.0, ST_AsBinary(ST_Transform(geom, :srid)) "
            f"FROM speed_tile WHERE avg_d_kbps IS NOT NULL AND ST_Intersects(geom, {b})"), params)
    # Given tiles go through the same SQL as the table's — the same ST_Transform, the same
    # ST_Intersects with the boundary, the same kbit/s → Mbit/s division — so a tile counts and
    # weighs the same whichever way it came (the distributed run must equal this one's results).
    down, up, wkb = ([row[i] for row in speed_tiles] for i in range(3))
    down, up = ([None if v is None else int(v) for v in values] for values in (down, up))  # numpy ints too
    return conn.execute(sa.text(
        f"SELECT t.d / 1000.0, t.u / 1000.0, ST_AsBinary(ST_Transform(t.g, :srid)) "
        f"FROM (SELECT d, u, ST_GeomFromWKB(w, 4326) AS g "
        f"      FROM unnest(CAST(:tile_d AS bigint[]), CAST(:tile_u AS bigint[]), CAST(:tile_w AS bytea[])) "
        f"           AS x(d, u, w)) t "
        f"WHERE t.d IS NOT NULL AND ST_Intersects(t.g, {b})"),
        dict(params, tile_d=down, tile_u=up, tile_w=[bytes(w) for w in wkb]))


def _collect_vectors(conn, hromada_id: int, srid: int, test_radius_m: float,
                     speed_tiles=None) -> tuple[dict, dict]:
    params = {"h": hromada_id, "srid": srid, "r": test_radius_m}
    b = "(SELECT boundary FROM hromada WHERE id = :h)"
    kinds: dict[str, dict[int, list]] = {"measurement": {}, "claim": {}}
    counts = {"speed_tiles": 0, "speed_tests": 0, "coverage_areas": 0}

    def add(kind, rank, wkb):
        if rank is not None:
            geom = shapely.make_valid(shapely.from_wkb(bytes(wkb)))
            kinds[kind].setdefault(rank, []).append(geom)

    for down, up, wkb in _speed_tile_rows(conn, params, speed_tiles):
        add("measurement", service_class(float(down), None if up is None else float(up)), wkb)
        counts["speed_tiles"] += 1
    for down, up, wkb in conn.execute(sa.text(
            "SELECT down_kbps / 1000.0, up_kbps / 1000.0, "
            "ST_AsBinary(ST_Buffer(ST_Transform(t.geom, :srid), :r, 16)) "
            "FROM speed_test t, (SELECT boundary, ST_Transform(boundary, :srid) AS metric FROM hromada "
            "WHERE id = :h) h "
            # The index finds tests within 0.1° (≥ 7 km, more than MAX_TEST_RADIUS_M); then metres.
            "WHERE t.geom && ST_Expand(h.boundary, 0.1) AND ST_DWithin(ST_Transform(t.geom, :srid), h.metric, :r)"),
            params):
        add("measurement", service_class(float(down), None if up is None else float(up)), wkb)
        counts["speed_tests"] += 1
    for tech, down, up, wkb in conn.execute(sa.text(
            f"SELECT technology, down_mbps, up_mbps, ST_AsBinary(ST_Transform(geom, :srid)) "
            f"FROM coverage_area WHERE ST_Intersects(geom, {b})"), params):
        default_down, default_up = TECHNOLOGY_DEFAULT_MBPS.get(tech, (None, None))
        add("claim", service_class(down if down is not None else default_down,
                                   up if up is not None else default_up), wkb)
        counts["coverage_areas"] += 1
    return kinds, counts


def _raster_units(src, band: int) -> float | None:
    unit = (src.units[band - 1] or "").strip().lower() if src.count >= band else ""
    return RASTER_UNITS_MBPS.get(unit)


def _window(src, bounds):
    """The whole pixels of ``src`` over ``bounds`` (in its CRS); None when they miss it."""
    from rasterio.windows import Window

    cols, rows = apply(~src.transform, np.array(bounds[::2]), np.array(bounds[1::2]))
    col0, col1 = max(int(np.floor(cols.min())), 0), min(int(np.ceil(cols.max())), src.width)
    row0, row1 = max(int(np.floor(rows.min())), 0), min(int(np.ceil(rows.max())), src.height)
    return Window(col0, row0, col1 - col0, row1 - row0) if col1 > col0 and row1 > row0 else None


def _collect_rasters(conn, hromada_id: int, srid: int, boundary_metric, store: Path) -> tuple:
    """The coverage rasters over the hromada as one grid of class ranks (finest grid, best wins)."""
    import rasterio
    from pyproj import Transformer
    from rasterio.warp import Resampling, reproject, transform_bounds

    rows = conn.execute(sa.text("""
        SELECT id, title, file_path FROM raster_dataset
        WHERE layer = 'coverage_rasters'
          AND ST_Intersects(footprint, (SELECT boundary FROM hromada WHERE id = :h))
        ORDER BY pixel_size[1] * pixel_size[2], id"""), {"h": hromada_id}).all()
    used, skipped, grids = [], [], []
    for row in rows:
        path = store / row.file_path
        if not path.is_file():
            skipped.append({"id": row.id, "title": row.title, "reason": "file missing"})
            log.warning("coverage raster %s (%s) is missing: skipped", row.id, path)
            continue
        with rasterio.open(path) as src:
            scale = _raster_units(src, 1)
            if scale is None:
                skipped.append({"id": row.id, "title": row.title, "reason": f"unit {src.units[0]!r} is not a speed"})
                log.warning("coverage raster %s: unit %r is not a speed: skipped", row.id, src.units[0])
                continue
            bounds = transform_bounds(f"EPSG:{srid}", src.crs, *boundary_metric.bounds, densify_pts=21)
            window = _window(src, bounds)
            if window is None:
                continue
            down = src.read(1, window=window, masked=True)
            up = src.read(2, window=window, masked=True) if src.count >= 2 else None
            up_scale = _raster_units(src, 2) if up is not None else None
            valid = ~np.ma.getmaskarray(down) & np.isfinite(down.filled(np.nan))
            ranks = class_grid(down.filled(0).astype("float64") * scale,
                               None if up is None or up_scale is None else up.filled(0).astype("float64") * up_scale,
                               valid)
            corner_x, corner_y = apply(src.transform, window.col_off, window.row_off)
            grids.append((ranks, Affine(src.transform.a, 0, corner_x, 0, src.transform.e, corner_y), src.crs))
            used.append({"id": row.id, "title": row.title, "units": "Mbit/s" if scale == 1 else "kbit/s"})
    if not grids:
        return None, None, used, skipped
    ranks, transform, crs = grids[0]
    for other, other_transform, other_crs in grids[1:]:
        warped = np.full(ranks.shape, -1, dtype=np.int8)
        reproject(other, warped, src_transform=other_transform, src_crs=other_crs, src_nodata=-1,
                  dst_transform=transform, dst_crs=crs, dst_nodata=-1, resampling=Resampling.nearest)
        np.maximum(ranks, warped, out=ranks)
    to_grid = None
    if crs.to_epsg() != srid:
        transformer = Transformer.from_crs(f"EPSG:{srid}", crs, always_xy=True)
        to_grid = lambda g: shapely.transform(shapely.segmentize(g, 200.0), transformer.transform,  # noqa: E731
                                              interleaved=False)
    return RasterArray(ranks, transform, -1), to_grid, used, skipped


def collect_evidence(conn, hromada_id: int, srid: int, boundary_metric, *, test_radius_m: float,
                     store: Path, speed_tiles=None) -> Evidence:
    kinds, counts = _collect_vectors(conn, hromada_id, srid, test_radius_m, speed_tiles)
    regions = {}
    measured = shapely.union_all([g for gs in kinds["measurement"].values() for g in gs]) \
        if kinds["measurement"] else None
    for kind, exclude in (("measurement", None), ("claim", measured)):
        for rank, geom in _best_first(kinds[kind], exclude).items():
            regions[(kind, rank)] = geom.intersection(boundary_metric)
    extent = shapely.union_all(list(regions.values())) if regions else shapely.Polygon()
    raster, to_grid, used, skipped = _collect_rasters(conn, hromada_id, srid, boundary_metric, store)
    counts.update(rasters=used, rasters_skipped=skipped)
    return Evidence(regions, extent, raster, to_grid, counts)


# --- zones ----------------------------------------------------------------------------------------

@dataclass
class Zone:
    kind: str
    key: str
    name: str | None
    geom: object  # metric CRS
    settlement_id: int | None = None
    population: float | None = None


def _areas(zones: list, evidence: Evidence) -> np.ndarray:
    """Per zone: area (m²) by class (unserved, underserved, served) and by evidence kind."""
    geoms = np.array([z for z in zones], dtype=object)
    out = np.zeros((len(zones), len(CLASSES) + len(EVIDENCE_KINDS)))
    for (kind, rank), region in evidence.regions.items():
        if region.is_empty:
            continue
        a = shapely.area(shapely.intersection(geoms, region))
        out[:, rank] += a
        out[:, len(CLASSES) + EVIDENCE_KINDS.index(kind)] += a
    if evidence.raster is not None:
        rest = shapely.difference(geoms, evidence.vector_extent) if not evidence.vector_extent.is_empty else geoms
        metric_area = shapely.area(rest)
        in_grid = [evidence.raster_to_grid(g) for g in rest] if evidence.raster_to_grid else list(rest)
        pixel_area = abs(evidence.raster.transform.a * evidence.raster.transform.e)
        stats = zonal_stats(evidence.raster, in_grid, categorical=True)
        for i, (s, g) in enumerate(zip(stats, in_grid, strict=True)):
            whole = shapely.area(g) / pixel_area  # the zone in pixels: metric area ↔ pixel weights
            if whole <= 0:
                continue
            for rank, weight in s["by_value"].items():
                if rank >= 0:
                    a = metric_area[i] * min(weight / whole, 1.0)
                    out[i, rank] += a
                    out[i, len(CLASSES) + EVIDENCE_KINDS.index("raster")] += a
    return out


def _point_classes(points: np.ndarray, evidence: Evidence) -> np.ndarray:
    """Class rank at each point (-1 where nothing says), measurements before claims before rasters."""
    ranks = np.full(points.size, -1, dtype=np.int8)
    decided = np.zeros(points.size, bool)
    for kind in ("measurement", "claim"):
        for (k, rank), region in evidence.regions.items():
            if k != kind or region.is_empty:
                continue
            hit = ~decided & shapely.intersects(region, points)
            ranks[hit] = rank
            decided |= hit
    if evidence.raster is not None and (~decided).any():
        rest = points[~decided]
        rest = [evidence.raster_to_grid(p) for p in rest] if evidence.raster_to_grid else rest
        xy = shapely.get_coordinates(np.asarray(rest, dtype=object))
        cols, rows = apply(~evidence.raster.transform, xy[:, 0], xy[:, 1])
        rows, cols = np.floor(rows).astype(np.int64), np.floor(cols).astype(np.int64)
        h, w = evidence.raster.data.shape
        inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
        sampled = np.full(rows.size, -1, dtype=np.int8)
        sampled[inside] = evidence.raster.data[rows[inside], cols[inside]]
        ranks[~decided] = sampled
    return ranks


def _address_points(conn, layer: Layer | None, hromada_id: int, srid: int) -> np.ndarray | None:
    if layer is None or layer.geometry != "Point":
        return None
    wkbs = conn.execute(sa.text(
        f"SELECT ST_AsBinary(ST_Transform({layer.geometry_column}, :srid)) FROM {layer.table} "
        f"WHERE ST_Intersects({layer.geometry_column}, (SELECT boundary FROM hromada WHERE id = :h))"),
        {"srid": srid, "h": hromada_id}).scalars().all()
    return shapely.from_wkb([bytes(w) for w in wkbs]) if wkbs else None


def _address_counts(zones: list, points: np.ndarray | None, ranks: np.ndarray | None) -> np.ndarray | None:
    """Per zone: address points by class (unserved, underserved, served, unknown)."""
    if points is None:
        return None
    tree = shapely.STRtree(points)
    zone_idx, point_idx = tree.query(np.array(zones, dtype=object), predicate="intersects")
    counts = np.zeros((len(zones), len(CLASSES) + 1))
    cls = np.where(ranks[point_idx] < 0, len(CLASSES), ranks[point_idx])
    np.add.at(counts, (zone_idx, cls), 1)
    return counts


def _check_parameters(hex_size_m: float, test_radius_m: float, hromada_area_m2: float) -> None:
    if not (isinstance(hex_size_m, (int, float)) and math.isfinite(hex_size_m)
            and MIN_HEX_SIZE_M <= hex_size_m <= MAX_HEX_SIZE_M):
        raise InvalidInput(
            f"Розмір шестикутника {hex_size_m!r} м: має бути від {MIN_HEX_SIZE_M:.0f} до {MAX_HEX_SIZE_M:.0f} м",
            f"Hex size {hex_size_m!r} m: must be between {MIN_HEX_SIZE_M:.0f} and {MAX_HEX_SIZE_M:.0f} m")
    cells = hromada_area_m2 / (1.5 * math.sqrt(3) * hex_size_m ** 2)
    if cells > MAX_HEX_CELLS:
        raise InvalidInput(
            f"Шестикутники по {hex_size_m:.0f} м дали б ≈{cells:,.0f} комірок (найбільше {MAX_HEX_CELLS:,}); "
            f"візьміть більший розмір",
            f"Hexes of {hex_size_m:.0f} m would make ≈{cells:,.0f} cells (at most {MAX_HEX_CELLS:,}); "
            f"choose a larger size")
    if not (isinstance(test_radius_m, (int, float)) and math.isfinite(test_radius_m)
            and 0 < test_radius_m <= MAX_TEST_RADIUS_M):
        raise InvalidInput(f"Радіус вимірювання {test_radius_m!r} м: має бути від 0 до {MAX_TEST_RADIUS_M:.0f} м",
                           f"Speed-test radius {test_radius_m!r} m: must be above 0 and at most "
                           f"{MAX_TEST_RADIUS_M:.0f} m")


def _zones(conn, hromada_id: int, srid: int, hex_size_m: float) -> tuple[list[Zone], list[Zone], Zone]:
    row = conn.execute(sa.text(
        "SELECT katottg, name_uk, ST_AsBinary(ST_Transform(boundary, :srid)) AS g FROM hromada WHERE id = :h"),
        {"h": hromada_id, "srid": srid}).one()
    boundary = shapely.make_valid(shapely.from_wkb(bytes(row.g)))
    settlements = [Zone("settlement", str(s.id), s.name_uk, shapely.make_valid(shapely.from_wkb(bytes(s.g))),
                        settlement_id=s.id, population=s.population)
                   for s in conn.execute(sa.text(
                       "SELECT id, name_uk, population, ST_AsBinary(ST_Transform(boundary, :srid)) AS g "
                       "FROM settlement WHERE hromada_id = :h AND boundary IS NOT NULL ORDER BY id"),
                       {"h": hromada_id, "srid": srid})]
    if not settlements:
        raise Unprocessable(f"У громаді {row.name_uk} немає населених пунктів із межами: нічого аналізувати",
                            f"Hromada {row.name_uk} has no settlements with boundaries: nothing to analyse")
    hexes = [Zone("hex", f"{h.i},{h.j}", None, shapely.from_wkb(bytes(h.g)))
             for h in conn.execute(sa.text("""
                 WITH b AS (SELECT ST_Transform(boundary, :srid) AS g FROM hromada WHERE id = :h)
                 SELECT c.i, c.j, ST_AsBinary(ST_CollectionExtract(ST_Intersection(c.geom, b.g), 3)) AS g
                 FROM b, ST_HexagonGrid(:size, b.g) AS c
                 WHERE ST_Intersects(c.geom, b.g) ORDER BY c.i, c.j"""),
                 {"h": hromada_id, "srid": srid, "size": hex_size_m})]
    hexes = [z for z in hexes if z.geom.area > 0]
    whole = Zone("hromada", row.katottg, row.name_uk, boundary,
                 population=sum(s.population for s in settlements if s.population) or None)
    return settlements, hexes, whole


# --- the analysis ---------------------------------------------------------------------------------

def analyse(conn: sa.Connection, hromada_id: int, *, hex_size_m: float = DEFAULT_HEX_SIZE_M,
            test_radius_m: float = DEFAULT_TEST_RADIUS_M, address_layer: Layer | None = None,
            raster_store: Path | None = None, speed_tiles=None, run_notes: dict | None = None) -> int:
    """Compute the white spots of one hromada and store them as a new run; its id.

    ``speed_tiles``: the Ookla tiles to use instead of the ``speed_tile`` table's, as
    (avg_d_kbps, avg_u_kbps, WKB of the tile in EPSG:4326) rows — tiles off the hromada are left out
    as the table's are. ``run_notes`` are added to the run's parameters (how it was run).

    Raises NotFound for an unknown hromada, Unprocessable when it has no settlement with a
    boundary, InvalidInput for a hex size outside 100…20,000 m (or one giving over 20,000 cells)
    or a speed-test radius outside (0, 5,000] m.
    """
    from importers.rasters import raster_store as default_store

    started = time.perf_counter()
    srid = metric_srid_for_hromada(conn, hromada_id)  # NotFound for an unknown hromada
    area = conn.execute(sa.text(f"SELECT ST_Area(ST_Transform(boundary, {srid})) FROM hromada WHERE id = :h"),
                        {"h": hromada_id}).scalar()
    _check_parameters(hex_size_m, test_radius_m, area)
    settlements, hexes, whole = _zones(conn, hromada_id, srid, float(hex_size_m))
    evidence = collect_evidence(conn, hromada_id, srid, whole.geom, test_radius_m=float(test_radius_m),
                                store=Path(raster_store or default_store()), speed_tiles=speed_tiles)

    # Hex cells take population from the settlements' parts inside them: compute those parts too.
    peopled = [s for s in settlements if s.population]
    tree = shapely.STRtree(np.array([s.geom for s in peopled], dtype=object)) if peopled else None
    pieces: list[tuple[int, Zone, object]] = []  # (hex index, settlement, hex ∩ settlement)
    if tree is not None and hexes:
        hex_idx, set_idx = tree.query(np.array([h.geom for h in hexes], dtype=object), predicate="intersects")
        for h, s in zip(hex_idx, set_idx, strict=True):
            part = shapely.intersection(hexes[h].geom, peopled[s].geom)
            if part.area > 0:
                pieces.append((int(h), peopled[s], part))
    zones = [*settlements, *hexes, whole]
    geoms = [z.geom for z in zones] + [p[2] for p in pieces]
    areas = _areas(geoms, evidence)
    points = _address_points(conn, address_layer, hromada_id, srid)
    addresses = _address_counts(geoms, points, _point_classes(points, evidence) if points is not None else None)

    n_classes = len(CLASSES)
    zone_area = np.array([g.area for g in geoms])
    class_areas = np.column_stack([areas[:, :n_classes],
                                   np.maximum(zone_area - areas[:, :n_classes].sum(axis=1), 0.0)])
    own_index = {id(s): i for i, s in enumerate(settlements)}

    def settlement_people(i: int, s: Zone) -> np.ndarray:
        """People by class (with unknown) in geometry ``i`` lying in settlement ``s``."""
        j = own_index[id(s)]
        if addresses is not None and addresses[j].sum() > 0:
            return s.population * addresses[i] / addresses[j].sum()
        return s.population * class_areas[i] / zone_area[j]

    people = np.full((len(zones), n_classes + 1), np.nan)
    for i, s in enumerate(settlements):
        if s.population:
            people[i] = settlement_people(i, s)
    hex_people = np.zeros((len(hexes), n_classes + 1))
    for offset, (h, s, _) in enumerate(pieces):
        hex_people[h] += settlement_people(len(zones) + offset, s)
    people[len(settlements):len(settlements) + len(hexes)] = hex_people
    if peopled:
        people[-1] = np.nansum(people[:len(settlements)], axis=0)

    computed_at = dt.datetime.now(dt.timezone.utc)
    rows = []
    for i, z in enumerate(zones):
        total_people = float(people[i].sum()) if not np.isnan(people[i]).any() else None
        row = {"zone_kind": z.kind, "zone_key": z.key, "settlement_id": z.settlement_id, "name": z.name,
               "area_m2": float(zone_area[i]), "population": total_people,
               "geom": ewkb(z.geom, srid)}
        for c, name in enumerate((*CLASSES, UNKNOWN)):
            row[f"area_{name}"] = float(class_areas[i, c] / zone_area[i]) if zone_area[i] else 0.0
            row[f"pop_{name}"] = float(people[i, c] / total_people) if total_people else None
        for k, kind in enumerate(EVIDENCE_KINDS):
            row[f"evidence_{kind}"] = float(areas[i, n_classes + k] / zone_area[i]) if zone_area[i] else 0.0
        rows.append(row)
    summary = {k: v for k, v in rows[-1].items() if k not in ("geom", "settlement_id")}
    summary.update(settlements=len(settlements), hexes=len(hexes))
    parameters = {
        "hex_size_m": float(hex_size_m), "hex_size_is": "side (circumradius), PostGIS ST_HexagonGrid",
        "test_radius_m": float(test_radius_m), "metric_srid": srid,
        "unserved_below_mbps": list(UNSERVED_BELOW_MBPS), "underserved_below_mbps": list(UNDERSERVED_BELOW_MBPS),
        "technology_default_mbps": {k: list(v) for k, v in TECHNOLOGY_DEFAULT_MBPS.items()},
        "population_weighting": "address points" if addresses is not None else "even over settlement area",
        **(run_notes or {}),
    }
    evidence_used = dict(evidence.counts, address_points=0 if points is None else int(points.size),
                         address_layer=address_layer.name if points is not None else None)
    run_id = conn.execute(sa.insert(coverage_run).values(
        hromada_id=hromada_id, computed_at=computed_at, hex_size_m=float(hex_size_m), parameters=parameters,
        evidence=evidence_used, summary=summary,
        duration_ms=int((time.perf_counter() - started) * 1000)).returning(coverage_run.c.id)).scalar_one()
    columns = [c for c in rows[0] if c != "geom"]
    conn.execute(sa.text(
        f"INSERT INTO coverage_result (run_id, {', '.join(columns)}, geom) VALUES "
        f"(:run_id, {', '.join(':' + c for c in columns)}, "
        f"ST_Multi(ST_CollectionExtract(ST_Transform(ST_GeomFromEWKB(:geom), 4326), 3)))"),
        [dict(r, run_id=run_id) for r in rows])
    log.info("coverage analysis of hromada %s: run %s, %d settlements, %d hexes, %.1f s", hromada_id, run_id,
             len(settlements), len(hexes), time.perf_counter() - started)
    return run_id


# --- readers --------------------------------------------------------------------------------------

def _run_dict(row) -> dict:
    return {"id": row.id, "hromada_id": row.hromada_id, "katottg": row.katottg, "computed_at": row.computed_at,
            "hex_size_m": row.hex_size_m, "parameters": row.parameters, "evidence": row.evidence,
            "summary": row.summary, "duration_ms": row.duration_ms}


_RUN_SQL = """SELECT r.id, r.hromada_id, h.katottg, r.computed_at, r.hex_size_m, r.parameters, r.evidence,
                     r.summary, r.duration_ms
              FROM coverage_run r JOIN hromada h ON h.id = r.hromada_id"""


def latest_run(conn: sa.Connection, hromada_id: int) -> dict | None:
    """The newest run of a hromada: id, hromada_id, katottg, computed_at, hex_size_m, parameters,
    evidence (what was used), summary (the whole hromada's shares, as a result row), duration_ms."""
    row = conn.execute(sa.text(_RUN_SQL + " WHERE r.hromada_id = :h ORDER BY r.computed_at DESC, r.id DESC LIMIT 1"),
                       {"h": hromada_id}).first()
    return _run_dict(row) if row else None


def get_run(conn: sa.Connection, run_id: int) -> dict:
    row = conn.execute(sa.text(_RUN_SQL + " WHERE r.id = :r"), {"r": run_id}).first()
    if row is None:
        raise NotFound(f"Розрахунку покриття {run_id} немає", f"Coverage run {run_id} does not exist")
    return _run_dict(row)


def _check_kind(zone_kind: str) -> None:
    if zone_kind not in ZONE_KINDS:
        raise InvalidInput(f"Тип зони {zone_kind!r}: має бути один із {', '.join(ZONE_KINDS)}",
                           f"Zone kind {zone_kind!r}: must be one of {', '.join(ZONE_KINDS)}")


_GAP = "(area_unserved + area_underserved)"
_POP_GAP = "(pop_unserved + pop_underserved)"


def _select_results(zone_kind: str, with_geometry: bool) -> str:
    _check_kind(zone_kind)
    shares = ", ".join(_SHARE_COLUMNS)
    geometry_sql = ", ST_AsGeoJSON(res.geom, 6) AS geometry" if with_geometry else ""
    return (f"SELECT res.run_id, zone_kind, zone_key, settlement_id, name, area_m2, population, {shares}, "
            f"{_GAP} AS gap_area, {_POP_GAP} AS gap_population, r.computed_at{geometry_sql} "
            f"FROM coverage_result res JOIN coverage_run r ON r.id = res.run_id "
            f"WHERE res.run_id = :run AND zone_kind = :kind "
            f"ORDER BY {_POP_GAP} DESC NULLS LAST, {_GAP} DESC, zone_key")


def results(conn: sa.Connection, run_id: int, zone_kind: str = "settlement") -> list[dict]:
    """The zones of a run, worst gap first (population share below 100/20, then area share).

    Each a flat dict of :data:`RESULT_FIELDS`: shares are 0…1; ``pop_*`` and ``gap_population``
    are None where the population is unknown. NotFound for an unknown run.
    """
    _check_kind(zone_kind)
    get_run(conn, run_id)
    return [dict(r._mapping) for r in conn.execute(sa.text(_select_results(zone_kind, False)),
                                                  {"run": run_id, "kind": zone_kind})]


def results_geojson(conn: sa.Connection, run_id: int, zone_kind: str = "settlement") -> dict:
    """The zones of a run as a GeoJSON FeatureCollection (EPSG:4326), properties as :func:`results`."""
    _check_kind(zone_kind)
    get_run(conn, run_id)
    features = []
    for r in conn.execute(sa.text(_select_results(zone_kind, True)), {"run": run_id, "kind": zone_kind}):
        props = {k: v for k, v in r._mapping.items() if k != "geometry"}
        props["computed_at"] = props["computed_at"].isoformat()
        features.append({"type": "Feature", "id": f"{zone_kind}:{props['zone_key']}",
                         "geometry": json.loads(r.geometry), "properties": props})
    return geojson.collection(features)


def cell_places(conn: sa.Connection, run_id: int) -> dict[str, dict]:
    """Where each hex cell of a run lies, for a name people can place ("Якушинці, комірка 3" instead of
    the grid's "259,3157"): ``{zone_key: {"name_uk", "name_en", "number"}}`` — the settlement the cell's
    centre lies in or is nearest to, and the cell's number among that settlement's cells, counted in
    reading order (north to south, then west to east). Worked out when asked: the stored results keep
    the grid's keys."""
    rows = conn.execute(sa.text("""
        WITH cells AS (
            SELECT res.zone_key, ST_PointOnSurface(res.geom) AS centre, r.hromada_id
            FROM coverage_result res JOIN coverage_run r ON r.id = res.run_id
            WHERE res.run_id = :run AND res.zone_kind = 'hex')
        SELECT c.zone_key, s.name_uk, s.name_en,
               row_number() OVER (PARTITION BY s.id ORDER BY ST_Y(c.centre) DESC, ST_X(c.centre)) AS number
        FROM cells c CROSS JOIN LATERAL (
            SELECT id, name_uk, name_en FROM settlement
            WHERE hromada_id = c.hromada_id AND boundary IS NOT NULL
            ORDER BY boundary <-> c.centre, id LIMIT 1) s"""), {"run": run_id}).mappings()
    return {r["zone_key"]: {"name_uk": r["name_uk"], "name_en": r["name_en"], "number": r["number"]} for r in rows}


def results_csv(conn: sa.Connection, run_id: int, zone_kind: str = "settlement", *,
                headings: str | None = None) -> str:
    """The zones of a run as CSV text (no geometry); ``headings='uk'``/``'en'`` names columns by label."""
    rows = results(conn, run_id, zone_kind)
    return tabular.csv_text([FIELD_LABELS[f][headings] if headings else f for f in RESULT_FIELDS],
                            ([r[f] for f in RESULT_FIELDS] for r in rows))
