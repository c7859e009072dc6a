"""The demo community: real boundary and villages, units, categories; loading twice changes nothing."""
import sqlalchemy as sa

from importers.demo import UNITS, load_demo
from tests.conftest import SHARED_DATA


def rows(engine, sql):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).all()


def test_demo_loads_the_community_with_units_and_districts(demo_db):
    assert rows(demo_db, "SELECT katottg, name_uk FROM hromada") == [
        ("UA05020310000080026", "Якушинецька сільська громада")]
    assert rows(demo_db, "SELECT count(*) FROM settlement")[0][0] == 14
    assert rows(demo_db, "SELECT count(*) FROM unit")[0][0] == len(UNITS)
    districts = rows(demo_db, """SELECT code, ST_Area(service_area::geography) / 1e6 FROM unit
                                 WHERE kind = 'starosta_district' ORDER BY code""")
    assert len(districts) == 5 and all(km2 > 1 for _, km2 in districts)
    # Districts lie within the hromada and do not overlap each other.
    assert rows(demo_db, """SELECT bool_and(ST_CoveredBy(u.service_area, ST_Buffer(h.boundary, 1e-9)))
                            FROM unit u, hromada h WHERE u.service_area IS NOT NULL""")[0][0]
    assert rows(demo_db, """SELECT count(*) FROM unit a JOIN unit b ON a.id < b.id
                            WHERE ST_Area(ST_Intersection(a.service_area, b.service_area)::geography) > 1""")[0][0] == 0
    handled = dict(rows(demo_db, """SELECT c.code, count(*) FROM unit_category uc
                                    JOIN category c ON c.id = uc.category_id GROUP BY c.code"""))
    assert handled["street_light_out"] == 1 and handled["pothole"] == 1
    assert handled["overflowing_bin"] == 6  # the hromada-wide default and five districts
    assert rows(demo_db, "SELECT bool_and(is_demo) FROM unit")[0][0]


def test_demo_reload_writes_nothing(demo_db):
    snapshot = "SELECT string_agg(xmin::text, ',' ORDER BY 1) FROM {}"
    tables = ["hromada", "settlement", "unit", "unit_category", "category"]
    before = {t: rows(demo_db, snapshot.format(t))[0][0] for t in tables}
    reports = load_demo(demo_db, SHARED_DATA)
    assert all(r.inserted == 0 and r.updated == 0 for r in reports)
    assert {t: rows(demo_db, snapshot.format(t))[0][0] for t in tables} == before
