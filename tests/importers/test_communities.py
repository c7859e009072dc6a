"""Loading hromada boundaries (all of Ukraine) and settlements."""
import json
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from gis.errors import InvalidInput, NotFound
from importers.communities import load_communities, load_settlements
from tests.conftest import UKRAINE

NATIONAL = UKRAINE / "ukraine_hromadas.gpkg"


def scalar(engine, sql, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def test_all_1466_hromadas_load_valid_and_reloading_changes_nothing(clean_db):
    report = load_communities(clean_db, NATIONAL)
    assert report.read == 1466 and report.inserted == 1466 and not report.rejected
    assert scalar(clean_db, "SELECT count(*) FROM hromada") == 1466
    assert scalar(clean_db, "SELECT count(*) FROM hromada WHERE NOT ST_IsValid(boundary)") == 0
    assert scalar(clean_db, "SELECT count(DISTINCT GeometryType(boundary)) FROM hromada") == 1
    # The invalid polygons of the source are repaired and named, not dropped.
    assert report.repaired and all(why for _, why in report.repaired)
    repaired_codes = [what.split()[0] for what, _ in report.repaired]
    assert scalar(clean_db, "SELECT count(*) FROM hromada WHERE boundary_repaired") == len(repaired_codes)
    # Rows whose name:uk is empty fall back to `name`.
    assert scalar(clean_db, "SELECT name_uk FROM hromada WHERE katottg = 'UA12040170000019083'") == \
        "Криничанська селищна громада"
    # Large boundaries are kept compressed with lz4 (gis.bulk.compress_with_lz4), this server having it;
    # the session's own default is left as it was.
    assert scalar(clean_db, "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
    # (a small boundary is kept as it is: no compression at all.)
    compressed = "SELECT count(*) FROM {} WHERE pg_column_compression({}) = '{}'"
    for table, column in (("hromada", "boundary"), ("hromada_part", "geom")):
        assert scalar(clean_db, compressed.format(table, column, "lz4")) > 500
        assert scalar(clean_db, compressed.format(table, column, "pglz")) == 0
    assert scalar(clean_db, "SHOW default_toast_compression") == "pglz"

    with clean_db.connect() as conn:
        before = conn.execute(sa.text("SELECT sum(xmin::text::bigint) FROM hromada")).scalar()
    again = load_communities(clean_db, NATIONAL)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 1466)
    with clean_db.connect() as conn:
        assert conn.execute(sa.text("SELECT sum(xmin::text::bigint) FROM hromada")).scalar() == before


def test_only_the_asked_katottg_codes_load(clean_db):
    report = load_communities(clean_db, UKRAINE / "vinnytskyi_raion_hromadas.geojson",
                              katottg=["UA05020310000080026", "ua05020030000031457"])
    assert report.inserted == 2
    names = {r for r, in sa_rows(clean_db, "SELECT name_uk FROM hromada")}
    assert names == {"Якушинецька сільська громада", "Вінницька міська громада"}


def sa_rows(engine, sql):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).all()


def test_mixed_file_skips_centre_points(clean_db):
    report = load_communities(clean_db, UKRAINE / "vinnytskyi_raion_hromadas.geojson")
    assert report.inserted == 16 and report.skipped == 16


def test_bad_rows_are_rejected_with_reasons_and_good_rows_load(clean_db, tmp_path):
    square = [[[28.0, 49.0], [28.1, 49.0], [28.1, 49.1], [28.0, 49.1], [28.0, 49.0]]]
    features = [
        {"katotth": "UA05020310000080026", "name": "Good"},
        {"katotth": "UA123", "name": "Short code"},
        {"katotth": "UA05020030000031457", "name": None},
        {"katotth": "UA05020190000015755", "name": "In the sea", "shift": True},
    ]
    path = tmp_path / "mixed.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {k: v for k, v in f.items() if k != "shift"},
         "geometry": {"type": "Polygon", "coordinates": [[[x, y - 20 if f.get("shift") else y]
                                                            for x, y in square[0]]]}}
        for f in features]}))
    report = load_communities(clean_db, path)
    assert report.inserted == 1
    reasons = dict(report.rejected)
    assert "UA followed by 17 digits" in reasons[2]
    assert reasons[3] == "no name"
    assert "outside Ukraine" in reasons[4]


def test_missing_file_and_wrong_columns_are_clear_errors(clean_db, tmp_path):
    with pytest.raises(NotFound, match="not found"):
        load_communities(clean_db, tmp_path / "nope.gpkg")
    path = tmp_path / "nocode.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"title": "x"},
         "geometry": {"type": "Point", "coordinates": [28, 49]}}]}))
    with pytest.raises(InvalidInput, match="KATOTTG"):
        load_communities(clean_db, path)
    broken = tmp_path / "broken.gpkg"
    broken.write_bytes(b"not a geopackage at all")
    with pytest.raises(InvalidInput, match="Cannot read broken.gpkg"):
        load_communities(clean_db, broken)
    assert scalar(clean_db, "SELECT count(*) FROM hromada") == 0


def test_settlements_join_their_hromada_and_take_centre_points(clean_db):
    load_communities(clean_db, UKRAINE / "vinnytskyi_raion_hromadas.geojson",
                     katottg=["UA05020310000080026"])
    report = load_settlements(clean_db, UKRAINE / "yakushynetska_settlements.geojson")
    assert report.inserted == 14 and report.skipped == 14 and not report.rejected
    assert [w for w, _ in report.repaired] == ["Лисогора"]
    assert scalar(clean_db, "SELECT count(*) FROM settlement WHERE NOT ST_Covers(boundary, centre)") == 0
    # Зарванці has its OSM centre node inside the polygon and a population of 3,523.
    assert scalar(clean_db, "SELECT population FROM settlement WHERE name_uk = 'Зарванці'") == 3523
    again = load_settlements(clean_db, UKRAINE / "yakushynetska_settlements.geojson")
    assert (again.inserted, again.updated) == (0, 0)


def test_settlements_outside_every_hromada_are_rejected(clean_db):
    load_communities(clean_db, UKRAINE / "vinnytskyi_raion_hromadas.geojson",
                     katottg=["UA05020030000031457"])  # Vinnytsia city only
    report = load_settlements(clean_db, UKRAINE / "yakushynetska_settlements.geojson")
    assert report.inserted + len(report.rejected) == 14
    assert any("outside every loaded hromada" in why for _, why in report.rejected)


def cli(*args):
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "webmap.cli", *args], capture_output=True, text=True, env=env)


def test_cli_load_reports_and_errors(clean_db, database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    ok = cli("communities", "load", str(UKRAINE / "yakushynetska_boundary.geojson"))
    assert ok.returncode == 0 and "додано 1" in ok.stdout
    bad_code = cli("communities", "load", str(NATIONAL), "--katottg", "12345")
    assert bad_code.returncode == 1 and "UA followed by 17 digits" in bad_code.stderr
    missing = cli("communities", "load", "/no/such/file.gpkg")
    assert missing.returncode == 1 and "not found" in missing.stderr and "Traceback" not in missing.stderr
