"""Demo cultural heritage of the demo hromada: a few objects, its living heritage and one e-route.

What is real: the community's brands named in its own programme (the international festival
«Живий вогонь», «Якушинецькі поколядини», «Якушинецькі весноспіви», «Якушинецька акваторія»),
the villages whose cultural potential it has studied on paper (Широка Гребля, Пултівці, Дашківці;
Махнівка is not among the demo villages), and the e-route it plans after the essays of Stepan
Kylymnyk. What is invented: every heritage object (named "(демо)"), every position, season detail
and the route's stops. All of it is flagged ``is_demo``. Idempotent: loads once per hromada.
"""
from __future__ import annotations

import sqlalchemy as sa

from gis.bulk import ewkb
from layers import eroutes
from layers.heritage import CULTURAL_POTENTIAL, HERITAGE_OBJECTS
from layers.tables import build_table

DEMO_ROUTE_CODE = "kylymnyk-demo"
DEMO_NOTE_UK = "Демонстраційні дані: об'єкт і його місце вигадані."
DEMO_NOTE_EN = "Demo data: the object and its place are invented."

# (village, east/north offset in degrees from its centre, fields)
OBJECTS = (
    ("Якушинці", (0.0015, 0.0008), {
        "name_uk": "Пам'ятний знак воїнам-односельцям (демо)", "name_en": "Memorial to fellow villagers (demo)",
        "significance": "local", "types": ["history", "monumental_art"], "dating": "1967 (демо)",
        "condition": "fair", "damage": "тріщини постаменту (демо)", "keeper": "Якушинецька сільська рада",
        "sources": "Демо: паперова база культурного потенціалу громади (умовно)"}),
    ("Дашківці", (-0.0012, 0.0010), {
        "name_uk": "Дерев'яна церква (демо)", "name_en": "Wooden church (demo)",
        "significance": "newly_identified", "types": ["architecture", "history"], "dating": "XIX ст. (демо)",
        "condition": "poor", "damage": "протікає дах (демо)", "keeper": "релігійна громада (демо)",
        "sources": "Демо: обстеження культурного потенціалу Дашківців (умовно)"}),
    ("Пултівці", (0.0030, -0.0020), {
        "name_uk": "Курган (демо)", "name_en": "Burial mound (demo)",
        "significance": "newly_identified", "types": ["archaeology", "landscape"], "dating": "бронзова доба (демо)",
        "condition": "unknown", "sources": "Демо: обстеження культурного потенціалу Пултівців (умовно)"}),
    ("Широка Гребля", (0.0020, 0.0015), {
        "name_uk": "Садиба з парком (демо)", "name_en": "Manor with a park (demo)",
        "significance": "local", "types": ["architecture", "garden_park_art"], "dating": "кінець XIX ст. (демо)",
        "condition": "very_bad", "damage": "зруйновано флігель, парк заростає (демо)",
        "keeper": "Якушинецька сільська рада (демо)",
        "sources": "Демо: обстеження культурного потенціалу Широкої Греблі (умовно)"}),
)

POTENTIAL = (
    ("Якушинці", (-0.0020, -0.0010), {
        "name_uk": "Міжнародний фестиваль «Живий вогонь»",
        "name_en": "International festival “Zhyvyi Vohon” (Living Fire)",
        "kind": "festival", "seasons": ["summer"], "when_text": "щороку (дата й місце на мапі — демо)",
        "keeper": "Відділ освіти, культури та спорту",
        "description": "Бренд громади з її програми розвитку. Місце на мапі й пора року умовні (демо)."}),
    ("Якушинці", (0.0010, -0.0015), {
        "name_uk": "«Якушинецькі поколядини»", "name_en": "“Yakushynetski Pokoliadyny” (carols)",
        "kind": "song", "seasons": ["winter"], "when_text": "різдвяні свята",
        "keeper": "будинки культури громади (демо)",
        "description": "Колядування й щедрування громади — бренд з її програми розвитку. "
                       "Місце на мапі умовне (демо)."}),
    ("Якушинці", (-0.0008, 0.0018), {
        "name_uk": "«Якушинецькі весноспіви»", "name_en": "“Yakushynetski Vesnospivy” (spring songs)",
        "kind": "song", "seasons": ["spring"], "when_text": "весна (демо)",
        "keeper": "будинки культури громади (демо)",
        "description": "Веснянки й гаївки — бренд з програми розвитку громади. Місце на мапі умовне (демо)."}),
    ("Зарванці", (0.0040, 0.0), {
        "name_uk": "Якушинецька акваторія", "name_en": "Yakushyntsi water area",
        "kind": "place", "seasons": ["summer"], "when_text": "літній сезон (демо)",
        "description": "Бренд громади: водойми для відпочинку. Місце на мапі умовне (демо)."}),
)

ROUTE = {
    "code": DEMO_ROUTE_CODE,
    "title": {"uk": "Стежками Степана Килимника (демо)", "en": "In the footsteps of Stepan Kylymnyk (demo)"},
    "description": {
        "uk": "Громада планує е-маршрут за нарисами етнографа Степана Килимника. Це демонстрація: "
              "зупинки й тексти вигадані, маршрут з'єднує зупинки прямими відрізками.",
        "en": "The community plans an e-route after the essays of the ethnographer Stepan Kylymnyk. This is a demo: "
              "the stops and texts are invented; the route joins the stops with straight segments."},
    "modes": ["cycling", "walking"],
    "is_demo": True,
}


def _at(centres: dict, village: str, offset: tuple[float, float]):
    import shapely

    centre = centres.get(village) or next(iter(centres.values()))
    return shapely.Point(centre.x + offset[0], centre.y + offset[1])


def load_demo_heritage(conn: sa.Connection, hromada_id: int, katottg: str, centres: dict) -> None:
    """The demo objects, living heritage and route, once per hromada (staff may have edited them since)."""
    objects, potential = build_table(HERITAGE_OBJECTS), build_table(CULTURAL_POTENTIAL)
    ids: dict[str, int] = {}
    if conn.execute(sa.select(sa.literal(1)).select_from(objects)
                    .where(objects.c.hromada_id == hromada_id, objects.c.is_demo).limit(1)).first() is None:
        for village, offset, fields in OBJECTS:
            ids[village] = conn.execute(objects.insert().values(
                hromada_id=hromada_id, **fields,
                description=f"{DEMO_NOTE_UK} / {DEMO_NOTE_EN}", address=f"с. {village}",
                geom=sa.func.ST_GeomFromEWKB(ewkb(_at(centres, village, offset))), source="demo", is_demo=True)
                .returning(objects.c.id)).scalar_one()
    if conn.execute(sa.select(sa.literal(1)).select_from(potential)
                    .where(potential.c.hromada_id == hromada_id, potential.c.is_demo).limit(1)).first() is None:
        for village, offset, fields in POTENTIAL:
            conn.execute(potential.insert().values(
                hromada_id=hromada_id, **fields,
                geom=sa.func.ST_GeomFromEWKB(ewkb(_at(centres, village, offset))), source="demo", is_demo=True))
    exists = conn.execute(sa.select(eroutes.e_route.c.id).where(eroutes.e_route.c.code == DEMO_ROUTE_CODE)).first()
    if exists is None and len(ids) == len(OBJECTS):
        start = _at(centres, "Якушинці", (0.0, 0.0))
        stops = [{"lon": start.x, "lat": start.y,
                  "name": {"uk": "Якушинці, будинок культури (старт, демо)",
                           "en": "Yakushyntsi, house of culture (start, demo)"},
                  "description": {"uk": "Старт біля будинку культури, де є відкритий Wi-Fi. Місце умовне (демо).",
                                  "en": "Start at the house of culture, which has open Wi-Fi. "
                                        "The place is approximate (demo)."}}]
        for village, _, fields in OBJECTS:
            stops.append({"object": ids[village],
                          "description": {"uk": f"{village}: {fields['name_uk']}. Текст зупинки — демо.",
                                          "en": f"{village}: {fields['name_en']}. The stop's text is a demo."}})
        eroutes.create_route(conn, eroutes.parse_route({**ROUTE, "hromada": katottg, "stops": stops}))
