"""A small GTFS feed written by the tests into a zip: two routes, working-day and weekend calendars,
Christmas 2026 (a Friday) run as a weekend day, and a working-day trip past midnight.

Stops (near 49.25° N, 28.35° E):  S1 «Центр» (stop_code 101, wheelchair 1), S2 «Школа» (102),
S3 «Лікарня» (103, wheelchair 2).
Trips: T1 route 1, working days, S1 08:00 → S2 08:10 → S3 08:20;
       T2 route 1, weekends,     S1 10:00 → S2 10:10;
       T3 route 2, working days, S1 23:50 → S3 24:20:00;
       T4 route 2, working days, S1 24:30:00 → S2 24:45:00 (00:30 the next morning).
"""
from __future__ import annotations

import zipfile
from pathlib import Path

LON, LAT = 28.35, 49.25

GOOD = {
    "agency.txt": "agency_id,agency_name,agency_url,agency_timezone,agency_phone\n"
                  "A,Тестовий перевізник,https://example.org,Europe/Kyiv,+380 43 000 00 00\n",
    "stops.txt": "stop_id,stop_code,stop_name,stop_desc,stop_lat,stop_lon,location_type,wheelchair_boarding\n"
                 f"S1,101,Центр,Біля ради,{LAT},{LON},0,1\n"
                 f"S2,102,Школа,,{LAT + 0.004},{LON + 0.004},,\n"
                 f"S3,103,Лікарня <i>,,{LAT + 0.008},{LON},0,2\n"
                 f"ST,,Вокзал (станція),,{LAT},{LON + 0.01},1,\n",
    "routes.txt": "route_id,agency_id,route_short_name,route_long_name,route_type,route_color\n"
                  "R1,A,1,Центр — Лікарня,3,1864AB\n"
                  "R2,A,2,Нічний,3,C92A2A\n",
    "trips.txt": "route_id,service_id,trip_id,trip_headsign,shape_id\n"
                 "R1,WD,T1,Лікарня,SH1\n"
                 "R1,WE,T2,Школа,SH1\n"
                 "R2,WD,T3,Лікарня,\n"
                 "R2,WD,T4,Школа,\n",
    "stop_times.txt": "trip_id,arrival_time,departure_time,stop_id,stop_sequence\n"
                      "T1,08:00:00,08:00:00,S1,1\nT1,08:10:00,08:10:00,S2,2\nT1,08:20:00,08:20:00,S3,3\n"
                      "T2,10:00:00,10:00:00,S1,1\nT2,10:10:00,10:10:00,S2,2\n"
                      "T3,23:50:00,23:50:00,S1,1\nT3,24:20:00,24:20:00,S3,2\n"
                      "T4,24:30:00,24:30:00,S1,1\nT4,24:45:00,24:45:00,S2,2\n",
    "calendar.txt": "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
                    "WD,1,1,1,1,1,0,0,20260101,20271231\n"
                    "WE,0,0,0,0,0,1,1,20260101,20271231\n",
    "calendar_dates.txt": "service_id,date,exception_type\n"
                          "WD,20261225,2\n"
                          "WE,20261225,1\n",
    "shapes.txt": "shape_id,shape_pt_lat,shape_pt_lon,shape_pt_sequence\n"
                  f"SH1,{LAT},{LON},1\nSH1,{LAT + 0.004},{LON + 0.004},2\nSH1,{LAT + 0.008},{LON},3\n",
}

# Rows that must be refused, each with its reason (appended to the good feed's tables).
BAD_ROWS = {
    "stops.txt": f"S9,109,Погана,,abc,{LON},0,\nS8,108,Далека,,10.0,10.0,0,\nS7,107,Сходи,,{LAT},{LON},0,5\n",
    "routes.txt": "R9,A,9,Поганий,bus,\n",
    "trips.txt": "R404,WD,T9,Нікуди,\nR1,NOPE,T8,Ніколи,\n",
    "stop_times.txt": "T1,8:7,8:7,S1,9\nT1,08:30:00,08:30:00,S9,10\nT404,08:00:00,08:00:00,S1,1\n",
    "calendar_dates.txt": "WD,20261231,3\n",
}


def write_feed(path: Path, *, bad: bool = False, tables: dict | None = None) -> Path:
    tables = dict(tables or GOOD)
    if bad:
        tables = {name: text + BAD_ROWS.get(name, "") for name, text in tables.items()}
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in tables.items():
            archive.writestr(name, text)
    return path
