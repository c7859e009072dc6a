"""The register of communal property: buildings, premises, land and networks the hromada owns.

Each object has its balance holder (a unit), use, area, condition, lease and documents. An
organisation that rents an object is public (a legal entity's name is not personal data); an
individual tenant (a ФОП is a natural person) is staff-only, and public views say only that the
object is leased, until when and for how much. The parcels an object stands on are found by
place (``parcels_under``), so the register never keeps a second copy of cadastral data
(``register`` lists their numbers).
"""
from __future__ import annotations

import sqlalchemy as sa

from gis.errors import InvalidInput
from layers.base import CategoryStyle, Editing, Field, Layer, Permissions, label

PROPERTY_TYPES = {
    "building": {"uk": "будівля", "en": "building"},
    "premises": {"uk": "приміщення", "en": "premises"},
    "land": {"uk": "земельна ділянка", "en": "land"},
    "network": {"uk": "мережі (вода, каналізація, освітлення, тепло)", "en": "networks (water, sewer, lighting, heat)"},
    "structure": {"uk": "споруда", "en": "structure"},
    "other": {"uk": "інше", "en": "other"},
}
CONDITIONS = {
    "good": {"uk": "добрий", "en": "good"},
    "fair": {"uk": "задовільний", "en": "fair"},
    "poor": {"uk": "незадовільний", "en": "poor"},
    "emergency": {"uk": "аварійний", "en": "emergency"},
    "destroyed": {"uk": "зруйнований", "en": "destroyed"},
    "unknown": {"uk": "невідомо", "en": "unknown"},
}
TENANT_KINDS = {
    "none": {"uk": "не орендовано", "en": "not leased"},
    "legal_entity": {"uk": "юридична особа", "en": "legal entity"},
    "individual": {"uk": "фізична особа (ФОП)", "en": "individual (sole trader)"},
}
CONDITION_COLOURS = {"good": "#2b8a3e", "fair": "#5c940d", "poor": "#e67700", "emergency": "#c92a2a",
                     "destroyed": "#495057", "unknown": "#868e96"}

COMMUNAL_PROPERTY = Layer(
    name="communal_property",
    title={"uk": "Комунальне майно", "en": "Communal property"},
    description={"uk": "Реєстр комунального майна громади: балансоутримувач, використання, площа, стан, оренда",
                 "en": "The hromada's communal property register: balance holder, use, area, condition, lease"},
    geometry="Point",
    table="communal_property",
    generated_table=True,
    fields=(
        Field("inventory_number", "text", {"uk": "Інвентарний номер", "en": "Inventory number"},
              aliases=("інвентарний номер", "інв. номер")),
        Field("name", "text", {"uk": "Назва", "en": "Name"}, required=True, aliases=("назва", "найменування")),
        Field("type", "choice", {"uk": "Тип", "en": "Type"}, required=True, choices=PROPERTY_TYPES, aliases=("тип",)),
        Field("address", "text", {"uk": "Адреса", "en": "Address"}, aliases=("адреса",)),
        Field("balance_holder_unit_id", "unit", {"uk": "Балансоутримувач", "en": "Balance holder"}),
        Field("use", "text", {"uk": "Використання", "en": "Use"}, aliases=("використання", "призначення")),
        Field("area_m2", "number", {"uk": "Площа, м²", "en": "Area, m²"}, aliases=("площа",), minimum=0),
        Field("condition", "choice", {"uk": "Стан", "en": "Condition"}, choices=CONDITIONS, aliases=("стан",)),
        Field("cadastral_number", "text", {"uk": "Кадастровий номер (для землі)", "en": "Cadastral number (land)"}),
        Field("tenant_kind", "choice", {"uk": "Орендар", "en": "Tenant"}, choices=TENANT_KINDS),
        Field("tenant_organisation", "text", {"uk": "Орендар (організація)", "en": "Tenant (organisation)"}),
        # A sole trader is a natural person: their name stays with staff.
        Field("tenant_person", "text", {"uk": "Орендар (фізична особа)", "en": "Tenant (individual)"}, public=False),
        Field("lease_start", "date", {"uk": "Оренда з", "en": "Lease from"}),
        Field("lease_end", "date", {"uk": "Оренда до", "en": "Lease until"}),
        Field("rent_uah_month", "number", {"uk": "Орендна плата, грн/міс.", "en": "Rent, UAH a month"}, minimum=0),
        Field("documents", "text", {"uk": "Документи", "en": "Documents"},
              aliases=("підстава", "рішення")),
    ),
    popup=("name", "type", "address", "balance_holder_unit_id", "use", "condition", "tenant_kind", "lease_end"),
    label_field="name",
    style=CategoryStyle(field="condition", colors=CONDITION_COLOURS, fill_opacity=0.9),
    # The register, leases included (tenant, lease_start/lease_end, rent), is kept by the hromada's admins.
    permissions=Permissions(edit=frozenset({"admin"}), editing=Editing()),
    history="public",  # an individual tenant stays staff-only there too
)
LAYERS = (COMMUNAL_PROPERTY,)

FILTERS = ("type", "condition", "tenant_kind", "balance_holder_unit_id")


def register(conn: sa.Connection, hromada_id: int, *, filters: dict | None = None, staff: bool = False,
             lang: str = "uk") -> list[dict]:
    """The register of a hromada, filtered by type, condition, tenant kind and balance holder.

    Public unless ``staff``: an individual tenant's name is never in a public row.
    """
    filters = {k: v for k, v in (filters or {}).items() if v not in (None, "")}
    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise InvalidInput(f"Невідомі фільтри: {', '.join(sorted(unknown))}",
                           f"Unknown filters: {', '.join(sorted(unknown))}")
    for name in ("type", "condition", "tenant_kind"):
        choices = COMMUNAL_PROPERTY.field(name).choices
        if name in filters and filters[name] not in choices:
            raise InvalidInput(f"{label(COMMUNAL_PROPERTY.field(name).label, 'uk')}: «{filters[name]}» — "
                               f"можна {', '.join(choices)}",
                               f"{name}: {filters[name]!r} — use one of {', '.join(choices)}")
    if "balance_holder_unit_id" in filters:
        try:
            filters["balance_holder_unit_id"] = int(filters["balance_holder_unit_id"])
        except (TypeError, ValueError):
            raise InvalidInput("Балансоутримувач: потрібен номер підрозділу",
                               "balance_holder_unit_id must be a number") from None
    where = " AND ".join(f"p.{name} = :{name}" for name in filters) or "TRUE"
    columns = [f.column_name for f in COMMUNAL_PROPERTY.visible_fields(staff)]
    rows = conn.execute(sa.text(f"""
        SELECT p.id, {', '.join('p.' + c for c in columns)}, p.is_demo, ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat,
               u.name_uk AS holder_uk, u.name_en AS holder_en,
               (SELECT string_agg(pa.cadastral_number, ', ' ORDER BY pa.cadastral_number) FROM parcel pa
                WHERE ST_Intersects(pa.geom, p.geom)) AS parcels
        FROM communal_property p LEFT JOIN unit u ON u.id = p.balance_holder_unit_id
        WHERE p.hromada_id = :h AND {where}
        ORDER BY p.type, p.name, p.id"""), {"h": hromada_id, **filters}).mappings()
    out = []
    for r in rows:
        item = dict(r)
        item["holder"] = r["holder_en"] or r["holder_uk"] if lang == "en" else r["holder_uk"]
        out.append(item)
    return out


def balance_holders(conn: sa.Connection, hromada_id: int) -> list[dict]:
    """The units that hold some of the hromada's property on their balance (id, names), by name."""
    rows = conn.execute(sa.text("""
        SELECT DISTINCT u.id, u.name_uk, u.name_en FROM unit u JOIN communal_property p
          ON p.balance_holder_unit_id = u.id WHERE p.hromada_id = :h ORDER BY u.name_uk"""),
        {"h": hromada_id}).mappings()
    return [dict(r) for r in rows]


def totals(rows: list[dict]) -> dict:
    """Counts by type and condition, leased objects and the yearly rent they bring."""
    by_type: dict[str, int] = {}
    by_condition: dict[str, int] = {}
    for r in rows:
        by_type[r["type"]] = by_type.get(r["type"], 0) + 1
        by_condition[r["condition"] or "unknown"] = by_condition.get(r["condition"] or "unknown", 0) + 1
    leased = [r for r in rows if r["tenant_kind"] in ("legal_entity", "individual")]
    return {"objects": len(rows), "by_type": by_type, "by_condition": by_condition, "leased": len(leased),
            "rent_uah_year": round(sum((r["rent_uah_month"] or 0) * 12 for r in leased), 2),
            "area_m2": round(sum(r["area_m2"] or 0 for r in rows), 1)}


def parcels_under(conn: sa.Connection, property_id: int) -> list[dict]:
    """The cadastral parcels the object stands on (by place), with their public facts."""
    rows = conn.execute(sa.text("""
        SELECT pa.id, pa.cadastral_number, pa.ownership_form FROM parcel pa JOIN communal_property p
          ON ST_Intersects(pa.geom, p.geom) WHERE p.id = :id ORDER BY pa.cadastral_number"""),
        {"id": property_id}).mappings()
    return [dict(r) for r in rows]
