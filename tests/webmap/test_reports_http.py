"""The open-city flow over HTTP: resident submits, staff work the report, residents are told."""
import io
import json
import re
from urllib.parse import quote, urlsplit

import pytest
import sqlalchemy as sa
from PIL import Image

from gis import outbox
from gis.users import create_user
from tests.helpers import asset_point, demo_hromada_id, inside, scalar, unit_id

EMAIL, PHONE, NAME = "oksana@example.org", "+380 67 123 45 67", "Оксана Приватна"


def csrf(client) -> str:
    return client.get("/api/csrf-token").get_json()["csrf_token"]


def jpeg_with_gps() -> bytes:
    exif = Image.new("RGB", (1, 1)).getexif()
    exif[0x8825] = {1: "N", 2: (49.0, 15.0, 30.0), 3: "E", 4: (28.0, 22.0, 1.0)}
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (90, 90, 90)).save(out, format="JPEG", exif=exif)
    return out.getvalue()


def submit(client, token=None, photos=(), headers=None, **fields):
    data = {k: str(v) for k, v in fields.items()}
    data["photos"] = [(io.BytesIO(p), f"p{i}.jpg") for i, p in enumerate(photos)]
    return client.post("/api/reports", data=data, content_type="multipart/form-data",
                       headers={"X-CSRFToken": token or csrf(client), **(headers or {})})


def lamp_report(client, engine, **extra):
    lon, lat = asset_point(engine, "street_lamp", "301")
    fields = dict(lat=lat, lon=lon + 0.0001, category="street_light_out", description="Не світить ліхтар біля школи",
                  name=NAME, email=EMAIL, phone=PHONE)
    fields.update(extra)
    return submit(client, **fields)


def add_staff(engine, email, unit_code=None, roles=("unit_staff",)) -> None:
    with engine.begin() as conn:
        create_user(conn, email, "correct horse battery", list(roles), hromada_id=demo_hromada_id(engine),
                    unit_ids=[unit_id(engine, unit_code)] if unit_code else [])


def form_token(html: str) -> str:
    tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', html).group(0)
    return re.search(r'value="([^"]+)"', tag).group(1)


def log_in(client, email):
    page = client.get("/staff/login")
    answer = client.post("/staff/login", data={"email": email, "password": "correct horse battery",
                                               "csrf_token": form_token(page.get_data(as_text=True))})
    assert answer.status_code == 302, answer.get_data(as_text=True)


def staff_post(client, code, action, **data):
    page = client.get(f"/staff/reports/{quote(code)}")
    data["csrf_token"] = form_token(page.get_data(as_text=True))
    return client.post(f"/staff/reports/{quote(code)}/{action}", data=data)


def test_end_to_end_lamp_report_to_resolution_mails(client, demo_db, smtp_server):
    settings, store = smtp_server
    answer = lamp_report(client, demo_db, photos=[jpeg_with_gps()])
    assert answer.status_code == 201, answer.get_json()
    created = answer.get_json()
    code = created["code"]
    assert created["unit"]["uk"] == "КП «Якушинціблагоустрій»" and created["routing"]["rule"] == "asset"
    assert scalar(demo_db, "SELECT routing_reason_uk FROM report WHERE code = :c", c=code).startswith(
        "Ліхтар №301")
    # At once: the unit is told, and the reporter gets the code, the private link and a link to confirm.
    assert outbox.deliver_due(demo_db, settings) == 2
    [received] = store.to(EMAIL)
    assert code in received["subject"] and created["private_url"].replace(quote(code), code) in received["body"]
    confirm = re.search(r"https?://\S+/mail/confirm/\S+", received["body"]).group(0)
    assert client.post(urlsplit(confirm).path).status_code == 200

    add_staff(demo_db, "olena@example.org", "kp_blagoustrij")
    log_in(client, "olena@example.org")
    queue = client.get("/staff/").get_data(as_text=True)
    assert code in queue
    detail = client.get(f"/staff/reports/{quote(code)}").get_data(as_text=True)
    assert EMAIL in detail and "Ліхтар №301" in detail  # staff see the reporter and the routing reason
    assert staff_post(client, code, "status", status="acknowledged").status_code == 302
    assert staff_post(client, code, "status", status="resolved", public_note="Лампу замінено",
                      private_note="наряд 17").status_code == 302

    assert outbox.deliver_due(demo_db, settings) == 2  # acknowledged, resolved
    mails = store.to(EMAIL)[1:]
    assert len(store.messages) == 4 and len(mails) == 2
    assert len(store.to("kp-blagoustrij@yakushynetska-demo.example.org")) == 1
    link = created["public_url"].replace(quote(code), code)  # readable in a mail
    assert all(link in m["body"] for m in mails)
    assert "Лампу замінено" in mails[1]["body"] and "наряд 17" not in mails[1]["body"]

    client.post("/staff/logout", data={"csrf_token": form_token(detail)})
    public = client.get(f"/reports/{quote(code)}").get_data(as_text=True)
    assert "вирішено" in public and "Лампу замінено" in public and "прийнято" in public
    for secret in (EMAIL, "123 45 67", NAME, "наряд 17"):
        assert secret not in public
    as_json = json.dumps(client.get(f"/api/reports/{quote(code)}").get_json(), ensure_ascii=False)
    for secret in (EMAIL, "123 45 67", NAME, "наряд 17"):
        assert secret not in as_json
    photo = client.get(f"/reports/{quote(code)}/photos/1.jpg")
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(photo.data)).getexif() == {}
    # The private link shows the reporter their own details; a wrong token shows nothing.
    private = client.get(created["private_url"].replace("http://localhost", ""))
    assert EMAIL in private.get_data(as_text=True)
    assert client.get(f"/reports/{quote(code)}?token=wrong").status_code == 404


def test_personal_data_stays_out_of_public_layers_and_map(client, demo_db):
    code = lamp_report(client, demo_db).get_json()["code"]
    for url in ("/api/layers/reports/items", "/", "/api/layers/reports/items?hromada=UA05020310000080026"):
        text = client.get(url).get_data(as_text=True)
        assert code in text or url == "/"
        for secret in (EMAIL, "123 45 67", NAME):
            assert secret not in text, url


def test_show_name_publishes_only_the_name(client, demo_db):
    code = lamp_report(client, demo_db, show_name="y").get_json()["code"]
    page = client.get(f"/reports/{quote(code)}").get_data(as_text=True)
    assert NAME in page and EMAIL not in page


def test_json_submission_and_categories_and_nearby(client, demo_db):
    lon, lat = inside(demo_db, "Зарванці")
    cats = client.get(f"/api/reports/categories?lat={lat}&lon={lon}").get_json()
    assert cats["hromada"]["katottg"] == "UA05020310000080026"
    assert "overflowing_bin" in [c["code"] for c in cats["categories"]]
    answer = client.post("/api/reports", json={"lat": lat, "lon": lon, "category": "overflowing_bin",
                                               "description": "Сміття не вивозили тиждень"},
                         headers={"X-CSRFToken": csrf(client)})
    assert answer.status_code == 201 and answer.get_json()["routing"]["rule"] == "area"
    near = client.get(f"/api/reports/nearby?lat={lat}&lon={lon}&category=overflowing_bin").get_json()
    assert [r["code"] for r in near["reports"]] == [answer.get_json()["code"]]


def test_idempotency_key_returns_the_first_answer(client, demo_db):
    token = csrf(client)
    lon, lat = asset_point(demo_db, "street_lamp", "301")
    fields = dict(lat=lat, lon=lon, category="street_light_out", description="Темно")
    first = submit(client, token, headers={"Idempotency-Key": "k-123"}, **fields)
    again = submit(client, token, headers={"Idempotency-Key": "k-123"}, **fields)
    assert first.status_code == again.status_code == 201
    assert first.get_json() == again.get_json()
    assert scalar(demo_db, "SELECT count(*) FROM report") == 1
    other = submit(client, token, headers={"Idempotency-Key": "k-123"}, **{**fields, "description": "Інше"})
    assert other.status_code == 422 and "different request" in other.get_json()["message"]["en"]
    assert scalar(demo_db, "SELECT count(*) FROM report") == 1


BAD = [
    (dict(lat=95), 400, "latitude must be between"),
    (dict(lat="abc"), 400, "lat"),
    (dict(swap=True), 422, "look swapped"),
    (dict(lat=50.45, lon=30.52), 422, "outside every hromada"),
    (dict(category="no_such"), 400, "Unknown category"),
    (dict(description=""), 400, "describe the problem"),
    (dict(description="x" * 2001), 400, "at most 2000 characters"),
    (dict(email="not-an-address"), 400, "not a valid e-mail"),
    (dict(phone="call me"), 400, "not a valid phone"),
    (dict(photos=4), 400, "Too many photos"),
    (dict(photos="gif"), 400, "not a JPEG, PNG or WebP"),
    (dict(photos="pdf"), 400, "not a JPEG, PNG or WebP"),
]


@pytest.mark.parametrize("change, status, words", BAD, ids=[w for _, _, w in BAD])
def test_bad_input_is_a_clear_4xx_and_stores_nothing(client, demo_db, change, status, words):
    lon, lat = asset_point(demo_db, "street_lamp", "301")
    fields = dict(lat=lat, lon=lon, category="street_light_out", description="Темно")
    photos = []
    change = dict(change)
    if change.pop("swap", False):
        fields["lat"], fields["lon"] = lon, lat
    kind = change.pop("photos", None)
    if kind == 4:
        photos = [jpeg_with_gps()] * 4
    elif kind == "gif":
        gif = io.BytesIO()
        Image.new("RGB", (10, 10)).save(gif, format="GIF")
        photos = [gif.getvalue()]
    elif kind == "pdf":
        photos = [b"%PDF-1.4 not an image"]
    fields.update(change)
    answer = submit(client, photos=photos, **fields)
    assert answer.status_code == status, answer.get_json()
    message = answer.get_json()["message"]
    assert words in message["en"] and message["uk"]
    assert scalar(demo_db, "SELECT count(*) FROM report") == 0
    assert scalar(demo_db, "SELECT count(*) FROM report_photo") == 0


def test_unhandled_category_and_malformed_json_and_missing_csrf(client, demo_db):
    lon, lat = inside(demo_db, "Якушинці")
    token = csrf(client)
    with demo_db.begin() as conn:
        conn.execute(sa.text("DELETE FROM unit_category WHERE category_id = "
                             "(SELECT id FROM category WHERE code = 'water_leak')"))
    nobody = submit(client, token, lat=lat, lon=lon, category="water_leak", description="Тече")
    assert nobody.status_code == 422 and "No unit handles" in nobody.get_json()["message"]["en"]
    broken = client.post("/api/reports", data="{not json", content_type="application/json",
                         headers={"X-CSRFToken": token})
    assert broken.status_code == 400 and "not a valid JSON" in broken.get_json()["message"]["en"]
    listed = client.post("/api/reports", json=[1, 2], headers={"X-CSRFToken": token})
    assert listed.status_code == 400
    no_csrf = client.post("/api/reports", json={"lat": lat, "lon": lon, "category": "pothole", "description": "x"})
    assert no_csrf.status_code == 400 and "CSRF" in no_csrf.get_json()["message"]["en"]
    assert scalar(demo_db, "SELECT count(*) FROM report") == 0


def test_submissions_are_rate_limited_per_client(app, client, demo_db):
    app.config["REPORT_RATE_LIMIT"] = "3 per minute"
    token = csrf(client)
    lamps = [asset_point(demo_db, "street_lamp", ref) for ref in ("301", "302", "303", "304", "305")]
    codes = [submit(client, token, lat=lat, lon=lon, category="street_light_out", description=f"№{i}").status_code
             for i, (lon, lat) in enumerate(lamps[:4])]
    assert codes == [201, 201, 201, 429]
    lon, lat = lamps[4]
    limited = submit(client, token, lat=lat, lon=lon, category="street_light_out", description="ще")
    assert "Too many requests" in limited.get_json()["message"]["en"]
    assert scalar(demo_db, "SELECT count(*) FROM report") == 3


def test_me_too_over_http(client, demo_db, smtp_server):
    settings, store = smtp_server
    code = lamp_report(client, demo_db).get_json()["code"]
    answer = client.post(f"/api/reports/{quote(code)}/me-too", data={"email": "neighbour@example.org"},
                         headers={"X-CSRFToken": csrf(client)})
    assert answer.get_json()["subscribed"] is True
    bad = client.post(f"/api/reports/{quote(code)}/me-too", data={"email": "nope"},
                      headers={"X-CSRFToken": csrf(client)})
    assert bad.status_code == 400
    add_staff(demo_db, "admin@example.org", roles=("admin",))
    log_in(client, "admin@example.org")
    staff_post(client, code, "status", status="resolved", public_note="Готово")
    outbox.deliver_due(demo_db, settings)
    assert len(store.to("neighbour@example.org")) == 1 and len(store.to(EMAIL)) == 1


def test_staff_of_another_unit_get_403_and_anonymous_visitors_the_log_in(client, demo_db):
    code = lamp_report(client, demo_db).get_json()["code"]
    anonymous = client.get(f"/staff/reports/{quote(code)}")
    assert anonymous.status_code == 302 and "/staff/login" in anonymous.headers["Location"]
    add_staff(demo_db, "housing@example.org", "housing")
    log_in(client, "housing@example.org")
    assert code not in client.get("/staff/").get_data(as_text=True)
    page = client.get(f"/staff/reports/{quote(code)}")
    assert page.status_code == 403 and EMAIL not in page.get_data(as_text=True)
    queue_html = client.get("/staff/").get_data(as_text=True)
    acted = client.post(f"/staff/reports/{quote(code)}/status",
                        data={"status": "acknowledged", "csrf_token": form_token(queue_html)})
    assert acted.status_code == 403
    assert scalar(demo_db, "SELECT status FROM report WHERE code = :c", c=code) == "new"


def test_staff_forms_need_csrf_and_transitions_are_checked(client, demo_db):
    code = lamp_report(client, demo_db).get_json()["code"]
    add_staff(demo_db, "olena@example.org", "kp_blagoustrij")
    log_in(client, "olena@example.org")
    no_token = client.post(f"/staff/reports/{quote(code)}/status", data={"status": "acknowledged"})
    assert no_token.status_code == 400 and "CSRF" in no_token.get_data(as_text=True)
    assert staff_post(client, code, "status", status="reopened").status_code == 409
    assert staff_post(client, code, "transfer", unit_id=unit_id(demo_db, "housing"), reason="").status_code == 400
    assert staff_post(client, code, "transfer", unit_id=unit_id(demo_db, "housing"),
                      reason="Опора на території відділу").status_code == 302
    assert scalar(demo_db, "SELECT unit_id FROM report WHERE code = :c", c=code) == unit_id(demo_db, "housing")


def test_log_in_failures_and_throttling(app, client, demo_db):
    add_staff(demo_db, "olena@example.org", "kp_blagoustrij")
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    token = form_token(client.get("/staff/login").get_data(as_text=True))
    answers = [client.post("/staff/login", data={"email": "olena@example.org", "password": "wrong",
                                                 "csrf_token": token}) for _ in range(4)]
    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert "Неправильна пошта або пароль" in answers[0].get_data(as_text=True)


def test_queue_filters_and_due_order(client, demo_db):
    lon, lat = inside(demo_db, "Якушинці")
    token = csrf(client)
    bin_code = submit(client, token, lat=lat, lon=lon, category="overflowing_bin", description="Бак").get_json()["code"]
    hole = submit(client, token, lat=lat, lon=lon, category="pothole", description="Яма").get_json()["code"]
    add_staff(demo_db, "housing@example.org", "housing")
    log_in(client, "housing@example.org")
    html = client.get("/staff/").get_data(as_text=True)
    assert html.index(bin_code) < html.index(hole)  # bins are due in 2 days, potholes in 14
    only_holes = client.get("/staff/?category=pothole").get_data(as_text=True)
    assert hole in only_holes and bin_code not in only_holes
    assert bin_code in client.get("/staff/?village=Якушинці").get_data(as_text=True)
    assert bin_code not in client.get("/staff/?village=Зарванці").get_data(as_text=True)
    assert bin_code not in client.get("/staff/?age=7").get_data(as_text=True)
    assert bin_code not in client.get("/staff/?status=resolved").get_data(as_text=True)


def test_reporters_contacts_in_the_layer_api_are_for_admins_only(client, demo_db):
    code = lamp_report(client, demo_db).get_json()["code"]
    add_staff(demo_db, "housing@example.org", "housing")
    add_staff(demo_db, "kp@example.org", "kp_blagoustrij")
    add_staff(demo_db, "admin@example.org", roles=("admin",))
    for email, sees in (("housing@example.org", False), ("kp@example.org", False), ("admin@example.org", True)):
        log_in(client, email)
        text = client.get("/api/layers/reports/items").get_data(as_text=True)
        assert code in text and (EMAIL in text) is sees, email
        fields = [f["name"] for f in client.get("/api/layers/reports").get_json()["fields"]]
        assert ("reporter_email" in fields) is sees, email
        # Units' routing addresses stay visible to staff in general.
        assert "@yakushynetska-demo.example.org" in client.get("/api/layers/units/items").get_data(as_text=True)


# --- regressions found in review -------------------------------------------------------------------

def test_json_values_of_any_type_get_a_4xx_never_a_500(client, demo_db):
    lon, lat = asset_point(demo_db, "street_lamp", "301")
    token = csrf(client)
    for body in ({"lat": lat, "lon": lon, "category": 5, "description": 5},
                 {"lat": lat, "lon": lon, "category": "street_light_out", "description": ["a"]},
                 {"lat": [lat], "lon": lon, "category": "street_light_out", "description": "x"},
                 {"lat": lat, "lon": lon, "category": "street_light_out", "description": "x", "email": 5}):
        answer = client.post("/api/reports", json=body, headers={"X-CSRFToken": token})
        assert 400 <= answer.status_code < 500, (body, answer.status_code)
    ok = client.post("/api/reports", json={"lat": lat, "lon": lon, "category": "street_light_out",
                                           "description": 12345, "show_name": False, "name": "Петро"},
                     headers={"X-CSRFToken": token})
    assert ok.status_code == 201 and "Петро" not in client.get(ok.get_json()["public_url"]).get_data(as_text=True)


def test_nul_bytes_are_a_400(client, demo_db):
    lon, lat = asset_point(demo_db, "street_lamp", "301")
    assert client.get("/reports/%00").status_code == 400
    assert client.get("/api/reports/%00").status_code == 400
    assert client.get(f"/api/reports/nearby?lat={lat}&lon={lon}&category=%00").status_code == 400
    answer = submit(client, lat=lat, lon=lon, category="street_light_out", description="a\x00b")
    assert answer.status_code == 400 and answer.get_json()["message"]["en"]
    assert scalar(demo_db, "SELECT count(*) FROM report") == 0


@pytest.mark.parametrize("value", ["0", "no", "off", "ні", "false"])
def test_show_name_needs_a_clear_yes(client, demo_db, value):
    code = lamp_report(client, demo_db, show_name=value).get_json()["code"]
    assert NAME not in client.get(f"/reports/{quote(code)}").get_data(as_text=True)


def test_me_too_honours_the_idempotency_key(client, demo_db):
    code = lamp_report(client, demo_db).get_json()["code"]
    token = csrf(client)
    for _ in range(2):
        answer = client.post(f"/api/reports/{quote(code)}/me-too", data={"email": ""},
                             headers={"X-CSRFToken": token, "Idempotency-Key": "same"})
        assert answer.get_json()["supporters"] == 1


def test_same_key_with_another_photo_is_a_different_request(client, demo_db):
    lon, lat = asset_point(demo_db, "street_lamp", "301")
    token = csrf(client)
    fields = dict(lat=lat, lon=lon, category="street_light_out", description="Темно")
    other = io.BytesIO()
    Image.new("RGB", (50, 50), (0, 200, 0)).save(other, format="PNG")
    assert submit(client, token, photos=[jpeg_with_gps()], headers={"Idempotency-Key": "p"},
                  **fields).status_code == 201
    again = submit(client, token, photos=[other.getvalue()], headers={"Idempotency-Key": "p"}, **fields)
    assert again.status_code == 422


def test_account_without_password_never_signs_in(client, demo_db):
    with demo_db.begin() as conn:
        user_id = conn.execute(
            sa.text("INSERT INTO app_user (email) VALUES ('nopass@example.org') RETURNING id")).scalar()
        conn.execute(sa.text("INSERT INTO role_grant (user_id, hromada_id, role) SELECT :u, id, 'admin' FROM hromada"),
                     {"u": user_id})
    token = form_token(client.get("/staff/login").get_data(as_text=True))
    for password in ("no such user", ""):
        answer = client.post("/staff/login", data={"email": "nopass@example.org", "password": password,
                                                   "csrf_token": token})
        assert answer.status_code in (400, 401)


def test_private_link_is_not_cached_nor_sent_as_referrer(client, demo_db):
    created = lamp_report(client, demo_db).get_json()
    page = client.get(created["private_url"].replace("http://localhost", ""))
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"


def test_unicode_digits_in_an_id_are_a_400(client, demo_db):
    assert client.get("/api/layers/reports/items/²").status_code == 400
