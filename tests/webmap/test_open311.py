"""Open311 GeoReport v2 at /open311/v2: every resource in JSON and XML, errors, privacy, and the same
report workflow as the web form (routing, mails on resolution, public page)."""
import io
import json
import xml.etree.ElementTree as ET
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from PIL import Image
from werkzeug.datastructures import MultiDict

from gis import outbox
from gis.api_keys import check_key, issue_key, revoke_key
from gis.errors import Forbidden, NotFound
from layers.reports import Actor, add_note, change_status
from tests.helpers import (
    STRYZHAVKA,
    VINNYTSIA_CITY,
    InEveryHromada,
    asset_point,
    confirm_addresses,
    inside,
    load_neighbours,
    scalar,
    unit_id,
)
from tests.webmap.test_reports_http import add_staff, log_in, staff_post, submit
from webmap import open311

BASE = "/open311/v2"
DEMO = "UA05020310000080026"
EMAIL, PHONE, FIRST, LAST = "taras@example.org", "+380 50 765 43 21", "Тарас", "Секретенко"
# Not a bare "765": random hex ids in the map page may contain it.
SECRETS = (EMAIL, "765 43 21", "380507654321", FIRST, LAST, "службове")
ADMIN = Actor(user_id=None, grants=InEveryHromada("admin"), unit_ids=frozenset())


@pytest.fixture
def key(demo_db):
    with demo_db.begin() as conn:
        return issue_key(conn, "Тестовий застосунок")[1]


def new_key(engine, name="Інший застосунок"):
    with engine.begin() as conn:
        return issue_key(conn, name)


def lamp_fields(engine, lamp="301", **extra):
    """A lamp-out request; one lamp holds one open report, so separate reports need other lamps."""
    lon, lat = asset_point(engine, "street_lamp", lamp)
    fields = {"service_code": "street_light_out", "lat": lat, "long": lon + 0.0001,
              "description": "Не світить ліхтар біля школи", "email": EMAIL, "phone": PHONE,
              "first_name": FIRST, "last_name": LAST}
    fields.update(extra)
    return {k: v for k, v in fields.items() if v is not None}


def post(client, key, fmt="json", headers=None, **fields):
    data = dict(fields)
    if key is not None:
        data["api_key"] = key
    return client.post(f"{BASE}/requests.{fmt}", data=data, headers=headers or {})


def created_code(answer) -> str:
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()[0]["service_request_id"]


def xml(answer) -> ET.Element:
    assert answer.content_type == "text/xml; charset=utf-8"
    assert answer.data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(answer.data)


def as_json(answer):
    assert answer.content_type == "application/json; charset=utf-8"
    return json.loads(answer.data)


def errors(answer, status: int, fmt: str = "json") -> list[str]:
    """The spec's error list: the HTTP status and each entry's code; the descriptions."""
    assert answer.status_code == status, answer.get_data(as_text=True)
    if fmt == "xml":
        root = xml(answer)
        assert root.tag == "errors" and all(e.tag == "error" for e in root)
        assert all(e.findtext("code") == str(status) for e in root)
        return [e.findtext("description") for e in root]
    body = as_json(answer)
    assert isinstance(body, list) and body and all(set(e) == {"code", "description"} for e in body)
    assert all(e["code"] == status for e in body)
    descriptions = [e["description"] for e in body]
    assert all(" / " in d for d in descriptions)  # Ukrainian / English
    return descriptions


def resolve(engine, code, note="Лампу замінено", private="наряд 17 — службове"):
    with engine.begin() as conn:
        change_status(conn, code, "acknowledged", ADMIN, public_url="http://localhost")
        change_status(conn, code, "resolved", ADMIN, public_url="http://localhost", public_note=note,
                      private_note=private)


# --- discovery and services --------------------------------------------------------------------------


def test_discovery_in_json_and_xml(client, demo_db):
    for path in ("/open311/discovery.json", f"{BASE}/discovery.json"):
        doc = as_json(client.get(path))
        [endpoint] = doc["endpoints"]
        assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
        assert endpoint["url"] == "http://localhost/open311/v2" and endpoint["type"] == "production"
        assert endpoint["formats"] == ["text/xml", "application/json"]
        assert doc["changeset"] and doc["contact"] and "api-keys create" in doc["key_service"]
    root = xml(client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery"
    assert [f.text for f in root.find("endpoints/endpoint/formats")] == ["text/xml", "application/json"]
    assert root.findtext("endpoints/endpoint/specification") == "http://wiki.open311.org/GeoReport_v2"
    assert as_json(client.get(f"{BASE}/"))["endpoints"][0]["url"].endswith("/open311/v2")


def test_service_list_in_json_and_xml(client, demo_db):
    services = as_json(client.get(f"{BASE}/services.json"))
    by_code = {s["service_code"]: s for s in services}
    assert {"street_light_out", "pothole", "overflowing_bin", "water_leak", "no_signal"} <= set(by_code)
    lamp = by_code["street_light_out"]
    assert list(lamp) == ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
    assert lamp["service_name"] == "Не світить ліхтар" and lamp["type"] == "realtime"
    assert lamp["metadata"] is True and by_code["overflowing_bin"]["metadata"] is False
    assert "Street light not working" in lamp["keywords"] and lamp["group"] == "Вуличне освітлення"
    assert "5" in lamp["description"]
    root = xml(client.get(f"{BASE}/services.xml?jurisdiction_id={DEMO}"))
    assert root.tag == "services" and all(s.tag == "service" for s in root)
    assert [s.findtext("service_code") for s in root] == [s["service_code"] for s in services]
    first = root.find("service[service_code='street_light_out']")
    assert first.findtext("metadata") == "true" and first.findtext("type") == "realtime"


def test_service_definitions_and_unknown_or_unhandled_services(client, demo_db):
    lamp = as_json(client.get(f"{BASE}/services/street_light_out.json"))
    assert lamp["service_code"] == "street_light_out"
    [attr] = lamp["attributes"]
    assert attr["code"] == "asset_ref" and attr["datatype"] == "string" and attr["required"] is False
    assert attr["variable"] is True and attr["order"] == 1 and " / " in attr["description"]
    assert as_json(client.get(f"{BASE}/services/overflowing_bin.json")) == {
        "service_code": "overflowing_bin", "attributes": []}
    root = xml(client.get(f"{BASE}/services/street_light_out.xml"))
    assert root.tag == "service_definition" and root.findtext("attributes/attribute/datatype") == "string"
    assert errors(client.get(f"{BASE}/services/no_such.json"), 404)[0].count("no_such") == 2
    errors(client.get(f"{BASE}/services/no_such.xml"), 404, "xml")
    with demo_db.begin() as conn:
        conn.execute(sa.text("DELETE FROM unit_category WHERE category_id = "
                             "(SELECT id FROM category WHERE code = 'water_leak')"))
    assert "water_leak" not in [s["service_code"] for s in as_json(client.get(f"{BASE}/services.json"))]
    errors(client.get(f"{BASE}/services/water_leak.json"), 404)


def test_the_definition_format_carries_every_datatype():
    values = (("1", "Так"), ("2", "Ні"))
    attrs = (open311.Attribute("s", "string", "рядок", required=True, order=1),
             open311.Attribute("n", "number", "число", order=2),
             open311.Attribute("d", "datetime", "коли", order=3),
             open311.Attribute("t", "text", "текст", order=4, datatype_description="кілька рядків"),
             open311.Attribute("one", "singlevaluelist", "одне", values=values, order=5),
             open311.Attribute("many", "multivaluelist", "кілька", values=values, order=6),
             open311.Attribute("info", "string", "лише довідка", variable=False, order=7))
    definition = {"service_code": "x", "attributes": [a.definition() for a in attrs]}
    assert [a["datatype"] for a in definition["attributes"]] == [
        "string", "number", "datetime", "text", "singlevaluelist", "multivaluelist", "string"]
    assert definition["attributes"][4]["values"] == [{"key": "1", "name": "Так"}, {"key": "2", "name": "Ні"}]
    assert "values" not in definition["attributes"][0]
    root = ET.fromstring(open311.to_xml("service_definition", definition))
    many = root.find("attributes/attribute[code='many']")
    assert [(v.findtext("key"), v.findtext("name")) for v in many.find("values")] == list(values)
    assert root.find("attributes/attribute[code='s']/required").text == "true"
    assert root.find("attributes/attribute[code='s']/datatype_description").text is None
    with pytest.raises(ValueError):
        open311.Attribute("x", "colour", "?")
    with pytest.raises(ValueError):
        open311.Attribute("x", "singlevaluelist", "no options")

    good = MultiDict([("attribute[s]", "так"), ("attribute[n]", "12.5"), ("attribute[d]", "2026-01-02T03:04:05+02:00"),
                      ("attribute[t]", "рядок 1\nрядок 2"), ("attribute[one]", "2"), ("attribute[many][]", "1"),
                      ("attribute[many][]", "2"), ("description", "not an attribute")])
    parsed, problems = open311.read_attributes(good, attrs)
    assert problems == []
    assert parsed["n"] == 12.5 and parsed["d"].isoformat() == "2026-01-02T03:04:05+02:00"
    assert parsed["one"] == "2" and parsed["many"] == ["1", "2"] and parsed["t"].count("\n") == 1
    bad = MultiDict([("attribute[n]", "дванадцять"), ("attribute[d]", "вчора"), ("attribute[one]", "3"),
                     ("attribute[many]", "1"), ("attribute[many]", "9"), ("attribute[zzz]", "?"),
                     ("attribute[info]", "x"), ("attributes", "?")])
    parsed, problems = open311.read_attributes(bad, attrs)
    text = " | ".join(p.en for p in problems)
    for words in ("attribute[s] is required", "'дванадцять' is not a number", "is not an ISO 8601",
                  "'3' is not one of", "9 not among", "Unknown attribute 'zzz'", "Unknown attribute 'info'",
                  "Malformed parameter 'attributes'"):
        assert words in text
    assert parsed == {}


# --- jurisdictions -------------------------------------------------------------------------------------


def test_jurisdiction_is_optional_for_one_hromada_and_required_for_several(client, demo_db, key):
    assert client.get(f"{BASE}/services.json").status_code == 200
    errors(client.get(f"{BASE}/services.json?jurisdiction_id=UA00000000000000000"), 404)
    errors(client.get(f"{BASE}/services.json?jurisdiction_id=sfgov.org"), 404)
    load_neighbours(demo_db)
    for path in ("services.json", "services/pothole.json", "requests.json", "requests/ЯК-2026-000001.json",
                 "tokens/x.json", "servicerequestupdates.json"):
        assert "jurisdiction_id" in errors(client.get(f"{BASE}/{path}"), 400)[0]
    errors(client.get(f"{BASE}/services.xml"), 400, "xml")
    assert "jurisdiction_id" in errors(post(client, key, **lamp_fields(demo_db)), 400)[0]
    assert len(as_json(client.get(f"{BASE}/services.json?jurisdiction_id={DEMO.lower()}"))) == 10
    assert as_json(client.get(f"{BASE}/services.json?jurisdiction_id={STRYZHAVKA}")) == []
    refused = errors(post(client, key, jurisdiction_id=STRYZHAVKA, **lamp_fields(demo_db)), 400)
    assert any("does not take reports yet" in d for d in refused)  # not switched on by the operator

    # A request filed with one jurisdiction is not seen through another.
    code = created_code(post(client, key, jurisdiction_id=DEMO, **lamp_fields(demo_db)))
    errors(client.get(f"{BASE}/requests/{quote(code)}.json?jurisdiction_id={VINNYTSIA_CITY}"), 404)
    assert as_json(client.get(f"{BASE}/requests.json?jurisdiction_id={VINNYTSIA_CITY}")) == []
    # A point in another hromada than the jurisdiction named is refused.
    with demo_db.begin() as conn:
        conn.execute(sa.text("""INSERT INTO unit (hromada_id, code, name_uk, kind)
                                SELECT id, 'city', 'Міська служба', 'department' FROM hromada WHERE katottg = :k"""),
                     {"k": VINNYTSIA_CITY})
        conn.execute(sa.text("""INSERT INTO unit_category (unit_id, category_id)
                                SELECT u.id, c.id FROM unit u, category c WHERE u.code = 'city'
                                AND c.code = 'overflowing_bin'"""))
        conn.execute(sa.text("""INSERT INTO hromada_setup (hromada_id, enabled_at)
                                SELECT id, now() FROM hromada WHERE katottg = :k"""), {"k": VINNYTSIA_CITY})
    lon, lat = inside(demo_db, "Якушинці")
    elsewhere = post(client, key, jurisdiction_id=VINNYTSIA_CITY, service_code="overflowing_bin", lat=lat, long=lon,
                     description="Бак")
    assert "another hromada" in errors(elsewhere, 400)[0]
    assert scalar(demo_db, "SELECT count(*) FROM report") == 1


# --- POST a service request ------------------------------------------------------------------------


def test_open311_report_is_routed_mailed_and_published_like_the_web_form(client, demo_db, key, smtp_server):
    settings, store = smtp_server
    answer = post(client, key, **lamp_fields(demo_db, media_url="http://example.org/lamp.jpg"))
    code = created_code(answer)
    [body] = as_json(answer)
    assert list(body) == ["service_request_id", "service_notice", "account_id"]
    assert code.startswith("ЯК-") and body["account_id"] is None
    assert "КП «Якушинціблагоустрій»" in body["service_notice"] and "Ліхтар №301" in body["service_notice"]
    assert answer.headers["Location"] == f"http://localhost{BASE}/requests/{quote(code)}.json"

    # The web form, at the next lamp (the same lamp would join the open report): routed the same way.
    lon, lat = asset_point(demo_db, "street_lamp", "302")
    web = submit(client, lat=lat, lon=lon + 0.0001, category="street_light_out",
                 description="Не світить ліхтар біля школи", email="web@example.org").get_json()
    same = ("""SELECT unit_id, category_id, hromada_id, routing_rule, replace(routing_reason_uk, '302', '301'),
                     replace(routing_reason_en, '302', '301'), status, due_at """
            """FROM report WHERE code = :c""")
    with demo_db.connect() as conn:
        ours, theirs = (conn.execute(sa.text(same), {"c": c}).one() for c in (code, web["code"]))
    assert ours == theirs and ours.routing_rule == "asset" and ours.unit_id == unit_id(demo_db, "kp_blagoustrij")
    again = post(client, key, **lamp_fields(demo_db, description="Досі не світить"))
    assert created_code(again) == code  # the same lamp, still open: "me too" on the first report
    assert scalar(demo_db, "SELECT reporter_name FROM report WHERE code = :c", c=code) == f"{FIRST} {LAST}"
    assert scalar(demo_db, "SELECT show_name FROM report WHERE code = :c", c=code) is False

    add_staff(demo_db, "olena@example.org", "kp_blagoustrij")
    log_in(client, "olena@example.org")
    assert code in client.get("/staff/").get_data(as_text=True)
    assert staff_post(client, code, "status", status="acknowledged").status_code == 302
    assert staff_post(client, code, "status", status="resolved", public_note="Лампу замінено",
                      private_note="наряд 17").status_code == 302
    # The unit told of both reports, each reporter's "received", the request to confirm the address of
    # the "me too" on the first; acknowledged and resolved go to the reporter only once the address is
    # confirmed (tests/webmap/test_followers.py).
    assert outbox.deliver_due(demo_db, settings) == 5
    confirm_addresses(demo_db, EMAIL)
    assert staff_post(client, code, "status", status="reopened").status_code == 302
    assert staff_post(client, code, "status", status="resolved", public_note="Лампу замінено",
                      private_note="наряд 17").status_code == 302
    assert outbox.deliver_due(demo_db, settings) == 2
    mails = store.to(EMAIL)[-2:]  # after the "received" and the request to confirm
    assert len(mails) == 2 and "Лампу замінено" in mails[1]["body"] and "наряд 17" not in mails[1]["body"]
    assert f"http://localhost/reports/{code}" in mails[1]["body"]

    page = client.get(f"/reports/{quote(code)}").get_data(as_text=True)
    assert "вирішено" in page and "Лампу замінено" in page
    for secret in SECRETS:
        assert secret not in page
    [got] = as_json(client.get(f"{BASE}/requests/{quote(code)}.json"))
    assert got["status"] == "closed" and got["status_notes"] == "Лампу замінено"
    assert got["agency_responsible"] == "КП «Якушинціблагоустрій»" and got["media_url"] is None


def test_post_answers_in_xml_and_an_asset_can_be_named(client, demo_db, key):
    lon, lat = inside(demo_db, "Якушинці")  # far from every lamp: only the named one routes it
    answer = post(client, key, "xml", service_code="street_light_out", lat=lat, long=lon, description="Темно",
                  **{"attribute[asset_ref]": "302"})
    assert answer.status_code == 201
    root = xml(answer)
    assert root.tag == "service_requests" and [r.tag for r in root] == ["request"]
    code = root.findtext("request/service_request_id")
    assert root.find("request/account_id").text is None
    assert "Ліхтар №302" in root.findtext("request/service_notice")
    assert answer.headers["Location"].endswith(".xml")
    assert scalar(demo_db, "SELECT a.ref FROM report r JOIN asset a ON a.id = r.asset_id WHERE r.code = :c",
                  c=code) == "302"


def test_post_errors_follow_the_spec_and_store_nothing(client, demo_db, key):
    fields = lamp_fields(demo_db)
    assert "api_key is missing" in errors(post(client, None, **fields), 403)[0]
    assert "Invalid api_key" in errors(post(client, "wrong", "xml", **fields), 403, "xml")[0]
    key_id, other = new_key(demo_db)
    assert post(client, other, **fields).status_code == 201
    with demo_db.begin() as conn:
        assert revoke_key(conn, key_id) is True and revoke_key(conn, key_id) is False
    assert "revoked" in errors(post(client, other, **fields), 403)[0]
    assert scalar(demo_db, "SELECT count(*) FROM report") == 1

    def fails(status, words, fmt="json", **change):
        sent = {**fields, **change}
        answer = post(client, key, fmt, **{k: v for k, v in sent.items() if v is not None})
        text = " | ".join(errors(answer, status, fmt))
        for word in ([words] if isinstance(words, str) else words):
            assert word in text, text
        return answer

    fails(400, "service_code was not provided", service_code=None)
    fails(404, "service_code 'no_such' was not found", service_code="no_such")
    fails(404, "was not found", "xml", service_code="no_such")
    fails(400, "lat and long are required", lat=None, long=None)
    fails(400, "address_id cannot be resolved", "xml", lat=None, long=None, address_id="17")
    fails(400, "address_string: ", lat=None, long=None, address_string="Qwxzv")  # placed: test_open311_media.py
    fails(400, "Both lat and long", long=None)
    fails(400, "lat: latitude must be between", lat=95)
    fails(400, "long: Not a valid float", long="схід")
    fails(400, "outside every hromada", lat=50.45, long=30.52)  # a 422 inside, 400 as the spec asks
    fails(400, "look swapped", lat=fields["long"], long=fields["lat"])
    fails(400, "describe the problem", description=None)
    fails(400, "at most 2000 characters", description="x" * 2001)
    fails(400, "email: not a valid e-mail", email="not-an-address")
    fails(400, "phone: not a valid phone", phone="call me")
    fails(400, "Unknown attribute 'colour'", **{"attribute[colour]": "red"})
    fails(400, "no street lamp No. 999", **{"attribute[asset_ref]": "999"})
    # Everything wrong at once: one entry for each problem.
    many = fails(400, ["service_code was not provided", "lat and long are required", "email:", "phone:"],
                 service_code=None, lat=None, long=None, email="x", phone="y")
    assert len(many.get_json()) == 4
    with demo_db.begin() as conn:
        conn.execute(sa.text("DELETE FROM unit_category WHERE category_id = "
                             "(SELECT id FROM category WHERE code = 'water_leak')"))
    fails(404, "water_leak", service_code="water_leak")
    as_json_body = client.post(f"{BASE}/requests.json", json={**fields, "api_key": key})
    assert "x-www-form-urlencoded" in errors(as_json_body, 400)[0]
    assert scalar(demo_db, "SELECT count(*) FROM report") == 1
    assert scalar(demo_db, "SELECT count(*) FROM outbox") == 2  # the unit and the reporter told of the one stored


def test_idempotency_key_returns_the_first_answer(client, demo_db, key):
    fields = lamp_fields(demo_db)
    first = post(client, key, headers={"Idempotency-Key": "o-1"}, **fields)
    again = post(client, key, "xml", headers={"Idempotency-Key": "o-1"}, **fields)
    assert first.status_code == again.status_code == 201
    assert xml(again).findtext("request/service_request_id") == first.get_json()[0]["service_request_id"]
    assert scalar(demo_db, "SELECT count(*) FROM report") == 1
    changed = post(client, key, headers={"Idempotency-Key": "o-1"}, **{**fields, "description": "Інше"})
    assert "already used for a different request" in errors(changed, 400)[0]
    # Another application's keys are its own.
    other = new_key(demo_db)[1]
    assert post(client, other, headers={"Idempotency-Key": "o-1"},
                **lamp_fields(demo_db, lamp="302")).status_code == 201
    assert scalar(demo_db, "SELECT count(*) FROM report") == 2


def test_posting_is_rate_limited_per_application(app, client, demo_db, key):
    app.config["OPEN311_RATE_LIMIT"] = "2 per minute"
    assert [post(client, key, **lamp_fields(demo_db, lamp=n)).status_code for n in ("301", "302")] == [201, 201]
    limited = post(client, key, "xml", **lamp_fields(demo_db, lamp="303"))
    assert "Too many requests" in errors(limited, 429, "xml")[0]
    assert post(client, new_key(demo_db)[1], **lamp_fields(demo_db, lamp="304")).status_code == 201
    assert scalar(demo_db, "SELECT count(*) FROM report") == 3


# --- GET service requests ------------------------------------------------------------------------


def file_reports(client, engine, key) -> dict[str, str]:
    """Four requests: a lamp, a bin, a pothole (closed) and an old bin (120 days ago)."""
    lon, lat = inside(engine, "Якушинці")
    codes = {
        "lamp": created_code(post(client, key, **lamp_fields(engine))),
        "bin": created_code(post(client, key, service_code="overflowing_bin", lat=lat, long=lon, description="Бак")),
        "hole": created_code(post(client, key, service_code="pothole", lat=lat, long=lon, description="Яма")),
        "old": created_code(post(client, key, service_code="overflowing_bin", lat=lat, long=lon, description="Давно")),
    }
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE report SET created_at = now() - interval '120 days' WHERE code = :c"),
                     {"c": codes["old"]})
        for i, name in enumerate(("lamp", "bin", "hole"), start=1):  # a clear order: lamp is the newest
            conn.execute(sa.text("UPDATE report SET created_at = now() - make_interval(hours => :h) WHERE code = :c"),
                         {"h": i, "c": codes[name]})
    resolve(engine, codes["hole"], note="Яму засипано")
    return codes


def ids(answer) -> list[str]:
    return [r["service_request_id"] for r in as_json(answer)]


def test_get_requests_defaults_and_filters(client, demo_db, key):
    codes = file_reports(client, demo_db, key)
    assert ids(client.get(f"{BASE}/requests.json")) == [codes["lamp"], codes["bin"], codes["hole"]]  # 90 days
    [hole] = [r for r in as_json(client.get(f"{BASE}/requests.json")) if r["service_request_id"] == codes["hole"]]
    assert list(hole) == ["service_request_id", "status", "status_notes", "service_name", "service_code",
                          "description", "agency_responsible", "service_notice", "requested_datetime",
                          "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat",
                          "long", "media_url"]
    assert hole["status"] == "closed" and hole["status_notes"] == "Яму засипано" and hole["service_code"] == "pothole"
    assert hole["service_name"] == "Яма на дорозі" and hole["address"].startswith("Якушинці, ")
    assert isinstance(hole["lat"], float) and isinstance(hole["service_request_id"], str)
    for stamp in ("requested_datetime", "updated_datetime", "expected_datetime"):
        assert hole[stamp].endswith("Z") and len(hole[stamp]) == 20
    closed_at = scalar(demo_db, "SELECT to_char(closed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
                                "FROM report WHERE code = :c", c=codes["hole"])
    assert hole["updated_datetime"] == closed_at

    q = lambda query: ids(client.get(f"{BASE}/requests.json?{query}"))  # noqa: E731
    assert q("status=open") == [codes["lamp"], codes["bin"]]
    assert q("status=closed") == [codes["hole"]]
    assert q("status=open,closed") == q("status=open&status=closed") == q("")
    assert q("service_code=overflowing_bin") == [codes["bin"]]
    assert q("service_code=overflowing_bin,pothole&status=open") == [codes["bin"]]
    assert q("service_code=no_such") == []
    old_day = scalar(demo_db, "SELECT (created_at AT TIME ZONE 'UTC')::date FROM report WHERE code = :c",
                     c=codes["old"])
    assert q(f"start_date={old_day}T00:00:00Z&end_date={old_day}T23:59:59Z") == [codes["old"]]
    assert q(f"start_date={old_day}T00:00:00%2B00:00") == [codes["old"]]  # start + 90 days
    assert q(f"start_date={old_day}T00:00:00+00:00") == [codes["old"]]  # an unescaped "+" is a space
    assert q(f"end_date={old_day}T23:59:59Z") == [codes["old"]]  # end − 90 days
    assert q(f"start_date={old_day}") == [codes["old"]]
    # service_request_id overrides every other argument, in the order given.
    assert q(f"service_request_id={codes['old']},{codes['hole']}&status=open&service_code=pothole") == [
        codes["old"], codes["hole"]]
    assert q(f"service_request_id={codes['old']},ЯК-1999-000000") == [codes["old"]]

    assert "90 days" in errors(client.get(f"{BASE}/requests.json?start_date=2026-01-01T00:00:00Z"
                                          f"&end_date=2026-06-01T00:00:00Z"), 400)[0]
    assert "before" in errors(client.get(f"{BASE}/requests.json?start_date=2026-02-01&end_date=2026-01-01"), 400)[0]
    assert "ISO 8601" in errors(client.get(f"{BASE}/requests.xml?start_date=yesterday"), 400, "xml")[0]
    assert "open, closed" in errors(client.get(f"{BASE}/requests.json?status=pending"), 400)[0]

    root = xml(client.get(f"{BASE}/requests.xml?status=closed"))
    assert root.tag == "service_requests" and [r.tag for r in root] == ["request"]
    assert root.findtext("request/service_request_id") == codes["hole"]
    assert root.findtext("request/status") == "closed" and root.find("request/address_id").text is None


def test_at_most_1000_requests_and_paging(client, demo_db, key):
    code = created_code(post(client, key, **lamp_fields(demo_db)))
    with demo_db.begin() as conn:
        columns = [c for c in sa.inspect(demo_db).get_columns("report")
                   if c["name"] not in ("id", "code") and not c.get("computed")]
        names = ", ".join(c["name"] for c in columns)
        older = names.replace("created_at", "created_at - make_interval(secs => n)")  # one second apart
        conn.execute(sa.text(f"""INSERT INTO report (code, {names})
                                 SELECT 'ЯК-2025-' || lpad(n::text, 6, '0'), {older}
                                 FROM report, generate_series(1, 1004) n WHERE code = :c"""), {"c": code})
    every = client.get(f"{BASE}/requests.json")
    assert len(as_json(every)) == 1000 and ids(every)[0] == code
    assert ids(client.get(f"{BASE}/requests.json?page=2"))[:1] == ["ЯК-2025-001000"]
    assert len(ids(client.get(f"{BASE}/requests.json?page=2"))) == 5
    assert ids(client.get(f"{BASE}/requests.json?page_size=2")) == [code, "ЯК-2025-000001"]
    assert ids(client.get(f"{BASE}/requests.json?page_size=2&page=3")) == ["ЯК-2025-000004", "ЯК-2025-000005"]
    assert ids(client.get(f"{BASE}/requests.json?page_size=10&page=200")) == []
    assert len(xml(client.get(f"{BASE}/requests.xml?page_size=3"))) == 3
    for bad in ("page=0", "page=abc", "page_size=1001", "page_size=-1", "page=²"):
        errors(client.get(f"{BASE}/requests.json?{bad}"), 400)


def test_extensions_add_the_public_update_history(client, demo_db, key):
    code = created_code(post(client, key, **lamp_fields(demo_db)))
    with demo_db.begin() as conn:
        add_note(conn, code, ADMIN, public_note=None, private_note="внутрішнє службове")
        add_note(conn, code, ADMIN, public_note="Бригада виїхала", private_note=None)
    resolve(demo_db, code)
    plain = as_json(client.get(f"{BASE}/requests/{quote(code)}.json"))[0]
    assert "notes" not in plain and "extended_attributes" not in plain
    [full] = as_json(client.get(f"{BASE}/requests.json?extensions=true"))
    assert full == as_json(client.get(f"{BASE}/requests/{quote(code)}.json?extensions=true"))[0]
    assert [n["type"] for n in full["notes"]] == ["submitted", "note", "acknowledged", "resolved"]
    assert full["notes"][1]["description"] == "Бригада виїхала"
    assert full["notes"][3]["description"] == "Стан: вирішено / Status: resolved. Лампу замінено"
    assert all(n["datetime"].endswith("Z") for n in full["notes"])
    assert full["extended_attributes"] == {"detailed_status": "resolved", "photos": []}
    root = xml(client.get(f"{BASE}/requests/{quote(code)}.xml?extensions=true"))
    assert [n.findtext("type") for n in root.find("request/notes")] == ["submitted", "note", "acknowledged",
                                                                        "resolved"]
    text = json.dumps(full, ensure_ascii=False) + root.findtext("request/notes/note/description")
    assert "службове" not in text and "наряд" not in text


def test_one_request_and_tokens_in_json_and_xml(client, demo_db, key):
    code = created_code(post(client, key, **lamp_fields(demo_db)))
    [one] = as_json(client.get(f"{BASE}/requests/{quote(code)}.json"))
    assert one["service_request_id"] == code and one["status"] == "open" and one["status_notes"] is None
    assert one["description"] == "Не світить ліхтар біля школи"
    assert xml(client.get(f"{BASE}/requests/{quote(code)}.xml")).findtext("request/service_code") == "street_light_out"
    assert "ЯК-2026-999999" in errors(client.get(f"{BASE}/requests/{quote('ЯК-2026-999999')}.json"), 404)[0]
    errors(client.get(f"{BASE}/requests/nothing.xml"), 404, "xml")
    assert as_json(client.get(f"{BASE}/tokens/{quote(code)}.json")) == [{"service_request_id": code, "token": code}]
    root = xml(client.get(f"{BASE}/tokens/{quote(code)}.xml"))
    assert root.tag == "service_requests" and root.findtext("request/service_request_id") == code
    assert root.findtext("request/token") == code
    errors(client.get(f"{BASE}/tokens/nothing.json"), 404)
    errors(client.get(f"{BASE}/tokens/nothing.xml"), 404, "xml")


def test_media_url_is_the_first_public_photo(client, demo_db, key):
    lon, lat = asset_point(demo_db, "street_lamp", "301")
    photo = io.BytesIO()
    Image.new("RGB", (400, 300), (90, 90, 90)).save(photo, format="JPEG")
    code = submit(client, photos=[photo.getvalue()], lat=lat, lon=lon, category="street_light_out",
                  description="Темно").get_json()["code"]
    [got] = as_json(client.get(f"{BASE}/requests.json?extensions=true"))
    url = f"http://localhost/reports/{quote(code)}/photos/1.jpg"
    assert got["media_url"] == url and got["extended_attributes"]["photos"] == [{"media_url": url}]
    fetched = client.get(url.replace("http://localhost", ""))
    assert fetched.status_code == 200 and fetched.mimetype == "image/jpeg"


# --- servicerequestupdates ------------------------------------------------------------------------


def test_service_request_updates_since_a_date(client, demo_db, key):
    codes = file_reports(client, demo_db, key)
    with demo_db.begin() as conn:
        add_note(conn, codes["bin"], ADMIN, public_note=None, private_note="лише службове")
        add_note(conn, codes["bin"], ADMIN, public_note="Вивеземо завтра", private_note=None)
        conn.execute(sa.text("UPDATE report_event SET created_at = now() - interval '100 days' WHERE report_id = "
                             "(SELECT id FROM report WHERE code = :c) AND kind = 'status' AND to_status = "
                             "'acknowledged'"), {"c": codes["hole"]})
        conn.execute(sa.text("UPDATE report_event SET created_at = now() - interval '1 hour' WHERE report_id = "
                             "(SELECT id FROM report WHERE code = :c) AND to_status = 'resolved'"),
                     {"c": codes["hole"]})
    updates = as_json(client.get(f"{BASE}/servicerequestupdates.json"))
    assert [(u["service_request_id"], u["status"]) for u in updates] == [
        (codes["hole"], "closed"), (codes["bin"], "open")]
    resolved, note = updates
    assert list(resolved) == ["update_id", "service_request_id", "status", "updated_datetime", "description",
                              "media_url"]
    assert resolved["description"] == "Стан: вирішено / Status: resolved. Яму засипано"
    assert note["description"] == "Вивеземо завтра" and note["media_url"] is None
    assert isinstance(note["update_id"], str) and note["updated_datetime"].endswith("Z")
    since = as_json(client.get(f"{BASE}/servicerequestupdates.json?start_date={quote(note['updated_datetime'])}"))
    assert [u["update_id"] for u in since] == [note["update_id"]]
    old = scalar(demo_db, "SELECT to_char(now() - interval '101 days', 'YYYY-MM-DD')")
    older = as_json(client.get(f"{BASE}/servicerequestupdates.json?start_date={old}&end_date={old}T23:59:59Z"))
    assert older == [] and len(as_json(client.get(f"{BASE}/servicerequestupdates.json?start_date={old}"))) == 1
    assert len(as_json(client.get(f"{BASE}/servicerequestupdates.json?page_size=1&page=2"))) == 1
    root = xml(client.get(f"{BASE}/servicerequestupdates.xml"))
    assert root.tag == "service_request_updates" and [u.tag for u in root] == ["request_update"] * 2
    assert root.findtext("request_update/status") == "closed"
    assert "службове" not in json.dumps(updates, ensure_ascii=False)
    errors(client.get(f"{BASE}/servicerequestupdates.json?end_date=never"), 400)
    errors(client.get(f"{BASE}/servicerequestupdates.json?start_date=9999-12-31T00:00:00Z"), 400)
    errors(client.get(f"{BASE}/requests.json?end_date=0001-01-02"), 400)


# --- privacy ----------------------------------------------------------------------------------------------


def test_no_personal_data_in_any_answer(client, demo_db, key):
    answers = []
    answer = post(client, key, **lamp_fields(demo_db, account_id="acct-765", device_id="dev-765"))
    code = created_code(answer)
    answers.append(answer)
    answers.append(post(client, key, "xml", **lamp_fields(demo_db)))
    resolve(demo_db, code)
    with demo_db.begin() as conn:
        add_note(conn, code, ADMIN, public_note="Дякуємо", private_note="службове: дзвонили 765 43 21")
    for fmt in ("json", "xml"):
        for path in (f"discovery.{fmt}", f"services.{fmt}", f"services/street_light_out.{fmt}", f"requests.{fmt}",
                     f"requests.{fmt}?extensions=true", f"requests/{quote(code)}.{fmt}?extensions=true",
                     f"requests.{fmt}?service_request_id={quote(code)}&extensions=true", f"tokens/{quote(code)}.{fmt}",
                     f"servicerequestupdates.{fmt}", f"requests/nothing.{fmt}"):
            answers.append(client.get(f"{BASE}/{path}"))
    assert [a.status_code for a in answers].count(200) == len(answers) - 4  # two POSTs, two 404s
    for got in answers:
        text = got.get_data(as_text=True)
        path = got.request.path
        assert "ЯК-2026-" in text or "nothing" in text or "services" in path or "discovery" in path
        for secret in SECRETS + ("acct-765", "dev-765"):
            assert secret not in text, (got.request.path, secret)


# --- formats, unknown resources, bad input ----------------------------------------------------------------


def test_xml_escapes_markup_and_drops_what_xml_cannot_carry(client, demo_db, key):
    code = created_code(post(client, key, **lamp_fields(demo_db, description='Ліхтар <b>"не"</b> & \x01 світить')))
    root = xml(client.get(f"{BASE}/requests/{quote(code)}.xml"))
    assert root.findtext("request/description") == 'Ліхтар <b>"не"</b> &  світить'
    assert as_json(client.get(f"{BASE}/requests/{quote(code)}.json"))[0]["description"].count("\x01") == 1


def test_unknown_resources_methods_and_bad_bytes(client, demo_db, key):
    assert "no resource" in errors(client.get(f"{BASE}/nothing.json"), 404)[0]
    errors(client.get(f"{BASE}/nothing.xml"), 404, "xml")
    errors(client.get(f"{BASE}/services.csv"), 404)
    errors(client.get("/open311/v3/services.json"), 404)
    assert "use GET" in errors(client.post(f"{BASE}/services.xml", data={"api_key": key}), 400, "xml")[0]
    errors(client.get(f"{BASE}/requests/x.json/more"), 404)
    errors(client.put(f"{BASE}/requests.json"), 400)  # the spec: 400 for a request that cannot be served
    errors(client.get(f"{BASE}/requests/%00.json"), 400)
    errors(client.get(f"{BASE}/services.json?jurisdiction_id=%00"), 400)
    assert client.get(f"{BASE}/requests.json").status_code == 200  # no CSRF, no api_key for reading


# --- API keys and their CLI -----------------------------------------------------------------------------


def test_api_keys_are_hashed_checked_and_revocable(clean_db):
    with clean_db.begin() as conn:
        key_id, key = issue_key(conn, "  Застосунок міста  ")
        assert check_key(conn, key) == key_id
        stored = conn.execute(sa.text("SELECT name, key_hash FROM api_key WHERE id = :i"), {"i": key_id}).one()
        assert stored.name == "Застосунок міста" and key not in stored.key_hash and len(stored.key_hash) == 64
        for wrong in (None, "", "   ", key + "x"):
            with pytest.raises(Forbidden):
                check_key(conn, wrong)
        revoke_key(conn, key_id)
        with pytest.raises(Forbidden, match="revoked"):
            check_key(conn, key)
        with pytest.raises(NotFound):
            revoke_key(conn, key_id + 100)
        assert issue_key(conn, "Ще один")[1] != key


def test_api_keys_cli(clean_db, database_url, monkeypatch):
    from webmap.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    made = runner.invoke(main, ["api-keys", "create", "Мобільний застосунок"])
    assert made.exit_code == 0, made.output
    key = next(line for line in made.output.splitlines() if line.startswith("hgis_"))
    with clean_db.connect() as conn:
        key_id = check_key(conn, key)
    listed = runner.invoke(main, ["api-keys", "list"])
    assert listed.exit_code == 0 and "Мобільний застосунок" in listed.output and key not in listed.output
    assert runner.invoke(main, ["api-keys", "revoke", str(key_id)]).exit_code == 0
    with clean_db.connect() as conn, pytest.raises(Forbidden):
        check_key(conn, key)
    assert "revoked" in runner.invoke(main, ["api-keys", "list"]).output
    missing = runner.invoke(main, ["api-keys", "revoke", "999"])
    assert missing.exit_code == 1 and "no API key with id 999" in missing.output
    empty = runner.invoke(main, ["api-keys", "create", " "])
    assert empty.exit_code == 1
