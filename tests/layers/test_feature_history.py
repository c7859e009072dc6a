"""Every version of every feature of the layers that keep history (issue #19, layers.history): the
triggers generated from the declarations record every write however it comes — a status change, a
move, a delete, an import, a bulk UPDATE — with who and why; as-of, diff and revert read them back."""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

import pytest
import sqlalchemy as sa

from gis.errors import Conflict, Forbidden, NotFound
from gis.users import create_user
from importers.pipeline import ImportOptions, import_file
from layers import history, lighting
from layers.registry import LAYERS, get_layer
from tests.helpers import demo_hromada_id, one, scalar

LAMPS = get_layer("street_lamps")
PROPERTY = get_layer("communal_property")
EDITOR = history.Author(None, "Олена Петренко")


def a_lamp(engine) -> int:
    return scalar(engine, "SELECT id FROM street_lamp WHERE hromada_id = :h AND status = 'working' ORDER BY id "
                          "LIMIT 1", h=demo_hromada_id(engine))


def clock(engine):
    """The database's clock now (a moment between two transactions)."""
    return scalar(engine, "SELECT clock_timestamp()")


def staff_member(engine) -> int:
    with engine.begin() as conn:
        return create_user(conn, "lights@yakushynetska.example.org", None, ["unit_staff"],
                           hromada_id=demo_hromada_id(engine), full_name="Іван Ліхтаренко")


def test_the_triggers_follow_the_declarations(clean_db):
    declared = {layer.table for layer in history.history_layers()}
    assert declared == {"street_lamp", "road_segment", "communal_property", "parcel", "heritage_object", "venue",
                        "wifi_hotspot", "coverage_area", "transit_stop"}
    assert {LAYERS[n].history for n in ("street_lamps", "parcels")} == {"public", "staff"}

    def triggers():
        with clean_db.connect() as conn:
            return set(conn.execute(sa.text("""
                SELECT c.relname || '.' || t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                WHERE t.tgfoid = 'record_feature_version()'::regprocedure""")).scalars())

    expected = {f"{table}.{table}_version_{event}" for table in declared for event in ("insert", "update", "delete")}
    assert triggers() == expected
    with clean_db.begin() as conn:
        assert history.sync_triggers(conn) == []  # in step after the migrations
        conn.execute(sa.text("DROP TRIGGER street_lamp_version_update ON street_lamp"))
        conn.execute(sa.text("ALTER TABLE venue DISABLE TRIGGER venue_version_delete"))
        # A layer that does not keep history (protected areas) has no trigger for long.
        conn.execute(sa.text(history.trigger_statements([replace(get_layer("protected_areas"), history="staff")])[0]))
        done = history.sync_triggers(conn)
    assert sorted(done) == ["created street_lamp_version_update on street_lamp",
                            "created venue_version_delete on venue", "dropped protected_area_version_insert on "
                            "protected_area", "dropped venue_version_delete on venue"]
    assert triggers() == expected


def test_a_status_change_and_a_move_are_each_a_version_naming_the_user(demo_db):
    lamp = a_lamp(demo_db)
    user = staff_member(demo_db)
    with demo_db.connect() as conn:
        loaded = history.versions(conn, LAMPS, lamp)
    assert [(v["version"], v["op"]) for v in loaded] == [(1, "insert")]  # the demo's load is recorded too
    with demo_db.begin() as conn, history.acting(conn, user, "Іван Ліхтаренко", "нічний обхід"):
        lighting.set_lamp_status(conn, lamp, "faulty")
    with demo_db.begin() as conn, history.acting(conn, user, None):  # the name comes from the account
        conn.execute(sa.text("UPDATE street_lamp SET geom = ST_Translate(geom, 0.0001, 0) WHERE id = :id"),
                     {"id": lamp})
    with demo_db.connect() as conn:
        newest, status, first = history.versions(conn, LAMPS, lamp)
    assert (status["version"], status["op"], status["changed"]) == (2, "update", ["status"])
    assert (status["user_id"], status["user_label"], status["reason"]) == (user, "Іван Ліхтаренко", "нічний обхід")
    assert (status["row"]["status"], first["row"]["status"]) == ("faulty", "working")
    assert (newest["version"], newest["changed"], newest["user_label"], newest["reason"]) == (
        3, ["geom"], "Іван Ліхтаренко", None)
    moved = newest["row"]["geom"]["coordinates"][0] - status["row"]["geom"]["coordinates"][0]
    assert moved == pytest.approx(0.0001)
    # Each version ends where the next begins; the newest is current.
    assert first["valid_to"] == status["valid_from"] and status["valid_to"] == newest["valid_from"]
    assert newest["valid_to"] is None and not newest["versionless"]
    with demo_db.connect() as conn:
        changes = history.diff(conn, LAMPS, lamp, 1, 3)["changes"]
    assert set(changes) == {"status", "geom"} and changes["status"] == {"before": "working", "after": "faulty"}


def test_as_of_a_moment_between_edits_gives_the_values_then(demo_db):
    lamp = a_lamp(demo_db)
    with demo_db.begin() as conn, history.acting(conn, None, "Бригада №2"):
        conn.execute(sa.text("UPDATE street_lamp SET status = 'faulty', power_w = 60 WHERE id = :id"), {"id": lamp})
    between = clock(demo_db)
    with demo_db.begin() as conn, history.acting(conn, None, "Бригада №2"):
        conn.execute(sa.text("UPDATE street_lamp SET status = 'working', power_w = 40 WHERE id = :id"), {"id": lamp})
    with demo_db.begin() as conn:
        conn.execute(sa.text("DELETE FROM street_lamp WHERE id = :id"), {"id": lamp})
    after = clock(demo_db)
    with demo_db.connect() as conn:
        then = history.as_of(conn, LAMPS, lamp, between)
        assert (then["version"], then["row"]["status"], then["row"]["power_w"]) == (2, "faulty", 60)
        assert history.as_of(conn, LAMPS, lamp, after) is None  # deleted by then
        first = history.versions(conn, LAMPS, lamp)[-1]
        assert history.as_of(conn, LAMPS, lamp, first["valid_from"])["version"] == 1


def test_a_deleted_lamp_comes_back_with_its_id_by_a_revert(demo_db):
    lamp = a_lamp(demo_db)
    ref = scalar(demo_db, "SELECT ref FROM street_lamp WHERE id = :id", id=lamp)
    with demo_db.begin() as conn, history.acting(conn, None, "Хтось", "помилка"):
        conn.execute(sa.text("DELETE FROM street_lamp WHERE id = :id"), {"id": lamp})
    assert scalar(demo_db, "SELECT count(*) FROM asset WHERE id = :id", id=lamp) == 0
    with demo_db.begin() as conn:
        with pytest.raises(Forbidden):  # planners do not edit lamps
            history.revert(conn, LAMPS, lamp, 1, EDITOR, roles={"planner"})
        with pytest.raises(Conflict):  # version 2 is the deletion itself
            history.revert(conn, LAMPS, lamp, 2, EDITOR, roles={"unit_staff"})
        with pytest.raises(NotFound):
            history.revert(conn, LAMPS, lamp, 9, EDITOR, roles={"unit_staff"})
        done = history.revert(conn, LAMPS, lamp, 1, EDITOR, roles={"unit_staff"})
    assert done == {"feature_id": lamp, "version": 3, "reverted_to": 1, "changed": None}
    assert scalar(demo_db, "SELECT ref FROM street_lamp WHERE id = :id", id=lamp) == ref
    assert scalar(demo_db, "SELECT ref FROM asset WHERE id = :id", id=lamp) == ref  # routes reports again
    with demo_db.connect() as conn:
        back, deleted, first = history.versions(conn, LAMPS, lamp)
    assert (back["op"], back["user_label"], back["reason"]) == ("insert", "Олена Петренко",
                                                                "повернення до версії 1 / revert to version 1")
    assert back["row"] == first["row"] and deleted["op"] == "delete" and deleted["row"] == first["row"]
    with demo_db.begin() as conn:  # once more: nothing to change, no new version
        assert history.revert(conn, LAMPS, lamp, 1, EDITOR, roles={"unit_staff"})["changed"] == []
    assert scalar(demo_db, "SELECT max(version) FROM feature_version WHERE feature_id = :id", id=lamp) == 3


def test_a_revert_the_database_refuses_now_is_a_conflict(demo_db):
    lamp = a_lamp(demo_db)
    with demo_db.begin() as conn:
        unit = conn.execute(sa.text("INSERT INTO unit (hromada_id, code, name_uk, kind) VALUES (:h, 'old_lights', "
                                    "'Стара служба', 'enterprise') RETURNING id"), {"h": demo_hromada_id(demo_db)})
        unit = unit.scalar_one()
        conn.execute(sa.text("UPDATE street_lamp SET operator_unit_id = :u WHERE id = :id"), {"u": unit, "id": lamp})
    with demo_db.begin() as conn:
        conn.execute(sa.text("DELETE FROM unit WHERE id = :u"), {"u": unit})  # the lamp's unit goes: SET NULL
    with demo_db.connect() as conn:
        gone = history.versions(conn, LAMPS, lamp)[0]
    assert (gone["version"], gone["changed"]) == (3, ["operator_unit_id"])  # a cascade is recorded too
    with demo_db.begin() as conn:
        with pytest.raises(Conflict, match="fk_street_lamp_operator_unit_id_unit"):
            history.revert(conn, LAMPS, lamp, 2, EDITOR, roles={"admin"})
        assert history.revert(conn, LAMPS, lamp, 3, EDITOR, roles={"admin"})["changed"] == []  # still usable


def test_an_import_is_recorded_and_importing_the_same_file_again_is_not_a_version(demo_db, tmp_path):
    lamp = a_lamp(demo_db)
    ref, lon, lat = one(demo_db, "SELECT ref, ST_X(geom), ST_Y(geom) FROM street_lamp WHERE id = :id", id=lamp)
    assert scalar(demo_db, "SELECT count(*) FROM street_lamp WHERE ref = :r", r=ref) == 1
    path = tmp_path / "lamps.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
         "properties": {"ref": ref, "status": "missing"}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon + 0.0005, lat]},
         "properties": {"ref": "N-1", "status": "working"}}]}), encoding="utf-8")
    report = import_file(demo_db, LAMPS, path, ImportOptions(upsert_key="ref"))
    assert (report.inserted, report.updated) == (1, 1)
    new = scalar(demo_db, "SELECT id FROM street_lamp WHERE ref = 'N-1'")
    with demo_db.connect() as conn:
        updated, new_versions = history.versions(conn, LAMPS, lamp), history.versions(conn, LAMPS, new)
    assert (updated[0]["op"], updated[0]["row"]["status"], updated[0]["row"]["source"]) == (
        "update", "missing", "lamps.geojson")
    assert "status" in updated[0]["changed"] and [v["op"] for v in new_versions] == ["insert"]
    count = scalar(demo_db, "SELECT count(*) FROM feature_version")
    import_file(demo_db, LAMPS, path, ImportOptions(upsert_key="ref"))  # only imported_at changes
    assert scalar(demo_db, "SELECT count(*) FROM feature_version") == count


def test_a_bulk_update_of_100_rows_is_100_versions(clean_db):
    with clean_db.begin() as conn:
        conn.execute(sa.text("""
            INSERT INTO wifi_hotspot (name, free, geom)
            SELECT 'Точка ' || i, false, ST_SetSRID(ST_MakePoint(28.3 + i * 0.001, 49.2), 4326)
            FROM generate_series(1, 100) i"""))
    with clean_db.begin() as conn, history.acting(conn, None, "Адміністратор", "усі безкоштовні", versionless=True):
        assert conn.execute(sa.text("UPDATE wifi_hotspot SET free = true")).rowcount == 100
    with clean_db.begin() as conn:
        conn.execute(sa.text("UPDATE wifi_hotspot SET free = true"))  # changes nothing: no version
    with clean_db.connect() as conn:
        rows = conn.execute(sa.text("""
            SELECT op, version, changed, user_label, reason, versionless, count(*) FROM feature_version
            WHERE layer = 'wifi_hotspots' GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 2""")).all()
    assert [tuple(r) for r in rows] == [("insert", 1, None, None, None, False, 100),
                                        ("update", 2, ["free"], "Адміністратор", "усі безкоштовні", True, 100)]


def test_a_lease_change_in_the_property_register_is_recorded_and_revertible(demo_db):
    item = scalar(demo_db, "SELECT id FROM communal_property WHERE tenant_kind = 'legal_entity' ORDER BY id LIMIT 1")
    before = one(demo_db, "SELECT tenant_organisation, lease_end, rent_uah_month FROM communal_property "
                          "WHERE id = :id", id=item)
    with demo_db.begin() as conn, history.acting(conn, None, "Відділ майна", "нова угода оренди"):
        conn.execute(sa.text("""UPDATE communal_property SET tenant_kind = 'individual',
                                tenant_person = 'ФОП Коваль Петро', tenant_organisation = NULL,
                                lease_end = DATE '2031-12-31', rent_uah_month = 4200 WHERE id = :id"""), {"id": item})
    with demo_db.connect() as conn:
        lease = history.versions(conn, PROPERTY, item)[0]
        assert set(lease["changed"]) == {"tenant_kind", "tenant_person", "tenant_organisation", "lease_end",
                                         "rent_uah_month"}
        assert lease["row"]["lease_end"] == "2031-12-31" and lease["reason"] == "нова угода оренди"
        # The public reads the change without the individual tenant's name.
        public = history.history_for(conn, PROPERTY, item, history.PUBLIC_ONLY)["versions"][0]
    assert "tenant_person" not in public["properties"] and "tenant_person" not in public["changed"]
    assert "user_label" not in public and public["properties"]["tenant_kind"] == "individual"
    with demo_db.begin() as conn:
        done = history.revert(conn, PROPERTY, item, lease["version"] - 1, EDITOR, roles={"admin"})
    assert set(done["changed"]) == set(lease["changed"])
    after = one(demo_db, "SELECT tenant_organisation, lease_end, rent_uah_month, tenant_person "
                         "FROM communal_property WHERE id = :id", id=item)
    assert tuple(after) == (*before, None)


def test_a_feature_older_than_its_history_gets_its_first_version_at_its_first_change(clean_db):
    with clean_db.begin() as conn:
        conn.execute(sa.text("ALTER TABLE wifi_hotspot DISABLE TRIGGER wifi_hotspot_version_insert"))
        spot = conn.execute(sa.text("""
            INSERT INTO wifi_hotspot (name, geom, imported_at) VALUES
            ('Бібліотека', ST_SetSRID(ST_MakePoint(28.3, 49.2), 4326), now() - interval '1 day') RETURNING id""")
        ).scalar_one()
        conn.execute(sa.text("ALTER TABLE wifi_hotspot ENABLE TRIGGER wifi_hotspot_version_insert"))
    untouched = clock(clean_db)
    with clean_db.connect() as conn:
        assert history.versions(conn, "wifi_hotspots", spot) == []
        assert history.as_of(conn, "wifi_hotspots", spot, untouched)["row"]["name"] == "Бібліотека"
    with clean_db.begin() as conn:
        conn.execute(sa.text("UPDATE wifi_hotspot SET name = 'Бібліотека №1' WHERE id = :id"), {"id": spot})
    with clean_db.connect() as conn:
        renamed, first = history.versions(conn, "wifi_hotspots", spot)
        assert (first["version"], first["op"], first["row"]["name"]) == (1, "insert", "Бібліотека")
        # (jsonb keeps the time as text, trailing zeros of the microseconds dropped: compare as times)
        assert first["valid_from"] == datetime.fromisoformat(first["row"]["imported_at"])
        assert (renamed["version"], renamed["changed"]) == (2, ["name"])
        assert history.as_of(conn, "wifi_hotspots", spot, untouched)["row"]["name"] == "Бібліотека"


def test_a_layer_without_history_has_none(clean_db):
    with clean_db.connect() as conn, pytest.raises(NotFound, match="keeps no history"):
        history.versions(conn, "protected_areas", 1)
