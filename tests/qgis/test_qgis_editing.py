"""Real QGIS 3.22 (Debian's, the system Python's ``qgis``) edits the demo's draft plan over WFS-T
(webmap/wfs.py) with a planner's personal token as the HTTP Basic password, and reads it over OGC
API – Features (issue #19).

One QGIS process (tests/qgis/qgis_driver.py) runs the whole sequence against a live waitress server;
between its steps a colleague writes through the OGC API, so QGIS's copy goes stale as a planner's
would. After each QGIS save the database holds the change and the zone's history names the planner.
Skipped only where ``/usr/bin/python3 -c "import qgis.core"`` fails (CI installs python3-qgis).
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
import requests
import shapely
import sqlalchemy as sa

from layers import plans
from tests.helpers import demo_hromada_id, inside, scalar
from tests.layers.test_plans import D, square
from tests.webmap.conftest import live_server  # noqa: F401  (a fixture)
from tests.webmap.test_ogc_transactions import add_user, tokens  # noqa: F401  (a fixture)

SYSTEM_PYTHON = "/usr/bin/python3"
DRIVER = Path(__file__).with_name("qgis_driver.py")
STEP_TIMEOUT = 120  # seconds for one QGIS step (opening a layer downloads it)


def _qgis_missing() -> str | None:
    if not os.path.exists(SYSTEM_PYTHON):
        return f"{SYSTEM_PYTHON} is missing"
    found = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True, text=True,
                           env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    if found.returncode != 0:
        return ("QGIS's Python bindings are not installed for the system Python (apt-get install python3-qgis "
                f"qgis-providers, tools/system-deps.sh): {found.stderr.strip().splitlines()[-1:]}")
    return None


MISSING = _qgis_missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


class Qgis:
    """The driver process: one command a line in, one ``@@``-prefixed JSON answer a line out."""

    def __init__(self):
        self.log = tempfile.TemporaryFile(mode="w+")
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": tempfile.mkdtemp(),
               "PYTHONPATH": "", "PYTHONNOUSERSITE": "1"}
        self.process = subprocess.Popen([SYSTEM_PYTHON, str(DRIVER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.log, text=True, encoding="utf-8", env=env)
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            if line.startswith("@@"):
                self.lines.put(line[2:])
        self.lines.put(None)

    def __call__(self, cmd: str, **arguments) -> dict:
        self.process.stdin.write(json.dumps({"cmd": cmd, **arguments}, ensure_ascii=False) + "\n")
        self.process.stdin.flush()
        try:
            line = self.lines.get(timeout=STEP_TIMEOUT)
        except queue.Empty:
            line = None
        if line is None:
            self.log.seek(0)
            pytest.fail(f"QGIS did not answer {cmd}: {self.log.read()[-3000:]}")
        answer = json.loads(line)
        assert answer["ok"], answer
        return answer

    def close(self):
        try:
            self.process.stdin.write('{"cmd": "quit"}\n')
            self.process.stdin.flush()
            self.process.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            try:
                pipe.close()
            except OSError:
                pass
        self.log.close()


@pytest.fixture
def qgis():
    driver = Qgis()
    yield driver
    driver.close()


def polygon_wkt(geometry: dict) -> str:
    return shapely.geometry.shape(geometry).wkt


def same_shape(wkt_a: str, wkt_b: str) -> bool:
    a, b = shapely.from_wkt(wkt_a), shapely.from_wkt(wkt_b)
    return a.symmetric_difference(b).area < 1e-12


def db_zones(engine, plan_id: int) -> dict[str, dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"""SELECT id, plan_id, version, {', '.join(plans.ATTRIBUTES)},
                                        ST_AsText(geom) AS wkt FROM plan_zone WHERE plan_id = :p"""),
                            {"p": plan_id}).mappings().all()
    return {r["name"]: dict(r) for r in rows}


def last_version(engine, zone_id: int) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("""
            SELECT v.version, v.operation, v.user_id, a.email, v.author, v.versionless, v.needs_review,
                   v.review_fields, v.attributes FROM plan_zone_version v LEFT JOIN app_user a ON a.id = v.user_id
            WHERE v.zone_id = :z ORDER BY v.version DESC LIMIT 1"""), {"z": zone_id}).mappings().one())


def qgis_zones(answer: dict, plan_id: int) -> dict[str, dict]:
    return {f["attributes"]["name"]: f for f in answer["features"] if f["attributes"]["plan_id"] == plan_id}


def colleague_patch(base: str, token: str, zone_id: int, **properties) -> None:
    """A colleague's edit through the OGC API, naming the version read (If-Match): the ordinary way."""
    url = f"{base}/ogc/collections/plan_zones/items/{zone_id}"
    headers = {"Authorization": f"Bearer {token}"}
    etag = requests.get(url, headers=headers, timeout=30).headers["ETag"]
    answer = requests.patch(url, data=json.dumps({"properties": properties}), timeout=30,
                            headers={**headers, "If-Match": etag, "Content-Type": "application/merge-patch+json"})
    assert answer.status_code == 200, answer.text


def test_qgis_322_reads_and_edits_the_draft_plan(qgis, live_server, demo_db, tokens):  # noqa: F811
    token = tokens["planner"]
    colleague = add_user(demo_db, "colleague@example.org", "planner")
    planner_id = scalar(demo_db, "SELECT id FROM app_user WHERE email = 'planner@example.org'")
    draft = scalar(demo_db, "SELECT id FROM plan WHERE hromada_id = :h AND status = 'draft' ORDER BY id LIMIT 1",
                   h=demo_hromada_id(demo_db))
    before = db_zones(demo_db, draft)
    assert len(before) == 2
    credentials = {"username": "planner@example.org", "password": token}

    # OGC API – Features (QGIS's "OAPIF" provider) with the token as the Basic password: the drafts.
    oapif = qgis("open", key="oapif", provider="OAPIF", url=f"{live_server}/ogc", typename="plan_zones",
                 **credentials)
    assert oapif["valid"], oapif
    assert sorted(qgis_zones(oapif, draft)) == sorted(before)

    # WFS without credentials, and without a version (QGIS's "Maximum": it offers 2.0.0, 1.1.0, 1.0.0 and
    # takes the server's 1.1.0): the published zones only, and nothing to edit.
    anonymous = qgis("open", key="anonymous", provider="WFS", url=f"{live_server}/wfs",
                     typename="hromada:plan_zones")
    assert anonymous["valid"], anonymous
    assert anonymous["features"] and qgis_zones(anonymous, draft) == {}
    assert not any(anonymous["can"].values())

    # WFS with the planner's token: every zone the database holds, the drafts as they are there.
    wfs = qgis("open", key="wfs", provider="WFS", url=f"{live_server}/wfs", typename="hromada:plan_zones",
               version="1.1.0", **credentials)
    assert wfs["valid"], wfs
    assert wfs["can"] == {"add": True, "change": True, "geometry": True, "delete": True}
    assert wfs["crs"] == "EPSG:4326" and wfs["fields"]["max_height_m"] == "xsd:double"
    assert len(wfs["features"]) == scalar(demo_db, "SELECT count(*) FROM plan_zone")
    seen = qgis_zones(wfs, draft)
    assert sorted(seen) == sorted(before)
    for name, row in before.items():
        attributes = seen[name]["attributes"]
        for key in ("plan_id", "version", *plans.ATTRIBUTES):
            assert attributes[key] == row[key], (name, key)
        assert same_shape(seen[name]["wkt"], row["wkt"]), name

    # Add a zone, as the planner draws one and saves.
    x, y = inside(demo_db, "Якушинці")
    added = qgis("add", key="wfs", wkt=polygon_wkt(square(x, y)),
                 attributes={"plan_id": draft, "zone_code": "Р", "name": "Сквер (QGIS)", "max_height_m": 6.5})
    assert added["committed"], added["errors"]
    zone = db_zones(demo_db, draft)["Сквер (QGIS)"]
    assert (zone["zone_code"], zone["max_height_m"], zone["version"]) == ("Р", 6.5, 1)
    assert same_shape(zone["wkt"], polygon_wkt(square(x, y)))
    history = last_version(demo_db, zone["id"])
    assert (history["operation"], history["email"], history["version"]) == ("create", "planner@example.org", 1)
    assert history["author"] == "planner@example.org"

    # Change an attribute: only it is sent, merged into the current version, recorded as versionless.
    changed = qgis("change", key="wfs", match={"name": "Сквер (QGIS)"}, attributes={"permitted_uses": "сквер, лавки"})
    assert changed["committed"], changed["errors"]
    zone = db_zones(demo_db, draft)["Сквер (QGIS)"]
    assert (zone["permitted_uses"], zone["max_height_m"], zone["version"]) == ("сквер, лавки", 6.5, 2)
    history = last_version(demo_db, zone["id"])
    assert (history["operation"], history["user_id"], history["versionless"], history["needs_review"]) == (
        "update", planner_id, True, False)

    # Reshape it: twice as wide.
    wider = square(x, y)
    wider["coordinates"][0][1][0] += D
    wider["coordinates"][0][2][0] += D
    reshaped = qgis("geometry", key="wfs", match={"name": "Сквер (QGIS)"}, wkt=polygon_wkt(wider))
    assert reshaped["committed"], reshaped["errors"]
    zone = db_zones(demo_db, draft)["Сквер (QGIS)"]
    assert same_shape(zone["wkt"], polygon_wkt(wider)) and zone["version"] == 3
    assert zone["permitted_uses"] == "сквер, лавки"
    assert last_version(demo_db, zone["id"])["email"] == "planner@example.org"

    # A save that breaks a rule (it overlaps the square) writes nothing; QGIS shows the server's reason.
    overlapping = qgis("add", key="wfs", wkt=polygon_wkt(square(x + D / 2, y)),
                       attributes={"plan_id": draft, "zone_code": "Ж-1", "name": "Накладка"})
    assert not overlapping["committed"]
    assert any("overlaps" in error and "накладається" in error for error in overlapping["errors"]), overlapping
    assert "Накладка" not in db_zones(demo_db, draft)

    # Delete it: a version of its own, revertible.
    deleted = qgis("delete", key="wfs", match={"name": "Сквер (QGIS)"})
    assert deleted["committed"], deleted["errors"]
    assert "Сквер (QGIS)" not in db_zones(demo_db, draft)
    history = last_version(demo_db, zone["id"])
    assert (history["operation"], history["email"], history["versionless"]) == ("delete", "planner@example.org", True)

    # A stale copy: a colleague changes A (permitted uses) after QGIS loaded the zone; QGIS changes B.
    name = sorted(before)[0]
    zone_id = before[name]["id"]
    colleague_patch(live_server, colleague, zone_id, permitted_uses="колега: стежки, пасіка")
    stale = qgis("change", key="wfs", match={"name": name}, attributes={"max_height_m": 9.0})
    assert stale["committed"], stale["errors"]
    now = db_zones(demo_db, draft)[name]
    assert (now["permitted_uses"], now["max_height_m"]) == ("колега: стежки, пасіка", 9.0)  # both changes
    history = last_version(demo_db, zone_id)
    assert (history["email"], history["versionless"], history["needs_review"]) == ("planner@example.org", True, False)

    # QGIS changes the very attribute the colleague just changed: taken, but flagged for review, and
    # the colleague's value stays in the history to revert to.
    again = qgis("change", key="wfs", match={"name": name}, attributes={"permitted_uses": "заказник"})
    assert again["committed"], again["errors"]
    now = db_zones(demo_db, draft)[name]
    assert (now["permitted_uses"], now["max_height_m"]) == ("заказник", 9.0)
    history = last_version(demo_db, zone_id)
    assert (history["email"], history["needs_review"], history["review_fields"]) == (
        "planner@example.org", True, ["permitted_uses"])
    assert scalar(demo_db, """SELECT v.attributes->>'permitted_uses' FROM plan_zone_version v JOIN app_user a
                              ON a.id = v.user_id WHERE v.zone_id = :z AND a.email = 'colleague@example.org'""",
                  z=zone_id) == "колега: стежки, пасіка"
    flagged = requests.get(f"{live_server}/ogc/collections/plan_zones/versionless-edits",
                           headers={"Authorization": f"Bearer {token}"}, timeout=30).json()["edits"]
    assert [(e["zone_id"], e["review_fields"]) for e in flagged] == [(zone_id, ["permitted_uses"])]
