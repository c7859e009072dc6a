"""The unit is told (issue #14): one mail per report and address through the outbox, over real SMTP;
transfers tell the new unit; daily digests once per unit and day; signed links for outside bodies."""
import datetime as dt
import io
import threading
import time
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from PIL import Image

from gis import outbox
from gis.config import DEMO_KATOTTG
from gis.errors import NotFound
from gis.photos import process_photo
from layers import reports, unit_mail
from layers.reports import NewReport
from tests.helpers import InEveryHromada, asset_point, inside, scalar, unit_id

URL = "https://gis.example.org"
HOUSING = "housing@yakushynetska-demo.example.org"
ZARVANTSI = "sd-zarvantsi@yakushynetska-demo.example.org"
ROAD_SERVICE = "road-service@yakushynetska-demo.example.org"
SECRET = "layer-test-secret"
ADMIN = reports.Actor(user_id=None, grants=InEveryHromada("admin"), unit_ids=frozenset())


@pytest.fixture(autouse=True)
def signing_key(monkeypatch):
    # Outside a web request, links are signed with the key the app would take from the environment.
    monkeypatch.setenv("HROMADA_SECRET_KEY", SECRET)


def enable(engine) -> None:
    """Let the demo hromada take reports (its set-up file does this too; harmless twice), and give its
    units the addresses and the mode these tests expect, whatever that file says."""
    with engine.begin() as conn:
        conn.execute(sa.text("""UPDATE unit SET notify_mode = 'each', has_accounts = true,
                                emails = ARRAY[replace(code, '_', '-') || '@yakushynetska-demo.example.org']"""))
        conn.execute(sa.text("""INSERT INTO hromada_setup (hromada_id, enabled_at)
                                SELECT id, now() FROM hromada WHERE katottg = :k
                                ON CONFLICT (hromada_id) DO UPDATE
                                SET enabled_at = COALESCE(hromada_setup.enabled_at, now())"""), {"k": DEMO_KATOTTG})


@pytest.fixture
def demo(demo_db):
    enable(demo_db)
    return demo_db


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 90, 60)).save(out, format="JPEG")
    return out.getvalue()


def create(engine, category, where, **extra) -> dict:
    with engine.begin() as conn:
        return reports.create_report(conn, NewReport(lon=where[0], lat=where[1], category=category,
                                                     description=extra.pop("description", "Яма на дорозі"),
                                                     **extra), public_url=URL)


def street_pothole(engine, **extra) -> dict:
    return create(engine, "pothole", asset_point(engine, "road_segment", "вул. Садова"), **extra)


def state_road_pothole(engine, **extra) -> dict:
    lon, lat = asset_point(engine, "road_segment", "M-DEMO")
    return create(engine, "pothole", (lon, lat + 0.00005), **extra)


def mails_to(engine, address) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT subject, body, message_id FROM outbox WHERE to_addr = :a ORDER BY id"),
                            {"a": address}).all()


def set_unit(engine, code, **values) -> None:
    sets = ", ".join(f"{k} = :{k}" for k in values)
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE unit SET {sets} WHERE code = :code"), {**values, "code": code})


def kyiv(days: int, hour: int) -> dt.datetime:
    """A moment ``days`` from today at ``hour`` o'clock, Kyiv time."""
    today = dt.datetime.now(unit_mail.KYIV).date() + dt.timedelta(days=days)
    return dt.datetime.combine(today, dt.time(hour), unit_mail.KYIV)


def test_a_pothole_is_told_to_its_unit_once_with_every_fact(demo, smtp_server):
    settings, store = smtp_server
    created = street_pothole(demo, email="resident@example.org", name="Оксана Приватна", phone="+380671112233",
                             photos=[process_photo(jpeg())], description="Глибока яма біля зупинки")
    code = created["code"]
    assert created["unit"]["uk"].startswith("Відділ житлово")
    row = scalar(demo, "SELECT row_to_json(r) FROM (SELECT ST_X(location) AS lon, ST_Y(location) AS lat, due_at, "
                          "routing_reason_uk, routing_reason_en FROM report WHERE code = :c) r", c=code)
    village = scalar(demo, "SELECT s.name_uk FROM settlement s, report r WHERE r.code = :c "
                              "AND ST_Intersects(s.boundary, r.location)", c=code)
    assert village

    assert outbox.deliver_due(demo, settings) == 2  # the unit; the reporter's "received"
    assert outbox.deliver_due(demo, settings) == 0
    # A retry of the telling (the hook run again for the same event) queues nothing more.
    with demo.begin() as conn:
        assert unit_mail.tell_unit(conn, created["id"], public_url=URL) is None
    # A worker started afresh (with the digest job in its loop) finds nothing more to send.
    stop = threading.Event()
    worker = threading.Thread(target=outbox.run_worker, args=(demo, settings, stop, 0.05),
                              kwargs={"periodic": unit_mail.digest_job(URL, SECRET)})
    worker.start()
    time.sleep(0.5)
    stop.set()
    worker.join(timeout=10)

    got = store.to(HOUSING)
    assert len(got) == 1 and len(store.messages) == 2
    body, subject = got[0]["body"], got[0]["subject"]
    assert subject.startswith(f"Нове звернення {code}: Яма на дорозі") and f"New report {code}" in subject
    due = dt.datetime.fromisoformat(row["due_at"]).astimezone(unit_mail.KYIV).strftime("%d.%m.%Y %H:%M")
    expected = [
        code, "Категорія: Яма на дорозі", f"Місце: {village}, {row['lat']:.6f}, {row['lon']:.6f}",
        f"https://www.openstreetmap.org/?mlat={row['lat']:.6f}&mlon={row['lon']:.6f}",
        "Глибока яма біля зупинки", f"{URL}/reports/{quote(code)}/photos/1.jpg",
        f"Виконати до: {due} (за київським часом)", f"Чому вам: {row['routing_reason_uk']}",
        f"Why your unit: {row['routing_reason_en']}", f"{URL}/staff/reports/{quote(code)}",
        "Category: Pothole", f"Due: {due} (Kyiv time)",
    ]
    for fact in expected:
        assert fact in body, fact
    assert body.index("Категорія") < body.index("Category")  # Ukrainian first
    for private in ("resident@example.org", "Оксана", "1112233"):
        assert private not in body  # the reporter's details stay on the staff page
    assert "/unit-link/" not in body  # the housing department has accounts: no signed link
    assert scalar(demo, "SELECT count(*) FROM unit_notice") == 1


@pytest.mark.parametrize("where", ["in a village", "between villages"])
def test_a_new_reports_mail_holds_what_the_database_holds(demo, monkeypatch, where):
    """A new report's mail is written from what its intake has just written (no read back, issue #20):
    those facts are the ones unit_mail.report_facts reads from the database, in and outside a village."""
    told = []
    monkeypatch.setattr(unit_mail, "mail_notice", lambda conn, unit, notice_id, facts, **kw: told.append(facts))
    lon, lat = asset_point(demo, "road_segment", "вул. Садова")
    if where == "between villages":  # the middle of the hromada's largest gap between villages
        lon, lat = scalar(demo, """
            SELECT ARRAY[ST_X(p), ST_Y(p)] FROM (SELECT (ST_MaximumInscribedCircle(ST_Difference(h.boundary,
                (SELECT ST_Union(s.boundary) FROM settlement s WHERE s.hromada_id = h.id)))).center AS p
                FROM hromada h WHERE h.katottg = :k) x""", k=DEMO_KATOTTG)
    created = create(demo, "pothole", (lon, lat), photos=[process_photo(jpeg()), process_photo(jpeg())],
                     description="  Яма біля зупинки  ")
    [facts] = told
    with demo.connect() as conn:
        event = conn.execute(sa.text("SELECT id FROM report_event WHERE report_id = :r AND kind = 'created'"),
                             {"r": created["id"]}).scalar()
        assert facts == unit_mail.report_facts(conn, created["id"], event)
    assert facts.in_village is (where == "in a village") and facts.village_uk and facts.photos == (1, 2)


def test_a_transfer_tells_the_new_unit_with_the_reason(demo, smtp_server):
    settings, store = smtp_server
    code = create(demo, "overflowing_bin", inside(demo, "Якушинці"))["code"]
    with demo.begin() as conn:
        reports.transfer(conn, code, unit_id(demo, "sd_zarvantsi"), "Це зона старости", ADMIN)
    outbox.deliver_due(demo, settings)
    outbox.deliver_due(demo, settings)
    assert len(store.to(HOUSING)) == 1
    told = store.to(ZARVANTSI)
    assert len(told) == 1
    assert told[0]["subject"].startswith(f"Вам передано звернення {code}")
    assert "Причина: Це зона старости" in told[0]["body"]
    assert "Transferred from “Department of Housing" in told[0]["body"]
    assert scalar(demo, "SELECT count(*) FROM unit_notice") == 2


def test_digest_units_get_nothing_at_once_and_one_mail_a_day(demo, smtp_server):
    settings, store = smtp_server
    set_unit(demo, "housing", notify_mode="digest")
    first = street_pothole(demo)["code"]
    second = create(demo, "overflowing_bin", inside(demo, "Якушинці"), description="Переповнений бак")["code"]
    assert mails_to(demo, HOUSING) == []  # nothing at once

    with demo.begin() as conn:  # before today's digest hour's cut-off, they wait
        assert unit_mail.queue_digests(conn, kyiv(0, 0), URL) == 0
    tomorrow = kyiv(1, 9)
    for _ in range(2):  # run twice (two workers, a retry): still one digest
        with demo.begin() as conn:
            unit_mail.queue_digests(conn, tomorrow, URL)
    digests = mails_to(demo, HOUSING)
    assert len(digests) == 1
    assert first in digests[0].body and second in digests[0].body and "Переповнений бак" in digests[0].body
    assert digests[0].subject.startswith(f"Звернення за день {tomorrow.strftime('%d.%m.%Y')}: 2")
    assert digests[0].message_id == f"<unit-{unit_id(demo, 'housing')}-digest-{tomorrow.date()}-0@hromada-gis.local>"

    # A report given later that day waits for the next day's digest (today's is out): never lost, never twice.
    third = create(demo, "overflowing_bin", inside(demo, "Якушинці"), description="Ще один бак")["code"]
    with demo.begin() as conn:
        assert unit_mail.queue_digests(conn, tomorrow + dt.timedelta(hours=5), URL) == 0
        assert unit_mail.queue_digests(conn, kyiv(2, 8), URL) == 1
    digests = mails_to(demo, HOUSING)
    assert len(digests) == 2 and third in digests[1].body and first not in digests[1].body
    assert outbox.deliver_due(demo, settings) == 2 and len(store.to(HOUSING)) == 2


def test_two_digest_runs_at_once_send_one_mail(demo):
    set_unit(demo, "housing", notify_mode="digest")
    street_pothole(demo)
    when = kyiv(1, 9)
    done = {}
    with demo.begin() as first:
        assert unit_mail.queue_digests(first, when, URL) == 1

        def second_run():
            with demo.begin() as conn:
                done["mailed"] = unit_mail.queue_digests(conn, when, URL)

        other = threading.Thread(target=second_run)
        other.start()
        time.sleep(0.5)
        assert other.is_alive()  # waits for the first run's transaction
    other.join(timeout=10)
    assert done["mailed"] == 0 and len(mails_to(demo, HOUSING)) == 1


def test_the_digest_hour_and_day_are_kyiv_time():
    utc = dt.timezone.utc
    # 04:59 UTC is 06:59 in Kyiv in March (UTC+2): yesterday's digest is the one due.
    day, cutoff = unit_mail.digest_day(dt.datetime(2026, 3, 10, 4, 59, tzinfo=utc), hour=7)
    assert day == dt.date(2026, 3, 9) and cutoff.isoformat() == "2026-03-09T07:00:00+02:00"
    day, cutoff = unit_mail.digest_day(dt.datetime(2026, 3, 10, 5, 0, tzinfo=utc), hour=7)
    assert day == dt.date(2026, 3, 10) and cutoff == dt.datetime(2026, 3, 10, 5, 0, tzinfo=utc)
    # Summer time (UTC+3): 04:00 UTC is already 07:00 in Kyiv.
    assert unit_mail.digest_day(dt.datetime(2026, 7, 1, 4, 0, tzinfo=utc), hour=7)[0] == dt.date(2026, 7, 1)


def test_a_unit_without_addresses_gets_nothing_and_each_notices_never_reach_a_digest(demo):
    set_unit(demo, "housing", emails=[])
    street_pothole(demo)
    assert scalar(demo, "SELECT count(*) FROM outbox") == 0
    assert scalar(demo, "SELECT count(*) FROM unit_notice WHERE digested_at IS NOT NULL") == 1
    set_unit(demo, "housing", emails=[HOUSING], notify_mode="digest")
    with demo.begin() as conn:
        assert unit_mail.queue_digests(conn, kyiv(1, 9), URL) == 0  # told (or nothing to tell) already


def test_every_address_of_a_unit_gets_its_own_mail(demo):
    set_unit(demo, "housing", emails=[HOUSING, "chief@example.org", HOUSING])
    street_pothole(demo)
    assert len(mails_to(demo, HOUSING)) == 1 and len(mails_to(demo, "chief@example.org")) == 1


def test_an_outside_body_gets_a_signed_link_for_that_report_only(demo, smtp_server):
    settings, store = smtp_server
    set_unit(demo, "road_service", has_accounts=False)
    created = state_road_pothole(demo)
    assert created["unit"]["uk"].startswith("Служба відновлення")
    outbox.deliver_due(demo, settings)
    body = store.to(ROAD_SERVICE)[0]["body"]
    link = next(word for word in body.split() if "/unit-link/" in word)
    assert link.startswith(f"{URL}/unit-link/")
    token = link.rsplit("/", 1)[1]
    assert unit_mail.read_link_token(SECRET, token, 3600) == (created["id"], unit_id(demo, "road_service"))
    assert "/staff/reports/" not in body  # no account to sign in with
    assert "Посилання діє до" in body and "The link works until" in body
    with pytest.raises(NotFound):
        unit_mail.read_link_token("another key", token, 3600)
    with pytest.raises(NotFound):
        unit_mail.read_link_token(SECRET, token[:-2], 3600)
    time.sleep(1.1)
    with pytest.raises(unit_mail.LinkExpired) as expired:
        unit_mail.read_link_token(SECRET, token, 0)
    assert expired.value.http_status == 410 and "expired" in expired.value.en


def test_a_digest_for_an_outside_body_carries_a_link_per_report(demo):
    set_unit(demo, "road_service", has_accounts=False, notify_mode="digest")
    first = state_road_pothole(demo)
    lon, lat = asset_point(demo, "road_segment", "M-DEMO")
    second = create(demo, "pothole", (lon + 0.001, lat))
    with demo.begin() as conn:
        assert unit_mail.queue_digests(conn, kyiv(1, 9), URL, secret=SECRET) == 1
    body = mails_to(demo, ROAD_SERVICE)[0].body
    tokens = {w.rsplit("/", 1)[1] for w in body.split() if "/unit-link/" in w}
    road_service = unit_id(demo, "road_service")
    assert {unit_mail.read_link_token(SECRET, t, 60) for t in tokens} == {
        (first["id"], road_service), (second["id"], road_service)}


def test_the_cli_queues_due_digests_once(demo, database_url, monkeypatch):
    from click.testing import CliRunner

    from webmap.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    set_unit(demo, "housing", notify_mode="digest")
    code = street_pothole(demo)["code"]
    with demo.begin() as conn:  # given two days ago: today's digest is due whatever the hour
        conn.execute(sa.text("UPDATE unit_notice SET created_at = now() - interval '2 days'"))
    first = CliRunner().invoke(main, ["outbox", "digest", "--public-url", URL])
    assert first.exit_code == 0 and "digests queued: 1" in first.output, first.output
    again = CliRunner().invoke(main, ["outbox", "digest", "--public-url", URL])
    assert again.exit_code == 0 and "digests queued: 0" in again.output
    (digest,) = mails_to(demo, HOUSING)
    assert code in digest.body and f"{URL}/staff/reports/" in digest.body


def test_the_worker_queues_and_delivers_due_digests_by_itself(demo, smtp_server):
    settings, store = smtp_server
    set_unit(demo, "housing", notify_mode="digest")
    code = street_pothole(demo)["code"]
    with demo.begin() as conn:
        conn.execute(sa.text("UPDATE unit_notice SET created_at = now() - interval '2 days'"))
    stop = threading.Event()
    worker = threading.Thread(target=outbox.run_worker, args=(demo, settings, stop, 0.05),
                              kwargs={"periodic": unit_mail.digest_job(URL, SECRET), "period_seconds": 0.1})
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while not store.to(HOUSING) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # a few more rounds of the job: still one digest
    finally:
        stop.set()
        worker.join(timeout=10)
    (digest,) = store.to(HOUSING)
    assert code in digest["body"] and digest["subject"].startswith("Звернення за день")
