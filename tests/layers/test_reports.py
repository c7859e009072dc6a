"""The report workflow: creation, tracking codes, status machine, transfers, duplicates, e-mails."""
import re
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from gis import direct_sql
from gis.errors import Conflict, Forbidden, InvalidInput
from layers import reports
from layers.reports import Actor, NewReport
from tests.helpers import InEveryHromada, asset_point, confirm_addresses, inside, scalar, unit_id

URL = "https://gis.example.org"


def new_report(engine, category="street_light_out", where=None, **extra) -> dict:
    lon, lat = where or asset_point(engine, "street_lamp", "301")
    with engine.begin() as conn:
        return reports.create_report(conn, NewReport(lon=lon, lat=lat, category=category,
                                                     description=extra.pop("description", "Не світить"),
                                                     **extra), public_url=URL)


def staff_of(engine, code: str) -> Actor:
    return Actor(user_id=None, grants=InEveryHromada("unit_staff"), unit_ids=frozenset({unit_id(engine, code)}))


ADMIN = Actor(user_id=None, grants=InEveryHromada("admin"), unit_ids=frozenset())


def act(engine, fn, *args, **kwargs):
    with engine.begin() as conn:
        return fn(conn, *args, **kwargs)


def read(engine, fn, *args, **kwargs):
    with engine.connect() as conn:
        return fn(conn, *args, **kwargs)


def outbox_rows(engine):
    with engine.connect() as conn:
        # Residents' mails only: the unit's own mails (layers.unit_mail) are tested in test_unit_mail.py.
        return conn.execute(sa.text("SELECT to_addr, subject, body FROM outbox "
                                    "WHERE message_id NOT LIKE '<unit-%' ORDER BY id")).all()


def test_create_routes_codes_and_sets_due_date(demo_db):
    first = new_report(demo_db, email="r@example.org", name="Оксана", phone="+380 67 000 00 00")
    second = new_report(demo_db, where=asset_point(demo_db, "street_lamp", "302"))
    assert re.fullmatch(r"ЯК-\d{4}-000001", first["code"]) and second["code"].endswith("-000002")
    assert first["routing"]["rule"] == "asset" and first["unit"]["uk"] == "КП «Якушинціблагоустрій»"
    assert first["private_url"].startswith(first["public_url"] + "?token=")
    # street_light_out's target time: 5 working days (tests/layers/test_deadlines.py counts them)
    days = scalar(demo_db, "SELECT extract(day FROM due_at - created_at) FROM report WHERE code = :c",
                  c=first["code"])
    assert 5 <= days <= 9
    assert scalar(demo_db, "SELECT count(*) FROM report_subscriber WHERE is_reporter") == 1


def test_description_is_checked(demo_db):
    with pytest.raises(InvalidInput, match="description is empty"):
        new_report(demo_db, description="   ")
    with pytest.raises(InvalidInput, match="too long"):
        new_report(demo_db, description="x" * 2001)
    assert scalar(demo_db, "SELECT count(*) FROM report") == 0


def test_status_machine_and_the_mails_it_writes(demo_db):
    answer = new_report(demo_db, email="r@example.org")
    code = answer["code"]
    [received] = outbox_rows(demo_db)  # at once: the tracking code, the private link, the confirmation link
    assert received.subject == f"Звернення {code} отримано / Report {code} received"
    assert answer["private_url"].replace(quote(code), code) in received.body and f"{URL}/mail/confirm/" in received.body
    confirm_addresses(demo_db, "r@example.org")
    kp = staff_of(demo_db, "kp_blagoustrij")
    act(demo_db, reports.change_status, code, "acknowledged", kp, public_url=URL)
    act(demo_db, reports.change_status, code, "in_progress", kp, public_url=URL)
    with pytest.raises(Conflict, match="cannot go from “in progress” to “acknowledged”"):
        act(demo_db, reports.change_status, code, "acknowledged", kp, public_url=URL)
    act(demo_db, reports.change_status, code, "resolved", kp, public_url=URL, public_note="Лампу замінено",
        private_note="бригада 2")
    assert scalar(demo_db, "SELECT closed_at IS NOT NULL FROM report WHERE code = :c", c=code)
    mails = outbox_rows(demo_db)[1:]
    assert [m.to_addr for m in mails] == ["r@example.org"] * 3
    assert ["прийнято" in mails[0].subject, "у роботі" in mails[1].subject,
            "вирішено" in mails[2].subject] == [True] * 3
    assert "Лампу замінено" in mails[2].body and "бригада 2" not in mails[2].body
    assert f"{URL}/reports/{code}" in mails[2].body and "%D0" not in mails[2].body  # readable, not encoded
    act(demo_db, reports.change_status, code, "reopened", kp, public_url=URL)
    assert scalar(demo_db, "SELECT closed_at FROM report WHERE code = :c", c=code) is None
    history = read(demo_db, reports.public_report, code)["history"]
    assert [h["to_status"] for h in history] == ["new", "acknowledged", "in_progress", "resolved", "reopened"]
    assert all("private_note" not in h for h in history)


def test_every_status_is_typed_open_or_closed_and_transitions_are_known():
    assert set(reports.TRANSITIONS) == set(reports.STATUSES)
    for source, targets in reports.TRANSITIONS.items():
        assert set(targets) <= set(reports.STATUSES)
        if not reports.STATUSES[source].is_open:
            assert targets == ("reopened",)
    assert {s for s, d in reports.STATUSES.items() if not d.is_open} == {"resolved", "rejected", "duplicate"}


def test_me_too_subscribers_hear_of_rejection(demo_db):
    code = new_report(demo_db, email="first@example.org")["code"]
    answer = act(demo_db, reports.me_too, code, "second@example.org", public_url=URL)
    assert answer == {"code": code, "supporters": 1, "subscribed": True, "follow": "confirm"}
    assert act(demo_db, reports.me_too, code, "SECOND@example.org", public_url=URL)["follow"] == "confirm"
    assert scalar(demo_db, "SELECT count(*) FROM report_subscriber") == 2  # one per address, whatever its case
    confirm_addresses(demo_db, "first@example.org", "second@example.org")
    before = len(outbox_rows(demo_db))  # the reporter's "received", one confirmation request for the second
    assert before == 2
    act(demo_db, reports.change_status, code, "rejected", staff_of(demo_db, "kp_blagoustrij"), public_url=URL,
        public_note="Ліхтар працює")
    assert sorted(m.to_addr for m in outbox_rows(demo_db)[before:]) == ["first@example.org", "second@example.org"]
    with pytest.raises(Conflict, match="already closed"):
        act(demo_db, reports.me_too, code, None, public_url=URL)


def test_duplicate_moves_its_subscribers_to_the_original(demo_db):
    original = new_report(demo_db, email="a@example.org")["code"]
    # Reported at the next lamp: a second report on the same lamp would join the first by itself.
    copy = new_report(demo_db, email="b@example.org", where=asset_point(demo_db, "street_lamp", "302"))["code"]
    kp = staff_of(demo_db, "kp_blagoustrij")
    with pytest.raises(InvalidInput, match="original report"):
        act(demo_db, reports.change_status, copy, "duplicate", kp, public_url=URL)
    with pytest.raises(InvalidInput, match="cannot duplicate itself"):
        act(demo_db, reports.change_status, copy, "duplicate", kp, public_url=URL, duplicate_of=copy)
    confirm_addresses(demo_db, "a@example.org", "b@example.org")
    before = len(outbox_rows(demo_db))  # the two reporters' "received" mails
    act(demo_db, reports.change_status, copy, "duplicate", kp, public_url=URL, duplicate_of=original)
    mail = outbox_rows(demo_db)[before:]
    assert [m.to_addr for m in mail] == ["b@example.org"] and original in mail[0].body
    act(demo_db, reports.change_status, original, "resolved", kp, public_url=URL)
    assert sorted(m.to_addr for m in outbox_rows(demo_db)[before + 1:]) == ["a@example.org", "b@example.org"]
    assert read(demo_db, reports.public_report, copy)["duplicate_of"] == original


def test_transfer_keeps_both_units_in_the_history(demo_db):
    lon, lat = inside(demo_db, "Якушинці")
    code = new_report(demo_db, "overflowing_bin", (lon, lat))["code"]
    housing = staff_of(demo_db, "housing")
    act(demo_db, reports.transfer, code, unit_id(demo_db, "sd_zarvantsi"), "Це зона старости", housing)
    events = read(demo_db, reports.history, scalar(demo_db, "SELECT id FROM report WHERE code = :c", c=code),
                  staff=True)
    transfer = events[-1]
    assert transfer["kind"] == "transfer" and transfer["from_unit"]["uk"].startswith("Відділ житлово")
    assert transfer["to_unit"]["uk"] == "Зарванецький старостинський округ"
    assert transfer["private_note"] == "Це зона старости"
    # The old unit has no hold on it any more; the new one does.
    with pytest.raises(Forbidden):
        act(demo_db, reports.add_note, code, housing, public_note="x", private_note=None)
    act(demo_db, reports.add_note, code, staff_of(demo_db, "sd_zarvantsi"), public_note="Приїдемо завтра",
        private_note=None)
    with pytest.raises(InvalidInput, match="reason"):
        act(demo_db, reports.transfer, code, unit_id(demo_db, "housing"), " ", ADMIN)


def test_staff_of_another_unit_cannot_act(demo_db):
    code = new_report(demo_db)["code"]
    with pytest.raises(Forbidden) as err:
        act(demo_db, reports.change_status, code, "acknowledged", staff_of(demo_db, "housing"), public_url=URL)
    assert err.value.http_status == 403
    planner = Actor(user_id=None, grants=InEveryHromada("planner"),
                    unit_ids=frozenset({unit_id(demo_db, "kp_blagoustrij")}))
    with pytest.raises(Forbidden):
        act(demo_db, reports.change_status, code, "acknowledged", planner, public_url=URL)
    act(demo_db, reports.change_status, code, "acknowledged", ADMIN, public_url=URL)


def test_nearby_open_reports(demo_db):
    lon, lat = asset_point(demo_db, "street_lamp", "301")
    code = new_report(demo_db, where=(lon, lat))["code"]
    near = read(demo_db, reports.nearby_open, lon + 80 / 72_800, lat, "street_light_out")
    assert [r["code"] for r in near] == [code] and 75 <= near[0]["distance_m"] <= 85
    assert read(demo_db, reports.nearby_open, lon + 150 / 72_800, lat, "street_light_out") == []
    assert read(demo_db, reports.nearby_open, lon, lat, "pothole") == []
    act(demo_db, reports.change_status, code, "resolved", ADMIN, public_url=URL)
    assert read(demo_db, reports.nearby_open, lon, lat, "street_light_out") == []


def test_public_view_hides_personal_data_unless_name_shown(demo_db):
    hidden = new_report(demo_db, name="Оксана", email="o@example.org", phone="+380670000000")["code"]
    shown = new_report(demo_db, name="Петро", show_name=True, where=asset_point(demo_db, "street_lamp", "302"))["code"]
    text = str(read(demo_db, reports.public_report, hidden))
    assert "Оксана" not in text and "o@example.org" not in text and "380670000000" not in text
    assert read(demo_db, reports.public_report, shown)["reporter_name"] == "Петро"


def test_duplicate_must_be_of_an_original_in_the_same_hromada(demo_db):
    from tests.helpers import load_neighbours
    load_neighbours(demo_db)
    with demo_db.begin() as conn:
        conn.execute(sa.text("""WITH u AS (INSERT INTO unit (hromada_id, code, name_uk, kind)
                                  SELECT id, 'roads', 'Дороги', 'department' FROM hromada
                                  WHERE katottg = 'UA05020030000031457' RETURNING id)
                                INSERT INTO unit_category (unit_id, category_id)
                                SELECT u.id, c.id FROM u, category c WHERE c.code = 'pothole'"""))
        # Vinnytsia city takes reports too (gis.routing refuses a hromada not yet enabled).
        conn.execute(sa.text("""INSERT INTO hromada_setup (hromada_id, enabled_at)
                                SELECT id, now() FROM hromada WHERE katottg = 'UA05020030000031457'"""))
    elsewhere = new_report(demo_db, "pothole", (28.468, 49.233))["code"]  # Vinnytsia city
    here = new_report(demo_db, email="a@example.org")["code"]
    third = new_report(demo_db, where=asset_point(demo_db, "street_lamp", "302"))["code"]
    with pytest.raises(InvalidInput, match="same hromada"):
        act(demo_db, reports.change_status, here, "duplicate", ADMIN, public_url=URL, duplicate_of=elsewhere)
    act(demo_db, reports.change_status, here, "duplicate", ADMIN, public_url=URL, duplicate_of=third)
    with pytest.raises(InvalidInput, match="is itself a duplicate"):
        act(demo_db, reports.change_status, third, "duplicate", ADMIN, public_url=URL, duplicate_of=here)


def test_internal_notes_leave_no_trace_in_public_history(demo_db):
    code = new_report(demo_db)["code"]
    act(demo_db, reports.add_note, code, ADMIN, public_note=None, private_note="лише для нас")
    history = read(demo_db, reports.public_report, code)["history"]
    assert [h["kind"] for h in history] == ["created"]


def test_hromadas_that_share_their_first_letters_get_prefixes_of_their_own(demo_db):
    """1,394 of the 1,466 hromadas share their first two letters with another: each still gets codes
    of its own, kept from its first report on (the demo's ЯК stays ЯК)."""
    first = new_report(demo_db)
    assert first["code"].startswith("ЯК-")
    with demo_db.begin() as conn:
        demo = conn.execute(sa.text("SELECT id FROM hromada WHERE report_prefix = 'ЯК'")).scalar_one()
        boundary = conn.execute(sa.text("SELECT boundary FROM hromada WHERE id = :h"), {"h": demo}).scalar_one()
        twins = [conn.execute(sa.text("""
            INSERT INTO hromada (katottg, name_uk, boundary) VALUES (:k, :n, :b) RETURNING id"""),
            {"k": f"UA0502031000008{n:04d}", "n": name, "b": boundary}).scalar_one()
            for n, name in enumerate(("Якимівська", "Яковецька", "Як"))]
        codes = [reports.next_tracking_code(conn, h, name, 2026)
                 for h, name in zip(twins, ("Якимівська", "Яковецька", "Як"), strict=True)]
        again = reports.next_tracking_code(conn, twins[0], "Якимівська", 2026)
    assert codes == ["ЯКИ-2026-000001", "ЯКО-2026-000001", "ЯК2-2026-000001"]
    assert again == "ЯКИ-2026-000002"
    assert new_report(demo_db)["code"].startswith("ЯК-")


@pytest.mark.parametrize("number", [1, 123, 999_999, 1_000_000, 12_345_678])
def test_the_tracking_code_is_written_alike_in_python_and_in_sql(demo_db, number):
    """create_report writes the code in the statement that takes the number (issue #20); Python writes
    it elsewhere (next_tracking_code): the two must agree."""
    sql = "SELECT " + reports._TRACKING_CODE_SQL.format(prefix="%(p)s", year="%(y)s", number="n")
    with demo_db.connect() as conn:  # as in the statement: the number an integer column, the rest parameters
        written = direct_sql.scalar(conn, f"{sql} FROM (SELECT CAST(%(n)s AS integer) AS n) x",
                                    {"p": "ЯК", "y": 2026, "n": number})
    assert written == reports.tracking_code("ЯК", 2026, number)
