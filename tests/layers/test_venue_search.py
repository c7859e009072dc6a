"""Finding venues that fit one's needs, nearest first; residents' corrections and the venue history."""
import pytest
import sqlalchemy as sa

from gis.errors import Conflict, InvalidInput, NotFound
from layers import history as feature_history
from layers import venue_proposals
from layers.accessibility import VENUES, find_venues, place_for
from tests.helpers import inside, one, scalar

METRE_LON = 1 / 72_800  # at 49° N
METRE_LAT = 1 / 111_200


def add_venue(engine, name, lon, lat, category="pharmacy", **facts) -> int:
    columns = ", ".join(["hromada_id", "name", "category", "geom", *facts])
    values = ", ".join(["(SELECT id FROM hromada LIMIT 1)", ":name", ":category",
                        "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)", *[f":{k}" for k in facts]])
    with engine.begin() as conn:
        return conn.execute(sa.text(f"INSERT INTO venue ({columns}) VALUES ({values}) RETURNING id"),
                            {"name": name, "category": category, "lon": lon, "lat": lat, **facts}).scalar()


@pytest.fixture
def street(demo_db):
    """Venues east of a point 33 km north of Якушинці (away from the demo's own venues), at known
    distances, with known ratings."""
    lon, lat = inside(demo_db, "Якушинці")
    lat += 0.3
    add_venue(demo_db, "Аптека 300 м, сходи", lon + 300 * METRE_LON, lat, entrance_steps=3, step_height_cm=16)
    add_venue(demo_db, "Аптека 500 м, рівний вхід", lon + 500 * METRE_LON, lat, entrance_level=True,
              door_width_cm=100, tactile_paving=True, audio_info=True)
    add_venue(demo_db, "Аптека 200 м, поріг 5 см", lon + 200 * METRE_LON, lat, entrance_steps=1, step_height_cm=5)
    add_venue(demo_db, "Магазин 100 м, рівний вхід", lon + 100 * METRE_LON, lat, category="shop",
              entrance_level=True)
    # 400 m north: on the sphere farther than 300 m east, though nearer in degrees (≈0.0036° vs 0.0041°).
    add_venue(demo_db, "Аптека 400 м на північ, рівний вхід", lon, lat + 400 * METRE_LAT, entrance_level=True)
    return lon, lat


def test_search_orders_by_metres_and_filters_by_rating_and_category(demo_db, street):
    lon, lat = street
    with demo_db.connect() as conn:
        fully = find_venues(conn, lon, lat, "wheelchair")
        both = find_venues(conn, lon, lat, "wheelchair", include_partial=True, category="pharmacy")
        blind = find_venues(conn, lon, lat, "blind")
    assert [v["name"] for v in fully] == ["Магазин 100 м, рівний вхід", "Аптека 400 м на північ, рівний вхід",
                                          "Аптека 500 м, рівний вхід"]
    assert [v["distance_m"] for v in fully] == pytest.approx([100, 400, 500], abs=3)
    assert [v["name"] for v in both] == ["Аптека 200 м, поріг 5 см", "Аптека 400 м на північ, рівний вхід",
                                         "Аптека 500 м, рівний вхід"]
    assert both[0]["rating"] == "partially" and both[0]["reason"] == "один поріг 5 см без пандуса (до 7 см)"
    assert [v["name"] for v in blind] == ["Аптека 500 м, рівний вхід"]


def test_the_radius_and_the_limit_cut_the_nearest_first_list(demo_db, street):
    lon, lat = street
    with demo_db.connect() as conn:
        within_450 = find_venues(conn, lon, lat, "wheelchair", radius_m=450)
        nearest_two = find_venues(conn, lon, lat, "wheelchair", limit=2)
        none_near = find_venues(conn, lon, lat, "wheelchair", radius_m=50)
    assert [v["distance_m"] for v in within_450] == pytest.approx([100, 400], abs=3)
    assert [v["distance_m"] for v in nearest_two] == pytest.approx([100, 400], abs=3)
    assert none_near == []


def test_search_refuses_bad_input(demo_db):
    with demo_db.connect() as conn:
        with pytest.raises(InvalidInput, match="Unknown profile"):
            find_venues(conn, 28.3, 49.2, "jetpack")
        with pytest.raises(InvalidInput, match="Unknown category"):
            find_venues(conn, 28.3, 49.2, "wheelchair", category="casino")
        with pytest.raises(InvalidInput, match="limit"):
            find_venues(conn, 28.3, 49.2, "wheelchair", limit=0)
        with pytest.raises(InvalidInput, match="out of range"):
            find_venues(conn, 28.3, 91, "wheelchair")


def test_near_a_village_or_an_address(demo_db, street):
    lon, lat = street
    add_venue(demo_db, "Амбулаторія", lon, lat, category="medical", address="с. Якушинці, вул. Шкільна, 5%")
    with demo_db.connect() as conn:
        assert place_for(conn, "якушинці")[2] == "Якушинці"
        assert place_for(conn, "Шкільна, 5%")[:2] == pytest.approx((lon, lat))
        with pytest.raises(NotFound, match="not found"):
            place_for(conn, "Атлантида")


def test_a_correction_changes_nothing_until_approved_and_is_kept_in_history(demo_db, street):
    lon, lat = street
    venue = add_venue(demo_db, "Бібліотека", lon, lat + 50 * METRE_LAT, category="culture", entrance_steps=2,
                      step_height_cm=15)
    with demo_db.begin() as conn:
        with pytest.raises(InvalidInput) as bad:
            venue_proposals.propose(conn, venue_id=venue, facts={"ramp": "ліфт", "door_width_cm": "широкі"})
        assert "ramp" in bad.value.en and "door_width_cm" in bad.value.en
        proposal = venue_proposals.propose(conn, venue_id=venue, facts={"ramp": "стаціонарний",
                                           "ramp_slope_percent": "6,5"}, comment="Зробили пандус",
                                           name="Оксана", email="o@example.org")
    assert scalar(demo_db, "SELECT rating_wheelchair FROM venue WHERE id = :v", v=venue) == "no"
    with demo_db.begin() as conn:
        assert venue_proposals.decide(conn, proposal, approve=True, user_id=None, note="Перевірено") == venue
    assert one(demo_db, "SELECT ramp, ramp_slope_percent, rating_wheelchair FROM venue WHERE id = :v", v=venue) == (
        "fixed", 6.5, "fully")
    with demo_db.begin() as conn, pytest.raises(Conflict):
        venue_proposals.decide(conn, proposal, approve=False, user_id=None)
    with demo_db.connect() as conn:
        history = venue_proposals.history(conn, venue)
        versions = feature_history.versions(conn, VENUES, venue)
    assert history[0]["via_proposal"] and history[0]["operation"] == "update"
    assert history[0]["proposal_id"] == proposal
    assert {c["field"]: (c["before"], c["after"]) for c in history[0]["changes"]} == {
        "ramp": (None, "fixed"), "ramp_slope_percent": (None, 6.5)}
    assert history[-1]["operation"] == "insert" and not history[-1]["via_proposal"]
    assert "Оксана" not in str(history) and "o@example.org" not in str(history)
    # Kept by the generic history: the approval's version names the proposal as its cause.
    assert versions[0]["cause"] == f"proposal:{proposal}" and versions[0]["op"] == "update"
    assert versions[0]["reason"] == f"пропозиція {proposal} / proposal {proposal}"
    assert versions[1]["cause"] is None
    assert scalar(demo_db, "SELECT count(*) FROM venue_history") == 0  # the old table is no longer written


def test_the_history_of_a_venue_from_before_the_switch_comes_from_the_archive(demo_db, street):
    """Until migration 0032 venue_history kept the venues' changes (and feature_version too, since
    0031): before the switch the archive's rows are shown, with their proposal; after it the versions."""
    lon, lat = street
    venue = add_venue(demo_db, "Пошта", lon, lat + 80 * METRE_LAT, entrance_steps=3)
    with demo_db.begin() as conn:
        proposal = venue_proposals.propose(conn, venue_id=venue, facts={"entrance_steps": "1"})
        # As the archive has it: the creation and a change by that proposal, both before the switch.
        conn.execute(sa.text("UPDATE venue SET entrance_steps = 1 WHERE id = :v"), {"v": venue})
        conn.execute(sa.text("ALTER TABLE venue_history DISABLE TRIGGER read_only"))
        conn.execute(sa.text("""
            INSERT INTO venue_history (venue_id, changed_at, operation, before, after, proposal_id, user_id) VALUES
            (:v, now() - interval '2 days', 'insert', NULL, '{"name": "Пошта", "entrance_steps": 3}', NULL, NULL),
            (:v, now() - interval '1 day', 'update', '{"entrance_steps": 3}', '{"entrance_steps": 1}', :p, NULL)"""),
            {"v": venue, "p": proposal})
        conn.execute(sa.text("ALTER TABLE venue_history ENABLE TRIGGER read_only"))
        conn.execute(sa.text("INSERT INTO history_archive (name, layer, switched_at) "
                             "VALUES ('venue_history', 'venues', clock_timestamp())"))
    with demo_db.begin() as conn:  # after the switch
        conn.execute(sa.text("UPDATE venue SET entrance_steps = 0, entrance_level = true WHERE id = :v"), {"v": venue})
    with demo_db.connect() as conn:
        history = venue_proposals.history(conn, venue)
    assert [(h["operation"], h["proposal_id"]) for h in history] == [("update", None), ("update", proposal),
                                                                       ("insert", None)]
    assert {c["field"]: (c["before"], c["after"]) for c in history[0]["changes"]} == {
        "entrance_steps": (1, 0), "entrance_level": (None, True)}
    assert {c["field"]: (c["before"], c["after"]) for c in history[1]["changes"]} == {"entrance_steps": (3, 1)}
    with pytest.raises(sa.exc.DBAPIError, match="read-only archive"), demo_db.begin() as conn:
        conn.execute(sa.text("UPDATE venue_history SET proposal_id = NULL"))


def test_a_new_venue_proposal_creates_it_and_a_rejection_changes_nothing(demo_db):
    lon, lat = inside(demo_db, "Зарванці")
    with demo_db.begin() as conn:
        with pytest.raises(InvalidInput, match="new venue needs"):
            venue_proposals.propose(conn, facts={"name": "Без категорії"}, lon=lon, lat=lat)
        new = venue_proposals.propose(conn, facts={"name": "ФАП Зарванці", "category": "medical",
                                                   "entrance_level": "так"}, lon=lon, lat=lat)
        rejected = venue_proposals.propose(conn, facts={"name": "Кав'ярня", "category": "food"}, lon=lon, lat=lat)
    before = scalar(demo_db, "SELECT count(*) FROM venue")
    with demo_db.begin() as conn:
        venue_id = venue_proposals.decide(conn, new, approve=True, user_id=None)
        assert venue_proposals.decide(conn, rejected, approve=False, user_id=None, note="Дубль") is None
    assert scalar(demo_db, "SELECT count(*) FROM venue") == before + 1
    assert one(demo_db, "SELECT name, rating_walking, hromada_id IS NOT NULL FROM venue WHERE id = :v",
               v=venue_id) == ("ФАП Зарванці", "fully", True)
    assert scalar(demo_db, "SELECT status FROM venue_proposal WHERE id = :p", p=rejected) == "rejected"
