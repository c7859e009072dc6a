"""White spots of internet coverage on a hand-built hromada whose answers are worked out by hand.

The hromada is a 4 × 2 km rectangle drawn in UCS-2000 / Ukraine TM zone 9 (EPSG:6383, the zone
the analysis picks at 28.3° E), so areas are known exactly. Coordinates below are metres from its
south-west corner (x east, y north):

    y=2000 +---------------------+---------------------+
           | Альфа (pop. 1000)   |  no settlement      |
           |  FTTH claim x<1000  |  raster only        |
           |  3G claim (all)     |                     |
           |   test (1500,1500)  |                     |
    y=1000 |  tile x 500…1500    +---------------------+
           |  10/1 Mbit/s        | Бета (pop. 400)     |
           |                     | 4G claim x<2500     |
    y=0    +---------------------+---------------------+
          x=0                  x=2000                x=4000

The raster (100 m pixels, offset by 50 m so zone edges cut pixels) says served (150/30) west of
x=2950, underserved (40/5) east of it, and nothing for 3450 < x < 3650.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio
import shapely
import sqlalchemy as sa
from affine import Affine
from click.testing import CliRunner
from pyproj import Transformer

from gis import hromadas
from gis.errors import InvalidInput, NotFound, Unprocessable
from gis.zonal import RasterArray, coverage, zonal_stats
from importers.rasters import import_raster
from layers import coverage_analysis as ca
from layers.rasters import COVERAGE_RASTERS
from layers.registry import get_layer

SRID = 6383
KATOTTG = "UA05020310000099999"
TO_METRIC = Transformer.from_crs("EPSG:4326", f"EPSG:{SRID}", always_xy=True)
X0, Y0 = (round(v) for v in TO_METRIC.transform(28.3, 49.2))
RADIUS = 100.0
# Area of a speed test's disc as GEOS draws it (16 segments a quarter), as PostGIS does.
DISC = shapely.Point(0, 0).buffer(RADIUS, quad_segs=16).area


def box(x1, y1, x2, y2) -> str:
    return shapely.box(X0 + x1, Y0 + y1, X0 + x2, Y0 + y2).wkt


def metric(sql_geom: str) -> str:
    return f"ST_Multi(ST_Transform(ST_GeomFromText('{sql_geom}', {SRID}), 4326))"


def write_raster(path, *, unit="Mbps", nodata_cols=(15, 16)):
    cols = rows = 21
    down = np.where(np.arange(cols) < 10, 150.0, 40.0)[None, :].repeat(rows, axis=0).astype("float32")
    up = np.where(np.arange(cols) < 10, 30.0, 5.0)[None, :].repeat(rows, axis=0).astype("float32")
    for c in nodata_cols:
        down[:, c] = -1
        up[:, c] = -1
    with rasterio.open(path, "w", driver="GTiff", width=cols, height=rows, count=2, dtype="float32",
                       crs=f"EPSG:{SRID}", transform=Affine(100, 0, X0 + 1950, 0, -100, Y0 + 2050),
                       nodata=-1) as dst:
        dst.write(down, 1)
        dst.write(up, 2)
        dst.set_band_unit(1, unit)
        dst.set_band_unit(2, unit)
    return path


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("HROMADA_RASTER_DIR", str(tmp_path / "store"))
    return tmp_path / "store"


@pytest.fixture
def case(clean_db, tmp_path, store):
    """The hand-built hromada with its evidence; returns its id."""
    with clean_db.begin() as conn:
        hromada_id = conn.execute(sa.text(
            f"INSERT INTO hromada (katottg, name_uk, boundary) VALUES (:k, 'Тестова', {metric(box(0, 0, 4000, 2000))}) "
            "RETURNING id"), {"k": KATOTTG}).scalar()
        for name, geom, population in (("Альфа", box(0, 0, 2000, 2000), 1000),
                                       ("Бета", box(2000, 0, 4000, 1000), 400)):
            conn.execute(sa.text(
                f"INSERT INTO settlement (hromada_id, name_uk, population, source_ref, boundary) "
                f"VALUES (:h, :n, :p, :n, {metric(geom)})"), {"h": hromada_id, "n": name, "p": population})
        for provider, tech, down, up, geom in (("Оптика", "ftth", 500, 500, box(0, 0, 1000, 2000)),
                                               ("Мобільний", "3g", None, None, box(0, 0, 2000, 2000)),
                                               ("Мобільний", "4g", 30, 5, box(2000, 0, 2500, 1000))):
            conn.execute(sa.text(
                f"INSERT INTO coverage_area (hromada_id, provider, technology, down_mbps, up_mbps, geom) "
                f"VALUES (:h, :p, :t, :d, :u, {metric(geom)})"), {"h": hromada_id, "p": provider, "t": tech,
                                                                   "d": down, "u": up})
        conn.execute(sa.text(
            f"INSERT INTO speed_tile (hromada_id, quadkey, avg_d_kbps, avg_u_kbps, geom) "
            f"VALUES (:h, '0', 10000, 1000, {metric(box(500, 0, 1500, 1000))})"), {"h": hromada_id})
        conn.execute(sa.text(
            f"INSERT INTO speed_test (hromada_id, down_kbps, up_kbps, geom) VALUES (:h, 50000, 10000, "
            f"ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), {SRID}), 4326))"),
            {"h": hromada_id, "x": X0 + 1500, "y": Y0 + 1500})
    import_raster(clean_db, COVERAGE_RASTERS, write_raster(tmp_path / "speed.tif"))
    return hromada_id


def run(engine, hromada_id, **kwargs) -> int:
    kwargs.setdefault("test_radius_m", RADIUS)
    kwargs.setdefault("hex_size_m", 500)
    with engine.begin() as conn:
        return ca.analyse(conn, hromada_id, **kwargs)


def by_name(engine, run_id, kind="settlement") -> dict[str, dict]:
    with engine.connect() as conn:
        return {r["name"] if kind != "hex" else r["zone_key"]: r for r in ca.results(conn, run_id, kind)}


def shares(row, prefix="area") -> dict:
    return {c: row[f"{prefix}_{c}"] for c in ("unserved", "underserved", "served", "unknown")}


def test_measurements_beat_claims_and_the_best_claim_wins(case, clean_db):
    alpha = by_name(clean_db, run(clean_db, case))["Альфа"]
    area = 2000 * 2000
    # FTTH (served) beats 3G west of x=1000 except where the tile measured 10/1; the speed test's disc
    # (50/10: underserved) beats the 3G claim; the rest of 3G is unserved.
    expected = {"served": (2_000_000 - 500_000) / area, "underserved": DISC / area,
                "unserved": (1_000_000 + 1_500_000 - DISC) / area, "unknown": 0.0}
    assert shares(alpha) == pytest.approx(expected, abs=1e-6)
    assert alpha["area_m2"] == pytest.approx(area, rel=1e-6)
    assert alpha["evidence_measurement"] == pytest.approx((1_000_000 + DISC) / area, abs=1e-6)
    assert alpha["evidence_claim"] == pytest.approx((3_000_000 - DISC) / area, abs=1e-6)
    assert alpha["evidence_raster"] == pytest.approx(0, abs=1e-9)  # the raster reaches x<2000 but claims rule there
    # Population spread evenly: its shares are the area shares.
    assert shares(alpha, "pop") == pytest.approx(expected, abs=1e-6)
    assert alpha["population"] == pytest.approx(1000)
    assert alpha["gap_area"] == pytest.approx(1 - expected["served"], abs=1e-6)


def test_raster_only_areas_use_coverage_weighted_zonal_statistics(case, clean_db):
    beta = by_name(clean_db, run(clean_db, case))["Бета"]
    area = 2000 * 1000
    # 4G claim (30/5) on x<2500 beats the raster; the raster's pixels are cut by the zone's edges.
    expected = {"served": 450_000 / area, "underserved": (500_000 + 1_050_000 - 200_000) / area,
                "unserved": 0.0, "unknown": 200_000 / area}
    assert shares(beta) == pytest.approx(expected, abs=1e-6)
    assert beta["evidence_claim"] == pytest.approx(0.25, abs=1e-6)
    assert beta["evidence_raster"] == pytest.approx((450_000 + 850_000) / area, abs=1e-6)
    assert beta["evidence_measurement"] == pytest.approx(0, abs=1e-9)


def test_unknown_where_nothing_says_and_shares_add_up(case, clean_db, tmp_path):
    with clean_db.begin() as conn:
        conn.execute(sa.text("DELETE FROM raster_dataset"))
    run_id = run(clean_db, case)
    beta = by_name(clean_db, run_id)["Бета"]
    assert shares(beta) == pytest.approx({"served": 0, "underserved": 0.25, "unserved": 0, "unknown": 0.75},
                                         abs=1e-6)
    with clean_db.connect() as conn:
        whole = ca.latest_run(conn, case)["summary"]
        hexes = ca.results(conn, run_id, "hex")
    # Hromada: Альфа as above, Бета a quarter underserved, the rest (3/8 of it) unknown.
    assert whole["area_unknown"] == pytest.approx((1_500_000 + 2_000_000) / 8_000_000, abs=1e-6)
    for row in [beta, whole, *hexes]:
        assert sum(shares(row).values()) == pytest.approx(1, abs=1e-9)
        assert all(v >= 0 for v in shares(row).values())


def test_hex_cells_add_up_to_the_hromada(case, clean_db):
    run_id = run(clean_db, case, hex_size_m=500)
    with clean_db.connect() as conn:
        hexes = ca.results(conn, run_id, "hex")
        whole = ca.latest_run(conn, case)["summary"]
        settlements = ca.results(conn, run_id, "settlement")
    hex_area = 1.5 * math.sqrt(3) * 500 ** 2
    assert len(hexes) >= 8_000_000 / hex_area  # edge cells are clipped, so at least that many
    assert sum(h["area_m2"] for h in hexes) == pytest.approx(8_000_000, rel=1e-6)
    for c in ("unserved", "underserved", "served", "unknown"):
        assert sum(h["area_m2"] * h[f"area_{c}"] for h in hexes) == pytest.approx(
            8_000_000 * whole[f"area_{c}"], rel=1e-6, abs=1)
    # People live where the settlements are, at each one's density.
    assert sum(h["population"] for h in hexes) == pytest.approx(1400, rel=1e-6)
    peopled = [h for h in hexes if h["population"]]
    for c in ("unserved", "underserved", "served", "unknown"):
        assert sum(h["population"] * h[f"pop_{c}"] for h in peopled) == pytest.approx(
            sum(s["population"] * s[f"pop_{c}"] for s in settlements), rel=1e-6, abs=1e-6)
    assert all(h["pop_served"] is None for h in hexes if not h["population"])
    assert whole["population"] == pytest.approx(1400)


def test_population_follows_address_points_when_there_are_some(case, clean_db):
    # Stand-in address points (any Point layer serves): three in the FTTH-only part, one in the tile.
    with clean_db.begin() as conn:
        for x, y in ((100, 1500), (300, 1800), (900, 1900), (1200, 500)):
            conn.execute(sa.text(
                f"INSERT INTO wifi_hotspot (hromada_id, name, geom) "
                f"VALUES (:h, 'адреса', ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), {SRID}), 4326))"),
                {"h": case, "x": X0 + x, "y": Y0 + y})
    run_id = run(clean_db, case, address_layer=get_layer("wifi_hotspots"))
    rows = by_name(clean_db, run_id)
    assert shares(rows["Альфа"], "pop") == pytest.approx(
        {"served": 0.75, "unserved": 0.25, "underserved": 0, "unknown": 0})
    # Бета has no address points: even spread, so its population shares are its area shares.
    assert shares(rows["Бета"], "pop") == pytest.approx(shares(rows["Бета"]), abs=1e-9)
    with clean_db.connect() as conn:
        run_row = ca.latest_run(conn, case)
    assert run_row["evidence"]["address_points"] == 4
    assert run_row["parameters"]["population_weighting"] == "address points"


def test_rerun_stores_a_new_run_with_its_date_and_evidence(case, clean_db, tmp_path):
    first = run(clean_db, case)
    with clean_db.begin() as conn:  # a new measurement: Бета's east end tested at 200/50
        conn.execute(sa.text(
            f"INSERT INTO speed_tile (hromada_id, quadkey, avg_d_kbps, avg_u_kbps, geom) "
            f"VALUES (:h, '1', 200000, 50000, {metric(box(3500, 0, 4000, 1000))})"), {"h": case})
    import_raster(clean_db, COVERAGE_RASTERS, write_raster(tmp_path / "signal.tif", unit="dBm"))
    second = run(clean_db, case)
    assert second != first
    with clean_db.connect() as conn:
        latest = ca.latest_run(conn, case)
        old = ca.get_run(conn, first)
    assert latest["id"] == second and latest["computed_at"] > old["computed_at"]
    assert old["evidence"]["speed_tiles"] == 1 and latest["evidence"]["speed_tiles"] == 2
    assert latest["evidence"]["speed_tests"] == 1 and latest["evidence"]["coverage_areas"] == 3
    assert [r["units"] for r in latest["evidence"]["rasters"]] == ["Mbit/s"]
    assert [r["reason"] for r in latest["evidence"]["rasters_skipped"]] == ["unit 'dBm' is not a speed"]
    assert latest["parameters"]["test_radius_m"] == RADIUS and latest["parameters"]["hex_size_m"] == 500
    assert latest["parameters"]["unserved_below_mbps"] == [25, 3]
    before, after = by_name(clean_db, first)["Бета"], by_name(clean_db, second)["Бета"]
    # x 3500…4000 is now measured served: it was underserved by the raster, but nodata on 3500…3650.
    assert after["area_served"] - before["area_served"] == pytest.approx(500_000 / 2_000_000, abs=1e-6)
    assert after["area_unknown"] == pytest.approx(before["area_unknown"] - 150_000 / 2_000_000, abs=1e-6)
    assert after["evidence_measurement"] == pytest.approx(0.25, abs=1e-6)


def test_geojson_and_csv(case, clean_db):
    run_id = run(clean_db, case)
    with clean_db.connect() as conn:
        collection = ca.results_geojson(conn, run_id, "settlement")
        text = ca.results_csv(conn, run_id, "hex", headings="uk")
        hexes = ca.results(conn, run_id, "hex")
    names = {f["properties"]["name"] for f in collection["features"]}
    assert names == {"Альфа", "Бета"}
    feature = collection["features"][0]
    assert feature["geometry"]["type"] == "MultiPolygon"
    lon, lat = feature["geometry"]["coordinates"][0][0][0]
    assert 28.2 < lon < 28.4 and 49.1 < lat < 49.3
    # Worst gap first: 67.5 % of Бета's people lack 100/20, 62.5 % of Альфа's.
    assert [f["properties"]["name"] for f in collection["features"]] == ["Бета", "Альфа"]
    assert [f["properties"]["gap_population"] for f in collection["features"]] == pytest.approx([0.675, 0.625])
    lines = text.strip().splitlines()
    assert lines[0].startswith("Розрахунок,Тип зони,Код зони") and len(lines) == len(hexes) + 1


def test_bad_input_is_refused_clearly(case, clean_db):
    with clean_db.begin() as conn:
        with pytest.raises(InvalidInput, match="between 100 and 20000"):
            ca.analyse(conn, case, hex_size_m=5)
        big = conn.execute(sa.text(
            "INSERT INTO hromada (katottg, name_uk, boundary) VALUES ('UA05020310000099998', 'Велика', "
            "ST_Multi(ST_MakeEnvelope(28, 49, 30, 50, 4326))) RETURNING id")).scalar()
        with pytest.raises(InvalidInput, match="choose a larger size"):
            ca.analyse(conn, big, hex_size_m=100)
        with pytest.raises(InvalidInput, match="Speed-test radius"):
            ca.analyse(conn, case, test_radius_m=-1)
        with pytest.raises(NotFound):
            ca.analyse(conn, case + 100)
        with pytest.raises(NotFound):
            hromadas.hromada_id(conn, "UA00000000000000000")
        with pytest.raises(InvalidInput):
            ca.results(conn, 1, "county")
        conn.execute(sa.text("DELETE FROM settlement"))
        with pytest.raises(Unprocessable, match="no settlements"):
            ca.analyse(conn, case)


def test_cli_analyses_and_summarises(case, clean_db, database_url, monkeypatch):
    from webmap.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    done = runner.invoke(main, ["coverage", "analyse", "--hromada", KATOTTG, "--hex-size", "500",
                                "--test-radius", "100"])
    assert done.exit_code == 0, done.output
    assert "Альфа" in done.output and "1 speed tiles" in done.output
    with clean_db.connect() as conn:
        latest = ca.latest_run(conn, case)
    assert latest["hex_size_m"] == 500
    alpha = by_name(clean_db, latest["id"])["Альфа"]
    assert f"{100 * alpha['gap_area']:5.1f} %" in done.output
    bad = runner.invoke(main, ["coverage", "analyse", "--hromada", KATOTTG, "--hex-size", "10"])
    assert bad.exit_code == 1 and "Hex size" in bad.output and "Traceback" not in bad.output
    unknown = runner.invoke(main, ["coverage", "analyse", "--hromada", "UA00000000000000000"])
    assert unknown.exit_code == 1 and "not found" in unknown.output


# --- zonal statistics against exactextract --------------------------------------------------------

def test_coverage_fractions_are_exact_on_simple_shapes():
    transform = Affine(10, 0, 0, 0, -10, 100)  # 10 × 10 pixels of 10 m
    half = coverage(shapely.box(5, 0, 100, 100), transform, (10, 10))
    assert half.fractions[:, 0] == pytest.approx(0.5) and half.fractions[:, 1:] == pytest.approx(1)
    ring = shapely.box(0, 0, 100, 100).difference(shapely.box(25, 25, 75, 75))
    assert coverage(ring, transform, (10, 10)).fractions.sum() * 100 == pytest.approx(ring.area)
    assert coverage(shapely.box(200, 200, 300, 300), transform, (10, 10)) is None
    stats = zonal_stats(RasterArray(np.arange(100.0).reshape(10, 10), transform), [shapely.box(0, 90, 20, 100)])
    assert stats[0]["count"] == pytest.approx(2) and stats[0]["mean"] == pytest.approx(0.5)


def test_zonal_stats_agree_with_exactextract(tmp_path):
    import geopandas as gpd
    from exactextract import exact_extract

    rng = np.random.default_rng(7)
    data = (rng.random((240, 320)) * 200).astype("float32")
    data[50:70, 100:180] = -9999  # a nodata block the zones cut through
    transform = Affine(7.5, 0, X0, 0, -7.5, Y0 + 1800)
    path = tmp_path / "r.tif"
    with rasterio.open(path, "w", driver="GTiff", width=320, height=240, count=1, dtype="float32",
                       crs=f"EPSG:{SRID}", transform=transform, nodata=-9999) as dst:
        dst.write(data, 1)
    centre = shapely.Point(X0 + 1200, Y0 + 900)
    zones = [centre.buffer(500), centre.buffer(800).difference(centre.buffer(200)),
             shapely.Polygon([(X0 - 300, Y0 + 100), (X0 + 2000, Y0 + 1234.5), (X0 + 900, Y0 + 2100)]),
             shapely.box(X0 + 3.3, Y0 + 3.3, X0 + 2396.1, Y0 + 1796.2)]
    ours = zonal_stats(path, zones)
    frame = gpd.GeoDataFrame({"zone": range(len(zones))}, geometry=zones, crs=f"EPSG:{SRID}")
    theirs = exact_extract(str(path), frame, ["count", "sum", "mean"], output="pandas")
    for mine, (_, ref) in zip(ours, theirs.iterrows(), strict=True):
        for op in ("count", "sum", "mean"):
            assert mine[op] == pytest.approx(ref[op], rel=0.01)
    # Categorical shares too (the white-spot classes): our "by_value" vs exactextract's frac × count.
    classes = np.digitize(data, [25, 100]).astype("int16")
    classes[data == -9999] = -1
    cls_path = tmp_path / "classes.tif"
    with rasterio.open(cls_path, "w", driver="GTiff", width=320, height=240, count=1, dtype="int16",
                       crs=f"EPSG:{SRID}", transform=transform, nodata=-1) as dst:
        dst.write(classes, 1)
    ours = zonal_stats(cls_path, zones, categorical=True)
    theirs = exact_extract(str(cls_path), frame, ["unique", "frac", "count"], output="pandas")
    for mine, (_, ref) in zip(ours, theirs.iterrows(), strict=True):
        reference = {int(v): f * ref["count"] for v, f in zip(ref["unique"], ref["frac"], strict=True)}
        assert set(mine["by_value"]) == set(reference)
        for value, weight in reference.items():
            assert mine["by_value"][value] == pytest.approx(weight, rel=0.01)
