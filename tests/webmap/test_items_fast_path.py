"""The layer API's items for an anonymous client without Flask (webmap.fast_items): the same answer as
Flask's, and Flask's answer for everything the fast path does not take."""
import gzip
import re

import pytest

from tests.webmap.test_errors_and_headers import no_db_app  # noqa: F401  (a fixture)
from webmap.fast_items import ItemsFastPath

AROUND_DEMO = "28.0,49.1,28.5,49.4"


@pytest.fixture
def to_flask(app, monkeypatch):
    """The requests the fast path handed to Flask, by path and query."""
    fast = app.wsgi_app
    assert isinstance(fast, ItemsFastPath)
    handed = []
    flask_wsgi = fast.flask_wsgi

    def counting(environ, start_response):
        handed.append(f"{environ['PATH_INFO']}?{environ.get('QUERY_STRING', '')}")
        return flask_wsgi(environ, start_response)

    monkeypatch.setattr(fast, "flask_wsgi", counting)
    return handed


@pytest.fixture
def with_reports(app, demo_db):
    """Three reports filed by another client (whose cookies stay its own), one of them hidden."""
    from tests.helpers import inside
    from tests.webmap.test_reports_http import lamp_report, submit

    resident = app.test_client()
    assert lamp_report(resident, demo_db).status_code == 201
    for village in ("Якушинці", "Лисянка"):
        lon, lat = inside(demo_db, village)
        assert submit(resident, lat=lat, lon=lon, category="pothole", description=f"Яма в селі {village}",
                      name="Ім'я", email="someone@example.org").status_code == 201
    with demo_db.begin() as conn:
        conn.exec_driver_sql("UPDATE report SET hidden_reason = 'a test' WHERE id = (SELECT min(id) FROM report)")
    return demo_db


def _without_nonce(headers) -> dict:
    kept = {name: value for name, value in headers.items() if name not in ("Set-Cookie",)}
    kept["Content-Security-Policy"] = re.sub(r" 'nonce-[^']+'", "", kept["Content-Security-Policy"])
    return kept


@pytest.mark.parametrize("query", [
    "",
    f"?bbox={AROUND_DEMO}",
    "?limit=2",  # a next link
    "?limit=2&offset=3",  # next and prev
    f"?offset=1&bbox={AROUND_DEMO}&limit=1",  # the arguments in another order: the links keep bbox after them
    "?bbox=27.0,48.0,27.1,48.1",  # nothing there
])
@pytest.mark.parametrize("layer", ["settlements", "hromadas", "reports"])
def test_the_fast_path_answers_as_flask_does(client, with_reports, to_flask, layer, query):
    path = f"/api/layers/{layer}/items{query}"
    fast = client.get(path)
    assert to_flask == []
    # A cookie that signs nobody in: Flask answers, for the same anonymous client.
    client.set_cookie("not_a_session", "1")
    flask = client.get(path)
    assert len(to_flask) == 1
    assert fast.status_code == flask.status_code == 200
    assert fast.data == flask.data
    assert _without_nonce(fast.headers) == _without_nonce(flask.headers)
    assert fast.headers["X-Database"] == "primary" and "nonce" not in fast.headers["Content-Security-Policy"]


def test_hidden_reports_stay_hidden_on_the_fast_path(client, with_reports, to_flask):
    from tests.helpers import scalar

    demo_db = with_reports
    shown = client.get("/api/layers/reports/items?limit=1000").get_json()
    public = scalar(demo_db, "SELECT count(*) FROM report WHERE is_public")
    assert to_flask == [] and shown["numberMatched"] == public < scalar(demo_db, "SELECT count(*) FROM report")
    assert shown["numberMatched"] == 2
    assert not any(key.startswith("reporter") for f in shown["features"] for key in f["properties"])
    assert b"someone@example.org" not in client.get("/api/layers/reports/items").data


@pytest.mark.parametrize("path, headers, status", [
    ("/api/layers/settlements/items?bbox=1,2,3", {}, 400),  # a bad box: Flask explains it
    ("/api/layers/settlements/items?limit=0", {}, 400),
    ("/api/layers/settlements/items?limit=+5", {}, 200),  # not a plain whole number (Flask takes " 5")
    ("/api/layers/settlements/items?limit=", {}, 200),
    ("/api/layers/settlements/items?limit=1&limit=2", {}, 200),  # given twice
    ("/api/layers/settlements/items?hromada=UA05020310000080026", {}, 200),
    ("/api/layers/settlements/items?f=json", {}, 200),
    ("/api/layers/settlements/items", {"Accept-Encoding": "gzip"}, 200),  # Flask-Compress compresses
    ("/api/layers/settlements/items", {"Authorization": "Bearer not-a-token"}, 200),
    ("/api/layers/no_such_layer/items", {}, 404),
    ("/api/layers/settlements/items/", {}, 200),
])
def test_everything_else_is_answered_by_flask(client, demo_db, to_flask, path, headers, status):
    answer = client.get(path, headers=headers)
    assert answer.status_code == status, answer.get_data(as_text=True)[:300]
    assert len(to_flask) == 1
    if status == 400:
        message = answer.get_json()["message"]
        assert message["uk"] and message["en"]
    if "Accept-Encoding" in headers:
        assert answer.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(answer.data).startswith(b'{"type":"FeatureCollection"')


@pytest.mark.parametrize("host", ["a b", "x/y", "[::1", "ex.org:abc", "і.ua", "a" * 300])
def test_an_odd_host_gets_the_answer_flask_gives(client, demo_db, host):
    fast = client.get("/api/layers/settlements/items?limit=1", headers={"Host": host})
    client.set_cookie("not_a_session", "1")
    flask = client.get("/api/layers/settlements/items?limit=1", headers={"Host": host})
    assert fast.status_code == flask.status_code < 500
    assert fast.data == flask.data


def test_head_and_post_are_flasks(client, demo_db, to_flask):
    assert client.head("/api/layers/settlements/items").status_code == 200
    assert client.post("/api/layers/settlements/items").status_code == 405
    assert len(to_flask) == 2


def test_the_database_down_falls_through_to_flasks_503(no_db_app):
    assert isinstance(no_db_app.wsgi_app, ItemsFastPath)
    answer = no_db_app.test_client().get("/api/layers/settlements/items?limit=2")
    assert answer.status_code == 503 and int(answer.headers["Retry-After"]) > 0
    assert answer.get_json()["error"] == "database_unavailable"


def test_not_installed_when_every_request_is_rate_limited(app):
    # Only the setting is looked at: an app made with it would change the one Limiter every app shares.
    before = app.wsgi_app
    try:
        app.config["RATELIMIT_DEFAULT"] = "100 per minute"  # the app fixture restores the settings
        ItemsFastPath.install(app)
        assert app.wsgi_app is before
        del app.config["RATELIMIT_DEFAULT"]
        ItemsFastPath.install(app)
        assert isinstance(app.wsgi_app, ItemsFastPath) and app.wsgi_app.flask_wsgi is before
    finally:
        app.wsgi_app = before


def test_behind_https_the_fast_path_sends_hsts_as_flask_does(demo_db, database_url):
    from webmap import create_app, database

    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "test-secret", "HTTPS": True})
    try:
        client = app.test_client()
        fast = client.get("/api/layers/settlements/items?limit=1")
        client.set_cookie("not_a_session", "1")
        flask = client.get("/api/layers/settlements/items?limit=1")
        assert fast.headers["Strict-Transport-Security"].startswith("max-age=")
        assert _without_nonce(fast.headers) == _without_nonce(flask.headers)
    finally:
        database.dispose(app)
