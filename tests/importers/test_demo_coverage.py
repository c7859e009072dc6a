"""Demo coverage data: every connectivity layer gets rows inside the demo villages, all flagged demo,
loading twice changes nothing, and the white-spot analysis finds the south-west unserved."""
import pytest
import shapely
import sqlalchemy as sa

from gis.hromadas import hromada_id as hromada_id_for
from importers.demo_coverage import load_demo_coverage
from importers.rasters import raster_store
from layers.coverage_analysis import analyse, latest_run, results

TABLES = ("coverage_area", "speed_tile", "speed_test", "wifi_hotspot")


@pytest.fixture
def store(tmp_path, monkeypatch):  # before demo_db, which writes the demo raster
    monkeypatch.setenv("HROMADA_RASTER_DIR", str(tmp_path / "store"))
    return tmp_path / "store"


def load(engine) -> int:
    with engine.begin() as conn:
        hromada_id, wkb = conn.execute(sa.text(
            "SELECT id, ST_AsBinary(boundary) FROM hromada WHERE katottg = 'UA05020310000080026'")).one()
        centres = {name: shapely.from_wkb(bytes(c)) for name, c in conn.execute(sa.text(
            "SELECT name_uk, ST_AsBinary(centre) FROM settlement WHERE hromada_id = :h"), {"h": hromada_id})}
        load_demo_coverage(conn, hromada_id, shapely.from_wkb(bytes(wkb)), centres)
    return hromada_id


def snapshot(engine) -> dict:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT string_agg(id || ':' || xmin::text, ',' ORDER BY id) FROM {t}"))
                .scalar() for t in (*TABLES, "raster_dataset")}


def test_demo_coverage_fills_every_layer_inside_the_hromada(store, demo_db):
    load(demo_db)
    with demo_db.connect() as conn:
        for table in TABLES:
            count, demo, inside = conn.execute(sa.text(
                f"SELECT count(*), bool_and(t.is_demo AND t.source = 'demo'), "
                f"bool_and(ST_Intersects(t.geom, h.boundary)) FROM {table} t, hromada h")).one()
            assert count >= 4 and demo and inside, table
        techs = set(conn.execute(sa.text("SELECT technology FROM coverage_area")).scalars())
        assert {"ftth", "4g", "3g", "xdsl"} <= techs
        quadkeys = conn.execute(sa.text("SELECT quadkey FROM speed_tile")).scalars().all()
        assert all(len(q) == 16 for q in quadkeys) and len(set(quadkeys)) == len(quadkeys)
        raster = conn.execute(sa.text("SELECT file_path, bands, title, source FROM raster_dataset")).one()
    assert (raster_store() / raster.file_path).is_file() and raster.bands == 2
    assert raster.source == "demo" and "демо" in raster.title


def test_demo_coverage_reload_changes_nothing(store, demo_db):
    load(demo_db)
    before = snapshot(demo_db)
    load(demo_db)
    assert snapshot(demo_db) == before


def test_demo_white_spots(store, demo_db):
    load(demo_db)
    with demo_db.begin() as conn:
        run_id = analyse(conn, hromada_id_for(conn, "UA05020310000080026"))
        rows = {r["name"]: r for r in results(conn, run_id, "settlement")}
        run = latest_run(conn, hromada_id_for(conn, "UA05020310000080026"))
    for village in ("Лисянка", "Широка Гребля", "Юзвин", "Пултівці"):
        assert rows[village]["area_unserved"] > 0.9, village
    assert rows["Якушинці"]["area_served"] > 0.3
    assert rows["Якушинці"]["evidence_measurement"] > 0 and rows["Якушинці"]["evidence_claim"] > 0
    assert sum(r["evidence_raster"] for r in rows.values()) > 0
    assert run["evidence"]["rasters"] and not run["evidence"]["rasters_skipped"]
