"""The one feature reader (layers.query.read_features): the SQL compiled once per query shape and run on
the driver gives exactly what the statement SQLAlchemy builds on each call gives, and the serialiser
splices PostGIS's GeoJSON into the answer as the decoded geometry would be written."""
import datetime as dt
import decimal
import json

import orjson
import pytest
import sqlalchemy as sa

from gis.jsonvalues import RawJSON, dumpb, dumps, jsonable
from layers import query
from layers.registry import get_layer
from tests.helpers import demo_hromada_id

AROUND_DEMO = (28.0, 49.0, 29.0, 49.6)
# Dates and times, money, JSON, floats, choices, public and non-public rows.
LAYERS = ["reports", "street_lamps", "reconstruction_projects", "venues", "settlements", "units", "road_segments",
          "communal_property", "plans"]


def both_ways(conn, layer, **kwargs):
    """The compiled path (the filters alone), and the SQLAlchemy-built one (an extra condition that
    changes nothing sends the read there)."""
    fast = query.read_features(conn, layer, **kwargs)
    built = query.read_features(conn, layer, conditions=[sa.true()], **kwargs)
    return fast, built


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("staff", [False, True])
def test_the_compiled_read_gives_what_the_built_one_gives(demo_db, name, staff):
    layer = get_layer(name)
    roles = frozenset({"admin"}) if staff else frozenset()
    with demo_db.connect() as conn:
        for kwargs in ({"bbox": AROUND_DEMO}, {"hromada_id": demo_hromada_id(demo_db)}, {},
                       {"bbox": AROUND_DEMO, "page": query.Page(3, 2)}, {"out_srid": 4326},
                       {"bbox": (3_000_000, 6_200_000, 3_300_000, 6_400_000), "bbox_srid": 3857},
                       {"simplify": 0.001}):
            (fast, fast_matched, fast_rows), (built, built_matched, built_rows) = both_ways(
                conn, layer, staff=staff, roles=roles, **kwargs)
            assert fast_matched == built_matched, kwargs
            assert fast == built, kwargs
            assert [dict(r) for r in fast_rows] == [dict(r) for r in built_rows], kwargs
            # Geometries as PostGIS wrote them, spliced into the JSON: the same document.
            raw, _, _ = query.read_features(conn, layer, staff=staff, roles=roles, raw_geometry=True, **kwargs)
            assert all(isinstance(f["geometry"], RawJSON) for f in raw if f["geometry"] is not None)
            assert orjson.loads(dumpb(raw)) == json.loads(json.dumps(fast))
            assert raw == fast  # RawJSON compares as its value


def test_the_features_of_some_layers_are_read_at_all(demo_db):
    with demo_db.connect() as conn:
        counts = {name: query.read_features(conn, get_layer(name), bbox=AROUND_DEMO)[1] for name in LAYERS}
    assert all(counts[n] > 0 for n in ("street_lamps", "settlements", "venues", "reconstruction_projects")), counts


def test_a_page_past_the_end_still_counts_and_one_feature_by_id(demo_db):
    layer = get_layer("settlements")
    with demo_db.connect() as conn:
        items, matched, rows = query.read_features(conn, layer, page=query.Page(10, 10_000))
        assert items == [] and matched > 0 and len(rows) == 0
        first = query.read_features(conn, layer, page=query.Page(1, 0))[0][0]
        doc, row = query.read_feature(conn, layer, first["id"])
        assert doc == first and row["_id"] == first["id"] and row["_geometry"]
        assert query.read_feature(conn, layer, 10**9) == (None, None)
        empty, none = query.features(conn, layer, bbox=(0.0, 0.0, 0.1, 0.1))
        assert empty == [] and none == 0


def test_a_box_over_points_holds_what_st_intersects_says_edges_included(demo_db):
    """Points are tested against a WGS 84 box by their coordinates (query.in_box), not by ST_Intersects:
    the same features, also those exactly on an edge or a corner and those a hair outside."""
    layer = get_layer("street_lamps")
    with demo_db.connect() as conn:
        points = conn.execute(sa.text(
            "SELECT id, ST_X(geom) x, ST_Y(geom) y FROM street_lamp ORDER BY id LIMIT 40")).all()
        eps = 1e-9
        boxes = []
        for p, q in zip(points[::2], points[1::2], strict=True):
            minx, maxx, miny, maxy = min(p.x, q.x), max(p.x, q.x), min(p.y, q.y), max(p.y, q.y)
            boxes += [(minx, miny, maxx, maxy),  # two lamps on corners or edges
                      (minx + eps, miny + eps, maxx - eps, maxy - eps)]  # the same two a hair outside
        inside = 0
        for box in boxes:
            expected = [r[0] for r in conn.execute(sa.text(
                "SELECT id FROM street_lamp WHERE ST_Intersects(geom, ST_MakeEnvelope(:a, :b, :c, :d, 4326)) "
                "ORDER BY id"), dict(zip("abcd", box, strict=True)))]
            for read in both_ways(conn, layer, bbox=box, page=query.Page(1000)):
                assert [f["id"] for f in read[0]] == expected and read[1] == len(expected), box
            inside += len(expected)
        assert inside >= len(points)  # every lamp was on the edge of a box
        # A box of no width holds the point it is (PostGIS's envelope of it is a polygon of no area,
        # which ST_Intersects finds to hold nothing).
        one = points[0]
        found = query.read_features(conn, layer, bbox=(one.x, one.y, one.x, one.y))[0]
        assert one.id in [f["id"] for f in found]


@pytest.mark.parametrize("name", ["road_segments", "settlements", "parcels"])
def test_a_box_over_lines_and_polygons_holds_what_st_intersects_says(demo_db, name):
    """Lines and polygons whose box lies well inside the query box are taken without an exact test
    (query.in_box): the same features as ST_Intersects, also for boxes that just touch, just miss, cut
    through or hold a feature with only a hair to spare."""
    layer = get_layer(name)
    table, column = layer.table, layer.geometry_column
    eps, room = 1e-9, 2e-4
    with demo_db.connect() as conn:
        visible = {f["id"] for f in query.read_features(conn, layer, page=query.Page(10_000))[0]}
        shapes = conn.execute(sa.text(
            f"SELECT id, ST_XMin(b) x0, ST_YMin(b) y0, ST_XMax(b) x1, ST_YMax(b) y1, ST_X(c) cx, ST_Y(c) cy "
            f"FROM (SELECT id, {column}::box2d b, ST_PointOnSurface({column}) c FROM {table} "
            f"WHERE {column} IS NOT NULL ORDER BY id LIMIT 12) s")).all()
        assert len(shapes) >= 5
        boxes = [AROUND_DEMO]
        for f in shapes:
            boxes += [(f.x0, f.y0, f.x1, f.y1),  # its own box
                      (f.x0 - room, f.y0 - room, f.x1 + room, f.y1 + room),  # room to spare: no exact test
                      (f.x0 - eps, f.y0 - eps, f.x1 + eps, f.y1 + eps),  # a hair to spare: the exact test
                      (f.x1 + eps, f.y0, f.x1 + room, f.y1),  # just east of it
                      (f.x0 - room, f.y0 - room, f.cx, f.cy)]  # a corner cutting through it
        held = 0
        for box in boxes:
            expected = [r[0] for r in conn.execute(sa.text(
                f"SELECT id FROM {table} WHERE ST_Intersects({column}, ST_MakeEnvelope(:a, :b, :c, :d, 4326)) "
                "ORDER BY id"), dict(zip("abcd", box, strict=True))) if r[0] in visible]
            for read in both_ways(conn, layer, bbox=box, page=query.Page(10_000)):
                assert [f["id"] for f in read[0]] == expected and read[1] == len(expected), box
            held += len(expected)
        assert held > len(shapes) * 3


def test_hidden_rows_stay_hidden_on_the_compiled_path():
    """Reports a moderator hid are not public: only roles that see every row read them (Layer.public_rows)."""
    layer = get_layer("reports")

    def sql(roles, count_limited=False):
        statement = query._statement(layer, staff=False, all_rows=query.sees_all_rows(layer, roles), bbox=True,
                                     bbox_srid=4326, hromada=False, feature=False, out_srid=None, simplify=False,
                                     count_limited=count_limited)
        return statement.sql, statement.big_box_sql

    for limited in (False, True):  # the count of all matches, or of no more than a limit
        for statement in sql(frozenset(), limited) + sql(frozenset({"planner"}), limited):
            assert statement.count("report.is_public IS true") == 1  # where the matches are found
        assert not any("is_public" in statement for statement in sql(frozenset({"admin"}), limited))


def test_the_serialiser_writes_database_values_as_before():
    when = dt.datetime(2024, 5, 3, 10, 7, tzinfo=dt.timezone.utc)
    point = RawJSON('{"type":"Point","coordinates":[1.5,2]}')
    doc = {"when": when, "day": dt.date(2024, 5, 3), "money": decimal.Decimal("12.50"),
           "whole": decimal.Decimal("7.00"), "name": "Якушинці", "geometry": point, "none": None, 3: "int key"}
    text = dumps(doc)
    assert json.loads(text) == {"when": "2024-05-03T10:07:00+00:00", "day": "2024-05-03", "money": 12.5, "whole": 7,
                                "name": "Якушинці", "geometry": {"type": "Point", "coordinates": [1.5, 2]},
                                "none": None, "3": "int key"}
    assert "Якушинці" in text  # UTF-8 as it is, not \u escapes
    assert json.loads(dumps({"big": 2**70})) == {"big": 2**70}  # beyond orjson: the standard library writes it
    assert jsonable(RawJSON("[1, 2]")) == [1, 2]
    with pytest.raises(TypeError):
        dumps({"x": object()})


def test_the_planner_guesses_a_box_of_points_by_its_index(demo_db):
    """The exact point-in-box test must not shrink the planner's guess of how many points a box holds:
    guessed at 10 out of a million, a country-wide page sorted every lamp (700 ms) instead of walking
    the ids in order (1 ms). The guess is the spatial index's, halved by the exact test."""
    lamps = get_layer("street_lamps")
    table = query.table_of(lamps)
    condition = query.in_box(lamps, table.c.geom, (22.0, 44.0, 41.0, 53.0))
    sql = str(sa.select(table.c.id).where(condition).compile(compile_kwargs={"literal_binds": True}))
    assert "CASE WHEN" in sql
    only_index = str(sa.select(table.c.id).where(table.c.geom.op("&&")(
        sa.func.ST_MakeEnvelope(22.0, 44.0, 41.0, 53.0, 4326))).compile(compile_kwargs={"literal_binds": True}))
    with demo_db.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(table).where(condition)).scalar_one()
        conn.execute(sa.text("ANALYZE street_lamp"))

        def guess(statement):
            return conn.execute(sa.text("EXPLAIN (FORMAT JSON) " + statement)).scalar_one()[0]["Plan"]["Plan Rows"]

        assert count > 50 and guess(sql) >= guess(only_index) / 2 - 1 and guess(sql) >= count / 4
