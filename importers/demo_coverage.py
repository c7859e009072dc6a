"""Demo internet-coverage data for the demo hromada, so every connectivity layer shows something.

Invented, flagged ``is_demo`` (raster: source ``demo``, title marked «демо») and deterministic:
providers' coverage areas (fibre in the villages near Vinnytsia, xDSL on old copper in others,
a 4G operator around two masts, patchy 3G), Ookla-schema speed tiles (zoom-16 quadkeys) over
parts of some villages, a handful of single speed tests, public Wi-Fi at village councils,
schools and libraries, and a small modelled-speed GeoTIFF (band 1 download, band 2 upload,
Mbit/s) over the hromada. The south-west (Лисянка, Широка Гребля, Юзвин, Пултівці) is left a
clear white spot. Providers' names are invented, so no real operator is misrepresented.

Idempotent: every row carries a key made from its content (``raw.demo_key``); a second run finds
them all and changes nothing, a changed generator replaces only the rows that changed.
"""
from __future__ import annotations

import hashlib
import logging
import math
import shutil
import tempfile
from pathlib import Path

import mercantile
import numpy as np
import rasterio
import shapely
import sqlalchemy as sa
from affine import Affine
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Point

from gis.bulk import ewkb
from gis.crs import metric_srid_for_hromada
from gis.models import raster_dataset, settlement
from importers.demo_common import DEMO_SOURCE, demo_key, round_geometry, sync_demo_rows
from importers.rasters import _band_stats, raster_store
from layers.connectivity import COVERAGE_AREAS, SPEED_TESTS, SPEED_TILES, WIFI_HOTSPOTS
from layers.rasters import COVERAGE_RASTERS
from layers.tables import build_table

log = logging.getLogger(__name__)

SEED = 20260101
PERIOD = "2025-Q3"
RASTER_PIXEL_M = 100.0
# Two invented mobile masts (lon, lat): near Якушинці/Зарванці and near Дашківці.
MASTS = ((28.381, 49.289), (28.272, 49.329))
FIBRE = {"Якушинці": 1200, "Зарванці": 1200, "Березина": 900, "Дашківці": 800}  # village: radius, m
COPPER = ("Пултівці", "Майдан", "Лукашівка", "Слобода-Дашковецька")
PATCHY_3G = {"Юзвин": 1500, "Ксаверівка": 1500, "Іскриня": 1500}
# village: (network, radius m, (down, up) Mbit/s typical) — Ookla tiles over part of it
TILES = {"Якушинці": ("fixed", 600, (190, 150)), "Зарванці": ("fixed", 500, (150, 120)),
         "Майдан": ("fixed", 400, (16, 1.5)), "Лисянка": ("mobile", 400, (5, 1))}
# village: [(down, up) Mbit/s] — single tests near the centre
TESTS = {"Лисянка": [(4, 0.8), (6, 1.2)], "Широка Гребля": [(6, 1), (9, 2)], "Юзвин": [(18, 3)],
         "Дашківці": [(90, 40), (85, 35)], "Березина": [(250, 220)], "Іскриня": [(35, 6), (32, 5)]}
COUNCIL = "Якушинецька сільська рада"
HOTSPOTS = {  # village: places with public Wi-Fi
    "Якушинці": ("Якушинецька сільська рада", "Якушинецький ліцей", "Публічна бібліотека"),
    "Зарванці": ("Зарванецький старостат", "Зарванецька гімназія", "Бібліотека-філія"),
    "Березина": ("Березинський старостат", "Бібліотека-філія"),
    "Дашківці": ("Дашковецький старостат", "Дашковецька гімназія"),
    "Майдан": ("Майданський старостат",),
    "Пултівці": ("Пултовецький старостат", "Сільський клуб"),
}


def _multi(geom) -> MultiPolygon:
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and not p.is_empty]
    return MultiPolygon(parts)


def coverage_rows(hromada_id: int, boundary, villages: dict, centres: dict, to_metric, to_wgs) -> dict:
    """The demo vector rows by table, each with ``geom`` (4326 shapely) and ``raw.demo_key``."""
    rng = np.random.default_rng(SEED)

    def disc(lon_lat, radius_m):
        x, y = to_metric.transform(*lon_lat)
        return shapely.transform(Point(x, y).buffer(radius_m, quad_segs=16), to_wgs.transform, interleaved=False)

    def centre(name):
        c = centres[name]
        return c.x, c.y

    rows: dict[str, list[dict]] = {"coverage_area": [], "speed_tile": [], "speed_test": [], "wifi_hotspot": []}

    def add(table, geom, **values):
        geom = round_geometry(geom)
        if geom.is_empty:
            return
        key = demo_key(table, values, geom.wkb_hex)
        rows[table].append({**values, "geom": geom, "raw": {"demo_key": key}})

    present = [v for v in FIBRE if v in villages and v in centres]
    for name in present:
        add("coverage_area", _multi(villages[name].intersection(disc(centre(name), FIBRE[name]))),
            provider="Поділля Оптика (демо)", technology="ftth", down_mbps=300.0, up_mbps=300.0)
    for name in COPPER:
        if name in villages:  # speeds left out: the technology's typical speeds apply
            add("coverage_area", _multi(villages[name]), provider="Укрзв'язок (демо)", technology="xdsl",
                down_mbps=None, up_mbps=None)
    masts = shapely.union_all([disc(MASTS[0], 6000), disc(MASTS[1], 5000)])
    add("coverage_area", _multi(masts.intersection(boundary)), provider="Мобільний оператор А (демо)",
        technology="4g", down_mbps=40.0, up_mbps=8.0)
    patches = [disc(centre(n), r) for n, r in PATCHY_3G.items() if n in centres]
    if patches:
        add("coverage_area", _multi(shapely.union_all(patches).intersection(boundary)),
            provider="Мобільний оператор Б (демо)", technology="3g", down_mbps=None, up_mbps=None)

    for name, (network, radius, (down, up)) in TILES.items():
        if name not in villages or name not in centres:
            continue
        area = villages[name].intersection(disc(centre(name), radius))
        west, south, east, north = area.bounds
        for tile in mercantile.tiles(west, south, east, north, 16):
            b = mercantile.bounds(tile)
            square = shapely.box(b.west, b.south, b.east, b.north)
            if not square.intersects(area):
                continue
            jitter = rng.uniform(0.85, 1.15, 3)
            tests = int(rng.integers(4, 40))
            add("speed_tile", MultiPolygon([square]), quadkey=mercantile.quadkey(tile), network=network,
                period=PERIOD, avg_d_kbps=int(down * 1000 * jitter[0]), avg_u_kbps=int(up * 1000 * jitter[1]),
                avg_lat_ms=int((18 if network == "fixed" else 45) * jitter[2]), tests=tests,
                devices=max(1, tests // 3))

    for name, measured in TESTS.items():
        if name not in centres:
            continue
        for i, (down, up) in enumerate(measured):
            dx, dy = rng.uniform(-0.004, 0.004, 2)
            lon, lat = centre(name)
            add("speed_test", Point(lon + dx, lat + dy), down_kbps=int(down * 1000), up_kbps=int(up * 1000),
                latency_ms=int(rng.integers(15, 90)), network="mobile" if down < 50 else "fixed",
                provider=None, tests=1, devices=1, period=PERIOD,
                measured_at=f"2025-{7 + i:02d}-{int(rng.integers(1, 28)):02d}"
                            f"T{int(rng.integers(8, 20)):02d}:00:00+03:00")

    for name, places in HOTSPOTS.items():
        if name not in centres:
            continue
        lon, lat = centre(name)
        for i, place in enumerate(places):
            angle = 2 * math.pi * i / max(len(places), 1)
            add("wifi_hotspot", Point(lon + 0.0012 * math.cos(angle), lat + 0.0008 * math.sin(angle)),
                name=place if name in place or "Якушин" in place else f"{place}, с. {name}",
                operator=COUNCIL + " (демо)", hours="08:00–20:00" if "бібліотека" in place.lower() else "цілодобово",
                free=True, osm_id=None)
    return {table: [dict(r, hromada_id=hromada_id, is_demo=True, source=DEMO_SOURCE) for r in table_rows]
            for table, table_rows in rows.items()}


def modelled_speed(srid: int, boundary_metric) -> tuple[np.ndarray, Affine]:
    """Download and upload Mbit/s modelled from the masts (falling off with distance), 100 m pixels."""
    west, south, east, north = boundary_metric.bounds
    west, north = math.floor(west / RASTER_PIXEL_M) * RASTER_PIXEL_M, math.ceil(north / RASTER_PIXEL_M) * RASTER_PIXEL_M
    cols = int(math.ceil((east - west) / RASTER_PIXEL_M))
    rows = int(math.ceil((north - south) / RASTER_PIXEL_M))
    to_metric = Transformer.from_crs("EPSG:4326", f"EPSG:{srid}", always_xy=True)
    x = west + (np.arange(cols) + 0.5) * RASTER_PIXEL_M
    y = north - (np.arange(rows) + 0.5) * RASTER_PIXEL_M
    xx, yy = np.meshgrid(x, y)
    down = np.zeros((rows, cols))
    for lon, lat in MASTS:
        mx, my = to_metric.transform(lon, lat)
        down = np.maximum(down, 150.0 * np.exp(-np.hypot(xx - mx, yy - my) / 2500.0))
    bands = np.stack([down, down / 4]).round(1).astype("float32")
    return bands, Affine(RASTER_PIXEL_M, 0, west, 0, -RASTER_PIXEL_M, north)


def _store_raster(conn: sa.Connection, hromada_id: int, srid: int, boundary_metric, to_wgs) -> bool:
    bands, transform = modelled_speed(srid, boundary_metric)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "demo_speed.tif"
        with rasterio.open(path, "w", driver="GTiff", width=bands.shape[2], height=bands.shape[1], count=2,
                           dtype="float32", crs=f"EPSG:{srid}", transform=transform, nodata=-1,
                           compress="deflate") as dst:
            dst.write(bands)
            for band, what in ((1, "download"), (2, "upload")):
                dst.set_band_unit(band, "Mbps")
                dst.set_band_description(band, f"modelled 4G {what} speed (demo)")
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        relative = Path(COVERAGE_RASTERS.name) / f"{sha}.tif"
        target = raster_store() / relative
        if not target.exists():  # also when the row is there but the store moved (HROMADA_RASTER_DIR)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        old = conn.execute(sa.select(raster_dataset.c.id, raster_dataset.c.sha256).where(
            raster_dataset.c.layer == COVERAGE_RASTERS.name, raster_dataset.c.hromada_id == hromada_id,
            raster_dataset.c.source == DEMO_SOURCE)).all()
        if [r.sha256 for r in old] == [sha]:
            return False
        conn.execute(raster_dataset.delete().where(raster_dataset.c.id.in_([r.id for r in old])))
        with rasterio.open(path) as src:
            stats = [_band_stats(src, b) for b in (1, 2)]
    left, top = transform.c, transform.f
    right, bottom = left + transform.a * bands.shape[2], top + transform.e * bands.shape[1]
    outline = shapely.segmentize(shapely.box(left, bottom, right, top), 500)
    footprint = shapely.transform(outline, to_wgs.transform, interleaved=False)
    conn.execute(sa.insert(raster_dataset).values(
        layer=COVERAGE_RASTERS.name, title="Модельована швидкість 4G, Мбіт/с (демо)", file_path=str(relative),
        sha256=sha, crs=f"EPSG:{srid}", width=bands.shape[2], height=bands.shape[1], bands=2, dtype="float32",
        nodata=-1.0, pixel_size=[RASTER_PIXEL_M, RASTER_PIXEL_M], stats=stats,
        footprint=sa.func.ST_GeomFromEWKB(ewkb(MultiPolygon([footprint]))), hromada_id=hromada_id,
        source=DEMO_SOURCE))
    return True


def load_demo_coverage(conn: sa.Connection, hromada_id: int, boundary, centres: dict[str, Point]) -> None:
    """Load (or bring up to date) the demo coverage data of the hromada; a second run changes nothing.

    ``boundary`` is the hromada's boundary and ``centres`` the villages' centre points (EPSG:4326,
    as importers.demo has them); villages' polygons are read from the settlement table.
    """
    srid = metric_srid_for_hromada(conn, hromada_id)
    to_metric = Transformer.from_crs("EPSG:4326", f"EPSG:{srid}", always_xy=True)
    to_wgs = Transformer.from_crs(f"EPSG:{srid}", "EPSG:4326", always_xy=True)
    villages = {name: shapely.from_wkb(bytes(wkb)) for name, wkb in conn.execute(
        sa.select(settlement.c.name_uk, sa.func.ST_AsBinary(settlement.c.boundary))
        .where(settlement.c.hromada_id == hromada_id, settlement.c.boundary.is_not(None)))}
    rows = coverage_rows(hromada_id, boundary, villages, centres, to_metric, to_wgs)
    # Built from the declarations, not looked up in the metadata: on a fresh process only the tables
    # some import has built are there (the KeyError of a first `hromada demo load`).
    tables = {layer.table: build_table(layer) for layer in (COVERAGE_AREAS, SPEED_TILES, SPEED_TESTS, WIFI_HOTSPOTS)}
    changed = sum(sync_demo_rows(conn, tables[table], hromada_id, table_rows) for table, table_rows in rows.items())
    boundary_metric = shapely.transform(boundary, to_metric.transform, interleaved=False)
    raster_changed = _store_raster(conn, hromada_id, srid, boundary_metric, to_wgs)
    log.info("demo coverage of hromada %s: %d rows changed, raster %s", hromada_id, changed,
             "written" if raster_changed else "unchanged")
