"""Accessible venues: measured accessibility facts, ratings per need profile, search by one's needs.

Facts follow A11yJSON and the OSM accessibility tags, and are stored as measured values (step
count and height in cm, door width in cm, ramp slope in %), not only yes/no. From them the
database derives, for each need profile, a rating — fully / partially / not accessible / unknown
— and the code of the rule that decided it (generated columns, so every write path keeps them
right and the search can filter and sort by them with an index). :func:`reason_text` turns the
code into words: "1 сходинка 12 см без пандуса".

The wheelchair rating follows the common yes / limited / no convention (Wheelmap, OSM
``wheelchair=*``): step-free → yes; one step of at most 7 cm → limited; more, or higher, with no
ramp → no. Door widths follow DBN В.2.2-40:2018 (at least 90 cm; under 70 cm no wheelchair
passes). Ramps steeper than 8 % (1:12) are limited, steeper than 12 % unusable. Where a venue has
no measured entrance facts, an OSM ``wheelchair=*`` value stands in, and the reason says so.
"""
from __future__ import annotations

import re
from dataclasses import replace

from layers.base import CategoryStyle, Field, Layer, Permissions, label
from layers.venues_osm import VENUES_OSM

RATINGS = {
    "fully": {"uk": "повністю доступно", "en": "fully accessible"},
    "partially": {"uk": "частково доступно", "en": "partially accessible"},
    "no": {"uk": "недоступно", "en": "not accessible"},
    "unknown": {"uk": "невідомо", "en": "unknown"},
}
RATING_COLOURS = {"fully": "#2b8a3e", "partially": "#e67700", "no": "#c92a2a", "unknown": "#868e96"}

PROFILES = {
    "wheelchair": {"uk": "користувач візка", "en": "wheelchair user"},
    "walking": {"uk": "з милицями, ходунками чи палицею", "en": "walking aid"},
    "blind": {"uk": "незрячі та слабозорі", "en": "blind or low vision"},
    "deaf": {"uk": "глухі та слабочуючі", "en": "deaf or hard of hearing"},
}

CATEGORIES = {
    "administrative": {"uk": "ЦНАП, адміністративні послуги", "en": "administrative services"},
    "government": {"uk": "рада, орган влади", "en": "council, government office"},
    "medical": {"uk": "медичний заклад", "en": "medical"},
    "pharmacy": {"uk": "аптека", "en": "pharmacy"},
    "shop": {"uk": "магазин", "en": "shop"},
    "school": {"uk": "школа, садок", "en": "school, kindergarten"},
    "culture": {"uk": "культура: клуб, бібліотека, музей", "en": "culture: club, library, museum"},
    "transport_stop": {"uk": "зупинка транспорту", "en": "transport stop"},
    "post_bank": {"uk": "пошта, банк", "en": "post office, bank"},
    "food": {"uk": "кафе, їдальня", "en": "café, canteen"},
    "sport": {"uk": "спорт", "en": "sport"},
    "religious": {"uk": "храм", "en": "place of worship"},
    "other": {"uk": "інше", "en": "other"},
}
RAMPS = {
    "none": {"uk": "немає", "en": "none"},
    "fixed": {"uk": "стаціонарний", "en": "fixed"},
    "removable": {"uk": "знімний (за викликом)", "en": "removable (on request)"},
}
OSM_WHEELCHAIR = {
    "yes": {"uk": "так", "en": "yes"},
    "limited": {"uk": "обмежено", "en": "limited"},
    "no": {"uk": "ні", "en": "no"},
}

# --- the rules, as SQL over the venue's own columns (generated columns must be immutable) -------

_STEPS = "(CASE WHEN entrance_level THEN 0 ELSE entrance_steps END)"
_NO_RAMP = "(ramp IS NULL OR ramp = 'none')"
_CM = "COALESCE(round({0})::int::text, '')"  # a measured value as a reason parameter

WHEELCHAIR_RULES = f"""CASE
    WHEN {_STEPS} > 0 AND {_NO_RAMP} AND ({_STEPS} > 1 OR COALESCE(step_height_cm, 99) > 7)
        THEN 'no|steps:' || {_STEPS} || ':' || {_CM.format('step_height_cm')}
    WHEN ramp = 'fixed' AND ramp_slope_percent > 12 THEN 'no|ramp_steep:' || {_CM.format('ramp_slope_percent')}
    WHEN door_width_cm < 70 THEN 'no|door_narrow:' || {_CM.format('door_width_cm')}
    WHEN {_STEPS} = 1 AND {_NO_RAMP} THEN 'partially|one_low_step:' || {_CM.format('step_height_cm')}
    WHEN {_STEPS} > 0 AND ramp = 'removable' THEN 'partially|ramp_removable'
    WHEN ramp = 'fixed' AND ramp_slope_percent > 8 THEN 'partially|ramp_slope:' || {_CM.format('ramp_slope_percent')}
    WHEN door_width_cm < 90 AND ({_STEPS} IS NOT NULL OR ramp IS NOT NULL)
        THEN 'partially|door_under_90:' || {_CM.format('door_width_cm')}
    WHEN {_STEPS} = 0 OR ramp = 'fixed' THEN 'fully|step_free'
    WHEN wheelchair_osm = 'yes' THEN 'fully|osm:yes'
    WHEN wheelchair_osm = 'limited' THEN 'partially|osm:limited'
    WHEN wheelchair_osm = 'no' THEN 'no|osm:no'
    ELSE 'unknown|no_entrance_data' END"""

WALKING_RULES = f"""CASE
    WHEN {_STEPS} > 3 AND {_NO_RAMP} THEN 'no|steps_many:' || {_STEPS}
    WHEN {_STEPS} BETWEEN 1 AND 3 AND {_NO_RAMP} THEN 'partially|steps_few:' || {_STEPS}
    WHEN {_STEPS} = 0 OR ramp IN ('fixed', 'removable') THEN 'fully|step_free'
    WHEN wheelchair_osm = 'yes' THEN 'fully|osm:yes'
    WHEN wheelchair_osm = 'limited' THEN 'partially|osm:limited'
    ELSE 'unknown|no_entrance_data' END"""

_BLIND_SOME = ("(CASE WHEN tactile_paving THEN 'tactile,' ELSE '' END || CASE WHEN braille THEN 'braille,' "
               "ELSE '' END || CASE WHEN audio_info THEN 'audio,' ELSE '' END || CASE WHEN staff_assistance "
               "THEN 'staff,' ELSE '' END)")
BLIND_RULES = f"""CASE
    WHEN tactile_paving IS NULL AND braille IS NULL AND audio_info IS NULL AND staff_assistance IS NULL
        THEN 'unknown|no_data'
    WHEN audio_info AND (tactile_paving OR braille) THEN 'fully|blind_full:' || {_BLIND_SOME}
    WHEN tactile_paving OR braille OR audio_info OR staff_assistance THEN 'partially|some:' || {_BLIND_SOME}
    ELSE 'no|none_blind' END"""

_DEAF_SOME = ("(CASE WHEN induction_loop THEN 'loop,' ELSE '' END || CASE WHEN sign_language THEN 'sign,' "
              "ELSE '' END || CASE WHEN visual_info THEN 'visual,' ELSE '' END)")
DEAF_RULES = f"""CASE
    WHEN induction_loop IS NULL AND sign_language IS NULL AND visual_info IS NULL THEN 'unknown|no_data'
    WHEN visual_info AND (induction_loop OR sign_language) THEN 'fully|deaf_full:' || {_DEAF_SOME}
    WHEN induction_loop OR sign_language OR visual_info THEN 'partially|some:' || {_DEAF_SOME}
    ELSE 'no|none_deaf' END"""

RULES = {"wheelchair": WHEELCHAIR_RULES, "walking": WALKING_RULES, "blind": BLIND_RULES, "deaf": DEAF_RULES}

# Each rule yields "rating|reason": two generated columns per profile read it.
_rating_fields = []
for _profile, _rules in RULES.items():
    _rating_fields += [
        Field(f"rating_{_profile}", "choice", {"uk": f"Доступність: {PROFILES[_profile]['uk']}",
                                               "en": f"Accessibility: {PROFILES[_profile]['en']}"},
              choices=RATINGS, computed=f"split_part({_rules}, '|', 1)"),
        Field(f"reason_{_profile}", "text", {"uk": f"Чому так ({PROFILES[_profile]['uk']})",
                                             "en": f"Why ({PROFILES[_profile]['en']})"},
              computed=f"split_part({_rules}, '|', 2)"),
    ]


def _yes(name: str, uk: str, en: str, *aliases: str) -> Field:
    return Field(name, "boolean", {"uk": uk, "en": en}, aliases=aliases)


def _cm(name: str, uk: str, en: str, *aliases: str) -> Field:
    return Field(name, "number", {"uk": uk, "en": en}, aliases=aliases)


def _under(group: str, *fields: Field) -> tuple[Field, ...]:
    """``fields`` under the heading ``group`` (an i18n key) on the venue page and form."""
    return tuple(replace(f, group=group) for f in fields)


VENUES = Layer(
    name="venues",
    title={"uk": "Доступність закладів", "en": "Accessible venues"},
    description={"uk": "Заклади з виміряними умовами доступності: вхід, двері, пандус, туалет, паркування, "
                       "допомога персоналу, інформація для незрячих і глухих",
                 "en": "Venues with measured accessibility: entrance, door, ramp, toilet, parking, staff help, "
                       "information for blind and deaf people"},
    geometry="Point",
    table="venue",
    generated_table=True,
    fields=(
        *_under("facts_general",
                Field("name", "text", {"uk": "Назва", "en": "Name"}, required=True, aliases=("назва", "name:uk")),
                Field("category", "choice", {"uk": "Категорія", "en": "Category"}, required=True,
                      choices=CATEGORIES, aliases=("категорія", "тип")),
                Field("address", "text", {"uk": "Адреса", "en": "Address"}, aliases=("адреса",)),
                Field("opening_hours", "text", {"uk": "Години роботи", "en": "Opening hours"},
                      aliases=("години",))),
        *_under("facts_entrance",  # A11yJSON Entrance
                _yes("entrance_level", "Вхід без сходинок", "Step-free entrance", "isLevel"),
                Field("entrance_steps", "integer", {"uk": "Сходинок на вході", "en": "Steps at the entrance"},
                      aliases=("сходинок", "step_count")),
                _cm("step_height_cm", "Висота сходинки (порога), см", "Step (threshold) height, cm", "поріг_см"),
                Field("ramp", "choice", {"uk": "Пандус", "en": "Ramp"}, choices=RAMPS, aliases=("пандус",)),
                _cm("ramp_slope_percent", "Ухил пандуса, %", "Ramp slope, %", "ухил"),
                _cm("door_width_cm", "Ширина дверей, см", "Door width, cm", "ширина_дверей"),
                _yes("door_automatic", "Автоматичні двері", "Automatic door"),
                _yes("doorbell", "Кнопка виклику", "Doorbell / call button", "кнопка_виклику")),
        *_under("facts_toilet",  # A11yJSON Restroom
                _yes("toilet_accessible", "Доступний туалет", "Accessible toilet", "toilets:wheelchair"),
                _cm("toilet_door_width_cm", "Ширина дверей туалету, см", "Toilet door width, cm"),
                _cm("toilet_turning_cm", "Простір для розвороту в туалеті, см", "Turning space in the toilet, cm"),
                _yes("toilet_grab_bars", "Поручні в туалеті", "Grab bars in the toilet")),
        *_under("facts_parking",
                Field("parking_count", "integer",
                      {"uk": "Місць для людей з інвалідністю", "en": "Disabled parking spaces"}),
                _cm("parking_distance_m", "Від паркування до входу, м", "Parking to entrance, m")),
        *_under("facts_people",  # help, and information for blind and deaf people
                _yes("staff_assistance", "Персонал допоможе", "Staff will help", "допомога"),
                _yes("sign_language", "Жестова мова", "Sign language"),
                _yes("induction_loop", "Індукційна петля", "Induction loop", "hearing_loop"),
                _yes("tactile_paving", "Тактильна плитка", "Tactile paving"),
                _yes("braille", "Шрифт Брайля", "Braille"),
                _yes("audio_info", "Звукова інформація", "Audio information"),
                _yes("visual_info", "Візуальна інформація (табло, субтитри)",
                     "Visual information (displays, captions)")),
        Field("wheelchair_osm", "choice", {"uk": "Позначка OSM wheelchair", "en": "OSM wheelchair tag"},
              choices=OSM_WHEELCHAIR, aliases=("wheelchair",)),
        *_under("facts_general",
                Field("access_note", "text", {"uk": "Опис доступності", "en": "Accessibility notes"},
                      aliases=("wheelchair:description:uk", "wheelchair:description"))),
        Field("surveyed_on", "date", {"uk": "Обстежено", "en": "Surveyed on"}, aliases=("дата_обстеження",)),
        Field("surveyed_by", "text", {"uk": "Хто обстежив (організація)", "en": "Surveyed by (organisation)"},
              aliases=("обстежив",)),
        Field("osm_id", "text", {"uk": "Ідентифікатор OSM", "en": "OSM id"}),
        *_rating_fields,
    ),
    popup=("name", "category", "address", "rating_wheelchair", "reason_wheelchair", "rating_blind", "rating_deaf"),
    label_field="name",
    style=CategoryStyle(field="rating_wheelchair", colors=RATING_COLOURS, fill_opacity=0.9),
    categories=("accessibility_barrier",),
    permissions=Permissions(edit=frozenset({"admin", "unit_staff"})),
    history="public",
    osm=VENUES_OSM,  # hromada import venues extract.osm.pbf (layers/venues_osm.py)
)

LAYERS = (VENUES,)

# --- reasons in words ------------------------------------------------------------------------------

_FACILITIES = {
    "tactile": {"uk": "тактильна плитка", "en": "tactile paving"},
    "braille": {"uk": "шрифт Брайля", "en": "Braille"},
    "audio": {"uk": "звукова інформація", "en": "audio information"},
    "staff": {"uk": "допомога персоналу", "en": "staff help"},
    "loop": {"uk": "індукційна петля", "en": "induction loop"},
    "sign": {"uk": "жестова мова", "en": "sign language"},
    "visual": {"uk": "візуальна інформація", "en": "visual information"},
}


def _steps(n: int, uk: bool) -> str:
    """"3 сходинки", "1 step": the plural forms come from the interface catalogues (webmap/translations)."""
    from webmap.i18n import tn

    return tn("a11y_steps", n, "uk" if uk else "en")


def reason_text(code: str | None, lang: str = "uk") -> str:
    """The rule that decided a rating, in words: 'steps:1:12' → '1 сходинка 12 см без пандуса'."""
    if not code:
        return ""
    kind, _, rest = code.partition(":")
    args = rest.split(":") if rest else []
    uk = lang != "en"
    if kind == "steps":
        n, height = int(args[0]), args[1] if len(args) > 1 else ""
        if uk:
            size = f" {height} см" if height else " (висоту не виміряно)"
            return f"{_steps(n, uk)}{size} без пандуса"
        return f"{_steps(n, uk)}{f' of {height} cm' if height else ' (height not measured)'}, no ramp"
    if kind == "one_low_step":
        return (f"один поріг {args[0]} см без пандуса (до 7 см)" if uk
                else f"one low step of {args[0]} cm, no ramp (7 cm at most)")
    if kind == "ramp_steep":
        return (f"пандус надто крутий: {args[0]} % (більше 12 %)" if uk
                else f"the ramp is too steep: {args[0]} % (over 12 %)")
    if kind == "ramp_slope":
        return f"пандус крутий: {args[0]} % (більше 8 %)" if uk else f"steep ramp: {args[0]} % (over 8 %)"
    if kind == "ramp_removable":
        return "знімний пандус — треба покликати персонал" if uk else "removable ramp — staff must be called"
    if kind == "door_narrow":
        return (f"двері {args[0]} см — візок не пройде (менше 70 см)" if uk
                else f"door {args[0]} cm — too narrow for a wheelchair (under 70 cm)")
    if kind == "door_under_90":
        return f"двері {args[0]} см (норма — 90 см)" if uk else f"door {args[0]} cm (the standard is 90 cm)"
    if kind == "step_free":
        return "вхід без сходинок або з пологим пандусом" if uk else "step-free entrance or a gentle ramp"
    if kind in ("steps_many", "steps_few"):
        return f"{_steps(int(args[0]), uk)} без пандуса" if uk else f"{_steps(int(args[0]), uk)}, no ramp"
    if kind == "osm":
        value = label(OSM_WHEELCHAIR.get(args[0], {"uk": args[0], "en": args[0]}), lang)
        return (f"вхід не обстежено; за позначкою OpenStreetMap: {value}" if uk
                else f"entrance not surveyed; OpenStreetMap says: {value}")
    if kind == "no_entrance_data":
        return "про вхід нічого не відомо" if uk else "nothing is known about the entrance"
    if kind == "no_data":
        return "даних немає" if uk else "no data"
    if kind in ("blind_full", "deaf_full", "some"):
        have = [label(_FACILITIES[k], lang) for k in (args[0] if args else "").split(",") if k in _FACILITIES]
        listed = ", ".join(have)
        return (f"є: {listed}" if uk else f"has: {listed}") if have else ""
    if kind == "none_blind":
        return ("немає ні тактильної плитки, ні Брайля, ні звукової інформації, ні допомоги"
                if uk else "no tactile paving, Braille, audio information or staff help")
    if kind == "none_deaf":
        return ("немає ні індукційної петлі, ні жестової мови, ні візуальної інформації"
                if uk else "no induction loop, sign language or visual information")
    return code


def ratings(venue: dict, lang: str = "uk") -> list[dict]:
    """Per profile: the rating code and label and the reason in words, for one venue row."""
    return [{"profile": p, "profile_label": label(PROFILES[p], lang), "rating": venue[f"rating_{p}"],
             "rating_label": label(RATINGS[venue[f"rating_{p}"]], lang),
             "reason": reason_text(venue[f"reason_{p}"], lang)} for p in PROFILES]

# --- search: venues that fit one's needs, nearest first --------------------------------------------

SEARCH_LIMIT_MAX = 100
SEARCH_RADIUS_M = 20_000  # "near": within a hromada's reach by bus; the caller may widen it
SEARCH_RADIUS_MAX_M = 100_000


def accepted_ratings(include_partial: bool) -> list[str]:
    return ["fully", "partially"] if include_partial else ["fully"]


def check_profile(profile: str) -> str:
    from gis.errors import InvalidInput

    if profile not in PROFILES:
        raise InvalidInput(f"Профіль «{profile}» невідомий; можна: {', '.join(PROFILES)}",
                           f"Unknown profile {profile!r}; use one of: {', '.join(PROFILES)}")
    return profile


def search_sql(profile: str) -> str:
    """The search as SQL (the HTTP endpoint and the benchmark's reference run the same text).

    Nearest first on the sphere through the geography KNN index (ix_venue_geog); ``profile`` must be
    checked (:func:`check_profile`) — it names the rating column.
    """
    check_profile(profile)
    # The radius is applied to the nearest ``limit`` venues that fit, not inside the scan: the same
    # answer (those within the radius are a prefix of the nearest-first order), and the planner then
    # always walks the KNN index — with ST_DWithin in the WHERE it guessed one row would pass and chose
    # a parallel sequential scan for every custom plan, i.e. the first searches on each connection.
    return f"""
        SELECT * FROM (
            SELECT id, name, category, address, opening_hours, rating_{profile} AS rating,
                   reason_{profile} AS reason, ST_X(geom) AS lon, ST_Y(geom) AS lat, is_demo,
                   ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS metres
            FROM venue
            WHERE rating_{profile} = ANY(:ratings) AND (CAST(:category AS text) IS NULL OR category = :category)
            ORDER BY geom::geography <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography
            LIMIT :limit) AS nearest
        WHERE metres <= :radius
        ORDER BY metres"""


def find_venues(conn, lon, lat, profile: str, *, category: str | None = None, include_partial: bool = False,
                limit: int = 20, radius_m: float = SEARCH_RADIUS_M, lang: str = "uk") -> list[dict]:
    """Venues within ``radius_m`` that fit ``profile`` (fully, or also partially), of a category if
    given, nearest first, each with its distance in metres and the reason for its rating in words."""
    import sqlalchemy as sa

    from gis.errors import InvalidInput
    from gis.routing import check_point

    lon, lat = check_point(lon, lat)
    if category is not None and category not in CATEGORIES:
        raise InvalidInput(f"Категорія «{category}» невідома; можна: {', '.join(CATEGORIES)}",
                           f"Unknown category {category!r}; use one of: {', '.join(CATEGORIES)}")
    if not 1 <= limit <= SEARCH_LIMIT_MAX:
        raise InvalidInput(f"limit має бути від 1 до {SEARCH_LIMIT_MAX}", f"limit must be 1 to {SEARCH_LIMIT_MAX}")
    if not 0 < radius_m <= SEARCH_RADIUS_MAX_M:
        raise InvalidInput(f"radius має бути від 1 до {SEARCH_RADIUS_MAX_M} м",
                           f"radius must be 1 to {SEARCH_RADIUS_MAX_M} m")
    rows = conn.execute(sa.text(search_sql(profile)), {
        "lon": lon, "lat": lat, "ratings": accepted_ratings(include_partial), "category": category,
        "limit": limit, "radius": radius_m}).mappings()
    found = [{"id": r["id"], "name": r["name"], "category": r["category"],
              "category_label": label(CATEGORIES.get(r["category"], {"uk": r["category"]}), lang),
              "address": r["address"], "opening_hours": r["opening_hours"], "rating": r["rating"],
              "rating_label": label(RATINGS[r["rating"]], lang), "reason": reason_text(r["reason"], lang),
              "distance_m": round(r["metres"]), "lon": r["lon"], "lat": r["lat"], "demo": r["is_demo"]}
             for r in rows]
    if category in (None, "transport_stop"):
        # Public transport stops that fit the profile (layers.transit: GTFS wheelchair boarding, the
        # survey's tactile paving), each linking to its page.
        from layers.transit import accessible_stops

        found = sorted(found + accessible_stops(conn, lon, lat, limit=limit, radius_m=radius_m, lang=lang,
                                                profile=profile),
                       key=lambda v: v["distance_m"])[:limit]
    return found


def place_for(conn, text: str) -> tuple[float, float, str]:
    """Where "near …" means, as (lon, lat, label): the address, street or village the text names
    (layers.places, typo-tolerant), else the venue whose registered address contains the text.

    InvalidInput for an empty text; layers.places.PlaceNotFound (a NotFound) with the closest places,
    for the page to offer, when neither finds it.
    """
    import sqlalchemy as sa

    from layers import places

    try:
        found = places.place_for(conn, text)
    except places.PlaceNotFound:
        row = conn.execute(sa.text("""
            SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat, address AS name FROM venue
            WHERE address ILIKE :pattern ESCAPE '\\' ORDER BY length(address) LIMIT 1"""),
            {"pattern": "%" + re.sub(r"([\\%_])", r"\\\1", text.strip().replace("\x00", "")) + "%"}).first()
        if row is None:
            raise
        return row.lon, row.lat, row.name
    return found["lon"], found["lat"], found["label"]


def venue(conn, venue_id: int) -> dict:
    """Every column of a venue, with its point as ``lon`` and ``lat``; NotFound when there is none."""
    import sqlalchemy as sa

    from gis.errors import NotFound

    row = conn.execute(sa.text("SELECT *, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM venue WHERE id = :id"),
                       {"id": venue_id}).mappings().first()
    if row is None:
        raise NotFound(f"Заклад {venue_id} не знайдено", f"Venue {venue_id} not found")
    return dict(row)
