"""The hromada administrator's set-up console (issue #14) over HTTP and in Chromium.

Each section renders in both languages; each form changes the data and writes an audit entry; bad
input is a 4xx with the reason in the person's language and changes nothing; the routing preview
answers like real routing; an administrator of another hromada gets 403 on every console URL; and
the whole console works by keyboard at 320 px with no axe violations.
"""
from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from gis.users import create_user
from tests.axe import violations
from tests.helpers import STRYZHAVKA, demo_hromada_id, load_neighbours, one, scalar
from tests.webmap.conftest import browser_context
from tests.webmap.test_accessibility import audit as axe_audit
from tests.webmap.test_reports_http import form_token
from webmap.i18n import format_datetime

KATOTTG = "UA05020310000080026"
BASE = f"/admin/{KATOTTG}/setup"
PASSWORD = "correct horse battery"
ADMIN_EMAIL, ADMIN_NAME = "admin@yakushynetska.example.org", "Олена Адміністраторка"


# --- helpers ---------------------------------------------------------------------------------------

def sign_in(client, email: str) -> None:
    page = client.get("/staff/login")
    answer = client.post("/staff/login", data={"email": email, "password": PASSWORD,
                                               "csrf_token": form_token(page.get_data(as_text=True))})
    assert answer.status_code == 302, answer.get_data(as_text=True)


@pytest.fixture
def admin(client, demo_db):
    """The test client, signed in as an administrator of the demo hromada (and nothing else)."""
    with demo_db.begin() as conn:
        create_user(conn, ADMIN_EMAIL, PASSWORD, ["admin"], hromada_id=demo_hromada_id(demo_db), full_name=ADMIN_NAME)
    sign_in(client, ADMIN_EMAIL)
    return client


def post(client, path: str, data: dict | list, *, page: str | None = None, lang: str | None = None):
    """POST a console form with the CSRF token of the page it is on (``page``, else ``path``)."""
    html = client.get(BASE + (page or path)).get_data(as_text=True)
    items = list(data.items()) if isinstance(data, dict) else list(data)
    items.append(("csrf_token", form_token(html)))
    url = BASE + path + (f"?lang={lang}" if lang else "")
    return client.post(url, data=urlencode(items, doseq=True), content_type="application/x-www-form-urlencoded")


def audit_count(engine) -> int:
    return scalar(engine, "SELECT count(*) FROM audit_log WHERE hromada_id = :h", h=demo_hromada_id(engine))


def text(answer) -> str:
    return answer.get_data(as_text=True)


def free_village(engine) -> str:
    """A village of the demo hromada in no starosta district."""
    name = scalar(engine, """SELECT s.name_uk FROM settlement s WHERE s.hromada_id = :h AND NOT EXISTS
                               (SELECT 1 FROM district_settlement ds WHERE ds.settlement_id = s.id)
                             ORDER BY s.name_uk LIMIT 1""", h=demo_hromada_id(engine))
    assert name, "the demo needs a village outside every district for these tests"
    return name


def village(engine, name: str):
    return one(engine, "SELECT id, ST_X(centre) AS lon, ST_Y(centre) AS lat FROM settlement "
                       "WHERE name_uk = :n AND hromada_id = :h", n=name, h=demo_hromada_id(engine))


def square(lon: float, lat: float, d: float = 0.002) -> dict:
    return {"type": "Polygon", "coordinates": [[[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d],
                                                [lon - d, lat + d], [lon - d, lat - d]]]}


UNIT = {"code": "ecology", "name_uk": "Відділ екології", "name_en": "Ecology Department", "kind": "department",
        "emails": "eco@example.org\neco2@example.org", "phone": "+380 43 000 00 00", "has_accounts": "yes",
        "notify_mode": "digest"}


# --- every section renders -------------------------------------------------------------------------

SECTIONS = {"/": ("Налаштування громади", "Hromada set-up"), "/units": ("Підрозділи", "Units"),
            "/units/new": ("Додати підрозділ", "Add a unit"),
            "/units/housing/edit": ("Змінити підрозділ", "Edit the unit"),
            "/districts": ("Старостинські округи", "Starosta districts"),
            "/districts/new": ("Додати округ", "Add a district"),
            "/assignments": ("Хто що обслуговує і де", "Who handles what, where"),
            "/categories": ("Категорії звернень", "Report categories"),
            "/preview": ("Перевірка маршрутизації", "Routing preview"),
            "/audit": ("Журнал змін", "Audit log")}


@pytest.mark.parametrize("lang", ["uk", "en"])
def test_every_section_renders_in_both_languages(admin, lang):
    for path, (uk, en) in SECTIONS.items():
        answer = admin.get(f"{BASE}{path}?lang={lang}")
        assert answer.status_code == 200, (path, text(answer)[:500])
        html = text(answer)
        assert re.search(r"<h1>[^<]*" + re.escape(uk if lang == "uk" else en), html), path
        assert f'<html lang="{lang}">' in html
    # The units list shows the demo's units by name; the staff bar links to the console.
    assert "КП «Якушинціблагоустрій»" in text(admin.get(f"{BASE}/units?lang=uk"))
    assert f'href="{BASE}/"' in text(admin.get("/staff/"))


def test_unknown_unit_or_district_is_404(admin):
    assert admin.get(f"{BASE}/units/no_such_unit/edit").status_code == 404
    assert admin.get(f"{BASE}/districts/no_such_district/edit").status_code == 404
    assert admin.get("/admin/UA00000000000000000/setup/").status_code == 404


# --- units -----------------------------------------------------------------------------------------

def test_a_unit_is_added_edited_and_deleted_with_an_audit_entry_each(admin, demo_db):
    before = audit_count(demo_db)
    answer = post(admin, "/units/new", UNIT)
    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"{BASE}/units")
    row = one(demo_db, "SELECT name_uk, name_en, kind, emails, phone, has_accounts, notify_mode FROM unit "
                       "WHERE code = 'ecology' AND hromada_id = :h", h=demo_hromada_id(demo_db))
    assert tuple(row) == ("Відділ екології", "Ecology Department", "department",
                          ["eco@example.org", "eco2@example.org"], "+380 43 000 00 00", True, "digest")
    assert audit_count(demo_db) == before + 1
    listed = text(admin.get(f"{BASE}/units"))
    assert "Збережено." in listed and "Відділ екології" in listed

    # An outside body reached by e-mail only.
    answer = post(admin, "/units/ecology/edit", {**UNIT, "has_accounts": "no", "phone": "", "name_en": ""})
    assert answer.status_code == 302
    row = one(demo_db, "SELECT has_accounts, phone, name_en FROM unit WHERE code = 'ecology'")
    assert tuple(row) == (False, None, None)
    assert audit_count(demo_db) == before + 2
    # The code names the unit: a posted other code does not rename it.
    post(admin, "/units/ecology/edit", {**UNIT, "code": "renamed"})
    assert scalar(demo_db, "SELECT count(*) FROM unit WHERE code = 'renamed'") == 0

    answer = post(admin, "/units/ecology/delete", {}, page="/units")
    assert answer.status_code == 302
    assert scalar(demo_db, "SELECT count(*) FROM unit WHERE code = 'ecology'") == 0
    assert audit_count(demo_db) == before + 4
    assert "Вилучено." in text(admin.get(f"{BASE}/units"))


@pytest.mark.parametrize("lang, words", [("uk", "неправильна адреса ел. пошти: not-an-address"),
                                         ("en", "not a valid e-mail address: not-an-address")])
def test_a_bad_email_is_a_400_in_the_persons_language_and_changes_nothing(admin, demo_db, lang, words):
    before = audit_count(demo_db)
    answer = post(admin, "/units/new", {**UNIT, "emails": "eco@example.org\nnot-an-address"}, lang=lang)
    assert answer.status_code == 400
    html = text(answer)
    assert words in html
    assert 'aria-invalid="true"' in html and 'id="emails-error"' in html  # next to its field
    assert scalar(demo_db, "SELECT count(*) FROM unit WHERE code = 'ecology'") == 0
    assert audit_count(demo_db) == before


def test_unit_rules_of_the_core_come_back_next_to_the_form(admin, demo_db):
    before = audit_count(demo_db)
    # An e-mail-only body with no address could never be told of a report.
    answer = post(admin, "/units/new", {**UNIT, "emails": "", "has_accounts": "no"})
    assert answer.status_code == 400 and "error-summary" in text(answer)
    # A code that exists already is not overwritten by "add".
    answer = post(admin, "/units/new", {**UNIT, "code": "housing"})
    assert answer.status_code == 409 and "housing" in text(answer)
    assert scalar(demo_db, "SELECT name_uk FROM unit WHERE code = 'housing'").startswith("Відділ житлово")
    # A malformed code, an unknown kind.
    answer = post(admin, "/units/new", {**UNIT, "code": "Еко відділ", "kind": "ministry"})
    assert answer.status_code == 400
    assert "лише малі латинські літери" in text(answer)
    assert "оберіть вид зі списку" in text(answer)
    assert scalar(demo_db, "SELECT count(*) FROM unit WHERE code = 'ecology'") == 0
    assert audit_count(demo_db) == before


def test_a_unit_with_reports_is_not_deleted(admin, demo_db):
    from layers.reports import NewReport, create_report
    from tests.helpers import asset_point

    lon, lat = asset_point(demo_db, "street_lamp", "301")
    with demo_db.begin() as conn:
        create_report(conn, NewReport(lon=lon, lat=lat, category="street_light_out", description="Не світить"),
                      public_url="http://x")
    code = scalar(demo_db, "SELECT u.code FROM report r JOIN unit u ON u.id = r.unit_id ORDER BY r.id DESC LIMIT 1")
    before = audit_count(demo_db)
    answer = post(admin, f"/units/{code}/delete", {}, page="/units", lang="en")
    assert answer.status_code == 409 and "cannot be deleted" in text(answer)
    assert scalar(demo_db, "SELECT count(*) FROM unit WHERE code = :c", c=code) == 1
    assert audit_count(demo_db) == before


def test_posts_without_the_form_token_are_refused(admin, demo_db):
    answer = admin.post(f"{BASE}/units/new", data=UNIT)
    assert answer.status_code == 400 and "CSRF" in text(answer)
    assert scalar(demo_db, "SELECT count(*) FROM unit WHERE code = 'ecology'") == 0


# --- starosta districts ----------------------------------------------------------------------------

def test_a_district_is_added_with_villages_edited_and_deleted(admin, demo_db):
    name = free_village(demo_db)
    first = village(demo_db, name)
    before = audit_count(demo_db)
    answer = post(admin, "/districts/new", [("code", "sd_test"), ("name_uk", "Тестовий округ"),
                                           ("name_en", "Test district"), ("settlements", str(first.id))])
    assert answer.status_code == 302, text(answer)[:2000]
    district = one(demo_db, "SELECT id, name_uk FROM starosta_district WHERE code = 'sd_test'")
    assert district.name_uk == "Тестовий округ"
    assert scalar(demo_db, "SELECT array_agg(settlement_id) FROM district_settlement WHERE district_id = :d",
                  d=district.id) == [first.id]
    assert audit_count(demo_db) == before + 1
    assert name in text(admin.get(f"{BASE}/districts"))
    # The edit form shows the village ticked; renaming keeps the code.
    form = text(admin.get(f"{BASE}/districts/sd_test/edit"))
    assert re.search(rf'value="{first.id}" checked', form)
    assert post(admin, "/districts/sd_test/edit", [("name_uk", "Округ «Тест»"), ("settlements", str(first.id))]
                ).status_code == 302
    assert scalar(demo_db, "SELECT name_uk FROM starosta_district WHERE code = 'sd_test'") == "Округ «Тест»"
    assert post(admin, "/districts/sd_test/delete", {}, page="/districts").status_code == 302
    assert scalar(demo_db, "SELECT count(*) FROM starosta_district WHERE code = 'sd_test'") == 0
    assert audit_count(demo_db) == before + 3


def test_a_district_with_an_unknown_village_is_refused_naming_it(admin, demo_db):
    before = audit_count(demo_db)
    answer = post(admin, "/districts/new", [("code", "sd_test"), ("name_uk", "Тестовий округ"),
                                           ("settlements", "Неіснуюче село")], lang="en")
    assert 400 <= answer.status_code < 500
    assert "Неіснуюче село" in text(answer)
    assert answer.status_code != 500
    answer = post(admin, "/districts/new", [("code", "sd_test"), ("name_uk", "Тестовий округ"),
                                           ("settlements", "99999999")])
    assert 400 <= answer.status_code < 500 and "99999999" in text(answer)
    assert scalar(demo_db, "SELECT count(*) FROM starosta_district WHERE code = 'sd_test'") == 0
    assert audit_count(demo_db) == before


# --- who handles what, where -----------------------------------------------------------------------

def add_unit(client, code="ecology"):
    assert post(client, "/units/new", {**UNIT, "code": code}).status_code == 302


def assignment_rows(engine, unit_code="ecology"):
    with engine.connect() as conn:
        return conn.execute(sa.text("""
            SELECT uc.id, c.code AS category, uc.scope, uc.district_id, uc.settlement_ids, """
            """uc.area IS NOT NULL AS has_area
            FROM unit_category uc JOIN unit u ON u.id = uc.unit_id JOIN category c ON c.id = uc.category_id
            WHERE u.code = :u ORDER BY uc.id"""), {"u": unit_code}).mappings().all()


def test_assignments_in_each_scope_and_their_deletion(admin, demo_db):
    add_unit(admin)
    name = free_village(demo_db)
    v = village(demo_db, name)
    assert post(admin, "/districts/new", [("code", "sd_test"), ("name_uk", "Тестовий округ"),
                                         ("settlements", str(v.id))]).status_code == 302
    before = audit_count(demo_db)
    cases = [
        {"category": "water_leak", "unit": "ecology", "scope": "hromada"},
        {"category": "fallen_tree", "unit": "ecology", "scope": "district", "district": "sd_test"},
        [("category", "illegal_dump"), ("unit", "ecology"), ("scope", "villages"), ("villages", str(v.id))],
        {"category": "overflowing_bin", "unit": "ecology", "scope": "area", "area": json.dumps(square(v.lon, v.lat))},
    ]
    for case in cases:
        answer = post(admin, "/assignments", case, page="/assignments")
        assert answer.status_code == 302, text(answer)[:3000]
    rows = assignment_rows(demo_db)
    assert [(r["category"], r["scope"]) for r in rows] == [
        ("water_leak", "hromada"), ("fallen_tree", "district"), ("illegal_dump", "villages"),
        ("overflowing_bin", "area")]
    assert rows[0]["has_area"] is False and rows[1]["district_id"] is not None and rows[1]["has_area"] is True
    assert rows[2]["settlement_ids"] == [v.id] and rows[3]["has_area"] is True
    assert audit_count(demo_db) == before + 4
    page = text(admin.get(f"{BASE}/assignments"))
    assert "Додано." in page and "Відділ екології" in page

    answer = post(admin, f"/assignments/{rows[0]['id']}/delete", {}, page="/assignments")
    assert answer.status_code == 302
    assert [r["category"] for r in assignment_rows(demo_db)] == ["fallen_tree", "illegal_dump", "overflowing_bin"]
    assert audit_count(demo_db) == before + 5


def test_bad_assignments_are_refused_with_the_reason_and_change_nothing(admin, demo_db):
    add_unit(admin)
    post(admin, "/assignments", {"category": "water_leak", "unit": "ecology", "scope": "hromada"}, page="/assignments")
    before, rows = audit_count(demo_db), assignment_rows(demo_db)
    kyiv = square(30.52, 50.45, 0.01)  # far outside the hromada
    answer = post(admin, "/assignments", {"category": "water_leak", "unit": "ecology", "scope": "area",
                                          "area": json.dumps(kyiv)}, page="/assignments")
    assert answer.status_code == 400 and 'id="area-error"' in text(answer)
    answer_en = post(admin, "/assignments", {"category": "water_leak", "unit": "ecology", "scope": "area",
                                             "area": json.dumps(kyiv)}, page="/assignments", lang="en")
    assert answer_en.status_code == 400 and "hromada" in text(answer_en).lower()
    # Not JSON at all; a district scope with no district; an unknown unit; the same one twice.
    answer = post(admin, "/assignments", {"category": "water_leak", "unit": "ecology", "scope": "area",
                                          "area": "{not json"}, page="/assignments", lang="uk")
    assert answer.status_code == 400 and "GeoJSON" in text(answer)
    answer = post(admin, "/assignments", {"category": "water_leak", "unit": "ecology", "scope": "district"},
                  page="/assignments")
    assert answer.status_code == 400 and "оберіть округ" in text(answer)
    answer = post(admin, "/assignments", {"category": "water_leak", "unit": "nobody", "scope": "hromada"},
                  page="/assignments")
    assert 400 <= answer.status_code < 500 and "nobody" in text(answer)
    answer = post(admin, "/assignments", {"category": "water_leak", "unit": "ecology", "scope": "hromada"},
                  page="/assignments")
    assert answer.status_code == 409
    assert assignment_rows(demo_db) == rows and audit_count(demo_db) == before


def test_a_warnings_fix_link_opens_the_form_with_its_category(admin, demo_db):
    with demo_db.begin() as conn:  # nobody handles water leaks any more, and there is no default unit
        conn.execute(sa.text("DELETE FROM unit_category WHERE category_id = (SELECT id FROM category "
                             "WHERE code = 'water_leak')"))
        conn.execute(sa.text("UPDATE hromada_setup SET default_unit_id = NULL"))
    overview = text(admin.get(f"{BASE}/"))
    assert "Витік води" in overview
    link = f'{BASE}/assignments?category=water_leak#add'
    assert f'href="{link}"' in overview
    assert '<option value="water_leak" selected>' in text(admin.get(link.split("#")[0]))


def test_default_unit_and_asset_owners(admin, demo_db):
    add_unit(admin)
    before = audit_count(demo_db)
    assert post(admin, "/default-unit", {"unit": "ecology"}, page="/assignments").status_code == 302
    assert scalar(demo_db, "SELECT u.code FROM hromada_setup s JOIN unit u ON u.id = s.default_unit_id "
                           "WHERE s.hromada_id = :h", h=demo_hromada_id(demo_db)) == "ecology"
    assert audit_count(demo_db) == before + 1
    page = text(admin.get(f"{BASE}/assignments"))
    assert re.search(r'<option value="ecology" selected>Відділ екології</option>', page)

    # Oblast roads to the new unit; the other owners as they were.
    owners = {}
    for name, options in re.findall(r'<select id="(owner-[a-z_]+-[a-z_]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([a-z_]*)" selected', options)
        owners[name] = chosen.group(1) if chosen else ""
    assert len(owners) == 8 and owners["owner-road_segment-state"] == "road_service"
    owners["owner-road_segment-regional"] = "ecology"
    assert post(admin, "/asset-owners", owners, page="/assignments").status_code == 302
    assert scalar(demo_db, """SELECT u.code FROM asset_owner o JOIN unit u ON u.id = o.unit_id
                              WHERE o.asset_kind = 'road_segment' AND o.owner_class = 'regional'""") == "ecology"
    assert audit_count(demo_db) == before + 2  # one change, one entry
    answer = post(admin, "/asset-owners", {**owners, "owner-road_segment-state": "nobody"}, page="/assignments")
    assert answer.status_code == 400 and "nobody" in text(answer)
    assert audit_count(demo_db) == before + 2


# --- categories ------------------------------------------------------------------------------------

def category_state(engine, code):
    return one(engine, """SELECT hc.enabled, hc.target_days FROM hromada_category hc """
                       """JOIN category c ON c.id = hc.category_id
                          WHERE c.code = :c AND hc.hromada_id = :h""", c=code, h=demo_hromada_id(engine))


def switches(page_html: str) -> list[tuple[str, str]]:
    """The categories form as the browser would send it: ticked boxes and the day fields."""
    items = [(name, "on") for name in re.findall(r'name="(enabled-[a-z_0-9]+)" value="on" checked', page_html)]
    items += re.findall(r'name="(days-[a-z_0-9]+)" value="([^"]*)"', page_html)
    return items


def test_categories_are_switched_and_given_targets(admin, demo_db):
    page = text(admin.get(f"{BASE}/categories"))
    items = [(k, v) for k, v in switches(page) if k != "enabled-no_signal" and k != "days-pothole"]
    items.append(("days-pothole", "5"))
    before = audit_count(demo_db)
    answer = post(admin, "/categories", items)
    assert answer.status_code == 302, text(answer)[:2000]
    assert tuple(category_state(demo_db, "no_signal"))[0] is False
    assert tuple(category_state(demo_db, "pothole")) == (True, 5)
    assert audit_count(demo_db) == before + 2  # only what changed is written

    # Zero days, words: 400 beside the field, and nothing of the table is saved.
    bad = [(k, v) for k, v in items if k not in ("days-pothole", "days-fallen_tree")]
    bad += [("days-pothole", "7"), ("days-fallen_tree", "0")]
    answer = post(admin, "/categories", bad)
    assert answer.status_code == 400 and 'id="days-fallen_tree-error"' in text(answer)
    assert tuple(category_state(demo_db, "pothole")) == (True, 5)
    assert audit_count(demo_db) == before + 2


def test_premoderation_and_days_off_are_set_in_the_console(admin, demo_db):
    import datetime as dt

    page = text(admin.get(f"{BASE}/categories"))
    items = [*switches(page), ("premoderate-pothole", "on")]
    assert post(admin, "/categories", items).status_code == 302
    premoderated = scalar(demo_db, "SELECT hc.premoderate FROM hromada_category hc JOIN category c "
                                   "ON c.id = hc.category_id WHERE c.code = 'pothole'")
    assert premoderated is True
    assert 'id="premoderate-pothole" name="premoderate-pothole" value="on" checked' in text(
        admin.get(f"{BASE}/categories"))
    # Unticked again: back to the catalogue's (off), nothing left behind.
    unticked = [(k, v) for k, v in switches(text(admin.get(f"{BASE}/categories"))) if k != "premoderate-pothole"]
    assert post(admin, "/categories", unticked).status_code == 302
    assert scalar(demo_db, "SELECT count(*) FROM hromada_category") == 0

    day = dt.date(2026, 12, 19)
    on_page = {"page": "/categories"}
    assert post(admin, "/days-off", {"day": day.isoformat(), "note": "День громади"}, **on_page).status_code == 302
    assert post(admin, "/days-off", {"day": "19.12.2026"}, **on_page).status_code == 400  # says the format
    listed = text(admin.get(f"{BASE}/categories"))
    assert "День громади" in listed
    assert scalar(demo_db, "SELECT count(*) FROM hromada_day_off") == 1
    assert post(admin, "/days-off", {"remove": day.isoformat()}, **on_page).status_code == 302
    assert scalar(demo_db, "SELECT count(*) FROM hromada_day_off") == 0
    assert scalar(demo_db, "SELECT count(*) FROM audit_log WHERE action LIKE 'day_off.%'") == 2


def test_a_local_category_is_added(admin, demo_db):
    before = audit_count(demo_db)
    answer = post(admin, "/categories/local", {"code": "stray_dogs", "name_uk": "Безпритульні собаки",
                                               "name_en": "Stray dogs", "target_days": "7"}, page="/categories")
    assert answer.status_code == 302, text(answer)[:2000]
    assert scalar(demo_db, "SELECT hromada_id FROM category WHERE code = 'stray_dogs'") == demo_hromada_id(demo_db)
    assert audit_count(demo_db) == before + 1
    assert "Безпритульні собаки" in text(admin.get(f"{BASE}/categories"))
    answer = post(admin, "/categories/local", {"code": "pothole", "name_uk": "Ями", "name_en": "Holes"},
                  page="/categories")
    assert answer.status_code in (400, 409)
    answer = post(admin, "/categories/local", {"code": "x", "name_uk": "Х", "name_en": "X", "target_days": "сім"},
                  page="/categories")
    assert answer.status_code == 400 and "ціле число днів" in text(answer)
    assert audit_count(demo_db) == before + 1

    # Deleted while no report has it; a catalogue category is not the hromada's to delete.
    assert post(admin, "/categories/local/pothole/delete", {}, page="/categories").status_code == 404
    answer = post(admin, "/categories/local/stray_dogs/delete", {}, page="/categories")
    assert answer.status_code == 302
    assert scalar(demo_db, "SELECT count(*) FROM category WHERE code = 'stray_dogs'") == 0
    assert audit_count(demo_db) == before + 2
    assert "Безпритульні собаки" not in text(admin.get(f"{BASE}/categories"))


# --- routing preview -------------------------------------------------------------------------------

def test_routing_preview_answers_the_unit_the_rule_and_why(admin, demo_db):
    add_unit(admin)
    v = village(demo_db, free_village(demo_db))
    assert post(admin, "/districts/new", [("code", "sd_test"), ("name_uk", "Тестовий округ"),
                                         ("settlements", str(v.id))]).status_code == 302
    assert post(admin, "/assignments", {"category": "fallen_tree", "unit": "ecology", "scope": "district",
                                        "district": "sd_test"}, page="/assignments").status_code == 302
    before = audit_count(demo_db)
    answer = admin.get(f"{BASE}/preview?" + urlencode({"lat": v.lat, "lon": v.lon, "category": "fallen_tree"}))
    assert answer.status_code == 200
    html = text(answer)
    assert re.search(r'id="preview-unit">Відділ екології<', html)
    assert re.search(r'id="preview-rule">за територією обслуговування<', html)
    assert "Відділ екології" in re.search(r'id="preview-reason">([^<]*)<', html).group(1)
    english = text(admin.get(f"{BASE}/preview?" + urlencode({"lat": v.lat, "lon": v.lon, "category": "fallen_tree",
                                                             "lang": "en"})))
    assert re.search(r'id="preview-unit">Ecology Department<', english)
    # The same as real routing.
    from gis.routing import route_report

    with demo_db.connect() as conn:
        route = route_report(conn, v.lon, v.lat, "fallen_tree")
    assert route.unit_id == scalar(demo_db, "SELECT id FROM unit WHERE code = 'ecology'")
    assert audit_count(demo_db) == before  # a preview changes nothing


def test_routing_preview_tells_why_it_cannot_route(admin, demo_db):
    v = village(demo_db, free_village(demo_db))
    with demo_db.begin() as conn:  # nobody handles water leaks any more
        conn.execute(sa.text("DELETE FROM unit_category WHERE category_id = (SELECT id FROM category "
                             "WHERE code = 'water_leak')"))
        conn.execute(sa.text("UPDATE hromada_setup SET default_unit_id = NULL"))
    answer = admin.get(f"{BASE}/preview?" + urlencode({"lat": v.lat, "lon": v.lon, "category": "water_leak"}))
    assert answer.status_code == 422 and 'id="preview-error"' in text(answer)
    answer = admin.get(f"{BASE}/preview?" + urlencode({"lat": "сорок дев'ять", "lon": v.lon,
                                                       "category": "water_leak"}))
    assert answer.status_code == 400 and "широта — число" in text(answer)
    answer = admin.get(f"{BASE}/preview?" + urlencode({"lat": v.lat, "lon": v.lon, "category": ""}))
    assert answer.status_code == 400


# --- audit log -------------------------------------------------------------------------------------

def test_audit_log_shows_who_when_and_what(admin, demo_db):
    add_unit(admin)
    html = text(admin.get(f"{BASE}/audit"))
    assert ADMIN_NAME in html  # a name, not an id
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:[^"]+">[^<]+</time>', html)
    assert "ecology" in html or "Відділ екології" in html
    at = one(demo_db, "SELECT created_at FROM audit_log ORDER BY id DESC LIMIT 1")
    assert format_datetime(at.created_at, lang="uk") in html  # Kyiv time in Babel's Ukrainian way


# --- who may ---------------------------------------------------------------------------------------

CONSOLE_GETS = ["/", "/units", "/units/new", "/units/housing/edit", "/districts", "/districts/new", "/assignments",
                "/categories", "/preview", "/audit"]
CONSOLE_POSTS = ["/units/new", "/units/housing/edit", "/units/housing/delete", "/districts/new",
                 "/districts/sd_any/edit", "/districts/sd_any/delete", "/assignments", "/assignments/1/delete",
                 "/default-unit", "/asset-owners", "/categories", "/categories/local"]


def test_an_administrator_of_another_hromada_gets_403_everywhere(app, client, demo_db):
    load_neighbours(demo_db)
    stryzhavka = scalar(demo_db, "SELECT id FROM hromada WHERE katottg = :k", k=STRYZHAVKA)
    with demo_db.begin() as conn:
        create_user(conn, "admin@stryzhavka.example.org", PASSWORD, ["admin", "unit_staff", "planner"],
                    hromada_id=stryzhavka)
    # Anonymous visitors are sent to the log-in page first.
    answer = client.get(f"{BASE}/units")
    assert answer.status_code == 302 and "/staff/login" in answer.headers["Location"]
    sign_in(client, "admin@stryzhavka.example.org")
    before = (audit_count(demo_db), scalar(demo_db, "SELECT count(*) FROM unit"))
    for path in CONSOLE_GETS:
        assert client.get(BASE + path).status_code == 403, path
    token = client.get("/api/csrf-token").get_json()["csrf_token"]
    for path in CONSOLE_POSTS:
        answer = client.post(BASE + path, data={**UNIT, "code": "housing", "csrf_token": token, "unit": "housing",
                                                "category": "water_leak", "scope": "hromada"})
        assert answer.status_code == 403, path
    assert (audit_count(demo_db), scalar(demo_db, "SELECT count(*) FROM unit")) == before
    # Their own console is theirs; no link to the demo's appears for them.
    assert client.get(f"/admin/{STRYZHAVKA}/setup/").status_code == 200
    assert f'href="{BASE}/"' not in text(client.get(f"/staff/?hromada={STRYZHAVKA}"))


def test_unit_staff_of_the_same_hromada_get_403(client, demo_db):
    with demo_db.begin() as conn:
        create_user(conn, "staff@example.org", PASSWORD, ["unit_staff", "planner"], hromada_id=demo_hromada_id(demo_db))
    sign_in(client, "staff@example.org")
    assert client.get(f"{BASE}/").status_code == 403
    assert f"{BASE}/" not in text(client.get("/staff/"))


# --- in Chromium: keyboard only, 320 px, axe -------------------------------------------------------

def narrow_page(browser):
    context = browser_context(browser, viewport={"width": 320, "height": 640})
    return context, context.new_page()


def test_the_console_by_keyboard_at_320_px(live_server, browser, demo_db):
    with demo_db.begin() as conn:
        create_user(conn, ADMIN_EMAIL, PASSWORD, ["admin"], hromada_id=demo_hromada_id(demo_db), full_name=ADMIN_NAME)
    name = free_village(demo_db)
    v = village(demo_db, name)
    context, page = narrow_page(browser)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        def tab_to(test: str, limit: int = 150):
            for _ in range(limit):
                page.keyboard.press("Tab")
                if page.evaluate(test):
                    return
            raise AssertionError(f"never reached {test}")

        def tab_to_id(element_id: str):
            tab_to(f"document.activeElement && document.activeElement.id === {json.dumps(element_id)}")

        def tab_to_text(words: str):
            tab_to("document.activeElement && "
                   f"document.activeElement.textContent.trim().startsWith({json.dumps(words)})")

        def choose(select_id: str, value: str):
            """A <select> by keyboard: focus it, then arrow down until the value is chosen."""
            tab_to_id(select_id)
            page.keyboard.press("Home")
            for _ in range(60):
                if page.evaluate(f"document.getElementById({json.dumps(select_id)}).value") == value:
                    return
                page.keyboard.press("ArrowDown")
            raise AssertionError(f"{value} is not in #{select_id}")

        def fits():
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 320, f"{page.url} is {width} px wide"

        page.goto(f"{live_server}/staff/login")
        page.focus("body")
        tab_to_id("email")
        page.keyboard.type(ADMIN_EMAIL)
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_load_state()
        # The staff bar's link to the console, then the Units section, all by keyboard.
        page.focus("body")
        tab_to_text("Налаштування громади")
        page.keyboard.press("Enter")
        page.wait_for_selector("h1")
        assert page.url.rstrip("/").endswith(BASE)
        fits()
        tab_to_text("Підрозділи")
        page.keyboard.press("Enter")
        page.wait_for_url(f"**{BASE}/units")
        tab_to_text("Додати підрозділ")
        page.keyboard.press("Enter")
        page.wait_for_url("**/units/new")
        fits()
        tab_to_id("code")
        page.keyboard.type("ecology")
        page.keyboard.press("Tab")
        page.keyboard.type("Відділ екології")
        page.keyboard.press("Tab")
        page.keyboard.type("Ecology Department")
        choose("kind", "department")
        tab_to_id("emails")
        page.keyboard.type("eco@example.org")
        tab_to_id("has_accounts-yes")
        page.keyboard.press("ArrowDown")  # radio group: arrows choose
        assert page.is_checked("#has_accounts-no")
        tab_to_text("Зберегти")
        page.keyboard.press("Enter")
        page.wait_for_url(f"**{BASE}/units")
        assert "Збережено." in page.inner_text("p.result[role=status]")
        assert scalar(demo_db, "SELECT has_accounts FROM unit WHERE code = 'ecology'") is False
        fits()

        # A district with one village.
        page.goto(f"{live_server}{BASE}/districts/new")
        page.focus("body")
        tab_to_id("code")
        page.keyboard.type("sd_test")
        page.keyboard.press("Tab")
        page.keyboard.type("Тестовий округ")
        tab_to_id(f"settlements-{v.id}")
        page.keyboard.press("Space")
        tab_to_text("Зберегти")
        page.keyboard.press("Enter")
        page.wait_for_url(f"**{BASE}/districts")
        assert scalar(demo_db, """SELECT count(*) FROM district_settlement ds JOIN starosta_district d
                                  ON d.id = ds.district_id WHERE d.code = 'sd_test'""") == 1
        fits()

        # Fallen trees in that district go to the new unit.
        page.goto(f"{live_server}{BASE}/assignments")
        page.wait_for_selector(".leaflet-pm-toolbar")
        fits()
        page.focus("body")
        choose("category", "fallen_tree")
        choose("unit", "ecology")
        tab_to_id("scope-hromada")
        page.keyboard.press("ArrowDown")
        assert page.is_checked("#scope-district")
        choose("district", "sd_test")
        tab_to_text("Додати")
        page.keyboard.press("Enter")
        page.wait_for_url(f"**{BASE}/assignments")
        assert "Додано." in page.inner_text("p.result[role=status]")
        assert len(assignment_rows(demo_db)) == 1

        # The preview, coordinates typed.
        page.goto(f"{live_server}{BASE}/preview")
        page.focus("body")
        tab_to_id("lat")
        page.keyboard.type(f"{v.lat:.6f}")
        page.keyboard.press("Tab")
        page.keyboard.type(f"{v.lon:.6f}")
        choose("category", "fallen_tree")
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        page.wait_for_selector("#preview-unit")
        assert page.inner_text("#preview-unit") == "Відділ екології"
        assert page.inner_text("#preview-reason")
        fits()
        # Clicking the map fills the coordinates in.
        page.locator(".folium-map").scroll_into_view_if_needed()
        box = page.locator(".folium-map").bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
        assert page.input_value("#lat") != f"{v.lat:.6f}"
        assert "Обрано місце" in page.inner_text("#point-status")
        assert errors == []
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["uk", "en"])
def test_console_pages_pass_axe(live_server, browser, demo_db, lang):
    with demo_db.begin() as conn:
        create_user(conn, ADMIN_EMAIL, PASSWORD, ["admin"], hromada_id=demo_hromada_id(demo_db), full_name=ADMIN_NAME)
    context, page = narrow_page(browser)
    try:
        page.goto(f"{live_server}/staff/login")
        page.fill("#email", ADMIN_EMAIL)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        v = village(demo_db, free_village(demo_db))
        for path in [*CONSOLE_GETS, f"/preview?lat={v.lat}&lon={v.lon}&category=fallen_tree"]:
            url = f"{live_server}{BASE}{path}{'&' if '?' in path else '?'}lang={lang}"
            assert axe_audit(page, url) == [], (path, lang)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 320, f"{path} is {width} px wide at 320 px"
        if lang != "en":
            return
        # A refused form (errors beside fields) too.
        page.goto(f"{live_server}{BASE}/units/new")
        page.fill("#code", "bad code")
        page.fill("#emails", "not-an-address")
        page.click(".console-form button[type=submit]")
        page.wait_for_selector(".error-summary")
        # The keyboard is taken there (by console.js, which may run a moment after the box shows).
        page.wait_for_function("document.activeElement && document.activeElement.id === 'error-summary'",
                               timeout=5000)
        # in English: the language chosen last (?lang=en above) is remembered
        assert "not a valid e-mail address: not-an-address" in page.inner_text("#emails-error")
        assert violations(page) == []
    finally:
        context.close()


def test_an_area_drawn_on_the_map_is_posted_as_geojson(live_server, browser, demo_db):
    """The mouse way of the area scope: Geoman's polygon tool fills the GeoJSON field and picks the scope."""
    with demo_db.begin() as conn:
        create_user(conn, ADMIN_EMAIL, PASSWORD, ["admin"], hromada_id=demo_hromada_id(demo_db))
    v = village(demo_db, free_village(demo_db))
    context = browser_context(browser)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{live_server}/staff/login")
        page.fill("#email", ADMIN_EMAIL)
        page.fill("#password", PASSWORD)
        page.click(".stacked button[type=submit]")
        page.wait_for_load_state()
        page.goto(f"{live_server}{BASE}/assignments")
        page.select_option("#category", "overflowing_bin")
        page.select_option("#unit", "general")
        page.locator(".folium-map").scroll_into_view_if_needed()
        page.evaluate("([lat, lon]) => window[document.querySelector('.folium-map').id].setView([lat, lon], 15, "
                      "{animate: false})", [v.lat, v.lon])
        page.click(".leaflet-pm-icon-polygon")
        d = 0.003
        corners = [(v.lon - d, v.lat - d), (v.lon + d, v.lat - d), (v.lon + d, v.lat + d), (v.lon - d, v.lat + d)]
        pixels = [page.evaluate("""([lat, lon]) => {
            const map = window[document.querySelector('.folium-map').id], p = map.latLngToContainerPoint([lat, lon]);
            const box = map.getContainer().getBoundingClientRect();
            return [box.left + p.x, box.top + p.y]; }""", [lat, lon]) for lon, lat in corners]
        for x, y in pixels + pixels[:1]:
            page.mouse.click(x, y)
            page.wait_for_timeout(80)
        drawn = json.loads(page.input_value("#area"))
        assert drawn["type"] == "MultiPolygon" and len(drawn["coordinates"]) == 1
        assert page.is_checked("#scope-area")
        page.click("#add button[type=submit]")
        page.wait_for_selector("p.result[role=status]")
        row = one(demo_db, """
            SELECT uc.scope, ST_Area(uc.area::geography) AS m2, ST_Area(ST_GeomFromGeoJSON(:g)::geography) AS want
            FROM unit_category uc JOIN unit u ON u.id = uc.unit_id JOIN category c ON c.id = uc.category_id
            WHERE u.code = 'general' AND c.code = 'overflowing_bin'""", g=json.dumps(square(v.lon, v.lat, d)))
        assert row.scope == "area" and row.m2 == pytest.approx(row.want, rel=0.05)
        assert errors == []
    finally:
        context.close()
