"""Issue #14's acceptance in one story, in Chromium against the live server and a real SMTP server:
the operator enables Стрижавська громада and appoints its administrator; she accepts the e-mailed
invitation, sets up three units (one an outside body reached by e-mail only), a starosta district,
who handles potholes where, and the categories with their targets; a resident reports a pothole in
the district; it is routed to the outside body, whose one mail carries a signed link; through it the
body resolves the report, and the resident is told."""
from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa

from gis import outbox, working_days
from gis.audit import By
from gis.setup_file import apply_setup, export_setup
from gis.users import create_user
from importers.communities import load_communities, load_settlements
from tests.conftest import UKRAINE
from tests.helpers import STRYZHAVKA, one, scalar
from tests.webmap.conftest import browser_context
from tests.webmap.test_map_browser import click_map_at
from tests.webmap.test_reports_http import submit

PASSWORD = "correct horse battery"
OPERATOR = "operator@example.org"
HEAD = "head@stryzhavka.example.org"
ROADS = "roads@stryzhavka.example.org"
LIGHTS = "kp@stryzhavka.example.org"
ROAD_SERVICE = "road-service@vn-avtodor.example.org"
RESIDENT = "resident@example.org"
SETUP = f"/admin/{STRYZHAVKA}/setup"
# Three villages of the hromada, drawn as small squares inside its real boundary (no settlement file
# for Стрижавська is in ../shared; these go through the same importer a real one would).
VILLAGES = ("Стрижавка", "Березина", "Витава")


@pytest.fixture
def stryzhavka(clean_db, tmp_path):
    load_communities(clean_db, UKRAINE / "vinnytskyi_raion_hromadas.geojson", katottg=[STRYZHAVKA])
    with clean_db.connect() as conn:
        # Three points well inside the boundary (a negative buffer), over 2 km apart, each the middle
        # of a 400 m square.
        rows = conn.execute(sa.text("""
            WITH inner_area AS (SELECT ST_Buffer(boundary::geography, -1500)::geometry AS g
                                FROM hromada WHERE katottg = :k),
                 points AS (SELECT (ST_Dump(ST_GeneratePoints(g, 400, 7))).geom AS p FROM inner_area),
                 spread AS (SELECT p, row_number() OVER () AS n FROM points),
                 trio AS (SELECT a.p AS a, b.p AS b, c.p AS c FROM spread a, spread b, spread c
                          WHERE a.n < b.n AND b.n < c.n AND ST_Distance(a.p::geography, b.p::geography) > 2000
                            AND ST_Distance(a.p::geography, c.p::geography) > 2000
                            AND ST_Distance(b.p::geography, c.p::geography) > 2000 LIMIT 1)
            SELECT ST_AsGeoJSON(ST_Envelope(ST_Buffer(x::geography, 200)::geometry))
            FROM trio, LATERAL (VALUES (1, a), (2, b), (3, c)) v(i, x) ORDER BY i"""),
            {"k": STRYZHAVKA}).scalars().all()
    features = [{"type": "Feature", "geometry": json.loads(geom),
                 "properties": {"name": name, "place": "village", "@id": f"test/{i}"}}
                for i, (name, geom) in enumerate(zip(VILLAGES, rows, strict=True))]
    path = tmp_path / "stryzhavka_settlements.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))
    load_settlements(clean_db, path)
    with clean_db.begin() as conn:
        create_user(conn, OPERATOR, PASSWORD, ["operator"], full_name="Оператор платформи")
    return clean_db


def village(engine, name: str):
    return one(engine, """SELECT s.id, ST_X(ST_Centroid(s.boundary)) AS lon, ST_Y(ST_Centroid(s.boundary)) AS lat
                          FROM settlement s JOIN hromada h ON h.id = s.hromada_id
                          WHERE s.name_uk = :n AND h.katottg = :k""", n=name, k=STRYZHAVKA)


def sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/staff/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.press("#password", "Enter")


def submit_form(page, form_selector: str) -> None:
    with page.expect_navigation():
        page.click(f"{form_selector} button[type=submit]")


def status_text(page) -> str:
    return page.inner_text("main")


def add_unit(page, base, code, name_uk, name_en, kind, emails, *, accounts: bool):
    page.goto(f"{base}{SETUP}/units/new")
    page.fill("#code", code)
    page.fill("#name_uk", name_uk)
    page.fill("#name_en", name_en)
    page.select_option("#kind", kind)
    page.fill("#emails", emails)
    page.check("#has_accounts-yes" if accounts else "#has_accounts-no")
    page.check("#notify_mode-each")
    submit_form(page, "main form:has(#code)")
    assert page.url.endswith(f"{SETUP}/units"), page.inner_text("main")[:800]


def assign(page, base, category, unit, scope, district=None):
    page.goto(f"{base}{SETUP}/assignments")
    form = "main form:has(#scope)"
    page.select_option(f"{form} #category", category)
    page.select_option(f"{form} #unit", unit)
    page.check(f"#scope-{scope}")
    if district:
        page.select_option(f"{form} #district", district)
    submit_form(page, form)
    assert "Додано." in page.inner_text("main"), page.inner_text("main")[:1500]


def test_a_hromada_goes_live_and_its_first_pothole_reaches_the_outside_body(
        stryzhavka, app, client, live_server, browser, smtp_server):
    settings, store = smtp_server
    engine = stryzhavka

    def deliver():
        outbox.deliver_due(engine, settings)

    def new_page():
        context = browser_context(browser)
        return context, context.new_page()

    # Before: Стрижавська takes no report.
    berezyna = village(engine, "Березина")
    refused = submit(client, lat=berezyna.lat, lon=berezyna.lon, category="pothole", description="Яма")
    assert refused.status_code == 422, refused.get_json()

    # 1. The operator enables the hromada and appoints its administrator.
    operator_ctx, operator = new_page()
    sign_in(operator, live_server, OPERATOR)
    operator.goto(f"{live_server}/operator/?q=Стриж")
    with operator.expect_navigation():
        operator.click(f"a[href='/operator/hromadas/{STRYZHAVKA}']")
    submit_form(operator, f"form[action='/operator/hromadas/{STRYZHAVKA}/enable']")
    assert "Громада приймає звернення" in operator.inner_text("main")
    operator.fill("form[action$='/admins'] [name=email]", HEAD)
    operator.fill("form[action$='/admins'] [name=full_name]", "Голова громади")
    submit_form(operator, "form[action$='/admins']")
    assert HEAD in operator.inner_text("main")
    operator_ctx.close()

    # 2. The administrator accepts the invitation (exactly one mail) and sets her password.
    deliver()
    deliver()
    [invitation] = store.to(HEAD)
    link = re.search(r"https?://\S+/account/set-password/[A-Za-z0-9_-]+", invitation["body"]).group(0)
    assert link.startswith(live_server)
    admin_ctx, admin = new_page()
    admin.goto(link)
    admin.fill("#password", PASSWORD)
    admin.fill("#confirm", PASSWORD)
    with admin.expect_navigation():
        admin.press("#confirm", "Enter")
    assert "Пароль збережено" in admin.inner_text("[role=status]")

    # 3. Three units, one of them the oblast road service reached by e-mail only.
    add_unit(admin, live_server, "roads", "Відділ житлово-комунального господарства", "Housing and Utilities",
             "department", ROADS, accounts=True)
    add_unit(admin, live_server, "lights", "КП «Стрижавкаблагоустрій»", "Stryzhavka Amenities", "enterprise",
             LIGHTS, accounts=True)
    add_unit(admin, live_server, "road_service", "Служба автомобільних доріг у Вінницькій області",
             "Vinnytsia Oblast Road Service", "outside_body", ROAD_SERVICE, accounts=False)
    listed = admin.inner_text("main")
    assert all(n in listed for n in ("Відділ житлово-комунального господарства", "КП «Стрижавкаблагоустрій»",
                                     "Служба автомобільних доріг у Вінницькій області"))

    # 4. A starosta district of two villages.
    admin.goto(f"{live_server}{SETUP}/districts/new")
    admin.fill("#code", "berezyna")
    admin.fill("#name_uk", "Березинський старостинський округ")
    admin.fill("#name_en", "Berezyna starosta district")
    for name in ("Березина", "Витава"):
        admin.check(f"#settlements-{village(engine, name).id}")
    submit_form(admin, "main form:has(#code)")
    assert "Березинський старостинський округ" in admin.inner_text("main")

    # 5. Who handles potholes where, and lamps; the categories with a target for potholes.
    assign(admin, live_server, "pothole", "roads", "hromada")
    assign(admin, live_server, "pothole", "road_service", "district", district="berezyna")
    assign(admin, live_server, "street_light_out", "lights", "hromada")
    admin.goto(f"{live_server}{SETUP}/categories")
    admin.uncheck("#enabled-no_signal")
    admin.fill("#days-pothole", "10")
    submit_form(admin, "main form:has(#days-pothole)")
    assert "Збережено." in admin.inner_text("main")
    assert one(engine, """SELECT hc.enabled, hc.target_days FROM hromada_category hc
                          JOIN category c ON c.id = hc.category_id JOIN hromada h ON h.id = hc.hromada_id
                          WHERE c.code = 'pothole' AND h.katottg = :k""", k=STRYZHAVKA) == (True, 10)
    # The preview agrees with what comes next.
    admin.goto(f"{live_server}{SETUP}/preview?lat={berezyna.lat}&lon={berezyna.lon}&category=pothole")
    assert "Служба автомобільних доріг у Вінницькій області" in admin.inner_text("#preview-unit")
    audit = scalar(engine, "SELECT count(*) FROM audit_log a JOIN hromada h ON h.id = a.hromada_id "
                           "WHERE h.katottg = :k", k=STRYZHAVKA)
    assert audit >= 8  # enabled, appointed, 3 units, a district, 3 assignments, categories
    admin_ctx.close()

    # 6. A resident pins a pothole in Березина on the public map.
    resident_ctx, resident = new_page()
    resident.goto(f"{live_server}/map/{STRYZHAVKA}")
    # The form's script listens to the map once it has run (it shows the place buttons then): a click on
    # the map before that would go unheard.
    resident.wait_for_selector("#place-buttons:not([hidden])")
    click_map_at(resident, berezyna.lat, berezyna.lon, zoom=16)
    resident.wait_for_selector("#category[data-loaded-for]")
    offered = resident.eval_on_selector_all("#category option", "os => os.map(o => o.value)")
    assert "pothole" in offered and "no_signal" not in offered  # switched off for this hromada
    resident.select_option("#category", "pothole")
    resident.fill("#description", "Глибока яма посеред дороги біля школи")
    resident.fill("#email", RESIDENT)
    resident.click("#submit-report")
    result = resident.locator("#report-result")
    result.wait_for(state="visible")
    code = re.search(r"[А-ЯІЇЄҐ]{2,3}-\d{4}-\d{6}", result.inner_text()).group(0)
    resident_ctx.close()

    report = one(engine, """SELECT u.code AS unit, r.created_at, r.due_at FROM report r
                            JOIN unit u ON u.id = r.unit_id WHERE r.code = :c""", c=code)
    # The hromada's own target for potholes: 10 working days (gis.working_days).
    made_on = report.created_at.astimezone(working_days.KYIV).date()
    assert report.unit == "road_service" and report.due_at == working_days.end_of_day(
        working_days.add_working_days(made_on, 10))
    # Outside the district, a pothole goes to the hromada's own department.
    home = village(engine, "Стрижавка")
    elsewhere = submit(client, lat=home.lat, lon=home.lon, category="pothole", description="Яма біля ринку")
    assert elsewhere.status_code == 201, elsewhere.get_json()
    assert scalar(engine, "SELECT u.code FROM report r JOIN unit u ON u.id = r.unit_id WHERE r.code = :c",
                  c=elsewhere.get_json()["code"]) == "roads"

    # 7. The road service gets its mail exactly once, with the report and a signed link.
    deliver()
    deliver()
    mails = [m for m in store.to(ROAD_SERVICE) if code in m["subject"] + m["body"]]
    assert len(mails) == 1
    body = mails[0]["body"]
    assert "Глибока яма посеред дороги біля школи" in body and "Березина" in body and RESIDENT not in body
    signed = re.search(r"https?://\S+/unit-link/\S+", body).group(0)
    assert signed.startswith(live_server)
    assert not [m for m in store.to(ROADS) if code in m["subject"] + m["body"]]

    # The resident got the tracking code and private link by mail, and confirms the address there.
    [received] = [m for m in store.to(RESIDENT) if code in m["subject"]]
    confirm_ctx, resident_mail = new_page()
    resident_mail.goto(re.search(r"https?://\S+/mail/confirm/\S+", received["body"]).group(0))
    resident_mail.click("main form button[type=submit]")
    resident_mail.wait_for_selector("p.result[role=status]")
    confirm_ctx.close()

    # 8. Through the link, without an account, the body resolves the report.
    body_ctx, road_service = new_page()
    road_service.goto(signed)
    assert code in road_service.inner_text("main")
    road_service.fill("#resolution", "Яму залатано 12 грудня")
    submit_form(road_service, "form:has(#resolution)")
    body_ctx.close()
    assert scalar(engine, "SELECT status FROM report WHERE code = :c", c=code) == "resolved"

    # 9. The resident is told.
    deliver()
    told = [m for m in store.to(RESIDENT) if code in m["subject"]]
    assert any("вирішено" in m["subject"] and "Яму залатано 12 грудня" in m["body"] for m in told), \
        [m["subject"] for m in told]

    # 10. What was set up in the browser is one file; applying it back changes nothing.
    with engine.connect() as conn:
        text = export_setup(conn, STRYZHAVKA)
    assert "code: road_service" in text and "district: berezyna" in text and "pothole: 10" in text.replace("'", "")
    with engine.begin() as conn:
        assert not apply_setup(conn, text, by=By("test"), public_url=live_server)
    with engine.connect() as conn:
        assert export_setup(conn, STRYZHAVKA) == text
