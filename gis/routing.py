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

from gis import direct_sql
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
    unit_uk: str = ""  # the chosen unit's name
    unit_en: str | None = None
    category_uk: str = ""  # the category's name
    category_en: str = ""


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
        raise not_taking_reports(hromada)


def not_taking_reports(hromada: sa.Row) -> Unprocessable:
    return Unprocessable(f"Громада «{hromada.name_uk}» ще не приймає звернень",
                         f"{hromada.name_en or hromada.name_uk} does not take reports yet")


# Everything the rules need, in one round trip: the hromada at the point, whether it takes reports, the
# category as it stands there, the nearest asset in reach (when the report names none), and the area,
# hromada-wide and default units. The rules then choose in Python, in order. Run by gis.direct_sql (a
# report's intake is a hot path), hence psycopg's placeholders.
_CANDIDATES = """
    WITH p AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS g),
    h AS (SELECT hromada.id, katottg, name_uk, name_en FROM hromada, p
          WHERE ST_Intersects(boundary, p.g) ORDER BY ST_Area(boundary) LIMIT 1)
    SELECT h.id, h.katottg, h.name_uk, h.name_en, s.enabled_at IS NOT NULL AS enabled,
           c.id AS cat_id, c.code AS cat_code, c.name_uk AS cat_uk, c.name_en AS cat_en,
           c.target_days, c.asset_kind, c.snap_distance_m, c.premoderate,
           a.id AS asset_id, a.kind AS asset_kind_found, a.ref AS asset_ref, a.owner_unit_id, a.owner_class,
           a.responsible_unit_id, a.unit_uk AS asset_unit_uk, a.unit_en AS asset_unit_en, a.distance_m,
           ar.id AS area_id, ar.name_uk AS area_uk, ar.name_en AS area_en,
           ev.id AS everywhere_id, ev.name_uk AS everywhere_uk, ev.name_en AS everywhere_en,
           fb.id AS fallback_id, fb.name_uk AS fallback_uk, fb.name_en AS fallback_en
    FROM h CROSS JOIN p
    LEFT JOIN hromada_setup s ON s.hromada_id = h.id
    LEFT JOIN LATERAL (
        SELECT c.id, c.code, c.name_uk, c.name_en, COALESCE(hc.target_days, c.target_days) AS target_days,
               c.asset_kind, c.snap_distance_m, COALESCE(hc.premoderate, c.premoderate) AS premoderate
        FROM category c LEFT JOIN hromada_category hc ON hc.category_id = c.id AND hc.hromada_id = h.id
        WHERE c.code = %(code)s AND c.is_active AND (c.hromada_id IS NULL OR c.hromada_id = h.id)
          AND COALESCE(hc.enabled, true)) c ON true
    LEFT JOIN LATERAL (  -- nearest first with the KNN operator; the geography distance decides the reach
        SELECT a.id, a.kind, a.ref, a.owner_unit_id, a.owner_class, a.responsible_unit_id,
               u.name_uk AS unit_uk, u.name_en AS unit_en, ST_Distance(a.geom::geography, p.g::geography) AS distance_m
        FROM asset_responsible a LEFT JOIN unit u ON u.id = a.responsible_unit_id
        WHERE CAST(%(asset)s AS integer) IS NULL AND a.kind = c.asset_kind AND a.hromada_id = h.id
          AND ST_DWithin(a.geom::geography, p.g::geography, c.snap_distance_m)
        ORDER BY a.geom <-> p.g LIMIT 1) a ON true
    LEFT JOIN LATERAL (  -- a starosta district's, some villages' or a drawn area (gis.hromada_setup)
        SELECT u.id, u.name_uk, u.name_en FROM unit_category uc JOIN unit u ON u.id = uc.unit_id
        WHERE uc.category_id = c.id AND u.hromada_id = h.id AND uc.area IS NOT NULL AND ST_Intersects(uc.area, p.g)
        ORDER BY ST_Area(uc.area), uc.id LIMIT 1) ar ON true
    LEFT JOIN LATERAL (
        SELECT u.id, u.name_uk, u.name_en FROM unit_category uc JOIN unit u ON u.id = uc.unit_id
        WHERE uc.category_id = c.id AND u.hromada_id = h.id AND uc.scope = 'hromada'
        ORDER BY uc.id LIMIT 1) ev ON true
    LEFT JOIN unit fb ON fb.id = s.default_unit_id"""


def route_report(conn: sa.Connection, lon, lat, category_code: str, asset_id: int | None = None, *,
                 require_enabled: bool = True) -> Route:
    """The unit for a report of ``category_code`` at the point (see the module's rules).

    ``require_enabled`` False only for the set-up console's preview, before the hromada goes live."""
    lon, lat = check_point(lon, lat)
    found = direct_sql.first(conn, _CANDIDATES, {"lon": lon, "lat": lat, "code": category_code, "asset": asset_id})
    if found is None:
        require_hromada(conn, lon, lat)  # raises, saying why (swapped coordinates, outside every hromada)
    if require_enabled and not found.enabled:
        raise not_taking_reports(found)
    if found.cat_id is None:
        raise InvalidInput(f"Невідома категорія {category_code!r}", f"Unknown category {category_code!r}")
    base = dict(hromada_id=found.id, hromada_code=found.katottg, category_id=found.cat_id,
                category_code=found.cat_code, target_days=found.target_days, premoderate=found.premoderate,
                category_uk=found.cat_uk, category_en=found.cat_en)

    if asset_id is not None:
        asset = _named_asset(conn, found, lon, lat, asset_id)
    elif found.asset_id is not None:
        asset = _FoundAsset(found.asset_id, found.asset_kind_found, found.asset_ref, found.owner_unit_id,
                            found.owner_class, found.responsible_unit_id, found.asset_unit_uk, found.asset_unit_en,
                            found.distance_m)
    else:
        asset = None
    if asset is not None and asset.responsible_unit_id is not None:
        kind = ASSET_KINDS.get(asset.kind, {"uk": asset.kind, "en": asset.kind})
        distance = f"{asset.distance_m:.0f}"
        owner = OWNER_CLASSES.get(asset.owner_class) if asset.owner_unit_id is None else None
        whose_uk = f" — {owner['uk']}," if owner else ""
        whose_en = f", a {owner['en']}," if owner else ""
        return Route(**base, unit_id=asset.responsible_unit_id, rule="asset", asset_id=asset.id,
                     unit_uk=asset.unit_uk, unit_en=asset.unit_en,
                     reason_uk=f"{kind['uk'].capitalize()} №{asset.ref} (за {distance} м){whose_uk} "
                               f"обслуговує {asset.unit_uk}",
                     reason_en=f"{kind['en'].capitalize()} No. {asset.ref} ({distance} m away){whose_en} is "
                               f"maintained by {asset.unit_en or asset.unit_uk}")
    asset_ref = asset.id if asset else None

    if found.area_id is not None:
        return Route(**base, unit_id=found.area_id, rule="area", asset_id=asset_ref,
                     unit_uk=found.area_uk, unit_en=found.area_en,
                     reason_uk=f"Місце в зоні обслуговування: {found.area_uk} (категорія «{found.cat_uk}»)",
                     reason_en=f"The place is in the service area of {found.area_en or found.area_uk} "
                               f"(category “{found.cat_en}”)")
    if found.everywhere_id is not None:
        return Route(**base, unit_id=found.everywhere_id, rule="default", asset_id=asset_ref,
                     unit_uk=found.everywhere_uk, unit_en=found.everywhere_en,
                     reason_uk=f"{found.everywhere_uk} відповідає за категорію «{found.cat_uk}» у громаді "
                               f"«{found.name_uk}»",
                     reason_en=f"{found.everywhere_en or found.everywhere_uk} handles “{found.cat_en}” in "
                               f"{found.name_en or found.name_uk}")
    if found.fallback_id is not None:
        return Route(**base, unit_id=found.fallback_id, rule="default", asset_id=asset_ref,
                     unit_uk=found.fallback_uk, unit_en=found.fallback_en,
                     reason_uk=f"Категорію «{found.cat_uk}» тут не закріплено за жодним підрозділом; звернення "
                               f"отримує підрозділ громади за замовчуванням — {found.fallback_uk}",
                     reason_en=f"No unit is assigned “{found.cat_en}” here; the report goes to the hromada's "
                               f"default unit, {found.fallback_en or found.fallback_uk}")

    raise Unprocessable(
        f"Категорію «{found.cat_uk}» у громаді «{found.name_uk}» ніхто не обслуговує",
        f"No unit handles “{found.cat_en}” in {found.name_en or found.name_uk}")


@dataclass(frozen=True)
class _FoundAsset:
    id: int
    kind: str
    ref: str
    owner_unit_id: int | None
    owner_class: str | None
    responsible_unit_id: int | None
    unit_uk: str | None
    unit_en: str | None
    distance_m: float


def _named_asset(conn: sa.Connection, found: sa.Row, lon: float, lat: float, asset_id: int) -> sa.Row:
    """The asset a report names: in the hromada, of the category's kind."""
    row = conn.execute(sa.text("""
        SELECT a.id, a.kind, a.ref, a.owner_unit_id, a.owner_class, a.responsible_unit_id,
               u.name_uk AS unit_uk, u.name_en AS unit_en,
               ST_Distance(a.geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS distance_m
        FROM asset_responsible a LEFT JOIN unit u ON u.id = a.responsible_unit_id
        WHERE a.id = :id AND a.hromada_id = :h"""), {"lon": lon, "lat": lat, "h": found.id, "id": asset_id}).first()
    if row is None:
        raise InvalidInput(f"Об'єкт {asset_id} не знайдено в цій громаді", f"Asset {asset_id} is not in this hromada")
    if found.asset_kind is not None and row.kind != found.asset_kind:
        raise InvalidInput(f"Категорія «{found.cat_uk}» не стосується об'єкта виду {row.kind}",
                           f"Category “{found.cat_en}” does not apply to an asset of kind {row.kind}")
    return row


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
