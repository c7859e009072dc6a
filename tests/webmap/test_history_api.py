"""A feature's history over HTTP (issue #19, webmap.history_api): the public reads a public layer's
public fields' history; a staff-only history refuses visitors (401) and another hromada's staff (403);
a revert needs the feature's hromada's editors and the CSRF token."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from gis.users import create_user
from tests.helpers import STRYZHAVKA, demo_hromada_id, load_neighbours, scalar
from tests.webmap.test_console import PASSWORD, sign_in
from tests.webmap.test_reports_http import csrf

OWN, OTHER, PLANNER = ("admin@yakushynetska.example.org", "admin@stryzhavka.example.org",
                       "planner@yakushynetska.example.org")


@pytest.fixture
def people(demo_db):
    """The demo hromada's administrator (with a name) and a planner; Стрижавська's administrator."""
    load_neighbours(demo_db)
    with demo_db.begin() as conn:
        create_user(conn, OWN, PASSWORD, ["admin"], hromada_id=demo_hromada_id(demo_db), full_name="Олена Петренко")
        create_user(conn, PLANNER, PASSWORD, ["planner"], hromada_id=demo_hromada_id(demo_db))
        create_user(conn, OTHER, PASSWORD, ["admin", "unit_staff", "planner"],
                    hromada_id=scalar(demo_db, "SELECT id FROM hromada WHERE katottg = :k", k=STRYZHAVKA))
    return demo_db


def edit(engine, sql: str, **params) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT set_config('hromada.user_label', 'Бригада', true), "
                             "set_config('hromada.reason', 'службова причина', true)"))
        conn.execute(sa.text(sql), params)


def test_a_public_history_shows_public_fields_to_anyone_and_everything_to_editors(app, people):
    item = scalar(people, "SELECT id FROM communal_property WHERE tenant_kind = 'legal_entity' ORDER BY id LIMIT 1")
    edit(people, "UPDATE communal_property SET tenant_kind = 'individual', tenant_person = 'ФОП Коваль Петро', "
                 "tenant_organisation = NULL, rent_uah_month = 999 WHERE id = :id", id=item)
    edit(people, "UPDATE communal_property SET tenant_person = 'ФОП Коваль Петро Іванович' WHERE id = :id", id=item)
    url = f"/api/layers/communal_property/items/{item}/history"
    anyone = app.test_client().get(url)
    assert anyone.status_code == 200
    body = anyone.get_json()
    text = anyone.get_data(as_text=True)
    assert body["access"] == "public" and body["exists"] is True
    assert "Коваль" not in text and "tenant_person" not in text and "службова" not in text and "Бригада" not in text
    # The second edit changed a staff-only field only: the public does not see that it happened.
    assert [v["version"] for v in body["versions"]] == [2, 1]
    assert set(body["versions"][0]["changed"]) == {"tenant_kind", "tenant_organisation", "rent_uah_month"}
    assert body["versions"][0]["geometry"]["type"] == "Point" and "crs" not in body["versions"][0]["geometry"]
    other = app.test_client()
    sign_in(other, OTHER)  # staff elsewhere read what the public reads
    assert other.get(url).get_json()["access"] == "public"

    editor = app.test_client()
    sign_in(editor, OWN)
    full = editor.get(url).get_json()
    assert full["access"] == "full" and [v["version"] for v in full["versions"]] == [3, 2, 1]
    newest = full["versions"][0]
    assert (newest["changed"], newest["user_label"], newest["reason"]) == (["tenant_person"], "Бригада",
                                                                           "службова причина")
    assert newest["properties"]["tenant_person"] == "ФОП Коваль Петро Іванович" and "source" in newest["extra"]


def test_a_staff_only_history_refuses_visitors_and_other_hromadas(app, people):
    parcel = scalar(people, "SELECT id FROM parcel WHERE hromada_id = :h ORDER BY id LIMIT 1",
                    h=demo_hromada_id(people))
    edit(people, "UPDATE parcel SET inventory_status = 'in_progress' WHERE id = :id AND "
                 "inventory_status IS DISTINCT FROM 'in_progress'", id=parcel)
    url = f"/api/layers/parcels/items/{parcel}/history"
    anonymous = app.test_client().get(url)
    assert anonymous.status_code == 401 and anonymous.get_json()["error"] == "not_signed_in"
    other = app.test_client()
    sign_in(other, OTHER)
    refused = other.get(url)
    assert refused.status_code == 403 and set(refused.get_json()["message"]) == {"uk", "en"}
    planner = app.test_client()
    sign_in(planner, PLANNER)  # of the same hromada, but planners do not edit parcels
    assert planner.get(url).status_code == 403
    own = app.test_client()
    sign_in(own, OWN)
    answer = own.get(url)
    assert answer.status_code == 200 and answer.get_json()["access"] == "full"
    assert app.test_client().get("/api/layers/parcels/items/999999/history").status_code == 404
    assert app.test_client().get("/api/layers/protected_areas/items/1/history").status_code == 404  # no history
    assert app.test_client().get("/api/layers/nothing/items/1/history").status_code == 404
    assert app.test_client().get("/api/layers/parcels/items/99999999999999/history").status_code == 404


def test_a_revert_needs_the_hromadas_editor_and_the_csrf_token(app, people):
    lamp = scalar(people, "SELECT id FROM street_lamp WHERE hromada_id = :h ORDER BY id LIMIT 1",
                  h=demo_hromada_id(people))
    with people.begin() as conn:
        conn.execute(sa.text("DELETE FROM street_lamp WHERE id = :id"), {"id": lamp})
    url = f"/api/layers/street_lamps/items/{lamp}/revert"
    anonymous = app.test_client()
    assert anonymous.post(url, json={"version": 1}, headers={"X-CSRFToken": csrf(anonymous)}).status_code == 401
    other = app.test_client()
    sign_in(other, OTHER)
    assert other.post(url, json={"version": 1}, headers={"X-CSRFToken": csrf(other)}).status_code == 403
    planner = app.test_client()
    sign_in(planner, PLANNER)
    assert planner.post(url, json={"version": 1}, headers={"X-CSRFToken": csrf(planner)}).status_code == 403
    own = app.test_client()
    sign_in(own, OWN)
    assert own.post(url, json={"version": 1}).status_code == 400  # no CSRF token
    bad = own.post(url, json={"version": "x"}, headers={"X-CSRFToken": csrf(own)})
    assert bad.status_code == 400 and "version" in bad.get_json()["details"]["fields"]
    assert own.post(url, json={"version": 2}, headers={"X-CSRFToken": csrf(own)}).status_code == 409  # the deletion
    assert own.post(url, json={"version": 7}, headers={"X-CSRFToken": csrf(own)}).status_code == 404
    answer = own.post(url, json={"version": 1, "reason": "видалено помилково"}, headers={"X-CSRFToken": csrf(own)})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json() == {"feature_id": lamp, "version": 3, "reverted_to": 1, "changed": None}
    assert scalar(people, "SELECT count(*) FROM street_lamp WHERE id = :id", id=lamp) == 1
    newest = own.get(f"/api/layers/street_lamps/items/{lamp}/history").get_json()["versions"][0]
    assert (newest["op"], newest["user_label"], newest["reason"]) == ("insert", "Олена Петренко",
                                                                      "видалено помилково")


def test_the_endpoints_are_described(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert "get" in paths["/api/layers/{name}/items/{feature_id}/history"]
    revert = paths["/api/layers/{name}/items/{feature_id}/revert"]["post"]
    assert {"401", "403", "409"} <= set(revert["responses"])
