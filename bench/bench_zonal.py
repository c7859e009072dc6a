"""White-spot zonal statistics: gis.zonal vs. exactextract on a 5,000 × 5,000 raster and all villages.

The demo hromada's villages (loaded with importers.demo into a bench database) are the zones; the
raster is a generated download-speed field (Mbit/s, with nodata holes) over the hromada in its
UCS-2000 TM zone. Both tools read the same GeoTIFF in this run and weight pixels by the share of
them inside the village; the script checks they agree within 1 % and prints the time ratio
ours / exactextract for the plain statistics (count, sum, mean) and for the white-spot class
shares (unserved / underserved / served pixels), against the target of ≤ 2×. Then, for scale,
the whole analysis (layers.coverage_analysis.analyse) of the demo hromada with that raster.
"""
import os
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import sqlalchemy as sa
from affine import Affine

from _common import SHARED_DATA, bench_database, median_seconds
from gis.crs import metric_srid_for_hromada
from gis.zonal import zonal_stats
from importers.demo import DEMO_KATOTTG, load_demo

SIZE = 5000
TARGET = 2.0


def speed_field(rows: int, cols: int) -> np.ndarray:
    """A smooth, seeded download-speed surface (Mbit/s) with nodata (-1) holes."""
    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:rows, 0:cols].astype("float32") / max(rows, cols)
    field = np.zeros((rows, cols), dtype="float32")
    for _ in range(6):
        cx, cy, width, peak = rng.random(), rng.random(), rng.uniform(0.05, 0.3), rng.uniform(20, 300)
        field = np.maximum(field, peak * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * width ** 2)))
    field += rng.random((rows, cols), dtype="float32") * 5
    for _ in range(40):  # holes the survey did not reach
        r, c, s = rng.integers(0, rows), rng.integers(0, cols), rng.integers(20, 200)
        field[r:r + s, c:c + s] = -1
    return field


def main() -> None:
    from exactextract import exact_extract

    with bench_database() as (url, engine), tempfile.TemporaryDirectory() as folder:
        os.environ["HROMADA_RASTER_DIR"] = str(Path(folder) / "store")  # not the project's var/rasters
        load_demo(engine, SHARED_DATA)
        with engine.connect() as conn:
            hromada_id = conn.execute(sa.text("SELECT id FROM hromada WHERE katottg = :k"),
                                      {"k": DEMO_KATOTTG}).scalar()
            srid = metric_srid_for_hromada(conn, hromada_id)
            bounds = conn.execute(sa.text(
                "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM "
                "(SELECT ST_Transform(boundary, :s) AS b FROM hromada WHERE id = :h) q"),
                {"s": srid, "h": hromada_id}).one()
            villages = gpd.GeoDataFrame.from_postgis(sa.text(
                "SELECT name_uk, ST_Transform(boundary, :s) AS geom FROM settlement "
                "WHERE hromada_id = :h AND boundary IS NOT NULL ORDER BY id"), conn,
                params={"s": srid, "h": hromada_id}, geom_col="geom", crs=f"EPSG:{srid}")
        west, south, east, north = bounds
        pixel = max(east - west, north - south) / SIZE
        transform = Affine(pixel, 0, west, 0, -pixel, north)
        speed = speed_field(SIZE, SIZE)
        classes = np.digitize(speed, [25, 100]).astype("int16")  # 0 unserved, 1 underserved, 2 served
        classes[speed < 0] = -1
        paths = {}
        for name, data, nodata in (("speed", speed, -1.0), ("classes", classes, -1)):
            paths[name] = Path(folder) / f"{name}.tif"
            with rasterio.open(paths[name], "w", driver="GTiff", width=SIZE, height=SIZE, count=1, dtype=data.dtype,
                               crs=f"EPSG:{srid}", transform=transform, nodata=nodata, tiled=True,
                               blockxsize=512, blockysize=512) as dst:
                dst.write(data, 1)
        zones = list(villages.geometry)
        print(f"raster {SIZE} × {SIZE}, {pixel:.2f} m pixels over the demo hromada; {len(zones)} villages")

        ours_stats = zonal_stats(paths["speed"], zones)
        theirs_stats = exact_extract(str(paths["speed"]), villages, ["count", "sum", "mean"], output="pandas")
        worst = max(abs(o[op] - t[op]) / abs(t[op])
                    for o, (_, t) in zip(ours_stats, theirs_stats.iterrows(), strict=True)
                    for op in ("count", "sum", "mean") if t[op])
        ours_classes = zonal_stats(paths["classes"], zones, categorical=True)
        theirs_classes = exact_extract(str(paths["classes"]), villages, ["unique", "frac", "count"], output="pandas")
        for o, (_, t) in zip(ours_classes, theirs_classes.iterrows(), strict=True):
            for value, frac in zip(t["unique"], t["frac"], strict=True):
                worst = max(worst, abs(o["by_value"].get(int(value), 0.0) - frac * t["count"]) / (frac * t["count"]))
        print(f"largest relative difference over villages and statistics: {100 * worst:.6f} % "
              f"({'within' if worst <= 0.01 else 'OUTSIDE'} 1 %)")

        for label, ours, theirs in (
                ("count, sum, mean", lambda: zonal_stats(paths["speed"], zones),
                 lambda: exact_extract(str(paths["speed"]), villages, ["count", "sum", "mean"], output="pandas")),
                ("white-spot class shares", lambda: zonal_stats(paths["classes"], zones, categorical=True),
                 lambda: exact_extract(str(paths["classes"]), villages, ["unique", "frac", "count"], output="pandas"))):
            t_ours, t_theirs = median_seconds(ours, repeat=5), median_seconds(theirs, repeat=5)
            print(f"{label}: median of 5: ours {t_ours:.3f} s, exactextract {t_theirs:.3f} s; "
                  f"ratio ours/exactextract: {t_ours / t_theirs:.2f} (target ≤ {TARGET:.0f})")

        # For scale: the whole white-spot analysis of the demo hromada with this raster as its evidence.
        from importers.rasters import import_raster
        from layers.coverage_analysis import analyse
        from layers.rasters import COVERAGE_RASTERS

        import_raster(engine, COVERAGE_RASTERS, paths["speed"])
        start = time.perf_counter()
        with engine.begin() as conn:
            analyse(conn, hromada_id, hex_size_m=1000)
        print(f"whole analysis (demo data, 14 villages, 1 km hexes, plus the {SIZE} × {SIZE} raster): "
              f"{time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
