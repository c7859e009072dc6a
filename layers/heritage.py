"""Cultural heritage (issue #7): heritage objects, their territories and protection zones, photos,
and the community's "cultural potential" — intangible and living heritage tied to places.

Declared once here; the map, the layer API, OGC API, tiles, exports and importers derive from
these declarations. A Layer has one geometry type, so an object is a Point (where it is) and its
territory or protection zone is a MultiPolygon in ``heritage_zones``, linked by the object's id.

* Register numbers are kept as text exactly as given (``П-101``, ``05-Вн``, ``1234-Н``: formats vary).
* ``types`` is a JSON list of codes from :data:`HERITAGE_TYPES` (an object can be history *and*
  architecture); :func:`check_types` validates it, and saved import mappings fill it.
* Photos (``heritage_photo``) go through :func:`gis.photos.store_photo`: recognised by content,
  EXIF (GPS included) stripped, ≤ 2048 px, with a thumbnail.

E-routes through these objects are in :mod:`layers.eroutes`.
"""
from __future__ import annotations

import sqlalchemy as sa

from gis.errors import InvalidInput, NotFound
from gis.models import metadata
from gis.photos import store_photo
from layers.base import CategoryStyle, Editing, Field, Layer, Permissions, Style, label

SIGNIFICANCE = {  # Закон України «Про охорону культурної спадщини»: категорії пам'яток
    "national": {"uk": "національного значення", "en": "national significance"},
    "local": {"uk": "місцевого значення", "en": "local significance"},
    "newly_identified": {"uk": "щойно виявлений об'єкт", "en": "newly identified object"},
    "unesco": {"uk": "у Списку всесвітньої спадщини ЮНЕСКО", "en": "UNESCO World Heritage List"},
}
# One map shows the objects, their zones and the living heritage: every meaning has a colour of its own
# (the heritage page's legend reads them from the layers' styles).
SIGNIFICANCE_COLOURS = {"unesco": "#862e9c", "national": "#c92a2a", "local": "#1864ab",
                        "newly_identified": "#e67700"}
ZONE_COLOURS = {"territory": "#5c3b1e", "protection_zone": "#0b7285"}
LIVING_HERITAGE_COLOUR = "#2b8a3e"
HERITAGE_TYPES = {  # види пам'яток за тим самим законом (ст. 3)
    "archaeology": {"uk": "археології", "en": "archaeology"},
    "history": {"uk": "історії", "en": "history"},
    "monumental_art": {"uk": "монументального мистецтва", "en": "monumental art"},
    "architecture": {"uk": "архітектури та містобудування", "en": "architecture and urban planning"},
    "garden_park_art": {"uk": "садово-паркового мистецтва", "en": "garden and park art"},
    "landscape": {"uk": "ландшафтна", "en": "landscape"},
    "science_technology": {"uk": "науки і техніки", "en": "science and technology"},
}
CONDITIONS = {
    "good": {"uk": "добрий", "en": "good"},
    "fair": {"uk": "задовільний", "en": "fair"},
    "poor": {"uk": "незадовільний", "en": "poor"},
    "very_bad": {"uk": "аварійний", "en": "very bad"},
    "destroyed": {"uk": "втрачений (зруйнований)", "en": "destroyed"},
    "unknown": {"uk": "невідомий", "en": "unknown"},
}
ZONE_KINDS = {
    "territory": {"uk": "територія пам'ятки", "en": "territory of the monument"},
    "protection_zone": {"uk": "охоронна зона", "en": "protection zone"},
}
POTENTIAL_KINDS = {
    "festival": {"uk": "фестиваль, свято", "en": "festival"},
    "tradition": {"uk": "традиція, обряд", "en": "tradition, rite"},
    "song": {"uk": "пісенна, музична традиція", "en": "song and music"},
    "craft": {"uk": "ремесло", "en": "craft"},
    "cuisine": {"uk": "кухня", "en": "cuisine"},
    "place": {"uk": "місце відпочинку, бренд", "en": "recreation place, brand"},
    "other": {"uk": "інше", "en": "other"},
}
SEASONS = {
    "winter": {"uk": "зима", "en": "winter"},
    "spring": {"uk": "весна", "en": "spring"},
    "summer": {"uk": "літо", "en": "summer"},
    "autumn": {"uk": "осінь", "en": "autumn"},
    "all_year": {"uk": "цілий рік", "en": "all year"},
}
EDITORS = frozenset({"admin", "planner"})

HERITAGE_OBJECTS = Layer(
    name="heritage_objects",
    title={"uk": "Культурна спадщина", "en": "Cultural heritage"},
    description={"uk": "Пам'ятки та щойно виявлені об'єкти культурної спадщини: значення, види, датування, стан, "
                       "охоронець, джерела", "en": "Heritage sites and newly identified objects: significance, types, "
                                                  "dating, condition, keeper, sources"},
    geometry="Point",
    table="heritage_object",
    generated_table=True,
    fields=(
        # Text, exactly as given: register numbers mix letters, dashes and slashes (П-101, 1234-Н).
        Field("register_no", "text", {"uk": "Охоронний (реєстровий) номер", "en": "Register number"},
              aliases=("Реєстраційний номер", "охоронний номер", "register", "ref")),
        Field("name_uk", "text", {"uk": "Назва", "en": "Name (Ukrainian)"}, required=True,
              aliases=("Унормована назва", "назва", "name:uk", "name")),
        Field("name_en", "text", {"uk": "Назва англійською (латиницею)", "en": "Name"},
              aliases=("Унормована назва латиницею", "name:en")),
        Field("significance", "choice", {"uk": "Категорія (значення)", "en": "Significance"},
              choices=SIGNIFICANCE, aliases=("значення", "категорія")),
        Field("types", "json", {"uk": "Види пам'ятки", "en": "Types"}, aliases=("вид", "види")),
        Field("dating", "text", {"uk": "Датування", "en": "Dating"}, aliases=("дата", "датування", "date")),
        Field("condition", "choice", {"uk": "Технічний стан", "en": "Condition"}, choices=CONDITIONS,
              aliases=("стан",)),
        Field("damage", "text", {"uk": "Пошкодження", "en": "Damage"}, aliases=("пошкодження",)),
        Field("keeper", "text", {"uk": "Охоронець (користувач)", "en": "Keeper"},
              aliases=("охоронець", "балансоутримувач")),
        Field("address", "text", {"uk": "Адреса, місце", "en": "Address, place"}, aliases=("адреса", "місце")),
        Field("description", "text", {"uk": "Опис", "en": "Description"}, aliases=("опис",)),
        Field("sources", "text", {"uk": "Джерела", "en": "Sources"}, aliases=("джерела", "джерело", "source")),
        Field("wikidata", "text", {"uk": "Ідентифікатор Вікіданих", "en": "Wikidata id"}, aliases=("wikidata_id",)),
    ),
    popup=("name_uk", "significance", "register_no", "dating", "condition"),
    label_field="name_uk",
    style=CategoryStyle(field="significance", colors=SIGNIFICANCE_COLOURS, fill_opacity=0.8),
    categories=("damaged_heritage",),
    permissions=Permissions(edit=EDITORS, editing=Editing()),
    history="public",
    attribution="Державний реєстр географічних назв (land.gov.ua), gontsa/geonames-ua, CC BY 4.0",
    licence="CC BY 4.0",
    source="Державний реєстр нерухомих пам'яток; Державний реєстр географічних назв (gontsa/geonames-ua, 2018); "
           "паперова база культурного потенціалу громади",
)

HERITAGE_ZONES = Layer(
    name="heritage_zones",
    title={"uk": "Території та охоронні зони пам'яток", "en": "Heritage territories and protection zones"},
    description={"uk": "Межі території пам'ятки та її охоронної зони",
                 "en": "The monument's territory and protection zone"},
    geometry="MultiPolygon",
    table="heritage_zone",
    generated_table=True,
    fields=(
        Field("object_id", "integer", {"uk": "Пам'ятка (id)", "en": "Heritage object (id)"}, required=True,
              aliases=("object", "heritage_object_id")),
        Field("kind", "choice", {"uk": "Вид межі", "en": "Kind"}, required=True, choices=ZONE_KINDS,
              aliases=("вид",)),
        Field("name", "text", {"uk": "Назва", "en": "Name"}, aliases=("назва",)),
        Field("document", "text", {"uk": "Документ, що встановив межі", "en": "Document that set the boundary"},
              aliases=("документ",)),
    ),
    popup=("name", "kind", "document"),
    label_field="name",
    style=CategoryStyle(field="kind", colors=ZONE_COLOURS,
                        fill_opacity=0.1, dash_array="6 4"),
    permissions=Permissions(edit=EDITORS),
)

CULTURAL_POTENTIAL = Layer(
    name="cultural_potential",
    title={"uk": "Культурний потенціал: жива спадщина", "en": "Cultural potential: living heritage"},
    description={"uk": "Нематеріальна спадщина, прив'язана до місць: фестивалі, традиції, ремесла, кухня — і коли вони",
                 "en": "Intangible heritage tied to places: festivals, traditions, crafts, cuisine "
                       "— and their seasons"},
    geometry="Point",
    table="cultural_potential",
    generated_table=True,
    fields=(
        Field("name_uk", "text", {"uk": "Назва", "en": "Name (Ukrainian)"}, required=True, aliases=("назва", "name")),
        Field("name_en", "text", {"uk": "Назва англійською", "en": "Name"}, aliases=("name:en",)),
        Field("kind", "choice", {"uk": "Вид", "en": "Kind"}, required=True, choices=POTENTIAL_KINDS, aliases=("вид",)),
        # JSON list of SEASONS codes: a festival in summer, carols in winter, a craft all year.
        Field("seasons", "json", {"uk": "Пори року", "en": "Seasons"}, aliases=("сезон", "пори року")),
        Field("when_text", "text", {"uk": "Коли саме", "en": "When exactly"}, aliases=("коли", "when")),
        Field("description", "text", {"uk": "Опис", "en": "Description"}, aliases=("опис",)),
        Field("keeper", "text", {"uk": "Носій, організатор", "en": "Keeper, organiser"},
              aliases=("носій", "організатор")),
        Field("link", "text", {"uk": "Посилання", "en": "Link"}, aliases=("url", "посилання")),
    ),
    popup=("name_uk", "kind", "when_text", "keeper"),
    label_field="name_uk",
    style=Style(color=LIVING_HERITAGE_COLOUR, fill_opacity=0.8),
    permissions=Permissions(edit=EDITORS),
)

heritage_photo = sa.Table(
    "heritage_photo", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("object_id", sa.Integer, sa.ForeignKey("heritage_object.id", ondelete="CASCADE"), nullable=False),
    sa.Column("position", sa.SmallInteger, nullable=False),
    sa.Column("caption", sa.Text),
    sa.Column("author", sa.Text),
    sa.Column("licence", sa.Text),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),  # JPEG, EXIF stripped, ≤ 2048 px
    sa.Column("thumb", sa.LargeBinary, nullable=False),  # JPEG, ≤ 320 px
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.UniqueConstraint("object_id", "position"),
)

LAYERS = (HERITAGE_OBJECTS, HERITAGE_ZONES, CULTURAL_POTENTIAL)


def check_codes(values, allowed: dict, what: tuple[str, str]) -> list[str]:
    """A list of codes (or labels, in either language) as a list of codes; InvalidInput names
    the unknown ones. A comma-separated string is split."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [v for v in values.split(",") if v.strip()]
    lookup = {code.lower(): code for code in allowed}
    lookup.update({text.lower(): code for code, labels in allowed.items() for text in labels.values()})
    codes, unknown = [], []
    for value in values:
        code = lookup.get(str(value).strip().lower())
        if code is None:
            unknown.append(str(value))
        elif code not in codes:
            codes.append(code)
    if unknown:
        raise InvalidInput(f"{what[0]}: невідомі значення {', '.join(unknown)}; можливі: {', '.join(allowed)}",
                           f"{what[1]}: unknown values {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    return codes


def check_types(values) -> list[str]:
    """Heritage type codes (see :data:`HERITAGE_TYPES`)."""
    return check_codes(values, HERITAGE_TYPES, ("види пам'ятки", "heritage types"))


def check_seasons(values) -> list[str]:
    return check_codes(values, SEASONS, ("пори року", "seasons"))


def labels_of(codes, choices: dict, lang: str) -> str:
    """Codes of a JSON list field as the reader's words, comma-separated ("—" for none)."""
    words = [label(choices[c], lang) if c in choices else str(c) for c in (codes or [])]
    return ", ".join(words) or "—"


def heritage_object(conn: sa.Connection, object_id: int) -> dict:
    """One object's public fields with lon/lat, its zones (kind, area in m²) and photos (no bytes)."""
    row = conn.execute(sa.text("""
        SELECT o.*, ST_X(o.geom) AS lon, ST_Y(o.geom) AS lat, h.katottg
        FROM heritage_object o LEFT JOIN hromada h ON h.id = o.hromada_id WHERE o.id = :id"""),
        {"id": object_id}).mappings().first()
    if row is None:
        raise NotFound(f"Об'єкт спадщини {object_id} не знайдено", f"Heritage object {object_id} not found")
    out = {f.name: row[f.column_name] for f in HERITAGE_OBJECTS.public_fields}
    out.update(id=row["id"], lon=row["lon"], lat=row["lat"], katottg=row["katottg"], is_demo=row["is_demo"],
               source=row["source"])
    out["zones"] = [dict(z) for z in conn.execute(sa.text("""
        SELECT id, kind, name, document, ST_Area(geom::geography) AS area_m2
        FROM heritage_zone WHERE object_id = :id ORDER BY kind, id"""), {"id": object_id}).mappings()]
    out["photos"] = photos(conn, object_id)
    return out


def objects_in_hromada(conn: sa.Connection, hromada_id: int) -> list[dict]:
    """The hromada's heritage objects (public fields, lon/lat), by significance then name."""
    order = ", ".join(f"'{code}'" for code in SIGNIFICANCE)
    rows = conn.execute(sa.text(f"""
        SELECT o.*, ST_X(o.geom) AS lon, ST_Y(o.geom) AS lat,
               (SELECT count(*) FROM heritage_photo p WHERE p.object_id = o.id) AS photo_count
        FROM heritage_object o WHERE o.hromada_id = :h
        ORDER BY array_position(ARRAY[{order}], o.significance), o.name_uk, o.id"""), {"h": hromada_id}).mappings()
    return [{**{f.name: r[f.column_name] for f in HERITAGE_OBJECTS.public_fields},
             "id": r["id"], "lon": r["lon"], "lat": r["lat"], "is_demo": r["is_demo"],
             "photo_count": r["photo_count"]} for r in rows]


def potential_in_hromada(conn: sa.Connection, hromada_id: int) -> list[dict]:
    """The hromada's cultural-potential entries (public fields, lon/lat), by name."""
    rows = conn.execute(sa.text("""
        SELECT c.*, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat,
               (SELECT v.name_uk FROM settlement_at(c.hromada_id, c.geom) v) AS village
        FROM cultural_potential c WHERE c.hromada_id = :h ORDER BY c.name_uk, c.id"""), {"h": hromada_id}).mappings()
    return [{**{f.name: r[f.column_name] for f in CULTURAL_POTENTIAL.public_fields},
             "id": r["id"], "lon": r["lon"], "lat": r["lat"], "village": r["village"], "is_demo": r["is_demo"]}
            for r in rows]


# --- photos --------------------------------------------------------------------------------------

MAX_OBJECT_PHOTOS = 20


def add_photo(conn: sa.Connection, object_id: int, data: bytes, *, name: str = "photo",
              caption: str | None = None, author: str | None = None, licence: str | None = None) -> int:
    """Clean one photo (EXIF stripped) and add it after the object's others; returns its id.
    NotFound for an unknown object, InvalidInput for a file that is not a photo or one too many."""
    exists = conn.execute(sa.text("SELECT 1 FROM heritage_object WHERE id = :id FOR UPDATE"), {"id": object_id}).first()
    if exists is None:
        raise NotFound(f"Об'єкт спадщини {object_id} не знайдено", f"Heritage object {object_id} not found")
    return store_photo(conn, heritage_photo, "object_id", object_id, data, name=name, limit=MAX_OBJECT_PHOTOS,
                       caption=caption, author=author, licence=licence)


def photos(conn: sa.Connection, object_id: int) -> list[dict]:
    return [dict(r) for r in conn.execute(sa.select(
        heritage_photo.c.id, heritage_photo.c.position, heritage_photo.c.caption, heritage_photo.c.author,
        heritage_photo.c.licence, heritage_photo.c.width, heritage_photo.c.height)
        .where(heritage_photo.c.object_id == object_id).order_by(heritage_photo.c.position)).mappings()]


def photo_bytes(conn: sa.Connection, photo_id: int, thumb: bool = False) -> bytes:
    column = heritage_photo.c.thumb if thumb else heritage_photo.c.data
    data = conn.execute(sa.select(column).where(heritage_photo.c.id == photo_id)).scalar()
    if data is None:
        raise NotFound(f"Фото {photo_id} не знайдено", f"Photo {photo_id} not found")
    return bytes(data)
