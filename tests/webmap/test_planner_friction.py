"""The planner's friction (issue #19): a planner lands on their plans, not on a 403; choosing a zone zooms
the editor's map to it; a read-only plan has no form; every version names its author (browser editor and
OGC API with a token alike); times on the plan pages are Kyiv's, the as-of input too; a plan loaded after
its approval counts from the decision date (the demo's approved plan as of yesterday shows its zones)."""
import datetime as dt
import json
import re
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from gis import db, user_tokens
from gis.errors import Conflict
from gis.users import create_user
from importers.demo_plans import AUTHOR as DEMO_AUTHOR
from importers.demo_plans import DECISION
from layers import plans
from tests.helpers import demo_hromada_id, one, scalar
from tests.layers.test_plans import PLANNER, D, act, plan, square  # noqa: F401  (plan: a fixture)
from tests.webmap.test_accessibility import audit
from tests.webmap.test_plan_pages import KATOTTG, PASSWORD, browser_log_in, draft, json_call  # noqa: F401
from tests.webmap.test_reports_http import add_staff, csrf, form_token, log_in

KYIV = ZoneInfo("Europe/Kyiv")
PLANS_LIST = f"/map/{KATOTTG}/plans"


def demo_plan(engine, status: str) -> int:
    """The demo's approved general plan or its draft comprehensive one."""
    return scalar(engine, "SELECT id FROM plan WHERE is_demo AND status = :s ORDER BY id LIMIT 1", s=status)


def add_person(engine, email: str, roles, full_name: str | None = None) -> None:
    with engine.begin() as conn:
        create_user(conn, email, PASSWORD, list(roles), hromada_id=demo_hromada_id(engine), full_name=full_name)


def sign_in(client, email: str, next_: str | None = None):
    page = client.get("/staff/login")
    return client.post("/staff/login" + (f"?next={quote(next_)}" if next_ else ""),
                       data={"email": email, "password": PASSWORD,
                             "csrf_token": form_token(page.get_data(as_text=True))})


# --- 1. where each role lands -------------------------------------------------------------------------

def test_a_planner_lands_on_their_plans_and_staff_keep_the_queue(client, demo_db):
    add_staff(demo_db, "planner@example.org", roles=("planner",))
    add_staff(demo_db, "staff@example.org", "housing")
    add_staff(demo_db, "admin@example.org", roles=("admin",))
    add_staff(demo_db, "both@example.org", "housing", roles=("unit_staff", "planner"))

    landed = sign_in(client, "planner@example.org")
    assert landed.status_code == 302 and landed.headers["Location"].endswith(PLANS_LIST)
    listing = client.get(landed.headers["Location"])
    assert listing.status_code == 200
    html = listing.get_data(as_text=True)
    # Drafts are theirs to edit: the list links each editable plan's editor, never an approved one's.
    assert f'href="/plans/{demo_plan(demo_db, "draft")}/edit"' in html
    assert f'href="/plans/{demo_plan(demo_db, "approved")}/edit"' not in html
    # The queue is not a planner's: it sends them to their plans rather than answering 403.
    for url in ("/staff/", f"/staff/?hromada={KATOTTG}", "/staff/?status=new"):
        queue = client.get(url)
        assert queue.status_code == 302 and queue.headers["Location"].endswith(PLANS_LIST), url
    # A page asked for before signing in is still where they go.
    client.post("/staff/logout", data={"csrf_token": csrf(client)})
    assert sign_in(client, "planner@example.org", "/plans/1").headers["Location"].endswith("/plans/1")

    for email in ("staff@example.org", "admin@example.org", "both@example.org"):
        fresh = client.application.test_client()
        answer = sign_in(fresh, email)
        assert answer.status_code == 302 and answer.headers["Location"].endswith("/staff/"), email
        assert fresh.get("/staff/").status_code == 200, email
    # Nobody signed in: the queue still asks for the log-in page.
    anonymous = client.application.test_client().get("/staff/")
    assert anonymous.status_code == 302 and "/staff/login" in anonymous.headers["Location"]


def test_a_planner_signing_in_in_chromium_sees_their_plans(live_server, page, demo_db):
    add_staff(demo_db, "planner@example.org", roles=("planner",))
    page.goto(f"{live_server}/staff/login")
    page.fill("#email", "planner@example.org")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.url.endswith(PLANS_LIST)
    assert page.locator("#plans-title").count() == 1
    page.goto(f"{live_server}/staff/")
    assert page.url.endswith(PLANS_LIST)


# --- 2 and 3. the editor: zoom to the chosen zone; a read-only plan has no form ---------------------------

def bounds_of(page) -> dict:
    return page.evaluate("""() => { const m = window.planEditor.map, b = m.getBounds();
        return {zoom: m.getZoom(), w: b.getWest(), e: b.getEast(), s: b.getSouth(), n: b.getNorth()}; }""")


def zone_bounds(page, zone_id: int) -> dict:
    return page.evaluate("""(id) => { const b = window.planEditor.layers.get(id).getBounds();
        return {w: b.getWest(), e: b.getEast(), s: b.getSouth(), n: b.getNorth()}; }""", zone_id)


def assert_fits(view: dict, zone: dict) -> None:
    """The zone is wholly in view and fills a good part of it (not a speck)."""
    assert view["w"] <= zone["w"] and zone["e"] <= view["e"] and view["s"] <= zone["s"] and zone["n"] <= view["n"]
    share = max((zone["e"] - zone["w"]) / (view["e"] - view["w"]), (zone["n"] - zone["s"]) / (view["n"] - view["s"]))
    assert share > 0.3, share


def test_choosing_a_zone_zooms_the_editor_to_it(live_server, page, demo_db):
    plan_id = demo_plan(demo_db, "draft")  # the whole hromada's plan: its zones are specks at first
    zones = [r.id for r in demo_db.connect().execute(
        sa.text("SELECT id FROM plan_zone WHERE plan_id = :p ORDER BY id"), {"p": plan_id})]
    add_staff(demo_db, "planner@example.org", roles=("planner",))
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    browser_log_in(page, live_server, "planner@example.org", f"/plans/{plan_id}/edit")
    page.wait_for_function(f"() => window.planEditor && window.planEditor.layers.size === {len(zones)}")
    before = bounds_of(page)
    page.click(f'#zone-list button[data-zone="{zones[0]}"]')
    page.wait_for_function(f"() => window.planEditor.map.getZoom() > {before['zoom']}")
    page.wait_for_timeout(400)  # the animation's end
    after = bounds_of(page)
    assert after["zoom"] >= before["zoom"] + 2
    assert_fits(after, zone_bounds(page, zones[0]))
    assert page.evaluate("document.activeElement.id") == "zone-form-title"
    # With the keyboard too: the other zone's button, Enter.
    page.focus(f'#zone-list button[data-zone="{zones[1]}"]')
    page.keyboard.press("Enter")
    page.wait_for_function("""(id) => { const b = window.planEditor.layers.get(id).getBounds();
        return window.planEditor.map.getBounds().contains(b); }""", arg=zones[1])
    page.wait_for_timeout(400)
    assert_fits(bounds_of(page), zone_bounds(page, zones[1]))
    assert f"№{zones[1]} ·" in page.inner_text("#zone-form-title")
    assert errors == []


def test_a_read_only_plan_has_no_form_only_the_notice(live_server, page, client, demo_db):
    plan_id = demo_plan(demo_db, "approved")
    add_staff(demo_db, "planner@example.org", roles=("planner",))
    log_in(client, "planner@example.org")
    html = client.get(f"/plans/{plan_id}/edit").get_data(as_text=True)
    assert "лише для перегляду" in html  # the notice
    for absent in ('id="zone-form"', 'id="zone-save"', "<input", "<textarea", "<select", 'id="conflict"'):
        assert absent not in html, absent

    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    browser_log_in(page, live_server, "planner@example.org", f"/plans/{plan_id}/edit")
    page.wait_for_function("() => window.planEditor && window.planEditor.layers.size > 0")
    assert page.evaluate("window.planEditor.editable") is False
    assert page.locator("#plan-editor input, #plan-editor textarea, #plan-editor select").count() == 0
    assert page.locator("#zone-save, #plan-editor button[type=submit]").count() == 0
    assert page.locator(".leaflet-pm-toolbar").count() == 0  # no drawing tools either
    assert page.locator("[role=note]").inner_text().startswith("План затверджено")
    # Choosing a zone shows what it is (and zooms to it), with its history a link away.
    zone_id = scalar(demo_db, "SELECT min(id) FROM plan_zone WHERE plan_id = :p", p=plan_id)
    page.click(f'#zone-list button[data-zone="{zone_id}"]')
    facts = page.inner_text("#zone-facts")
    assert "Код зони" in facts and "(демо)" in facts
    assert page.get_attribute("#zone-history", "href") == f"/plans/zones/{zone_id}/history"
    page.wait_for_timeout(400)
    assert_fits(bounds_of(page), zone_bounds(page, zone_id))
    # Its attributes can still be read after an escape-worthy name: text, never markup.
    with demo_db.begin() as conn:
        conn.execute(sa.text("UPDATE plan SET status = 'discussion' WHERE id = :p"), {"p": plan_id})
        plans.update_zone(conn, PLANNER, zone_id, scalar(demo_db, "SELECT version FROM plan_zone WHERE id = :z",
                                                                   z=zone_id), attributes={"name": "<b>жирна</b>"})
        conn.execute(sa.text("UPDATE plan SET status = 'superseded' WHERE id = :p"), {"p": plan_id})
    page.reload()
    page.wait_for_function("() => window.planEditor && window.planEditor.layers.size > 0")
    page.click(f'#zone-list button[data-zone="{zone_id}"]')
    assert "<b>жирна</b>" in page.inner_text("#zone-facts")
    assert page.locator("#zone-facts b").count() == 0 and errors == []
    assert page.locator("#plan-editor input, #plan-editor textarea, #plan-editor select").count() == 0
    # Axe on the read-only editor and on a history with an author and a "valid from", in both languages.
    for path in (f"/plans/{plan_id}/edit", f"/plans/zones/{zone_id}/history", PLANS_LIST):
        for lang in ("uk", "en"):
            assert audit(page, f"{live_server}{path}?lang={lang}") == [], path


# --- 4. every version names its author ------------------------------------------------------------------

def text_of(answer) -> str:
    """A page's HTML with Babel's narrow no-break spaces (``2026 р.``, ``12:30 AM``) as plain ones."""
    return answer.get_data(as_text=True).replace("\u202f", " ").replace("\xa0", " ")


def history_authors(client, zone_id: int) -> list[str]:
    html = client.get(f"/plans/zones/{zone_id}/history").get_data(as_text=True)
    return re.findall(r'<span class="author">([^<]*)</span>', html)


def test_every_version_names_its_author_browser_and_ogc(live_server, page, client, demo_db, draft):
    plan_id, zone_id, x, y = draft["plan"], draft["zone"], draft["x"], draft["y"]
    add_staff(demo_db, "planner@example.org", roles=("planner",))  # no name: named by e-mail
    add_person(demo_db, "olena@example.org", ["planner"], full_name="Олена <Коваль>")
    with demo_db.begin() as conn:
        token = user_tokens.create_token(conn, "olena@example.org", "QGIS")[1]

    # The browser editor: the planner's own edit.
    browser_log_in(page, live_server, "planner@example.org", f"/plans/{plan_id}/edit")
    page.wait_for_function("() => window.planEditor && window.planEditor.layers.size === 1")
    page.click(f'#zone-list button[data-zone="{zone_id}"]')
    page.fill("#zone_name", "Центр села")
    page.fill("#reason", "назва з рішення")
    page.click("#zone-save")
    page.wait_for_function("() => document.getElementById('editor-status').textContent.includes('Збережено')")
    # OGC API – Features Part 4 with a personal token (QGIS): a named planner.
    patched = client.patch(f"/ogc/collections/plan_zones/items/{zone_id}", data=json.dumps(
        {"properties": {"notes": "з QGIS"}}), content_type="application/merge-patch+json",
        headers={"Authorization": f"Bearer {token}", "If-Match": f'"plan_zones-{zone_id}-v2"'})
    assert patched.status_code == 200, patched.get_data(as_text=True)
    created = client.post("/ogc/collections/plan_zones/items", data=json.dumps(
        {"type": "Feature", "geometry": square(x + D, y), "properties": {"plan_id": plan_id, "zone_code": "Р"}}),
        content_type="application/geo+json", headers={"Authorization": f"Bearer {token}"})
    assert created.status_code == 201, created.get_data(as_text=True)

    recorded = dict(demo_db.connect().execute(sa.text(
        "SELECT version, author FROM plan_zone_version WHERE zone_id = :z"), {"z": zone_id}).all())
    assert recorded[2] == "planner@example.org" and recorded[3] == "Олена <Коваль>"
    # The history page in the browser: the planner sees every author, their own e-mail included.
    page.click("#zone-history")
    page.wait_for_selector("#history-title")
    texts = [page.locator("ol.zone-versions > li").nth(i).inner_text() for i in range(3)]
    assert "Хто: Олена <Коваль>" in texts[0] and "Хто: planner@example.org" in texts[1]
    assert "Хто: —" not in texts[0] + texts[1]
    # A renamed account does not rename history: the name recorded then stays.
    with demo_db.begin() as conn:
        conn.execute(sa.text("UPDATE app_user SET full_name = 'Олена Петренко' WHERE email = 'olena@example.org'"))
    log_in(client, "planner@example.org")
    assert history_authors(client, zone_id)[:2] == ["Олена &lt;Коваль&gt;", "planner@example.org"]  # escaped
    new_id = int(created.get_json()["id"])
    assert history_authors(client, new_id) == ["Олена &lt;Коваль&gt;"]
    # The public (once the plan is published) reads names, never an address.
    act(demo_db, plans.set_plan_status, plan_id, "discussion", PLANNER)
    public = client.application.test_client()
    shown = history_authors(public, zone_id)
    assert shown[:2] == ["Олена &lt;Коваль&gt;", "працівник громади"]
    assert "planner@example.org" not in public.get(f"/plans/zones/{zone_id}/history").get_data(as_text=True)
    # The demo's versions name the demo loader.
    demo_zone = scalar(demo_db, "SELECT min(id) FROM plan_zone WHERE plan_id = :p", p=demo_plan(demo_db, "approved"))
    assert history_authors(public, demo_zone) == [DEMO_AUTHOR]


def test_a_writer_without_an_account_is_named_by_the_editor_it_gives(demo_db, plan):
    plan_id, x, y = plan
    importer = plans.Editor(user_id=None, grants=PLANNER.grants, name="імпорт з QGIS-проєкту")
    zone = act(demo_db, plans.create_zone, importer, plan_id, {"zone_code": "Р"}, square(x, y))
    with demo_db.connect() as conn:
        assert plans.zone_history(conn, zone["id"], roles={"planner"})[0]["by"] == "імпорт з QGIS-проєкту"


# --- 5. Kyiv time ---------------------------------------------------------------------------------------

def test_plan_pages_show_and_read_times_in_kyiv_time(client, demo_db, draft):
    plan_id, zone_id = draft["plan"], draft["zone"]
    act(demo_db, plans.set_plan_status, plan_id, "discussion", PLANNER)
    # Written at 21:30 UTC on 1 June: 00:30 on 2 June in Kyiv (summer time, UTC+3).
    with demo_db.begin() as conn:
        conn.execute(sa.text("UPDATE plan_zone_version SET changed_at = '2026-06-01 21:30+00' WHERE zone_id = :z"),
                     {"z": zone_id})
    history = text_of(client.get(f"/plans/zones/{zone_id}/history"))
    when = re.search(r"Коли: <time[^>]*>([^<]*)</time>", history).group(1)
    assert "2 черв. 2026" in when and "00:30" in when and "21:30" not in history
    assert "Час — київський." in history
    assert '<time datetime="2026-06-02T00:30:00+03:00">' in history  # the machine-readable moment too

    def zones_as_of(value: str) -> tuple[int, str]:
        html = text_of(client.get(f"/plans/{plan_id}?as_of={quote(value)}"))
        heading = re.search(r'id="zones-title"[^>]*>([^<]*)</h2>', html).group(1)
        return int(re.search(r"\((\d+)\)", heading).group(1)), heading

    # A day means the end of that day in Kyiv: on 1 June there (until 21:00 UTC) the zone was not there yet.
    assert zones_as_of("2026-06-01")[0] == 0
    assert zones_as_of("2026-06-02")[0] == 1
    assert zones_as_of("2026-06-02T00:15") == (0, "Функціональні зони (0) · План на дату 2 черв. 2026 р., 00:15")
    assert zones_as_of("2026-06-02T00:30")[0] == 1  # that whole minute
    assert zones_as_of("2026-06-01T21:45+00:00")[0] == 1  # an explicit offset is kept
    count, heading = zones_as_of("2026-06-01")
    assert heading.endswith("План на дату 1 черв. 2026 р.")
    diff = text_of(client.get(f"/plans/{plan_id}?from=2026-06-02T00:15&to=2026-06-02T00:45"))
    assert "2 черв. 2026 р., 00:15 → 2 черв. 2026 р., 00:45" in diff and ">Додані зони (1)" in diff
    english = text_of(client.get(f"/plans/zones/{zone_id}/history?lang=en"))  # (the language sticks: last)
    assert re.search(r"When: <time[^>]*>Jun 2, 2026, 12:30 AM</time>", english)


# --- 6. a plan loaded after its approval counts from the decision date -----------------------------------

def test_the_demos_approved_plan_shows_its_zones_as_of_yesterday(client, demo_db):
    plan_id = demo_plan(demo_db, "approved")
    total = scalar(demo_db, "SELECT count(*) FROM plan_zone WHERE plan_id = :p", p=plan_id)
    assert total >= 4
    yesterday = (dt.datetime.now(KYIV).date() - dt.timedelta(days=1)).isoformat()
    decided = DECISION[1]
    for as_of, expected in ((yesterday, total), (decided.isoformat(), total),
                            ((decided - dt.timedelta(days=1)).isoformat(), 0)):
        html = client.get(f"/plans/{plan_id}?as_of={as_of}").get_data(as_text=True)
        assert f"Функціональні зони ({expected})" in html, as_of
    # Its history says both: when it was loaded, and from when it counts.
    zone_id = scalar(demo_db, "SELECT min(id) FROM plan_zone WHERE plan_id = :p", p=plan_id)
    history = text_of(client.get(f"/plans/zones/{zone_id}/history"))
    assert "Чинна з: <time" in history and "15 бер. 2024 р." in history
    valid_from = scalar(demo_db, "SELECT valid_from FROM plan_zone_version WHERE zone_id = :z AND version = 1",
                        z=zone_id)
    assert valid_from == dt.datetime(2024, 3, 15, tzinfo=KYIV)
    # A comparison from before the approval to now: every zone added.
    diff = client.get(f"/plans/{plan_id}?from=2024-01-01&to={yesterday}").get_data(as_text=True)
    assert f">Додані зони ({total})" in diff


def test_count_from_approval_is_for_approved_plans_and_only_once(demo_db, plan):
    plan_id, x, y = plan
    zone = act(demo_db, plans.create_zone, PLANNER, plan_id, {"zone_code": "Ж-1"}, square(x, y))
    with pytest.raises(Conflict):
        act(demo_db, plans.count_from_approval, plan_id)  # a draft has no approval to count from
    act(demo_db, plans.update_zone, PLANNER, zone["id"], 1, attributes={"name": "Друга версія"})
    act(demo_db, plans.set_plan_status, plan_id, "discussion", PLANNER)
    act(demo_db, plans.set_plan_status, plan_id, "approved", PLANNER, decision_number="1/2",
        decision_date=dt.date(2025, 5, 20))
    assert act(demo_db, plans.count_from_approval, plan_id) == 1  # the first version only
    assert act(demo_db, plans.count_from_approval, plan_id) == 0
    with demo_db.connect() as conn:
        then = plans.zones_as_of(conn, plan_id, dt.datetime(2025, 5, 20, 0, 1, tzinfo=KYIV))
        before = plans.zones_as_of(conn, plan_id, dt.datetime(2025, 5, 19, 23, 59, tzinfo=KYIV))
    assert before == {} and then[zone["id"]]["version"] == 1 and then[zone["id"]]["attributes"]["name"] is None


def test_migration_0030_names_and_dates_what_was_loaded_before(demo_db, draft):
    """Downgrade to 0029 (no author, no valid_from: the demo as an older service loaded it) and up again."""
    add_person(demo_db, "named@example.org", ["planner"], full_name="Іван Франко")
    named = plans.Editor(user_id=scalar(demo_db, "SELECT id FROM app_user WHERE email = 'named@example.org'"),
                         grants=PLANNER.grants)
    act(demo_db, plans.update_zone, named, draft["zone"], 1, attributes={"name": "Нова"})
    try:
        db.downgrade(demo_db, "0029")
        with demo_db.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("plan_zone_version")}
        assert "author" not in columns and "valid_from" not in columns
    finally:
        db.upgrade(demo_db, "head")
    assert scalar(demo_db, "SELECT author FROM plan_zone_version WHERE zone_id = :z AND version = 2",
                  z=draft["zone"]) == "Іван Франко"
    demo = one(demo_db, """SELECT min(v.valid_from) AS valid_from, min(v.author) AS author, count(*) AS n
                           FROM plan_zone_version v WHERE v.plan_id = :p""", p=demo_plan(demo_db, "approved"))
    assert demo.valid_from == dt.datetime(2024, 3, 15, tzinfo=KYIV) and demo.author == DEMO_AUTHOR and demo.n >= 4
    # The draft demo plan is not dated: it was never approved.
    assert scalar(demo_db, "SELECT count(valid_from) FROM plan_zone_version WHERE plan_id = :p",
                  p=demo_plan(demo_db, "draft")) == 0
    # The trigger names authors again after the round trip.
    act(demo_db, plans.update_zone, named, draft["zone"], 2, attributes={"name": "Ще новіша"})
    assert scalar(demo_db, "SELECT author FROM plan_zone_version WHERE zone_id = :z AND version = 3",
                  z=draft["zone"]) == "Іван Франко"
