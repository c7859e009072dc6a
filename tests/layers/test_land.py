"""Land inventory (issue #8): cadastral numbers, area in the metric CRS, QA checks, progress, demo."""
import json

import pytest
import sqlalchemy as sa
from pyproj import Transformer

from importers.pipeline import ImportOptions, import_file
from layers import land, land_qa
from layers.registry import get_layer
from layers.values import BadValue, convert

SRID = 6383  # UCS-2000 / Ukraine TM zone 9 (27°E): the hromada's zone at 28.3°E
CENTRE = (28.3, 49.3)
to_metric = Transformer.from_crs("EPSG:4326", f"EPSG:{SRID}", always_xy=True)
X0, Y0 = (round(v) for v in to_metric.transform(*CENTRE))
HALF = 2000  # the test hromada: a 4 × 4 km square round CENTRE


@pytest.mark.parametrize("number", ["0520688600:01:001:0001", "0510100000:02:045:0123", "8000000000:90:123:0012",
                                    "4610136300:01:015:0007", "0520684203:03:002:0009"])
def test_good_cadastral_numbers_pass(number):
    assert land.cadastral_number_problem(number) is None
    assert convert(get_layer("parcels").field("cadastral_number"), f"  {number} ") == number


@pytest.mark.parametrize("number, why", [
    ("0520688600:01:001", "KOATUU(10):zone(2):quarter(3):parcel(4)"),
    ("052068860:01:001:0001", "KOATUU(10)"),
    ("0520688600-01-001-0001", "KOATUU(10)"),
    ("0520688600:1:001:0001", "KOATUU(10)"),
    ("0520688600:01:001:00001", "KOATUU(10)"),
    ("9920688600:01:001:0001", "oblast code"),
    ("0550688600:01:001:0001", "third KOATUU digit"),
    ("0520688600:01:001:0000", "numbered from 0001"),
    ("0520688600:01:0O1:0001", "KOATUU(10)"),
])
def test_bad_cadastral_numbers_are_refused_with_the_reason_in_both_languages(number, why):
    problem = land.cadastral_number_problem(number)
    assert problem is not None and why in problem["en"] and "кадастровий номер" in problem["uk"]
    with pytest.raises(BadValue, match="кадастровий номер.* / cadastral number"):
        convert(get_layer("parcels").field("cadastral_number"), number)


def test_purpose_codes_and_legal_entity_names():
    assert land.purpose_code_problem("02.01") is None and land.purpose_code_problem("14.02") is None
    assert all(land.purpose_code_problem(code) for code in ("2.01", "02,01", "20.01"))
    assert land.purpose_label("02.01", "en").startswith("02.01 — a house")
    assert land.entity_name_problem("ТОВ «Поділля-Агро»") is None
    assert land.entity_name_problem("Якушинецька сільська рада") is None
    assert land.entity_name_problem("ФГ «Колос»") is None
    assert land.entity_name_problem("Іваненко Петро Олексійович") is not None


# --- a constructed hromada with parcels drawn in metres --------------------------------------------

def _rect(x0, y0, x1, y1) -> str:
    """A rectangle given in metres east/north of the test centre, as SQL (EPSG:4326 MultiPolygon)."""
    return f"ST_Multi(ST_Transform(ST_MakeEnvelope({X0 + x0}, {Y0 + y0}, {X0 + x1}, {Y0 + y1}, {SRID}), 4326))"


def _insert(conn, number, rect_sql, status="done", declared=None, **extra):
    columns = {"cadastral_number": number, "inventory_status": status, "area_declared_ha": declared, **extra}
    names = ", ".join(columns)
    values = ", ".join(f":{k}" for k in columns)
    return conn.execute(sa.text(f"INSERT INTO parcel (hromada_id, {names}, geom) "
                                f"SELECT id, {values}, {rect_sql} FROM hromada RETURNING id"), columns).scalar_one()


@pytest.fixture
def land_case(clean_db):
    """A square hromada with one village, and parcels with exactly one problem of each kind.

    Block 001 (village): a 3 × 3 grid of 100 × 50 m plots without the middle one → a 5,000 m² gap.
    Block 002: two plots overlapping by 10 × 50 m = 500 m². Block 003: a plot on the east boundary,
    half (100 × 50 m = 5,000 m²) outside. Block 004: two plots with one number.
    """
    with clean_db.begin() as conn:
        conn.execute(sa.text(f"""
            INSERT INTO hromada (katottg, name_uk, boundary)
            VALUES ('UA05020310000080026', 'Тестова', {_rect(-HALF, -HALF, HALF, HALF)})"""))
        conn.execute(sa.text("""INSERT INTO hromada_part (hromada_id, hromada_area, geom)
                                SELECT id, 1, ST_Subdivide(boundary, 256) FROM hromada"""))
        conn.execute(sa.text(f"""
            INSERT INTO settlement (hromada_id, name_uk, boundary)
            SELECT id, 'Село', {_rect(-1000, -1000, 1000, 1000)} FROM hromada"""))
        ids = {}
        for i in range(9):
            if i == 4:
                continue
            col, row = i % 3, i // 3
            ids[f"grid{i}"] = _insert(conn, f"0520688600:01:001:{i + 1:04d}",
                                      _rect(col * 100, row * 50, col * 100 + 100, row * 50 + 50),
                                      status="done" if i < 6 else "in_progress", declared=0.5)
        ids["over_a"] = _insert(conn, "0520688600:01:002:0001", _rect(-500, -500, -400, -450), "not_inventoried")
        ids["over_b"] = _insert(conn, "0520688600:01:002:0002", _rect(-410, -500, -310, -450), "not_inventoried")
        ids["edge"] = _insert(conn, "0520688600:50:003:0001", _rect(HALF - 50, 0, HALF + 50, 100), "mismatch")
        ids["dup_a"] = _insert(conn, "0520688600:50:004:0001", _rect(1500, -1500, 1600, -1450), "done")
        ids["dup_b"] = _insert(conn, "0520688600:50:004:0001", _rect(1500, -1700, 1600, -1650), "in_progress")
    return clean_db, ids


def test_area_is_computed_in_the_metric_crs_and_checked_against_the_declared_one(land_case):
    engine, ids = land_case
    with engine.begin() as conn:
        # 100 × 50 m = 0.5 ha by hand; in Web Mercator it would be ≈ 2.3 times more at 49° N.
        computed = conn.execute(sa.text("SELECT area_computed_ha FROM parcel WHERE id = :i"),
                                {"i": ids["grid0"]}).scalar()
        assert computed == pytest.approx(0.5, abs=1e-6)

        def declare(ha):
            conn.execute(sa.text("UPDATE parcel SET area_declared_ha = :a WHERE id = :i"), {"a": ha, "i": ids["grid0"]})
            return conn.execute(sa.text("SELECT area_mismatch, area_difference_ha FROM parcel WHERE id = :i"),
                                {"i": ids["grid0"]}).one()

        assert declare(0.5) == (False, 0.0)
        assert declare(0.5045) == (False, 0.0045)  # 45 m²: under 1 % of 5,000 m²
        assert declare(0.52)[0] is True  # 200 m²: 4 %
        assert declare(0.4940)[0] is True  # −60 m²
        # A small plot: 10 m² is the floor of the tolerance (1 % of 400 m² would be 4 m²).
        small = _insert(conn, "0520688600:01:009:0001", _rect(600, 600, 620, 620), declared=0.0408)  # +8 m²
        assert conn.execute(sa.text("SELECT area_mismatch FROM parcel WHERE id = :i"), {"i": small}).scalar() is False
        conn.execute(sa.text("UPDATE parcel SET area_declared_ha = 0.0412 WHERE id = :i"), {"i": small})  # +12 m²
        assert conn.execute(sa.text("SELECT area_mismatch FROM parcel WHERE id = :i"), {"i": small}).scalar() is True
        # Moving the polygon recomputes the area (the trigger), whoever writes it.
        conn.execute(sa.text(f"UPDATE parcel SET geom = {_rect(600, 600, 640, 620)}, area_computed_ha = 99 "
                             "WHERE id = :i"), {"i": small})
        assert conn.execute(sa.text("SELECT area_computed_ha FROM parcel WHERE id = :i"),
                            {"i": small}).scalar() == pytest.approx(0.08, abs=1e-6)


def test_cadastral_parts_are_generated_and_the_database_refuses_a_bad_number(land_case):
    engine, ids = land_case
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT koatuu, cadastral_zone, cadastral_quarter, parcel_no FROM parcel "
                                   "WHERE id = :i"), {"i": ids["grid3"]}).one()
        assert tuple(row) == ("0520688600", "01", "001", "0004")
    with pytest.raises(sa.exc.IntegrityError, match="cadastral_number_format"), engine.begin() as conn:
        _insert(conn, "0520688600:01:001", _rect(0, 0, 1, 1))


def test_qa_finds_the_overlap_the_boundary_crossing_the_gap_and_the_duplicate(land_case):
    engine, ids = land_case
    with engine.connect() as conn:
        h = conn.execute(sa.text("SELECT id FROM hromada")).scalar()
        found = land_qa.problems(conn, h)
    by_kind = {k: [p for p in found if p["kind"] == k] for k in land_qa.KINDS}
    assert land_qa.summary(found) == {"overlap": 1, "outside": 1, "gap": 1, "duplicate": 1, "area": 0}

    overlap = by_kind["overlap"][0]
    assert {p["id"] for p in overlap["parcels"]} == {ids["over_a"], ids["over_b"]}
    assert overlap["area_m2"] == pytest.approx(500, abs=0.5)
    outside = by_kind["outside"][0]
    # ±5 m²: the 4 km boundary edge is straight in degrees, so it bows a few cm off the metric line.
    assert [p["id"] for p in outside["parcels"]] == [ids["edge"]] and outside["area_m2"] == pytest.approx(5000, abs=5)
    gap = by_kind["gap"][0]
    assert gap["block"] == "0520688600:01:001" and gap["area_m2"] == pytest.approx(5000, abs=1)
    assert {p["id"] for p in gap["parcels"]} == {ids[f"grid{i}"] for i in (0, 1, 2, 3, 5, 6, 7, 8)}
    assert gap["geometry"]["type"] in ("Polygon", "MultiPolygon")
    duplicate = by_kind["duplicate"][0]
    assert [p["id"] for p in duplicate["parcels"]] == [ids["dup_a"], ids["dup_b"]]

    # Filling the gap with a parcel of the block, and moving the overlap apart, clears them.
    with engine.begin() as conn:
        _insert(conn, "0520688600:01:001:0005", _rect(100, 50, 200, 100))
        conn.execute(sa.text(f"UPDATE parcel SET geom = {_rect(-400, -500, -300, -450)} WHERE id = :i"),
                     {"i": ids["over_b"]})
        assert land_qa.summary(land_qa.problems(conn, h))["gap"] == 0
        assert land_qa.summary(land_qa.problems(conn, h))["overlap"] == 0

    text = land_qa.as_csv(found, "en")
    assert "parcels overlap" in text and "0520688600:50:004:0001; 0520688600:50:004:0001" in text
    collection = land_qa.as_geojson(found, "uk")
    assert len(collection["features"]) == 4
    assert json.dumps(collection, ensure_ascii=False).count("прогалина всередині кварталу") == 1


def test_a_gap_below_the_tolerance_is_not_reported(clean_db):
    with clean_db.begin() as conn:
        conn.execute(sa.text(f"INSERT INTO hromada (katottg, name_uk, boundary) "
                             f"VALUES ('UA05020310000080026', 'Т', {_rect(-HALF, -HALF, HALF, HALF)})"))
        # Two plots 0.1 m apart, closed by a third on each side: a 0.1 × 50 m = 5 m² sliver hole…
        _insert(conn, "0520688600:01:001:0001", _rect(0, 0, 100, 50))
        _insert(conn, "0520688600:01:001:0002", _rect(100.1, 0, 200, 50))
        _insert(conn, "0520688600:01:001:0003", _rect(0, 50, 200, 100))
        _insert(conn, "0520688600:01:001:0004", _rect(0, -50, 200, 0))
        h = conn.execute(sa.text("SELECT id FROM hromada")).scalar()
        gaps = [p for p in land_qa.problems(conn, h) if p["kind"] == "gap"]
        assert len(gaps) == 1 and gaps[0]["area_m2"] == pytest.approx(5, abs=0.1)
        conn.execute(sa.text("UPDATE parcel SET geom = " + _rect(100.01, 0, 200, 50) +
                             " WHERE cadastral_number = '0520688600:01:001:0002'"))  # 0.5 m²
        assert [p for p in land_qa.problems(conn, h) if p["kind"] == "gap"] == []


def test_inventory_progress_per_village_and_for_the_hromada(land_case):
    engine, _ = land_case
    with engine.connect() as conn:
        h = conn.execute(sa.text("SELECT id FROM hromada")).scalar()
        progress = land.inventory_progress(conn, h)
    village = progress["villages"]["Село"]
    # The village: 8 grid plots of 0.5 ha, 5 done (0–3 and 5); the two overlapping plots lie in it too.
    assert village["parcels"] == 10 and village["parcels_done"] == 5
    assert village["share_parcels_done"] == pytest.approx(0.5)
    assert village["area_ha"] == pytest.approx(5.0, abs=1e-4)
    assert village["share_area_done"] == pytest.approx(2.5 / 5.0, abs=1e-6)
    outside = progress["villages"][""]
    assert outside["parcels"] == 3 and outside["parcels_done"] == 1
    total = progress["total"]
    # Whole hromada: 13 parcels, 6 done; area 5 + 1 (edge, 100 × 100 m) + 0.5 + 0.5 ha, done 2.5 + 0.5 ha.
    assert total["parcels"] == 13 and total["parcels_done"] == 6
    assert total["share_parcels_done"] == pytest.approx(6 / 13)
    assert total["share_area_done"] == pytest.approx(3.0 / 7.0, abs=1e-6)
    assert total["by_status"]["mismatch"]["parcels"] == 1
    assert sum(s["parcels"] for s in total["by_status"].values()) == 13


def test_import_rejects_bad_numbers_with_the_reason_per_row(land_case, tmp_path):
    engine, _ = land_case
    to_wgs = Transformer.from_crs(f"EPSG:{SRID}", "EPSG:4326", always_xy=True)

    def square(x, y):
        corners = ((x, y), (x + 50, y), (x + 50, y + 50), (x, y + 50), (x, y))
        ring = [to_wgs.transform(X0 + a, Y0 + b) for a, b in corners]
        return {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}

    rows = [("0520688600:07:001:0001", "02.01", "Іваненко Іван", None),
            ("0520688600:07:001", "02.01", None, None),
            ("9920688600:07:001:0003", "02.01", None, None),
            ("0520688600:07:001:0004", "2.1", None, None),
            ("0520688600:07:001:0005", "01.01", None, "Петренко Петро"),
            ("0520688600:07:001:0006", "01.01", None, "ТОВ «Нива»")]
    path = tmp_path / "parcels.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": square(-1500 + 60 * i, 1500),
         "properties": {"кадастровий номер": n, "квцпз": p, "власник": person, "юридична особа": entity,
                        "статус": "інвентаризовано", "площа": "0,25"}}
        for i, (n, p, person, entity) in enumerate(rows)]}, ensure_ascii=False))
    report = import_file(engine, get_layer("parcels"), path, ImportOptions(progress=False))
    assert (report.read, report.accepted, report.rejected) == (6, 2, 4)
    reasons = dict(report.rejections)
    assert "KOATUU(10):zone(2):quarter(3):parcel(4)" in reasons[2] and "кадастровий номер" in reasons[2]
    assert "oblast code" in reasons[3]
    assert "purpose code" in reasons[4]
    assert "legal entity" in reasons[5]
    with engine.connect() as conn:
        got = conn.execute(sa.text("SELECT cadastral_number, holder_person, area_computed_ha, katottg "
                                   "FROM parcel WHERE cadastral_zone = '07' ORDER BY 1")).all()
    assert [r[0] for r in got] == ["0520688600:07:001:0001", "0520688600:07:001:0006"]
    # The hromada was found for it, so the trigger filled in its KATOTTG; 50 × 50 m = 0.25 ha.
    assert got[0][1] == "Іваненко Іван" and got[0][2] == pytest.approx(0.25, abs=1e-5)
    assert got[0][3] == "UA05020310000080026"


def test_demo_land_is_about_70_percent_done_has_each_problem_and_loads_once(demo_db):
    from importers.demo import load_demo

    with demo_db.connect() as conn:
        h = conn.execute(sa.text("SELECT id FROM hromada")).scalar()
        count = conn.execute(sa.text("SELECT count(*) FROM parcel WHERE is_demo")).scalar()
        progress = land.inventory_progress(conn, h)
        found = land_qa.summary(land_qa.problems(conn, h))
    assert count > 200
    assert 0.65 <= progress["total"]["share_parcels_done"] <= 0.75
    assert 0.6 <= progress["total"]["share_area_done"] <= 0.8
    assert found["overlap"] >= 1 and found["outside"] == 1 and found["gap"] == 1 and found["duplicate"] == 1
    assert found["area"] == 3
    assert progress["villages"]["Якушинці"]["parcels"] == 17
    load_demo(demo_db)
    with demo_db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM parcel WHERE is_demo")).scalar() == count
