"""Administrative layers of the foundation: hromadas, their settlements, and responsible units."""
from __future__ import annotations

from layers.base import CategoryStyle, Field, Layer, Permissions, Style

OSM_ATTRIBUTION = "© OpenStreetMap contributors (ODbL)"

NAME_UK = Field("name_uk", "text", {"uk": "Назва", "en": "Name (Ukrainian)"}, required=True,
                aliases=("name:uk", "name", "назва"))
NAME_EN = Field("name_en", "text", {"uk": "Назва англійською", "en": "Name"}, aliases=("name:en",))
POPULATION = Field("population", "integer", {"uk": "Населення", "en": "Population"},
                   aliases=("населення",))

HROMADAS = Layer(
    name="hromadas",
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
