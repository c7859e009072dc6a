"""Editing features one by one, derived from the declarations (issue #19, layers.editing): who may
create, change and delete (roles per hromada), values checked as importers check them, the geometry
in the feature's hromada, the version checked under the row lock, versionless merges flagged for
review, and every write in the history naming its editor."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from gis.errors import Forbidden, InvalidInput, NotFound, Unprocessable
from gis.users import create_user
from layers import editing, history
from layers.editing import EditConflict, Editor
from layers.registry import get_layer
from tests.helpers import demo_hromada_id, inside, load_neighbours, scalar

LAMPS = get_layer("street_lamps")
PROPERTY = get_layer("communal_property")


def _editor(engine, user_id=None, *roles, name=None, hromada=None) -> Editor:
    return Editor(user_id, {hromada or demo_hromada_id(engine): frozenset(roles)}, name)


def _lamp(engine) -> int:
    return scalar(engine, "SELECT id FROM street_lamp WHERE hromada_id = :h ORDER BY id LIMIT 1",
                  h=demo_hromada_id(engine))


def _point(engine) -> dict:
    lon, lat = inside(engine, "Якушинці")
    return {"type": "Point", "coordinates": [lon, lat]}


def test_the_declarations_say_who_edits_what():
    names = {layer.name for layer in editing.editable_layers()}
    assert {"street_lamps", "communal_property", "road_segments"} <= names
    assert "plan_zones" not in names  # edited through its plan's workflow (layers.writable)
    assert all(layer.keeps_history for layer in editing.editable_layers())
    assert editing.can_edit(LAMPS, {"unit_staff"}, "update") and editing.can_edit(LAMPS, {"admin"}, "delete")
    assert not editing.can_edit(LAMPS, {"planner"}, "create") and not editing.can_edit(LAMPS, set(), "update")
    assert editing.can_edit(PROPERTY, {"admin"}, "update") and not editing.can_edit(PROPERTY, {"unit_staff"}, "update")
    assert not editing.can_edit(get_layer("protected_areas"), {"admin"}, "create")
    assert {"id", "hromada_id", "imported_at", "source", "is_demo", "raw"} <= editing.server_fields(LAMPS)
    with pytest.raises(ValueError):
        editing.can_edit(LAMPS, {"admin"}, "rename")


def test_the_checker_finds_an_editing_declaration_that_does_not_fit():
    from dataclasses import replace

    from layers.base import Editing, Permissions
    from layers.checks import problems

    broken = replace(LAMPS, history=None, permissions=Permissions(
        edit=frozenset({"admin"}), editing=Editing(delete=frozenset({"planner"}), server_fields=("colour",))))
    found = problems(broken)
    assert any("keeps its history" in p for p in found)
    assert any("may delete (['planner'])" in p for p in found)
    assert any("server field 'colour'" in p for p in found)
    assert any("range goes with numbers" in p for p in problems(replace(
        LAMPS, fields=(replace(LAMPS.field("ref"), minimum=0), *LAMPS.fields[1:]))))


def test_create_move_and_restatus_a_lamp_each_a_version_naming_the_editor(demo_db):
    admin = _editor(demo_db, None, "admin", name="Олена Адмін")
    with demo_db.begin() as conn:
        lamp = editing.create_feature(conn, LAMPS, admin, {"ref": "№ 901", "status": "працює", "power_w": "40,5",
                                                           "installed_on": "01.02.2024", "hromada_id": 999},
                                      _point(demo_db), reason="нова опора")
    assert (lamp.version, lamp.hromada_id) == (1, demo_hromada_id(demo_db))
    assert lamp.properties["status"] == "working" and lamp.properties["power_w"] == 40.5
    assert lamp.properties["installed_on"] == "2024-02-01"
    assert scalar(demo_db, "SELECT kind FROM asset WHERE id = :id", id=lamp.id) == "street_lamp"
    lon, lat = lamp.geometry["coordinates"]
    moved = {"type": "Point", "coordinates": [lon + 0.0001, lat]}
    with demo_db.begin() as conn:
        after = editing.update_feature(conn, LAMPS, admin, lamp.id, expected_version=1, geometry=moved)
        after = editing.update_feature(conn, LAMPS, admin, lamp.id, expected_version=2, properties={"status": "faulty"})
    assert after.version == 3 and after.properties["status"] == "faulty" and not after.needs_review
    with demo_db.connect() as conn:
        versions = history.versions(conn, LAMPS, lamp.id)
    assert [(v["version"], v["op"], v["user_label"]) for v in versions] == [
        (3, "update", "Олена Адмін"), (2, "update", "Олена Адмін"), (1, "insert", "Олена Адмін")]
    assert versions[-1]["reason"] == "нова опора" and versions[0]["changed"] == ["status"]
    with demo_db.begin() as conn:
        editing.delete_feature(conn, LAMPS, admin, lamp.id, expected_version=3)
        with pytest.raises(NotFound):
            editing.get_feature(conn, LAMPS, lamp.id)


def test_a_stale_version_loses_and_carries_the_current_feature(demo_db):
    lamp = _lamp(demo_db)
    staff = _editor(demo_db, None, "unit_staff", name="Бригада")
    with demo_db.connect() as conn:
        assert editing.get_feature(conn, LAMPS, lamp).version == 1  # unchanged since its history began
    with demo_db.begin() as conn:
        assert editing.update_feature(conn, LAMPS, staff, lamp, expected_version=1,
                                      properties={"cabinet": "ШК-71"}).version == 2  # v1 the old row, v2 this
    with demo_db.begin() as conn:
        with pytest.raises(EditConflict) as stale:
            editing.update_feature(conn, LAMPS, staff, lamp, expected_version=1, properties={"cabinet": "ШК-79"})
    assert stale.value.http_status == 412 and stale.value.current.properties["cabinet"] == "ШК-71"
    with demo_db.begin() as conn:
        with pytest.raises(EditConflict):
            editing.delete_feature(conn, LAMPS, staff, lamp, expected_version=1)
    assert scalar(demo_db, "SELECT cabinet FROM street_lamp WHERE id = :id", id=lamp) == "ШК-71"


def test_of_two_writers_with_the_same_version_exactly_one_wins(demo_db):
    lamp = _lamp(demo_db)
    staff = _editor(demo_db, None, "unit_staff")
    results, barrier = [], threading.Barrier(2)

    def write(value):
        try:
            with demo_db.begin() as conn:
                barrier.wait()
                editing.update_feature(conn, LAMPS, staff, lamp, expected_version=1, properties={"cabinet": value})
            results.append("ok")
        except EditConflict:
            results.append("412")

    threads = [threading.Thread(target=write, args=(v,)) for v in ("А", "Б")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["412", "ok"]


def test_values_are_checked_as_importers_check_them_and_nothing_is_written(demo_db):
    lamp = _lamp(demo_db)
    admin = _editor(demo_db, None, "admin")
    before = scalar(demo_db, "SELECT count(*) FROM feature_version")
    with demo_db.begin() as conn:
        with pytest.raises(InvalidInput) as bad:
            editing.update_feature(conn, LAMPS, admin, lamp, expected_version=None,
                                   properties={"status": "broken", "power_w": -5, "installed_on": "вчора",
                                               "colour": "red", "ref": None})
    fields = bad.value.details["fields"]
    assert set(fields) == {"status", "power_w", "installed_on", "colour", "ref"}
    assert "менше за 0" in fields["power_w"]["uk"] and "less than 0" in fields["power_w"]["en"]
    with demo_db.begin() as conn:
        with pytest.raises(InvalidInput) as wrong:
            editing.update_feature(conn, LAMPS, admin, lamp, expected_version=None,
                                   geometry={"type": "LineString", "coordinates": [[28.5, 49.2], [28.6, 49.3]]})
        assert set(wrong.value.details["fields"]) == {"geometry"}
        with pytest.raises(Unprocessable) as outside:
            editing.update_feature(conn, LAMPS, admin, lamp, expected_version=None,
                                   geometry={"type": "Point", "coordinates": [30.52, 50.45]})  # Kyiv
        assert set(outside.value.details["fields"]) == {"geometry"}
        with pytest.raises(InvalidInput) as unit:
            editing.update_feature(conn, LAMPS, admin, lamp, expected_version=None,
                                   properties={"operator_unit_id": 987654})
        assert set(unit.value.details["fields"]) == {"operator_unit_id"}
    assert scalar(demo_db, "SELECT count(*) FROM feature_version") == before


def test_roles_are_per_hromada(demo_db):
    load_neighbours(demo_db)
    lamp = _lamp(demo_db)
    other = scalar(demo_db, "SELECT id FROM hromada WHERE id <> :h ORDER BY id LIMIT 1", h=demo_hromada_id(demo_db))
    with demo_db.begin() as conn:
        with pytest.raises(Forbidden):  # an admin, of another hromada
            editing.update_feature(conn, LAMPS, _editor(demo_db, None, "admin", hromada=other), lamp,
                                   expected_version=None, properties={"status": "faulty"})
        with pytest.raises(Forbidden):  # a planner does not edit lamps
            editing.update_feature(conn, LAMPS, _editor(demo_db, None, "planner"), lamp,
                                   expected_version=None, properties={"status": "faulty"})
        with pytest.raises(Forbidden):  # a lamp placed in this hromada by the other's admin
            editing.create_feature(conn, LAMPS, _editor(demo_db, None, "admin", hromada=other),
                                   {"ref": "X", "status": "working"}, _point(demo_db))
        with pytest.raises(Forbidden):  # unit staff do not keep the property register
            editing.update_feature(conn, PROPERTY, _editor(demo_db, None, "unit_staff"),
                                   scalar(demo_db, "SELECT min(id) FROM communal_property"),
                                   expected_version=None, properties={"rent_uah_month": 1})


def test_a_versionless_merge_is_flagged_when_it_replaces_a_colleagues_fresh_value(demo_db):
    lamp = _lamp(demo_db)
    with demo_db.begin() as conn:
        ids = [create_user(conn, e, None, ["unit_staff"], hromada_id=demo_hromada_id(demo_db))
               for e in ("a@example.org", "b@example.org")]
        # The demo was loaded two days ago: its values are nobody's fresh ones.
        conn.execute(sa.text("UPDATE feature_version SET valid_from = valid_from - interval '2 days' "
                             "WHERE layer = 'street_lamps' AND feature_id = :f"), {"f": lamp})
    first, second = (_editor(demo_db, i, "unit_staff") for i in ids)
    with demo_db.begin() as conn:
        editing.update_feature(conn, LAMPS, first, lamp, expected_version=None, properties={"cabinet": "ШК-72"})
        own = editing.update_feature(conn, LAMPS, first, lamp, expected_version=None, properties={"cabinet": "ШК-73"})
        assert not own.needs_review  # its own value
        other = editing.update_feature(conn, LAMPS, second, lamp, expected_version=None,
                                       properties={"power_w": 70})
        assert not other.needs_review  # power_w was the demo's, set long ago
        flagged = editing.update_feature(conn, LAMPS, second, lamp, expected_version=None,
                                         properties={"cabinet": "ШК-74"})
    assert flagged.needs_review and flagged.review_fields == ("cabinet",)
    assert flagged.properties["power_w"] == 70 and flagged.properties["cabinet"] == "ШК-74"
    with demo_db.connect() as conn:
        newest = history.versions(conn, LAMPS, lamp)[0]
        edits = editing.versionless_edits(conn, LAMPS, demo_hromada_id(demo_db))
    assert newest["versionless"] and newest["user_id"] == ids[1]
    assert [(e["feature_id"], e["version"], e["review_fields"]) for e in edits] == [
        (lamp, flagged.version, ["cabinet"])]


def test_a_lease_change_by_an_admin_is_in_the_history_and_reverts(demo_db):
    item = scalar(demo_db, "SELECT min(id) FROM communal_property WHERE hromada_id = :h", h=demo_hromada_id(demo_db))
    admin = _editor(demo_db, None, "admin", name="Адмін Громади")
    with demo_db.begin() as conn:
        start = editing.get_feature(conn, PROPERTY, item)
        leased = editing.update_feature(conn, PROPERTY, admin, item, expected_version=start.version, reason="договір 7",
                                        properties={"tenant_kind": "legal_entity", "tenant_organisation": "ТОВ Світло",
                                                    "lease_start": "2025-01-01", "lease_end": "2027-12-31",
                                                    "rent_uah_month": "1 250,50"})
    assert leased.properties["rent_uah_month"] == 1250.5 and leased.properties["lease_end"] == "2027-12-31"
    with demo_db.begin() as conn:
        with pytest.raises(InvalidInput):
            editing.update_feature(conn, PROPERTY, admin, item, expected_version=leased.version,
                                   properties={"lease_end": "31.13.2027"})
        last = history.versions(conn, PROPERTY, item)[0]
        assert (last["user_label"], last["reason"]) == ("Адмін Громади", "договір 7")
        history.revert(conn, PROPERTY, item, leased.version - 1, history.Author(None, "Адмін Громади"),
                       roles={"admin"})
        back = editing.get_feature(conn, PROPERTY, item)
    assert back.properties["tenant_organisation"] == start.properties["tenant_organisation"]
    assert back.version == leased.version + 1


def test_a_lamp_following_its_report_names_who_moved_the_report(demo_db):
    from layers import reports
    from layers.reports import Actor
    from tests.helpers import InEveryHromada, asset_point
    from tests.layers.test_roads_lighting import file_report, lamp

    lamp_id, _ = lamp(demo_db, "301")
    with demo_db.begin() as conn:
        staff = create_user(conn, "lights@example.org", None, ["unit_staff"], hromada_id=demo_hromada_id(demo_db),
                            full_name="Іван Ліхтаренко")
    lon, lat = asset_point(demo_db, "street_lamp", "301")
    code = file_report(demo_db, lon, lat)["code"]
    with demo_db.begin() as conn:
        reports.change_status(conn, code, "resolved", Actor(staff, InEveryHromada("admin"), frozenset()),
                              public_url="https://gis.example.org")
    with demo_db.connect() as conn:
        resolved, filed = history.versions(conn, LAMPS, lamp_id)[:2]
    assert (filed["row"]["status"], filed["user_id"], filed["user_label"]) == ("faulty", None, f"звернення {code} / "
                                                                                               f"report {code}")
    assert (resolved["row"]["status"], resolved["user_id"], resolved["user_label"]) == (
        "working", staff, "Іван Ліхтаренко")
    assert resolved["reason"] == f"за зверненням {code}: працює / following report {code}: working"


def test_an_import_by_an_account_names_it_in_the_history(demo_db, tmp_path):
    import json

    from importers.pipeline import ImportOptions, import_file

    with demo_db.begin() as conn:
        user = create_user(conn, "importer@example.org", None, ["admin"], hromada_id=demo_hromada_id(demo_db),
                           full_name="Оксана Імпорт")
    lon, lat = inside(demo_db, "Якушинці")
    path = tmp_path / "lamps.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
         "properties": {"ref": "I-1", "status": "working"}}]}), encoding="utf-8")
    import_file(demo_db, LAMPS, path, ImportOptions(user_id=user))
    new = scalar(demo_db, "SELECT id FROM street_lamp WHERE ref = 'I-1'")
    with demo_db.connect() as conn:
        only = history.versions(conn, LAMPS, new)[0]
    assert (only["user_id"], only["user_label"], only["reason"]) == (
        user, "Оксана Імпорт", "імпорт файлу lamps.geojson / import of lamps.geojson")
