"""The dashboard (layers.dashboard, webmap.dashboard): every figure equals a count made independently,
in Python, over several hundred reports spread over months, units, categories and statuses."""
import csv
import io
import random
import statistics
from collections import Counter
from zoneinfo import ZoneInfo

import numpy
import pytest
import sqlalchemy as sa

from gis.config import DEMO_KATOTTG
from layers.report_states import OPEN_STATUSES
from tests.helpers import demo_hromada_id
from tests.webmap.test_reports_http import add_staff, log_in

KYIV = ZoneInfo("Europe/Kyiv")
STATUSES = ("new", "acknowledged", "in_progress", "reopened", "resolved", "rejected", "duplicate")


@pytest.fixture
def many_reports(demo_db):
    """400 reports over a year: random category, unit, status and times; some hidden, some answered
    "is it fixed?"."""
    rng = random.Random(16)
    hromada = demo_hromada_id(demo_db)
    with demo_db.begin() as conn:
        categories = conn.execute(sa.text("SELECT id FROM category WHERE hromada_id IS NULL")).scalars().all()
        units = conn.execute(sa.text("SELECT id FROM unit WHERE hromada_id = :h"), {"h": hromada}).scalars().all()
        points = conn.execute(sa.text(
            "SELECT ST_X(g), ST_Y(g) FROM (SELECT (ST_Dump(ST_GeneratePoints(boundary, 400, 16))).geom AS g "
            "FROM hromada WHERE id = :h) s"), {"h": hromada}).all()
        for n, (lon, lat) in enumerate(points, start=1):
            status = rng.choice(STATUSES)
            created = f"now() - interval '{rng.randint(0, 360 * 24)} hours'"
            closed = None if status in OPEN_STATUSES else rng.randint(1, 30 * 24)
            report_id = conn.execute(sa.text(f"""
                INSERT INTO report (code, hromada_id, category_id, unit_id, status, location, description,
                                    private_token_hash, routing_rule, routing_reason_uk, routing_reason_en,
                                    created_at, due_at, closed_at, hidden_reason)
                VALUES (:code, :h, :c, :u, :s, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 'x', 'x', 'default',
                        'x', 'x', {created}, {created} + make_interval(days => :target),
                        {created} + make_interval(hours => CAST(:closed AS integer)),
                        :hidden)
                RETURNING id"""), {
                "code": f"ТЕСТ-{n:06d}", "h": hromada, "c": rng.choice(categories), "u": rng.choice(units),
                "s": status, "lon": lon, "lat": lat, "target": rng.randint(2, 14), "closed": closed,
                "hidden": "образливе" if rng.random() < 0.05 else None}).scalar_one()
            if status != "new" and rng.random() < 0.9:
                conn.execute(sa.text("""
                    INSERT INTO report_event (report_id, kind, from_status, to_status, created_at)
                    SELECT id, 'status', 'new', 'acknowledged', created_at + make_interval(mins => :m)
                    FROM report WHERE id = :id"""), {"id": report_id, "m": rng.randint(5, 5 * 24 * 60)})
            if status == "resolved" and rng.random() < 0.3:
                kind = rng.choice(("fixed_yes", "fixed_no"))
                conn.execute(sa.text("INSERT INTO report_event (report_id, kind) VALUES (:id, :k)"),
                             {"id": report_id, "k": kind})
    return hromada


def rows(engine, staff: bool):
    """The reports as plain Python values, with what the figures need — read without the dashboard's SQL."""
    with engine.connect() as conn:
        reports = conn.execute(sa.text("""
            SELECT r.id, c.code AS category, u.code AS unit, r.status, r.created_at, r.closed_at, r.due_at,
                   r.is_public FROM report r JOIN category c ON c.id = r.category_id JOIN unit u ON u.id = r.unit_id
            WHERE r.hromada_id = (SELECT id FROM hromada WHERE katottg = :k)"""), {"k": DEMO_KATOTTG}).mappings().all()
        events = conn.execute(sa.text("SELECT report_id, kind, from_status, created_at FROM report_event")).all()
    return [r for r in reports if staff or r["is_public"]], events


def percentile(values, share):
    return round(float(numpy.percentile(values, share * 100)), 1) if values else None


def expected(engine, staff: bool) -> dict:
    reports, events = rows(engine, staff)
    ids = {r["id"]: r for r in reports}
    opened = [r for r in reports if r["status"] in OPEN_STATUSES]
    resolved = [r for r in reports if r["status"] == "resolved"]
    first_ack = {}
    for e in events:
        if e.report_id in ids and e.kind == "status" and e.from_status == "new":
            first_ack[e.report_id] = min(first_ack.get(e.report_id, e.created_at), e.created_at)
    ack_hours = [(at - ids[i]["created_at"]).total_seconds() / 3600 for i, at in first_ack.items()]
    res_hours = [(r["closed_at"] - r["created_at"]).total_seconds() / 3600 for r in resolved]
    return {
        "by_category": Counter(r["category"] for r in reports),
        "by_unit": Counter(r["unit"] for r in reports),
        "by_month": Counter(r["created_at"].astimezone(KYIV).strftime("%Y-%m") for r in reports),
        "open": len(opened), "total": len(reports),
        "ack_median": round(statistics.median(ack_hours), 1), "ack_p90": percentile(ack_hours, 0.9),
        "resolve_median": round(statistics.median(res_hours), 1), "resolve_p90": percentile(res_hours, 0.9),
        "in_time": sum(r["closed_at"] <= r["due_at"] for r in resolved), "resolved": len(resolved),
        "fixed": Counter(e.kind for e in events if e.report_id in ids and e.kind.startswith("fixed_")),
    }


def check(figures: dict, want: dict) -> None:
    assert {r["code"]: r["total"] for r in figures["by_category"]} == dict(want["by_category"])
    assert {r["code"]: r["total"] for r in figures["by_unit"]} == dict(want["by_unit"])
    assert {r["month"]: r["total"] for r in figures["by_month"]} == dict(want["by_month"])
    assert sum(r["total"] for r in figures["by_village"]) == want["total"]
    times = figures["times"]
    assert (times["total"], times["open"]) == (want["total"], want["open"])
    assert times["closed"] == want["total"] - want["open"]
    for key in ("ack_median", "ack_p90", "resolve_median", "resolve_p90"):
        assert times[key] == pytest.approx(want[key], abs=0.051), key
    assert (times["resolved_in_time"], times["resolved"]) == (want["in_time"], want["resolved"])
    assert times["share_in_time"] == round(want["in_time"] / want["resolved"], 3)
    assert figures["fixed_answers"] == {"fixed": want["fixed"]["fixed_yes"], "not_fixed": want["fixed"]["fixed_no"]}
    assert sum(f["properties"]["reports"] for f in figures["hexbins"]["features"]) == want["total"]


def test_public_figures_equal_independent_counts(client, demo_db, many_reports):
    answer = client.get(f"/api/hromadas/{DEMO_KATOTTG}/dashboard")
    assert answer.status_code == 200 and "overdue" not in answer.json
    check(answer.json, expected(demo_db, staff=False))
    # The same table as CSV (with the byte-order mark spreadsheets need).
    answer = client.get(f"/api/hromadas/{DEMO_KATOTTG}/dashboard/by_unit.csv")
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"  # the charset once, not twice
    text = answer.get_data(as_text=True)
    table = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert {r["code"]: int(r["total"]) for r in table} == dict(expected(demo_db, staff=False)["by_unit"])
    assert client.get(f"/api/hromadas/{DEMO_KATOTTG}/dashboard/nonsense.csv").status_code == 404
    page = client.get(f"/map/{DEMO_KATOTTG}/dashboard").get_data(as_text=True)
    assert "Звідки надходять звернення" in page and "ТЕСТ-" not in page  # figures, not reports


def test_staff_figures_count_every_report_and_list_the_overdue(client, demo_db, many_reports):
    add_staff(demo_db, "admin@example.org", roles=("admin",))
    log_in(client, "admin@example.org")
    answer = client.get(f"/api/hromadas/{DEMO_KATOTTG}/dashboard")
    assert answer.headers["Cache-Control"] == "private, no-store"
    check(answer.json, expected(demo_db, staff=True))
    with demo_db.connect() as conn:
        overdue = conn.execute(sa.text("SELECT code FROM report WHERE status = ANY(:o) AND due_at < now() "
                                       "ORDER BY due_at, id"), {"o": list(OPEN_STATUSES)}).scalars().all()
    assert [r["code"] for r in answer.json["overdue"]] == overdue
    assert overdue[0] in client.get(f"/map/{DEMO_KATOTTG}/dashboard").get_data(as_text=True)
