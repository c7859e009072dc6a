"""The tiles' clusters kept by the database (layers.tile_cells): after every kind of write the kept cells
equal a count made afresh from the table with ST_SnapToGrid — written here independently of the module."""
from dataclasses import replace

import mapbox_vector_tile
import pytest
import sqlalchemy as sa

from importers.pipeline import ImportOptions, import_file
from layers import tile_cells
from layers.registry import get_layer
from layers.tiles import tile as read_tile
from tests.conftest import UKRAINE

HALF_WORLD = 20037508.342789244


def side(z: int) -> float:
    return 2 * HALF_WORLD / (8 * 2 ** z)  # a tile's width over its 8 cells


def live(conn, layer) -> dict:
    """(z, cx, cy) → (count, smallest id, every id) of the layer's public features, counted now."""
    geom = f't."{layer.geometry_column}"'
    point = geom if layer.geometry == "Point" else f"ST_PointOnSurface({geom})"
    public = f't."{layer.public_rows}"' if layer.public_rows else "true"
    below = 12 if layer.geometry == "Point" else layer.tiles_as_points_below
    out = {}
    for z in range(below):
        for x, y, count, first, ids in conn.execute(sa.text(f"""
                SELECT ST_X(c) / :s, ST_Y(c) / :s, count(*), min(id), array_agg(id) FROM (
                    SELECT ST_SnapToGrid(ST_Transform({point}, 3857), :s) AS c, t."{layer.id_column}" AS id
                    FROM "{layer.table}" t WHERE {public}) g GROUP BY c"""), {"s": side(z)}):
            out[(z, round(x), round(y))] = (count, first, set(ids))
    return out


def kept(conn, layer) -> dict:
    return {(z, cx, cy): (n, fid) for z, cx, cy, n, fid in conn.execute(sa.text(
        "SELECT z, cx, cy, point_count, feature_id FROM tile_cell WHERE layer = :l"), {"l": layer.name})}


def assert_in_step(engine, layer, smallest: bool = True) -> dict:
    """The kept cells are the live count; each keeps one of its features — the smallest id unless
    ``smallest`` is False (after deletes: another one of the cell's)."""
    with engine.connect() as conn:
        now, cells = live(conn, layer), kept(conn, layer)
    assert {k: v[0] for k, v in cells.items()} == {k: v[0] for k, v in now.items()}
    for key, (_, fid) in cells.items():
        assert fid == now[key][1] if smallest else fid in now[key][2], (key, fid, now[key])
    return cells


def execute(engine, sql: str, **params):
    with engine.begin() as conn:
        return conn.execute(sa.text(sql), params)


def test_the_upgrade_counts_every_clustered_layer(demo_db):
    names = {layer.name for layer in tile_cells.cell_layers()}
    assert {"street_lamps", "road_segments", "parcels", "reports", "protected_areas"} <= names
    assert "plan_zones" not in names and "hromadas" not in names  # shapes at every zoom
    for layer in tile_cells.cell_layers():
        cells = assert_in_step(demo_db, layer, smallest=False)
        if layer.name in ("street_lamps", "road_segments", "parcels"):
            assert cells, layer.name  # the demo has them
    with demo_db.begin() as conn:
        assert tile_cells.sync(conn) == []  # in step after the upgrade


PROTECTED = get_layer("protected_areas")


def add_points(engine, points) -> list[int]:
    with engine.begin() as conn:
        return [conn.execute(sa.text("""
            INSERT INTO protected_area (name_uk, geom) VALUES (:n, ST_SetSRID(ST_MakePoint(:x, :y), 4326))
            RETURNING id"""), {"n": f"Тест {i}", "x": x, "y": y}).scalar() for i, (x, y) in enumerate(points)]


def test_inserts_moves_and_deletes_keep_the_cells(clean_db):
    assert_in_step(clean_db, PROTECTED)
    first = add_points(clean_db, [(28.50, 49.20), (28.5001, 49.2001), (30.5, 50.45)])
    cells = assert_in_step(clean_db, PROTECTED)
    assert [sum(n for (z, _, _), (n, _) in cells.items() if z == zoom) for zoom in range(12)] == [3] * 12
    # One statement of many rows, some in cells that exist, some not.
    execute(clean_db, """
        INSERT INTO protected_area (name_uk, geom)
        SELECT 'Тест ' || i, ST_SetSRID(ST_MakePoint(28 + i * 0.013, 49 + (i % 7) * 0.021), 4326)
        FROM generate_series(1, 300) i""")
    assert_in_step(clean_db, PROTECTED)
    # The cell's smallest feature moves to another cell: counts follow, and its old cell keeps another one.
    execute(clean_db, "UPDATE protected_area SET geom = ST_SetSRID(ST_MakePoint(24.03, 49.84), 4326) WHERE id = :i",
            i=first[0])
    assert_in_step(clean_db, PROTECTED, smallest=False)
    with clean_db.connect() as conn:
        z11 = kept(conn, PROTECTED)
    assert any(fid == first[1] for (z, _, _), (n, fid) in z11.items() if z == 11)  # its neighbour now
    # A change that moves nothing (a name), and a move within the cell, change no count.
    before = assert_in_step(clean_db, PROTECTED, smallest=False)
    execute(clean_db, "UPDATE protected_area SET name_uk = 'Інша назва'")
    execute(clean_db, "UPDATE protected_area SET geom = ST_Translate(geom, 0.0000001, 0) WHERE id = :i", i=first[2])
    assert assert_in_step(clean_db, PROTECTED, smallest=False) == before
    # Deletes: of one, of many; empty cells go.
    execute(clean_db, "DELETE FROM protected_area WHERE id = :i", i=first[2])
    assert_in_step(clean_db, PROTECTED, smallest=False)
    execute(clean_db, "DELETE FROM protected_area WHERE id % 3 = 0")
    assert_in_step(clean_db, PROTECTED, smallest=False)
    execute(clean_db, "DELETE FROM protected_area")
    with clean_db.connect() as conn:
        assert kept(conn, PROTECTED) == {}


def test_truncate_empties_the_layers_cells(clean_db):
    add_points(clean_db, [(28.5, 49.2)])
    execute(clean_db, "TRUNCATE protected_area")
    with clean_db.connect() as conn:
        assert kept(conn, PROTECTED) == {}


def test_a_report_hidden_or_awaiting_approval_is_in_no_cell(demo_db):
    from layers.reports import NewReport, create_report
    from tests.helpers import asset_point

    reports = get_layer("reports")
    lon, lat = asset_point(demo_db, "street_lamp", "301")
    with demo_db.begin() as conn:
        code = create_report(conn, NewReport(lon=lon, lat=lat, category="pothole", description="Яма"),
                             public_url="http://x")["code"]
    before = assert_in_step(demo_db, reports, smallest=False)
    execute(demo_db, "UPDATE report SET hidden_reason = 'образа' WHERE code = :c", c=code)
    hidden = assert_in_step(demo_db, reports, smallest=False)
    assert sum(n for (z, _, _), (n, _) in hidden.items() if z == 0) == \
        sum(n for (z, _, _), (n, _) in before.items() if z == 0) - 1
    execute(demo_db, "UPDATE report SET hidden_reason = NULL WHERE code = :c", c=code)
    assert {k: v[0] for k, v in assert_in_step(demo_db, reports, smallest=False).items()} == \
        {k: v[0] for k, v in before.items()}
    execute(demo_db, "UPDATE report SET awaiting_approval = true WHERE code = :c", c=code)
    assert assert_in_step(demo_db, reports, smallest=False) != before


def test_a_file_import_and_a_national_data_set_leave_the_cells_right(demo_db):
    import_file(demo_db, PROTECTED, UKRAINE / "vinnytska_protected_areas.geojson", ImportOptions())  # one COPY
    assert_in_step(demo_db, PROTECTED)
    from importers.national import generate_national

    generate_national(demo_db, scale=0.0003, seed=7, limit_hromadas=1,
                      source=UKRAINE / "vinnytskyi_raion_hromadas.geojson")
    for name in ("street_lamps", "road_segments", "parcels", "reports", "venues"):
        assert_in_step(demo_db, get_layer(name), smallest=False)


def test_a_rebuild_repairs_the_cells_and_a_switched_off_trigger_is_put_back(demo_db):
    lamps = get_layer("street_lamps")
    expected = assert_in_step(demo_db, lamps, smallest=False)
    execute(demo_db, "UPDATE tile_cell SET point_count = point_count + 5 WHERE layer = 'street_lamps'")
    with demo_db.begin() as conn:
        assert tile_cells.rebuild(conn, lamps) == len(expected)
    assert_in_step(demo_db, lamps)
    execute(demo_db, "ALTER TABLE street_lamp DISABLE TRIGGER tile_cells_street_lamps_insert")
    execute(demo_db, """INSERT INTO street_lamp (ref, status, geom, hromada_id)
                        SELECT 'T-1', 'working', ST_Translate(geom, 0.001, 0), hromada_id FROM street_lamp LIMIT 1""")
    with demo_db.begin() as conn:
        assert tile_cells.sync(conn) == [
            "made tile_cells_street_lamps and its triggers on street_lamp; "
            f"{len(kept(conn, lamps))} cells counted"]
    assert_in_step(demo_db, lamps)


def test_a_new_layer_gets_its_triggers_and_cells(clean_db):
    layer = replace(PROTECTED, name="test_points", table="test_point", public_rows="shown")
    execute(clean_db, """
        CREATE TABLE test_point (id serial PRIMARY KEY, shown boolean, geom geometry(Point, 4326) NOT NULL);
        CREATE INDEX ix_test_point_geom ON test_point USING gist (geom);
        INSERT INTO test_point (shown, geom) VALUES (true, 'SRID=4326;POINT(28.5 49.2)'),
                                                   (false, 'SRID=4326;POINT(28.6 49.2)')""")
    with clean_db.begin() as conn:
        done = tile_cells.sync(conn, [*tile_cells.cell_layers(), layer])
    assert done == ["made tile_cells_test_points and its triggers on test_point; 12 cells counted"]
    assert_in_step(clean_db, layer)
    execute(clean_db, "INSERT INTO test_point (shown, geom) VALUES (true, 'SRID=4326;POINT(31 50)')")
    execute(clean_db, "UPDATE test_point SET shown = NOT shown")
    assert_in_step(clean_db, layer, smallest=False)
    with clean_db.begin() as conn:  # the layer is gone from the declarations: so are its triggers and cells
        assert tile_cells.sync(conn) == ["dropped tile_cells_test_points, its triggers and 12 cells"]
        assert kept(conn, layer) == {}


def test_a_z8_tile_holds_the_whole_cells_a_live_count_finds(demo_db):
    """Every cell whose centre is in the tile, edges included, with the count of the whole cell."""
    lamps = get_layer("street_lamps")
    with demo_db.connect() as conn:
        now = live(conn, lamps)
        x0, y0 = conn.execute(sa.text("""
            SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(geom, 3857) AS p FROM street_lamp ORDER BY id LIMIT 1) s
        """)).one()
        z = 8
        width = 2 * HALF_WORLD / 2 ** z
        x, y = int((x0 + HALF_WORLD) // width), int((HALF_WORLD - y0) // width)
        data = read_tile(conn, lamps, z, x, y)
    west, north = -HALF_WORLD + x * width, HALF_WORLD - y * width
    expected = sorted((count, first) for (cz, cx, cy), (count, first, _) in now.items()
                      if cz == z and west - 1e-6 <= cx * side(z) <= west + width + 1e-6
                      and north - width - 1e-6 <= cy * side(z) <= north + 1e-6)
    features = mapbox_vector_tile.decode(data)["street_lamps"]["features"]
    assert expected and sorted((f["properties"]["point_count"], f["id"]) for f in features) == expected
    for f in features:  # at its cell's centre
        count, first = f["properties"]["point_count"], f["id"]
        (cz, cx, cy), = [k for k, v in now.items() if k[0] == z and v[:2] == (count, first)]
        px, py = f["geometry"]["coordinates"]
        assert px == pytest.approx((cx * side(z) - west) / width * 4096, abs=1)
        assert py == pytest.approx((cy * side(z) - (north - width)) / width * 4096, abs=1)  # decoded y points up


def test_the_cli_rebuilds_the_clusters(demo_db, database_url, monkeypatch):
    from click.testing import CliRunner

    from webmap.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    lamps = get_layer("street_lamps")
    execute(demo_db, "DELETE FROM tile_cell WHERE layer = 'street_lamps' AND z > 5")
    answer = CliRunner().invoke(main, ["tiles", "rebuild-clusters", "--layer", "street_lamps"])
    assert answer.exit_code == 0, answer.output
    cells = assert_in_step(demo_db, lamps)
    assert f"street_lamps: {len(cells)} " in answer.output
    refused = CliRunner().invoke(main, ["tiles", "rebuild-clusters", "--layer", "plan_zones"])
    assert refused.exit_code == 1 and "has no clusters" in refused.output


def test_a_clustered_tiles_generic_plan_reads_only_the_tiles_columns(demo_db):
    """The fast path's statement is prepared, and after five runs PostgreSQL may keep one generic plan
    for every tile. That plan must read the tile's columns by the key (layer, z, cx, cy), never scan a
    zoom's cells with the columns as a filter — the plan it chose on a database of a few hromadas when
    the columns were an IN list (1.8 ms a tile instead of 0.45 with ten hromadas' parcels)."""
    import re

    from layers.tiles import driver_params

    lamps = get_layer("street_lamps")
    sql, params = driver_params(lamps, 8, 148, 89)
    names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", sql)))
    for number, name in enumerate(names, 1):
        sql = sql.replace(f"%({name})s", f"${number}")
    types = {"z": "int", "x": "int", "y": "int", "cap": "int", "name": "text"}
    with demo_db.connect() as conn:
        conn.execute(sa.text(f"PREPARE cells_tile ({', '.join(types[n] for n in names)}) AS {sql}"))
        conn.execute(sa.text("SET plan_cache_mode = force_generic_plan"))
        arguments = ", ".join(f"'{params[n]}'" if n == "name" else str(params[n]) for n in names)
        plan = conn.execute(sa.text(f"EXPLAIN (FORMAT JSON) EXECUTE cells_tile ({arguments})")).scalar()

    def scans(node):
        if node.get("Relation Name") == "tile_cell":
            yield node
        for child in node.get("Plans", []):
            yield from scans(child)

    found = list(scans(plan[0]["Plan"]))
    assert found, plan
    for scan in found:
        assert scan["Node Type"] == "Index Scan" and "Filter" not in scan, scan
        assert re.search(r"\(cx = ", scan["Index Cond"]), scan
