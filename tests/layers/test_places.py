"""Finding a place by address with no outside geocoder (#17): reading a text, typo tolerance with pg_trgm,
the fallbacks (a house number not found → the street; a street not found → the village), the hromada
filter, and the suggestions of a place not found. On the demo, whose streets have addresses."""
import pytest
import shapely
import sqlalchemy as sa

from gis.errors import InvalidInput, NotFound
from layers.places import (
    Address,
    PlaceNotFound,
    StreetPart,
    find_places,
    normalise,
    number_key,
    parse,
    place_for,
    store_addresses,
    store_streets,
    street_label,
)
from tests.helpers import STRYZHAVKA, demo_hromada_id, load_neighbours, one, scalar


@pytest.mark.parametrize("typed, words, number", [
    ("вул. Шевченка 12, Якушинці", "шевченка якушинці", "12"),
    ("вулиця Шевченка, буд. 12-А, с. Якушинці", "шевченка якушинці", "12а"),
    ("ВУЛИЦЯ  шевченка,12 а", "шевченка", "12а"),
    ("Якушинцi", "якушинці", None),  # a Latin i
    ("Сaдова 5a", "садова", "5а"),  # a Latin a in the word and after the number
    ("вул. 8 Березня", "8 березня", None),  # the 8 is the street's
    ("вул. 8 Березня, 12", "8 березня", "12"),
    ("Садова №7", "садова", "7"),
    ("пров. Шевченка 3", "пров шевченка", "3"),  # another kind of street, written one way
    ("провулок Шевченка 3", "пров шевченка", "3"),
    ("просп. Пам’ятна 5, кв. 7", "просп памятна", "5"),  # the flat goes, so does the apostrophe
    ("пр-т Пам'ятна 5", "просп памятна", "5"),
    ("23221, Вінницька обл., Вінницький р-н, Якушинецька сільська громада, с. Якушинці, вул. Центральна, 5",
     "якушинці центральна", "5"),
    ("Zarvantsi", "zarvantsi", None),  # a Latin word stays Latin (the English names)
    ("вул.", "", None),
])
def test_a_typed_address_is_read_into_words_and_a_house_number(typed, words, number):
    parsed = parse(typed)
    assert (parsed.words, parsed.number) == (words, number)


def test_names_are_stored_as_they_are_compared():
    assert normalise("вулиця Пам’яті Героїв") == normalise("вул. Памʼяті героїв") == "памяті героїв"
    assert normalise("Слобода-Дашковецька") == "слобода дашковецька"
    assert normalise("a\x00b\u200b") == "a b"  # no NUL for PostgreSQL, no invisible characters
    assert number_key("12 А") == number_key("12-а") == number_key("12a") == "12а"
    assert number_key("12/1") == "12/1"
    assert street_label("вулиця Шевченка") == "вул. Шевченка" and street_label("Садова вулиця") == "вул. Садова"
    assert street_label("провулок Тихий") == "пров. Тихий" and street_label("вул. Садова") == "вул. Садова"


def labels(found):
    return [p["label"] for p in found]


def test_the_demo_finds_a_house_on_its_streets(demo_db):
    with demo_db.connect() as conn:
        best = place_for(conn, "вул. Центральна 5, Якушинці")
        typed_otherwise = [place_for(conn, text)["label"] for text in (
            "вулиця Центральна, буд. 5, с. Якушинці", "Якушинці, Центральна 5", "центральна 5 якушинцi",
            "Цетральна 5, Якушинці")]  # a letter missing in the street
    assert (best["kind"], best["label"], best["settlement"], best["housenumber"], best["street"], best["note"]) == \
        ("address", "вул. Центральна, 5, Якушинці", "Якушинці", "5", "вул. Центральна", None)
    assert best["hromada"] == "UA05020310000080026" and best["score"] == 1.0
    assert typed_otherwise == ["вул. Центральна, 5, Якушинці"] * 4
    # The house stands by the street, in the village.
    assert one(demo_db, """SELECT ST_Contains(boundary, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) FROM settlement
                           WHERE name_uk = 'Якушинці'""", x=best["lon"], y=best["lat"])[0]


def test_a_village_is_found_with_typos(demo_db):
    with demo_db.connect() as conn:
        for typed in ("Якушинці", "якушинцi", "ЯКУШИНЦІ", "Якушинц", "с. Якушинці"):
            found = place_for(conn, typed)
            assert (found["kind"], found["label"], found["note"]) == ("settlement", "Якушинці", None), typed
        assert place_for(conn, "Zarvantsi")["label"] == "Зарванці"  # by its English name
        assert place_for(conn, "Слобода Дашковецька")["label"] == "Слобода-Дашковецька"


def test_a_house_number_not_found_gives_the_street_and_says_so(demo_db):
    with demo_db.connect() as conn:
        found = place_for(conn, "вул. Центральна 99, Якушинці")
        street = one(demo_db, """
            SELECT ST_Distance(st.geom::geography, ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography)
            FROM street st JOIN settlement v ON v.id = st.settlement_id
            WHERE v.name_uk = 'Якушинці' AND st.search = 'центральна'""", x=found["lon"], y=found["lat"])[0]
    assert (found["kind"], found["label"], found["housenumber"]) == ("street", "вул. Центральна, Якушинці", None)
    assert found["note"] == {"uk": "Будинку 99 на цій вулиці не знайдено — показано вулицю",
                             "en": "House 99 was not found on this street — showing the street"}
    assert street < 1  # a point on the street itself


def test_an_unknown_street_in_a_known_village_gives_the_village(demo_db):
    with demo_db.connect() as conn:
        found = place_for(conn, "вул. Шевченка 12, Якушинці")
    assert (found["kind"], found["label"]) == ("settlement", "Якушинці")
    assert "not found" in found["note"]["en"] and "не знайдено" in found["note"]["uk"]


def test_the_same_street_in_several_villages_asks_which(demo_db):
    with demo_db.connect() as conn:
        with pytest.raises(PlaceNotFound) as several:
            place_for(conn, "Садова 3")
        found = find_places(conn, "Садова 3", limit=20)
    assert isinstance(several.value, NotFound) and several.value.http_status == 404
    assert "several villages" in several.value.en and "кількох" in several.value.uk
    assert len(several.value.suggestions) == 5 and all(
        s["kind"] == "address" and s["label"].startswith("вул. Садова, 3, ") for s in several.value.suggestions)
    assert several.value.to_dict()["details"]["suggestions"] == several.value.suggestions
    assert len(found) == 14  # one in each demo village
    assert labels(found)[:2] == ["вул. Садова, 3, Березина", "вул. Садова, 3, Дашківці"]  # in the alphabet's order


def test_a_place_not_found_carries_the_closest_suggestions(demo_db):
    with demo_db.connect() as conn:
        with pytest.raises(PlaceNotFound) as near:
            place_for(conn, "Якушинкі")  # one letter wrong in the middle: only suggested
        with pytest.raises(PlaceNotFound) as nowhere:
            place_for(conn, "Атлантида")
        assert find_places(conn, "Якушинкі") == []
        assert find_places(conn, "вул.") == []
        with pytest.raises(InvalidInput, match="Give an address or a village"):
            place_for(conn, "   ")
        with pytest.raises(InvalidInput, match="too long"):
            find_places(conn, "Якушинці " * 30)
        with pytest.raises(InvalidInput, match="limit"):
            find_places(conn, "Якушинці", limit=0)
    assert labels(near.value.suggestions) == ["Якушинці"]
    assert "not found" in near.value.en and "не знайдено" in near.value.uk
    assert nowhere.value.suggestions == []


def test_the_hromada_filter_keeps_to_one_hromada(demo_db):
    load_neighbours(demo_db)
    demo = demo_hromada_id(demo_db)
    stryzhavka = scalar(demo_db, "SELECT id FROM hromada WHERE katottg = :k", k=STRYZHAVKA)
    x, y = one(demo_db, "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(boundary) AS p FROM hromada "
                        "WHERE id = :h) s", h=stryzhavka)
    with demo_db.begin() as conn:
        stored = store_addresses(conn, [Address("вулиця Центральна", "Стрижавка", "5", shapely.Point(x, y), "node/1")],
                                 source="test")
        store_streets(conn, [StreetPart("вулиця Центральна", shapely.LineString([(x - 0.001, y), (x + 0.001, y)]),
                                        "way/1")], source="test")
    assert (stored.added, stored.outside) == (1, 0)
    with demo_db.connect() as conn:
        there = find_places(conn, "Центральна 5", hromada_id=stryzhavka)
        here = find_places(conn, "Центральна 5", hromada_id=demo, limit=20)
        everywhere = find_places(conn, "Центральна 5", limit=20)
    assert labels(there) == ["вул. Центральна, 5, Стрижавка"]  # no such village loaded: the place as written
    assert there[0]["hromada"] == STRYZHAVKA and there[0]["settlement"] is None
    assert len(here) == 14 and {p["hromada"] for p in here} == {"UA05020310000080026"}
    assert len(everywhere) == 15


def test_storing_the_same_again_changes_nothing(demo_db):
    """The demo's addresses were stored when it was loaded: storing them again finds them all unchanged."""
    from importers.demo_addresses import load_demo_addresses

    demo = demo_hromada_id(demo_db)
    before = scalar(demo_db, "SELECT max(updated_at) FROM address_point")
    with demo_db.begin() as conn:
        streets, addresses = load_demo_addresses(conn, demo)
    assert (streets.added, streets.updated, streets.unchanged) == (0, 0, 28)  # two streets in 14 villages
    assert (addresses.added, addresses.updated, addresses.unchanged) == (0, 0, 14 * 18)
    assert scalar(demo_db, "SELECT max(updated_at) FROM address_point") == before
    assert scalar(demo_db, "SELECT count(*) FROM address_point WHERE settlement_id IS NULL") == 0


def test_the_search_uses_the_trigram_indexes(demo_db):
    """Candidates come from the GIN indexes, so a search over every hromada reads no whole table."""
    with demo_db.connect() as conn:
        conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        for table in ("address_point", "street", "settlement"):
            plan = "\n".join(conn.execute(sa.text(
                f"EXPLAIN SELECT id FROM {table} WHERE search %> ANY(CAST(:t AS text[]))"),
                {"t": ["центральна"]}).scalars())
            assert f"ix_{table}_search" in plan, plan
        # A village's search name is kept by the database: case, apostrophes and hyphens as normalise() has them.
        conn.execute(sa.text("""INSERT INTO settlement (hromada_id, name_uk, centre)
                                VALUES (:h, 'Кам’яна-Гора', ST_SetSRID(ST_MakePoint(28.3, 49.2), 4326))"""),
                     {"h": demo_hromada_id(demo_db)})
        stored = conn.execute(sa.text("SELECT search FROM settlement WHERE name_uk = 'Кам’яна-Гора'")).scalar()
        assert stored == normalise("Кам’яна-Гора") == "камяна гора"
