"""Issue #15: failures answered in each API's format, 405 with Allow, request bodies that cannot
crash a view, JSON numbers in forms, security headers, and no session cookie for anonymous reads."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from gis.config import default_hromada
from gis.embedded import free_port
from tests.helpers import one, scalar

CODE = default_hromada()  # the demo hromada


@pytest.fixture
def no_db_app():
    """The app pointed at a PostgreSQL port nothing listens on: the database is down."""
    from webmap import create_app, database

    url = f"postgresql+psycopg://hromada@127.0.0.1:{free_port()}/hromada?connect_timeout=2"
    application = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "test-secret"})
    yield application
    database.dispose(application)


# --- 1. the database out of reach: 503 with Retry-After, in each API's own format -----------------

def _retry_after(answer) -> int:
    assert answer.status_code == 503, (answer.status_code, answer.get_data(as_text=True)[:300])
    return int(answer.headers["Retry-After"])


def test_database_down_is_503_with_retry_after_in_each_apis_format(no_db_app):
    client = no_db_app.test_client()

    api = client.get("/api/layers/hromadas/items")
    assert _retry_after(api) > 0
    assert api.get_json()["error"] == "database_unavailable"
    assert "temporarily unavailable" in api.get_json()["message"]["en"]

    ogc = client.get("/ogc/collections")
    assert _retry_after(ogc) > 0 and ogc.mimetype == "application/json"
    assert ogc.get_json()["error"] == "database_unavailable"

    # Open311: the spec's error list, in JSON and in XML.
    o_json = client.get("/open311/v2/services.json")
    assert _retry_after(o_json) > 0
    [error] = o_json.get_json()
    assert error["code"] == 503 and "temporarily unavailable" in error["description"]
    o_xml = client.get("/open311/v2/requests.xml")
    assert _retry_after(o_xml) > 0 and o_xml.mimetype == "text/xml"
    root = ET.fromstring(o_xml.data)
    assert root.tag == "errors" and root.find("error/code").text == "503"
    assert "недоступна" in root.find("error/description").text

    # Pages: the error page, in the visitor's language.
    page = client.get("/")
    assert _retry_after(page) > 0 and page.mimetype == "text/html"
    assert "База даних тимчасово недоступна" in page.get_data(as_text=True)
    english = client.get(f"/map/{CODE}?lang=en")
    assert _retry_after(english) > 0
    assert "The database is temporarily unavailable" in english.get_data(as_text=True)

    # A vector tile: the fast path falls through to Flask, which answers 503 too.
    assert _retry_after(client.get("/tiles/hromadas/10/596/347.mvt")) > 0
    # A client with a token to check (a staff page) gets the 503 as well, not a 500.
    assert _retry_after(client.get("/staff/", headers={"Authorization": "Bearer nope"})) > 0


def test_a_full_connection_pool_is_503_too(app, client, database_url):
    """Every pooled connection busy past the pool's timeout (sqlalchemy.exc.TimeoutError): the primary's
    pool, and the one public reads take their connections from (webmap.database.connection)."""
    from gis.db import make_engine

    keys = ("hromada_engine", "hromada_primary_fast_read_engine")
    originals = {key: app.extensions[key] for key in keys}
    tiny = {key: make_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=0.2) for key in keys}
    app.extensions.update(tiny)
    try:
        with tiny[keys[0]].connect(), tiny[keys[1]].connect():  # the only connections, held
            answer = client.get("/api/layers/hromadas/items")
            assert _retry_after(answer) > 0 and answer.get_json()["error"] == "database_unavailable"
        assert client.get("/api/layers/hromadas/items").status_code == 200  # released: served again
    finally:
        app.extensions.update(originals)
        for engine in tiny.values():
            engine.dispose()


# --- 2. 405 carries Allow (RFC 9110) ----------------------------------------------------------------

@pytest.mark.parametrize("method, path, allowed", [
    ("delete", "/api/layers", "GET"),
    ("post", "/ogc/conformance", "GET"),
    ("put", "/", "GET"),
    ("patch", "/ogc/collections", "GET"),
    ("post", "/staff/reports/X-1", "GET"),
    ("delete", "/api/csrf-token", "GET"),
    ("get", "/api/reports", "POST"),
])
def test_405_carries_allow(no_db_app, method, path, allowed):
    # (Open311 answers a wrong method with the spec's 400 and error list: webmap.open311.unknown.)
    answer = getattr(no_db_app.test_client(), method)(path)
    assert answer.status_code == 405
    assert allowed in [m.strip() for m in answer.headers["Allow"].split(",")]


# --- 3. degenerate CQL2 geometries are a 400 naming the problem ------------------------------------

@pytest.mark.parametrize("cql, words", [
    ("S_INTERSECTS(geom,POLYGON((0 0,1 1)))", "invalid geometry"),
    ("S_INTERSECTS(geom,LINESTRING(0 0))", "invalid geometry"),
    ("S_INTERSECTS(geom,POLYGON((0 0,1 1,1 0,0 1,0 0)))", "Self-intersection"),
    ("S_INTERSECTS(geom,GEOMETRYCOLLECTION(POINT(28 49),LINESTRING(0 0)))", "invalid geometry"),
    ("S_INTERSECTS(geom,BBOX(0,0,'a',1))", "BBOX needs four numbers"),
])
def test_degenerate_cql_geometry_is_a_400(client, demo_db, cql, words):
    from urllib.parse import quote

    answer = client.get(f"/ogc/collections/settlements/items?filter={quote(cql)}")
    assert answer.status_code == 400, answer.get_data(as_text=True)[:300]
    assert words in answer.get_json()["message"]["en"]


def test_valid_cql_geometries_still_filter(client, demo_db):
    from urllib.parse import quote

    lon, lat = one(demo_db, "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(boundary) c FROM hromada) s")
    ring = f"{lon - .01} {lat - .01},{lon + .01} {lat - .01},{lon + .01} {lat + .01},{lon - .01} {lat + .01}"
    for cql in (f"S_INTERSECTS(geom,POINT({lon} {lat}))",
                f"S_INTERSECTS(geom,POLYGON(({ring})))"):  # an unclosed ring: closed, as shapely reads it
        answer = client.get(f"/ogc/collections/hromadas/items?filter={quote(cql)}")
        assert answer.status_code == 200 and answer.get_json()["numberMatched"] == 1, cql


# --- 4. deeply nested JSON is a 400, on every JSON endpoint -----------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000


def test_deeply_nested_json_is_a_400_on_ogc_writes(client, demo_db):
    from tests.webmap.test_ogc_transactions import ITEMS, add_user, auth

    token = add_user(demo_db, "planner@example.org", "planner")
    deep_feature = '{"type": "Feature", "geometry": ' + DEEP + ', "properties": {}}'
    for method, url, kind, body in [
        ("post", ITEMS, "application/geo+json", DEEP),
        ("post", ITEMS, "application/geo+json", deep_feature),
        ("put", f"{ITEMS}/1", "application/geo+json", DEEP),
        ("patch", f"{ITEMS}/1", "application/merge-patch+json", DEEP),
    ]:
        answer = getattr(client, method)(url, data=body, content_type=kind, headers=auth(token, **{"If-Match": '"x"'}))
        assert answer.status_code == 400, (method, answer.status_code, answer.get_data(as_text=True)[:200])
        assert "nested more than" in answer.get_json()["message"]["en"]


def test_deeply_nested_json_is_a_400_elsewhere(client, demo_db):
    from tests.webmap.test_reports_http import csrf

    token = csrf(client)
    report = client.post("/api/reports", data=DEEP, content_type="application/json", headers={"X-CSRFToken": token})
    assert report.status_code == 400 and report.is_json
    # NaN is not JSON (RFC 8259), though Python reads it.
    nan = client.post("/api/reports", data='{"lat": NaN, "lon": 28.5, "category": "x", "description": "y"}',
                      content_type="application/json", headers={"X-CSRFToken": token})
    assert nan.status_code == 400


def test_the_app_json_reader_guards_depth(app):
    from webmap.request_json import MAX_DEPTH, nesting_exceeds

    with app.app_context():
        assert app.json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
        for text in ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), DEEP, b'{"a": ' * 70_000 + b"1" + b"}" * 70_000):
            with pytest.raises(ValueError):
                app.json.loads(text)
    # Brackets inside strings do not count; objects and arrays both do.
    assert not nesting_exceeds('{"a": "' + "[" * 500 + '", "b": [{"c": [1]}]}', 4)
    assert nesting_exceeds('{"a": "\\"[", "b": [{"c": [1]}]}', 3)


# --- 5. a JSON number where the API documents a number ----------------------------------------------

def test_inspection_condition_as_a_json_number(client, demo_db):
    from tests.webmap.test_reports_http import add_staff, csrf, log_in

    segment = scalar(demo_db, "SELECT id FROM road_segment WHERE ref = 'M-DEMO'")
    url = f"/api/road-segments/{segment}/inspections"
    add_staff(demo_db, "roads@example.org", "housing")
    log_in(client, "roads@example.org")
    headers = {"X-CSRFToken": csrf(client)}
    for condition, pci in ((3, 55), ("4", "61.5"), (2.0, 40.5)):
        answer = client.post(url, json={"condition": condition, "pci": pci, "inspected_on": "2026-11-25"},
                             headers=headers)
        assert answer.status_code == 201, (condition, answer.get_json())
    assert [i["condition"] for i in client.get(url).get_json()["inspections"][:3]] == ["2", "4", "3"]
    for bad in ({"condition": 6}, {"condition": True}, {"condition": [3]}, {"inspected_on": 20261125}):
        answer = client.post(url, json={"condition": 3, "inspected_on": "2026-11-25", **bad}, headers=headers)
        assert answer.status_code == 400, bad


def test_report_lat_lon_as_json_numbers(client, demo_db):
    from tests.helpers import inside
    from tests.webmap.test_reports_http import csrf

    lon, lat = inside(demo_db, "Майдан")
    answer = client.post("/api/reports", json={"lat": lat, "lon": lon, "category": "pothole",
                                               "description": "Яма", "show_name": False},
                         headers={"X-CSRFToken": csrf(client)})
    assert answer.status_code == 201, answer.get_json()


# --- 6. security headers ----------------------------------------------------------------------------

def _csp(answer) -> dict[str, str]:
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else ""
            for part in (p.strip() for p in answer.headers["Content-Security-Policy"].split(";")) if part}


def test_security_headers_on_public_pages_and_apis(client, demo_db):
    for path in ("/", "/api/layers", "/ogc/collections", "/open311/v2/services.json", "/no-such-page"):
        answer = client.get(path)
        assert answer.headers["X-Content-Type-Options"] == "nosniff", path
        assert answer.headers["Referrer-Policy"] == "strict-origin-when-cross-origin", path
        assert "Strict-Transport-Security" not in answer.headers  # not behind HTTPS unless told
    page = client.get("/")
    csp = _csp(page)
    assert csp["object-src"] == "'none'" and "'unsafe-inline'" not in csp["script-src"]
    nonce = re.search(r"'nonce-([^']+)'", csp["script-src"]).group(1)
    html = page.get_data(as_text=True)
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert inline and all(f'nonce="{nonce}"' in attrs or "application/json" in attrs for attrs in inline)
    assert "frame-ancestors" not in csp and "X-Frame-Options" not in page.headers  # the map may be embedded


@pytest.mark.parametrize("path", ["/staff/login", "/staff/", "/account/", "/account/reset", "/operator/",
                                  f"/admin/{CODE}/staff", f"/admin/{CODE}/setup/", "/admin/imports"])
def test_staff_admin_account_operator_pages_cannot_be_framed(client, demo_db, path):
    answer = client.get(path)
    assert _csp(answer)["frame-ancestors"] == "'none'", path
    assert answer.headers["X-Frame-Options"] == "DENY"


def test_token_pages_keep_no_referrer(client, demo_db):
    for path in ("/unit-link/not-a-valid-token", "/account/reset/not-a-valid-token"):
        answer = client.get(path)
        assert answer.headers["Referrer-Policy"] == "no-referrer", path
        assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_behind_https_hsts_and_a_secure_session_cookie(clean_db, database_url):
    from webmap import create_app, database

    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "test-secret", "HTTPS": True})
    try:
        answer = app.test_client().get("/staff/login")
        assert answer.headers["Strict-Transport-Security"].startswith("max-age=")
        cookie = answer.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    finally:
        database.dispose(app)


def test_https_setting_comes_from_the_environment(monkeypatch):
    from webmap.security import https_setting

    monkeypatch.setenv("HROMADA_HTTPS", "1")
    assert https_setting()
    monkeypatch.setenv("HROMADA_HTTPS", "0")
    assert not https_setting()


CSP_PAGES = ["/", f"/map/{CODE}/roads", f"/map/{CODE}/coverage", f"/map/{CODE}/reconstruction", "/venues",
             "/staff/login"]


def test_pages_in_chromium_break_no_csp_rule(live_server, page, demo_db):
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.add_init_script("document.addEventListener('securitypolicyviolation', e => "
                         "(window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + e.blockedURI))")
    for path in CSP_PAGES:
        page.goto(live_server + path)
        page.wait_for_load_state("load")
        if page.locator(".folium-map").count():
            page.wait_for_selector(".leaflet-container")  # the map's inline script ran
        assert page.evaluate("window.__csp || []") == [], path
    assert violations == []


# --- 7. anonymous reads set no session cookie --------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/", f"/map/{CODE}", f"/map/{CODE}/coverage", f"/map/{CODE}/roads", "/hromadas",
    "/api/layers", "/api/layers/hromadas/items", "/ogc/", "/ogc/collections", "/ogc/collections/hromadas/items",
    "/open311/v2/services.json", "/open311/discovery.xml",
])
def test_anonymous_reads_set_no_cookie(app, demo_db, path):
    answer = app.test_client().get(path)
    assert answer.status_code == 200, path
    assert "Set-Cookie" not in answer.headers, (path, answer.headers.get("Set-Cookie"))


def test_csrf_token_starts_the_session_and_is_never_cached(client, demo_db):
    answer = client.get("/api/csrf-token")
    assert "session=" in answer.headers["Set-Cookie"] and answer.headers["Cache-Control"] == "no-store"
    assert json.loads(answer.data)["csrf_token"]
