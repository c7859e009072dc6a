"""The white-spot analysis of many hromadas on a real Dask cluster (layers.coverage_distributed).

A LocalCluster of two worker processes (1 GiB each) runs it against the demo database, with the Ookla
tiles taken from a Parquet file in Ookla's schema written here: the demo's own 40 tiles, shuffled among
synthetic tiles elsewhere in Ukraine and abroad (the world file's shape). The demo's tiles are deleted
from the database before the distributed run, so its results can only equal the single-process
``analyse()``'s if the file's tiles reached the right hromada through the workers' spatial join.
"""
from __future__ import annotations

import mercantile
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely
import sqlalchemy as sa
from click.testing import CliRunner

from gis.errors import InvalidInput, NotFound
from importers.demo import DEMO_KATOTTG
from layers import coverage_analysis as ca
from layers import coverage_distributed as cd
from layers.registry import LAYERS

# A hromada with one village and no evidence at all, far from the demo (near Lviv), drawn here.
EMPTY_KATOTTG = "UA46060000000099999"
EMPTY_BOX = (24.00, 49.80, 24.06, 49.83)
TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def dask_cluster():
    """Two worker processes, one thread and 1 GiB each: the shape of a small real cluster."""
    with cd.dask_client(workers=2, memory_limit="1GiB") as client:
        yield client


def add_empty_hromada(engine) -> int:
    envelope = f"ST_Multi(ST_MakeEnvelope({', '.join(map(str, EMPTY_BOX))}, 4326))"
    west, south, east, north = EMPTY_BOX
    village = f"ST_Multi(ST_MakeEnvelope({west + 0.01}, {south + 0.005}, {east - 0.01}, {north - 0.005}, 4326))"
    with engine.begin() as conn:
        hromada_id = conn.execute(sa.text(
            f"INSERT INTO hromada (katottg, name_uk, boundary) VALUES (:k, 'Порожня (тест)', {envelope}) "
            f"RETURNING id"), {"k": EMPTY_KATOTTG}).scalar()
        conn.execute(sa.text(
            f"INSERT INTO settlement (hromada_id, name_uk, population, source_ref, boundary) "
            f"VALUES (:h, 'Тихе', 300, 'test', {village})"), {"h": hromada_id})
    return hromada_id


def ookla_rows(engine, hromada_id: int) -> list[dict]:
    """The hromada's speed tiles in Ookla's schema, the tile as WKT that reads back to the same doubles."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT quadkey, ST_AsBinary(ST_GeometryN(geom, 1)) AS g, avg_d_kbps, avg_u_kbps, avg_lat_ms, tests, "
            "devices FROM speed_tile WHERE hromada_id = :h ORDER BY id"), {"h": hromada_id}).mappings().all()
    out = []
    for r in rows:
        tile = shapely.from_wkb(bytes(r["g"]))
        wkt = shapely.to_wkt(tile, rounding_precision=-1)
        assert shapely.from_wkt(wkt).equals_exact(tile, 0)
        out.append({**{k: r[k] for k in ("quadkey", "avg_d_kbps", "avg_u_kbps", "avg_lat_ms", "tests", "devices")},
                    "tile": wkt})
    return out


def synthetic_rows(count: int, avoid: list[tuple], seed: int = 16) -> list[dict]:
    """Zoom-16 tiles at random over Ukraine and its neighbours (Ookla's file is world-wide), none near
    the boxes in ``avoid``; a ring of them around the empty hromada, not touching it."""
    rng = np.random.default_rng(seed)
    tiles = {mercantile.tile(lon, lat, 16) for lon, lat in zip(rng.uniform(20, 42, count), rng.uniform(43, 54, count),
                                                               strict=True)}
    west, south, east, north = EMPTY_BOX
    for lon in np.linspace(west - 0.02, east + 0.02, 12):  # ≥ 0.01° off the boundary: a tile is ≈ 0.0055°
        tiles |= {mercantile.tile(lon, south - 0.015, 16), mercantile.tile(lon, north + 0.015, 16)}
    rows = []
    for t in sorted(tiles, key=lambda t: (t.x, t.y)):
        b = mercantile.bounds(t)
        box = shapely.box(b.west, b.south, b.east, b.north)
        if any(box.intersects(shapely.box(*a).buffer(0.005)) for a in avoid):
            continue
        down = int(rng.integers(500, 400_000))
        rows.append({"quadkey": mercantile.quadkey(t), "tile": shapely.to_wkt(box, rounding_precision=-1),
                     "avg_d_kbps": down, "avg_u_kbps": int(down * rng.uniform(0.05, 1)),
                     "avg_lat_ms": int(rng.integers(5, 90)), "tests": int(rng.integers(1, 50)),
                     "devices": int(rng.integers(1, 20))})
    return rows


def write_ookla(path, rows: list[dict], row_group_size: int = 500, seed: int = 1):
    """Ookla's open-data Parquet schema (synthetic rows), in several row groups: several partitions."""
    order = np.random.default_rng(seed).permutation(len(rows))
    rows = [rows[i] for i in order]
    table = pa.table({"quadkey": pa.array([r["quadkey"] for r in rows], pa.string()),
                      "tile": pa.array([r["tile"] for r in rows], pa.string()),
                      **{c: pa.array([r[c] for r in rows], pa.int64())
                         for c in ("avg_d_kbps", "avg_u_kbps", "avg_lat_ms", "tests", "devices")}})
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def results_by_zone(conn, run_id: int) -> dict:
    return {(kind, r["zone_key"]): r for kind in ca.ZONE_KINDS for r in ca.results(conn, run_id, kind)}


def test_distributed_run_equals_the_single_process_analysis(demo_db, dask_cluster, database_url, tmp_path):
    with demo_db.connect() as conn:
        demo_id = conn.execute(sa.text("SELECT id FROM hromada WHERE katottg = :k"), {"k": DEMO_KATOTTG}).scalar()
        demo_box = conn.execute(sa.text("SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM "
                                        "(SELECT boundary::box2d AS b FROM hromada WHERE id = :h) q"),
                                {"h": demo_id}).one()
    empty_id = add_empty_hromada(demo_db)
    with demo_db.begin() as conn:
        single = ca.analyse(conn, demo_id, address_layer=ca.address_layer_in(LAYERS))
    demo_tiles = ookla_rows(demo_db, demo_id)
    assert len(demo_tiles) == 40
    path = write_ookla(tmp_path / "2025-07-01_performance_fixed_tiles.parquet",
                       demo_tiles + synthetic_rows(3000, [tuple(demo_box), EMPTY_BOX]))
    assert pq.ParquetFile(path).num_row_groups >= 4
    with demo_db.begin() as conn:  # from here on only the file knows the demo's tiles
        conn.execute(sa.text("DELETE FROM speed_tile"))

    report = cd.analyse_all(dask_cluster, database_url, katottgs=[DEMO_KATOTTG, EMPTY_KATOTTG], ookla=path)

    assert not report.failed and report.workers == 2
    outcomes = {o.katottg: o for o in report.outcomes}
    assert outcomes[DEMO_KATOTTG].speed_tiles == 40 and outcomes[EMPTY_KATOTTG].speed_tiles == 0
    with demo_db.connect() as conn:
        runs = {h: conn.execute(sa.text("SELECT id FROM coverage_run WHERE hromada_id = :h ORDER BY id"),
                                {"h": h}).scalars().all() for h in (demo_id, empty_id)}
        assert runs[demo_id][0] == single and len(runs[demo_id]) == 2 and len(runs[empty_id]) == 1
        distributed = runs[demo_id][1]
        assert outcomes[DEMO_KATOTTG].run_id == distributed
        expected, got = results_by_zone(conn, single), results_by_zone(conn, distributed)
        single_run, distributed_run = ca.get_run(conn, single), ca.get_run(conn, distributed)
        empty = ca.latest_run(conn, empty_id)

    # Every zone — villages, hex cells, the hromada —, every share, to 1e-9.
    assert got.keys() == expected.keys() and len(got) > 100
    for zone, row in expected.items():
        other = got[zone]
        assert (other["name"], other["settlement_id"], other["area_m2"], other["population"]) == \
            (row["name"], row["settlement_id"], row["area_m2"], row["population"]), zone
        for column in ca._SHARE_COLUMNS:
            if row[column] is None:
                assert other[column] is None, (zone, column)
            else:
                assert other[column] == pytest.approx(row[column], abs=TOLERANCE, rel=0), (zone, column)
    assert distributed_run["evidence"] == single_run["evidence"]  # 40 tiles, tests, claims, the raster
    assert distributed_run["evidence"]["speed_tiles"] == 40 and distributed_run["evidence"]["rasters"]
    engine = distributed_run["parameters"].pop("engine")
    assert distributed_run["parameters"] == single_run["parameters"]
    assert engine["name"] == "dask.distributed" and engine["workers"] == 2
    assert engine["speed_tiles_from"] == f"file {path.name}"

    # The hromada with no evidence: one run, everything unknown, nothing decided by anything.
    assert empty["evidence"]["speed_tiles"] == 0 and empty["evidence"]["speed_tests"] == 0
    assert empty["evidence"]["coverage_areas"] == 0 and empty["evidence"]["rasters"] == []
    assert empty["summary"]["area_unknown"] == pytest.approx(1.0, abs=TOLERANCE)
    assert empty["summary"]["pop_unknown"] == pytest.approx(1.0, abs=TOLERANCE)
    assert all(empty["summary"][f"evidence_{k}"] == 0 for k in ca.EVIDENCE_KINDS)


def test_bad_input_is_a_clear_error_and_nothing_runs(demo_db, dask_cluster, database_url, tmp_path):
    unknown = "UA99999999999999999"
    with pytest.raises(NotFound) as error:
        cd.analyse_all(dask_cluster, database_url, katottgs=[DEMO_KATOTTG, unknown])
    assert unknown in error.value.uk and unknown in error.value.en and DEMO_KATOTTG not in error.value.en
    with pytest.raises(InvalidInput, match="UA followed by 17 digits"):
        cd.analyse_all(dask_cluster, database_url, katottgs=["Якушинці"])
    missing = tmp_path / "2025-07-01_performance_fixed_tiles.parquet"
    with pytest.raises(NotFound) as error:
        cd.analyse_all(dask_cluster, database_url, katottgs=[DEMO_KATOTTG], ookla=missing)
    assert str(missing) in error.value.uk and "does not exist" in error.value.en
    not_ookla = tmp_path / "other.parquet"
    pq.write_table(pa.table({"name": ["a"], "speed": [1]}), not_ookla)
    with pytest.raises(InvalidInput, match="not an Ookla tile file.*found: name, speed"):
        cd.analyse_all(dask_cluster, database_url, katottgs=[DEMO_KATOTTG], ookla=not_ookla)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(InvalidInput, match="Cannot read the Ookla file"):
        cd.analyse_all(dask_cluster, database_url, katottgs=[DEMO_KATOTTG], ookla=broken)
    with pytest.raises(InvalidInput, match="Hex size"):
        cd.analyse_all(dask_cluster, database_url, hex_size_m=5)
    with demo_db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM coverage_run")).scalar() == 0


def test_cli_runs_on_a_scheduler_and_names_what_failed(demo_db, dask_cluster, database_url, monkeypatch, tmp_path):
    from webmap.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    with demo_db.connect() as conn:
        demo_id = conn.execute(sa.text("SELECT id FROM hromada")).scalar_one()
    path = write_ookla(tmp_path / "tiles.parquet", ookla_rows(demo_db, demo_id), row_group_size=15)
    runner = CliRunner()
    address = dask_cluster.scheduler_info()["address"]
    done = runner.invoke(main, ["coverage", "analyse-all", "--scheduler", address, "--ookla", str(path),
                                "--katottg", DEMO_KATOTTG])
    assert done.exit_code == 0, done.output
    assert "dask.distributed" in done.output and "2 робочих процесів / workers" in done.output
    assert f"{DEMO_KATOTTG} Якушинецька сільська громада: розрахунок / run 1, 40 плиток / tiles" in done.output

    empty_id = add_empty_hromada(demo_db)
    with demo_db.begin() as conn:  # a hromada with no village boundary cannot be analysed: it alone fails
        conn.execute(sa.text("UPDATE settlement SET boundary = NULL, centre = ST_Centroid(boundary) "
                             "WHERE hromada_id = :h"), {"h": empty_id})
    failed = runner.invoke(main, ["coverage", "analyse-all", "--scheduler", address,
                                  "--katottg", f"{DEMO_KATOTTG},{EMPTY_KATOTTG}"])
    assert failed.exit_code == 1, failed.output
    assert "analysed: 1 з / of 2 громад / hromadas" in failed.output
    assert f"{EMPTY_KATOTTG} Порожня (тест): " in failed.output
    assert "has no settlements with boundaries" in failed.output and "Traceback" not in failed.output
    with demo_db.connect() as conn:
        engines = conn.execute(sa.text("SELECT parameters->'engine'->>'speed_tiles_from' FROM coverage_run "
                                       "ORDER BY id")).scalars().all()
    assert engines == ["file tiles.parquet", "table speed_tile"]
    both = runner.invoke(main, ["coverage", "analyse-all", "--scheduler", address, "--workers", "2"])
    assert both.exit_code == 1 and "Give either --scheduler or --workers" in both.output


def test_ookla_files_of_every_shape_give_the_same_tiles(tmp_path):
    """Ookla's Parquet with the WKT tile, with only the quadkey, GeoParquet and the shapefile are read
    alike; tiles off the hromadas' bounding box are dropped while reading."""
    import geopandas as gpd

    rows = synthetic_rows(400, [])
    bbox = (22.0, 44.0, 40.3, 52.5)
    wkt = write_ookla(tmp_path / "wkt.parquet", rows)
    pq.write_table(pq.read_table(wkt).drop_columns(["tile"]), tmp_path / "quadkey.parquet")
    frame = gpd.GeoDataFrame(pq.read_table(wkt).to_pandas().drop(columns="tile"),
                             geometry=gpd.GeoSeries.from_wkt(pq.read_table(wkt).column("tile").to_pylist()),
                             crs="EPSG:4326")
    frame.to_parquet(tmp_path / "geo.parquet")
    frame.to_crs("EPSG:3857").to_file(tmp_path / "tiles.shp")  # another CRS: transformed back while reading

    def tiles(name):
        source = cd.inspect_ookla(tmp_path / name)
        if source.kind == "vector":
            return cd._vector_chunk(gpd.read_file(source.path), source, bbox)
        return gpd.pd.concat([cd.read_row_group(piece, source, bbox) for piece in source.pieces])

    expected = tiles("wkt.parquet")
    assert 0 < len(expected) < len(rows)  # some were abroad
    for name, exact in (("quadkey.parquet", True), ("geo.parquet", True), ("tiles.shp", False)):
        got = tiles(name)
        assert list(got["avg_d_kbps"]) == list(expected["avg_d_kbps"]), name
        assert list(got["avg_u_kbps"]) == list(expected["avg_u_kbps"]), name
        if exact:
            assert all(shapely.equals_exact(got.geometry.values, expected.geometry.values, 0)), name
        else:  # the shapefile turned the rings clockwise, and went through Web Mercator and back
            assert all(shapely.equals_exact(shapely.normalize(got.geometry.values),
                                            shapely.normalize(expected.geometry.values), 1e-9)), name


def test_a_second_local_cluster_beside_another_starts_without_a_warning(dask_cluster):
    """Two analyses (or two test workers) at once: the schedulers' HTTP servers each take a free loopback
    port. On distributed's default 8787 the second found it taken and warned (an error in this suite)."""
    def http_addresses(dask_scheduler):
        return [socket.getsockname()[:2] for socket in dask_scheduler.http_server._sockets.values()]

    with cd.dask_client(workers=1, memory_limit="512MiB") as second:
        for client in (dask_cluster, second):
            (host, port), = client.run_on_scheduler(http_addresses)
            assert host == "127.0.0.1" and port != 8787
