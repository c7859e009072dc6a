"""Reconstruction projects: the stage machine, exact funding sums, analytics, the DREAM-shaped import."""
import datetime as dt
import io
import json
from decimal import Decimal

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from PIL import Image

from gis.errors import Conflict, InvalidInput, NotFound
from gis.money import MAX_AMOUNT
from importers.communities import load_communities
from importers.dream import import_dream
from layers import reconstruction as rc
from tests.conftest import UKRAINE
from tests.dream_fixture import DAMAGE_REF, DREAM_ID, TENDER, record
from tests.helpers import STRYZHAVKA, load_neighbours, scalar

CODE = "UA05020310000080026"
HERE = (28.3667, 49.2597)  # Yakushyntsi


@pytest.fixture
def hromada_id(clean_db) -> int:
    load_communities(clean_db, UKRAINE / "yakushynetska_boundary.geojson", katottg=[CODE])
    return scalar(clean_db, "SELECT id FROM hromada WHERE katottg = :k", k=CODE)


def new_project(conn, hromada_id, **kw) -> int:
    args = dict(title_uk="Укриття в ліцеї", sector="education", lon=HERE[0], lat=HERE[1],
                entered_at="2024-01-10")
    args.update(kw)
    return rc.create_project(conn, hromada_id, **args)


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=12, tzinfo=dt.timezone.utc)


# --- ids -------------------------------------------------------------------------------------------

def test_dream_and_prozorro_ids_are_checked():
    assert rc.normalise_dream_id(" dream-ua-150523-7a1c4e9b ") == "DREAM-UA-150523-7A1C4E9B"
    for bad in ("DREAM-UA-150523-7A1C4E9", "DREAM-UA-320523-7A1C4E9B", "DREAM-UA-150523-7A1C4E9G",
                "UA-150523-7A1C4E9B"):
        with pytest.raises(InvalidInput, match="DREAM-UA-DDMMYY-XXXXXXXX"):
            rc.normalise_dream_id(bad)
    assert rc.normalise_tender_id("ua-2024-02-19-004512-A") == TENDER
    assert rc.tender_url(TENDER) == f"https://prozorro.gov.ua/tender/{TENDER}"
    for bad in ("UA-2024-02-30-004512-a", "UA-2024-02-19-04512-a", "UA-P-2024-02-19-004512-a", "2024-02-19-004512-a"):
        with pytest.raises(InvalidInput, match="UA-YYYY-MM-DD-NNNNNN-a"):
            rc.normalise_tender_id(bad)


def test_money_is_exact_and_formatted_in_uah():
    assert rc.money(0.1) == Decimal("0.10") and rc.money("1 234 567,89") == Decimal("1234567.89")
    assert rc.money("99999999999999.99") == MAX_AMOUNT
    for bad, words in (("-1", "negative"), ("1.001", "two decimals"), ("abc", "not a number"),
                       ("100000000000000", "too large"), (True, "amount in UAH"),
                       ("NaN", "not a number"), ("1e400", "too large")):
        with pytest.raises(InvalidInput, match=words):
            rc.money(bad)
    # Babel's (CLDR's) ways: no-break spaces group the Ukrainian digits, the sign is ₴; UAH in English
    assert rc.format_uah(Decimal("1234567.8"), "uk") == "1\u00a0234\u00a0567,80\u00a0₴"
    assert rc.format_uah(Decimal("1234567.8"), "en") == "UAH\u00a01,234,567.80"


# --- the stage machine -------------------------------------------------------------------------------

def test_stages_move_forward_with_history_and_derived_status(clean_db, hromada_id):
    with clean_db.begin() as conn:
        pid = new_project(conn, hromada_id, stage="damage_recorded", note="Влучання 14.05.2023", by="Відділ освіти")
        assert scalar_in(conn, pid, "status") == "pending"
        assert rc.advance_stage(conn, pid, at="2024-02-01")["stage"] == "idea"
        assert rc.advance_stage(conn, pid, at="2024-03-01") == {"stage": "financing", "outcome": None,
                                                                 "status": "pending"}
        assert rc.set_stage(conn, pid, "design", at="2024-04-01")["status"] == "active"
        # skipping forward is allowed (procurement is skipped: works ordered under an existing framework)
        assert rc.set_stage(conn, pid, "будівництво", at="2024-05-01")["stage"] == "construction"
        assert rc.allowed_moves("construction", None) == ["commissioning", "cancelled", "unsuccessful"]
        done = rc.set_stage(conn, pid, "commissioning", at="2024-09-01", note="Акт введення")
        assert done == {"stage": "commissioning", "outcome": None, "status": "complete"}
        history = rc.history(conn, pid)
    assert [h["stage"] for h in history] == ["damage_recorded", "idea", "financing", "design", "construction",
                                             "commissioning"]
    assert history[0]["by_name"] == "Відділ освіти" and history[0]["entered_at"] == at("2024-01-10")
    assert history[-1]["note"] == "Акт введення" and history[-1]["entered_at"] == at("2024-09-01")


def scalar_in(conn, pid, column):
    return conn.execute(sa.text(f"SELECT {column} FROM reconstruction_project WHERE id = :id"), {"id": pid}).scalar()


def test_refused_moves_are_conflicts_in_both_languages(clean_db, hromada_id):
    with clean_db.begin() as conn:
        pid = new_project(conn, hromada_id, stage="procurement")
        with pytest.raises(Conflict) as back:
            rc.set_stage(conn, pid, "design")
        assert back.value.http_status == 409
        assert "назад" in back.value.uk and "does not go back" in back.value.en
        with pytest.raises(Conflict, match="already at the stage"):
            rc.set_stage(conn, pid, "procurement")
        with pytest.raises(InvalidInput, match="unknown value"):
            rc.set_stage(conn, pid, "demolition")
        with pytest.raises(InvalidInput, match="before the previous stage"):
            rc.set_stage(conn, pid, "construction", at="2023-12-31")
        with pytest.raises(InvalidInput, match="in the future"):
            rc.set_stage(conn, pid, "construction", at=dt.date.today() + dt.timedelta(days=10))
        closed = rc.set_stage(conn, pid, "cancelled", at="2024-06-01", note="Переможця не визначено")
        assert closed == {"stage": "procurement", "outcome": "cancelled", "status": "cancelled"}
        for move in (lambda: rc.advance_stage(conn, pid), lambda: rc.set_stage(conn, pid, "unsuccessful"),
                     lambda: rc.set_stage(conn, pid, "commissioning")):
            with pytest.raises(Conflict, match="closed") as exc:
                move()
            assert "закрито" in exc.value.uk
        completed = new_project(conn, hromada_id, stage="commissioning")
        with pytest.raises(Conflict, match="closed"):
            rc.set_stage(conn, completed, "cancelled")
        with pytest.raises(NotFound):
            rc.advance_stage(conn, 999999)
        assert [h["stage"] for h in rc.history(conn, pid)] == ["procurement", "cancelled"]


# --- funding ------------------------------------------------------------------------------------------

def test_funding_sums_are_exact_and_ordered(clean_db, hromada_id):
    with clean_db.begin() as conn:
        pid = new_project(conn, hromada_id, budget="1000000.00")
        # amounts that float arithmetic gets wrong: 0.1 + 0.2, and kopecks on top of tens of billions
        rc.add_funding(conn, pid, "local_budget", 0.1, 0.1, 0.1)
        rc.add_funding(conn, pid, "local_budget", "0,20", "0.20", "0.2")
        rc.add_funding(conn, pid, "donors", "12345678901.23", "1000", "999.99", party="Фонд «Добро» (демо)")
        rc.add_funding(conn, pid, "міжнародні партнери", 0.01)
        summary = rc.funding_summary(conn, pid)
        for bad, words in ((("local_budget", 10, 20, 0), "Disbursed"), (("local_budget", 10, 5, 6), "Spent"),
                           (("lottery", 10), "unknown value"), (("donors", "-5"), "negative"),
                           (("donors", "1.005"), "two decimals")):
            with pytest.raises(InvalidInput, match=words):
                rc.add_funding(conn, pid, *bad)
    local = next(s for s in summary["by_source"] if s["source"] == "local_budget")
    assert (local["available"], local["disbursed"], local["spent"]) == (Decimal("0.30"),) * 3
    assert summary["total"] == {"available": Decimal("12345678901.54"), "disbursed": Decimal("1000.30"),
                                "spent": Decimal("1000.29")}
    assert [s["source"] for s in summary["by_source"]] == ["local_budget", "international", "donors"]
    assert [w["code"] for w in summary["warnings"]] == ["over_budget_funding"]
    # every write path is guarded by the table's CHECK, not only the function
    with pytest.raises(sa.exc.IntegrityError):
        with clean_db.begin() as conn:
            conn.execute(sa.text("INSERT INTO project_funding (project_id, source, available, disbursed, spent) "
                                 "VALUES (:p, 'donors', 10, 5, 6)"), {"p": pid})


def test_funding_warnings_and_updates(clean_db, hromada_id):
    with clean_db.begin() as conn:
        pid = new_project(conn, hromada_id, budget=500)
        line = rc.add_funding(conn, pid, "united24", 300)
        assert [w["code"] for w in rc.funding_summary(conn, pid)["warnings"]] == ["underfunded"]
        assert "200,00" in rc.funding_summary(conn, pid)["warnings"][0]["uk"]
        rc.update_funding(conn, line, available=600, disbursed=600, spent=550.5)
        summary = rc.funding_summary(conn, pid)
        with pytest.raises(InvalidInput):
            rc.update_funding(conn, line, available=600, disbursed=700)
        with pytest.raises(NotFound):
            rc.update_funding(conn, line, available=1, project_id=pid + 1)
    assert [w["code"] for w in summary["warnings"]] == ["over_budget_funding", "overspent"]
    assert summary["total"]["spent"] == Decimal("550.50") and summary["spent_share"] == pytest.approx(1.101)


# --- analytics ---------------------------------------------------------------------------------------

def test_analytics_totals_on_a_constructed_case(clean_db, hromada_id):
    with clean_db.begin() as conn:
        a = new_project(conn, hromada_id, title_uk="Школа", sector="education", stage="idea", budget="1000.00")
        rc.set_stage(conn, a, "design", at="2024-03-05")
        rc.add_funding(conn, a, "local_budget", 600, 500, "400.50")
        rc.add_funding(conn, a, "donors", 400, 100, 0)
        b = new_project(conn, hromada_id, title_uk="Водогін", sector="water", stage="construction",
                        budget="250.25",
                        footprint={"type": "LineString", "coordinates": [[28.36, 49.25], [28.37, 49.26]]},
                        lon=None, lat=None)
        rc.set_stage(conn, b, "commissioning", at="2024-03-20")
        rc.add_funding(conn, b, "liquidation_fund", "250.25", "250.25", "250.25")
        c = new_project(conn, hromada_id, title_uk="Клуб", sector="culture", stage="financing", budget="99.99")
        rc.set_stage(conn, c, "cancelled", at="2024-04-02")
        data = rc.analytics(conn, hromada_id)
        point = conn.execute(sa.text("SELECT ST_AsText(geom) FROM reconstruction_project WHERE id = :b"),
                             {"b": b}).scalar()
    t = data["totals"]
    assert (t["projects"], t["budget"], t["available"], t["disbursed"], t["spent"]) == (
        3, Decimal("1350.24"), Decimal("1250.25"), Decimal("850.25"), Decimal("650.75"))
    assert t["spent_share"] == pytest.approx(650.75 / 1350.24)
    by_stage = {g["code"]: (g["count"], g["budget"]) for g in data["by_stage"]}
    assert list(by_stage) == [*rc.STAGE_ORDER, "cancelled", "unsuccessful"]
    assert by_stage["design"] == (1, Decimal("1000.00")) and by_stage["commissioning"] == (1, Decimal("250.25"))
    assert by_stage["cancelled"] == (1, Decimal("99.99")) and by_stage["financing"] == (0, Decimal("0"))
    assert {g["code"]: g["count"] for g in data["by_status"]} == {"pending": 0, "active": 1, "complete": 1,
                                                                  "cancelled": 1, "unsuccessful": 0}
    assert [(g["code"], g["budget"], g["spent"]) for g in data["by_sector"]] == [
        ("education", Decimal("1000.00"), Decimal("400.50")), ("water", Decimal("250.25"), Decimal("250.25")),
        ("culture", Decimal("99.99"), Decimal("0"))]
    assert [(s["code"], s["available"], s["disbursed"], s["spent"]) for s in data["by_source"]] == [
        ("local_budget", Decimal("600.00"), Decimal("500.00"), Decimal("400.50")),
        ("liquidation_fund", Decimal("250.25"), Decimal("250.25"), Decimal("250.25")),
        ("donors", Decimal("400.00"), Decimal("100.00"), Decimal("0.00"))]
    assert data["timeline"] == [{"month": "2024-01", "counts": {"idea": 1, "construction": 1, "financing": 1},
                                 "total": 3},
                                {"month": "2024-03", "counts": {"design": 1, "commissioning": 1}, "total": 2},
                                {"month": "2024-04", "counts": {"cancelled": 1}, "total": 1}]
    assert data["events"][0]["stage"] == "cancelled"
    assert point.startswith("POINT(28.36")  # a footprint-only project gets its point on the line


def test_photos_per_stage_lose_their_exif(clean_db, hromada_id):
    image = Image.new("RGB", (64, 48), (120, 90, 40))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (49.0, 15.0, 30.0), 3: "E", 4: (28.0, 22.0, 1.0)}
    exif[0x010F] = "CameraMaker"
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    with clean_db.begin() as conn:
        pid = new_project(conn, hromada_id, stage="construction")
        photo = rc.add_photo(conn, pid, "construction", out.getvalue(), caption="Монтаж покрівлі")
        stored = rc.photo_bytes(conn, photo)
        with pytest.raises(InvalidInput):
            rc.add_photo(conn, pid, "construction", b"<svg/>")
        assert rc.project(conn, pid)["photos"][0]["stage"] == "construction"
    assert b"CameraMaker" not in stored and not Image.open(io.BytesIO(stored)).getexif()


# --- the DREAM-shaped import --------------------------------------------------------------------------

def test_dream_record_becomes_a_project_with_money_tenders_and_history(clean_db, hromada_id):
    with clean_db.begin() as conn:
        report = import_dream(conn, None, [record()])  # the hromada from the record's KATOTTG code
        assert report.to_dict() == {"created": [DREAM_ID], "updated": [], "unchanged": [], "rejected": [],
                                    "warnings": []}
        p = rc.project(conn, rc.find_project(conn, DREAM_ID.lower()))
    assert p["title_uk"].startswith("Капітальний ремонт покрівлі") and p["title_en"].startswith("Capital repair")
    assert (p["sector"], p["project_type"], p["purpose"], p["stage"], p["status"], p["status_detail"]) == (
        "health", "reconstruction", "restoration", "construction", "active", "implementation")
    assert p["budget"] == Decimal("3600000.50")  # the agreed lines, not the original estimate
    assert p["implementer"] == "Якушинецька сільська рада (ЄДРПОУ 04327072)"
    money = {s["source"]: (s["available"], s["disbursed"], s["spent"]) for s in p["funding"]["by_source"]}
    assert money == {"local_budget": (Decimal("600000.50"),) * 3,
                     "liquidation_fund": (Decimal("3000000.00"), Decimal("2000000.00"), Decimal("1750000.25"))}
    assert p["funding"]["total"]["spent"] == Decimal("2350000.75") and p["funding"]["warnings"] == []
    assert p["tenders"] == [{"tender_id": TENDER, "title": "Капітальний ремонт покрівлі амбулаторії",
                             "status": "implementation", "amount": Decimal("3390000.00"),
                             "url": f"https://prozorro.gov.ua/tender/{TENDER}"}]
    assert [d["ref"] for d in p["damage_refs"]] == [DAMAGE_REF]
    assert [(h["stage"], h["entered_at"].date().isoformat(), h["source"]) for h in p["history"]] == [
        ("damage_recorded", "2023-05-15", "dream"), ("construction", "2025-03-04", "dream")]


def test_dream_reimport_is_idempotent_and_updates_forward(clean_db, hromada_id):
    with clean_db.begin() as conn:
        import_dream(conn, hromada_id, [record()])
    with clean_db.begin() as conn:
        again = import_dream(conn, hromada_id, [record()])
    assert again.unchanged == [DREAM_ID] and again.created == again.updated == []
    completed = record(status="complete", statusDetails=None, updated="2025-09-30T09:00:00Z")
    progress = completed["cdu_response"]["financialProgress"]
    progress[0]["disbursed"]["amount"] = progress[0]["spent"]["amount"] = 3000000.00
    with clean_db.begin() as conn:
        changed = import_dream(conn, hromada_id, [completed])
        p = rc.project(conn, rc.find_project(conn, DREAM_ID))
        counts = conn.execute(sa.text("SELECT (SELECT count(*) FROM reconstruction_project), "
                                      "(SELECT count(*) FROM project_funding), (SELECT count(*) FROM project_tender), "
                                      "(SELECT count(*) FROM project_damage_ref)")).one()
    assert changed.updated == [DREAM_ID]
    assert tuple(counts) == (1, 2, 1, 1)  # updated in place, nothing doubled
    assert (p["stage"], p["status"]) == ("commissioning", "complete")
    assert [h["stage"] for h in p["history"]] == ["damage_recorded", "construction", "commissioning"]
    assert p["funding"]["total"]["spent"] == Decimal("3600000.50")
    # an older record showing an earlier stage does not take the project back
    with clean_db.begin() as conn:
        older = import_dream(conn, hromada_id, [record(statusDetails="defined", status="pending")])
        assert rc.project(conn, rc.find_project(conn, DREAM_ID))["stage"] == "commissioning"
    assert older.updated == [DREAM_ID] and "does not go back" in older.warnings[0]["en"]


def test_invalid_dream_records_are_rejected_with_a_reason_and_the_rest_land(clean_db, hromada_id):
    usd = record(internal={"code": "DREAM-UA-010624-0000000A"})
    usd["cdu_response"]["approaches"][0]["budget"]["budgetBreakdown"][0]["amount"]["currency"] = "USD"
    overspent = record(internal={"code": "DREAM-UA-010624-0000000B"})
    overspent["cdu_response"]["financialProgress"][1]["spent"]["amount"] = 700000
    elsewhere = record(internal={"code": "DREAM-UA-010624-0000000C"})
    elsewhere["cdu_response"]["approaches"][0]["items"][0]["locations"][0]["gazetteer"]["identifiers"] = [
        "UA05020230010012345"]  # Stryzhavka's prefix
    untitled = record(internal={"code": "DREAM-UA-010624-0000000D"}, title=[])
    bad_tender = record(internal={"code": "DREAM-UA-010624-0000000E"})
    bad_tender["cdu_response"]["relatedProcesses"][1]["identifier"] = "UA-2024-13-01-000001-a"
    bad_tender["cdu_response"]["contractingProcesses"] = []
    load_neighbours(clean_db)
    with clean_db.begin() as conn:
        report = import_dream(conn, hromada_id, [
            record(internal={"code": "DREAM-UA-150523-NOTHEX00"}), usd, overspent, elsewhere, untitled, "x",
            bad_tender, record()])
        stryzhavka = scalar_in_hromada(conn, STRYZHAVKA)
        in_stryzhavka = import_dream(conn, None, [elsewhere])
        landed = conn.execute(
            sa.text("SELECT dream_id, hromada_id FROM reconstruction_project ORDER BY dream_id")).all()
    reasons = {r["index"]: r["en"] for r in report.rejected}
    assert set(reasons) == {1, 2, 3, 4, 5, 6}
    assert "DREAM-UA-DDMMYY-XXXXXXXX" in reasons[1]
    assert "USD" in reasons[2] and "only UAH" in reasons[2]
    assert "Spent" in reasons[3] and "exceeds disbursed" in reasons[3]
    assert "another hromada" in reasons[4]
    assert "no title" in reasons[5]
    assert "not a JSON object" in reasons[6]
    assert all(r["uk"] and r["uk"] != r["en"] for r in report.rejected)
    assert report.created == ["DREAM-UA-010624-0000000E", DREAM_ID]
    assert report.warnings[0]["dream_id"] == "DREAM-UA-010624-0000000E" and "Prozorro" in report.warnings[0]["en"]
    assert in_stryzhavka.created == ["DREAM-UA-010624-0000000C"]
    assert [tuple(r) for r in landed] == [("DREAM-UA-010624-0000000C", stryzhavka),
                                          ("DREAM-UA-010624-0000000E", hromada_id), (DREAM_ID, hromada_id)]


def scalar_in_hromada(conn, code):
    return conn.execute(sa.text("SELECT id FROM hromada WHERE katottg = :k"), {"k": code}).scalar()


def test_import_dream_command(clean_db, hromada_id, database_url, monkeypatch, tmp_path):
    from webmap.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    path = tmp_path / "dream.json"
    path.write_text(json.dumps({"data": [record(), {"cdu_response": {"title": "без ідентифікатора"}}]},
                               ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(main, ["import-dream", str(path)])
    assert result.exit_code == 0, result.output
    assert "created: 1" in result.output and "rejected: 1" in result.output and "No DREAM id" in result.output
    assert scalar(clean_db, "SELECT count(*) FROM reconstruction_project") == 1
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    result = CliRunner().invoke(main, ["import-dream", str(broken)])
    assert result.exit_code == 1 and "Помилка" in result.output and "Traceback" not in result.output


def test_the_budget_is_a_money_field_read_exactly_from_files_and_forms():
    from decimal import Decimal

    from layers.values import BadValue, convert

    budget = next(f for f in rc.PROJECTS.fields if f.name == "budget")
    assert budget.type == "money"
    assert convert(budget, "1 234 567,89") == Decimal("1234567.89")
    assert convert(budget, 0.1) == Decimal("0.10")  # a float through its shortest text
    assert convert(budget, None) is None
    for bad in ("-5", "12.345", "десять"):
        with pytest.raises(BadValue):
            convert(budget, bad)
