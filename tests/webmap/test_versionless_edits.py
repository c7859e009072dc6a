"""Edits that name no version (issue #19: QGIS 3.32+ sends PATCH and DELETE without If-Match).

A PATCH without If-Match is merged property by property into the current version, a DELETE without
it deletes the current version; both are kept in the zone's history marked ``versionless`` and are
flagged ``needs_review`` when they replace a value another account set within the review window.
A PUT without a version is still a 428, and everything with If-Match is as before (412 when stale).
The race at the end drives two clients through the real HTTP API (waitress) and checks that no
change of either is lost.
"""
import datetime as dt
import json
import re
import threading

import pytest
import requests
import sqlalchemy as sa

from gis import user_tokens
from layers import plans, writable
from tests.helpers import scalar
from tests.layers.test_plans import PLANNER, D, square
from tests.webmap.test_ogc_transactions import ITEMS, add_user, auth, feature, plan, post, tokens  # noqa: F401

MERGE = "application/merge-patch+json"
EDITS = "/ogc/collections/plan_zones/versionless-edits"


def patch(client, token, zone_id, properties=None, geometry=None, **headers):
    body = {**({"properties": properties} if properties is not None else {}),
            **({"geometry": geometry} if geometry is not None else {})}
    return client.patch(f"{ITEMS}/{zone_id}", data=json.dumps(body), content_type=MERGE,
                        headers=auth(token, **headers))


def version_row(engine, zone_id, version) -> dict:
    with engine.connect() as conn:
        row = conn.execute(sa.text("""
            SELECT v.operation, v.versionless, v.needs_review, v.review_fields, v.attributes, v.reason, a.email
            FROM plan_zone_version v LEFT JOIN app_user a ON a.id = v.user_id
            WHERE v.zone_id = :z AND v.version = :v"""), {"z": zone_id, "v": version}).mappings().one()
        return {**row, "review_fields": sorted(row["review_fields"] or [])}


def etag_version(etag: str, zone_id) -> int:
    return int(re.fullmatch(rf'"plan_zones-{zone_id}-v([0-9]+)(?::[a-z]+)?"', etag).group(1))


def test_patch_without_if_match_merges_into_the_current_version(client, plan, tokens, demo_db):
    plan_id, x, y = plan
    planner, admin = tokens["planner"], tokens["admin"]
    zone = post(client, planner, feature(plan_id, square(x, y), zone_code="Ж-1", name="Перша",
                                         permitted_uses="житло", max_height_m=9)).get_json()
    zid = zone["id"]
    # Another planner (the admin) changes the uses, naming the version as before.
    assert patch(client, admin, zid, {"permitted_uses": "школа"}, **{"If-Match": f'"plan_zones-{zid}-v1"'}
                 ).status_code == 200
    # The planner's client sends only the name, and no version: merged into version 2.
    merged = patch(client, planner, zid, {"name": "Друга"})
    assert merged.status_code == 200, merged.get_json()
    assert merged.headers["ETag"] == f'"plan_zones-{zid}-v3"'
    props = merged.get_json()["properties"]
    assert (props["name"], props["permitted_uses"], props["max_height_m"], props["zone_code"]) == (
        "Друга", "школа", 9, "Ж-1")
    assert merged.get_json()["geometry"] == zone["geometry"]
    row = version_row(demo_db, zid, 3)
    # The name was the planner's own (set when the zone was made): nothing of anybody else's was replaced.
    assert (row["versionless"], row["needs_review"], row["email"]) == (True, False, "planner@example.org")
    assert "without a version" in row["reason"]
    assert version_row(demo_db, zid, 2)["versionless"] is False  # the If-Match edit is not marked
    # The uses the admin set a moment ago, replaced without a version: flagged for review.
    flagged = patch(client, planner, zid, {"permitted_uses": "парк", "name": "Друга"})  # the name unchanged
    assert flagged.status_code == 200
    row = version_row(demo_db, zid, 4)
    assert (row["versionless"], row["needs_review"], row["review_fields"]) == (True, True, ["permitted_uses"])
    assert "to review: permitted_uses" in row["reason"]
    # Only the geometry: the attributes stay; the geometry was the planner's own.
    moved = patch(client, planner, zid, geometry=square(x + D, y))
    assert moved.status_code == 200 and moved.get_json()["properties"]["permitted_uses"] == "парк"
    assert moved.get_json()["geometry"]["coordinates"][0][0][0][0] == pytest.approx(x + D, abs=1e-6)
    assert version_row(demo_db, zid, 5)["needs_review"] is False
    back = patch(client, admin, zid, geometry=square(x, y))  # the admin moves back the planner's fresh outline
    assert back.status_code == 200 and version_row(demo_db, zid, 6)["review_fields"] == ["geometry"]
    # A value empty since the zone was made is nobody's: filling it in is no replacement.
    assert patch(client, admin, zid, {"notes": "уточнити"}).status_code == 200
    assert version_row(demo_db, zid, 7)["needs_review"] is False
    # Outside the review window the planner's name is old news: replacing it is not flagged.
    with demo_db.begin() as conn:
        conn.execute(sa.text("UPDATE plan_zone_version SET changed_at = changed_at - interval '2 days' "
                             "WHERE zone_id = :z"), {"z": zid})
    assert patch(client, admin, zid, {"name": "Третя"}).status_code == 200
    assert version_row(demo_db, zid, 8)["needs_review"] is False
    assert scalar(demo_db, "SELECT count(*) FROM plan_zone_version WHERE zone_id = :z", z=zid) == 8


def test_what_still_needs_a_version_and_what_is_refused(client, plan, tokens, demo_db):
    plan_id, x, y = plan
    token = tokens["planner"]
    zone = post(client, token, feature(plan_id, square(x, y), zone_code="Ж-1", name="Перша")).get_json()
    zid, url = zone["id"], f"{ITEMS}/{zone['id']}"
    assert patch(client, token, zid, {"name": "Друга"}).status_code == 200  # v2, versionless
    v1 = f'"plan_zones-{zid}-v1"'
    # With If-Match everything is as before: a stale one is a 412, "*" names no version (428).
    stale = patch(client, token, zid, {"name": "Стара"}, **{"If-Match": v1})
    assert stale.status_code == 412 and stale.get_json()["details"]["current"]["properties"]["name"] == "Друга"
    assert patch(client, token, zid, {"name": "Будь-яка"}, **{"If-Match": "*"}).status_code == 428
    assert client.delete(url, headers=auth(token, **{"If-Match": v1})).status_code == 412
    assert client.delete(url, headers=auth(token, **{"If-Match": "*"})).status_code == 428
    # A version echoed in the properties is checked as before, PATCH too.
    echoed = patch(client, token, zid, {"name": "Стара", "version": 1})
    assert echoed.status_code == 412
    # A PUT without a version would overwrite every property unseen: still 428.
    put = client.put(url, data=json.dumps(feature(plan_id, square(x, y), zone_code="Р")),
                     content_type="application/geo+json", headers=auth(token))
    assert put.status_code == 428 and "If-Match" in put.get_json()["message"]["en"]
    # Refused merges change nothing: a wrong value, an unknown field, another id, a missing zone.
    for body, status, words in [({"properties": {"max_height_m": -3}}, 400, "negative"),
                                ({"properties": {"colour": "red"}}, 400, "Unknown fields"),
                                ({"id": 77, "properties": {"name": "X"}}, 400, "does not match"),
                                ({"properties": {}}, 400, "Nothing to change"),
                                ({"geometry": square(x + 10 * D, y)}, 422, "outside")]:
        answer = client.patch(url, data=json.dumps(body), content_type=MERGE, headers=auth(token))
        assert answer.status_code == status and words in answer.get_json()["message"]["en"], answer.get_json()
    assert patch(client, token, 999999, {"name": "X"}).status_code == 404
    assert client.delete(f"{ITEMS}/999999", headers=auth(token)).status_code == 404
    assert scalar(demo_db, "SELECT max(version) FROM plan_zone_version WHERE zone_id = :z", z=zid) == 2
    # Nobody signed in, or a role that may not edit: as before.
    anonymous = patch(client, None, zid, {"name": "X"})
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert patch(client, tokens["resident"], zid, {"name": "X"}).status_code in (403, 404)
    # QGIS checks OPTIONS before it offers editing: PATCH and DELETE are still there.
    options = client.options(url, headers=auth(token))
    assert options.headers["Allow"] == "GET, HEAD, OPTIONS, PUT, PATCH, DELETE" and "Accept-Patch" in options.headers
    # An approved plan is read-only for versionless writes too.
    with demo_db.begin() as conn:
        plans.set_plan_status(conn, plan_id, "discussion", PLANNER)
        plans.set_plan_status(conn, plan_id, "approved", PLANNER, decision_number="1/2",
                              decision_date=dt.date(2026, 11, 20))
    frozen = patch(client, token, zid, {"name": "X"})
    assert frozen.status_code == 409 and "read-only" in frozen.get_json()["message"]["en"]
    assert client.delete(url, headers=auth(token)).status_code == 409


def test_delete_without_if_match_is_a_version_that_can_be_reverted(client, plan, tokens, demo_db):
    plan_id, x, y = plan
    planner, admin = tokens["planner"], tokens["admin"]
    zone = post(client, planner, feature(plan_id, square(x, y), zone_code="Ж-1", name="Перша")).get_json()
    zid = zone["id"]
    assert patch(client, admin, zid, {"name": "Адмінова"}, **{"If-Match": f'"plan_zones-{zid}-v1"'}
                 ).status_code == 200
    deleted = client.delete(f"{ITEMS}/{zid}", headers=auth(planner))
    assert deleted.status_code == 204 and deleted.data == b""
    assert client.get(f"{ITEMS}/{zid}", headers=auth(planner)).status_code == 404
    row = version_row(demo_db, zid, 3)
    # The deletion removed the name the admin had just given: flagged; it keeps what was deleted.
    assert (row["operation"], row["versionless"], row["needs_review"], row["review_fields"]) == (
        "delete", True, True, ["name"])
    assert row["attributes"]["name"] == "Адмінова" and "deleted without a version" in row["reason"]
    assert client.delete(f"{ITEMS}/{zid}", headers=auth(planner)).status_code == 404  # gone: nothing more
    # Nothing is lost: reverting to version 2 brings the zone back under its own id, as version 4.
    user_id = scalar(demo_db, "SELECT id FROM app_user WHERE email = 'planner@example.org'")
    hromada_id = scalar(demo_db, "SELECT hromada_id FROM plan WHERE id = :p", p=plan_id)
    with demo_db.begin() as conn:
        back = plans.revert(conn, plans.Editor(user_id, {hromada_id: frozenset({"planner"})}), zid, 2)
    assert (back["id"], back["version"], back["name"]) == (zid, 4, "Адмінова")
    got = client.get(f"{ITEMS}/{zid}", headers=auth(planner))
    assert got.status_code == 200 and got.headers["ETag"] == f'"plan_zones-{zid}-v4"'
    # A zone only its deleter ever touched: deleted without review.
    own = post(client, planner, feature(plan_id, square(x + D, y), zone_code="Р")).get_json()
    assert client.delete(f"{ITEMS}/{own['id']}", headers=auth(planner)).status_code == 204
    assert version_row(demo_db, own["id"], 2)["needs_review"] is False


def test_the_planners_list_of_versionless_edits(client, plan, tokens, demo_db):
    plan_id, x, y = plan
    planner, admin = tokens["planner"], tokens["admin"]
    zone = post(client, planner, feature(plan_id, square(x, y), zone_code="Ж-1", name="Перша")).get_json()
    zid = zone["id"]
    assert patch(client, planner, zid, {"notes": "свої"}).status_code == 200  # v2: versionless, not flagged
    assert patch(client, admin, zid, {"name": "Інша"}).status_code == 200  # v3: replaces the planner's name
    listed = client.get(EDITS, headers=auth(planner))
    assert listed.status_code == 200, listed.get_json()
    assert listed.headers["Cache-Control"] == "private, no-store"
    edits = [e for e in listed.get_json()["edits"] if e["zone_id"] == zid]
    assert [(e["version"], e["operation"], e["review_fields"], e["by"]) for e in edits] == [
        (3, "update", ["name"], "admin@example.org")]
    assert edits[0]["history"].endswith(f"/plans/zones/{zid}/history")
    assert edits[0]["item"].endswith(f"{ITEMS}/{zid}")
    assert edits[0]["current_version"] == 3 and edits[0]["plan_id"] == plan_id
    every = client.get(f"{EDITS}?all=true&zone_id={zid}", headers=auth(planner)).get_json()["edits"]
    assert [(e["version"], e["needs_review"]) for e in every] == [(3, True), (2, False)]
    assert client.get(f"{EDITS}?zone_id={zid}&limit=1&all=1", headers=auth(admin)).get_json()["numberReturned"] == 1
    assert client.get(f"{EDITS}?limit=0", headers=auth(planner)).status_code == 400
    assert client.get(f"{EDITS}?all=maybe", headers=auth(planner)).status_code == 400
    anonymous = client.get(EDITS)
    assert anonymous.status_code == 401 and anonymous.headers.getlist("WWW-Authenticate")[0].startswith("Bearer")
    for role in ("resident", "unit_staff"):
        assert client.get(EDITS, headers=auth(tokens[role])).status_code == 403, role
    # A planner of another hromada: 403 for this one, and their own list has none of its edits.
    from gis.users import create_user
    from tests.helpers import STRYZHAVKA, load_neighbours

    load_neighbours(demo_db)
    with demo_db.begin() as conn:
        other = conn.execute(sa.text("SELECT id FROM hromada WHERE katottg = :k"), {"k": STRYZHAVKA}).scalar_one()
        create_user(conn, "planner@stryzhavka.example.org", "correct horse battery", ["planner"], hromada_id=other)
        stranger = user_tokens.create_token(conn, "planner@stryzhavka.example.org", "QGIS")[1]
    katottg = scalar(demo_db, "SELECT h.katottg FROM plan p JOIN hromada h ON h.id = p.hromada_id WHERE p.id = :p",
                     p=plan_id)
    assert client.get(f"{EDITS}?hromada={katottg}", headers=auth(stranger)).status_code == 403
    assert client.get(f"{EDITS}?hromada={katottg}", headers=auth(planner)).get_json()["numberReturned"] == 1
    assert client.get(EDITS, headers=auth(stranger)).get_json()["edits"] == []


def test_two_clients_one_with_if_match_one_without_lose_nothing(live_server, plan, tokens, demo_db):
    """Client A reads, then writes the name with If-Match, and on 412 reads again and retries; client B
    writes the notes (and every third round the name too) without a version, at the same moment. After
    100 rounds every write of either is a version of the zone, the zone holds the last write of each
    property, B's versions are the versionless ones, and those that replaced A's name are flagged."""
    plan_id, x, y = plan
    token_a = tokens["planner"]
    token_b = add_user(demo_db, "planner2@example.org", "planner")
    url = f"{live_server}{ITEMS}"
    created = requests.post(url, json=feature(plan_id, square(x, y), zone_code="Ж-1", name="start"),
                            headers=auth(token_a), timeout=30)
    assert created.status_code == 201, created.text
    zid = created.json()["id"]
    rounds = 100
    writes, failures, conflicts = [], [], []  # writes: (version, client, properties)
    start, b_done = threading.Barrier(2, timeout=60), [threading.Event() for _ in range(rounds)]

    def meet() -> bool:
        """Both clients at the start of a round; False once the other has failed (it says why)."""
        try:
            start.wait()
            return True
        except threading.BrokenBarrierError:
            return False

    def client_a():
        session = requests.Session()
        for i in range(rounds):
            etag = session.get(f"{url}/{zid}", headers=auth(token_a), timeout=30).headers["ETag"]
            if not meet():
                return
            if i % 4 == 0:  # every fourth round B surely writes between A's read and A's write
                b_done[i].wait(timeout=30)
            props = {"name": f"A{i}"}
            for _attempt in range(50):
                answer = session.patch(f"{url}/{zid}", data=json.dumps({"properties": props}), timeout=30,
                                       headers=auth(token_a, **{"If-Match": etag, "Content-Type": MERGE}))
                if answer.status_code == 200:
                    writes.append((etag_version(answer.headers["ETag"], zid), "A", props))
                    break
                if answer.status_code != 412:
                    failures.append(("A", i, answer.status_code, answer.text))
                    start.abort()
                    return
                conflicts.append(i)
                etag = session.get(f"{url}/{zid}", headers=auth(token_a), timeout=30).headers["ETag"]
            else:
                failures.append(("A", i, "gave up"))
                start.abort()
                return

    def client_b():
        session = requests.Session()
        for i in range(rounds):
            if not meet():
                return
            props = {"notes": f"B{i}", **({"name": f"B{i}"} if i % 3 == 0 else {})}
            answer = session.patch(f"{url}/{zid}", data=json.dumps({"properties": props}), timeout=30,
                                   headers=auth(token_b, **{"Content-Type": MERGE}))
            b_done[i].set()
            if answer.status_code != 200:
                failures.append(("B", i, answer.status_code, answer.text))
                start.abort()
                return
            writes.append((etag_version(answer.headers["ETag"], zid), "B", props))

    threads = [threading.Thread(target=client_a), threading.Thread(target=client_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not failures, failures
    assert len(writes) == 2 * rounds and len(conflicts) >= rounds // 4
    writes.sort()
    # Every write is its own version: 2 … 201 after the creation, no gap, none twice.
    assert [v for v, _, _ in writes] == list(range(2, 2 + 2 * rounds))
    with demo_db.connect() as conn:
        history = {r["version"]: r for r in conn.execute(sa.text("""
            SELECT v.version, v.operation, v.versionless, v.needs_review, v.review_fields, v.attributes, a.email
            FROM plan_zone_version v LEFT JOIN app_user a ON a.id = v.user_id WHERE v.zone_id = :z"""),
            {"z": zid}).mappings()}
    assert sorted(history) == list(range(1, 2 + 2 * rounds))
    emails = {"A": "planner@example.org", "B": "planner2@example.org"}
    setter = {"name": "A", "notes": None}  # who set each property's value; None: empty since the creation
    for version, who, props in writes:
        row = history[version]
        assert row["email"] == emails[who] and row["operation"] == "update"
        assert {k: row["attributes"][k] for k in props} == props, (version, who)
        assert row["versionless"] is (who == "B"), version
        expected = sorted(k for k in props if who == "B" and setter[k] not in (None, "B"))
        assert sorted(row["review_fields"] or []) == expected and row["needs_review"] is bool(expected), version
        setter.update(dict.fromkeys(props, who))
    # The zone now: the last write of each property.
    last = {}
    for _, _, props in writes:
        last.update(props)
    final = requests.get(f"{url}/{zid}", headers=auth(token_a), timeout=30)
    assert {k: final.json()["properties"][k] for k in last} == last
    assert etag_version(final.headers["ETag"], zid) == 1 + 2 * rounds
    assert history[1 + 2 * rounds]["attributes"]["name"] == last["name"]
    assert any(history[v]["needs_review"] for v, who, _ in writes if who == "B")


def test_the_review_window_is_a_parameter(demo_db, plan):
    """layers.writable's functions take the window: zero flags nothing."""
    plan_id, x, y = plan
    with demo_db.begin() as conn:
        zone = plans.create_zone(conn, PLANNER, plan_id, {"zone_code": "Ж-1", "name": "Перша"}, square(x, y))
    with demo_db.begin() as conn:  # no account at all is nobody's own: counted as another author
        flagged = writable.update_zone_versionless(conn, PLANNER, zone["id"], properties={"name": "Друга"},
                                                   geometry=None)
        calm = writable.update_zone_versionless(conn, PLANNER, zone["id"], properties={"name": "Третя"},
                                                geometry=None, window=dt.timedelta(0))
    assert (flagged.version, flagged.needs_review, flagged.review_fields) == (2, True, ("name",))
    assert (calm.version, calm.needs_review) == (3, False)
