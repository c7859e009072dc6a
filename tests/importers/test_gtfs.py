"""`hromada import gtfs`: a GTFS zip into a hromada's stops, shapes and timetable; bad rows refused with reasons."""
import datetime as dt

import pytest
from click.testing import CliRunner

from gis.config import DEMO_KATOTTG
from gis.errors import InvalidInput
from importers.gtfs import import_gtfs
from layers import transit
from tests.helpers import scalar
from tests.importers.gtfs_feed import GOOD, write_feed


def _departures(engine, code: str, at: str) -> list[tuple[str, str, str]]:
    moment = dt.datetime.fromisoformat(at).replace(tzinfo=transit.KYIV)
    with engine.connect() as conn:
        stop = transit.stop_by_code(conn, code)
        return [(d["when"].strftime("%Y-%m-%d %H:%M"), d["route"], d["headsign"])
                for d in transit.departures(conn, stop, moment)]


def test_a_feed_lands_as_layers_and_a_timetable(demo_db, tmp_path):
    report = import_gtfs(demo_db, write_feed(tmp_path / "feed.zip"), DEMO_KATOTTG)
    assert report.rejected == 0, report.summary("en")
    assert report.skipped == 1  # the station (location_type 1)
    assert report.accepted == {"agency.txt": 1, "stops.txt": 3, "routes.txt": 2, "calendar.txt": 2,
                               "calendar_dates.txt": 2, "trips.txt": 4, "stop_times.txt": 9, "shapes.txt": 1}
    assert scalar(demo_db, "SELECT count(*) FROM transit_stop WHERE page_code LIKE :p AND NOT is_demo",
                  p=f"{DEMO_KATOTTG}-%") == 3
    assert scalar(demo_db, "SELECT page_code FROM transit_stop WHERE stop_id = 'S1'") == f"{DEMO_KATOTTG}-101"
    assert scalar(demo_db, "SELECT ST_NPoints(geom) FROM transit_shape WHERE shape_id = 'SH1'") == 3
    assert scalar(demo_db, "SELECT weekdays FROM transit_calendar WHERE service_id = 'WD'") == "1111100"
    assert scalar(demo_db, "SELECT departure_s FROM transit_stop_time st JOIN transit_trip t ON t.id = st.trip_id "
                           "WHERE t.trip_id = 'T4' AND st.stop_sequence = 1") == 24 * 3600 + 30 * 60
    # Re-importing replaces the feed rather than adding to it.
    import_gtfs(demo_db, write_feed(tmp_path / "feed.zip"), DEMO_KATOTTG)
    assert scalar(demo_db, "SELECT count(*) FROM transit_stop WHERE stop_id = 'S1'") == 1
    assert scalar(demo_db, "SELECT count(*) FROM transit_feed") == 1


@pytest.mark.parametrize("at, expected", [
    # A Monday morning: the working-day trips, the one past midnight the next morning.
    ("2026-12-07T07:00", [("2026-12-07 08:00", "1", "Лікарня"), ("2026-12-07 23:50", "2", "Лікарня"),
                          ("2026-12-08 00:30", "2", "Школа")]),
    # Saturday 00:10: Friday's service day still runs its 24:30:00 trip; then Saturday's weekend trip.
    ("2026-12-05T00:10", [("2026-12-05 00:30", "2", "Школа"), ("2026-12-05 10:00", "1", "Школа")]),
    # Sunday 00:10: Saturday ran no working-day service, so nothing past midnight (and the next 24 hours
    # end before Monday's 08:00).
    ("2026-12-06T00:10", [("2026-12-06 10:00", "1", "Школа")]),
    # Christmas (Friday 25 December 2026): the exception runs the weekend service instead.
    ("2026-12-25T07:00", [("2026-12-25 10:00", "1", "Школа")]),
    # …and so the night after it has no 00:30 trip, only Saturday's.
    ("2026-12-26T00:10", [("2026-12-26 10:00", "1", "Школа")]),
])
def test_departures_follow_calendars_exceptions_and_midnight(demo_db, tmp_path, at, expected):
    import_gtfs(demo_db, write_feed(tmp_path / "feed.zip"), DEMO_KATOTTG)
    assert _departures(demo_db, f"{DEMO_KATOTTG}-101", at) == expected


def test_a_last_stop_is_no_departure(demo_db, tmp_path):
    import_gtfs(demo_db, write_feed(tmp_path / "feed.zip"), DEMO_KATOTTG)
    assert _departures(demo_db, f"{DEMO_KATOTTG}-103", "2026-12-07T00:00") == []


def test_bad_rows_are_refused_with_reasons(demo_db, tmp_path):
    report = import_gtfs(demo_db, write_feed(tmp_path / "bad.zip", bad=True), DEMO_KATOTTG)
    reasons_en = {(file, row): en for file, row, _uk, en in report.rejections}
    reasons_uk = {(file, row): uk for file, row, uk, _en in report.rejections}
    assert reasons_en[("stops.txt", 6)] == "stop 'S9': stop_lat/stop_lon are not numbers ('abc', '28.35')"
    assert reasons_uk[("stops.txt", 6)].startswith("зупинка 'S9': координати stop_lat/stop_lon не числа")
    assert "not in Ukraine" in reasons_en[("stops.txt", 7)]
    assert "wheelchair_boarding must be 0, 1 or 2, not '5'" in reasons_en[("stops.txt", 8)]
    assert "route_type must be an integer, not 'bus'" in reasons_en[("routes.txt", 4)]
    assert "route 'R404' is not among the accepted routes" in reasons_en[("trips.txt", 6)]
    assert "service 'NOPE' is in neither calendar.txt nor calendar_dates.txt" in reasons_en[("trips.txt", 7)]
    assert "is not HH:MM:SS" in reasons_en[("stop_times.txt", 11)]
    assert "stop 'S9' is not among the accepted stops" in reasons_en[("stop_times.txt", 12)]
    assert "trip 'T404' is not among the accepted trips" in reasons_en[("stop_times.txt", 13)]
    assert "exception_type must be 1 (added) or 2 (removed), not '3'" in reasons_en[("calendar_dates.txt", 4)]
    assert report.rejected == 10
    assert "stops.txt, рядок 6: зупинка 'S9'" in report.summary("uk")
    assert "stops.txt, row 6: stop 'S9'" in report.summary("en")
    # The good rows still land.
    assert scalar(demo_db, "SELECT count(*) FROM transit_stop") == 3
    assert scalar(demo_db, "SELECT count(*) FROM transit_trip") == 4


def test_a_feed_without_required_files_is_refused_whole(demo_db, tmp_path):
    tables = {k: v for k, v in GOOD.items() if k != "stop_times.txt"}
    with pytest.raises(InvalidInput) as refused:
        import_gtfs(demo_db, write_feed(tmp_path / "part.zip", tables=tables), DEMO_KATOTTG)
    assert "stop_times.txt" in refused.value.en and "stop_times.txt" in refused.value.uk
    assert scalar(demo_db, "SELECT count(*) FROM transit_feed WHERE NOT is_demo") == 0


def test_the_command(demo_db, database_url, tmp_path, monkeypatch):
    from webmap.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    path = write_feed(tmp_path / "feed.zip", bad=True)
    result = CliRunner().invoke(main, ["import", "gtfs", str(path), "--hromada", DEMO_KATOTTG])
    assert result.exit_code == 0, result.output
    assert "відхилено 10" in result.output and "rejected 10" in result.output
    assert scalar(demo_db, "SELECT count(*) FROM transit_stop WHERE stop_id = 'S1'") == 1
    missing = CliRunner().invoke(main, ["import", "gtfs", str(path)])
    assert missing.exit_code == 1 and "--hromada" in missing.output
