"""An import's history (#20): the new features of an import are one feature_insert_batch row, not a
version each (migration 0039, layers.history.inserts_in_bulk), yet each reads as version 1 naming who
imported it, when and from which file; every later change, an upsert's included, keeps it."""
from __future__ import annotations

import json

import sqlalchemy as sa

from gis.users import create_user
from importers.pipeline import ImportOptions, import_file
from layers import history
from layers.registry import get_layer
from tests.helpers import demo_hromada_id, inside, scalar

LAMPS = get_layer("street_lamps")


def lamps_file(path, lon, lat, lamps: dict[str, str]):
    """A GeoJSON file of lamps ``ref → status``, a few metres apart."""
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon + i * 0.0001, lat]},
         "properties": {"ref": ref, "status": status}} for i, (ref, status) in enumerate(lamps.items())]}),
        encoding="utf-8")
    return path


def account(engine, email: str, name: str) -> int:
    with engine.begin() as conn:
        return create_user(conn, email, None, ["admin"], hromada_id=demo_hromada_id(engine), full_name=name)


def lamp(engine, ref: str) -> int:
    return scalar(engine, "SELECT id FROM street_lamp WHERE ref = :r", r=ref)


def clock(engine):
    return scalar(engine, "SELECT clock_timestamp()")


def test_an_imported_feature_is_version_1_naming_the_importer_without_a_version_row_each(demo_db, tmp_path):
    importer = account(demo_db, "import@example.org", "Оксана Імпорт")
    lon, lat = inside(demo_db, "Якушинці")
    path = lamps_file(tmp_path / "lamps.geojson", lon, lat, {"B-1": "working", "B-2": "faulty", "B-3": "working"})
    versions_before = scalar(demo_db, "SELECT count(*) FROM feature_version")
    before = clock(demo_db)
    report = import_file(demo_db, LAMPS, path, ImportOptions(user_id=importer))
    after = clock(demo_db)
    assert report.inserted == 3
    # No version row per feature: one batch row for the import's three.
    assert scalar(demo_db, "SELECT count(*) FROM feature_version") == versions_before
    assert scalar(demo_db, "SELECT count(*) FROM feature_insert_batch") == 1
    ids = [lamp(demo_db, ref) for ref in ("B-1", "B-2", "B-3")]
    with demo_db.connect() as conn:
        for feature_id in ids:
            (only,) = history.versions(conn, LAMPS, feature_id)
            assert (only["version"], only["op"], only["user_id"], only["user_label"], only["reason"]) == (
                1, "insert", importer, "Оксана Імпорт", "імпорт файлу lamps.geojson / import of lamps.geojson")
            assert only["cause"] == f"import:{report.run_id}" and before < only["valid_from"] < after
            assert only["row"]["ref"] == scalar(demo_db, "SELECT ref FROM street_lamp WHERE id = :i", i=feature_id)
        shown = history.history_for(conn, LAMPS, ids[1], history.FULL, "en")["versions"]
        assert [(v["version"], v["op"], v["user_label"], v["properties"]["status"]) for v in shown] == [
            (1, "insert", "Оксана Імпорт", "faulty")]
        assert history.as_of(conn, LAMPS, ids[1], before) is None  # not there yet
        assert history.as_of(conn, LAMPS, ids[1], after)["user_id"] == importer
        assert history.diff(conn, LAMPS, ids[1], 1, 1)["changes"] == {}
    run = scalar(demo_db, "SELECT report FROM import_run WHERE id = :i", i=report.run_id)
    assert (run["inserted"], run["source"]) == (3, "lamps.geojson")  # the run the cause names


def test_a_later_edit_keeps_the_imported_version_as_the_previous_one(demo_db, tmp_path):
    importer = account(demo_db, "import@example.org", "Оксана Імпорт")
    editor = account(demo_db, "lights@example.org", "Іван Ліхтаренко")
    lon, lat = inside(demo_db, "Якушинці")
    report = import_file(demo_db, LAMPS, lamps_file(tmp_path / "lamps.geojson", lon, lat,
                                                    {"E-1": "working", "E-2": "working"}),
                         ImportOptions(user_id=importer))
    first, second = lamp(demo_db, "E-1"), lamp(demo_db, "E-2")
    with demo_db.connect() as conn:
        imported = history.versions(conn, LAMPS, first)[0]
    with demo_db.begin() as conn, history.acting(conn, editor, None, "нічний обхід"):
        conn.execute(sa.text("UPDATE street_lamp SET status = 'faulty' WHERE id = :i"), {"i": first})
        conn.execute(sa.text("DELETE FROM street_lamp WHERE id = :i"), {"i": second})
    with demo_db.connect() as conn:
        edited, kept = history.versions(conn, LAMPS, first)
        deleted, kept_too = history.versions(conn, LAMPS, second)
        assert history.diff(conn, LAMPS, first, 1, 2)["changes"]["status"] == {"before": "working", "after": "faulty"}
    assert (edited["version"], edited["changed"], edited["user_id"]) == (2, ["status"], editor)
    # Version 1 is now stored, as the readers showed it before: the importer, the run, the time, the old row.
    assert (kept["version"], kept["op"], kept["user_id"], kept["user_label"], kept["cause"]) == (
        1, "insert", importer, "Оксана Імпорт", f"import:{report.run_id}")
    assert kept["valid_from"] == imported["valid_from"] and kept["valid_to"] == edited["valid_from"]
    assert kept["row"]["status"] == "working" and kept["row"] == {**imported["row"], "status": "working"}
    assert (deleted["op"], kept_too["op"], kept_too["user_id"]) == ("delete", "insert", importer)
    with demo_db.begin() as conn:  # and the imported version can be brought back
        history.revert(conn, LAMPS, first, 1, history.Author(editor), roles={"admin"})
    assert scalar(demo_db, "SELECT status FROM street_lamp WHERE id = :i", i=first) == "working"


def test_a_reimport_updating_a_feature_keeps_its_old_version(demo_db, tmp_path):
    first_importer = account(demo_db, "import@example.org", "Оксана Імпорт")
    second_importer = account(demo_db, "survey@example.org", "Петро Обстеження")
    lon, lat = inside(demo_db, "Якушинці")
    (tmp_path / "then").mkdir()
    (tmp_path / "now").mkdir()
    first = import_file(demo_db, LAMPS, lamps_file(tmp_path / "then" / "lamps.geojson", lon, lat,
                                                   {"R-1": "working", "R-2": "working"}),
                        ImportOptions(user_id=first_importer))
    # The survey: R-1 is faulty now, R-2 as it was (only imported_at changes: no version), R-3 is new.
    second = import_file(demo_db, LAMPS, lamps_file(tmp_path / "now" / "lamps.geojson", lon, lat,
                                                    {"R-1": "faulty", "R-2": "working", "R-3": "working"}),
                         ImportOptions(user_id=second_importer, upsert_key="ref"))
    assert (second.inserted, second.updated) == (1, 2)
    with demo_db.connect() as conn:
        updated, old = history.versions(conn, LAMPS, lamp(demo_db, "R-1"))
        (unchanged,) = history.versions(conn, LAMPS, lamp(demo_db, "R-2"))
        (new,) = history.versions(conn, LAMPS, lamp(demo_db, "R-3"))
    assert (updated["version"], set(updated["changed"]), updated["user_id"], updated["cause"]) == (
        2, {"status", "imported_at"}, second_importer, f"import:{second.run_id}")
    assert (old["version"], old["row"]["status"], old["user_id"], old["cause"]) == (
        1, "working", first_importer, f"import:{first.run_id}")
    # Re-imported unchanged, R-2 still names the import that brought it (not the one that found it again).
    assert (unchanged["user_id"], unchanged["cause"]) == (first_importer, f"import:{first.run_id}")
    assert (new["version"], new["op"], new["user_id"], new["cause"]) == (
        1, "insert", second_importer, f"import:{second.run_id}")


def test_an_import_in_progress_holds_no_lock_against_editing_the_layer(demo_db, tmp_path):
    """The history's switch for the import is a setting of its own transaction, not ALTER TABLE … DISABLE
    TRIGGER, whose lock would hold every edit of the layer (a form, a report moving a lamp) until the
    import commits."""
    other = scalar(demo_db, "SELECT id FROM street_lamp WHERE hromada_id = :h ORDER BY id LIMIT 1",
                   h=demo_hromada_id(demo_db))
    edits = []

    def edit_meanwhile(batch):
        if edits == []:  # the second batch: the first is in the COPY by now
            edits.append(None)
            return batch
        with demo_db.begin() as conn:
            conn.execute(sa.text("SET LOCAL lock_timeout = '3s'"))
            edits.append(conn.execute(sa.text("UPDATE street_lamp SET status = 'faulty' WHERE id = :i"),
                                      {"i": other}).rowcount)
        return batch

    lon, lat = inside(demo_db, "Якушинці")
    report = import_file(demo_db, LAMPS, lamps_file(tmp_path / "lamps.geojson", lon, lat,
                                                    {"L-1": "working", "L-2": "working"}),
                         ImportOptions(batch_size=1, prepare=edit_meanwhile))
    assert report.inserted == 2 and edits == [None, 1]
    with demo_db.connect() as conn:
        assert history.versions(conn, LAMPS, other)[0]["changed"] == ["status"]  # recorded as any edit


def test_a_versionless_edit_of_a_freshly_imported_value_is_flagged_for_review(demo_db, tmp_path):
    """The review of versionless edits reads who set a value from the history: the importer's version 1,
    stored at the first change from the import's batch, still names the importer — so the importer's
    own edit is not flagged, a colleague's is."""
    from layers import editing

    importer = account(demo_db, "import@example.org", "Оксана Імпорт")
    colleague = account(demo_db, "lights@example.org", "Іван Ліхтаренко")
    lon, lat = inside(demo_db, "Якушинці")
    import_file(demo_db, LAMPS, lamps_file(tmp_path / "lamps.geojson", lon, lat, {"V-1": "faulty", "V-2": "faulty"}),
                ImportOptions(user_id=importer))
    edited = {}
    for ref, who in (("V-1", importer), ("V-2", colleague)):
        with demo_db.begin() as conn:
            edited[ref] = editing.update_feature(
                conn, LAMPS, editing.Editor(who, {demo_hromada_id(demo_db): frozenset({"admin"})}, None),
                lamp(demo_db, ref), expected_version=None, properties={"status": "working"})
    assert (edited["V-1"].version, edited["V-1"].needs_review) == (2, False)  # the importer's own value
    assert (edited["V-2"].version, edited["V-2"].needs_review, edited["V-2"].review_fields) == (2, True, ("status",))
