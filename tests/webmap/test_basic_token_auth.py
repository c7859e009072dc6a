"""The personal API token as the password of HTTP Basic (issue #19: QGIS 3.22's "Basic" configuration).

Accepted wherever ``Authorization: Bearer`` is, with any user name (the e-mail, say). Basic
credentials that sign nobody in are a 401 with the Basic challenge on the OGC API (reads too), and
only there: public pages never answer 401 to them, and a request without credentials is never asked
for any. Then OWSLib's own Basic authentication against a live server.
"""
import base64
import json

import pytest
import sqlalchemy as sa

from gis import user_tokens
from tests.helpers import scalar
from tests.layers.test_plans import D, square
from tests.webmap.test_ogc_transactions import ITEMS, auth, feature, plan, post, tokens  # noqa: F401

BASIC = 'Basic realm="Hromada GIS", charset="UTF-8"'


def basic(user: str, password: str, **headers) -> dict:
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}", **headers}


@pytest.fixture
def draft_zone(client, plan, tokens):
    plan_id, x, y = plan
    zone = post(client, tokens["planner"], feature(plan_id, square(x, y), zone_code="Ж-1", name="Чернетка"))
    assert zone.status_code == 201
    return plan_id, zone.get_json()["id"]


def names(answer) -> list[str]:
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return [f["properties"]["name"] for f in answer.get_json()["features"]]


def test_a_draft_is_seen_with_the_token_as_the_basic_password(client, draft_zone, tokens):
    plan_id, zid = draft_zone
    of_plan = f"{ITEMS}?plan_id={plan_id}"
    assert names(client.get(of_plan)) == []  # anonymous: the draft does not exist
    token = tokens["planner"]
    for user in ("planner@example.org", "qgis", "", "ім'я"):  # any user name
        assert names(client.get(of_plan, headers=basic(user, token))) == ["Чернетка"], user
    one = client.get(f"{ITEMS}/{zid}", headers=basic("qgis", token))
    assert one.status_code == 200 and one.headers["ETag"] == f'"plan_zones-{zid}-v1"'
    assert client.get(f"{ITEMS}/{zid}").status_code == 404
    # The scheme's name in any case, and a password with surrounding spaces (some clients pad).
    pair = base64.b64encode(f"x: {token} ".encode()).decode()
    assert names(client.get(of_plan, headers={"Authorization": f"basic {pair}"})) == ["Чернетка"]
    # A resident's token shows no more than anonymous.
    assert names(client.get(of_plan, headers=basic("r", tokens["resident"]))) == []


def test_basic_credentials_that_sign_nobody_in_are_a_401_on_the_ogc_api(client, draft_zone, tokens, demo_db):
    plan_id, zid = draft_zone
    of_plan = f"{ITEMS}?plan_id={plan_id}"
    for headers, words in [
        (basic("qgis", "hgut_made-up"), "invalid or revoked"),
        (basic("planner@example.org", "correct horse battery"), "personal API token"),  # the account's password
        ({"Authorization": "Basic !!!not-base64"}, "personal API token"),
        ({"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}, "personal API token"),
    ]:
        for url in (of_plan, "/ogc/", f"{ITEMS}/{zid}"):
            answer = client.get(url, headers=headers)
            assert answer.status_code == 401, (url, headers)
            assert answer.headers.getlist("WWW-Authenticate") == [BASIC]
            body = answer.get_json()
            assert body["error"] == "unauthorized" and words in body["message"]["en"] and body["message"]["uk"]
        assert client.patch(f"{ITEMS}/{zid}", data='{"properties": {"name": "X"}}',
                            content_type="application/merge-patch+json", headers=headers).status_code == 401
    # A revoked token stops at once.
    token = tokens["planner"]
    assert names(client.get(of_plan, headers=basic("qgis", token))) == ["Чернетка"]
    with demo_db.begin() as conn:
        token_id = conn.execute(sa.text("SELECT t.id FROM user_token t JOIN app_user a ON a.id = t.user_id "
                                        "WHERE a.email = 'planner@example.org'")).scalar_one()
        user_tokens.revoke_token(conn, token_id)
    revoked = client.get(of_plan, headers=basic("qgis", token))
    assert revoked.status_code == 401 and revoked.headers["WWW-Authenticate"] == BASIC
    # Without credentials the OGC API stays open and asks for none.
    anonymous = client.get(of_plan)
    assert anonymous.status_code == 200 and "WWW-Authenticate" not in anonymous.headers


def test_public_pages_never_answer_401_to_basic_credentials(client, tokens):
    wrong = basic("qgis", "hgut_made-up")
    for url in ("/", "/api/layers", "/api/layers/plan_zones/items"):
        answer = client.get(url, headers=wrong)
        assert answer.status_code == 200, url
        assert "WWW-Authenticate" not in answer.headers
    # Basic credentials that are not ours (a proxy's password in front of the site) leave the session alone.
    from tests.webmap.test_reports_http import log_in

    assert client.get("/account/", headers=basic("staging", "proxy-password")).status_code == 302  # to log in
    log_in(client, "planner@example.org")
    assert client.get("/account/", headers=basic("staging", "proxy-password")).status_code == 200
    assert client.get("/ogc/", headers=basic("staging", "proxy-password")).status_code == 200


def test_writes_with_the_token_as_the_basic_password(client, plan, tokens, demo_db):
    plan_id, x, y = plan
    token = tokens["admin"]
    body = feature(plan_id, square(x, y), zone_code="Р", name="Парк")
    created = client.post(ITEMS, data=json.dumps(body), content_type="application/geo+json",
                          headers=basic("admin@example.org", token))  # no CSRF token: the token signs it
    assert created.status_code == 201, created.get_json()
    zid = created.get_json()["id"]
    changed = client.patch(f"{ITEMS}/{zid}", data=json.dumps({"properties": {"name": "Сквер"}}),
                           content_type="application/merge-patch+json", headers=basic("qgis", token))
    assert changed.status_code == 200 and changed.get_json()["properties"]["name"] == "Сквер"
    assert scalar(demo_db, """SELECT a.email FROM plan_zone_version v JOIN app_user a ON a.id = v.user_id
                              WHERE v.zone_id = :z AND v.version = 2""", z=zid) == "admin@example.org"
    options = client.options(f"{ITEMS}/{zid}", headers=basic("qgis", token))
    assert options.headers["Allow"] == "GET, HEAD, OPTIONS, PUT, PATCH, DELETE"
    # A resident's token: signed in, but may not write (403, not 401).
    denied = client.post(ITEMS, data=json.dumps(feature(plan_id, square(x + D, y), zone_code="Р")),
                         content_type="application/geo+json", headers=basic("r", tokens["resident"]))
    assert denied.status_code == 403
    # No credentials at all: a 401 that offers both ways, Bearer first.
    anonymous = client.post(ITEMS, data=json.dumps(body), content_type="application/geo+json")
    assert anonymous.status_code == 401
    assert anonymous.headers.getlist("WWW-Authenticate") == ['Bearer realm="hromada"', BASIC]
    # A form post of another site carrying remembered Basic credentials writes nothing (not JSON: 415).
    form = client.post(ITEMS, data={"properties": "x"}, headers=basic("qgis", token))
    assert form.status_code == 415
    assert client.delete(f"{ITEMS}/{zid}", headers=basic("qgis", token)).status_code == 204


def test_the_credentials_of_an_authorization_header():
    token = "hgut_" + "a" * 43
    encoded = base64.b64encode(f"me@example.org:{token}".encode()).decode()
    assert user_tokens.credentials(f"Bearer {token}") == user_tokens.Credentials("bearer", token)
    assert user_tokens.credentials(f"Basic {encoded}") == user_tokens.Credentials("basic", token)
    assert user_tokens.credentials("Basic " + base64.b64encode(b"me:secret").decode()) == (
        user_tokens.Credentials("basic", None))
    assert user_tokens.credentials("Basic ***") == user_tokens.Credentials("basic", None)
    for nothing in (None, "", "Bearer", "Bearer   ", "Digest x", "Negotiate abc"):
        assert user_tokens.credentials(nothing) is None, nothing


def test_owslib_with_basic_authentication(live_server, draft_zone, tokens):
    """OWSLib's Authentication(username, password) is requests' Basic: the draft shows, anonymous
    sees none, a wrong token is refused; and OWSLib's DELETE (no If-Match) deletes as a versionless
    edit (test_versionless_edits)."""
    from owslib.ogcapi.features import Features
    from owslib.util import Authentication

    plan_id, zid = draft_zone

    def client(password=None):
        api = Features(live_server + "/ogc", auth=Authentication(username="planner@example.org", password=password)
                       if password else None)
        api.headers = dict(api.headers)  # OWSLib shares its default headers module-wide
        return api

    planner = client(tokens["planner"])
    assert [f["properties"]["name"] for f in planner.collection_items("plan_zones", plan_id=plan_id)["features"]] == [
        "Чернетка"]
    assert planner.collection_item("plan_zones", zid)["properties"]["name"] == "Чернетка"
    assert client().collection_items("plan_zones", plan_id=plan_id)["features"] == []
    with pytest.raises(RuntimeError, match="unauthorized"):
        client("hgut_made-up").collection_items("plan_zones", plan_id=plan_id)
    assert planner.collection_item_delete("plan_zones", zid)
    assert planner.collection_items("plan_zones", plan_id=plan_id)["features"] == []
