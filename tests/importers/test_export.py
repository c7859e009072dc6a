"""Open-data exports: public fields only, three formats, metadata, and the round trip back in."""
import csv
import io
import json

import pyogrio
import pytest
import sqlalchemy as sa

from importers.pipeline import ImportOptions, import_file
from layers import export
from layers.registry import get_layer
from tests.conftest import UKRAINE

PROTECTED = get_layer("protected_areas")


@pytest.fixture
def protected(demo_db):
    import_file(demo_db, PROTECTED, UKRAINE / "vinnytska_protected_areas.geojson")
    return demo_db


def snapshot(engine):
    with engine.connect() as conn:
        return sorted(conn.execute(sa.text(
            "SELECT register_no, name_uk, name_en, kind, significance, oblast, raion, "
            "round(ST_X(geom)::numeric, 7), round(ST_Y(geom)::numeric, 7) FROM protected_area")).all())


@pytest.mark.parametrize("fmt, headings", [("geojson", None), ("geojson", "uk"), ("csv", None), ("csv", "en"),
                                           ("gpkg", None), ("gpkg", "uk")])
def test_round_trip_gives_the_same_features(client, protected, tmp_path, fmt, headings):
    before = snapshot(protected)
    query = f"?headings={headings}" if headings else ""
    answer = client.get(f"/api/layers/protected_areas/export.{fmt}{query}")
    assert answer.status_code == 200 and answer.mimetype == export.FORMATS[fmt]
    assert f'filename="protected_areas.{fmt}"' in answer.headers["Content-Disposition"]
    path = tmp_path / f"out.{fmt}"
    path.write_bytes(answer.data)
    with protected.begin() as conn:
        conn.execute(sa.text("TRUNCATE protected_area"))
    report = import_file(protected, PROTECTED, path, ImportOptions())
    assert report.accepted == 285 and report.rejected == 0
    assert snapshot(protected) == before


def test_exports_hold_public_fields_only(client, demo_db):
    with demo_db.begin() as conn:
        from layers.reports import NewReport, create_report
        from tests.helpers import asset_point
        lon, lat = asset_point(demo_db, "street_lamp", "301")
        create_report(conn, NewReport(lon=lon, lat=lat, category="street_light_out", description="Темно",
                                      name="Таємна Особа", email="secret@example.org", phone="+380501112233"),
                      public_url="http://x")
    for layer in ("units", "reports"):
        for fmt in ("geojson", "csv", "gpkg"):
            data = client.get(f"/api/layers/{layer}/export.{fmt}").data
            for secret in (b"example.org", "Таємна".encode(), b"380501112233"):
                assert secret not in data, (layer, fmt)
    units = json.loads(client.get("/api/layers/units/export.geojson").data)
    assert len(units["features"]) == 15 and "email" not in units["features"][0]["properties"]


def test_csv_has_headings_in_ukrainian_and_a_bom(client, protected):
    text = client.get("/api/layers/protected_areas/export.csv?headings=uk").data.decode("utf-8")
    assert text.startswith("\ufeff")
    header = next(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert header == ["id", "Реєстраційний номер", "Назва", "Назва латиницею", "Вид об'єкта", "Значення",
                      "Область", "Район", "wkt"]


def test_metadata_sidecar(client, protected):
    meta = client.get("/api/layers/protected_areas/metadata.json").get_json()
    assert meta["feature_count"] == 285 and meta["crs"] == "EPSG:4326" and meta["license"] == "CC BY 4.0"
    assert meta["title"]["uk"] == "Природно-заповідний фонд" and meta["modified"]
    assert [f["name"] for f in meta["fields"]][:2] == ["register_no", "name_uk"]
    assert meta["distributions"]["gpkg"].endswith("/api/layers/protected_areas/export.gpkg")


def test_gpkg_of_an_empty_layer_and_unknown_formats(client, clean_db, tmp_path):
    answer = client.get("/api/layers/wifi_hotspots/export.gpkg")
    path = tmp_path / "empty.gpkg"
    path.write_bytes(answer.data)
    assert pyogrio.read_info(path)["features"] == 0
    assert client.get("/api/layers/wifi_hotspots/export.shp").status_code == 404
    assert client.get("/api/layers/wifi_hotspots/export.csv?headings=fr").status_code == 400


def test_export_streams_in_batches(protected, monkeypatch):
    monkeypatch.setattr(export, "BATCH", 50)
    chunks = list(export.csv_chunks(protected, PROTECTED))
    assert len(chunks) >= 285 // 50
    text = "".join(chunks)
    assert text.count("\n") == 286


def test_cli_export_writes_file_and_sidecar(protected, database_url, tmp_path):
    import os
    import subprocess
    import sys

    out = tmp_path / "pa.gpkg"
    result = subprocess.run([sys.executable, "-m", "webmap.cli", "export", "protected_areas", "--format", "gpkg",
                             "-o", str(out)], capture_output=True, text=True,
                            env=dict(os.environ, DATABASE_URL=database_url))
    assert result.returncode == 0, result.stderr
    assert pyogrio.read_info(out)["features"] == 285
    assert json.loads((tmp_path / "pa.gpkg.metadata.json").read_text())["feature_count"] == 285
