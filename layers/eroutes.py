"""Heritage e-routes: an ordered list of stops (heritage objects or free points) with a line,
its length and walking and cycling times, a description per stop, GeoJSON and GPX.

The line joins the stops in order with straight segments (geodesics): it is not routed along
roads, so the real way is longer; the pages say so. Lengths are measured on the WGS 84 ellipsoid
(PostGIS geography). A stop that is a heritage object is located where the object is now, so
correcting the object's position moves the route; such an object cannot be deleted while a route
uses it (the foreign key restricts it).

Routes are written by staff and planners from a file (``hromada routes create FILE``, YAML or
JSON, see :func:`parse_route`); the pages and downloads only read.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import gpxpy
import gpxpy.gpx
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from gis import codes, geojson, hromadas
from gis.errors import Conflict, InvalidInput, NotFound
from gis.models import geometry, metadata

WALKING_KMH = 4.5
CYCLING_KMH = 15.0
MODES = {"walking": {"uk": "пішки", "en": "on foot"}, "cycling": {"uk": "велосипедом", "en": "by bicycle"}}
CODE_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
MAX_STOPS = 100
TEXT_LIMIT = 5000

e_route = sa.Table(
    "e_route", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE"), nullable=False),
    sa.Column("code", sa.Text, nullable=False, unique=True),  # the slug in /routes/<code>
    sa.Column("title_uk", sa.Text, nullable=False),
    sa.Column("title_en", sa.Text),
    sa.Column("description_uk", sa.Text),
    sa.Column("description_en", sa.Text),
    sa.Column("modes", pg.ARRAY(sa.Text), nullable=False),  # hints: walking, cycling
    sa.Column("is_demo", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index("ix_e_route_hromada_id", "hromada_id"),
)

e_route_stop = sa.Table(
    "e_route_stop", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("route_id", sa.Integer, sa.ForeignKey("e_route.id", ondelete="CASCADE"), nullable=False),
    sa.Column("position", sa.SmallInteger, nullable=False),  # 1, 2, …
    sa.Column("heritage_object_id", sa.Integer, sa.ForeignKey("heritage_object.id", ondelete="RESTRICT")),
    sa.Column("name_uk", sa.Text),  # a free point's name; for an object, overrides its name
    sa.Column("name_en", sa.Text),
    sa.Column("description_uk", sa.Text),
    sa.Column("description_en", sa.Text),
    sa.Column("geom", geometry("POINT")),  # a free point; NULL for an object
    sa.CheckConstraint("(heritage_object_id IS NULL) <> (geom IS NULL)", name="object_or_point"),
    sa.UniqueConstraint("route_id", "position"),
    sa.Index("ix_e_route_stop_heritage_object_id", "heritage_object_id"),
)


@dataclass
class StopSpec:
    object_id: int | None = None
    register_no: str | None = None  # finds the object by its register number instead of its id
    lon: float | None = None
    lat: float | None = None
    name_uk: str | None = None
    name_en: str | None = None
    description_uk: str | None = None
    description_en: str | None = None


@dataclass
class RouteSpec:
    code: str
    hromada: str  # KATOTTG
    title_uk: str
    title_en: str | None = None
    description_uk: str | None = None
    description_en: str | None = None
    modes: list[str] = field(default_factory=lambda: ["walking", "cycling"])
    stops: list[StopSpec] = field(default_factory=list)
    is_demo: bool = False


def _bad(uk: str, en: str) -> InvalidInput:
    return InvalidInput(uk, en)


def _text(data: dict, key: str, where: tuple[str, str], required: bool = False) -> str | None:
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _bad(f"{where[0]}: бракує «{key}»", f"{where[1]}: “{key}” is missing")
        return None
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise _bad(f"{where[0]}: «{key}» має бути текстом", f"{where[1]}: “{key}” must be text")
    value = str(value).strip()
    if len(value) > TEXT_LIMIT or "\x00" in value:
        raise _bad(f"{where[0]}: «{key}» задовгий або містить недопустимі символи",
                   f"{where[1]}: “{key}” is too long or has characters that cannot be stored")
    return value


def parse_route(data) -> RouteSpec:
    """A route from plain data (a parsed YAML or JSON file)::

        code: kylymnyk-stezhkamy          # lowercase letters, digits, dashes
        hromada: UA05020310000080026
        title: {uk: …, en: …}
        description: {uk: …, en: …}        # optional
        modes: [walking, cycling]          # optional
        stops:                             # at least two, in order
          - object: 12                     # a heritage object by id …
          - register_no: "П-3605"          # … or by its register number …
          - {lon: 28.33, lat: 49.23, name: {uk: …, en: …}}   # … or a free point with a name
            description: {uk: …, en: …}    # any stop, optional

    InvalidInput (400) names the first problem, with the stop's number.
    """
    if not isinstance(data, dict):
        raise _bad("Маршрут має бути словником (YAML/JSON-об'єктом)", "A route must be a mapping (a YAML/JSON object)")
    where = ("маршрут", "route")
    code = _text(data, "code", where, required=True)
    if not CODE_PATTERN.match(code):
        raise _bad(f"code {code!r}: лише малі латинські літери, цифри й дефіси, до 64 знаків",
                   f"code {code!r}: lowercase Latin letters, digits and dashes only, up to 64 characters")
    katottg = codes.katottg(_text(data, "hromada", where, required=True))
    title = _bilingual(data, "title", where, required=True)
    description = _bilingual(data, "description", where)
    modes = data.get("modes", ["walking", "cycling"])
    if isinstance(modes, str):
        modes = [m.strip() for m in modes.split(",") if m.strip()]
    if not isinstance(modes, list) or not modes or any(m not in MODES for m in modes):
        raise _bad(f"modes: має бути список із {', '.join(MODES)}", f"modes: must be a list of {', '.join(MODES)}")
    raw_stops = data.get("stops")
    if not isinstance(raw_stops, list) or len(raw_stops) < 2:
        raise _bad("stops: маршрут має щонайменше дві зупинки", "stops: a route needs at least two stops")
    if len(raw_stops) > MAX_STOPS:
        raise _bad(f"stops: не більше {MAX_STOPS} зупинок", f"stops: at most {MAX_STOPS} stops")
    stops = [_parse_stop(s, n) for n, s in enumerate(raw_stops, start=1)]
    is_demo = data.get("is_demo", False)
    if not isinstance(is_demo, bool):
        raise _bad("is_demo: так чи ні (true/false)", "is_demo: true or false")
    return RouteSpec(code=code, hromada=katottg, title_uk=title[0], title_en=title[1], description_uk=description[0],
                     description_en=description[1], modes=list(dict.fromkeys(modes)), stops=stops, is_demo=is_demo)


def _bilingual(data: dict, key: str, where: tuple[str, str], required: bool = False) -> tuple[str | None, str | None]:
    value = data.get(key)
    if isinstance(value, dict):
        uk = _text(value, "uk", (f"{where[0]}: {key}", f"{where[1]}: {key}"), required=required)
        return uk, _text(value, "en", where)
    return _text(data, key, where, required=required), None


def _parse_stop(data, number: int) -> StopSpec:
    where = (f"зупинка {number}", f"stop {number}")
    if not isinstance(data, dict):
        raise _bad(f"{where[0]}: має бути словником", f"{where[1]}: must be a mapping")
    name = _bilingual(data, "name", where)
    description = _bilingual(data, "description", where)
    stop = StopSpec(name_uk=name[0], name_en=name[1], description_uk=description[0], description_en=description[1])
    has_point = "lon" in data or "lat" in data
    given = [k for k in ("object", "register_no") if data.get(k) is not None] + (["lon/lat"] if has_point else [])
    if len(given) != 1:
        raise _bad(f"{where[0]}: вкажіть одне з: object (id пам'ятки), register_no або lon і lat",
                   f"{where[1]}: give exactly one of: object (a heritage object's id), register_no, or lon and lat")
    if data.get("object") is not None:
        value = data["object"]
        if isinstance(value, bool) or not isinstance(value, int) and not (isinstance(value, str) and value.isdigit()):
            raise _bad(f"{where[0]}: object має бути числом (id пам'ятки)",
                       f"{where[1]}: object must be a number (the heritage object's id)")
        stop.object_id = int(value)
    elif data.get("register_no") is not None:
        stop.register_no = _text(data, "register_no", where, required=True)
    else:
        try:
            stop.lon, stop.lat = float(data.get("lon")), float(data.get("lat"))
        except (TypeError, ValueError):
            stop.lon = stop.lat = None
        if stop.lon is None or not (-180 <= stop.lon <= 180 and -90 <= stop.lat <= 90):
            raise _bad(f"{where[0]}: lon і lat мають бути числами (довгота −180…180, широта −90…90)",
                       f"{where[1]}: lon and lat must be numbers (longitude −180…180, latitude −90…90)")
        if not stop.name_uk:
            raise _bad(f"{where[0]}: точка без пам'ятки потребує назви (name)",
                       f"{where[1]}: a free point needs a name")
    return stop


# --- writing ----------------------------------------------------------------------------------------


def create_route(conn: sa.Connection, spec: RouteSpec) -> int:
    """Add the route; Conflict (409) when its code is taken. Returns its id."""
    if conn.execute(sa.select(e_route.c.id).where(e_route.c.code == spec.code)).first() is not None:
        raise Conflict(f"Маршрут {spec.code!r} уже є; щоб змінити, оновіть його (routes update)",
                       f"Route {spec.code!r} exists already; update it instead (routes update)")
    hromada_id = hromadas.hromada_id(conn, spec.hromada)
    route_id = conn.execute(e_route.insert().values(hromada_id=hromada_id, **_route_values(spec))
                            .returning(e_route.c.id)).scalar_one()
    _write_stops(conn, route_id, hromada_id, spec.stops)
    return route_id


def update_route(conn: sa.Connection, spec: RouteSpec) -> int:
    """Replace the route's texts and all its stops; NotFound when there is no such route."""
    route_id = conn.execute(sa.select(e_route.c.id).where(e_route.c.code == spec.code).with_for_update()).scalar()
    if route_id is None:
        raise NotFound(f"Маршруту {spec.code!r} немає", f"There is no route {spec.code!r}")
    hromada_id = hromadas.hromada_id(conn, spec.hromada)
    conn.execute(e_route.update().where(e_route.c.id == route_id)
                 .values(hromada_id=hromada_id, updated_at=sa.func.now(), **_route_values(spec)))
    conn.execute(e_route_stop.delete().where(e_route_stop.c.route_id == route_id))
    _write_stops(conn, route_id, hromada_id, spec.stops)
    return route_id


def delete_route(conn: sa.Connection, code: str) -> None:
    if conn.execute(e_route.delete().where(e_route.c.code == code)).rowcount == 0:
        raise NotFound(f"Маршруту {code!r} немає", f"There is no route {code!r}")


def _route_values(spec: RouteSpec) -> dict:
    return {"code": spec.code, "title_uk": spec.title_uk, "title_en": spec.title_en,
            "description_uk": spec.description_uk, "description_en": spec.description_en,
            "modes": spec.modes, "is_demo": spec.is_demo}


def _write_stops(conn: sa.Connection, route_id: int, hromada_id: int, stops: list[StopSpec]) -> None:
    rows = []
    for number, stop in enumerate(stops, start=1):
        object_id = stop.object_id
        if stop.register_no is not None:
            found = conn.execute(sa.text("SELECT id FROM heritage_object WHERE register_no = :r ORDER BY "
                                         "hromada_id = :h DESC NULLS LAST, id LIMIT 2"),
                                 {"r": stop.register_no, "h": hromada_id}).scalars().all()
            if not found:
                raise NotFound(f"зупинка {number}: пам'ятки з номером {stop.register_no!r} немає",
                               f"stop {number}: no heritage object has the register number {stop.register_no!r}")
            object_id = found[0]
        elif object_id is not None:
            if conn.execute(sa.text("SELECT 1 FROM heritage_object WHERE id = :id"), {"id": object_id}).first() is None:
                raise NotFound(f"зупинка {number}: пам'ятки {object_id} немає",
                               f"stop {number}: there is no heritage object {object_id}")
        rows.append({"route_id": route_id, "position": number, "heritage_object_id": object_id,
                     "name_uk": stop.name_uk, "name_en": stop.name_en,
                     "description_uk": stop.description_uk, "description_en": stop.description_en,
                     "geom": (None if object_id is not None
                              else sa.func.ST_SetSRID(sa.func.ST_MakePoint(stop.lon, stop.lat), 4326))})
    for row in rows:  # one by one: the geometry is an SQL expression per row
        conn.execute(e_route_stop.insert().values(**row))


# --- reading ----------------------------------------------------------------------------------------

_STOPS_SQL = ("""
    WITH s AS (
        SELECT s.position, s.heritage_object_id AS object_id,
               COALESCE(s.name_uk, o.name_uk) AS name_uk, """
              """COALESCE(s.name_en, o.name_en, s.name_uk, o.name_uk) AS name_en,
               s.description_uk, s.description_en, o.significance, o.register_no,
               COALESCE(o.geom, s.geom) AS g
        FROM e_route_stop s LEFT JOIN heritage_object o ON o.id = s.heritage_object_id
        WHERE s.route_id = :route)
    SELECT position, object_id, name_uk, name_en, description_uk, description_en, significance, register_no,
           ST_X(g) AS lon, ST_Y(g) AS lat,
           COALESCE(ST_Distance(lag(g) OVER w::geography, g::geography), 0) AS leg_m
    FROM s WINDOW w AS (ORDER BY position) ORDER BY position""")


def _route_row(conn: sa.Connection, code: str) -> sa.RowMapping:
    row = conn.execute(sa.text("""
        SELECT r.*, h.katottg, h.name_uk AS hromada_name_uk, h.name_en AS hromada_name_en
        FROM e_route r JOIN hromada h ON h.id = r.hromada_id WHERE r.code = :code"""),
        {"code": code}).mappings().first()
    if row is None:
        raise NotFound(f"Маршруту {code!r} немає", f"There is no route {code!r}")
    return row


def minutes(length_m: float, kmh: float) -> int:
    """Whole minutes (rounded up) to cover ``length_m`` at ``kmh``."""
    import math

    return math.ceil(length_m / (kmh * 1000 / 60) - 1e-9) if length_m > 0 else 0


def route_summary(conn: sa.Connection, code: str) -> dict:
    """The route as plain JSON: texts, modes, stops in order (each with its leg from the previous
    stop and the distance so far), length in metres (straight segments on the ellipsoid), and
    walking (:data:`WALKING_KMH`) and cycling (:data:`CYCLING_KMH`) times in minutes."""
    route = _route_row(conn, code)
    stops, so_far = [], 0.0
    for s in conn.execute(sa.text(_STOPS_SQL), {"route": route["id"]}).mappings():
        so_far += s["leg_m"]
        stops.append({**dict(s), "from_start_m": so_far})
    return {
        "code": route["code"], "hromada": route["katottg"],
        "hromada_name": {"uk": route["hromada_name_uk"], "en": route["hromada_name_en"]},
        "title": {"uk": route["title_uk"], "en": route["title_en"]},
        "description": {"uk": route["description_uk"], "en": route["description_en"]},
        "modes": list(route["modes"]), "is_demo": route["is_demo"],
        "updated_at": route["updated_at"].isoformat(),
        "stops": stops, "length_m": so_far, "line": "straight segments between stops",
        "walking_min": minutes(so_far, WALKING_KMH), "cycling_min": minutes(so_far, CYCLING_KMH),
        "speeds_kmh": {"walking": WALKING_KMH, "cycling": CYCLING_KMH},
    }


def list_routes(conn: sa.Connection, hromada_id: int) -> list[dict]:
    """The hromada's routes: code, titles, number of stops, length and times."""
    rows = conn.execute(sa.text("""
        SELECT r.code, r.title_uk, r.title_en, r.is_demo, count(*) AS stops,
               COALESCE(ST_Length(ST_MakeLine(COALESCE(o.geom, s.geom) ORDER BY s.position)::geography), 0) AS length_m
        FROM e_route r JOIN e_route_stop s ON s.route_id = r.id
        LEFT JOIN heritage_object o ON o.id = s.heritage_object_id
        WHERE r.hromada_id = :h GROUP BY r.id ORDER BY r.title_uk"""), {"h": hromada_id}).mappings()
    return [{**dict(r), "walking_min": minutes(r["length_m"], WALKING_KMH),
             "cycling_min": minutes(r["length_m"], CYCLING_KMH)} for r in rows]


def route_geojson(conn: sa.Connection, code: str, lang: str = "uk") -> dict:
    """A FeatureCollection: the line (properties: the summary without stops) and a Point per stop
    (properties: position, name, description, object id, leg and distance so far)."""
    summary = route_summary(conn, code)
    line = {"type": "Feature", "id": f"{code}-line",
            "geometry": {"type": "LineString", "coordinates": [[s["lon"], s["lat"]] for s in summary["stops"]]},
            "properties": {k: v for k, v in summary.items() if k != "stops"}}
    points = [{"type": "Feature", "id": f"{code}-{s['position']}",
               "geometry": {"type": "Point", "coordinates": [s["lon"], s["lat"]]},
               "properties": {"position": s["position"], "name": _pick(s, "name", lang),
                              "description": _pick(s, "description", lang), "object_id": s["object_id"],
                              "register_no": s["register_no"], "significance": s["significance"],
                              "leg_m": s["leg_m"], "from_start_m": s["from_start_m"]}}
              for s in summary["stops"]]
    return geojson.collection([line, *points])


def _pick(row: dict, key: str, lang: str) -> str | None:
    return (row.get(f"{key}_en") if lang == "en" else None) or row.get(f"{key}_uk")


def route_gpx(conn: sa.Connection, code: str, lang: str = "uk", url: str | None = None) -> str:
    """GPX 1.1: the stops as waypoints and as a route (``rte``), and the line as one track."""
    summary = route_summary(conn, code)
    title = (summary["title"]["en"] if lang == "en" else None) or summary["title"]["uk"]
    gpx = gpxpy.gpx.GPX()
    gpx.creator = "Hromada GIS"
    gpx.name = title
    gpx.description = (summary["description"]["en"] if lang == "en" else None) or summary["description"]["uk"]
    if url:
        gpx.link, gpx.link_text = url, title
    route = gpxpy.gpx.GPXRoute(name=title)
    track = gpxpy.gpx.GPXTrack(name=title)
    segment = gpxpy.gpx.GPXTrackSegment()
    track.segments.append(segment)
    for s in summary["stops"]:
        name = f"{s['position']}. {_pick(s, 'name', lang)}"
        description = _pick(s, "description", lang)
        gpx.waypoints.append(gpxpy.gpx.GPXWaypoint(s["lat"], s["lon"], name=name, description=description))
        route.points.append(gpxpy.gpx.GPXRoutePoint(s["lat"], s["lon"], name=name))
        segment.points.append(gpxpy.gpx.GPXTrackPoint(s["lat"], s["lon"]))
    gpx.routes.append(route)
    gpx.tracks.append(track)
    return gpx.to_xml(version="1.1")
