"""The admins' upload page: a file in, the report shown, staff and residents kept out."""
import io
import re

import sqlalchemy as sa

from tests.conftest import UKRAINE
from tests.helpers import demo_hromada_id, scalar
from tests.webmap.test_reports_http import add_staff, form_token, log_in


def upload(client, path_or_bytes, name, **fields):
    page = client.get("/admin/imports").get_data(as_text=True)
    data = {"csrf_token": form_token(page), **fields}
    body = path_or_bytes.read_bytes() if hasattr(path_or_bytes, "read_bytes") else path_or_bytes
    data["file"] = (io.BytesIO(body), name)
    return client.post("/admin/imports", data=data, content_type="multipart/form-data")


def test_admin_uploads_a_file_and_sees_the_report(client, demo_db):
    add_staff(demo_db, "admin@example.org", roles=("admin",))
    log_in(client, "admin@example.org")
    answer = upload(client, UKRAINE / "vinnytska_protected_areas.geojson", "vinnytska_protected_areas.geojson",
                    layer="protected_areas", dry_run="y")
    assert answer.status_code == 302
    report = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "285" in report and "Адміністративний статус" in report
    assert scalar(demo_db, "SELECT count(*) FROM protected_area") == 0  # dry run
    answer = upload(client, UKRAINE / "vinnytska_protected_areas.geojson", "pa.geojson", layer="protected_areas")
    # A hromada's administrator imports what lies in the hromada; the oblast's other areas are
    # refused row by row, each with its reason.
    kept = scalar(demo_db, "SELECT count(*) FROM protected_area")
    assert 0 < kept < 285
    assert scalar(demo_db, "SELECT count(*) FROM protected_area WHERE hromada_id IS DISTINCT FROM :h",
                  h=demo_hromada_id(demo_db)) == 0
    report = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "поза вашою громадою" in report
    listing = client.get("/admin/imports").get_data(as_text=True)
    assert "pa.geojson" in listing and re.search(rf"\b{kept} / 285", listing)


def test_a_bad_file_shows_a_clear_message(client, demo_db):
    add_staff(demo_db, "admin@example.org", roles=("admin",))
    log_in(client, "admin@example.org")
    answer = upload(client, b"not a geopackage", "x.gpkg", layer="wifi_hotspots")
    assert answer.status_code == 400 and "Не вдалося прочитати x.gpkg" in answer.get_data(as_text=True)


def test_only_admins_import(client, demo_db):
    assert client.get("/admin/imports").status_code == 302  # to the log-in
    add_staff(demo_db, "kp@example.org", "kp_blagoustrij")
    log_in(client, "kp@example.org")
    assert client.get("/admin/imports").status_code == 403
    token = form_token(client.get("/staff/").get_data(as_text=True))
    answer = client.post("/admin/imports", data={"csrf_token": token, "layer": "protected_areas",
                                                 "file": (io.BytesIO(b"{}"), "a.geojson")},
                         content_type="multipart/form-data")
    assert answer.status_code == 403
    with demo_db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM import_run")).scalar() == 0
