"""Which unit must handle a report — explainably.

The rules, in order (the first that applies decides, and its reason is stored with the report):

1. **asset** — the report is attached to an asset (a lamp, a road segment), or an asset of the
   category's kind lies within the category's snap distance (default 25 m): the asset's own unit,
   else the unit ``asset_owner`` names for its owner class (a state road → the road service).
2. **area** — the unit whose service area for the category contains the point; the smallest
   area wins (a starosta district beats the whole hromada).
3. **default** — the unit that handles the category in the whole hromada (an assignment of scope
   ``hromada``); failing that, the hromada's default unit (``hromada_setup.default_unit_id``).

Before that: the hromada must take reports (``hromada_setup.enabled_at``, else 422), and the
category must be on there (a catalogue category not turned off in ``hromada_category``, or one of
the hromada's own); its target time is the hromada's, else the catalogue's. A point outside every
hromada, or a category no one handles there, is a 422 that says so. The set-up itself is written
by gis.hromada_setup.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from gis.errors import InvalidInput, Unprocessable

ASSET_KINDS = {
    "street_lamp": {"uk": "ліхтар", "en": "street lamp"},
    "road_segment": {"uk": "ділянку дороги", "en": "road segment"},
}
# Owner classes of roads (Ukrainian law "Про автомобільні дороги"): public roads of state importance
# (М, Н, Р, Т), of local importance — oblast (О) and district (С) — and settlements' streets.
# An asset without a unit of its own goes to the unit asset_owner names for its class.
OWNER_CLASSES = {
    "state": {"uk": "дорога державного значення", "en": "state road"},
    "regional": {"uk": "дорога обласного значення", "en": "oblast road"},
    "local": {"uk": "дорога районного значення", "en": "district road"},
    "communal": {"uk": "вулиця громади", "en": "hromada street"},
}


@dataclass(frozen=True)
class Route:
    hromada_id: int
    hromada_code: str
    category_id: int
    category_code: str
    target_days: int
    unit_id: int
    rule: str
    reason_uk: str
    reason_en: str
    asset_id: int | None = None
    premoderate: bool = False  # the category, in this hromada, holds new reports for approval


def check_point(lon, lat) -> tuple[float, float]:
    """Longitude and latitude as finite numbers in range; InvalidInput otherwise."""
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError):
        raise InvalidInput("Координати мають бути числами (широта й довгота)",
                           "Coordinates must be numbers (latitude and longitude)") from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90) or lon != lon or lat != lat:
        raise InvalidInput(
            f"Координати поза межами: широта {lat} (−90…90), довгота {lon} (−180…180)",
            f"Coordinates out of range: latitude {lat} (−90…90), longitude {lon} (−180…180)")
    return lon, lat


def hromada_at(conn: sa.Connection, lon: float, lat: float) -> sa.Row | None:
    """The hromada containing the point (the smallest one, should boundaries overlap)."""
    return conn.execute(sa.text("""
        SELECT id, katottg, name_uk, name_en FROM hromada
        WHERE ST_Intersects(boundary, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
        ORDER BY ST_Area(boundary) LIMIT 1"""), {"lon": lon, "lat": lat}).first()


def require_hromada(conn: sa.Connection, lon: float, lat: float) -> sa.Row:
    found = hromada_at(conn, lon, lat)
    if found is not None:
        return found
    if -90 <= lon <= 90 and hromada_at(conn, lat, lon) is not None:
        raise Unprocessable(
            f"Точка (широта {lat}, довгота {lon}) поза громадами; схоже, широту й довготу переплутано місцями",
            f"The point (latitude {lat}, longitude {lon}) is outside every hromada; "
            "latitude and longitude look swapped")
    raise Unprocessable(
        f"Точка (широта {lat}, довгота {lon}) не належить жодній громаді, що обслуговується тут",
        f"The point (latitude {lat}, longitude {lon}) is outside every hromada served here")


def _category(conn: sa.Connection, code: str, hromada_id: int | None = None) -> sa.Row:
    """The category ``code`` as it stands in the hromada: a catalogue category not turned off there,
    or one of the hromada's own; its target time the hromada's, else the catalogue's. Without a
    hromada: any active catalogue or local category. Unknown (or off) → InvalidInput."""
    row = conn.execute(sa.text("""
        SELECT c.id, c.code, c.name_uk, c.name_en, COALESCE(hc.target_days, c.target_days) AS target_days,
               c.asset_kind, c.snap_distance_m, COALESCE(hc.premoderate, c.premoderate) AS premoderate
        FROM category c LEFT JOIN hromada_category hc ON hc.category_id = c.id AND hc.hromada_id = :h
        WHERE c.code = :code AND c.is_active
          AND (CAST(:h AS integer) IS NULL OR
               ((c.hromada_id IS NULL OR c.hromada_id = :h) AND COALESCE(hc.enabled, true)))"""),
        {"code": code, "h": hromada_id}).first()
    if row is None:
        raise InvalidInput(f"Невідома категорія {code!r}", f"Unknown category {code!r}")
    return row


def require_enabled_hromada(conn: sa.Connection, hromada: sa.Row) -> None:
    """422 unless the operator has switched the hromada on (hromada_setup.enabled_at)."""
    enabled = conn.execute(sa.text("SELECT enabled_at IS NOT NULL FROM hromada_setup WHERE hromada_id = :h"),
                           {"h": hromada.id}).scalar()
    if not enabled:
        raise Unprocessable(f"Громада «{hromada.name_uk}» ще не приймає звернень",
                            f"{hromada.name_en or hromada.name_uk} does not take reports yet")


def route_report(conn: sa.Connection, lon, lat, category_code: str, asset_id: int | None = None, *,
                 require_enabled: bool = True) -> Route:
    """The unit for a report of ``category_code`` at the point (see the module's rules).

    ``require_enabled`` False only for the set-up console's preview, before the hromada goes live."""
    lon, lat = check_point(lon, lat)
    hromada = require_hromada(conn, lon, lat)
    if require_enabled:
        require_enabled_hromada(conn, hromada)
    cat = _category(conn, category_code, hromada.id)
    base = dict(hromada_id=hromada.id, hromada_code=hromada.katottg, category_id=cat.id,
                category_code=cat.code, target_days=cat.target_days, premoderate=cat.premoderate)

    asset = _asset(conn, hromada.id, cat, lon, lat, asset_id)
    if asset is not None and asset.responsible_unit_id is not None:
        kind = ASSET_KINDS.get(asset.kind, {"uk": asset.kind, "en": asset.kind})
        distance = f"{asset.distance_m:.0f}"
        owner = OWNER_CLASSES.get(asset.owner_class) if asset.owner_unit_id is None else None
        whose_uk = f" — {owner['uk']}," if owner else ""
        whose_en = f", a {owner['en']}," if owner else ""
        return Route(**base, unit_id=asset.responsible_unit_id, rule="asset", asset_id=asset.id,
                     reason_uk=f"{kind['uk'].capitalize()} №{asset.ref} (за {distance} м){whose_uk} "
                               f"обслуговує {asset.unit_uk}",
                     reason_en=f"{kind['en'].capitalize()} No. {asset.ref} ({distance} m away){whose_en} is "
                               f"maintained by {asset.unit_en or asset.unit_uk}")
    asset_ref = asset.id if asset else None

    # A starosta district's, some villages' or a drawn area (derived by gis.hromada_setup).
    area = conn.execute(sa.text("""
        SELECT u.id, u.name_uk, u.name_en
        FROM unit_category uc JOIN unit u ON u.id = uc.unit_id
        WHERE uc.category_id = :cat AND u.hromada_id = :h AND uc.area IS NOT NULL
          AND ST_Intersects(uc.area, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
        ORDER BY ST_Area(uc.area), uc.id LIMIT 1"""),
        {"cat": cat.id, "h": hromada.id, "lon": lon, "lat": lat}).first()
    if area is not None:
        return Route(**base, unit_id=area.id, rule="area", asset_id=asset_ref,
                     reason_uk=f"Місце в зоні обслуговування: {area.name_uk} (категорія «{cat.name_uk}»)",
                     reason_en=f"The place is in the service area of {area.name_en or area.name_uk} "
                               f"(category “{cat.name_en}”)")

    everywhere = conn.execute(sa.text("""
        SELECT u.id, u.name_uk, u.name_en
        FROM unit_category uc JOIN unit u ON u.id = uc.unit_id
        WHERE uc.category_id = :cat AND u.hromada_id = :h AND uc.scope = 'hromada'
        ORDER BY uc.id LIMIT 1"""), {"cat": cat.id, "h": hromada.id}).first()
    if everywhere is not None:
        return Route(**base, unit_id=everywhere.id, rule="default", asset_id=asset_ref,
                     reason_uk=f"{everywhere.name_uk} відповідає за категорію «{cat.name_uk}» у громаді "
                               f"«{hromada.name_uk}»",
                     reason_en=f"{everywhere.name_en or everywhere.name_uk} handles “{cat.name_en}” in "
                               f"{hromada.name_en or hromada.name_uk}")

    fallback = conn.execute(sa.text("""
        SELECT u.id, u.name_uk, u.name_en FROM hromada_setup s JOIN unit u ON u.id = s.default_unit_id
        WHERE s.hromada_id = :h"""), {"h": hromada.id}).first()
    if fallback is not None:
        return Route(**base, unit_id=fallback.id, rule="default", asset_id=asset_ref,
                     reason_uk=f"Категорію «{cat.name_uk}» тут не закріплено за жодним підрозділом; звернення "
                               f"отримує підрозділ громади за замовчуванням — {fallback.name_uk}",
                     reason_en=f"No unit is assigned “{cat.name_en}” here; the report goes to the hromada's "
                               f"default unit, {fallback.name_en or fallback.name_uk}")

    raise Unprocessable(
        f"Категорію «{cat.name_uk}» у громаді «{hromada.name_uk}» ніхто не обслуговує",
        f"No unit handles “{cat.name_en}” in {hromada.name_en or hromada.name_uk}")


def _asset(conn: sa.Connection, hromada_id: int, cat: sa.Row, lon: float, lat: float,
           asset_id: int | None) -> sa.Row | None:
    """The asset the report is attached to, or the nearest one of the category's kind in reach."""
    select = """
        SELECT a.id, a.kind, a.ref, a.owner_unit_id, a.owner_class, a.responsible_unit_id,
               u.name_uk AS unit_uk, u.name_en AS unit_en,
               ST_Distance(a.geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS distance_m
        FROM asset_responsible a LEFT JOIN unit u ON u.id = a.responsible_unit_id"""
    params = {"lon": lon, "lat": lat, "h": hromada_id}
    if asset_id is not None:
        row = conn.execute(sa.text(select + " WHERE a.id = :id AND a.hromada_id = :h"),
                           {**params, "id": asset_id}).first()
        if row is None:
            raise InvalidInput(f"Об'єкт {asset_id} не знайдено в цій громаді",
                               f"Asset {asset_id} is not in this hromada")
        if cat.asset_kind is not None and row.kind != cat.asset_kind:
            raise InvalidInput(f"Категорія «{cat.name_uk}» не стосується об'єкта виду {row.kind}",
                               f"Category “{cat.name_en}” does not apply to an asset of kind {row.kind}")
        return row
    if cat.asset_kind is None:
        return None
    # Nearest first with the KNN operator; the geography distance decides whether it is in reach.
    return conn.execute(sa.text(select + """
        WHERE a.kind = :kind AND a.hromada_id = :h
          AND ST_DWithin(a.geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :reach)
        ORDER BY a.geom <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) LIMIT 1"""),
        {**params, "kind": cat.asset_kind, "reach": cat.snap_distance_m}).first()


def categories_at(conn: sa.Connection, lon, lat) -> tuple[sa.Row, list[sa.Row]]:
    """The hromada at the point and the categories a report there would be accepted in (for the
    report form): exactly those route_report routes — none while the hromada does not take reports."""
    lon, lat = check_point(lon, lat)
    hromada = require_hromada(conn, lon, lat)
    rows = conn.execute(sa.text("""
        SELECT c.code, c.name_uk, c.name_en, c.asset_kind FROM category c
        LEFT JOIN hromada_category hc ON hc.category_id = c.id AND hc.hromada_id = :h
        WHERE c.is_active AND (c.hromada_id IS NULL OR c.hromada_id = :h) AND COALESCE(hc.enabled, true)
          AND EXISTS (SELECT 1 FROM hromada_setup s WHERE s.hromada_id = :h AND s.enabled_at IS NOT NULL)
          AND (
            EXISTS (SELECT 1 FROM unit_category uc JOIN unit u ON u.id = uc.unit_id
                    WHERE uc.category_id = c.id AND u.hromada_id = :h
                      AND (uc.scope = 'hromada' OR (uc.area IS NOT NULL AND ST_Intersects(
                           uc.area, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)))))
            OR EXISTS (SELECT 1 FROM hromada_setup s WHERE s.hromada_id = :h AND s.default_unit_id IS NOT NULL)
            -- as route_report: the nearest asset in reach decides, if it has a unit
            OR (SELECT a.responsible_unit_id FROM asset_responsible a
                WHERE a.kind = c.asset_kind AND a.hromada_id = :h
                  AND ST_DWithin(a.geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography,
                                 c.snap_distance_m)
                ORDER BY a.geom <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) LIMIT 1) IS NOT NULL)
        ORDER BY c.hromada_id NULLS FIRST, c.id"""), {"h": hromada.id, "lon": lon, "lat": lat}).all()
    return hromada, rows


def categories_in(conn: sa.Connection, hromada_id: int, code: str | None = None) -> list[sa.Row]:
    """The categories a report in the hromada may have somewhere (Open311's service list): on there,
    and handled by an assignment, an asset owner or the default unit; none while it takes no reports.
    Each with its target time in effect."""
    return conn.execute(sa.text("""
        SELECT c.id, c.code, c.name_uk, c.name_en, COALESCE(hc.target_days, c.target_days) AS target_days,
               c.asset_kind FROM category c
        LEFT JOIN hromada_category hc ON hc.category_id = c.id AND hc.hromada_id = :h
        WHERE c.is_active AND (c.hromada_id IS NULL OR c.hromada_id = :h) AND COALESCE(hc.enabled, true)
          AND (CAST(:code AS text) IS NULL OR c.code = :code)
          AND EXISTS (SELECT 1 FROM hromada_setup s WHERE s.hromada_id = :h AND s.enabled_at IS NOT NULL)
          AND (EXISTS (SELECT 1 FROM unit_category uc JOIN unit u ON u.id = uc.unit_id
                       WHERE uc.category_id = c.id AND u.hromada_id = :h)
               OR EXISTS (SELECT 1 FROM hromada_setup s WHERE s.hromada_id = :h AND s.default_unit_id IS NOT NULL)
               OR EXISTS (SELECT 1 FROM asset_responsible a WHERE a.kind = c.asset_kind AND a.hromada_id = :h
                          AND a.responsible_unit_id IS NOT NULL))
        ORDER BY c.hromada_id NULLS FIRST, c.id"""), {"h": hromada_id, "code": code}).all()


ASSET_CHOICE_METRES = 100


def category_asset_kind(conn: sa.Connection, category_code: str) -> str | None:
    """The kind of asset (``ASSET_KINDS``) a category is about; None for one about no asset, or no
    such category."""
    return conn.execute(sa.text("SELECT asset_kind FROM category WHERE code = :c"), {"c": category_code}).scalar()


def assets_near(conn: sa.Connection, lon, lat, category_code: str, metres: int = ASSET_CHOICE_METRES) -> list[dict]:
    """Assets the category is about within ``metres`` of the point, nearest first — for a resident
    to say which lamp is out. Empty for a category that is not about assets."""
    lon, lat = check_point(lon, lat)
    cat = _category(conn, category_code)
    if cat.asset_kind is None:
        return []
    rows = conn.execute(sa.text("""
        SELECT a.id, a.ref, a.name,
               ST_Distance(a.geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS metres
        FROM asset a
        WHERE a.kind = :kind
          AND ST_DWithin(a.geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :m)
        ORDER BY a.geom <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) LIMIT 20"""),
        {"lon": lon, "lat": lat, "kind": cat.asset_kind, "m": metres}).all()
    return [{"id": r.id, "ref": r.ref, "name": r.name, "distance_m": round(r.metres)} for r in rows]
