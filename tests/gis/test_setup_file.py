"""A hromada's set-up as one YAML file (gis.setup_file, `hromada setup export|apply`): round trips,
idempotence, every problem listed with its line, the same routing as the console's functions give,
and a second hromada (Стрижавська) taken live from a file."""
import textwrap

import pytest
import sqlalchemy as sa

from gis import hromada_setup as setup
from gis import working_days
from gis.audit import By, entries
from gis.config import DEMO_KATOTTG
from gis.routing import route_report
from gis.setup_file import SetupFileInvalid, apply_setup, export_setup
from importers.communities import load_communities, load_settlements
from importers.demo import SETUP_FILE
from tests.conftest import UKRAINE
from tests.helpers import STRYZHAVKA, inside, scalar

BY = By("test")
TABLES = ("unit", "starosta_district", "district_settlement", "unit_category", "hromada_category", "hromada_setup",
          "asset_owner", "category", "app_user", "role_grant", "staff_membership", "audit_log", "outbox")


def snapshot(engine) -> dict:
    """Every row version of the set-up tables: equal only if nothing was written."""
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*), string_agg(xmin::text, ',' ORDER BY xmin::text) "
                                        f"FROM {t}")).one() for t in TABLES}


def apply(engine, text, dry_run=False):
    with engine.begin() as conn:
        return apply_setup(conn, text, by=BY, dry_run=dry_run, public_url="https://gis.example.org")


def export(engine, katottg=DEMO_KATOTTG):
    with engine.connect() as conn:
        return export_setup(conn, katottg)


def refused(engine, text) -> list[dict]:
    before = snapshot(engine)
    with pytest.raises(SetupFileInvalid) as err:
        apply(engine, text)
    assert snapshot(engine) == before
    assert err.value.http_status == 400 and err.value.details["problems"] == err.value.problems
    return err.value.problems


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


@pytest.fixture
def fresh(clean_db):
    load_communities(clean_db, UKRAINE / "yakushynetska_boundary.geojson", katottg=[DEMO_KATOTTG])
    load_settlements(clean_db, UKRAINE / "yakushynetska_settlements.geojson")
    return clean_db


def test_export_then_apply_changes_nothing_and_a_second_apply_writes_nothing(demo_db):
    text = export(demo_db)
    assert "hromada: UA05020310000080026" in text and "- {category: pothole, unit: housing}" in text
    before = snapshot(demo_db)
    assert not apply(demo_db, text)
    assert not apply(demo_db, SETUP_FILE.read_text(encoding="utf-8"))  # the demo's own file, applied by the loader
    assert snapshot(demo_db) == before
    assert export(demo_db) == text


def test_applying_to_a_bare_hromada_shows_the_diff_and_the_dry_run_keeps_nothing(fresh):
    text = SETUP_FILE.read_text(encoding="utf-8")
    before = snapshot(fresh)
    planned = apply(fresh, text, dry_run=True)
    assert planned.dry_run and snapshot(fresh) == before
    assert ("+ unit housing (Відділ житлово-комунального господарства, будівництва та земельних відносин)"
            in planned.lines)
    assert "+ district zarvantsi (Зарванецький старостинський округ): Зарванці" in planned.lines
    assert "+ assignment overflowing_bin → sd_zarvantsi in district zarvantsi" in planned.lines
    assert "~ asset owner road_segment/state: — → road_service" in planned.lines
    assert "~ enabled: yes" in planned.lines
    done = apply(fresh, text)
    assert done.lines == planned.lines and not done.dry_run
    assert not apply(fresh, text)
    h = scalar(fresh, "SELECT id FROM hromada")
    with fresh.connect() as conn:
        units = {u["code"]: u for u in setup.list_units(conn, h)}
        log = [e["action"] for e in entries(conn, h, limit=1000)]
    assert units["road_service"]["has_accounts"] is False and units["road_service"]["kind"] == "outside_body"
    assert log.count("unit.create") == 15 and log.count("setup.apply") == 1 and "hromada.enable" in log


def test_edits_show_as_changes_and_what_the_file_drops_is_removed(demo_db):
    text = export(demo_db)
    edited = (text.replace("emails: [finance@yakushynetska-demo.example.org]",
                           "emails: [finance@yakushynetska-demo.example.org, budget@example.org]")
                  .replace("  - {category: water_leak, unit: housing}\n", "")
                  .replace("default_unit: null", "default_unit: general")
                  .replace("  disabled: []", "  disabled: [no_signal]")
                  .replace("  target_days: {}", "  target_days: {pothole: 10}"))
    # Drop the architecture department: its block of eight lines.
    start = edited.index("  - code: architecture\n")
    end = edited.index("  - code:", start + 5)
    edited = edited[:start] + edited[end:]
    diff = apply(demo_db, edited)
    assert diff.lines == [
        "~ unit finance emails: finance@yakushynetska-demo.example.org → "
        "finance@yakushynetska-demo.example.org, budget@example.org",
        "- assignment water_leak → housing in the whole hromada",
        "~ category pothole target_days: — → 10",
        "~ category no_signal: off",
        "~ default unit: — → general",
        "- unit architecture (Відділ архітектури та містобудування)",
    ]
    assert not apply(demo_db, edited)
    lon, lat = inside(demo_db, "Якушинці")
    with demo_db.connect() as conn:
        r = route_report(conn, lon, lat, "water_leak")
        assert r.unit_id == scalar(demo_db, "SELECT id FROM unit WHERE code = 'general'")
        assert route_report(conn, *inside(demo_db, "Зарванці"), "pothole").target_days == 10
    assert export(demo_db).count("code: architecture") == 0


def test_a_unit_with_reports_cannot_be_dropped_by_a_file(demo_db):
    from layers.reports import NewReport, create_report

    with demo_db.begin() as conn:
        create_report(conn, NewReport(*inside(demo_db, "Якушинці"), "no_signal", "Немає зв'язку"),
                      public_url="http://x")
    text = export(demo_db)
    start = text.index("  - code: cnap\n")
    end = text.index("  - code:", start + 5)
    problems = refused(demo_db, text[:start] + text[end:].replace("  - {category: no_signal, unit: cnap}\n", ""))
    assert [(p["line"], p["en"]) for p in problems] == [(
        line_of(text, "units:"), "Unit cnap is not in the file, but 1 report(s) are assigned to it: it cannot be "
                                 "deleted; keep it in the file")]
    assert "звернень" in problems[0]["uk"]


def test_a_file_with_five_mistakes_is_refused_with_five_reasons_and_lines(demo_db):
    text = export(demo_db)
    text = (text.replace("villages: [Зарванці]", "villages: [Зарванці, Атлантида]")
                .replace("emails: [cnap@yakushynetska-demo.example.org]", "emails: [cnap(at)example.org]")
                .replace("- {category: no_signal, unit: cnap}", "- {category: no_sginal, unit: cnap}")
                .replace("- {category: damaged_heritage, unit: culture}",
                         "- {category: damaged_heritage, unit: museum}")
                .replace("\nassignments:\n", "\nassignments:\n" + textwrap.indent(textwrap.dedent("""\
                    - category: water_leak
                      unit: housing
                      area: {type: Polygon, coordinates: [[[30.5, 50.4], [30.6, 50.4], [30.6, 50.5], [30.5, 50.4]]]}
                    """), "  "), 1))
    problems = refused(demo_db, text)
    got = [(p["line"], p["en"]) for p in problems]
    assert got == sorted([
        (line_of(text, "Атлантида"), "No such villages in the hromada: Атлантида"),
        (line_of(text, "cnap(at)example.org"), "Not a valid e-mail address: 'cnap(at)example.org'"),
        (line_of(text, "no_sginal"), "Unknown category 'no_sginal'"),
        (line_of(text, "unit: museum"), "Unit 'museum' is not declared under units"),
        (line_of(text, "area: {type: Polygon"), "The area lies outside the hromada"),
    ])
    assert all(p["uk"] and p["uk"] != p["en"] for p in problems)


def test_syntax_errors_repeated_keys_and_unknown_keys_are_named_with_lines(fresh):
    problems = refused(fresh, "hromada: UA05020310000080026\nunits:\n  - code: a\n   name_uk: broken indent\n")
    assert len(problems) == 1 and problems[0]["line"] == 4 and problems[0]["en"].startswith("This is not YAML")
    text = textwrap.dedent("""\
        hromada: UA05020310000080026
        enabled: yes please
        units:
          - code: housing
            name_uk: ЖКГ
            name_uk: Житлово-комунальний
            emails: [h@example.org]
            colour: blue
        staff:
          - {email: boss@example.org, roles: [mayor]}
        """)
    assert [(p["line"], p["en"]) for p in refused(fresh, text)] == [
        (2, "enabled: true or false expected"),
        (6, "The key 'name_uk' is repeated (only one would count)"),
        (8, "Unit: unknown key 'colour'; known: code, name_uk, name_en, kind, emails, phone, has_accounts, notify"),
        (10, "Roles: choose from admin, unit_staff, planner (not mayor)"),
    ]
    assert refused(fresh, "")[0]["en"] == "The file is empty"
    assert "KATOTTG" in refused(fresh, "units: []\n")[0]["en"]
    assert refused(fresh, "hromada: UA00000000000000000\n")[0]["en"].startswith("Hromada UA00000000000000000 not found")


def test_staff_in_the_file_are_invited_once(fresh):
    text = SETUP_FILE.read_text(encoding="utf-8") + textwrap.dedent("""\
        staff:
          - {email: Head@Example.org, name: Олена Петренко, roles: [admin]}
          - {email: roads@example.org, roles: [unit_staff], units: [housing]}
        """)
    diff = apply(fresh, text)
    assert "+ staff Head@Example.org: admin — invitation" in diff.lines
    assert "+ staff roads@example.org: unit_staff (housing) — invitation" in diff.lines
    with fresh.connect() as conn:
        accounts = conn.execute(sa.text("""SELECT a.email, a.password_hash IS NULL, g.role FROM app_user a
                                           JOIN role_grant g ON g.user_id = a.id ORDER BY a.email""")).all()
        invites = conn.execute(sa.text("SELECT to_addr FROM outbox ORDER BY to_addr")).scalars().all()
    assert accounts == [("Head@Example.org", True, "admin"), ("roads@example.org", True, "unit_staff")]
    assert invites == ["Head@Example.org", "roads@example.org"]
    assert not apply(fresh, text)
    assert "{email: roads@example.org, roles: [unit_staff], units: [housing]}" in export(fresh)
    # An e-mail-only unit has no accounts.
    bad = text.replace("units: [housing]}", "units: [road_service]}")
    assert [p["en"] for p in refused(fresh, bad)] == ["Unit road_service has no staff accounts (e-mail only)"]


BUILT_UNITS = (
    {"code": "housing", "name_uk": "Відділ ЖКГ", "name_en": "Housing", "emails": ["h@example.org"]},
    {"code": "sd_north", "name_uk": "Північний округ", "kind": "starosta_district", "emails": ["n@example.org"]},
    {"code": "water", "name_uk": "Водоканал", "kind": "enterprise", "emails": ["w@example.org"]},
    {"code": "roads", "name_uk": "Облавтодор", "kind": "outside_body", "emails": ["r@example.org"],
     "has_accounts": False},
)
BUILT_FILE = """\
hromada: UA05020310000080026
enabled: true
default_unit: housing
units:
  - {code: housing, name_uk: Відділ ЖКГ, name_en: Housing, emails: [h@example.org]}
  - {code: sd_north, name_uk: Північний округ, kind: starosta_district, emails: [n@example.org]}
  - {code: water, name_uk: Водоканал, kind: enterprise, emails: [w@example.org]}
  - {code: roads, name_uk: Облавтодор, kind: outside_body, emails: [r@example.org], has_accounts: false}
districts:
  - {code: north, name_uk: Північ, villages: [Зарванці, Березина, Лисогора]}
assignments:
  - {category: overflowing_bin, unit: sd_north, district: north}
  - {category: fallen_tree, unit: sd_north, villages: [Пултівці, Лисянка]}
  - {category: water_leak, unit: water, area: {type: Polygon, coordinates: [[[28.30, 49.22], [28.40, 49.22],
                                                                             [28.40, 49.28], [28.30, 49.22]]]}}
  - {category: pothole, unit: housing}
asset_owners:
  road_segment: {state: roads}
"""


def build_with_functions(engine):
    h = scalar(engine, "SELECT id FROM hromada")
    with engine.begin() as conn:
        for data in BUILT_UNITS:
            setup.save_unit(conn, h, data, BY)
        setup.save_district(conn, h, {"code": "north", "name_uk": "Північ",
                                      "settlements": ["Зарванці", "Березина", "Лисогора"]}, BY)
        for data in ({"category": "overflowing_bin", "unit": "sd_north", "scope": "district", "district": "north"},
                     {"category": "fallen_tree", "unit": "sd_north", "scope": "villages",
                      "villages": ["Пултівці", "Лисянка"]},
                     {"category": "water_leak", "unit": "water", "scope": "area", "area": {
                         "type": "Polygon", "coordinates": [[[28.30, 49.22], [28.40, 49.22], [28.40, 49.28],
                                                             [28.30, 49.22]]]}},
                     {"category": "pothole", "unit": "housing"}):
            setup.add_assignment(conn, h, data, BY)
        setup.set_asset_owner(conn, h, "road_segment", "state", "roads", BY)
        setup.set_default_unit(conn, h, "housing", BY)
        setup.set_enabled(conn, h, True, BY)


def routes(engine) -> list[tuple]:
    """Who gets each category at a grid of points over the hromada (unit code, rule), or the refusal."""
    with engine.connect() as conn:
        points = conn.execute(sa.text("""
            SELECT ST_X(p), ST_Y(p) FROM hromada h,
                 generate_series(0, 9) i, generate_series(0, 9) j,
                 LATERAL (SELECT ST_SetSRID(ST_MakePoint(ST_XMin(h.boundary) + (i + 0.5) * (ST_XMax(h.boundary)
                          - ST_XMin(h.boundary)) / 10, ST_YMin(h.boundary) + (j + 0.5) * (ST_YMax(h.boundary)
                          - ST_YMin(h.boundary)) / 10), 4326) AS p) s
            WHERE ST_Contains(h.boundary, p)""")).all()
        codes = dict(conn.execute(sa.text("SELECT id, code FROM unit")).all())
        out = []
        for lon, lat in points:
            for category in ("overflowing_bin", "fallen_tree", "water_leak", "pothole", "no_signal"):
                r = route_report(conn, lon, lat, category)
                out.append((round(lon, 6), round(lat, 6), category, codes[r.unit_id], r.rule, r.reason_en))
    return out


def test_the_same_set_up_by_functions_and_by_file_routes_identically(fresh, engine):
    build_with_functions(fresh)
    by_functions = routes(fresh)
    assert len(by_functions) > 200
    assert {(unit, rule) for *_, unit, rule, _ in by_functions} >= {
        ("sd_north", "area"), ("water", "area"), ("housing", "default")}
    # The file finds nothing to change in what the functions built …
    assert not apply(fresh, BUILT_FILE)
    # … and, applied to the bare hromada, builds the same.
    from tests.conftest import truncate_all

    truncate_all(engine)
    load_communities(engine, UKRAINE / "yakushynetska_boundary.geojson", katottg=[DEMO_KATOTTG])
    load_settlements(engine, UKRAINE / "yakushynetska_settlements.geojson")
    assert apply(fresh, BUILT_FILE)
    assert routes(fresh) == by_functions


STRYZHAVKA_FILE = """\
# Стрижавська селищна громада
hromada: UA05020230000029909
enabled: true
units:
  - code: zhkg
    name_uk: Відділ житлово-комунального господарства
    name_en: Housing and utilities department
    kind: department
    emails: [zhkg@stryzhavka.example.org]
  - code: sokyryntsi
    name_uk: Сокиринецький старостинський округ
    kind: starosta_district
    emails: [sokyryntsi@stryzhavka.example.org]
    notify: digest
  - code: oblavtodor
    name_uk: Служба автомобільних доріг у Вінницькій області
    kind: outside_body
    emails: [roads@oblast.example.org, duty@oblast.example.org]
    has_accounts: false
districts:
  - code: sokyryntsi
    name_uk: Сокиринецький старостинський округ
    villages: [Сокиринці]
assignments:
  - {category: pothole, unit: zhkg}
  - {category: pothole, unit: sokyryntsi, district: sokyryntsi}
  - {category: overflowing_bin, unit: zhkg}
categories:
  disabled: [no_signal, damaged_heritage]
  target_days: {pothole: 7}
asset_owners:
  road_segment: {state: oblavtodor, regional: oblavtodor}
staff:
  - {email: admin@stryzhavka.example.org, roles: [admin]}
"""


def test_stryzhavka_goes_live_from_a_file_and_a_pothole_reaches_the_right_unit(demo_db):
    from layers.reports import NewReport, create_report

    load_communities(demo_db, UKRAINE / "vinnytskyi_raion_hromadas.geojson", katottg=[STRYZHAVKA])
    with demo_db.begin() as conn:  # two villages by their centres (no boundaries in our data)
        conn.execute(sa.text("""
            INSERT INTO settlement (hromada_id, name_uk, kind, source_ref, centre)
            SELECT h.id, v.name, 'village', v.ref, ST_SetSRID(ST_MakePoint(v.lon, v.lat), 4326)
            FROM hromada h, (VALUES ('Стрижавка', 'test/1', 28.4840, 49.3100),
                                    ('Сокиринці', 'test/2', 28.5800, 49.3400)) v(name, ref, lon, lat)
            WHERE h.katottg = :k"""), {"k": STRYZHAVKA})
    text = STRYZHAVKA_FILE
    h = scalar(demo_db, "SELECT id FROM hromada WHERE katottg = :k", k=STRYZHAVKA)
    point = (28.4840, 49.3100)
    with demo_db.connect() as conn, pytest.raises(Exception, match="does not take reports yet"):
        route_report(conn, *point, "pothole")
    diff = apply(demo_db, text)
    assert "+ unit oblavtodor (Служба автомобільних доріг у Вінницькій області)" in diff.lines
    assert not apply(demo_db, text)
    with demo_db.begin() as conn:
        made = create_report(conn, NewReport(*point, "pothole", "Яма біля школи"), public_url="http://x")
        near_sokyryntsi = create_report(conn, NewReport(28.5800, 49.3400, "pothole", "Яма на в'їзді"),
                                        public_url="http://x")
    def row(code):
        with demo_db.connect() as conn:
            return conn.execute(sa.text(
                "SELECT u.code, r.routing_rule, r.due_at, r.created_at FROM report r JOIN unit u ON u.id = r.unit_id "
                "WHERE r.code = :c"), {"c": code}).one()
    unit_code, rule, due_at, created_at = row(made["code"])
    # The file's target for the category: 7 working days (gis.working_days).
    assert (unit_code, rule) == ("zhkg", "default") and due_at == working_days.end_of_day(
        working_days.add_working_days(created_at.astimezone(working_days.KYIV).date(), 7))
    assert row(near_sokyryntsi["code"])[:2] == ("sokyryntsi", "area")
    # Categories turned off there are unknown there, not in the demo hromada.
    with demo_db.connect() as conn:
        with pytest.raises(Exception, match="Unknown category 'no_signal'"):
            route_report(conn, *point, "no_signal")
        assert route_report(conn, *inside(demo_db, "Якушинці"), "no_signal").hromada_id != h
    # The export says the same as the file.
    assert not apply(demo_db, export(demo_db, STRYZHAVKA))


def test_the_cli_exports_applies_and_lists_every_problem_without_a_trace(demo_db, database_url, monkeypatch,
                                                                          tmp_path):
    from click.testing import CliRunner

    from webmap.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    out = tmp_path / "demo.yaml"
    exported = CliRunner().invoke(main, ["setup", "export", DEMO_KATOTTG, "-o", str(out)])
    assert exported.exit_code == 0, exported.output
    assert out.read_text(encoding="utf-8") == export(demo_db)
    same = CliRunner().invoke(main, ["setup", "apply", str(out)])
    assert same.exit_code == 0 and "nothing to change" in same.output
    out.write_text(out.read_text(encoding="utf-8").replace("default_unit: null", "default_unit: general"),
                   encoding="utf-8")
    dry = CliRunner().invoke(main, ["setup", "apply", str(out), "--dry-run"])
    assert dry.exit_code == 0 and "~ default unit: — → general" in dry.output and "dry run" in dry.output
    assert scalar(demo_db, "SELECT default_unit_id FROM hromada_setup") is None
    bad = tmp_path / "bad.yaml"
    bad.write_text("hromada: UA05020310000080026\ndefault_unit: ghost\nunits:\n  - {code: X}\n", encoding="utf-8")
    refused_run = CliRunner().invoke(main, ["setup", "apply", str(bad)])
    assert refused_run.exit_code == 1 and "Traceback" not in refused_run.output
    assert f"{bad}:2: Підрозділ 'ghost' не описано в розділі units" in refused_run.output
    assert f"{bad}:4:" in refused_run.output and "Problems: 3" in refused_run.output
    missing = CliRunner().invoke(main, ["setup", "export", "UA00000000000000000"])
    assert missing.exit_code == 1 and "not found" in missing.output and "Traceback" not in missing.output
