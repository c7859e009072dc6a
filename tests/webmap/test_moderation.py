"""Moderation (layers.moderation): a hidden photo and a redacted phone number appear in no public
output; a hidden report and one held for approval are in none at all, until shown or approved."""
import json
from urllib.parse import quote

import sqlalchemy as sa

from gis import outbox
from gis.config import DEMO_KATOTTG
from tests.helpers import confirm_addresses, demo_hromada_id, scalar
from tests.webmap.test_reports_http import add_staff, form_token, jpeg_with_gps, lamp_report, log_in, staff_post
from tests.webmap.test_tiles import decode, tile_of

SECRET_PHONE = "+380 67 555 12 34"
NEIGHBOUR = "neighbour@example.org"


def moderate(client, code: str, what: str, **data):
    """A moderation act through the staff page's form (its field is named "action")."""
    page = client.get("/staff/")  # any staff page carries the session's CSRF token
    data.update(action=what, csrf_token=form_token(page.get_data(as_text=True)))
    return client.post(f"/staff/reports/{quote(code)}/moderate", data=data)


def public_outputs(app, code: str, lon: float, lat: float) -> dict[str, bytes]:
    """Every public output a report can appear in, as an anonymous client sees it."""
    anonymous = app.test_client()
    x, y = tile_of(lon, lat, 16)
    urls = {
        "page": f"/reports/{quote(code)}",
        "report json": f"/api/reports/{quote(code)}",
        "layer api": "/api/layers/reports/items?limit=1000",
        "map view": f"/api/map/{DEMO_KATOTTG}/layers/reports?bbox=27,48,30,50",
        "map list": f"/map/{DEMO_KATOTTG}/layers/reports",
        "ogc": "/ogc/collections/reports/items?limit=1000",
        "open311 json": f"/open311/v2/requests.json?jurisdiction_id={DEMO_KATOTTG}",
        "open311 xml": f"/open311/v2/requests.xml?jurisdiction_id={DEMO_KATOTTG}",
        "open311 one": f"/open311/v2/requests/{quote(code)}.json?jurisdiction_id={DEMO_KATOTTG}",
        "tile": f"/tiles/reports/16/{x}/{y}.mvt",
        "csv": "/api/layers/reports/export.csv",
        "geojson": "/api/layers/reports/export.geojson",
        "nearby": f"/api/reports/nearby?lat={lat}&lon={lon}&category=street_light_out",
    }
    out = {}
    for name, url in urls.items():
        with anonymous.get(url) as answer:
            out[name] = answer.status_code, answer.data
    return out


def test_a_hidden_photo_and_a_redacted_phone_are_in_no_public_output(app, client, demo_db, smtp_server):
    settings, store = smtp_server
    confirm_addresses(demo_db, NEIGHBOUR)
    created = lamp_report(client, demo_db, description=f"Темно. Дзвоніть мені: {SECRET_PHONE}",
                          photos=[jpeg_with_gps(), jpeg_with_gps()]).get_json()
    code = created["code"]
    lon, lat = scalar(demo_db, "SELECT ARRAY[ST_X(location), ST_Y(location)] FROM report WHERE code = :c", c=code)
    client.post(f"/reports/{quote(code)}/follow", data={"action": "follow", "email": NEIGHBOUR})
    before = public_outputs(app, code, lon, lat)
    assert SECRET_PHONE.encode() in before["layer api"][1]  # the planted secret is there to find at first
    assert app.test_client().get(f"/reports/{quote(code)}/photos/1.jpg").status_code == 200

    add_staff(demo_db, "admin@example.org", roles=("admin",))
    log_in(client, "admin@example.org")
    assert moderate(client, code, "redact", text="Темно біля школи.").status_code == 302
    assert moderate(client, code, "hide_photo", position="1").status_code == 302
    assert staff_post(client, code, "status", status="acknowledged", public_note="Дякуємо").status_code == 302

    after = public_outputs(app, code, lon, lat)
    for name, (status, body) in after.items():
        assert status == 200, name
        assert SECRET_PHONE.encode() not in body and b"555 12 34" not in body, name
        assert b"/photos/1" not in body, name
    assert "Темно біля школи." in after["page"][1].decode() and "/photos/2" in after["page"][1].decode()
    assert json.loads(after["report json"][1])["photos"] == [2]
    [request] = json.loads(after["open311 one"][1])
    assert request["media_url"].endswith("/photos/2.jpg")
    tile = decode(after["tile"][1])["reports"]["features"]
    assert [f["properties"]["description"] for f in tile] == ["Темно біля школи."]
    anonymous = app.test_client()
    assert anonymous.get(f"/reports/{quote(code)}/photos/1.jpg").status_code == 404
    assert anonymous.get(f"/reports/{quote(code)}/photos/1-thumb.jpg").status_code == 404
    with client.get(f"/reports/{quote(code)}/photos/1.jpg") as staff_photo:  # staff still see it
        assert staff_photo.status_code == 200 and "no-store" in staff_photo.headers["Cache-Control"]
    # The original is kept for staff, with who and when.
    staff_page = client.get(f"/staff/reports/{quote(code)}").get_data(as_text=True)
    assert SECRET_PHONE in staff_page and "модератор відредагував опис" in staff_page
    outbox.deliver_due(demo_db, settings)
    for mail in store.to(NEIGHBOUR):
        assert SECRET_PHONE not in mail["body"] and "/photos/1" not in mail["body"]


def test_a_hidden_report_is_in_no_public_output_but_its_reporter_sees_why(app, client, demo_db):
    created = lamp_report(client, demo_db).get_json()
    code = created["code"]
    lon, lat = scalar(demo_db, "SELECT ARRAY[ST_X(location), ST_Y(location)] FROM report WHERE code = :c", c=code)
    add_staff(demo_db, "admin@example.org", roles=("admin",))
    log_in(client, "admin@example.org")
    assert moderate(client, code, "hide").status_code == 400  # a reason is needed
    assert moderate(client, code, "hide", reason="Образливий текст").status_code == 302

    outputs = public_outputs(app, code, lon, lat)
    page_status, page = outputs.pop("page")
    assert page_status == 404 and "Образливий текст" in page.decode()
    assert outputs.pop("report json")[0] == 404
    one_status, _ = outputs.pop("open311 one")
    assert one_status == 404
    for name, (_, body) in outputs.items():
        assert code.encode() not in body and quote(code).encode() not in body, name
    # The reporter's private link still shows the report, and why it is hidden.
    private = app.test_client().get(created["private_url"].replace("http://localhost", ""))
    assert private.status_code == 200 and "Образливий текст" in private.get_data(as_text=True)
    # Staff see it still, in the API with their roles too.
    assert code in client.get(f"/api/layers/reports/items?hromada={DEMO_KATOTTG}").get_data(as_text=True)

    assert moderate(client, code, "show").status_code == 302
    assert public_outputs(app, code, lon, lat)["page"][0] == 200


def test_pre_moderation_holds_a_new_report_until_approved(app, client, demo_db):
    with demo_db.begin() as conn:
        conn.execute(sa.text("""
            INSERT INTO hromada_category (hromada_id, category_id, premoderate)
            SELECT :h, id, true FROM category WHERE code = 'street_light_out'"""), {"h": demo_hromada_id(demo_db)})
    created = lamp_report(client, demo_db, photos=[jpeg_with_gps()]).get_json()
    code = created["code"]
    lon, lat = scalar(demo_db, "SELECT ARRAY[ST_X(location), ST_Y(location)] FROM report WHERE code = :c", c=code)
    held = public_outputs(app, code, lon, lat)
    assert held["page"][0] == 404 and held["report json"][0] == 404
    assert held["open311 one"][0] == 404
    # (The 404s name the code asked for; nothing else does.)
    leaks = [name for name, (_, body) in held.items()
             if name not in ("page", "report json", "open311 one") and code.encode() in body]
    assert leaks == []
    assert app.test_client().get(f"/reports/{quote(code)}/photos/1.jpg").status_code == 404

    add_staff(demo_db, "olena@example.org", "kp_blagoustrij")
    log_in(client, "olena@example.org")
    assert "Чекає схвалення" in client.get(f"/staff/reports/{quote(code)}").get_data(as_text=True)
    assert moderate(client, code, "approve").status_code == 302
    shown = public_outputs(app, code, lon, lat)
    assert shown["page"][0] == 200 and code.encode() in shown["layer api"][1]
    assert app.test_client().get(f"/reports/{quote(code)}/photos/1.jpg").status_code == 200
    assert moderate(client, code, "approve").status_code == 409  # once


def test_moderation_is_for_the_reports_own_staff(app, client, demo_db):
    code = lamp_report(client, demo_db).get_json()["code"]
    add_staff(demo_db, "housing@example.org", "housing")  # another unit of the hromada
    log_in(client, "housing@example.org")
    answer = moderate(client, code, "hide", reason="x")
    assert answer.status_code in (403, 404)
    assert scalar(demo_db, "SELECT is_public FROM report WHERE code = :c", c=code) is True

