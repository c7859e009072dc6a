"""OGC API – Features Part 4 on plan zones (issue #9): tokens, roles, ETag/If-Match, no lost update.

Plain HTTP through Flask's test client, then an independent client (OWSLib's ogcapi.features, which
has Part 4 methods) and two concurrent writers against a live waitress server.
"""
import json
import re
import threading

import pytest
import requests
import sqlalchemy as sa
from click.testing import CliRunner

from gis import user_tokens
from gis.users import create_user
from layers import plans
from tests.helpers import demo_hromada_id, scalar
from tests.layers.test_plans import PLANNER, D, plan, square  # noqa: F401  (plan: a draft plan, a fixture)

ITEMS = "/ogc/collections/plan_zones/items"
GEOJSON = "application/geo+json"


def add_user(engine, email: str, *roles: str) -> str:
    """A user with ``roles`` and a personal token; the token."""
    with engine.begin() as conn:
        create_user(conn, email, "correct horse battery", list(roles), hromada_id=demo_hromada_id(engine))
        return user_tokens.create_token(conn, email, "QGIS")[1]


@pytest.fixture
def tokens(demo_db):
    return {role: add_user(demo_db, f"{role}@example.org", *([] if role == "resident" else [role]))
            for role in ("planner", "admin", "resident", "unit_staff")}
    # "resident": an account with no role at all


def auth(token: str | None, **headers) -> dict:
    return {**({"Authorization": f"Bearer {token}"} if token else {}), **headers}


def feature(plan_id, geometry, **properties) -> dict:
    return {"type": "Feature", "geometry": geometry, "properties": {"plan_id": plan_id, **properties}}


def post(client, token, body, **kw):
    return client.post(ITEMS, data=json.dumps(body), content_type=GEOJSON, headers=auth(token), **kw)


def test_create_replace_update_delete_over_http(client, plan, tokens):
    plan_id, x, y = plan
    token = tokens["planner"]
    created = post(client, token, feature(plan_id, square(x, y), zone_code="Ж-1", name="Центр"))
    assert created.status_code == 201, created.get_json()
    zone = created.get_json()
    zid = int(zone["id"])
    assert created.headers["Location"].endswith(f"{ITEMS}/{zid}")
    assert created.headers["ETag"] == f'"plan_zones-{zid}-v1"'
    assert zone["properties"]["zone_code"] == "Ж-1" and zone["properties"]["version"] == 1
    # GET gives the same ETag (the draft is visible to the planner's token).
    got = client.get(f"{ITEMS}/{zid}", headers=auth(token))
    assert got.status_code == 200 and got.headers["ETag"] == created.headers["ETag"]
    # PUT replaces every attribute: the name not given becomes empty; the server's fields QGIS echoes are ignored.
    body = feature(plan_id, square(x + D, y), zone_code="Г-1", max_height_m=12.5, version=99, published=True)
    replaced = client.put(f"{ITEMS}/{zid}", data=json.dumps(body), content_type=GEOJSON,
                          headers=auth(token, **{"If-Match": got.headers["ETag"]}))
    assert replaced.status_code == 200, replaced.get_json()
    props = replaced.get_json()["properties"]
    assert (props["zone_code"], props["name"], props["max_height_m"], props["version"]) == ("Г-1", None, 12.5, 2)
    assert replaced.headers["ETag"] == f'"plan_zones-{zid}-v2"'
    # PATCH: a JSON merge patch; null unsets.
    patch = {"properties": {"name": "Школа", "max_height_m": None}}
    patched = client.patch(f"{ITEMS}/{zid}", data=json.dumps(patch), content_type="application/merge-patch+json",
                           headers=auth(token, **{"If-Match": replaced.headers["ETag"]}))
    assert patched.status_code == 200, patched.get_json()
    props = patched.get_json()["properties"]
    assert (props["zone_code"], props["name"], props["max_height_m"], props["version"]) == ("Г-1", "Школа", None, 3)
    assert scalar(client.application.extensions["hromada_engine"],
                  "SELECT ST_XMin(geom) FROM plan_zone WHERE id = :i", i=zid) == pytest.approx(x + D, abs=1e-9)
    # The history knows who did it (the token's user).
    assert scalar(client.application.extensions["hromada_engine"], """
        SELECT a.email FROM plan_zone_version v JOIN app_user a ON a.id = v.user_id
        WHERE v.zone_id = :i AND v.version = 3""", i=zid) == "planner@example.org"
    deleted = client.delete(f"{ITEMS}/{zid}", headers=auth(token, **{"If-Match": patched.headers["ETag"]}))
    assert deleted.status_code == 204 and deleted.data == b""
    assert client.get(f"{ITEMS}/{zid}", headers=auth(token)).status_code == 404


def test_bad_bodies_and_rule_violations(client, plan, tokens):
    plan_id, x, y = plan
    token = tokens["planner"]
    first = post(client, token, feature(plan_id, square(x, y), zone_code="Ж-1")).get_json()
    cases = [
        (client.post(ITEMS, data="{nope", content_type=GEOJSON, headers=auth(token)), 400, "not JSON"),
        (client.post(ITEMS, data="{}", headers=auth(token)), 400, "Content-Type header is missing"),
        (client.post(ITEMS, data="{}", content_type="text/xml", headers=auth(token)), 415, "not accepted"),
        (post(client, token, {"type": "Feature", "geometry": square(x + D, y), "properties": {"zone_code": "Р"}}),
         400, "plan_id"),
        (post(client, token, feature(plan_id, None, zone_code="Р")), 400, "geometry"),
        (post(client, token, feature(plan_id, square(x + D, y), zone_code="Р", colour="red")), 400, "Unknown fields"),
        (post(client, token, feature(plan_id, square(x + D, y), zone_code="XX")), 400, "not in the classifier"),
        (post(client, token, feature(plan_id, square(x + D / 2, y), zone_code="Р")), 422, "overlaps"),
        (post(client, token, feature(plan_id, square(x + 3.5 * D, y), zone_code="Р")), 422, "outside the plan"),
        (post(client, token, feature(999999, square(x + D, y), zone_code="Р")), 404, "Plan 999999"),
        (post(client, token, feature(plan_id, square(1e308, y), zone_code="Р")), 400, "outside WGS 84"),
    ]
    for answer, status, words in cases:
        assert answer.status_code == status and words in answer.get_json()["message"]["en"], (
            status, answer.status_code, answer.get_json())
    # A self-intersecting polygon: refused, then repaired with repair=true.
    bowtie = {"type": "Polygon", "coordinates": [[[x + D, y], [x + 2 * D, y + D], [x + 2 * D, y], [x + D, y + D],
                                                  [x + D, y]]]}
    assert post(client, token, feature(plan_id, bowtie, zone_code="Р")).status_code == 422
    repaired = client.post(f"{ITEMS}?repair=true", data=json.dumps(feature(plan_id, bowtie, zone_code="Р")),
                           content_type=GEOJSON, headers=auth(token))
    assert repaired.status_code == 201 and repaired.get_json()["geometry"]["type"] == "MultiPolygon"
    # A zone does not move to another plan; an id in the body must be the feature's own.
    etag = f'"plan_zones-{first["id"]}-v1"'
    moved = client.patch(f"{ITEMS}/{first['id']}", data=json.dumps({"properties": {"plan_id": plan_id + 1}}),
                         content_type="application/merge-patch+json", headers=auth(token, **{"If-Match": etag}))
    assert moved.status_code == 400 and "another plan" in moved.get_json()["message"]["en"]
    other_id = client.patch(f"{ITEMS}/{first['id']}", data=json.dumps({"id": "77", "properties": {"name": "X"}}),
                            content_type="application/merge-patch+json", headers=auth(token, **{"If-Match": etag}))
    assert other_id.status_code == 400
    # Geometry in another CRS (Content-Crs, Part 2): UCS-2000 / TM zone 9 metres.
    import pyproj

    to_tm = pyproj.Transformer.from_crs(4326, 6383, always_xy=True)
    ring = [list(to_tm.transform(px, py)) for px, py in square(x + 3 * D, y + 3 * D, D * 0.9)["coordinates"][0]]
    in_tm = client.post(ITEMS, data=json.dumps(feature(plan_id, {"type": "Polygon", "coordinates": [ring]},
                                                       zone_code="ПЗ")),
                        content_type=GEOJSON, headers=auth(token, **{
                            "Content-Crs": "<http://www.opengis.net/def/crs/EPSG/0/6383>"}))
    assert in_tm.status_code == 201, in_tm.get_json()
    lon = in_tm.get_json()["geometry"]["coordinates"][0][0][0][0]
    assert lon == pytest.approx(x + 3 * D, abs=1e-6)
    # An approved plan is read-only: its zones cannot be written (409 from the plans layer).
    engine = client.application.extensions["hromada_engine"]
    with engine.begin() as conn:
        plans.set_plan_status(conn, plan_id, "discussion", PLANNER)
    with engine.begin() as conn:
        import datetime as dt
        plans.set_plan_status(conn, plan_id, "approved", PLANNER, decision_number="1/2",
                              decision_date=dt.date(2026, 11, 20))
    frozen = client.patch(f"{ITEMS}/{first['id']}", data=json.dumps({"properties": {"name": "X"}}),
                          content_type="application/merge-patch+json", headers=auth(token, **{"If-Match": etag}))
    assert frozen.status_code == 409 and "read-only" in frozen.get_json()["message"]["en"]


def test_if_match_missing_stale_and_unknown(client, plan, tokens):
    plan_id, x, y = plan
    token = tokens["planner"]
    zone = post(client, token, feature(plan_id, square(x, y), zone_code="Ж-1", name="Перша")).get_json()
    url = f"{ITEMS}/{zone['id']}"
    patch = json.dumps({"properties": {"name": "Друга"}})
    # No If-Match at all is a versionless edit since issue #19 (tests/webmap/test_versionless_edits.py);
    # "*" names no version and is still refused.
    for headers in (auth(token, **{"If-Match": "*"}),):
        missing = client.patch(url, data=patch, content_type="application/merge-patch+json", headers=headers)
        assert missing.status_code == 428 and "If-Match" in missing.get_json()["message"]["en"]
        assert client.delete(url, headers=headers).status_code == 428
    v1 = f'"plan_zones-{zone["id"]}-v1"'
    ok = client.patch(url, data=patch, content_type="application/merge-patch+json",
                      headers=auth(token, **{"If-Match": v1}))
    assert ok.status_code == 200
    for stale_tag in (v1, f"W/{ok.headers['ETag']}", '"something-else"'):
        stale = client.patch(url, data=json.dumps({"properties": {"name": "Третя"}}),
                             content_type="application/merge-patch+json",
                             headers=auth(token, **{"If-Match": stale_tag}))
        assert stale.status_code == 412, stale_tag
        body = stale.get_json()
        assert body["error"] == "precondition_failed" and "version is 2" in body["message"]["en"]
        assert body["details"]["current"]["properties"]["name"] == "Друга"  # what to merge with
        assert stale.headers["ETag"] == ok.headers["ETag"] == f'"plan_zones-{zone["id"]}-v2"'
    stale_put = client.put(url, data=json.dumps(feature(plan_id, square(x, y), zone_code="Р")), content_type=GEOJSON,
                           headers=auth(token, **{"If-Match": v1}))
    stale_delete = client.delete(url, headers=auth(token, **{"If-Match": v1}))
    assert stale_put.status_code == 412 and stale_delete.status_code == 412
    assert scalar(client.application.extensions["hromada_engine"], "SELECT name FROM plan_zone WHERE id = :i",
                  i=zone["id"]) == "Друга"
    # A list of tags naming the current one matches; a missing feature with If-Match is a 412, not a creation.
    listed = client.delete(url, headers=auth(token, **{"If-Match": f'{v1}, {ok.headers["ETag"]}'}))
    assert listed.status_code == 204
    gone = client.put(url, data=json.dumps(feature(plan_id, square(x, y), zone_code="Р")), content_type=GEOJSON,
                      headers=auth(token, **{"If-Match": ok.headers["ETag"]}))
    assert gone.status_code == 412 and gone.get_json()["details"]["current"] is None
    assert client.patch(f"{ITEMS}/999999", data=patch, content_type="application/merge-patch+json",
                        headers=auth(token, **{"If-Match": v1})).status_code == 412


def test_roles_tokens_and_csrf(client, plan, tokens, demo_db):
    plan_id, x, y = plan
    body = feature(plan_id, square(x, y), zone_code="Ж-1")
    anonymous = post(client, None, body)
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert "token" in anonymous.get_json()["message"]["en"]
    for role in ("resident", "unit_staff"):
        denied = post(client, tokens[role], body)
        assert denied.status_code == 403, role
    assert post(client, "hgut_made-up", body).status_code == 401
    admin = post(client, tokens["admin"], body)
    assert admin.status_code == 201
    zid, etag = admin.get_json()["id"], admin.headers["ETag"]
    for role in ("resident", "unit_staff"):
        patch = client.patch(f"{ITEMS}/{zid}", data='{"properties": {"name": "x"}}',
                             content_type="application/merge-patch+json",
                             headers=auth(tokens[role], **{"If-Match": etag}))
        assert patch.status_code in (403, 404), role  # 404: a draft zone does not exist for them
        assert client.delete(f"{ITEMS}/{zid}",
                             headers=auth(tokens[role], **{"If-Match": etag})).status_code in (403, 404)
    # A read-only collection is a 405 whoever asks.
    hromadas = client.post("/ogc/collections/hromadas/items", data=json.dumps(body), content_type=GEOJSON,
                           headers=auth(tokens["planner"]))
    assert hromadas.status_code == 405 and hromadas.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert client.post("/ogc/collections/plans/items", data=json.dumps(body), content_type=GEOJSON,
                       headers=auth(tokens["planner"])).status_code == 405
    # A revoked token stops at once, and is never replaced by the session cookie.
    with demo_db.begin() as conn:
        token_id = conn.execute(sa.text("SELECT id FROM user_token ORDER BY id LIMIT 1")).scalar()
        assert user_tokens.revoke_token(conn, token_id) and not user_tokens.revoke_token(conn, token_id)
    revoked = client.delete(f"{ITEMS}/{zid}", headers=auth(tokens["planner"], **{"If-Match": etag}))
    assert revoked.status_code == 401 and 'error="invalid_token"' in revoked.headers["WWW-Authenticate"]
    assert scalar(demo_db, "SELECT last_used_at IS NOT NULL FROM user_token WHERE id = :i", i=token_id)
    # Signed in with the session cookie instead: the write needs the CSRF token like a form.
    from tests.webmap.test_reports_http import log_in

    log_in(client, "planner@example.org")
    no_csrf = post(client, None, feature(plan_id, square(x + D, y), zone_code="Р"))
    assert no_csrf.status_code == 400 and "CSRF" in no_csrf.get_json()["message"]["en"]
    csrf_token = client.get("/api/csrf-token").get_json()["csrf_token"]
    with_csrf = client.post(ITEMS, data=json.dumps(feature(plan_id, square(x + D, y), zone_code="Р")),
                            content_type=GEOJSON, headers={"X-CSRFToken": csrf_token})
    assert with_csrf.status_code == 201, with_csrf.get_json()


def test_options_advertise_methods_per_role(client, plan, tokens):
    plan_id, x, y = plan
    zone = post(client, tokens["planner"], feature(plan_id, square(x, y), zone_code="Ж-1")).get_json()
    for token, items_allow, item_allow in [
        (None, "GET, HEAD, OPTIONS", "GET, HEAD, OPTIONS"),
        (tokens["resident"], "GET, HEAD, OPTIONS", "GET, HEAD, OPTIONS"),
        (tokens["unit_staff"], "GET, HEAD, OPTIONS", "GET, HEAD, OPTIONS"),
        (tokens["planner"], "GET, HEAD, OPTIONS, POST", "GET, HEAD, OPTIONS, PUT, PATCH, DELETE"),
        (tokens["admin"], "GET, HEAD, OPTIONS, POST", "GET, HEAD, OPTIONS, PUT, PATCH, DELETE"),
    ]:
        many = client.options(ITEMS, headers=auth(token))
        one = client.options(f"{ITEMS}/{zone['id']}", headers=auth(token))
        assert (many.status_code, one.status_code) == (200, 200)
        assert (many.headers["Allow"], one.headers["Allow"]) == (items_allow, item_allow), token
        assert ("Accept-Post" in many.headers) == ("POST" in items_allow)
        assert ("Accept-Patch" in one.headers) == ("PATCH" in item_allow)
    assert client.options("/ogc/collections/hromadas/items", headers=auth(tokens["planner"])).headers[
        "Allow"] == "GET, HEAD, OPTIONS"
    conformance = client.get("/ogc/conformance").get_json()["conformsTo"]
    for name in ("create-replace-delete", "update", "optimistic-locking-etags", "features"):
        assert f"http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/{name}" in conformance
    api = client.get("/ogc/api").get_json()
    assert {"put", "patch", "delete"} <= set(api["paths"]["/collections/plan_zones/items/{featureId}"])
    assert "post" not in api["paths"]["/collections/hromadas/items"]


def test_drafts_are_hidden_from_anonymous_readers(client, plan, tokens):
    plan_id, x, y = plan
    zone = post(client, tokens["planner"], feature(plan_id, square(x, y), zone_code="Ж-1", name="Чернетка")).get_json()
    of_plan = f"{ITEMS}?plan_id={plan_id}"
    assert client.get(of_plan).get_json()["features"] == []
    assert "Чернетка" not in client.get(f"{ITEMS}?limit=1000").get_data(as_text=True)
    assert client.get(f"{ITEMS}/{zone['id']}").status_code == 404
    for role in ("resident", "unit_staff"):
        assert client.get(of_plan, headers=auth(tokens[role])).get_json()["features"] == []
    seen = client.get(of_plan, headers=auth(tokens["planner"])).get_json()["features"]
    assert [f["properties"]["name"] for f in seen] == ["Чернетка"]


def test_token_cli_create_list_revoke(demo_db, database_url, monkeypatch):
    from webmap.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    with demo_db.begin() as conn:
        create_user(conn, "qgis@example.org", "correct horse battery", ["planner"], hromada_id=demo_hromada_id(demo_db))
    runner = CliRunner()
    made = runner.invoke(main, ["users", "token", "create", "qgis@example.org", "--name", "QGIS"])
    assert made.exit_code == 0, made.output
    token = next(line for line in made.output.splitlines() if line.startswith(user_tokens.TOKEN_PREFIX))
    stored = scalar(demo_db, "SELECT token_hash FROM user_token")
    assert stored == user_tokens.token_hash(token) and token not in stored  # only the hash is kept
    with demo_db.connect() as conn:
        assert user_tokens.verify_token(conn, token).email == "qgis@example.org"
    listed = runner.invoke(main, ["users", "token", "list"])
    assert listed.exit_code == 0 and "qgis@example.org\tQGIS" in listed.output and token not in listed.output
    token_id = scalar(demo_db, "SELECT id FROM user_token")
    assert "revoked" in runner.invoke(main, ["users", "token", "revoke", str(token_id)]).output
    with demo_db.connect() as conn:
        assert user_tokens.verify_token(conn, token) is None
    unknown = runner.invoke(main, ["users", "token", "create", "nobody@example.org", "--name", "QGIS"])
    assert unknown.exit_code == 1 and "There is no user nobody@example.org" in unknown.output


def owslib_features(base: str, token: str | None = None):
    """OWSLib's client with our token. OWSLib updates its module-wide default headers in place when
    given ``headers=``, so the token goes into a copy of this client's own."""
    from owslib.ogcapi.features import Features

    api = Features(base + "/ogc")
    api.headers = {**api.headers, **auth(token)}
    return api


def test_owslib_creates_updates_deletes_and_reads_back(live_server, plan, tokens):
    plan_id, x, y = plan
    writer = owslib_features(live_server, tokens["planner"])
    assert writer.collection_item_create("plan_zones", feature(plan_id, square(x, y), zone_code="Р", name="Парк"))
    [created] = writer.collection_items("plan_zones", plan_id=plan_id)["features"]
    zid = created["id"]
    assert writer.collection_item("plan_zones", zid)["properties"]["name"] == "Парк"
    etag = writer.response_headers["ETag"]
    writer.headers["If-Match"] = etag
    assert writer.collection_item_update("plan_zones", zid, feature(plan_id, square(x, y), zone_code="Р",
                                                                    name="Сквер"))
    assert writer.collection_item("plan_zones", zid)["properties"]["name"] == "Сквер"
    # requests asks for compression: the compressed answer's tag names its coding, and v2 all the same.
    assert re.fullmatch(rf'"plan_zones-{zid}-v2(:gzip|:br|:zstd)?"', writer.response_headers["ETag"])
    with pytest.raises(RuntimeError, match="precondition_failed"):  # the old ETag again: refused
        writer.collection_item_update("plan_zones", zid, feature(plan_id, square(x, y), zone_code="Р", name="X"))
    # Anonymous OWSLib neither sees the draft zone nor writes.
    reader = owslib_features(live_server)
    assert reader.collection_items("plan_zones", plan_id=plan_id)["features"] == []
    with pytest.raises(RuntimeError, match="unauthorized"):
        reader.collection_item_create("plan_zones", feature(plan_id, square(x + D, y), zone_code="Р"))
    writer.headers["If-Match"] = f'"plan_zones-{zid}-v2"'
    assert writer.collection_item_delete("plan_zones", zid)
    assert writer.collection_items("plan_zones", plan_id=plan_id)["features"] == []


def test_two_clients_same_etag_exactly_one_wins(live_server, plan, tokens, demo_db):
    plan_id, x, y = plan
    url = f"{live_server}{ITEMS}"
    created = requests.post(url, json=feature(plan_id, square(x, y), zone_code="Ж-1"),
                            headers=auth(tokens["planner"]), timeout=30)
    zid, etag = created.json()["id"], created.headers["ETag"]
    results, barrier = [], threading.Barrier(2)

    def edit(token, name):
        barrier.wait()
        answer = requests.patch(f"{url}/{zid}", data=json.dumps({"properties": {"name": name}}), timeout=30,
                                headers=auth(token, **{"If-Match": etag,
                                                       "Content-Type": "application/merge-patch+json"}))
        results.append((answer.status_code, name, answer))

    threads = [threading.Thread(target=edit, args=(tokens[role], role)) for role in ("planner", "admin")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(status for status, _, _ in results) == [200, 412]
    _, winner, _ = next(r for r in results if r[0] == 200)
    _, _, loser = next(r for r in results if r[0] == 412)
    current = loser.json()["details"]["current"]
    assert current["properties"]["name"] == winner and current["properties"]["version"] == 2
    assert loser.headers["ETag"] == f'"plan_zones-{zid}-v2"'
    assert scalar(demo_db, "SELECT name FROM plan_zone WHERE id = :i", i=zid) == winner
    # The second planner merges and retries with the ETag the 412 gave.
    retry = requests.patch(f"{url}/{zid}", data=json.dumps({"properties": {"notes": "merged"}}), timeout=30,
                           headers=auth(tokens["planner"], **{"If-Match": loser.headers["ETag"],
                                                             "Content-Type": "application/merge-patch+json"}))
    assert retry.status_code == 200 and retry.json()["properties"]["name"] == winner


def test_a_client_without_if_match_names_the_version_in_the_feature(client, plan, tokens):
    """QGIS sends back the feature it read (version included) but no If-Match: the version it names
    is checked like an ETag, so a stale one is still refused."""
    plan_id, x, y = plan
    token = tokens["planner"]
    zone = post(client, token, feature(plan_id, square(x, y), zone_code="Ж-1", name="Перша")).get_json()
    url = f"{ITEMS}/{zone['id']}"
    echoed = feature(plan_id, square(x, y), zone_code="Ж-1", name="Від QGIS")
    echoed["properties"]["version"] = 1
    first = client.put(url, data=json.dumps(echoed), content_type=GEOJSON, headers=auth(token))
    assert first.status_code == 200 and first.headers["ETag"] == f'"plan_zones-{zone["id"]}-v2"'
    echoed["properties"]["name"] = "Застаріла правка"
    stale = client.put(url, data=json.dumps(echoed), content_type=GEOJSON, headers=auth(token))  # still says 1
    assert stale.status_code == 412 and stale.get_json()["details"]["current"]["properties"]["name"] == "Від QGIS"
    echoed["properties"]["version"] = "2"  # not a whole number: names nothing
    assert client.put(url, data=json.dumps(echoed), content_type=GEOJSON, headers=auth(token)).status_code == 428
