"""The white-spot analysis of every hromada on a Dask cluster: one worker against two.

Loads all 1,466 hromadas (``ukraine_hromadas.gpkg``) into a bench database and gives them flagged-synthetic
evidence of national size:

- settlements: ``SETTLEMENTS_PER_HROMADA`` discs (300–1,200 m, clipped to the hromada) at seeded random
  points of each hromada, with a population — the analysis needs settlement boundaries, and the real
  ones are not loaded for the whole country (source_ref ``synthetic:bench:N``, names «… (синт.)»);
- providers' claims: per hromada a 4G operator's disc (6 km) and fibre over one settlement;
- a national coverage raster (modelled 4G download/upload, Mbit/s, 0.01° pixels, EPSG:4326, with
  nodata holes), read by every worker from the one raster folder;
- the Ookla file: ``HROMADA_BENCH_OOKLA_TILES`` zoom-16 tiles (default 200,000: Ukraine's fixed-network
  file holds some 150–250k a quarter) in Ookla's Parquet schema (quadkey, WKT ``tile``, avg_d_kbps …),
  clustered around the settlements, in row groups of 25,000; flagged synthetic in its name and in the
  Parquet metadata.

Then ``layers.coverage_distributed.analyse_all`` runs on a LocalCluster of 1 worker (A) and of 2 workers
(B), in turns A B A B (``HROMADA_BENCH_ROUNDS``, default 2), each run on emptied coverage tables; the time
is the job's wall time (the Ookla file read, joined and shuffled on the workers, every hromada analysed
and stored), without starting the cluster. It prints each run, the median times and the median speed-up
A/B. ``HROMADA_BENCH_DASK_HROMADAS`` analyses only that many hromadas (spread evenly over the list by
KATOTTG) when the whole country takes too long on a small machine; the Ookla file stays national.
"""
import importlib
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import mercantile
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import rasterio
import shapely
import sqlalchemy as sa
from affine import Affine
from rasterio.warp import Resampling, reproject

from _common import SHARED_DATA, bench_database
from importers.communities import load_communities

GPKG = SHARED_DATA / "ukraine" / "ukraine_hromadas.gpkg"
TILES = int(os.environ.get("HROMADA_BENCH_OOKLA_TILES", 200_000))
HROMADAS = int(os.environ.get("HROMADA_BENCH_DASK_HROMADAS", 0)) or None  # None: all
ROUNDS = int(os.environ.get("HROMADA_BENCH_ROUNDS", 2))
SETTLEMENTS_PER_HROMADA = 12
ROW_GROUP = 25_000
RASTER_DEG = 0.01
SEED = 1466


def synthetic_settlements(engine) -> int:
    with engine.begin() as conn:
        return conn.execute(sa.text("""
            INSERT INTO settlement (hromada_id, name_uk, kind, population, source_ref, boundary, centre)
            SELECT h.id, format('Поселення %s-%s (синт.)', h.id, p.path[1]), 'village',
                   200 + abs(hashtext(h.katottg || p.path[1])) % 4800, 'synthetic:bench:' || p.path[1],
                   ST_Multi(ST_CollectionExtract(ST_Intersection(
                       ST_Buffer(p.geom::geography, 300 + abs(hashtext(p.path[1] || h.katottg)) % 900)::geometry,
                       h.boundary), 3)),
                   p.geom
            FROM hromada h, ST_Dump(ST_GeneratePoints(h.boundary, :n, :seed)) p"""),
            {"n": SETTLEMENTS_PER_HROMADA, "seed": SEED}).rowcount


def synthetic_claims(engine) -> int:
    with engine.begin() as conn:
        mobile = conn.execute(sa.text("""
            INSERT INTO coverage_area (hromada_id, provider, technology, down_mbps, up_mbps, geom, source)
            SELECT h.id, 'Мобільний оператор (синт.)', '4g', 40, 8,
                   ST_Multi(ST_CollectionExtract(ST_Intersection(
                       ST_Buffer(ST_PointOnSurface(h.boundary)::geography, 6000)::geometry, h.boundary), 3)),
                   'synthetic:bench'
            FROM hromada h""")).rowcount
        fibre = conn.execute(sa.text("""
            INSERT INTO coverage_area (hromada_id, provider, technology, down_mbps, up_mbps, geom, source)
            SELECT DISTINCT ON (s.hromada_id) s.hromada_id, 'Оптика (синт.)', 'ftth', NULL, NULL, s.boundary,
                   'synthetic:bench'
            FROM settlement s WHERE s.boundary IS NOT NULL AND NOT ST_IsEmpty(s.boundary)
            ORDER BY s.hromada_id, s.population DESC""")).rowcount
    return mobile + fibre


def national_raster(folder: Path) -> Path:
    """Modelled 4G speeds over Ukraine: coarse seeded field, smoothed onto 0.01° pixels, with holes."""
    west, south, east, north = 22.0, 44.0, 40.3, 52.5
    cols, rows = round((east - west) / RASTER_DEG), round((north - south) / RASTER_DEG)
    rng = np.random.default_rng(SEED)
    coarse = rng.lognormal(np.log(30), 0.9, (rows // 25 + 1, cols // 25 + 1)).astype("float32")
    down = np.zeros((rows, cols), "float32")
    reproject(coarse, down, src_transform=Affine(RASTER_DEG * 25, 0, west, 0, -RASTER_DEG * 25, north),
              src_crs="EPSG:4326", dst_transform=Affine(RASTER_DEG, 0, west, 0, -RASTER_DEG, north),
              dst_crs="EPSG:4326", resampling=Resampling.bilinear)
    for _ in range(300):  # places the model does not reach
        r, c, s = rng.integers(0, rows), rng.integers(0, cols), rng.integers(5, 40)
        down[r:r + s, c:c + s] = -1
    up = np.where(down >= 0, down / 4, -1).astype("float32")
    path = folder / "synthetic_national_4g_speed.tif"
    with rasterio.open(path, "w", driver="GTiff", width=cols, height=rows, count=2, dtype="float32",
                       crs="EPSG:4326", transform=Affine(RASTER_DEG, 0, west, 0, -RASTER_DEG, north), nodata=-1,
                       tiled=True, blockxsize=256, blockysize=256, compress="deflate") as dst:
        dst.write(np.stack([down, up]))
        for band in (1, 2):
            dst.set_band_unit(band, "Mbps")
            dst.set_band_description(band, "synthetic modelled 4G speed (bench)")
    return path


def synthetic_ookla(engine, path: Path, count: int) -> int:
    """``count`` distinct zoom-16 tiles around the settlements' centres (as Ookla's cluster where people
    test), Ookla's Parquet schema, flagged synthetic."""
    with engine.connect() as conn:
        centres = np.array(conn.execute(sa.text(
            "SELECT ST_X(centre), ST_Y(centre) FROM settlement WHERE centre IS NOT NULL ORDER BY id")).all())
    rng = np.random.default_rng(SEED)
    keys: dict[str, mercantile.Tile] = {}
    while len(keys) < count:
        pick = centres[rng.integers(0, len(centres), count)]
        lon = pick[:, 0] + rng.normal(0, 0.02, len(pick))
        lat = pick[:, 1] + rng.normal(0, 0.013, len(pick))
        for x, y in zip(lon, lat, strict=True):
            tile = mercantile.tile(x, y, 16)
            keys.setdefault(mercantile.quadkey(tile), tile)
            if len(keys) == count:
                break
    quadkeys = list(keys)
    bounds = np.array([tuple(mercantile.bounds(keys[k])) for k in quadkeys])
    tiles = shapely.to_wkt(shapely.box(bounds[:, 0], bounds[:, 1], bounds[:, 2], bounds[:, 3]))
    down = np.round(rng.lognormal(np.log(60_000), 1.0, count)).astype("int64")
    table = pa.table({"quadkey": quadkeys, "tile": tiles, "avg_d_kbps": down,
                      "avg_u_kbps": np.round(down * rng.uniform(0.1, 0.9, count)).astype("int64"),
                      "avg_lat_ms": rng.integers(4, 80, count), "tests": rng.integers(1, 60, count),
                      "devices": rng.integers(1, 25, count)})
    table = table.replace_schema_metadata(
        {"hromada_gis": "synthetic Ookla-schema tiles, bench/bench_coverage_distributed.py"})
    pq.write_table(table, path, row_group_size=ROW_GROUP)
    return count


def main() -> None:
    from distributed import wait

    from importers.rasters import import_raster
    from layers.coverage_distributed import (
        RANGES_PER_WORKER,
        analyse_all,
        dask_client,
        hromada_parts,
        inspect_ookla,
        ookla_ranges,
    )
    from layers.rasters import COVERAGE_RASTERS

    with bench_database() as (url, engine), tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        os.environ["HROMADA_RASTER_DIR"] = str(folder / "rasters")  # the workers' shared raster folder
        start = time.perf_counter()
        load_communities(engine, GPKG)
        settlements = synthetic_settlements(engine)
        claims = synthetic_claims(engine)
        import_raster(engine, COVERAGE_RASTERS, national_raster(folder), title="Синтетична модель 4G (bench)")
        ookla = folder / "synthetic_2025-07-01_performance_fixed_tiles.parquet"
        synthetic_ookla(engine, ookla, TILES)
        with engine.connect() as conn:
            katottgs = conn.execute(sa.text("SELECT katottg FROM hromada ORDER BY katottg")).scalars().all()
        if HROMADAS:
            katottgs = [katottgs[i] for i in np.linspace(0, len(katottgs) - 1, HROMADAS).round().astype(int)]
        print(f"national synthetic data: {len(katottgs)} hromadas analysed (of the 1,466 loaded), {settlements} "
              f"settlements, {claims} claims, a {RASTER_DEG}° national raster, an Ookla file of {TILES:,} tiles "
              f"({ookla.stat().st_size / 1e6:.0f} MB, {pq.ParquetFile(ookla).num_row_groups} row groups); "
              f"prepared in {time.perf_counter() - start:.0f} s")

        source = inspect_ookla(ookla)
        with engine.connect() as conn:  # every hromada's pieces: the file's stage at national size
            parts = hromada_parts(conn, conn.execute(sa.text("SELECT id FROM hromada")).scalars().all())

        def run(workers: int) -> tuple[float, float]:
            with engine.begin() as conn:
                conn.execute(sa.text("TRUNCATE coverage_run CASCADE"))
            load = os.getloadavg()[0]  # this machine may be shared: what else ran shows here
            with dask_client(workers=workers) as client:
                # Imports done before the clock starts, as on a cluster that has been up for a while.
                for module in ("layers.registry", "layers.coverage_distributed", "dask_geopandas"):
                    client.run(importlib.import_module, module)
                start = time.perf_counter()
                ranges = ookla_ranges(client, source, parts, workers * RANGES_PER_WORKER)
                wait(ranges.futures)
                stage = time.perf_counter() - start
                del ranges
                report = analyse_all(client, url, katottgs=katottgs, ookla=ookla)
            if report.failed:
                raise SystemExit(f"{len(report.failed)} hromadas failed, first: {report.failed[0]}")
            tiles = sum(o.speed_tiles for o in report.outcomes)
            busiest = max(report.outcomes, key=lambda o: o.seconds)
            per_worker = sorted(Counter(o.worker for o in report.outcomes).values(), reverse=True)
            busy = sum(o.seconds for o in report.outcomes)
            print(f"  {workers} worker(s): Ookla file → 1,466 hromadas {stage:5.1f} s; "
                  f"whole job {report.seconds:7.1f} s "
                  f"— {len(report.outcomes)} runs ({'/'.join(map(str, per_worker))} per worker), {tiles:,} tiles "
                  f"handed to them; hromada tasks {busy:.0f} s in all, slowest {busiest.katottg} "
                  f"{busiest.seconds:.1f} s; load average before {load:.1f}", flush=True)
            return stage, report.seconds

        one, two = [], []
        for _ in range(ROUNDS):  # A B A B: a slow spell of the machine falls on both
            one.append(run(1))
            two.append(run(2))
        for i, what in ((1, f"whole job, {len(katottgs)} hromadas"), (0, "Ookla file stage, all 1,466 hromadas")):
            a, b = [r[i] for r in one], [r[i] for r in two]
            ratios = [x / y for x, y in zip(a, b, strict=True)]
            print(f"{what}: median of {ROUNDS}: 1 worker {statistics.median(a):.1f} s, 2 workers "
                  f"{statistics.median(b):.1f} s; speed-up 1 → 2 workers (median of the rounds' ratios) "
                  f"{statistics.median(ratios):.2f}× (rounds: {', '.join(f'{r:.2f}' for r in ratios)})")
        print(f"({os.cpu_count()} cores, PostgreSQL and the client on the same machine)")


if __name__ == "__main__":
    main()
