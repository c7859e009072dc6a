"""Importing a GTFS feed (a zip) into a hromada's public transport: ``hromada import gtfs FILE --hromada KATOTTG``.

The zip is unpacked safely (``importers.sources.safe_unzip``: no escapes, no zip bombs) and every table
is read as text with pandas, so one bad value costs its row — with the file, the row number (as a
spreadsheet counts them, the header being row 1) and the reason in Ukrainian and English — and never
the feed. (gtfs-kit and partridge were tried: they type the columns while reading, so one bad
coordinate stops the whole feed with pandas' message and no row number.)

Checked: required files and columns; ids present and unique; coordinates numbers within Ukraine;
``wheelchair_boarding`` 0/1/2; route_type an integer; trips naming a known route and a service of
calendar.txt or calendar_dates.txt; stop times ``H:MM:SS`` (hours past 24 for trips past midnight)
naming a known trip and stop, departure not before arrival; calendar weekday flags 0/1 and dates
``YYYYMMDD`` with start ≤ end; exceptions 1/2; shapes with at least two points. A row that names a
refused row (a stop time of a refused stop) is refused with that reason. Stops with a
``location_type`` other than 0 (stations, entrances) are skipped and counted.

The import replaces the hromada's feed whole, in one transaction: stops, shapes, routes, trips,
times and calendars land together or not at all.
"""
from __future__ import annotations

import datetime as dt
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import shapely
import sqlalchemy as sa

from gis.bulk import ewkb
from gis.errors import InvalidInput, NotFound
from gis.hromadas import find_hromada
from importers.sources import safe_unzip
from layers import transit as tr
from layers.tables import build_table

LISTED = 100
REQUIRED_FILES = ("agency.txt", "stops.txt", "routes.txt", "trips.txt", "stop_times.txt")
REQUIRED_COLUMNS = {
    "stops.txt": ("stop_id", "stop_name", "stop_lat", "stop_lon"),
    "routes.txt": ("route_id", "route_type"),
    "trips.txt": ("route_id", "service_id", "trip_id"),
    "stop_times.txt": ("trip_id", "stop_id", "stop_sequence"),
    "calendar.txt": ("service_id", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
                     "start_date", "end_date"),
    "calendar_dates.txt": ("service_id", "date", "exception_type"),
    "shapes.txt": ("shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence"),
}
UKRAINE = (22.0, 44.0, 40.5, 52.5)  # lon/lat bounding box, with a margin
TIME = re.compile(r"^(\d{1,3}):([0-5]\d):([0-5]\d)$")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass
class GtfsReport:
    source: str
    hromada: str
    read: dict[str, int] = field(default_factory=dict)
    accepted: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    rejected: int = 0
    # (file, row, reason uk, reason en), the first LISTED of them
    rejections: list[tuple[str, int, str, str]] = field(default_factory=list)

    def reject(self, file: str, row: int, uk: str, en: str) -> None:
        self.rejected += 1
        if len(self.rejections) < LISTED:
            self.rejections.append((file, row, uk, en))

    def summary(self, lang: str = "uk") -> str:
        counts = ", ".join(f"{name} {self.accepted.get(name, 0)}/{self.read.get(name, 0)}" for name in self.read)
        if lang == "en":
            lines = [f"{self.source} → GTFS of {self.hromada}: accepted/read {counts}; "
                     f"skipped {self.skipped} (stations, entrances), rejected {self.rejected}"]
        else:
            lines = [f"{self.source} → GTFS громади {self.hromada}: прийнято/прочитано {counts}; "
                     f"пропущено {self.skipped} (станції, входи), відхилено {self.rejected}"]
        for file, row, uk, en in self.rejections:
            lines.append(f"  {file}, {'row' if lang == 'en' else 'рядок'} {row}: {en if lang == 'en' else uk}")
        return "\n".join(lines)


def _read(folder: Path, name: str) -> pd.DataFrame | None:
    found = [p for p in folder.rglob(name) if p.is_file()]
    if not found:
        return None
    frame = pd.read_csv(found[0], dtype=str, keep_default_na=False, encoding="utf-8-sig", skipinitialspace=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in REQUIRED_COLUMNS.get(name, ()) if c not in frame.columns]
    if missing:
        raise InvalidInput(f"{name}: немає колонок {', '.join(missing)}",
                           f"{name}: missing columns {', '.join(missing)}")
    return frame.apply(lambda col: col.str.strip())


def _rows(frame: pd.DataFrame | None):
    """(row number as a spreadsheet shows it, the row as a dict)."""
    if frame is None:
        return
    for number, row in enumerate(frame.to_dict("records"), start=2):
        yield number, row


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value else None  # not NaN


def _integer(text: str) -> int | None:
    return int(text) if re.fullmatch(r"-?\d+", text or "") else None


def _date(text: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date() if re.fullmatch(r"\d{8}", text or "") else None
    except ValueError:
        return None


def _seconds(text: str) -> int | None:
    match = TIME.match(text or "")
    if match is None:
        return None
    h, m, s = (int(x) for x in match.groups())
    return h * 3600 + m * 60 + s


def _in_ukraine(lon: float | None, lat: float | None) -> bool:
    return (lon is not None and lat is not None and UKRAINE[0] <= lon <= UKRAINE[2]
            and UKRAINE[1] <= lat <= UKRAINE[3])


def import_gtfs(engine_or_conn, path: str | Path, katottg: str, *, is_demo: bool = False,
                dry_run: bool = False, realtime_url: str | None = None) -> GtfsReport:
    """Check the feed at ``path`` and replace the hromada's public transport with it; ``realtime_url``:
    the operator's GTFS-Realtime VehiclePositions feed (http or https), if any."""
    if realtime_url and not re.match(r"^https?://[^\s]+$", realtime_url):
        raise InvalidInput("--realtime-url має бути адресою http(s)://…", "--realtime-url must be an http(s):// URL")
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"Файл {path} не знайдено", f"File {path} not found")
    with tempfile.TemporaryDirectory(prefix="gtfs-") as tmp:
        safe_unzip(path, Path(tmp))
        tables = {name: _read(Path(tmp), name) for name in
                  (*REQUIRED_FILES, "calendar.txt", "calendar_dates.txt", "shapes.txt")}
    missing = [name for name in REQUIRED_FILES if tables[name] is None]
    if tables["calendar.txt"] is None and tables["calendar_dates.txt"] is None:
        missing.append("calendar.txt / calendar_dates.txt")
    if missing:
        raise InvalidInput(f"{path.name}: у стрічці GTFS немає {', '.join(missing)}",
                           f"{path.name}: the GTFS feed lacks {', '.join(missing)}")
    report = GtfsReport(source=path.name, hromada=katottg)
    checked = _check(tables, report, katottg)
    if dry_run:
        return report
    if isinstance(engine_or_conn, sa.Engine):
        with engine_or_conn.begin() as conn:
            _write(conn, checked, katottg, path.name, is_demo, realtime_url)
    else:
        _write(engine_or_conn, checked, katottg, path.name, is_demo, realtime_url)
    return report


def _check(tables: dict, report: GtfsReport, katottg: str) -> dict:
    for name, frame in tables.items():
        if frame is not None:
            report.read[name] = len(frame)
    agency = next((row for _, row in _rows(tables["agency.txt"])), {})
    report.accepted["agency.txt"] = min(len(tables["agency.txt"]), 1)  # the first agency names the feed
    stops, page_codes = {}, set()
    for n, row in _rows(tables["stops.txt"]):
        stop_id = row.get("stop_id", "")
        if row.get("location_type", "") not in ("", "0"):
            report.skipped += 1
            continue
        lon, lat = _number(row.get("stop_lon", "")), _number(row.get("stop_lat", ""))
        wheelchair = row.get("wheelchair_boarding", "")
        if not stop_id:
            report.reject("stops.txt", n, "немає stop_id", "stop_id is empty")
        elif stop_id in stops:
            report.reject("stops.txt", n, f"stop_id {stop_id!r} повторюється", f"stop_id {stop_id!r} is repeated")
        elif not row.get("stop_name"):
            report.reject("stops.txt", n, f"зупинка {stop_id!r} без назви (stop_name)",
                          f"stop {stop_id!r} has no stop_name")
        elif lon is None or lat is None:
            report.reject("stops.txt", n, f"зупинка {stop_id!r}: координати stop_lat/stop_lon не числа "
                          f"({row.get('stop_lat')!r}, {row.get('stop_lon')!r})",
                          f"stop {stop_id!r}: stop_lat/stop_lon are not numbers "
                          f"({row.get('stop_lat')!r}, {row.get('stop_lon')!r})")
        elif not _in_ukraine(lon, lat):
            report.reject("stops.txt", n, f"зупинка {stop_id!r}: точка ({lat}, {lon}) не в Україні",
                          f"stop {stop_id!r}: the point ({lat}, {lon}) is not in Ukraine")
        elif wheelchair not in ("", "0", "1", "2"):
            report.reject("stops.txt", n,
                          f"зупинка {stop_id!r}: wheelchair_boarding має бути 0, 1 або 2, а не {wheelchair!r}",
                          f"stop {stop_id!r}: wheelchair_boarding must be 0, 1 or 2, not {wheelchair!r}")
        else:
            code = tr.page_code(katottg, row.get("stop_code"), stop_id)
            if code in page_codes:  # two stops share a stop_code: the id tells them apart
                code = tr.page_code(katottg, None, stop_id)
            page_codes.add(code)
            stops[stop_id] = {"stop_id": stop_id, "stop_code": row.get("stop_code") or None,
                              "name": row["stop_name"], "description": row.get("stop_desc") or None,
                              "wheelchair_boarding": wheelchair or None, "page_code": code,
                              "point": shapely.Point(lon, lat)}
    report.accepted["stops.txt"] = len(stops)

    routes = {}
    for n, row in _rows(tables["routes.txt"]):
        route_id, kind = row.get("route_id", ""), _integer(row.get("route_type", ""))
        if not route_id:
            report.reject("routes.txt", n, "немає route_id", "route_id is empty")
        elif route_id in routes:
            report.reject("routes.txt", n, f"route_id {route_id!r} повторюється", f"route_id {route_id!r} is repeated")
        elif kind is None:
            report.reject("routes.txt", n, f"маршрут {route_id!r}: route_type має бути цілим числом, а не "
                          f"{row.get('route_type')!r}", f"route {route_id!r}: route_type must be an integer, not "
                          f"{row.get('route_type')!r}")
        elif not (row.get("route_short_name") or row.get("route_long_name")):
            report.reject("routes.txt", n, f"маршрут {route_id!r} без назви (route_short_name, route_long_name)",
                          f"route {route_id!r} has neither route_short_name nor route_long_name")
        else:
            routes[route_id] = {"route_id": route_id, "short_name": row.get("route_short_name") or None,
                                "long_name": row.get("route_long_name") or None, "route_type": kind,
                                "color": row.get("route_color") or None}
    report.accepted["routes.txt"] = len(routes)

    calendar = {}
    for n, row in _rows(tables["calendar.txt"]):
        service_id = row.get("service_id", "")
        flags = [row.get(day, "") for day in WEEKDAYS]
        start, end = _date(row.get("start_date", "")), _date(row.get("end_date", ""))
        if not service_id:
            report.reject("calendar.txt", n, "немає service_id", "service_id is empty")
        elif service_id in calendar:
            report.reject("calendar.txt", n, f"service_id {service_id!r} повторюється",
                          f"service_id {service_id!r} is repeated")
        elif any(flag not in ("0", "1") for flag in flags):
            report.reject("calendar.txt", n, f"послуга {service_id!r}: дні тижня мають бути 0 або 1",
                          f"service {service_id!r}: weekday columns must be 0 or 1")
        elif start is None or end is None:
            report.reject("calendar.txt", n, f"послуга {service_id!r}: дати мають бути у вигляді РРРРММДД",
                          f"service {service_id!r}: dates must be YYYYMMDD")
        elif start > end:
            report.reject("calendar.txt", n, f"послуга {service_id!r}: start_date пізніше за end_date",
                          f"service {service_id!r}: start_date is after end_date")
        else:
            calendar[service_id] = {"service_id": service_id, "weekdays": "".join(flags), "start_date": start,
                                    "end_date": end}
    report.accepted["calendar.txt"] = len(calendar)

    exceptions = {}
    for n, row in _rows(tables["calendar_dates.txt"]):
        service_id, day, kind = row.get("service_id", ""), _date(row.get("date", "")), row.get("exception_type", "")
        if not service_id:
            report.reject("calendar_dates.txt", n, "немає service_id", "service_id is empty")
        elif day is None:
            report.reject("calendar_dates.txt", n, f"дата {row.get('date')!r} не у вигляді РРРРММДД",
                          f"date {row.get('date')!r} is not YYYYMMDD")
        elif kind not in ("1", "2"):
            report.reject("calendar_dates.txt", n,
                          f"exception_type має бути 1 (додано) або 2 (скасовано), а не {kind!r}",
                          f"exception_type must be 1 (added) or 2 (removed), not {kind!r}")
        elif (service_id, day) in exceptions:
            report.reject("calendar_dates.txt", n, f"виняток {service_id!r} на {day} повторюється",
                          f"the exception for {service_id!r} on {day} is repeated")
        else:
            exceptions[(service_id, day)] = {"service_id": service_id, "date": day, "exception_type": int(kind)}
    report.accepted["calendar_dates.txt"] = len(exceptions)
    services = set(calendar) | {service for service, _ in exceptions}

    trips = {}
    for n, row in _rows(tables["trips.txt"]):
        trip_id, route_id, service_id = row.get("trip_id", ""), row.get("route_id", ""), row.get("service_id", "")
        if not trip_id:
            report.reject("trips.txt", n, "немає trip_id", "trip_id is empty")
        elif trip_id in trips:
            report.reject("trips.txt", n, f"trip_id {trip_id!r} повторюється", f"trip_id {trip_id!r} is repeated")
        elif route_id not in routes:
            report.reject("trips.txt", n, f"рейс {trip_id!r}: маршруту {route_id!r} немає серед прийнятих у routes.txt",
                          f"trip {trip_id!r}: route {route_id!r} is not among the accepted routes of routes.txt")
        elif service_id not in services:
            report.reject("trips.txt", n, f"рейс {trip_id!r}: послуги {service_id!r} немає в calendar.txt чи "
                          "calendar_dates.txt", f"trip {trip_id!r}: service {service_id!r} is in neither calendar.txt "
                          "nor calendar_dates.txt")
        else:
            trips[trip_id] = {"trip_id": trip_id, "route_id": route_id, "service_id": service_id,
                              "headsign": row.get("trip_headsign") or None, "shape_id": row.get("shape_id") or None}
    report.accepted["trips.txt"] = len(trips)

    stop_times, seen = [], set()
    for n, row in _rows(tables["stop_times.txt"]):
        trip_id, stop_id = row.get("trip_id", ""), row.get("stop_id", "")
        sequence = _integer(row.get("stop_sequence", ""))
        arrival_text = row.get("arrival_time", "") or row.get("departure_time", "")
        departure_text = row.get("departure_time", "") or row.get("arrival_time", "")
        arrival, departure = _seconds(arrival_text), _seconds(departure_text)
        if trip_id not in trips:
            report.reject("stop_times.txt", n, f"рейсу {trip_id!r} немає серед прийнятих у trips.txt",
                          f"trip {trip_id!r} is not among the accepted trips of trips.txt")
        elif stop_id not in stops:
            report.reject("stop_times.txt", n, f"зупинки {stop_id!r} немає серед прийнятих у stops.txt",
                          f"stop {stop_id!r} is not among the accepted stops of stops.txt")
        elif sequence is None or sequence < 0:
            report.reject("stop_times.txt", n, f"stop_sequence має бути цілим невід'ємним числом, а не "
                          f"{row.get('stop_sequence')!r}", f"stop_sequence must be a whole number ≥ 0, not "
                          f"{row.get('stop_sequence')!r}")
        elif (trip_id, sequence) in seen:
            report.reject("stop_times.txt", n, f"рейс {trip_id!r}: stop_sequence {sequence} повторюється",
                          f"trip {trip_id!r}: stop_sequence {sequence} is repeated")
        elif not arrival_text:
            report.reject("stop_times.txt", n, f"рейс {trip_id!r}, зупинка {stop_id!r}: немає часу (інтерпольовані "
                          "часи не підтримуються)", f"trip {trip_id!r}, stop {stop_id!r}: no time (interpolated times "
                          "are not supported)")
        elif arrival is None or departure is None:
            report.reject("stop_times.txt", n,
                          f"рейс {trip_id!r}: час {arrival_text!r}/{departure_text!r} не у вигляді ГГ:ХХ:СС",
                          f"trip {trip_id!r}: time {arrival_text!r}/{departure_text!r} is not HH:MM:SS")
        elif departure < arrival:
            report.reject("stop_times.txt", n, f"рейс {trip_id!r}: відправлення {departure_text} раніше за прибуття "
                          f"{arrival_text}", f"trip {trip_id!r}: departure {departure_text} is before arrival "
                          f"{arrival_text}")
        else:
            seen.add((trip_id, sequence))
            stop_times.append({"trip_id": trip_id, "stop_id": stop_id, "stop_sequence": sequence,
                               "arrival_s": arrival, "departure_s": departure})
    report.accepted["stop_times.txt"] = len(stop_times)

    points: dict[str, list[tuple[int, float, float]]] = {}
    for n, row in _rows(tables["shapes.txt"]):
        shape_id = row.get("shape_id", "")
        lon, lat = _number(row.get("shape_pt_lon", "")), _number(row.get("shape_pt_lat", ""))
        sequence = _integer(row.get("shape_pt_sequence", ""))
        if not shape_id:
            report.reject("shapes.txt", n, "немає shape_id", "shape_id is empty")
        elif not _in_ukraine(lon, lat):
            report.reject("shapes.txt", n, f"траса {shape_id!r}: точка ({row.get('shape_pt_lat')!r}, "
                          f"{row.get('shape_pt_lon')!r}) не є координатами в Україні",
                          f"shape {shape_id!r}: the point ({row.get('shape_pt_lat')!r}, {row.get('shape_pt_lon')!r}) "
                          "is not coordinates in Ukraine")
        elif sequence is None:
            report.reject("shapes.txt", n, f"траса {shape_id!r}: shape_pt_sequence має бути цілим числом",
                          f"shape {shape_id!r}: shape_pt_sequence must be an integer")
        else:
            points.setdefault(shape_id, []).append((sequence, lon, lat))
    shapes = {}
    for shape_id, pts in points.items():
        if len(pts) < 2:
            report.reject("shapes.txt", 0, f"траса {shape_id!r} має менше двох точок",
                          f"shape {shape_id!r} has fewer than two points")
            continue
        route_id = next((t["route_id"] for t in trips.values() if t["shape_id"] == shape_id), None)
        route = routes.get(route_id) if route_id else None
        shapes[shape_id] = {"shape_id": shape_id, "route_id": route_id,
                            "route_name": (" — ".join(x for x in (route["short_name"], route["long_name"]) if x)
                                           if route else None),
                            "route_type": str(route["route_type"]) if route else None,
                            "line": shapely.LineString([(lon, lat) for _, lon, lat in sorted(pts)])}
    report.accepted["shapes.txt"] = len(shapes)
    return {"agency": agency, "stops": stops, "routes": routes, "calendar": calendar, "exceptions": exceptions,
            "trips": trips, "stop_times": stop_times, "shapes": shapes}


def _write(conn: sa.Connection, feed: dict, katottg: str, source: str, is_demo: bool,
           realtime_url: str | None = None) -> None:
    row = find_hromada(conn, katottg)
    if row is None:
        raise NotFound(f"Громаду {katottg} не завантажено", f"Hromada {katottg} is not loaded")
    hromada_id = row.id
    stops_table, shapes_table = build_table(tr.TRANSIT_STOPS), build_table(tr.TRANSIT_SHAPES)
    # What a survey added to a stop is not in the feed: it stays with the stop of the same stop_id.
    surveyed = {row.stop_id: {name: getattr(row, name) for name in tr.SURVEY}
                for row in conn.execute(sa.select(stops_table.c.stop_id, *(stops_table.c[n] for n in tr.SURVEY))
                                        .where(stops_table.c.hromada_id == hromada_id))}
    conn.execute(tr.transit_feed.delete().where(tr.transit_feed.c.hromada_id == hromada_id))
    conn.execute(stops_table.delete().where(stops_table.c.hromada_id == hromada_id))
    conn.execute(shapes_table.delete().where(shapes_table.c.hromada_id == hromada_id))
    agency = feed["agency"]
    feed_id = conn.execute(tr.transit_feed.insert().values(
        hromada_id=hromada_id, source=source, agency_name=agency.get("agency_name") or None,
        agency_url=agency.get("agency_url") or None, agency_phone=agency.get("agency_phone") or None,
        realtime_url=realtime_url, is_demo=is_demo).returning(tr.transit_feed.c.id)).scalar_one()
    stop_ids = {}
    for stop in feed["stops"].values():
        values = {k: v for k, v in stop.items() if k != "point"} | surveyed.get(stop["stop_id"], {})
        stop_ids[stop["stop_id"]] = conn.execute(stops_table.insert().values(
            hromada_id=hromada_id, **values, geom=sa.func.ST_GeomFromEWKB(ewkb(stop["point"])), source=source,
            is_demo=is_demo).returning(stops_table.c.id)).scalar_one()
    if feed["shapes"]:
        conn.execute(shapes_table.insert(), [
            {**{k: v for k, v in shape.items() if k != "line"}, "hromada_id": hromada_id,
             "geom": "SRID=4326;" + shapely.to_wkt(shape["line"]), "source": source, "is_demo": is_demo}
            for shape in feed["shapes"].values()])
    route_ids = {}
    for route in feed["routes"].values():
        route_ids[route["route_id"]] = conn.execute(tr.transit_route.insert().values(
            feed_id=feed_id, **route).returning(tr.transit_route.c.id)).scalar_one()
    if feed["calendar"]:
        conn.execute(tr.transit_calendar.insert(), [{"feed_id": feed_id, **c} for c in feed["calendar"].values()])
    if feed["exceptions"]:
        conn.execute(tr.transit_calendar_date.insert(),
                     [{"feed_id": feed_id, **e} for e in feed["exceptions"].values()])
    trip_ids = {}
    for trip in feed["trips"].values():
        trip_ids[trip["trip_id"]] = conn.execute(tr.transit_trip.insert().values(
            feed_id=feed_id, route_id=route_ids[trip["route_id"]], trip_id=trip["trip_id"],
            service_id=trip["service_id"], headsign=trip["headsign"], shape_id=trip["shape_id"])
            .returning(tr.transit_trip.c.id)).scalar_one()
    if feed["stop_times"]:
        conn.execute(tr.transit_stop_time.insert(), [
            {"trip_id": trip_ids[st["trip_id"]], "stop_id": stop_ids[st["stop_id"]],
             "stop_sequence": st["stop_sequence"], "arrival_s": st["arrival_s"], "departure_s": st["departure_s"]}
            for st in feed["stop_times"]])
