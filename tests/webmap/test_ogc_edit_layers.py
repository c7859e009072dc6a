"""OGC API – Features Part 4 on every layer whose declaration allows editing (issue #19, layers.editing):
street lamps with the roles their declaration names (the hromada's admins and unit staff), ETags from
the feature's version in the history, 412 with the current lamp, versionless PATCH merged and flagged
for review, roles per hromada, values checked as importers check them, every write in the history."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from gis import user_tokens
from gis.users import create_user
from layers import history
from layers.registry import get_layer
from tests.helpers import STRYZHAVKA, demo_hromada_id, inside, load_neighbours, scalar
from tests.webmap.test_ogc_transactions import add_user, auth

LAMPS = "/ogc/collections/street_lamps/items"
PROPERTY = "/ogc/collections/communal_property/items"
GEOJSON = "application/geo+json"
MERGE = "application/merge-patch+json"


@pytest.fixture
def tokens(demo_db):
    return {role: add_user(demo_db, f"{role}@example.org", *([] if role == "resident" else [role]))
            for role in ("planner", "admin", "resident", "unit_staff")}


def point(engine, dx: float = 0.0) -> dict:
    lon, lat = inside(engine, "Якушинці")
    return {"type": "Point", "coordinates": [lon + dx, lat]}


def lamp_body(geometry, **properties) -> dict:
    return {"type": "Feature", "geometry": geometry, "properties": {"ref": "№ 777", "status": "working", **properties}}


def send(client, method, url, token, body=None, content_type=GEOJSON, **headers):
    return client.open(url, method=method, data=None if body is None else json.dumps(body),
                       content_type=content_type if body is not None else None, headers=auth(token, **headers))


def versions(engine, layer: str, feature_id: int) -> list[dict]:
    with engine.connect() as conn:
        return history.versions(conn, layer, feature_id)


def test_an_admin_creates_moves_and_restatuses_a_lamp(client, tokens, demo_db):
    admin = tokens["admin"]
    created = send(client, "POST", LAMPS, admin, lamp_body(point(demo_db), power_w="60", installed_on="2024-05-01"))
    assert created.status_code == 201, created.get_json()
    lamp = created.get_json()
    lid = int(lamp["id"])
    assert created.headers["ETag"] == f'"street_lamps-{lid}-v1"'
    assert created.headers["Location"].endswith(f"{LAMPS}/{lid}")
    assert lamp["properties"]["power_w"] == 60 and lamp["properties"]["status"] == "working"
    assert scalar(demo_db, "SELECT hromada_id FROM street_lamp WHERE id = :i", i=lid) == demo_hromada_id(demo_db)
    got = client.get(f"{LAMPS}/{lid}", headers=auth(admin))
    assert got.status_code == 200 and got.headers["ETag"] == created.headers["ETag"]
    moved = send(client, "PATCH", f"{LAMPS}/{lid}", admin, {"geometry": point(demo_db, 0.0002)}, MERGE,
                 **{"If-Match": got.headers["ETag"]})
    assert moved.status_code == 200, moved.get_json()
    assert moved.headers["ETag"] == f'"street_lamps-{lid}-v2"'
    faulty = send(client, "PATCH", f"{LAMPS}/{lid}", admin, {"properties": {"status": "несправний"}}, MERGE,
                  **{"If-Match": moved.headers["ETag"]})
    assert faulty.status_code == 200 and faulty.get_json()["properties"]["status"] == "faulty"
    assert faulty.get_json()["geometry"]["coordinates"][0] == pytest.approx(point(demo_db, 0.0002)["coordinates"][0])
    # PUT replaces every property: the power not given becomes empty.
    replaced = send(client, "PUT", f"{LAMPS}/{lid}", admin, lamp_body(point(demo_db), status="working"),
                    **{"If-Match": faulty.headers["ETag"]})
    assert replaced.status_code == 200, replaced.get_json()
    assert replaced.get_json()["properties"]["power_w"] is None and replaced.headers["ETag"].endswith('-v4"')
    found = versions(demo_db, "street_lamps", lid)
    assert [(v["version"], v["op"], v["user_label"], v["versionless"]) for v in found] == [
        (4, "update", "admin@example.org", False), (3, "update", "admin@example.org", False),
        (2, "update", "admin@example.org", False), (1, "insert", "admin@example.org", False)]
    assert found[1]["changed"] == ["status"] and found[2]["changed"] == ["geom"]
    deleted = send(client, "DELETE", f"{LAMPS}/{lid}", admin, **{"If-Match": replaced.headers["ETag"]})
    assert deleted.status_code == 204
    assert versions(demo_db, "street_lamps", lid)[0]["op"] == "delete"
    assert client.get(f"{LAMPS}/{lid}").status_code == 404


def test_unit_staff_edit_lamps_and_options_follow_the_declaration(client, tokens, demo_db):
    lid = scalar(demo_db, "SELECT min(id) FROM street_lamp WHERE hromada_id = :h", h=demo_hromada_id(demo_db))
    staff = tokens["unit_staff"]
    etag = client.get(f"{LAMPS}/{lid}").headers["ETag"]
    assert etag == f'"street_lamps-{lid}-v1"'  # unchanged since its history began
    done = send(client, "PATCH", f"{LAMPS}/{lid}", staff, {"properties": {"cabinet": "ШК-5"}}, MERGE,
                **{"If-Match": etag})
    assert done.status_code == 200 and done.headers["ETag"] == f'"street_lamps-{lid}-v2"'
    allow = client.options(f"{LAMPS}/{lid}", headers=auth(staff)).headers["Allow"]
    assert {"PUT", "PATCH", "DELETE"} <= set(allow.split(", "))
    assert client.options(LAMPS, headers=auth(tokens["planner"])).headers["Allow"] == "GET, HEAD, OPTIONS"
    assert client.options(f"{PROPERTY}/1").headers["Allow"] == "GET, HEAD, OPTIONS"
    assert "PATCH" not in client.options(f"{PROPERTY}/1", headers=auth(staff)).headers["Allow"]
    assert "POST" in client.options(PROPERTY, headers=auth(tokens["admin"])).headers["Allow"]
    # Not editable feature by feature: 405.
    assert send(client, "POST", "/ogc/collections/protected_areas/items", tokens["admin"],
                lamp_body(point(demo_db))).status_code == 405


def test_a_stale_if_match_is_412_with_the_current_lamp_and_nothing_overwritten(client, tokens, demo_db):
    lid = scalar(demo_db, "SELECT min(id) FROM street_lamp WHERE hromada_id = :h", h=demo_hromada_id(demo_db))
    admin, staff = tokens["admin"], tokens["unit_staff"]
    etag = client.get(f"{LAMPS}/{lid}").headers["ETag"]
    first = send(client, "PATCH", f"{LAMPS}/{lid}", staff, {"properties": {"cabinet": "ШК-6"}}, MERGE,
                 **{"If-Match": etag})
    assert first.status_code == 200
    stale = send(client, "PATCH", f"{LAMPS}/{lid}", admin, {"properties": {"cabinet": "ШК-7"}}, MERGE,
                 **{"If-Match": etag})
    assert stale.status_code == 412, stale.get_json()
    assert stale.get_json()["details"]["current"]["properties"]["cabinet"] == "ШК-6"
    assert stale.headers["ETag"] == first.headers["ETag"]
    assert send(client, "DELETE", f"{LAMPS}/{lid}", admin, **{"If-Match": etag}).status_code == 412
    assert send(client, "PUT", f"{LAMPS}/{lid}", admin, lamp_body(point(demo_db))).status_code == 428
    assert scalar(demo_db, "SELECT cabinet FROM street_lamp WHERE id = :i", i=lid) == "ШК-6"


def test_a_versionless_patch_merges_and_is_flagged_when_it_replaces_a_colleagues_fresh_value(client, tokens,
                                                                                            demo_db):
    lid = scalar(demo_db, "SELECT min(id) FROM street_lamp WHERE hromada_id = :h", h=demo_hromada_id(demo_db))
    with demo_db.begin() as conn:  # the demo was loaded two days ago: its values are nobody's fresh ones
        conn.execute(sa.text("UPDATE feature_version SET valid_from = valid_from - interval '2 days' "
                             "WHERE layer = 'street_lamps' AND feature_id = :f"), {"f": lid})
    admin, staff = tokens["admin"], tokens["unit_staff"]
    assert send(client, "PATCH", f"{LAMPS}/{lid}", staff, {"properties": {"cabinet": "ШК-8"}}, MERGE).status_code == 200
    merged = send(client, "PATCH", f"{LAMPS}/{lid}", admin, {"properties": {"power_w": 75}}, MERGE)
    assert merged.status_code == 200, merged.get_json()
    assert merged.get_json()["properties"]["cabinet"] == "ШК-8"  # the colleague's change stays
    flagged = send(client, "PATCH", f"{LAMPS}/{lid}", admin, {"properties": {"cabinet": "ШК-9"}}, MERGE)
    assert flagged.status_code == 200
    newest = versions(demo_db, "street_lamps", lid)[0]
    assert newest["versionless"] and newest["user_label"] == "admin@example.org"
    listed = client.get("/ogc/collections/street_lamps/versionless-edits", headers=auth(staff))
    assert listed.status_code == 200, listed.get_json()
    edits = listed.get_json()["edits"]
    assert [(e["feature_id"], e["review_fields"], e["by"]) for e in edits] == [(lid, ["cabinet"], "admin@example.org")]
    assert edits[0]["history"].endswith(f"/api/layers/street_lamps/items/{lid}/history")
    every = client.get("/ogc/collections/street_lamps/versionless-edits?all=true", headers=auth(admin)).get_json()
    assert [e["needs_review"] for e in every["edits"]] == [True, False, False]
    assert client.get("/ogc/collections/street_lamps/versionless-edits", headers=auth(tokens["planner"])
                      ).status_code == 403
    assert client.get("/ogc/collections/street_lamps/versionless-edits").status_code == 401
    # A DELETE without If-Match deletes, recorded as versionless (and revertible).
    assert send(client, "DELETE", f"{LAMPS}/{lid}", admin).status_code == 204
    assert versions(demo_db, "street_lamps", lid)[0]["versionless"]


def test_who_may_write(client, tokens, demo_db):
    lid = scalar(demo_db, "SELECT min(id) FROM street_lamp WHERE hromada_id = :h", h=demo_hromada_id(demo_db))
    load_neighbours(demo_db)
    with demo_db.begin() as conn:
        other = conn.execute(sa.text("SELECT id FROM hromada WHERE katottg = :k"), {"k": STRYZHAVKA}).scalar_one()
        create_user(conn, "admin@stryzhavka.example.org", "correct horse battery", ["admin"], hromada_id=other)
        stranger = user_tokens.create_token(conn, "admin@stryzhavka.example.org", "QGIS")[1]
    patch = {"properties": {"status": "faulty"}}
    anonymous = send(client, "PATCH", f"{LAMPS}/{lid}", None, patch, MERGE)
    assert anonymous.status_code == 401 and anonymous.headers.getlist("WWW-Authenticate")[0].startswith("Bearer")
    for token in (tokens["resident"], tokens["planner"], stranger):
        assert send(client, "PATCH", f"{LAMPS}/{lid}", token, patch, MERGE).status_code == 403
        assert send(client, "DELETE", f"{LAMPS}/{lid}", token).status_code == 403
    # The other hromada's admin may not place a lamp in this hromada either.
    assert send(client, "POST", LAMPS, stranger, lamp_body(point(demo_db))).status_code == 403
    assert send(client, "POST", LAMPS, tokens["planner"], lamp_body(point(demo_db))).status_code == 403
    assert scalar(demo_db, "SELECT status FROM street_lamp WHERE id = :i", i=lid) == "working"


def test_invalid_values_name_the_field_and_change_nothing(client, tokens, demo_db):
    lid = scalar(demo_db, "SELECT min(id) FROM street_lamp WHERE hromada_id = :h", h=demo_hromada_id(demo_db))
    admin = tokens["admin"]
    count = scalar(demo_db, "SELECT count(*) FROM feature_version")
    cases = [
        ({"properties": {"status": "broken"}}, 400, "status"),
        ({"properties": {"power_w": -40}}, 400, "power_w"),
        ({"properties": {"installed_on": "не пам'ятаю"}}, 400, "installed_on"),
        ({"geometry": {"type": "LineString", "coordinates": [[28.2, 49.3], [28.21, 49.31]]}}, 400, "geometry"),
        ({"geometry": {"type": "Point", "coordinates": [30.52, 50.45]}}, 422, "geometry"),  # Kyiv
    ]
    for body, status, field in cases:
        answer = send(client, "PATCH", f"{LAMPS}/{lid}", admin, body, MERGE)
        assert answer.status_code == status, (body, answer.get_json())
        doc = answer.get_json()
        assert field in doc["details"]["fields"] and field in doc["message"]["en"], doc
        assert doc["message"]["uk"] and doc["details"]["fields"][field]["uk"]
    outside = send(client, "POST", LAMPS, admin, lamp_body({"type": "Point", "coordinates": [30.52, 50.45]}))
    assert outside.status_code == 422 and "geometry" in outside.get_json()["details"]["fields"]
    missing = send(client, "POST", LAMPS, admin, {"type": "Feature", "geometry": point(demo_db),
                                                  "properties": {"status": "working"}})
    assert missing.status_code == 400 and "ref" in missing.get_json()["details"]["fields"]
    assert scalar(demo_db, "SELECT count(*) FROM feature_version") == count


def test_a_lease_change_by_an_admin_with_history_and_revert(client, tokens, demo_db):
    pid = scalar(demo_db, "SELECT min(id) FROM communal_property WHERE hromada_id = :h", h=demo_hromada_id(demo_db))
    admin = tokens["admin"]
    before = client.get(f"{PROPERTY}/{pid}", headers=auth(admin))
    lease = {"properties": {"tenant_kind": "legal_entity", "tenant_organisation": "ТОВ «Світанок»",
                            "lease_start": "01.03.2025", "lease_end": "2028-02-29", "rent_uah_month": 4200}}
    leased = send(client, "PATCH", f"{PROPERTY}/{pid}", admin, lease, MERGE, **{"If-Match": before.headers["ETag"]})
    assert leased.status_code == 200, leased.get_json()
    props = leased.get_json()["properties"]
    assert (props["lease_start"], props["lease_end"], props["rent_uah_month"]) == ("2025-03-01", "2028-02-29", 4200)
    assert send(client, "PATCH", f"{PROPERTY}/{pid}", tokens["unit_staff"], lease, MERGE).status_code == 403
    newest = versions(demo_db, "communal_property", pid)[0]
    assert newest["user_label"] == "admin@example.org" and "rent_uah_month" in newest["changed"]
    with demo_db.begin() as conn:
        history.revert(conn, get_layer("communal_property"), pid, newest["version"] - 1,
                       history.Author(None, "admin@example.org"), roles={"admin"})
    back = client.get(f"{PROPERTY}/{pid}", headers=auth(admin)).get_json()["properties"]
    assert back == before.get_json()["properties"]
