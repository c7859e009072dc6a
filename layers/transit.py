"""Public transport (issue #21): a hromada's GTFS feed — stops and route shapes as layers, the
timetable as plain tables the departures query reads.

``transit_stops`` (Points) and ``transit_shapes`` (LineStrings) are generated tables, so the map,
the API, OGC API, tiles and exports follow from the declarations. The timetable is not geographic:
``transit_feed`` (one per hromada: a new import replaces it), ``transit_route``, ``transit_trip``,
``transit_stop_time`` (times in seconds from the service day's start, so 25:10:00 is 90 600 and
belongs to the day before), ``transit_calendar`` and ``transit_calendar_date``.

A stop's page is ``/s/<code>``: ``code`` is the hromada's KATOTTG, a hyphen, and the stop's
``stop_code`` (its ``stop_id`` when it has none), characters other than letters, digits, ``.``,
``_`` and ``-`` replaced by ``_`` — unique across hromadas by construction, stable across re-imports
of the same feed.
"""
from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import sqlalchemy as sa

from gis.errors import HromadaError, NotFound
from gis.models import metadata
from layers.base import CategoryStyle, Editing, Field, Layer, Permissions
from layers.tables import build_table

KYIV = zoneinfo.ZoneInfo("Europe/Kyiv")

WHEELCHAIR_BOARDING = {
    "0": {"uk": "невідомо", "en": "unknown"},
    "1": {"uk": "доступна для візка", "en": "wheelchair accessible"},
    "2": {"uk": "недоступна для візка", "en": "not wheelchair accessible"},
}
# GTFS route_type (the basic ones and the extended bus/trolleybus/tram groups' first codes).
ROUTE_TYPES = {
    "0": {"uk": "трамвай", "en": "tram"}, "1": {"uk": "метро", "en": "metro"},
    "2": {"uk": "поїзд", "en": "rail"}, "3": {"uk": "автобус", "en": "bus"},
    "4": {"uk": "пором", "en": "ferry"}, "5": {"uk": "канатний трамвай", "en": "cable tram"},
    "6": {"uk": "канатна дорога", "en": "aerial lift"}, "7": {"uk": "фунікулер", "en": "funicular"},
    "11": {"uk": "тролейбус", "en": "trolleybus"}, "12": {"uk": "монорейка", "en": "monorail"},
}

SURVEY_FIELDS = (
    Field("shelter", "boolean", {"uk": "Укриття від негоди", "en": "Shelter"}, aliases=("укриття",)),
    Field("kerb_height_cm", "integer", {"uk": "Висота бордюру, см", "en": "Kerb height, cm"},
          aliases=("бордюр", "kerb_height"), minimum=0, maximum=60),
    Field("tactile_paving", "boolean", {"uk": "Тактильне покриття", "en": "Tactile paving"},
          aliases=("тактильна плитка",)),
)
SURVEY = tuple(f.name for f in SURVEY_FIELDS)

TRANSIT_STOPS = Layer(
    name="transit_stops",
    title={"uk": "Зупинки громадського транспорту", "en": "Public transport stops"},
    description={"uk": "Зупинки з розкладу GTFS громади", "en": "Stops from the hromada's GTFS timetable"},
    geometry="Point",
    table="transit_stop",
    generated_table=True,
    fields=(
        Field("stop_id", "text", {"uk": "Ідентифікатор GTFS", "en": "GTFS id"}, required=True),
        Field("stop_code", "text", {"uk": "Номер зупинки", "en": "Stop number"}),
        Field("name", "text", {"uk": "Назва", "en": "Name"}, required=True, aliases=("stop_name",)),
        Field("description", "text", {"uk": "Опис", "en": "Description"}, aliases=("stop_desc",)),
        Field("wheelchair_boarding", "choice", {"uk": "Доступність для візка", "en": "Wheelchair boarding"},
              choices=WHEELCHAIR_BOARDING),
        Field("page_code", "text", {"uk": "Код сторінки", "en": "Page code"}),
        # What a survey of the stop adds (not in GTFS): kept across re-imports of the feed, by stop_id.
        *SURVEY_FIELDS,
    ),
    popup=("name", "stop_code", "wheelchair_boarding", "shelter", "tactile_paving"),
    label_field="name",
    categories=("transit_stop_problem",),  # routed to the unit assigned to it (the demo: housing)
    style=CategoryStyle(field="wheelchair_boarding", fill_opacity=0.9, color="#1864ab",
                        colors={"1": "#2b8a3e", "2": "#c92a2a", "0": "#1864ab"}),
    source="GTFS",
    # Staff add the survey's facts in the browser editor (or QGIS); the rest comes from the feed, whose
    # next import would overwrite it, so only administrators add or remove stops by hand.
    permissions=Permissions(edit=frozenset({"admin", "unit_staff"}), editing=Editing(
        create=frozenset({"admin"}), delete=frozenset({"admin"}),
        server_fields=("stop_id", "stop_code", "name", "description", "wheelchair_boarding", "page_code"))),
    history="public",
)

TRANSIT_SHAPES = Layer(
    name="transit_shapes",
    title={"uk": "Маршрути громадського транспорту", "en": "Public transport routes"},
    description={"uk": "Траси маршрутів з розкладу GTFS громади",
                 "en": "Route lines from the hromada's GTFS timetable"},
    geometry="LineString",
    table="transit_shape",
    generated_table=True,
    fields=(
        Field("shape_id", "text", {"uk": "Ідентифікатор траси GTFS", "en": "GTFS shape id"}, required=True),
        Field("route_id", "text", {"uk": "Ідентифікатор маршруту GTFS", "en": "GTFS route id"}),
        Field("route_name", "text", {"uk": "Маршрут", "en": "Route"}),
        Field("route_type", "choice", {"uk": "Вид транспорту", "en": "Mode"}, choices=ROUTE_TYPES),
    ),
    popup=("route_name", "route_type"),
    label_field="route_name",
    style=CategoryStyle(field="route_type", weight=4, color="#5f3dc4",
                        colors={"3": "#5f3dc4", "11": "#e67700", "0": "#c92a2a", "2": "#2b8a3e"}),
    source="GTFS",
)

LAYERS = (TRANSIT_STOPS, TRANSIT_SHAPES)
# A stop's page code is unique across hromadas (the KATOTTG prefix); /s/<code> looks it up.
sa.Index("ux_transit_stop_page_code", build_table(TRANSIT_STOPS).c.page_code, unique=True)

transit_feed = sa.Table(
    "transit_feed", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE"), nullable=False,
              unique=True),
    sa.Column("source", sa.Text),
    sa.Column("agency_name", sa.Text),
    sa.Column("agency_url", sa.Text),
    sa.Column("agency_phone", sa.Text),
    # GTFS-Realtime, when the operator publishes it: one FeedMessage of VehiclePositions and/or TripUpdates
    sa.Column("realtime_url", sa.Text),
    sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("is_demo", sa.Boolean, nullable=False, server_default=sa.false()),
)

transit_route = sa.Table(
    "transit_route", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("feed_id", sa.Integer, sa.ForeignKey("transit_feed.id", ondelete="CASCADE"), nullable=False),
    sa.Column("route_id", sa.Text, nullable=False),
    sa.Column("short_name", sa.Text),
    sa.Column("long_name", sa.Text),
    sa.Column("route_type", sa.Integer, nullable=False),
    sa.Column("color", sa.Text),
    sa.UniqueConstraint("feed_id", "route_id"),
)

transit_trip = sa.Table(
    "transit_trip", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("feed_id", sa.Integer, sa.ForeignKey("transit_feed.id", ondelete="CASCADE"), nullable=False),
    sa.Column("route_id", sa.Integer, sa.ForeignKey("transit_route.id", ondelete="CASCADE"), nullable=False),
    sa.Column("trip_id", sa.Text, nullable=False),
    sa.Column("service_id", sa.Text, nullable=False),
    sa.Column("headsign", sa.Text),
    sa.Column("shape_id", sa.Text),
    sa.UniqueConstraint("feed_id", "trip_id"),
)

# Times in seconds after the service day's start ("noon minus 12 h"); ≥ 86 400 runs past midnight.
transit_stop_time = sa.Table(
    "transit_stop_time", metadata,
    sa.Column("trip_id", sa.Integer, sa.ForeignKey("transit_trip.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("stop_sequence", sa.Integer, primary_key=True),
    sa.Column("stop_id", sa.Integer, sa.ForeignKey("transit_stop.id", ondelete="CASCADE"), nullable=False),
    sa.Column("arrival_s", sa.Integer, nullable=False),
    sa.Column("departure_s", sa.Integer, nullable=False),
    sa.Index("ix_transit_stop_time_stop_departure", "stop_id", "departure_s"),
)

transit_calendar = sa.Table(
    "transit_calendar", metadata,
    sa.Column("feed_id", sa.Integer, sa.ForeignKey("transit_feed.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("service_id", sa.Text, primary_key=True),
    # Monday first, as date.weekday() counts: "1111100" runs on working days.
    sa.Column("weekdays", sa.String(7), nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("end_date", sa.Date, nullable=False),
)

transit_calendar_date = sa.Table(
    "transit_calendar_date", metadata,
    sa.Column("feed_id", sa.Integer, sa.ForeignKey("transit_feed.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("service_id", sa.Text, primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("exception_type", sa.SmallInteger, nullable=False),  # 1 added, 2 removed
)


def page_code(katottg: str, stop_code: str | None, stop_id: str) -> str:
    """The stop's code in ``/s/<code>`` (see the module's docstring)."""
    return f"{katottg}-{re.sub(r'[^0-9A-Za-z._-]', '_', (stop_code or '').strip() or stop_id)}"


def stop_by_code(conn: sa.Connection, code: str) -> dict:
    """The stop with this page code, with its hromada's KATOTTG and name, its point, its feed."""
    row = conn.execute(sa.text("""
        SELECT s.id, s.stop_id, s.stop_code, s.name, s.description, s.wheelchair_boarding, s.page_code,
               s.shelter, s.kerb_height_cm, s.tactile_paving,
               s.is_demo, ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat, h.id AS hromada_id, h.katottg,
               h.name_uk AS hromada_uk, h.name_en AS hromada_en, f.id AS feed_id, f.agency_name, f.agency_phone,
               f.realtime_url
        FROM transit_stop s JOIN hromada h ON h.id = s.hromada_id
        LEFT JOIN transit_feed f ON f.hromada_id = s.hromada_id
        WHERE s.page_code = :code"""), {"code": code}).mappings().first()
    if row is None:
        raise NotFound(f"Зупинку {code!r} не знайдено", f"Stop {code!r} not found")
    return dict(row)


def services_on(conn: sa.Connection, feed_id: int, day: dt.date) -> set[str]:
    """The service_ids running on ``day``: calendar.txt's weekday and date range, then calendar_dates.txt's
    exceptions (1 adds the day, 2 removes it)."""
    running = {r.service_id for r in conn.execute(
        sa.select(transit_calendar.c.service_id, transit_calendar.c.weekdays).where(
            transit_calendar.c.feed_id == feed_id, transit_calendar.c.start_date <= day,
            transit_calendar.c.end_date >= day)) if r.weekdays[day.weekday()] == "1"}
    for service_id, kind in conn.execute(
            sa.select(transit_calendar_date.c.service_id, transit_calendar_date.c.exception_type).where(
                transit_calendar_date.c.feed_id == feed_id, transit_calendar_date.c.date == day)):
        if kind == 1:
            running.add(service_id)
        else:
            running.discard(service_id)
    return running


def service_day_start(day: dt.date) -> dt.datetime:
    """GTFS's "noon minus 12 h" of a service day, in Kyiv: midnight, except on the days clocks change."""
    return dt.datetime.combine(day, dt.time(12), tzinfo=KYIV) - dt.timedelta(hours=12)


def departures(conn: sa.Connection, stop: dict, at: dt.datetime, limit: int = 12,
               horizon: dt.timedelta = dt.timedelta(hours=24)) -> list[dict]:
    """The next departures from the stop at or after ``at`` (aware) within ``horizon``, soonest first.

    A trip's times past 24:00:00 belong to the service day before, so the day before ``at`` is
    searched too. A trip's last stop is not a departure."""
    if stop.get("feed_id") is None:
        return []
    at = at.astimezone(KYIV)
    found = []
    for day in (at.date() - dt.timedelta(days=1), at.date(), at.date() + dt.timedelta(days=1)):
        services = services_on(conn, stop["feed_id"], day)
        if not services:
            continue
        start = service_day_start(day)
        low = int((at - start).total_seconds())
        high = int((at + horizon - start).total_seconds())
        if high < 0:
            continue
        rows = conn.execute(sa.text("""
            SELECT st.departure_s, st.stop_sequence, t.headsign, t.trip_id, r.short_name, r.long_name,
                   r.route_type, r.color,
                   (SELECT s2.name FROM transit_stop_time l JOIN transit_stop s2 ON s2.id = l.stop_id
                    WHERE l.trip_id = st.trip_id ORDER BY l.stop_sequence DESC LIMIT 1) AS last_stop
            FROM transit_stop_time st
            JOIN transit_trip t ON t.id = st.trip_id
            JOIN transit_route r ON r.id = t.route_id
            WHERE st.stop_id = :stop AND st.departure_s BETWEEN :low AND :high
              AND t.service_id = ANY(:services)
              AND EXISTS (SELECT 1 FROM transit_stop_time n
                          WHERE n.trip_id = st.trip_id AND n.stop_sequence > st.stop_sequence)
            ORDER BY st.departure_s LIMIT :limit"""),
            {"stop": stop["id"], "low": max(low, 0), "high": high, "services": sorted(services),
             "limit": limit}).mappings()
        for r in rows:
            found.append({"when": (start + dt.timedelta(seconds=r["departure_s"])).astimezone(KYIV),
                          "route": r["short_name"] or r["long_name"], "route_long": r["long_name"],
                          "route_type": str(r["route_type"]), "color": r["color"],
                          "headsign": r["headsign"] or r["last_stop"], "trip_id": r["trip_id"],
                          "service_day": day, "stop_sequence": r["stop_sequence"]})
    found.sort(key=lambda d: d["when"])
    return found[:limit]


def routes_at(conn: sa.Connection, stop_id: int) -> list[dict]:
    """The routes whose trips call at the stop, by name."""
    return [dict(r) for r in conn.execute(sa.text("""
        SELECT DISTINCT r.route_id, r.short_name, r.long_name, r.route_type, r.color
        FROM transit_stop_time st JOIN transit_trip t ON t.id = st.trip_id JOIN transit_route r ON r.id = t.route_id
        WHERE st.stop_id = :stop ORDER BY r.short_name, r.long_name"""), {"stop": stop_id}).mappings()]


def hromada_stops(conn: sa.Connection, hromada_id: int) -> list[dict]:
    return [dict(r) for r in conn.execute(sa.text("""
        SELECT id, stop_code, name, page_code, wheelchair_boarding FROM transit_stop
        WHERE hromada_id = :h AND page_code IS NOT NULL ORDER BY name, page_code"""), {"h": hromada_id}).mappings()]


# Which stops fit a need profile of the accessible venue search, and why (the survey's facts count).
STOP_PROFILES = {
    "wheelchair": ("wheelchair_boarding = '1'",
                   {"uk": "зупинка з посадкою на візку (GTFS wheelchair_boarding = 1)",
                    "en": "a stop with wheelchair boarding (GTFS wheelchair_boarding = 1)"}),
    "blind": ("tactile_paving",
              {"uk": "зупинка з тактильним покриттям (за обстеженням)",
               "en": "a stop with tactile paving (surveyed)"}),
}


def accessible_stops(conn: sa.Connection, lon: float, lat: float, *, limit: int, radius_m: float,
                     lang: str = "uk", profile: str = "wheelchair") -> list[dict]:
    """Stops that fit ``profile`` (:data:`STOP_PROFILES`; none for other profiles) within ``radius_m``,
    nearest first, in the shape of ``layers.accessibility.find_venues``' results (category
    ``transport_stop``, rating ``fully``) with ``url``: the stop's page. The venue search lists them
    among the venues."""
    from layers.base import label as pick

    if profile not in STOP_PROFILES:
        return []
    condition, reason = STOP_PROFILES[profile]

    rows = conn.execute(sa.text(f"""
        SELECT * FROM (
            SELECT id, name, page_code, is_demo, ST_X(geom) AS lon, ST_Y(geom) AS lat,
                   ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS metres
            FROM transit_stop WHERE {condition} AND page_code IS NOT NULL
            ORDER BY geom <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) LIMIT :limit) AS nearest
        WHERE metres <= :radius ORDER BY metres"""),
        {"lon": lon, "lat": lat, "limit": limit, "radius": radius_m}).mappings()
    return [{"id": r["id"], "kind": "transit_stop", "url": f"/s/{r['page_code']}", "page_code": r["page_code"],
             "name": r["name"],
             "category": "transport_stop", "category_label": pick({"uk": "зупинка транспорту",
                                                                   "en": "transport stop"}, lang),
             "address": None, "opening_hours": None, "rating": "fully",
             "rating_label": pick({"uk": "повністю доступно", "en": "fully accessible"}, lang),
             "reason": pick(reason, lang), "distance_m": round(r["metres"]), "lon": r["lon"], "lat": r["lat"],
             "demo": r["is_demo"]} for r in rows]


class RealtimeUnavailable(HromadaError):
    """The operator's GTFS-Realtime feed could not be had or read."""

    http_status = 502
    code = "realtime_unavailable"


REALTIME_MAX_BYTES = 5 * 1024**2
REALTIME_TIMEOUT_S = 5


def fetch_realtime(url: str) -> bytes:
    """The body of a GTFS-Realtime feed (at most REALTIME_MAX_BYTES, REALTIME_TIMEOUT_S); RealtimeUnavailable
    when it cannot be had."""
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=REALTIME_TIMEOUT_S) as answer:  # noqa: S310 (an admin's URL)
            data = answer.read(REALTIME_MAX_BYTES + 1)
    except OSError as problem:
        raise RealtimeUnavailable(f"Дані про рух транспорту зараз недоступні ({problem})",
                                 f"Vehicle positions are unavailable right now ({problem})") from None
    if len(data) > REALTIME_MAX_BYTES:
        raise RealtimeUnavailable("Стрічка GTFS-Realtime завелика", "The GTFS-Realtime feed is too large")
    return data


def parse_realtime(data: bytes):
    """A GTFS-Realtime FeedMessage from its bytes; RealtimeUnavailable when they are not one."""
    from google.protobuf.message import DecodeError
    from google.transit import gtfs_realtime_pb2

    message = gtfs_realtime_pb2.FeedMessage()
    try:
        message.ParseFromString(data)
    except DecodeError:
        raise RealtimeUnavailable("Стрічка GTFS-Realtime пошкоджена", "The GTFS-Realtime feed is corrupt") from None
    return message


def vehicle_positions(conn: sa.Connection, feed_id: int, data: bytes) -> list[dict]:
    """The vehicles of a GTFS-Realtime FeedMessage (``data``) that have a position, each with its route
    from the hromada's timetable when the trip or route is known there."""
    message = parse_realtime(data)
    routes = {r.route_id: r for r in conn.execute(sa.select(
        transit_route.c.route_id, transit_route.c.short_name, transit_route.c.long_name, transit_route.c.route_type)
        .where(transit_route.c.feed_id == feed_id))}
    trips = dict(conn.execute(sa.select(transit_trip.c.trip_id, transit_route.c.route_id)
                              .join(transit_route, transit_route.c.id == transit_trip.c.route_id)
                              .where(transit_trip.c.feed_id == feed_id)).all())
    vehicles = []
    for entity in message.entity:
        if not entity.HasField("vehicle") or not entity.vehicle.HasField("position"):
            continue
        v = entity.vehicle
        route_id = v.trip.route_id or trips.get(v.trip.trip_id)
        route = routes.get(route_id)
        vehicles.append({
            "id": v.vehicle.id or entity.id, "label": v.vehicle.label or None,
            "lon": v.position.longitude, "lat": v.position.latitude,
            "bearing": v.position.bearing if v.position.HasField("bearing") else None,
            "trip_id": v.trip.trip_id or None, "route_id": route_id,
            "route": (route.short_name or route.long_name) if route else None,
            "route_type": str(route.route_type) if route else None,
            "timestamp": (dt.datetime.fromtimestamp(v.timestamp or message.header.timestamp, dt.timezone.utc)
                          .isoformat() if (v.timestamp or message.header.timestamp) else None)})
    return vehicles


def _stop_event_time(update, scheduled: dt.datetime) -> dt.datetime | None:
    """The expected time of a StopTimeUpdate's departure (else arrival): its absolute time, else the
    scheduled time plus its delay; None when it gives neither (or the stop is skipped)."""
    if update.schedule_relationship in (1, 2):  # SKIPPED or NO_DATA: no prediction
        return None
    for name in ("departure", "arrival"):
        if update.HasField(name):
            event = getattr(update, name)
            if event.HasField("time") and event.time:
                return dt.datetime.fromtimestamp(event.time, KYIV)
            if event.HasField("delay"):
                return scheduled + dt.timedelta(seconds=event.delay)
    return None


def expected_times(stop: dict, departures: list[dict], data: bytes) -> None:
    """Add ``expected`` (an aware datetime) and ``delay_min`` to the departures whose trip has a
    TripUpdate with a StopTimeUpdate for this stop (by stop_id or stop_sequence) in the GTFS-Realtime
    FeedMessage ``data``. A trip update with a start_date applies to that service day's run only;
    without one, to the trip's first departure listed. Delays are not carried on from earlier stops."""
    updates = {}  # trip_id → TripUpdate
    for entity in parse_realtime(data).entity:
        if entity.HasField("trip_update") and entity.trip_update.trip.trip_id:
            updates.setdefault(entity.trip_update.trip.trip_id, []).append(entity.trip_update)
    seen = set()
    for d in departures:
        first = d["trip_id"] not in seen
        seen.add(d["trip_id"])
        for trip_update in updates.get(d["trip_id"], ()):
            start = trip_update.trip.start_date
            if (start and start != d["service_day"].strftime("%Y%m%d")) or (not start and not first):
                continue
            if trip_update.trip.schedule_relationship == 3:  # CANCELED: no expected time to show
                continue
            for update in trip_update.stop_time_update:
                if (update.stop_id and update.stop_id != stop["stop_id"]) or (
                        not update.stop_id and (not update.HasField("stop_sequence")
                                                or update.stop_sequence != d["stop_sequence"])):
                    continue
                expected = _stop_event_time(update, d["when"])
                if expected is not None:
                    d["expected"] = expected.astimezone(KYIV)
                    d["delay_min"] = round((expected - d["when"]).total_seconds() / 60)
                break


SCHEME_HALF_DEG = 0.005  # the scheme around a stop: ±0.005° of latitude, ≈ ±550 m


def scheme(conn: sa.Connection, stop: dict) -> dict:
    """A tiny static scheme of the stop's surroundings for an inline SVG (viewBox −100…100, north up,
    metres equal both ways): the route lines near it as polyline points, the other stops as dots."""
    import json
    import math

    lat0, lon0 = stop["lat"], stop["lon"]
    kx = math.cos(math.radians(lat0))
    scale = 100 / SCHEME_HALF_DEG

    def xy(lon: float, lat: float) -> str:
        return f"{(lon - lon0) * kx * scale:.1f},{-(lat - lat0) * scale:.1f}"

    params = {"lon": lon0, "lat": lat0, "dx": SCHEME_HALF_DEG / kx, "dy": SCHEME_HALF_DEG, "h": stop["hromada_id"]}
    box = "ST_Expand(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :dx, :dy)"
    lines = []
    for (shape,) in conn.execute(sa.text(f"""
            SELECT ST_AsGeoJSON(ST_Simplify(ST_ClipByBox2D(geom, {box}), 0.00003), 6) FROM transit_shape
            WHERE hromada_id = :h AND geom && {box} LIMIT 20"""), params):
        geometry = json.loads(shape)
        parts = {"LineString": [geometry.get("coordinates", [])],
                 "MultiLineString": geometry.get("coordinates", [])}.get(geometry["type"], [])
        lines += [" ".join(xy(*c) for c in part) for part in parts if len(part) >= 2]
    others = [xy(r.lon, r.lat) for r in conn.execute(sa.text(f"""
        SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM transit_stop
        WHERE hromada_id = :h AND id <> :id AND geom && {box} LIMIT 30"""), {**params, "id": stop["id"]})]
    return {"lines": lines, "stops": [tuple(p.split(",")) for p in others]}
