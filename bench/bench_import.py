"""Importing files: `hromada import` vs. ogr2ogr (and geopandas.to_postgis), and memory on 1M points.

1. 200,000 polygons from a GeoPackage into the coverage-areas layer — our import validates, maps
   fields, checks the CRS, finds each polygon's hromada and writes with binary COPY — against
   `ogr2ogr -f PostgreSQL` with PG_USE_COPY=YES on the same file and database, paired ogr2ogr ours
   ogr2ogr ours …, the median of the rounds' ratios (target ≤ 1.0×), and geopandas.to_postgis as a
   second reference.
2. Peak memory (max RSS of a child process) importing 100,000 and 1,000,000 points: batched reading
   keeps it flat, so the ratio stays near 1.

``BENCH_POLYGONS`` (200,000), ``BENCH_IMPORT_ROUNDS`` (4); ``BENCH_IMPORT_MEMORY=0`` leaves out part 2.
"""
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from _common import ROOT, SHARED_DATA, bench_database, paired, timed
from importers.communities import load_communities
from importers.pipeline import ImportOptions, import_file
from layers.registry import get_layer

POLYGONS = int(os.environ.get("BENCH_POLYGONS", 200_000))
RUNS = int(os.environ.get("BENCH_IMPORT_ROUNDS", 4))  # rounds of ogr2ogr, ours
TECHNOLOGIES = np.array(["ftth", "xdsl", "docsis", "fwa", "3g", "4g", "5g"])


def synthetic_polygons(path: Path, n: int, seed: int = 1) -> None:
    """Small irregular quadrilaterals scattered over Ukraine, flagged as synthetic by their provider."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(23.0, 39.5, n)
    y = rng.uniform(45.5, 51.8, n)
    d = rng.uniform(0.002, 0.02, (n, 4))
    rings = np.stack([np.column_stack([x - d[:, 0], y - d[:, 1]]), np.column_stack([x + d[:, 2], y - d[:, 1]]),
                      np.column_stack([x + d[:, 2], y + d[:, 3]]), np.column_stack([x - d[:, 0], y + d[:, 3]]),
                      np.column_stack([x - d[:, 0], y - d[:, 1]])], axis=1)
    frame = gpd.GeoDataFrame({
        "provider": [f"synthetic-{i % 50}" for i in range(n)],
        "technology": TECHNOLOGIES[rng.integers(0, len(TECHNOLOGIES), n)],
        "down_mbps": rng.uniform(1, 1000, n).round(1), "up_mbps": rng.uniform(1, 500, n).round(1),
    }, geometry=shapely.polygons(rings), crs="EPSG:4326")
    pyogrio.write_dataframe(frame, path, layer="coverage", promote_to_multi=True)


def synthetic_points(path: Path, n: int, seed: int = 2) -> None:
    rng = np.random.default_rng(seed)
    frame = gpd.GeoDataFrame({"name": [f"synthetic point {i}" for i in range(n)],
                              "operator": np.where(rng.random(n) < 0.5, "A", "B")},
                             geometry=shapely.points(rng.uniform(23, 39.5, n), rng.uniform(45.5, 51.8, n)),
                             crs="EPSG:4326")
    pyogrio.write_dataframe(frame, path, layer="points")


def peak_rss_of_import(url: str, path: Path) -> float:
    """Max RSS in MB of a fresh process that imports ``path`` into the Wi-Fi layer (then rolls back)."""
    code = (f"import sys, resource; sys.path.insert(0, {str(ROOT)!r});"
            "from gis import db; from importers.pipeline import import_file, ImportOptions;"
            "from layers.registry import get_layer;"
            f"import_file(db.make_engine({url!r}), get_layer('wifi_hotspots'), {str(path)!r}, "
            "ImportOptions(dry_run=True));"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    layer = get_layer("coverage_areas")
    with tempfile.TemporaryDirectory(prefix="hromada-bench-") as folder, bench_database() as (url, engine):
        folder = Path(folder)
        load_communities(engine, SHARED_DATA / "ukraine" / "ukraine_hromadas.gpkg")
        gpkg = folder / "polygons.gpkg"
        synthetic_polygons(gpkg, POLYGONS)
        u = make_url(url)
        pg = f"PG:host={u.host} port={u.port} dbname={u.database} user={u.username} password={u.password}"

        def truncate():
            with engine.begin() as conn:
                conn.execute(sa.text("TRUNCATE coverage_area"))

        def ogr2ogr():
            subprocess.run(["ogr2ogr", "-f", "PostgreSQL", pg, str(gpkg), "coverage", "-nln", "bench_ogr", "-overwrite",
                            "-lco", "GEOMETRY_NAME=geom", "--config", "PG_USE_COPY", "YES"],
                           check=True, capture_output=True)

        result = paired(lambda: timed(ogr2ogr),
                        lambda: timed(lambda: import_file(engine, layer, gpkg, ImportOptions(progress=False))),
                        RUNS, setup=truncate)
        frame = pyogrio.read_dataframe(gpkg)
        to_postgis = timed(lambda: frame.to_postgis("bench_gpd", engine, if_exists="replace", chunksize=10_000))
        with engine.connect() as conn:
            counts = [conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
                      for t in ("coverage_area", "bench_ogr", "bench_gpd")]
        print(f"{POLYGONS} polygons loaded: ours {counts[0]}, ogr2ogr {counts[1]}, geopandas {counts[2]}")
        print("ogr2ogr s: " + ", ".join(f"{t:.2f}" for t in result.a))
        print("ours s:    " + ", ".join(f"{t:.2f}" for t in result.b))
        print(f"median ratio ours/ogr2ogr: {result.ratio:.2f} (target ≤ 1.0)")
        print(f"geopandas.to_postgis {to_postgis:.2f} s; ratio ours (median)/geopandas: "
              f"{statistics.median(result.b) / to_postgis:.2f}")

        if os.environ.get("BENCH_IMPORT_MEMORY", "1") == "0":
            return
        small, large = folder / "points_100k.gpkg", folder / "points_1m.gpkg"
        synthetic_points(small, 100_000)
        synthetic_points(large, 1_000_000)
        rss_small, rss_large = peak_rss_of_import(url, small), peak_rss_of_import(url, large)
        print(f"peak memory importing points: 100k {rss_small:.0f} MB, 1M {rss_large:.0f} MB, "
              f"ratio {rss_large / rss_small:.2f} (flat ≈ 1)")


if __name__ == "__main__":
    main()
