"""The national synthetic data set (importers.national) at a tiny scale: three hromadas of Vinnytsia raion
beside the demo, set up as the product would, filled in proportion, everything inside its hromada,
every report routed as gis.routing routes it, and flagged synthetic."""
import math

import pytest
import sqlalchemy as sa

from gis.audit import By
from gis.routing import route_report
from gis.setup_file import apply_setup, export_setup
from importers.national import PREFIX_UK, TOTALS, generate_national
from layers.land import cadastral_number_problem
from layers.reports import NewReport, create_report
from tests.conftest import UKRAINE

SCALE = 0.0005  # 1,000 reports, 500 lamps, 250 roads, 500 parcels, 50 venues
HROMADAS = 3
OPEN = ("new", "acknowledged", "in_progress", "reopened")
LAYERS = {"street_lamp": "geom", "road_segment": "geom", "parcel": "geom", "venue": "geom", "report": "location"}
# What each count is in proportion to: people (here the area, as the file gives no population) or area.
COUNTED = {"report": "reports", "street_lamp": "lamps", "venue": "venues", "road_segment": "roads",
           "parcel": "parcels"}


@pytest.fixture
def national(demo_db):
    with demo_db.connect() as conn:
        demo_before = conn.execute(sa.text("""
            SELECT (SELECT count(*) FROM unit u JOIN hromada h ON h.id = u.hromada_id WHERE h.katottg = :k),
                   (SELECT count(*) FROM unit_category uc JOIN unit u ON u.id = uc.unit_id
                    JOIN hromada h ON h.id = u.hromada_id WHERE h.katottg = :k),
                   (SELECT count(*) FROM street_lamp), (SELECT count(*) FROM parcel)"""),
            {"k": "UA05020310000080026"}).one()
    report = generate_national(demo_db, scale=SCALE, seed=7, limit_hromadas=HROMADAS,
                               source=UKRAINE / "vinnytskyi_raion_hromadas.geojson")
    return demo_db, report, demo_before


def rows(engine, sql, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


def value(engine, sql, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def test_a_tiny_national_data_set_is_what_the_product_would_hold_and_a_second_run_adds_beside_it(national):
    engine, report, demo_before = national
    assert report.hromadas_set_up == HROMADAS and report.skipped_set_up == 1  # the demo: left alone
    for key in ("reports", "lamps", "roads", "parcels", "venues"):
        assert report.counts[key] == round(TOTALS[key] * SCALE)
    synthetic = [h for h, in rows(engine, "SELECT DISTINCT hromada_id FROM unit WHERE name_uk LIKE :p",
                                  p=f"{PREFIX_UK}:%")]
    assert len(synthetic) == HROMADAS

    # In proportion to the hromadas' weight (no population in this file: the area), to one row.
    for table, key in COUNTED.items():
        shares = rows(engine, f"""
            SELECT h.id, ST_Area(h.boundary::geography, false) AS w, count(x.id) AS n
            FROM hromada h LEFT JOIN {table} x ON x.hromada_id = h.id
            WHERE h.id = ANY(:ids) GROUP BY h.id""", ids=synthetic)
        total = sum(w for _, w, _ in shares)
        for _, w, n in shares:
            assert abs(n - report.counts[key] * w / total) <= 1, (table, n, report.counts[key] * w / total)

    # Everything inside its own hromada, and flagged.
    for table, geom in LAYERS.items():
        outside = value(engine, f"""SELECT count(*) FROM {table} x JOIN hromada h ON h.id = x.hromada_id
                                    WHERE x.hromada_id = ANY(:ids) AND NOT ST_Covers(h.boundary, x.{geom})""",
                        ids=synthetic)
        assert outside == 0, table
    for table in ("street_lamp", "road_segment", "parcel", "venue"):
        assert rows(engine, f"""SELECT DISTINCT source, is_demo, (raw ->> 'synthetic')::boolean FROM {table}
                                WHERE hromada_id = ANY(:ids)""", ids=synthetic) == [("synthetic", True, True)]
    assert value(engine, "SELECT count(*) FROM report WHERE hromada_id = ANY(:ids) AND description NOT LIKE :p",
                 ids=synthetic, p=f"{PREFIX_UK}:%") == 0
    assert value(engine, "SELECT bool_and(is_demo AND name_uk LIKE :p) FROM unit WHERE hromada_id = ANY(:ids)",
                 ids=synthetic, p=f"{PREFIX_UK}:%")

    # The demo is as it was: its set-up, and nothing synthetic in it.
    with engine.connect() as conn:
        demo = conn.execute(sa.text("SELECT id FROM hromada WHERE katottg = 'UA05020310000080026'")).scalar()
        assert conn.execute(sa.text("""
            SELECT (SELECT count(*) FROM unit WHERE hromada_id = :d),
                   (SELECT count(*) FROM unit_category uc JOIN unit u ON u.id = uc.unit_id WHERE u.hromada_id = :d)"""),
            {"d": demo}).one() == tuple(demo_before[:2])
        for table in LAYERS:
            flagged = "description LIKE 'СИНТ%'" if table == "report" else "source = 'synthetic'"
            assert conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE hromada_id = :d AND {flagged}"),
                                {"d": demo}).scalar() == 0

    # Reports: a unit of their own hromada, unique codes, counters at the last number, one open report a
    # lamp and a lamp faulty exactly while it has one, the events a report's path leaves.
    assert value(engine, "SELECT count(*) FROM report r JOIN unit u ON u.id = r.unit_id "
                         "WHERE u.hromada_id <> r.hromada_id") == 0
    assert value(engine, "SELECT count(*) - count(DISTINCT code) FROM report") == 0
    assert value(engine, """SELECT count(*) FROM report_counter c WHERE c.hromada_id = ANY(:ids) AND c.last <>
                              (SELECT count(*) FROM report r WHERE r.hromada_id = c.hromada_id
                               AND extract(year FROM r.created_at) = c.year)""", ids=synthetic) == 0
    assert value(engine, """SELECT count(*) FROM street_lamp l WHERE l.hromada_id = ANY(:ids) AND (l.status = 'faulty')
                              <> EXISTS (SELECT 1 FROM report r WHERE r.asset_id = l.id AND r.status = ANY(:open))""",
                 ids=synthetic, open=list(OPEN)) == 0
    assert value(engine, """SELECT count(*) FROM (SELECT asset_id FROM report WHERE status = ANY(:open)
                            AND asset_id IN (SELECT id FROM street_lamp) GROUP BY 1 HAVING count(*) > 1) x""",
                 open=list(OPEN)) == 0
    assert value(engine, """SELECT count(*) FROM report r WHERE r.hromada_id = ANY(:ids) AND NOT EXISTS
                              (SELECT 1 FROM report_event e WHERE e.report_id = r.id AND e.kind = 'created'
                               AND e.to_unit_id = r.unit_id)
                              OR (r.status <> 'new') <> EXISTS (SELECT 1 FROM report_event e
                                                                WHERE e.report_id = r.id AND e.to_status = r.status
                                                                AND e.kind = 'status')""", ids=synthetic) == 0
    assert value(engine, "SELECT count(*) FROM unit_notice n JOIN report r ON r.id = n.report_id "
                         "WHERE r.hromada_id = ANY(:ids)", ids=synthetic) == report.counts["reports"]

    with engine.connect() as conn:
        # Routed again by gis.routing itself: the same unit, rule, asset and reason.
        sample = conn.execute(sa.text("""
            SELECT ST_X(r.location) AS lon, ST_Y(r.location) AS lat, c.code, r.asset_id, r.unit_id, r.routing_rule,
                   r.routing_reason_uk, r.routing_reason_en
            FROM report r JOIN category c ON c.id = r.category_id WHERE r.hromada_id = ANY(:ids)
            ORDER BY r.id LIMIT 150"""), {"ids": synthetic}).all()
        assert {s.routing_rule for s in sample} == {"asset", "area", "default"}
        for s in sample:
            route = route_report(conn, s.lon, s.lat, s.code, s.asset_id)
            assert (route.unit_id, route.rule, route.asset_id, route.reason_uk, route.reason_en) == \
                (s.unit_id, s.routing_rule, s.asset_id, s.routing_reason_uk, s.routing_reason_en)

        # The set-up is the one a set-up file makes: exported and applied back, nothing changes.
        for katottg, in conn.execute(sa.text("SELECT katottg FROM hromada WHERE id = ANY(:ids)"), {"ids": synthetic}):
            assert apply_setup(conn, export_setup(conn, katottg), by=By("test"), dry_run=True).lines == []

        # A resident's next report there continues the hromada's count.
        where = conn.execute(sa.text("""
            SELECT ST_X(p), ST_Y(p), h.id FROM hromada h, ST_PointOnSurface(h.boundary) p WHERE h.id = :h"""),
            {"h": synthetic[0]}).one()
        last = conn.execute(sa.text("SELECT last FROM report_counter WHERE hromada_id = :h "
                                    "AND year = extract(year FROM now())"), {"h": where[2]}).scalar() or 0
        answer = create_report(conn, NewReport(lon=where[0], lat=where[1], category="water_leak",
                                               description="Тече труба"), public_url="http://test")
        assert answer["code"].endswith(f"-{last + 1:06d}")
        conn.rollback()

    # Valid, unique cadastral numbers.
    numbers = [n for n, in rows(engine, "SELECT cadastral_number FROM parcel WHERE hromada_id = ANY(:ids)",
                                ids=synthetic)]
    assert len(numbers) == len(set(numbers)) == report.counts["parcels"]
    assert [n for n in numbers if cadastral_number_problem(n)] == []

    # The history triggers are on again, and no generated feature has a version.
    assert value(engine, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%\\_version\\_insert' "
                         "AND tgenabled <> 'O'") == 0
    assert value(engine, "SELECT count(*) FROM feature_version WHERE layer = 'street_lamps' AND feature_id IN "
                         "(SELECT id FROM street_lamp WHERE source = 'synthetic')") == 0


    # A second run leaves the hromadas set up by now alone: the next three of the file, not these again.
    before = value(engine, "SELECT count(*) FROM report")
    again = generate_national(engine, scale=SCALE, seed=7, limit_hromadas=HROMADAS,
                              source=UKRAINE / "vinnytskyi_raion_hromadas.geojson")
    assert again.hromadas_set_up == HROMADAS and again.skipped_set_up == HROMADAS + 1
    assert value(engine, "SELECT count(*) FROM report") == before + again.counts["reports"]


def test_a_region_copied_into_another_database_answers_as_the_whole(national, session_databases):
    """importers.national.copy_hromadas, as bench/bench_national.py makes its region: two of the generated
    hromadas copied into a fresh copy of the demo hold the same rows, and a tile or a layer API box over
    them gives the same bytes as on the database holding all; the copy's next ids follow the source's."""
    from sqlalchemy.engine import make_url

    from gis import db
    from importers.national import ROWS_OF_HROMADAS, copy_hromadas
    from layers.registry import get_layer
    from layers.tiles import tile

    engine = national[0]
    codes = [k for k, in rows(engine, "SELECT h.katottg FROM hromada h JOIN unit u ON u.hromada_id = h.id "
                                      "WHERE u.name_uk LIKE :p GROUP BY 1 ORDER BY 1 LIMIT 2", p=f"{PREFIX_UK}:%")]
    name = f"{session_databases.name}_region"
    session_databases._copy(session_databases.demo, name)
    region = db.make_engine(make_url(session_databases.url).set(database=name).render_as_string(hide_password=False))
    try:
        copied = copy_hromadas(engine, region, codes)
        ids = [i for i, in rows(engine, "SELECT id FROM hromada WHERE katottg = ANY(:k)", k=codes)]
        array = "'{" + ",".join(map(str, ids)) + "}'::int[]"
        for table, where in ROWS_OF_HROMADAS:
            # Every column the copy wrote, generated ones included (computed again on arrival), as text.
            sql = f'SELECT t::text FROM "{table}" t WHERE {where.format(ids=array)} ORDER BY 1'
            assert rows(region, sql) == rows(engine, sql), table
            assert copied[table] == len(rows(engine, sql)), table
        assert copied["report"] > 0 and copied["street_lamp"] > 0 and copied["report_event"] > copied["report"]
        # What the database derives on insert: the assets, and the tiles' clusters and features.
        sql = "SELECT a::text FROM asset a WHERE hromada_id = ANY(:ids) ORDER BY 1"
        assert rows(region, sql, ids=ids) == rows(engine, sql, ids=ids)
        lon, lat = rows(engine, "SELECT ST_X(p), ST_Y(p) FROM hromada, ST_PointOnSurface(boundary) p "
                                "WHERE id = :h", h=ids[0])[0]
        # Zooms 12 and 13 (a lower zoom's tile also holds the demo's and the third hromada's clusters).
        seen = 0
        for z in (12, 13):
            n = 2 ** z
            x, y = int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
            for layer in ("street_lamps", "road_segments", "parcels", "reports", "venues"):
                with engine.connect() as a, region.connect() as b:
                    whole, part = tile(a, get_layer(layer), z, x, y), tile(b, get_layer(layer), z, x, y)
                assert whole == part, (layer, z)
                seen += bool(whole)
        assert seen >= 6
        for sequence in ("report_id_seq", "asset_id_seq"):
            sql = f"SELECT last_value FROM {sequence}"
            assert value(region, sql) >= value(engine, sql)
    finally:
        region.dispose()
        session_databases._execute("DROP DATABASE {} WITH (FORCE)", name)
