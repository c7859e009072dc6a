"""Demo accessible venues: a few in every demo village and a ЦНАП in Якушинці, all flagged demo, every
rating of every need profile shown, and loading again changes nothing."""
import shapely
import sqlalchemy as sa

from importers.demo_venues import load_demo_venues
from layers.accessibility import PROFILES, RATINGS

DEMO = "UA05020310000080026"


def load(engine) -> int:
    with engine.begin() as conn:
        hromada_id = conn.execute(sa.text("SELECT id FROM hromada WHERE katottg = :k"), {"k": DEMO}).scalar_one()
        centres = {name: shapely.from_wkb(bytes(c)) for name, c in conn.execute(sa.text(
            "SELECT name_uk, ST_AsBinary(centre) FROM settlement WHERE hromada_id = :h"), {"h": hromada_id})}
        load_demo_venues(conn, hromada_id, centres)
    return hromada_id


def snapshot(engine) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT string_agg(id || ':' || xmin::text, ',' ORDER BY id) FROM venue")).scalar()


def test_demo_venues_in_every_village_with_every_rating(demo_db):
    hromada_id = load(demo_db)
    with demo_db.connect() as conn:
        villages = conn.execute(sa.text("SELECT count(*) FROM settlement WHERE hromada_id = :h"),
                                {"h": hromada_id}).scalar()
        count, demo, inside, ours = conn.execute(sa.text(
            "SELECT count(*), bool_and(v.is_demo AND v.source = 'demo'), bool_and(ST_Intersects(v.geom, h.boundary)), "
            "bool_and(v.hromada_id = h.id) FROM venue v JOIN hromada h ON h.katottg = :k"), {"k": DEMO}).one()
        assert count == 7 * villages + 1 and demo and inside and ours
        per_village = conn.execute(sa.text(
            "SELECT s.name_uk, count(v.id), array_agg(DISTINCT v.category) FROM settlement s "
            "LEFT JOIN venue v ON ST_DWithin(v.geom::geography, s.centre::geography, 400) "
            "WHERE s.hromada_id = :h GROUP BY s.name_uk"), {"h": hromada_id}).all()
        for name, venues, categories in per_village:
            assert venues >= 7 and {"government", "medical", "pharmacy", "shop", "school", "culture",
                                    "transport_stop"} <= set(categories), name
        cnap = conn.execute(sa.text(
            "SELECT v.name, v.rating_wheelchair, v.rating_blind, v.rating_deaf, v.door_automatic, "
            "v.toilet_accessible, ST_Contains(s.boundary, v.geom) FROM venue v, settlement s "
            "WHERE v.category = 'administrative' AND s.name_uk = 'Якушинці'")).one()
        assert cnap == ("ЦНАП Якушинецької сільської ради", "fully", "fully", "fully", True, True, True)
        for profile in PROFILES:
            shown = set(conn.execute(sa.text(f"SELECT DISTINCT rating_{profile} FROM venue")).scalars())
            assert shown == set(RATINGS), profile
        reasons = {r.split(":")[0] for r in conn.execute(sa.text("SELECT reason_wheelchair FROM venue")).scalars()}
        assert reasons == {"step_free", "one_low_step", "ramp_removable", "ramp_slope", "door_under_90", "steps",
                           "ramp_steep", "door_narrow", "osm", "no_entrance_data"}
        walking = {r.split(":")[0] for r in conn.execute(sa.text("SELECT reason_walking FROM venue")).scalars()}
        assert {"steps_many", "steps_few", "step_free"} <= walking
        assert conn.execute(sa.text("SELECT count(*) FROM venue WHERE surveyed_by IS NOT NULL "
                                    "AND surveyed_by NOT LIKE '%(демо)'")).scalar() == 0


def test_demo_venues_load_twice_changes_nothing(demo_db):
    load(demo_db)
    before = snapshot(demo_db)
    load(demo_db)
    assert snapshot(demo_db) == before
