"""Roles are per hromada: the route table is walked, and every staff, planner and admin route is
asked by someone who holds all those roles — in another hromada. Each must answer 403; the same
request by the demo hromada's own administrator and planner must get past the check.

A new restricted route without ``@hromada_roles`` (or ``@operator_required``) fails here, and so
does one whose URL arguments this test cannot fill from the demo: add a value to DEMO_ARGS.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import url_for

from gis.users import create_user
from layers import reports, venue_proposals
from layers.reports import NewReport
from tests.helpers import STRYZHAVKA, asset_point, demo_hromada_id, load_neighbours, scalar, unit_id

ALL_ROLES = ["admin", "unit_staff", "planner"]
PASSWORD = "correct horse battery"

# Routes that change something yet need no hromada role: residents' own acts (each with its own
# checks: rate limits, CSRF, a private token or a signed link), signing in and out, and OGC API
# Part 4, whose writes check the feature's hromada in the write itself (tested below too).
PUBLIC_OR_SELF_CHECKED = {
    "reports_api.report_create", "reports_api.report_me_too", "reports_api.speed_test_create", "staff.login",
    "staff.logout", "open311.post_request", "open311.unknown", "plans.plan_comment", "venues.venue_propose",
    "venues.venue_new", "ogc.create_item", "ogc.replace_item", "ogc.update_item", "ogc.delete_item",
    # issue #16: following a report (double opt-in), the links in residents' mail (signed tokens), the
    # single-use "is it fixed?" link
    "reports_api.report_follow", "report_pages.follow_form", "report_pages.is_it_fixed", "mail_links.act",
    # issue #17: the report form without JavaScript, the same public intake as reports_api.report_create
    "report_form.submit",
    # issue #18: the resident's cabinet — asking for and using a sign-in link, and the signed-in resident's
    # own settings, follows and erasure (each checks the resident's session: tests/webmap/test_cabinet.py)
    "cabinet.ask_for_link", "cabinet.sign_in", "cabinet.settings", "cabinet.stop_following", "cabinet.sign_out",
    "cabinet.delete_account",
    "alerts.subscribe_submit", "alerts.api_subscribe", "alerts.confirm", "alerts.unsubscribe",  # #18: area alerts
}
RESTRICTED_PREFIXES = ("/staff", "/admin", "/operator")


def _marks(view) -> set[str]:
    found = set()
    while view is not None:
        for mark in ("hromada_roles", "operator_only", "signed_in_only"):
            if hasattr(view, mark):
                found.add(mark)
        view = getattr(view, "__wrapped__", None)
    return found


def _restricted(rule) -> bool:
    writes = bool(set(rule.methods) - {"GET", "HEAD", "OPTIONS"})
    return rule.rule.startswith(RESTRICTED_PREFIXES) or writes


def test_every_restricted_route_checks_roles(app):
    unchecked = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint in PUBLIC_OR_SELF_CHECKED:
            continue
        marks = _marks(app.view_functions[rule.endpoint])
        if _restricted(rule) and not marks and not _is_public_page(rule):
            unchecked.append(f"{rule.endpoint} {rule.rule} {sorted(rule.methods)}")
    assert not unchecked, "routes without @hromada_roles / @operator_required:\n" + "\n".join(unchecked)


def _is_public_page(rule) -> bool:
    """Pages anyone may open (log-in, password links, a unit's signed link): each checks its own token."""
    return rule.endpoint.startswith("unit_link.") or rule.endpoint in (
        "staff.login", "accounts.set_password", "accounts.reset", "accounts.reset_with_token")


@pytest.fixture
def two_hromadas(demo_db):
    """The demo hromada with one of everything a restricted route touches, and Стрижавська with a
    person who holds every role there."""
    load_neighbours(demo_db)
    demo = demo_hromada_id(demo_db)
    stryzhavka = scalar(demo_db, "SELECT id FROM hromada WHERE katottg = :k", k=STRYZHAVKA)
    with demo_db.begin() as conn:
        conn.execute(sa.text("INSERT INTO hromada_setup (hromada_id, enabled_at) VALUES (:h, now()) "
                             "ON CONFLICT (hromada_id) DO UPDATE SET enabled_at = now()"), {"h": demo})
        lon, lat = asset_point(demo_db, "street_lamp", "301")
        report = reports.create_report(conn, NewReport(lon=lon, lat=lat, category="street_light_out",
                                                       description="Не світить"), public_url="http://x")
        plan_id = conn.execute(sa.text("SELECT id FROM plan WHERE hromada_id = :h ORDER BY id LIMIT 1"),
                               {"h": demo}).scalar_one()
        zone_id = conn.execute(sa.text("SELECT id FROM plan_zone WHERE plan_id = :p ORDER BY id LIMIT 1"),
                               {"p": plan_id}).scalar_one()
        # A comment waiting for moderation, inserted directly: the demo's plans are not in discussion.
        comment_id = conn.execute(sa.text("INSERT INTO plan_comment (plan_id, text) VALUES (:p, 'Коментар') "
                                          "RETURNING id"), {"p": plan_id}).scalar_one()
        venue_id = conn.execute(sa.text("SELECT id FROM venue WHERE hromada_id = :h ORDER BY id LIMIT 1"),
                                {"h": demo}).scalar_one()
        proposal_id = venue_proposals.propose(conn, facts={"name": "Перевірка ролей"}, venue_id=venue_id)
        run_id = conn.execute(sa.text("""INSERT INTO import_run (layer, source, dry_run, status, report, hromada_id)
                                         VALUES ('street_lamps', 'x.csv', true, 'done', '{}', :h) RETURNING id"""),
                              {"h": demo}).scalar_one()
        project = conn.execute(sa.text("SELECT id FROM reconstruction_project WHERE hromada_id = :h LIMIT 1"),
                               {"h": demo}).scalar_one()
        segment = conn.execute(sa.text("SELECT id FROM road_segment WHERE hromada_id = :h LIMIT 1"),
                               {"h": demo}).scalar_one()
        conn.execute(sa.text("INSERT INTO category (code, name_uk, name_en, target_days, hromada_id) "
                             "VALUES ('stray_dogs', 'Безпритульні собаки', 'Stray dogs', 7, :h)"), {"h": demo})
        create_user(conn, "other@stryzhavka.example.org", PASSWORD, ALL_ROLES, hromada_id=stryzhavka)
        create_user(conn, "own@yakushynetska.example.org", PASSWORD, ALL_ROLES, hromada_id=demo,
                    unit_ids=[unit_id(demo_db, "kp_blagoustrij")])
    katottg = scalar(demo_db, "SELECT katottg FROM hromada WHERE id = :h", h=demo)
    return {
        "report_code": report["code"], "katottg": katottg, "plan_id": plan_id, "zone_id": zone_id,
        "comment_id": comment_id if isinstance(comment_id, int) else comment_id["id"],
        "proposal_id": proposal_id if isinstance(proposal_id, int) else proposal_id["id"],
        "run_id": run_id, "key": project, "segment_id": segment, "unit_id": unit_id(demo_db, "housing"),
        "user_id": scalar(demo_db, "SELECT id FROM app_user WHERE email = 'own@yakushynetska.example.org'"),
        # Console routes delete what they name: values no later route depends on.
        "name": "street_lamps",
        "feature_id": scalar(demo_db, "SELECT id FROM street_lamp WHERE hromada_id = :h ORDER BY id LIMIT 1", h=demo),
        "unit_code": "finance", "district_code": "berezyna", "category_code": "stray_dogs",
        "collection_id": "plan_zones",  # OGC API collections a hromada's staff review (versionless edits)
        "assignment_id": scalar(demo_db, """SELECT uc.id FROM unit_category uc JOIN category c ON c.id = uc.category_id
                                            WHERE c.code = 'damaged_heritage' LIMIT 1"""),
    }


def _url_args(rule, demo: dict) -> dict:
    """Values of the demo hromada for each URL argument; a report code for staff routes' <code>."""
    values = {}
    for arg in rule.arguments:
        if arg == "code":
            values[arg] = demo["report_code"] if rule.endpoint.startswith("staff.") else demo["katottg"]
        elif arg in demo:
            values[arg] = demo[arg]
        elif arg == "katottg":
            values[arg] = demo["katottg"]
        else:
            pytest.fail(f"{rule.endpoint}: add a demo value for <{arg}> to the two_hromadas fixture")
    return values


def _sign_in(client, email):
    answer = client.post("/staff/login", data={"email": email, "password": PASSWORD})
    assert answer.status_code == 302, answer.get_data(as_text=True)


def _hromada_routes(app):
    for rule in app.url_map.iter_rules():
        if "hromada_roles" in _marks(app.view_functions[rule.endpoint]):
            for method in sorted(set(rule.methods) - {"HEAD", "OPTIONS"}):
                yield rule, method


@pytest.fixture
def app_without_csrf(app):
    app.config["WTF_CSRF_ENABLED"] = False  # the role check is what is tested, not the form token
    return app


def test_another_hromadas_roles_get_403_everywhere(app_without_csrf, two_hromadas):
    app = app_without_csrf
    other, own = app.test_client(), app.test_client()
    _sign_in(other, "other@stryzhavka.example.org")
    _sign_in(own, "own@yakushynetska.example.org")
    checked, wrong = 0, []
    for rule, method in _hromada_routes(app):
        with app.test_request_context():
            # ?hromada= names the hromada for views that are not about one object (a queue).
            url = url_for(rule.endpoint, **_url_args(rule, two_hromadas), hromada=two_hromadas["katottg"])
        answer = other.open(url, method=method, json={} if method in ("PATCH", "DELETE") else None,
                            data=None if method in ("PATCH", "DELETE") else {})
        if answer.status_code != 403:
            wrong.append(f"{method} {url} ({rule.endpoint}): {answer.status_code}")
        mine = own.open(url, method=method, json={} if method in ("PATCH", "DELETE") else None,
                        data=None if method in ("PATCH", "DELETE") else {})
        if mine.status_code in (401, 403, 404) or mine.status_code >= 500:
            wrong.append(f"{method} {url} ({rule.endpoint}) for its own hromada's staff: {mine.status_code}")
        checked += 1
    assert checked >= 15, f"only {checked} restricted routes found"
    assert not wrong, "\n".join(wrong)


def test_anonymous_gets_log_in_page_or_401(app_without_csrf, two_hromadas):
    client = app_without_csrf.test_client()
    page = client.get(f"/staff/reports/{two_hromadas['report_code']}")
    assert page.status_code == 302 and "/staff/login" in page.headers["Location"]
    api = client.post(f"/api/projects/{two_hromadas['key']}/stage", json={"stage": "design"})
    assert api.status_code == 401 and api.get_json()["error"] == "not_signed_in"


def test_ogc_part4_write_of_another_hromadas_zone_is_403(client, two_hromadas, demo_db):
    from gis import user_tokens

    with demo_db.begin() as conn:
        token = user_tokens.create_token(conn, "other@stryzhavka.example.org", "QGIS")[1]
    zone = two_hromadas["zone_id"]
    answer = client.patch(f"/ogc/collections/plan_zones/items/{zone}", json={"properties": {"name": "X"}},
                          headers={"Authorization": f"Bearer {token}", "If-Match": '"plan_zones-1-v1"',
                                   "Content-Type": "application/merge-patch+json"})
    assert answer.status_code == 403, answer.get_data(as_text=True)
    assert scalar(demo_db, "SELECT count(*) FROM plan_zone_version WHERE zone_id = :z AND user_id IS NOT NULL",
                  z=zone) == 0


def test_operator_routes_refuse_every_hromada_role(app_without_csrf, two_hromadas):
    """Enabling hromadas and appointing their administrators is the national operator's alone."""
    app = app_without_csrf
    own = app.test_client()
    _sign_in(own, "own@yakushynetska.example.org")  # every role in the demo hromada, but no operator
    checked = 0
    for rule in app.url_map.iter_rules():
        if "operator_only" not in _marks(app.view_functions[rule.endpoint]):
            continue
        for method in sorted(set(rule.methods) - {"HEAD", "OPTIONS"}):
            with app.test_request_context():
                url = url_for(rule.endpoint, **_url_args(rule, two_hromadas))
            answer = own.open(url, method=method, data={})
            assert answer.status_code == 403, f"{method} {url}: {answer.status_code}"
            checked += 1
    assert checked >= 3
