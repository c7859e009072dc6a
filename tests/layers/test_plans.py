"""Spatial plans: rules on save, no lost updates, history, as-of, diff, revert, drafts hidden."""
import datetime as dt
import threading
import time

import pytest
import sqlalchemy as sa

from gis.errors import Conflict, Forbidden, InvalidInput, Unprocessable
from layers import plans
from layers.plans import Editor, VersionConflict
from tests.helpers import InEveryHromada, inside, scalar
from webmap.tiles import tile_memory

PLANNER = Editor(user_id=None, grants=InEveryHromada("planner"))
STAFF = Editor(user_id=None, grants=InEveryHromada("unit_staff"))
D = 0.002  # ≈ 145 m of longitude, 220 m of latitude at 49° N


def square(x, y, size=D) -> dict:
    return {"type": "Polygon", "coordinates": [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]]}


@pytest.fixture
def plan(demo_db):
    """A draft general plan of 4 × 4 squares inside Якушинці."""
    x, y = inside(demo_db, "Якушинці")
    with demo_db.begin() as conn:
        hromada = conn.execute(sa.text("SELECT id FROM hromada")).scalar()
        plan_id = plans.create_plan(conn, PLANNER, hromada_id=hromada, title="Генплан Якушинців",
                                    plan_type="general", area_geojson=square(x, y, 4 * D))
    return plan_id, x, y


def act(engine, fn, *args, **kwargs):
    with engine.begin() as conn:
        return fn(conn, *args, **kwargs)


def test_rules_on_save(demo_db, plan):
    plan_id, x, y = plan
    first = act(demo_db, plans.create_zone, PLANNER, plan_id, {"zone_code": "Ж-1", "name": "Центр"}, square(x, y))
    assert first["version"] == 1 and first["zone_code"] == "Ж-1"
    with pytest.raises(Unprocessable, match="overlaps other zones of the plan: No. "):
        act(demo_db, plans.create_zone, PLANNER, plan_id, {"zone_code": "Г-1"}, square(x + D / 2, y))
    with pytest.raises(Unprocessable, match="outside the plan's territory"):
        act(demo_db, plans.create_zone, PLANNER, plan_id, {"zone_code": "Г-1"}, square(x + 3.5 * D, y))
    with pytest.raises(InvalidInput, match="not in the classifier"):
        act(demo_db, plans.create_zone, PLANNER, plan_id, {"zone_code": "XX"}, square(x + D, y))
    bowtie = {"type": "Polygon", "coordinates": [[[x + D, y], [x + 2 * D, y + D], [x + 2 * D, y], [x + D, y + D],
                                                  [x + D, y]]]}
    with pytest.raises(Unprocessable, match="invalid .*repair=true"):
        act(demo_db, plans.create_zone, PLANNER, plan_id, {"zone_code": "Р"}, bowtie)
    repaired = act(demo_db, plans.create_zone, PLANNER, plan_id, {"zone_code": "Р"}, bowtie, repair=True)
    assert repaired["geometry"]["type"] == "MultiPolygon"
    with pytest.raises(Forbidden):
        act(demo_db, plans.create_zone, STAFF, plan_id, {"zone_code": "Р"}, square(x + 3 * D, y + 3 * D))
    # An approved plan is read-only.
    act(demo_db, plans.set_plan_status, plan_id, "discussion", PLANNER)
    with pytest.raises(InvalidInput, match="decision"):
        act(demo_db, plans.set_plan_status, plan_id, "approved", PLANNER)
    act(demo_db, plans.set_plan_status, plan_id, "approved", PLANNER, decision_number="12/3",
        decision_date=dt.date(2026, 11, 20))
    with pytest.raises(Conflict, match="read-only"):
        act(demo_db, plans.update_zone, PLANNER, first["id"], 1, attributes={"name": "Інше"})
    with pytest.raises(Conflict, match="cannot become"):
        act(demo_db, plans.set_plan_status, plan_id, "draft", PLANNER)


def test_a_plan_must_lie_in_the_hromada(demo_db):
    with demo_db.begin() as conn, pytest.raises(Unprocessable, match="outside the hromada"):
        plans.create_plan(conn, PLANNER, hromada_id=conn.execute(sa.text("SELECT id FROM hromada")).scalar(),
                          title="Поза громадою", plan_type="zoning", area_geojson=square(30.5, 50.4))


def test_two_planners_editing_one_zone_exactly_one_wins(demo_db, plan):
    plan_id, x, y = plan
    zone = act(demo_db, plans.create_zone, PLANNER, plan_id, {"zone_code": "Ж-1"}, square(x, y))
    results, barrier = [], threading.Barrier(2)

    def edit(name):
        with demo_db.begin() as conn:
            barrier.wait()
            try:
                results.append(("ok", plans.update_zone(conn, PLANNER, zone["id"], 1, attributes={"name": name})))
                time.sleep(0.2)  # hold the lock a little: the other writer must wait, then fail
            except VersionConflict as exc:
                results.append(("conflict", exc.current))

    threads = [threading.Thread(target=edit, args=(n,)) for n in ("Перший", "Другий")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(kind for kind, _ in results) == ["conflict", "ok"]
    won = next(z for kind, z in results if kind == "ok")
    conflict = next(z for kind, z in results if kind == "conflict")
    assert conflict["version"] == 2 and conflict["name"] == won["name"]  # the loser sees the winner's version
    assert scalar(demo_db, "SELECT name FROM plan_zone WHERE id = :i", i=zone["id"]) == won["name"]
    with pytest.raises(VersionConflict) as stale:
        act(demo_db, plans.delete_zone, PLANNER, zone["id"], 1)
    assert stale.value.http_status == 412


def test_history_as_of_diff_and_revert(demo_db, plan):
    plan_id, x, y = plan

    def moment():
        time.sleep(0.01)
        with demo_db.connect() as conn:
            return conn.execute(sa.text("SELECT clock_timestamp()")).scalar()

    a = act(demo_db, plans.create_zone, PLANNER, plan_id, {"zone_code": "Ж-1", "name": "A"}, square(x, y),
            reason="перша редакція")
    b = act(demo_db, plans.create_zone, PLANNER, plan_id, {"zone_code": "Г-1", "name": "B"}, square(x + D, y))
    t1 = moment()
    act(demo_db, plans.update_zone, PLANNER, a["id"], 1, attributes={"max_height_m": "12,5"}, reason="висотність")
    act(demo_db, plans.delete_zone, PLANNER, b["id"], 1, reason="об'єднано")
    c = act(demo_db, plans.create_zone, PLANNER, plan_id, {"zone_code": "Р"}, square(x + 2 * D, y))
    t2 = moment()
    with demo_db.connect() as conn:
        history = plans.zone_history(conn, a["id"], roles=frozenset({"planner"}))
        then = plans.zones_as_of(conn, plan_id, t1, roles=frozenset({"planner"}))
        changes = plans.diff(conn, plan_id, t1, t2, roles=frozenset({"planner"}))
    assert [(h["version"], h["operation"], h["reason"]) for h in history] == [
        (2, "update", "висотність"), (1, "create", "перша редакція")]
    assert history[0]["attributes"]["max_height_m"] == 12.5 and history[1]["attributes"]["max_height_m"] is None
    assert set(then) == {a["id"], b["id"]} and then[a["id"]]["version"] == 1
    assert set(changes["added"]) == {c["id"]} and set(changes["removed"]) == {b["id"]}
    assert set(changes["changed"]) == {a["id"]}
    # Reverting the update and the deletion: both as new versions.
    back = act(demo_db, plans.revert, PLANNER, a["id"], 1)
    assert back["version"] == 3 and back["max_height_m"] is None
    again = act(demo_db, plans.revert, PLANNER, b["id"], 1)
    assert again["id"] == b["id"] and again["version"] == 3 and again["name"] == "B"
    with demo_db.connect() as conn:
        ops = [h["operation"] for h in plans.zone_history(conn, b["id"], roles=frozenset({"planner"}))]
    assert ops == ["revert", "delete", "create"]


def test_split_a_zone_along_a_line(demo_db, plan):
    plan_id, x, y = plan
    zone = act(demo_db, plans.create_zone, PLANNER, plan_id, {"zone_code": "С"}, square(x, y, 2 * D))
    line = {"type": "LineString", "coordinates": [[x + 0.5 * D, y - D], [x + 0.5 * D, y + 3 * D]]}
    kept, new = act(demo_db, plans.split_zone, PLANNER, zone["id"], 1, line)
    assert kept["id"] == zone["id"] and kept["version"] == 2 and new["zone_code"] == "С"
    areas = [scalar(demo_db, "SELECT ST_Area(geom::geography) FROM plan_zone WHERE id = :i", i=z["id"])
             for z in (kept, new)]
    assert areas[0] == pytest.approx(3 * areas[1], rel=0.01)
    with pytest.raises(Unprocessable, match="in two"):
        act(demo_db, plans.split_zone, PLANNER, new["id"], 1, {"type": "LineString", "coordinates": [
            [x + 5 * D, y], [x + 6 * D, y]]})


def test_draft_zones_are_hidden_until_published(demo_db, plan, client):
    plan_id, x, y = plan
    zone = act(demo_db, plans.create_zone, PLANNER, plan_id, {"zone_code": "Ж-1", "name": "Чернетка"}, square(x, y))
    def mine(features):  # the demo's approved plan is public: only this test's plan matters here
        return [f for f in features if f["properties"].get("plan_id", f["id"]) == plan_id]

    hidden = [
        mine(client.get("/api/layers/plan_zones/items").get_json()["features"]),
        mine(client.get("/api/layers/plans/items").get_json()["features"]),
        mine(client.get("/ogc/collections/plan_zones/items").get_json()["features"]),
    ]
    assert hidden == [[], [], []]
    assert client.get(f"/ogc/collections/plan_zones/items/{zone['id']}").status_code == 404
    assert "Чернетка" not in client.get("/api/layers/plan_zones/export.geojson").get_data(as_text=True)
    assert "Чернетка" not in client.get("/api/layers/plan_zones/export.csv").get_data(as_text=True)
    assert "Чернетка" not in client.get("/").get_data(as_text=True)
    import mercantile
    tile = mercantile.tile(x + D / 2, y + D / 2, 15)
    assert client.get(f"/tiles/plan_zones/15/{tile.x}/{tile.y}.mvt").status_code == 204
    act(demo_db, plans.set_plan_status, plan_id, "discussion", PLANNER)
    assert [f["properties"]["name"]
            for f in mine(client.get("/api/layers/plan_zones/items").get_json()["features"])] == ["Чернетка"]
    tile_memory(client.application).clear()  # tiles are cached for a minute, like a proxy would
    assert client.get(f"/tiles/plan_zones/15/{tile.x}/{tile.y}.mvt").status_code == 200
    assert scalar(demo_db, "SELECT count(*) FROM plan_zone_version WHERE zone_id = :i", i=zone["id"]) == 1
