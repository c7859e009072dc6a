"""The demo's public transport: an invented GTFS feed of two bus routes across the demo hromada.

Built from the villages' centres (the same every time), written to a zip and imported with
``importers.gtfs`` like any feed, flagged ``is_demo``. Route 1 runs west → east through four
villages every two hours on working days (fewer at weekends), with a last trip past midnight;
route 2 links three villages north → south. Loaded once: a hromada that already has a feed (a real
one above all) is left as it is.
"""
from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import sqlalchemy as sa

from importers.gtfs import import_gtfs
from layers.transit import transit_feed

AGENCY = "agency_id,agency_name,agency_url,agency_timezone,agency_phone\n" \
         "demo,Демо-перевізник (вигаданий),https://example.org/demo-bus,Europe/Kyiv,\n"


def _time(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}:00"


def demo_feed(centres: dict) -> bytes:
    """The feed as zip bytes; ``centres`` maps village names to shapely points."""
    centres = {name.replace(",", " ").replace('"', " "): point for name, point in centres.items()}  # CSV-safe
    villages = sorted(centres.items(), key=lambda item: (item[1].x, item[0]))
    line1 = villages[:: max(1, len(villages) // 4)][:4]
    by_latitude = sorted(centres.items(), key=lambda item: (-item[1].y, item[0]))
    line2 = [v for v in by_latitude if v[0] not in dict(line1)][:3] or by_latitude[:3]
    stops, codes = [], {}
    for name, point in [*line1, *line2]:
        if name in codes:
            continue
        code = str(len(codes) + 1)
        codes[name] = code
        wheelchair = ("1", "0", "2")[len(codes) % 3]
        stops.append(f"D{code},{code},{name} — центр,,{point.y + 0.0006:.6f},{point.x + 0.0006:.6f},0,{wheelchair}")
    trips, times, shapes = [], [], []
    timetable = (("1", line1, {"WD": range(6 * 60, 24 * 60 + 1, 120), "WE": range(8 * 60, 21 * 60, 240)}),
                 ("2", line2, {"WD": range(7 * 60, 20 * 60, 180), "WE": range(9 * 60, 18 * 60, 360)}))
    for route, line, starts in timetable:
        headsign = line[-1][0]
        for service, minutes in starts.items():
            for n, start in enumerate(minutes, start=1):
                trip = f"R{route}-{service}-{n}"
                trips.append(f"R{route},{service},{trip},{headsign},SH{route}")
                for seq, (name, _) in enumerate(line, start=1):
                    at = _time(start + 12 * (seq - 1))
                    times.append(f"{trip},{at},{at},D{codes[name]},{seq}")
        shapes += [f"SH{route},{p.y + 0.0006:.6f},{p.x + 0.0006:.6f},{seq}" for seq, (_, p) in enumerate(line, 1)]
    tables = {
        "agency.txt": AGENCY,
        "stops.txt": "stop_id,stop_code,stop_name,stop_desc,stop_lat,stop_lon,location_type,wheelchair_boarding\n"
                     + "\n".join(stops) + "\n",
        "routes.txt": "route_id,agency_id,route_short_name,route_long_name,route_type,route_color\n"
                      f"R1,demo,1,{line1[0][0]} — {line1[-1][0]},3,1864AB\n"
                      f"R2,demo,2,{line2[0][0]} — {line2[-1][0]},3,E67700\n",
        "trips.txt": "route_id,service_id,trip_id,trip_headsign,shape_id\n" + "\n".join(trips) + "\n",
        "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n" + "\n".join(times) + "\n",
        "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
                        "WD,1,1,1,1,1,0,0,20260101,20301231\nWE,0,0,0,0,0,1,1,20260101,20301231\n",
        # Independence Day runs the weekend timetable.
        "calendar_dates.txt": "service_id,date,exception_type\n" + "".join(
            f"WD,{year}0824,2\nWE,{year}0824,1\n" for year in range(2026, 2031)),
        "shapes.txt": "shape_id,shape_pt_lat,shape_pt_lon,shape_pt_sequence\n" + "\n".join(shapes) + "\n",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in tables.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def load_demo_transit(conn: sa.Connection, hromada_id: int, katottg: str, centres: dict) -> None:
    if len(centres) < 3:
        return
    if conn.execute(sa.select(transit_feed.c.id).where(transit_feed.c.hromada_id == hromada_id)).first():
        return
    with tempfile.TemporaryDirectory(prefix="demo-gtfs-") as tmp:
        path = Path(tmp) / "demo_gtfs.zip"
        path.write_bytes(demo_feed(centres))
        import_gtfs(conn, path, katottg, is_demo=True)
