"""Administrative layers of the foundation: hromadas, their settlements, and responsible units —
and the lookups of hromadas and settlements that pages, APIs and the CLI share."""
from __future__ import annotations

import sqlalchemy as sa

from gis import codes
from gis.crs import area_m2_sql
from gis.errors import NotFound
from gis.hromadas import hromada_by_katottg
from gis.models import hromada, unit
from layers.base import CategoryStyle, Field, Layer, Permissions, Style

OSM_ATTRIBUTION = "© OpenStreetMap contributors (ODbL)"

NAME_UK = Field("name_uk", "text", {"uk": "Назва", "en": "Name (Ukrainian)"}, required=True,
                aliases=("name:uk", "name", "назва"))
NAME_EN = Field("name_en", "text", {"uk": "Назва англійською", "en": "Name"}, aliases=("name:en",))
POPULATION = Field("population", "integer", {"uk": "Населення", "en": "Population"},
                   aliases=("населення",))

HROMADAS = Layer(
    name="hromadas",
    on_map_at_first=True,
    title={"uk": "Територіальні громади", "en": "Territorial communities"},
    geometry="MultiPolygon",
    table="hromada",
    geometry_column="boundary",
    hromada_column="id",
    fields=(
        Field("katottg", "text", {"uk": "Код КАТОТТГ", "en": "KATOTTG code"}, required=True,
              aliases=("katotth", "катоттг")),
        NAME_UK,
        NAME_EN,
        Field("koatuu", "text", {"uk": "Код КОАТУУ", "en": "KOATUU code"}),
        Field("oblast", "text", {"uk": "Область", "en": "Oblast"}, aliases=("oblast_slug",)),
        Field("raion", "text", {"uk": "Район", "en": "Raion"}, aliases=("raion_slug",)),
        POPULATION,
        Field("wikidata", "text", {"uk": "Вікідані", "en": "Wikidata"}),
        Field("boundary_repaired", "boolean",
              {"uk": "Межу виправлено при імпорті", "en": "Boundary repaired on import"}),
    ),
    popup=("name_uk", "katottg", "population"),
    label_field="name_uk",
    style=Style(color="#1864ab", weight=3, fill_opacity=0.04),
    attribution=OSM_ATTRIBUTION,
)

SETTLEMENTS = Layer(
    name="settlements",
    title={"uk": "Населені пункти", "en": "Settlements"},
    geometry="MultiPolygon",
    table="settlement",
    geometry_column="boundary",
    fields=(
        NAME_UK,
        NAME_EN,
        Field("kind", "choice", {"uk": "Тип", "en": "Kind"}, choices={
            "city": {"uk": "місто", "en": "city"},
            "town": {"uk": "селище", "en": "town"},
            "village": {"uk": "село", "en": "village"},
            "hamlet": {"uk": "хутір", "en": "hamlet"},
            "other": {"uk": "інше", "en": "other"},
        }),
        Field("katottg", "text", {"uk": "Код КАТОТТГ", "en": "KATOTTG code"}, aliases=("katotth",)),
        POPULATION,
        Field("hromada_id", "hromada", {"uk": "Громада", "en": "Hromada"}, required=True),
    ),
    popup=("name_uk", "kind", "population"),
    label_field="name_uk",
    style=Style(color="#e8590c", weight=1.5, fill_opacity=0.12),
    attribution=OSM_ATTRIBUTION,
)

UNIT_KIND_COLOURS = {
    "department": "#5f3dc4",
    "enterprise": "#2b8a3e",
    "starosta_district": "#0b7285",
    "outside_body": "#862e9c",
    "other": "#495057",
}

UNITS = Layer(
    name="units",
    title={"uk": "Відповідальні підрозділи", "en": "Responsible units"},
    geometry="MultiPolygon",
    table="unit",
    geometry_column="service_area",
    fields=(
        Field("code", "text", {"uk": "Код", "en": "Code"}, required=True),
        NAME_UK,
        NAME_EN,
        Field("kind", "choice", {"uk": "Вид", "en": "Kind"}, required=True, choices={
            "department": {"uk": "відділ", "en": "department"},
            "enterprise": {"uk": "комунальне підприємство", "en": "communal enterprise"},
            "starosta_district": {"uk": "старостинський округ", "en": "starosta district"},
            "outside_body": {"uk": "зовнішня служба", "en": "outside body"},
            "other": {"uk": "інше", "en": "other"},
        }),
        # Routing addresses are for staff: the public contacts the service, not a mailbox.
        Field("emails", "json", {"uk": "Ел. пошта", "en": "E-mail"}, public=False),  # a list of addresses
        Field("phone", "text", {"uk": "Телефон", "en": "Phone"}, public=False),
        Field("is_demo", "boolean", {"uk": "Демонстраційні дані", "en": "Demo data"}),
        Field("hromada_id", "hromada", {"uk": "Громада", "en": "Hromada"}, required=True),
    ),
    popup=("name_uk", "kind", "is_demo"),
    label_field="name_uk",
    style=CategoryStyle(field="kind", colors=UNIT_KIND_COLOURS, weight=2, fill_opacity=0.08,
                        dash_array="6 4"),
    permissions=Permissions(view="public", edit=frozenset({"admin"})),
)

LAYERS = (HROMADAS, SETTLEMENTS, UNITS)


# --- lookups ---------------------------------------------------------------------------------------

def hromada_id_by_code(conn: sa.Connection, code: str) -> int:
    """The id of the hromada with this KATOTTG code (checked and normalised); NotFound otherwise."""
    return hromada_by_katottg(conn, codes.katottg(code))["id"]


def hromada_summary(conn: sa.Connection, code: str) -> sa.RowMapping:
    """A hromada's id, code, names, population, area (km²) and bounding box; NotFound otherwise."""
    code = codes.katottg(code)
    row = conn.execute(sa.text(f"""
        SELECT id, katottg, name_uk, name_en, population,
               {area_m2_sql('boundary')} / 1e6 AS area_km2,
               ST_XMin(boundary) AS minx, ST_YMin(boundary) AS miny,
               ST_XMax(boundary) AS maxx, ST_YMax(boundary) AS maxy
        FROM hromada WHERE katottg = :code"""), {"code": code}).mappings().first()
    if row is None:
        raise NotFound(f"Громаду з кодом {code} не завантажено", f"No hromada with code {code} is loaded")
    return row


def unit_names(conn: sa.Connection, ids, lang: str) -> dict[int, str]:
    """{unit id: its name in ``lang`` (Ukrainian when it has none)} for the given ids."""
    ids = sorted({i for i in ids if i is not None})
    if not ids:
        return {}
    name = sa.func.coalesce(unit.c.name_en, unit.c.name_uk) if lang == "en" else unit.c.name_uk
    return dict(conn.execute(sa.select(unit.c.id, name).where(unit.c.id.in_(ids))).all())


def list_hromadas(conn: sa.Connection) -> list[sa.RowMapping]:
    """Every loaded hromada (code, names, oblast), by oblast and name."""
    return list(conn.execute(sa.select(hromada.c.katottg, hromada.c.name_uk, hromada.c.name_en,
                                       hromada.c.oblast).order_by(hromada.c.oblast, hromada.c.name_uk)).mappings())


def any_hromada(conn: sa.Connection) -> bool:
    """Whether any hromada is loaded at all."""
    return conn.execute(sa.select(sa.exists().where(sa.true()).select_from(hromada))).scalar()


def hromadas_by_ids(conn: sa.Connection, ids) -> list[dict]:
    """The hromadas with these ids (id, katottg, name_uk, name_en), by Ukrainian name: the ones a
    person works in, for menus and account pages."""
    ids = list(ids)
    if not ids:
        return []
    rows = conn.execute(sa.select(hromada.c.id, hromada.c.katottg, hromada.c.name_uk, hromada.c.name_en)
                        .where(hromada.c.id.in_(ids)).order_by(hromada.c.name_uk)).mappings()
    return [dict(r) for r in rows]


def hromada_by_id(conn: sa.Connection, hromada_id: int) -> dict:
    """The hromada with this id: id, katottg, name_uk, name_en, created_at (NotFound when there is none)."""
    row = conn.execute(sa.select(hromada.c.id, hromada.c.katottg, hromada.c.name_uk, hromada.c.name_en,
                                 hromada.c.created_at).where(hromada.c.id == hromada_id)).mappings().first()
    if row is None:
        raise NotFound(f"Громади {hromada_id} немає", f"There is no hromada {hromada_id}")
    return dict(row)


def katottg_of(conn: sa.Connection, hromada_id: int) -> str | None:
    """The KATOTTG code of the hromada with this id (None when there is none)."""
    return conn.execute(sa.select(hromada.c.katottg).where(hromada.c.id == hromada_id)).scalar()


def settlement_names(conn: sa.Connection) -> list[str]:
    """Every settlement's Ukrainian name, once each, in order (for a "village" picker)."""
    return list(conn.execute(sa.text("SELECT DISTINCT name_uk FROM settlement ORDER BY 1")).scalars())
