"""Roads and street lighting: assets mirrored from their layers, potholes routed by the road's owner,
lamp status following its reports, repairs recorded on segments, kilometres and lighting coverage."""
import datetime as dt

import pytest
import sqlalchemy as sa

from gis.errors import Conflict, InvalidInput
from gis.routing import route_report
from layers import history, lighting, reports, roads
from layers.reports import Actor, NewReport
from tests.helpers import InEveryHromada, asset_point, one, scalar, unit_id

URL = "https://gis.example.org"
METRE_LON = 1 / 72_800  # one metre of longitude at 49° N, in degrees (≈)
ADMIN = Actor(user_id=None, grants=InEveryHromada("admin"), unit_ids=frozenset())


def file_report(engine, lon, lat, category="street_light_out", **extra) -> dict:
    with engine.begin() as conn:
        return reports.create_report(conn, NewReport(lon=lon, lat=lat, category=category,
                                                     description=extra.pop("description", "Не світить"), **extra),
                                     public_url=URL)


def set_status(engine, code, status, **extra):
    with engine.begin() as conn:
        reports.change_status(conn, code, status, ADMIN, public_url=URL, **extra)


def lamp(engine, ref):
    return one(engine, "SELECT id, status FROM street_lamp WHERE ref = :r", r=ref)


def test_features_of_asset_layers_are_mirrored_into_assets_under_their_own_id(demo_db):
    with demo_db.begin() as conn:
        h = conn.execute(sa.text("SELECT id FROM hromada")).scalar()
        new_id = conn.execute(sa.text("""
            INSERT INTO road_segment (hromada_id, name, ref, owner, geom)
            VALUES (:h, 'Об''їзна', 'О020107', 'regional',
                    ST_GeomFromText('LINESTRING(28.30 49.30, 28.31 49.30)', 4326)) RETURNING id"""),
            {"h": h}).scalar()
    assert one(demo_db, "SELECT kind, ref, name, owner_class, layer_table FROM asset WHERE id = :i", i=new_id) == (
        "road_segment", "О020107", "Об'їзна", "regional", "road_segment")
    with demo_db.begin() as conn:
        conn.execute(sa.text("UPDATE road_segment SET ref = NULL WHERE id = :i"), {"i": new_id})
    assert scalar(demo_db, "SELECT ref FROM asset WHERE id = :i", i=new_id) == "Об'їзна"  # no number: its name
    with demo_db.begin() as conn:
        conn.execute(sa.text("DELETE FROM road_segment WHERE id = :i"), {"i": new_id})
    assert scalar(demo_db, "SELECT count(*) FROM asset WHERE id = :i", i=new_id) == 0
    # Lamps and roads never share an id: both draw from the asset sequence.
    assert scalar(demo_db, "SELECT count(*) FROM street_lamp l JOIN road_segment r ON r.id = l.id") == 0


def test_potholes_go_to_the_roads_owner(demo_db):
    with demo_db.connect() as conn:
        lon, lat = asset_point(demo_db, "road_segment", "M-DEMO")
        state = route_report(conn, lon, lat + 5 / 111_000, "pothole")
        assert state.rule == "asset" and state.unit_id == unit_id(demo_db, "road_service")
        assert "дорога державного значення" in state.reason_uk and "a state road" in state.reason_en
        lon, lat = asset_point(demo_db, "road_segment", "вул. Садова")
        street = route_report(conn, lon, lat, "pothole")
        assert street.rule == "asset" and street.unit_id == unit_id(demo_db, "housing")
        assert "вулиця громади" in street.reason_uk
    # A segment's own maintainer beats its owner class.
    with demo_db.begin() as conn:
        conn.execute(sa.text("UPDATE road_segment SET maintainer_unit_id = :u WHERE ref = 'M-DEMO'"),
                     {"u": unit_id(demo_db, "sd_maidan")})
        lon, lat = asset_point(demo_db, "road_segment", "M-DEMO")
        assert route_report(conn, lon, lat, "pothole").unit_id == unit_id(demo_db, "sd_maidan")


def test_lamp_status_follows_its_report_and_reports_on_one_lamp_merge(demo_db):
    lamp_id, status = lamp(demo_db, "301")
    assert status == "working"
    lon, lat = asset_point(demo_db, "street_lamp", "301")
    first = file_report(demo_db, lon + 3 * METRE_LON, lat, email="a@example.org")
    assert lamp(demo_db, "301").status == "faulty" and not first["joined_existing"]
    # A second resident, same lamp chosen on the map: "me too" on the first report, not a new one.
    second = file_report(demo_db, lon + 20 * METRE_LON, lat, asset_id=lamp_id, email="b@example.org",
                         description="Третій день темно")
    assert second["joined_existing"] and second["code"] == first["code"] and second["private_url"] is None
    assert second["supporters"] == 1 and second["subscribed"]
    assert scalar(demo_db, "SELECT count(*) FROM report") == 1
    set_status(demo_db, first["code"], "in_progress")
    assert lamp(demo_db, "301").status == "faulty"
    set_status(demo_db, first["code"], "resolved")
    assert lamp(demo_db, "301").status == "working"
    # Resolved: the next failure is a new report.
    third = file_report(demo_db, lon, lat)
    assert third["code"] != first["code"] and lamp(demo_db, "301").status == "faulty"
    # Every change is a version of the lamp, its cause the report that made it.
    assert lamp_changes(demo_db, lamp_id) == [
        ("working", "faulty", f"report:{report_id(demo_db, first['code'])}"),
        ("faulty", "working", f"report:{report_id(demo_db, first['code'])}"),
        ("working", "faulty", f"report:{report_id(demo_db, third['code'])}")]
    assert scalar(demo_db, "SELECT count(*) FROM lamp_status_change") == 0  # no longer written


def report_id(engine, code: str) -> int:
    return scalar(engine, "SELECT id FROM report WHERE code = :c", c=code)


def lamp_changes(engine, lamp_id: int) -> list[tuple]:
    """(status before, status after, cause) of each status change in the lamp's versions, oldest first."""
    with engine.connect() as conn:
        found = list(reversed(history.versions(conn, lighting.STREET_LAMPS, lamp_id)))
    return [(before["row"]["status"], v["row"]["status"], v["cause"])
            for before, v in zip(found, found[1:], strict=False) if v["op"] == "update" and "status" in v["changed"]]


def test_a_rejected_report_puts_back_the_lamps_earlier_status(demo_db):
    lamp_id, _ = lamp(demo_db, "302")
    with demo_db.begin() as conn:
        conn.execute(sa.text("UPDATE street_lamp SET status = 'missing' WHERE id = :l"), {"l": lamp_id})
    lon, lat = asset_point(demo_db, "street_lamp", "302")
    code = file_report(demo_db, lon, lat, asset_id=lamp_id)["code"]
    assert lamp(demo_db, "302").status == "faulty"
    with demo_db.connect() as conn:
        assert lighting.status_before_report(conn, lamp_id, report_id(demo_db, code)) == "missing"
    set_status(demo_db, code, "rejected", public_note="Опору демонтовано")
    assert lamp(demo_db, "302").status == "missing"
    cause = f"report:{report_id(demo_db, code)}"
    assert lamp_changes(demo_db, lamp_id) == [("working", "missing", None), ("missing", "faulty", cause),
                                              ("faulty", "missing", cause)]


def test_a_report_from_before_the_switch_finds_the_lamps_earlier_status_in_the_archive(demo_db):
    """Until migration 0032 the status changes were kept in lamp_status_change: a report that changed
    the lamp then and is rejected now puts back the status the archive says it had."""
    lamp_id, _ = lamp(demo_db, "303")
    lon, lat = asset_point(demo_db, "street_lamp", "303")
    code = file_report(demo_db, lon, lat, asset_id=lamp_id)["code"]
    rid = report_id(demo_db, code)
    with demo_db.begin() as conn:
        # As it was before the switch: the report's change in the archive, no cause on the version.
        conn.execute(sa.text("UPDATE feature_version SET cause = NULL WHERE layer = 'street_lamps' "
                             "AND feature_id = :l"), {"l": lamp_id})
        conn.execute(sa.text("ALTER TABLE lamp_status_change DISABLE TRIGGER read_only"))
        conn.execute(sa.text("INSERT INTO lamp_status_change (lamp_id, from_status, to_status, report_id) "
                             "VALUES (:l, 'missing', 'faulty', :r)"), {"l": lamp_id, "r": rid})
        conn.execute(sa.text("ALTER TABLE lamp_status_change ENABLE TRIGGER read_only"))
    with demo_db.connect() as conn:
        assert lighting.status_before_report(conn, lamp_id, rid) == "missing"
    set_status(demo_db, code, "rejected")
    assert lamp(demo_db, "303").status == "missing"
    # The archive is read-only, and outlives the lamp.
    with pytest.raises(sa.exc.DBAPIError, match="read-only archive"), demo_db.begin() as conn:
        conn.execute(sa.text("DELETE FROM lamp_status_change"))
    with demo_db.begin() as conn:
        conn.execute(sa.text("DELETE FROM report WHERE id = :r"), {"r": rid})
        conn.execute(sa.text("DELETE FROM street_lamp WHERE id = :l"), {"l": lamp_id})
    assert scalar(demo_db, "SELECT count(*) FROM lamp_status_change WHERE lamp_id = :l", l=lamp_id) == 1


def test_resolving_a_pothole_records_the_repair_on_the_segment(demo_db):
    lon, lat = asset_point(demo_db, "road_segment", "вул. Садова")
    code = file_report(demo_db, lon, lat, category="pothole", description="Глибока яма")["code"]
    segment_id = scalar(demo_db, "SELECT asset_id FROM report WHERE code = :c", c=code)
    assert scalar(demo_db, "SELECT name FROM road_segment WHERE id = :i", i=segment_id) == "вул. Садова"
    with demo_db.begin() as conn, pytest.raises(Conflict, match="resolved"):
        roads.record_repair(conn, code, "5", None)
    with demo_db.begin() as conn:
        reports.change_status(conn, code, "resolved", ADMIN, public_url=URL, public_note="Яму залатано")
        roads.record_repair(conn, code, "5", None, note="Яму залатано")
    assert scalar(demo_db, "SELECT condition FROM road_segment WHERE id = :i", i=segment_id) == "5"
    with demo_db.connect() as conn:
        history = roads.inspections(conn, segment_id)
    assert history[0]["kind"] == "repair" and history[0]["report_code"] == code and history[0]["condition"] == "5"
    with demo_db.begin() as conn, pytest.raises(InvalidInput, match="1 to 5"):
        roads.record_inspection(conn, segment_id, condition="7")


def test_kilometres_per_condition_and_village(demo_db):
    with demo_db.connect() as conn:
        h = conn.execute(sa.text("SELECT id FROM hromada")).scalar()
        summary = roads.km_by_condition(conn, h)
        total_km = conn.execute(sa.text(
            "SELECT sum(ST_Length(geom::geography)) / 1000 FROM road_segment WHERE hromada_id = :h"), {"h": h}).scalar()
    assert sum(summary["total"].values()) == pytest.approx(total_km, abs=0.01)  # rounded to metres per class
    assert summary["total"]["3"] >= 18  # the state road alone is ≈ 18 km long and rated 3
    assert "Зарванці" in summary["villages"]
    inside_villages = sum(sum(v.values()) for k, v in summary["villages"].items() if k)
    assert 0 < inside_villages < total_km


def test_lighting_coverage_on_a_hand_built_street(demo_db):
    centre = one(demo_db, "SELECT ST_X(centre), ST_Y(centre) FROM settlement WHERE name_uk = 'Зарванці'")
    y = centre[1] + 0.003  # ≈ 330 m north of the demo streets' lamps
    x0 = centre[0] + 0.001
    x1 = x0 + 200 * METRE_LON
    with demo_db.begin() as conn:
        h = conn.execute(sa.text("SELECT id FROM hromada")).scalar()
        conn.execute(sa.text("""
            INSERT INTO road_segment (hromada_id, name, owner, geom) VALUES
              (:h, 'вул. Тестова', 'communal', ST_MakeLine(ST_Point(:x0, :y, 4326), ST_Point(:x1, :y, 4326))),
              (:h, 'пров. Темний', 'communal', ST_MakeLine(ST_Point(:x0, :y2, 4326), ST_Point(:x1, :y2, 4326)))"""),
            {"h": h, "x0": x0, "x1": x1, "y": y, "y2": y + 0.002})
        conn.execute(sa.text("""
            INSERT INTO street_lamp (hromada_id, ref, status, geom) VALUES
              (:h, 'T1', 'working', ST_Point(:xm, :y, 4326)),
              (:h, 'T2', 'faulty', ST_Point(:xm, :y2, 4326))"""),
            {"h": h, "xm": (x0 + x1) / 2, "y": y, "y2": y + 0.002})
    with demo_db.connect() as conn:
        streets = {r["street"]: r for r in lighting.lighting_coverage(conn, h, reach_m=35)}
    test = streets["вул. Тестова"]
    assert test["length_m"] == pytest.approx(200, rel=0.01)
    assert test["lit_share"] == pytest.approx(70 / 200, abs=0.01)  # 35 m either side of the lamp
    assert test["village"] == "Зарванці"
    assert streets["пров. Темний"]["lit_share"] == 0  # its only lamp is faulty


def test_every_change_of_a_segments_condition_is_kept_in_its_history(demo_db):
    segment_id = scalar(demo_db, "SELECT id FROM road_segment WHERE ref = 'M-DEMO'")
    with demo_db.connect() as conn:
        assert [(h["kind"], h["condition"]) for h in roads.inspections(conn, segment_id)] == [("inspection", "3")]
    with demo_db.begin() as conn:  # an import or an edit, not through record_inspection
        conn.execute(sa.text("UPDATE road_segment SET condition = '2', inspected_on = '2026-11-01' WHERE id = :i"),
                     {"i": segment_id})
    with demo_db.begin() as conn:
        conn.execute(sa.text("UPDATE road_segment SET lit = true WHERE id = :i"), {"i": segment_id})  # not a rating
    with demo_db.begin() as conn:
        roads.record_inspection(conn, segment_id, condition="4", pci=80, on=dt.date(2026, 11, 20), note="Огляд")
    with demo_db.connect() as conn:
        history = roads.inspections(conn, segment_id)
    assert [(h["inspected_on"], h["condition"], h["note"]) for h in history] == [
        ("2026-11-20", "4", "Огляд"), ("2026-11-01", "2", "зміна даних ділянки / segment data changed"),
        ("2026-05-12", "3", "з даних про ділянку / from the segment data")]
