"""Land inventory (issue #8): cadastral parcels, their rights and the state of their inventory.

A parcel's cadastral number is ``KOATUU(10):zone(2):quarter(3):parcel(4)`` (``0520688600:01:001:0001``);
:func:`cadastral_number_problem` checks it (also the KOATUU part's structure) for importers and
forms alike (``Field.check``), and a CHECK constraint keeps the format in the database. The parts
are generated columns. The *block* of QA checks (``layers.land_qa``) is the cadastral quarter: the
parcels sharing ``koatuu:zone:quarter``.

Area: the declared (documented) area is compared with the area of the drawn polygon, computed by
a trigger (``parcel_area``, migration 0014; it also fills in the hromada's KATOTTG when a source
gives none) on every write in the hromada's UCS-2000 TM zone —
``ST_Transform`` is not immutable, so a generated column cannot do it. A generated column flags a
difference above :data:`AREA_TOLERANCE_SHARE` of the declared area or :data:`AREA_TOLERANCE_M2`,
whichever is larger (1 % or 10 m²: the polygon of a small household plot drawn from a paper plan
is rarely closer than that; a bigger difference means the drawing or the document is wrong).

Personal data: the name of a natural person holding a parcel is staff-only (``public=False``):
no public page, API, tile, export or OGC answer ever carries it; the public sees the ownership
form and the holder's kind. A legal entity's name (a lessee company, a farm enterprise, a council)
is not personal data and is public — but only a name with an organisational-legal form (ТОВ, ФГ,
ДП, …, "… рада") is taken, so a bare person's name typed into the wrong column is refused.
Staff-only fields are seen by admins and unit staff (the land department's staff are unit staff;
a separate 'land' role would need a new role in ``gis.models.ROLES``).
"""
from __future__ import annotations

import re

import sqlalchemy as sa

from layers.base import CategoryStyle, Editing, Field, Layer, Permissions, label
from layers.tables import build_table

AREA_TOLERANCE_SHARE = 0.01  # of the declared area
AREA_TOLERANCE_M2 = 10.0  # at least this many square metres

CADASTRAL_PATTERN = r"^[0-9]{10}:[0-9]{2}:[0-9]{3}:[0-9]{4}$"
_CADASTRAL_RE = re.compile(CADASTRAL_PATTERN)
# The first two KOATUU digits: the oblast, Crimea, Kyiv (80) or Sevastopol (85).
OBLAST_CODES = frozenset({"01", "05", "07", "12", "14", "18", "21", "23", "26", "32", "35", "44", "46", "48",
                          "51", "53", "56", "59", "61", "63", "65", "68", "71", "73", "74", "80", "85"})
CADASTRAL_EXAMPLE = "0520688600:01:001:0001"


def cadastral_number_problem(value) -> dict | None:
    """Why ``value`` is not a Ukrainian cadastral number ({"uk", "en"}), or None when it is one.

    Format ``KOATUU(10):zone(2):quarter(3):parcel(4)``; the KOATUU part names a real oblast (or
    Kyiv, Sevastopol) and, below it, a city of oblast significance, a raion or a city district
    (its third digit 1, 2 or 3 — only Kyiv and Sevastopol themselves have 0 there); parcels are
    numbered from 0001.
    """
    text = str(value)
    if not _CADASTRAL_RE.match(text):
        return {"uk": f"кадастровий номер «{text}» має бути у вигляді КОАТУУ(10):зона(2):квартал(3):ділянка(4), "
                      f"наприклад {CADASTRAL_EXAMPLE}",
                "en": f"cadastral number {text!r} must be KOATUU(10):zone(2):quarter(3):parcel(4), "
                      f"e.g. {CADASTRAL_EXAMPLE}"}
    koatuu, _zone, _quarter, parcel = text.split(":")
    if koatuu[:2] not in OBLAST_CODES:
        return {"uk": f"кадастровий номер «{text}»: КОАТУУ починається з коду області, а {koatuu[:2]} — не код області",
                "en": f"cadastral number {text!r}: KOATUU starts with an oblast code, and {koatuu[:2]} is none"}
    special_city = koatuu[:2] in ("80", "85") and koatuu[2:] == "00000000"
    if not special_city and koatuu[2] not in "123":
        return {"uk": f"кадастровий номер «{text}»: третя цифра КОАТУУ ({koatuu[2]}) має бути 1 (місто обласного "
                      f"значення), 2 (район) або 3 (район міста)",
                "en": f"cadastral number {text!r}: the third KOATUU digit ({koatuu[2]}) must be 1 (city of oblast "
                      f"significance), 2 (raion) or 3 (city district)"}
    if parcel == "0000":
        return {"uk": f"кадастровий номер «{text}»: ділянки нумерують від 0001",
                "en": f"cadastral number {text!r}: parcels are numbered from 0001"}
    return None


# Land categories (Земельний кодекс України, ст. 19).
LAND_CATEGORIES = {
    "agricultural": {"uk": "землі сільськогосподарського призначення", "en": "agricultural land"},
    "residential_public": {"uk": "землі житлової та громадської забудови", "en": "residential and public development"},
    "nature_reserve": {"uk": "землі природно-заповідного та іншого природоохоронного призначення",
                       "en": "nature reserve and other nature protection"},
    "health": {"uk": "землі оздоровчого призначення", "en": "health (spa) land"},
    "recreation": {"uk": "землі рекреаційного призначення", "en": "recreation land"},
    "historical_cultural": {"uk": "землі історико-культурного призначення", "en": "historical and cultural land"},
    "forestry": {"uk": "землі лісогосподарського призначення", "en": "forestry land"},
    "water": {"uk": "землі водного фонду", "en": "water fund land"},
    "industry_transport": {"uk": "землі промисловості, транспорту, електронних комунікацій, енергетики, оборони та "
                                 "іншого призначення",
                           "en": "industry, transport, communications, energy, defence and other land"},
}

# КВЦПЗ (the classifier of land use purposes): a subset of its divisions. The code is
# "division.subdivision" (NN.NN); the section (category) follows from the division.
PURPOSE_DIVISIONS = {
    "01": "agricultural", "02": "residential_public", "03": "residential_public", "04": "nature_reserve",
    "05": "nature_reserve", "06": "health", "07": "recreation", "08": "historical_cultural", "09": "forestry",
    "10": "water", "11": "industry_transport", "12": "industry_transport", "13": "industry_transport",
    "14": "industry_transport", "15": "industry_transport", "16": None, "17": None, "18": None, "19": None,
}
PURPOSES = {
    "01.01": {"uk": "для ведення товарного сільськогосподарського виробництва",
              "en": "commercial agricultural production"},
    "01.02": {"uk": "для ведення фермерського господарства", "en": "a farm enterprise"},
    "01.03": {"uk": "для ведення особистого селянського господарства", "en": "a personal peasant farm"},
    "01.05": {"uk": "для індивідуального садівництва", "en": "individual gardening"},
    "01.07": {"uk": "для городництва", "en": "vegetable growing"},
    "01.08": {"uk": "для сінокосіння і випасання худоби", "en": "haymaking and grazing"},
    "02.01": {"uk": "для будівництва і обслуговування житлового будинку, господарських будівель і споруд "
                    "(присадибна ділянка)", "en": "a house with outbuildings (homestead plot)"},
    "02.03": {"uk": "для будівництва і обслуговування багатоквартирного житлового будинку",
              "en": "an apartment building"},
    "02.05": {"uk": "для будівництва індивідуальних гаражів", "en": "individual garages"},
    "03.01": {"uk": "для будівництва та обслуговування будівель органів державної влади та місцевого "
                    "самоврядування", "en": "buildings of state and local government"},
    "03.02": {"uk": "для будівництва та обслуговування будівель закладів освіти", "en": "educational buildings"},
    "03.03": {"uk": "для будівництва та обслуговування будівель закладів охорони здоров'я та соціальної допомоги",
              "en": "health care and social aid buildings"},
    "03.05": {"uk": "для будівництва та обслуговування будівель закладів культурно-просвітницького обслуговування",
              "en": "cultural buildings"},
    "03.07": {"uk": "для будівництва та обслуговування будівель торгівлі", "en": "shops"},
    "04.01": {"uk": "для збереження та використання біосферних заповідників", "en": "biosphere reserves"},
    "07.01": {"uk": "для будівництва та обслуговування об'єктів рекреаційного призначення",
              "en": "recreation facilities"},
    "07.02": {"uk": "для будівництва та обслуговування об'єктів фізичної культури і спорту", "en": "sports facilities"},
    "08.01": {"uk": "для забезпечення охорони об'єктів культурної спадщини", "en": "protection of cultural heritage"},
    "09.01": {"uk": "для ведення лісового господарства і пов'язаних з ним послуг", "en": "forestry"},
    "10.01": {"uk": "для експлуатації та догляду за водними об'єктами", "en": "upkeep of water bodies"},
    "10.07": {"uk": "для рибогосподарських потреб", "en": "fisheries"},
    "11.02": {"uk": "для розміщення та експлуатації будівель і споруд переробної, машинобудівної та іншої "
                    "промисловості", "en": "processing, engineering and other industry"},
    "12.04": {"uk": "для розміщення та експлуатації будівель і споруд автомобільного транспорту та дорожнього "
                    "господарства", "en": "road transport and roads"},
    "14.02": {"uk": "для розміщення, будівництва, експлуатації та обслуговування будівель і споруд об'єктів "
                    "передачі електричної енергії", "en": "power transmission"},
    "16.00": {"uk": "землі запасу", "en": "land reserve"},
    "18.00": {"uk": "землі загального користування", "en": "land of common use"},
}
_PURPOSE_RE = re.compile(r"^([0-9]{2})\.([0-9]{2})$")


def purpose_code_problem(value) -> dict | None:
    """Why ``value`` is not a КВЦПЗ purpose code (``NN.NN``, division 01–19), or None."""
    text = str(value)
    match = _PURPOSE_RE.match(text)
    if not match:
        return {"uk": f"код цільового призначення «{text}» має бути у вигляді NN.NN за КВЦПЗ, наприклад 02.01",
                "en": f"purpose code {text!r} must be NN.NN as in the КВЦПЗ classifier, e.g. 02.01"}
    if match.group(1) not in PURPOSE_DIVISIONS:
        return {"uk": f"код цільового призначення «{text}»: розділу {match.group(1)} у КВЦПЗ немає (01–19)",
                "en": f"purpose code {text!r}: the КВЦПЗ has no division {match.group(1)} (01–19)"}
    return None


def purpose_label(code: str | None, lang: str = "uk") -> str:
    """The purpose in words: the classifier's label, or the code alone when it is not in our subset."""
    if not code:
        return ""
    return f"{code} — {label(PURPOSES[code], lang)}" if code in PURPOSES else code


# Organisational-legal forms that make a name a legal entity's (not a natural person's).
ENTITY_FORMS = ("ТОВ", "ТзОВ", "ПП", "ПрАТ", "ПАТ", "АТ", "ДП", "КП", "ФГ", "СФГ", "СТОВ", "СВК", "ОК", "ГО",
                "ПТ", "КТ", "ДУ", "КУ", "КНП", "ДСГП")
_ENTITY_RE = re.compile(r"^(?:" + "|".join(ENTITY_FORMS) + r")\b|\b(?:рада|громада|товариство|підприємство|"
                        r"господарство|кооператив|установа|заклад|управління|служба|агенція|церква|громади|ради)\b",
                        re.IGNORECASE)


def entity_name_problem(value) -> dict | None:
    """A legal entity's name must show its legal form (ТОВ «…», ФГ «…», «… сільська рада»): a bare
    name might be a natural person's, which must not be published."""
    if _ENTITY_RE.search(str(value)):
        return None
    return {"uk": f"«{value}» не схоже на назву юридичної особи (немає ТОВ, ФГ, ДП, «рада»…); ім'я фізичної особи "
                  f"вносять у поле «Фізична особа (лише працівникам)»",
            "en": f"{value!r} does not look like a legal entity's name (no ТОВ, ФГ, ДП, 'рада'…); a natural person's "
                  f"name goes into 'Natural person (staff only)'"}


_KATOTTG_RE = re.compile(r"^UA[0-9]{17}$")


def katottg_problem(value) -> dict | None:
    if _KATOTTG_RE.match(str(value)):
        return None
    return {"uk": f"код КАТОТТГ «{value}» має бути UA і 17 цифр",
            "en": f"KATOTTG code {value!r} must be UA and 17 digits"}


OWNERSHIP_FORMS = {
    "state": {"uk": "державна", "en": "state"},
    "communal": {"uk": "комунальна", "en": "communal"},
    "private": {"uk": "приватна", "en": "private"},
}
RIGHT_TYPES = {
    "ownership": {"uk": "власність", "en": "ownership"},
    "permanent_use": {"uk": "постійне користування", "en": "permanent use"},
    "lease": {"uk": "оренда", "en": "lease"},
    "emphyteusis": {"uk": "емфітевзис", "en": "emphyteusis"},
    "superficies": {"uk": "суперфіцій", "en": "superficies"},
    "servitude": {"uk": "сервітут", "en": "servitude"},
}
HOLDER_KINDS = {
    "natural_person": {"uk": "фізична особа", "en": "natural person"},
    "legal_entity": {"uk": "юридична особа", "en": "legal entity"},
    "community": {"uk": "територіальна громада", "en": "the community"},
    "state": {"uk": "держава", "en": "the state"},
}
INVENTORY_STATUSES = {
    "not_inventoried": {"uk": "не інвентаризовано", "en": "not inventoried"},
    "in_progress": {"uk": "інвентаризація триває", "en": "in progress"},
    "done": {"uk": "інвентаризовано", "en": "done"},
    "mismatch": {"uk": "виявлено розбіжності", "en": "mismatch found"},
}
STATUS_COLOURS = {"done": "#2b8a3e", "in_progress": "#1c7ed6", "mismatch": "#c92a2a", "not_inventoried": "#868e96"}

_AREA_DIFF = "(area_declared_ha - area_computed_ha)"
AREA_MISMATCH_SQL = (f"(abs({_AREA_DIFF}) * 10000.0 > GREATEST({AREA_TOLERANCE_SHARE} * area_declared_ha * 10000.0, "
                     f"{AREA_TOLERANCE_M2}))")

PARCELS = Layer(
    name="parcels",
    tiles_as_points_below=14,
    title={"uk": "Земельні ділянки", "en": "Land parcels"},
    description={"uk": "Інвентаризація земель громади: кадастровий номер, категорія, цільове призначення, форма "
                       "власності, право, нормативна оцінка, обмеження, стан інвентаризації",
                 "en": "The hromada's land inventory: cadastral number, category, purpose, ownership form, right, "
                       "normative valuation, restrictions, inventory status"},
    geometry="MultiPolygon",
    table="parcel",
    generated_table=True,
    fields=(
        Field("cadastral_number", "text", {"uk": "Кадастровий номер", "en": "Cadastral number"}, required=True,
              aliases=("кадастровий номер", "кадастровий_номер", "cadnum", "cad_num", "kadnum"),
              check=cadastral_number_problem),
        Field("koatuu", "text", {"uk": "КОАТУУ (з кадастрового номера)", "en": "KOATUU (from the cadastral number)"},
              computed="split_part(cadastral_number, ':', 1)"),
        Field("cadastral_zone", "text", {"uk": "Кадастрова зона", "en": "Cadastral zone"},
              computed="split_part(cadastral_number, ':', 2)"),
        Field("cadastral_quarter", "text", {"uk": "Кадастровий квартал", "en": "Cadastral quarter"},
              computed="split_part(cadastral_number, ':', 3)"),
        Field("parcel_no", "text", {"uk": "Номер ділянки", "en": "Parcel number"},
              computed="split_part(cadastral_number, ':', 4)"),
        Field("katottg", "text", {"uk": "КАТОТТГ громади", "en": "KATOTTG of the hromada"}, aliases=("катоттг",),
              check=katottg_problem),
        Field("area_declared_ha", "number", {"uk": "Площа за документами, га", "en": "Declared area, ha"},
              aliases=("площа", "area", "площа_га"), minimum=0),
        # Set by the parcel_area trigger on every write, whatever a file or form says.
        Field("area_computed_ha", "number", {"uk": "Площа за межами (обчислена), га", "en": "Computed area, ha"}),
        Field("area_difference_ha", "number", {"uk": "Різниця площ, га", "en": "Area difference, ha"},
              computed=f"CAST(round(CAST({_AREA_DIFF} AS numeric), 4) AS double precision)"),
        Field("area_mismatch", "boolean", {"uk": "Площі розходяться (понад 1 % чи 10 м²)",
                                           "en": "Areas differ (over 1 % or 10 m²)"}, computed=AREA_MISMATCH_SQL),
        Field("land_category", "choice", {"uk": "Категорія земель", "en": "Land category"}, choices=LAND_CATEGORIES,
              aliases=("категорія", "category")),
        Field("purpose_code", "text", {"uk": "Цільове призначення (КВЦПЗ)", "en": "Purpose (КВЦПЗ code)"},
              aliases=("квцпз", "цільове призначення", "purpose"), check=purpose_code_problem),
        Field("purpose_division", "text", {"uk": "Розділ КВЦПЗ", "en": "КВЦПЗ division"},
              computed="split_part(purpose_code, '.', 1)"),
        Field("ownership_form", "choice", {"uk": "Форма власності", "en": "Ownership form"}, choices=OWNERSHIP_FORMS,
              aliases=("форма власності", "власність")),
        Field("right_type", "choice", {"uk": "Вид права", "en": "Right"}, choices=RIGHT_TYPES,
              aliases=("вид права", "право")),
        Field("holder_kind", "choice", {"uk": "Хто має право", "en": "Right holder"}, choices=HOLDER_KINDS,
              aliases=("суб'єкт права",)),
        Field("holder_entity", "text",
              {"uk": "Юридична особа (власник, користувач)", "en": "Legal entity (owner, user)"},
              aliases=("юридична особа", "орендар"), check=entity_name_problem),
        # Personal data: never public.
        Field("holder_person", "text", {"uk": "Фізична особа (лише працівникам)", "en": "Natural person (staff only)"},
              public=False, aliases=("власник", "фізична особа", "піб")),
        Field("lease_end", "date", {"uk": "Оренда до", "en": "Lease until"}, aliases=("оренда до",)),
        Field("normative_value_uah", "number",
              {"uk": "Нормативна грошова оцінка, грн", "en": "Normative valuation, UAH"},
              aliases=("нго", "нормативна оцінка"), minimum=0),
        Field("restrictions", "text", {"uk": "Обмеження, обтяження", "en": "Restrictions, encumbrances"},
              aliases=("обмеження",)),
        Field("inventory_status", "choice", {"uk": "Стан інвентаризації", "en": "Inventory status"}, required=True,
              choices=INVENTORY_STATUSES, aliases=("інвентаризація", "статус")),
        Field("status_date", "date", {"uk": "Дата стану", "en": "Status date"}, aliases=("дата",)),
        Field("staff_note", "text", {"uk": "Службова примітка", "en": "Internal note"}, public=False),
    ),
    popup=("cadastral_number", "land_category", "purpose_code", "ownership_form", "right_type", "holder_kind",
           "area_declared_ha", "area_computed_ha", "inventory_status", "status_date"),
    label_field="cadastral_number",
    style=CategoryStyle(field="inventory_status", colors=STATUS_COLOURS, weight=1, fill_opacity=0.5),
    # Names of natural persons: admins and the land department's (unit) staff, not planners.
    permissions=Permissions(edit=frozenset({"admin", "unit_staff"}),
                            staff_fields=frozenset({"admin", "unit_staff"}),
                            editing=Editing(server_fields=("area_computed_ha",))),
    history="staff",  # who held which parcel when: for the land staff only
    licence="CC BY 4.0",
    source="Інвентаризація земель громади / the hromada's land inventory",
)
LAYERS = (PARCELS,)

_table = build_table(PARCELS)
if not any(isinstance(c, sa.CheckConstraint) for c in _table.constraints):
    _table.append_constraint(sa.CheckConstraint(
        f"cadastral_number ~ '{CADASTRAL_PATTERN}'", name="cadastral_number_format"))
    _table.append_constraint(sa.CheckConstraint(
        "purpose_code IS NULL OR purpose_code ~ '^[0-9]{2}\\.[0-9]{2}$'", name="purpose_code_format"))
    _table.append_constraint(sa.CheckConstraint("area_declared_ha IS NULL OR area_declared_ha > 0",
                                                name="area_declared_positive"))
    sa.Index("ix_parcel_cadastral_number", _table.c.cadastral_number)

# --- inventory progress ----------------------------------------------------------------------------

_PROGRESS = """
    SELECT COALESCE(s.name_uk, '') AS village, p.inventory_status AS status,
           count(*) AS parcels, COALESCE(sum(p.area_computed_ha), 0) AS area_ha
    FROM parcel p
    LEFT JOIN LATERAL settlement_at(:h, p.geom) s ON true
    WHERE p.hromada_id = :h
    GROUP BY 1, 2"""


def _shares(by_status: dict[str, tuple[int, float]]) -> dict:
    parcels = sum(n for n, _ in by_status.values())
    area = sum(a for _, a in by_status.values())
    done_n, done_a = by_status.get("done", (0, 0.0))
    return {
        "parcels": parcels, "area_ha": round(area, 4),
        "parcels_done": done_n, "area_done_ha": round(done_a, 4),
        "share_parcels_done": (done_n / parcels) if parcels else None,
        "share_area_done": (done_a / area) if area else None,
        "by_status": {s: {"parcels": by_status.get(s, (0, 0.0))[0], "area_ha": round(by_status.get(s, (0, 0.0))[1], 4),
                          "share_area": (by_status.get(s, (0, 0.0))[1] / area) if area else None}
                      for s in INVENTORY_STATUSES},
    }


def inventory_progress(conn: sa.Connection, hromada_id: int) -> dict:
    """Inventory progress per village and for the whole hromada.

    A parcel belongs to the village containing a point on its surface (``ST_PointOnSurface``);
    parcels in no village are the row ``""`` (fields, forests). Per row: parcels and area (the
    computed area, ha) in all, done (status ``done``), their shares (None when there is nothing),
    and the parcels and area per status.
    """
    villages: dict[str, dict[str, tuple[int, float]]] = {}
    total: dict[str, tuple[int, float]] = {}
    for village, status, n, area in conn.execute(sa.text(_PROGRESS), {"h": hromada_id}):
        villages.setdefault(village, {})[status] = (n, float(area))
        count, sum_area = total.get(status, (0, 0.0))
        total[status] = (count + n, sum_area + float(area))
    return {"villages": {v: _shares(s) for v, s in sorted(villages.items())}, "total": _shares(total)}


def has_demo_parcels(conn: sa.Connection, hromada_id: int) -> bool:
    """Whether any of the hromada's parcels is demo data."""
    return bool(conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM parcel WHERE hromada_id = :h AND is_demo)"),
                             {"h": hromada_id}).scalar())


def parcel_hromada(conn: sa.Connection, parcel_id: int) -> dict | None:
    """The parcel's hromada: ``hromada_id`` and ``katottg``; None when there is no such parcel."""
    row = conn.execute(sa.text("SELECT p.hromada_id, h.katottg FROM parcel p "
                               "LEFT JOIN hromada h ON h.id = p.hromada_id WHERE p.id = :i"),
                       {"i": parcel_id}).mappings().first()
    return dict(row) if row else None
