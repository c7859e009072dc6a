"""One description of the JSON APIs (issue #15): /api/openapi.json and /ogc/api, checked by schemathesis
on the live test server with the demo community's data.

Every operation of /api/openapi.json is called with generated requests (a bounded number each):
none may answer 5xx, and every answer must be a documented status with a body that fits the
documented schema. The requests carry a personal API token of the demo hromada's administrator and
planner, and CSRF is off, so the staff writes are exercised past the sign-in as far as their
validation and rules go (the test database is thrown away). /ogc/api is called anonymously: no 5xx
(Part 4 writes answer 401).
"""
from __future__ import annotations

import json
import os
import re
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from requests.structures import CaseInsensitiveDict
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.helpers import inside, scalar
from tests.layers.test_plans import plan  # noqa: F401  (a fixture of draft)
from tests.webmap.test_ogc_transactions import add_user
from tests.webmap.test_plan_pages import draft  # noqa: F401  (a fixture)

API_CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
# Per operation and mode, derandomized: the same requests every run, a regression check (at 15 the
# fuzzing took 60 of the suite's 530 CPU-seconds, at 5 it takes 31). The hunt for new failures is
# HROMADA_FUZZ_EXAMPLES=200 (random, other requests every run).
EXAMPLES = int(os.environ.get("HROMADA_FUZZ_EXAMPLES") or 5)
FAST = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("HROMADA_FUZZ_EXAMPLES"),
                database=None,
                phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))


def test_the_document_describes_every_custom_json_endpoint(client):
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    paths = doc["paths"]
    for path, method in [
        ("/api/layers", "get"), ("/api/layers/{name}/items", "get"), ("/api/layers/{name}/items/{feature_id}", "get"),
        ("/api/layers/{name}/export.{fmt}", "get"), ("/api/layers/{name}/metadata.json", "get"),
        ("/api/csrf-token", "get"), ("/api/reports", "post"), ("/api/reports/{code}/me-too", "post"),
        ("/api/reports/{code}", "get"), ("/api/speed-tests", "post"), ("/api/projects/{key}/stage", "post"),
        ("/api/projects/{key}/funding", "post"), ("/api/road-segments/{segment_id}/inspections", "post"),
        ("/api/hromadas/{code}/property", "get"), ("/plans/{plan_id}/zones", "post"),
        ("/plans/zones/{zone_id}", "patch"), ("/plans/zones/{zone_id}", "delete"),
        ("/open311/v2/discovery.json", "get"), ("/open311/v2/services.json", "get"),
        ("/open311/v2/services/{service_code}.json", "get"), ("/open311/v2/requests.json", "get"),
        ("/open311/v2/requests.json", "post"), ("/open311/v2/requests/{service_request_id}.json", "get"),
        ("/api/alerts", "post"), ("/api/hromadas/{katottg}/announcements", "get"),
    ]:
        assert method in paths.get(path, {}), (method, path)
    report = paths["/api/reports"]["post"]
    assert set(report["requestBody"]["content"]) == {
        "application/json", "multipart/form-data", "application/x-www-form-urlencoded"}
    assert "text/xml" in paths["/open311/v2/services.json"]["get"]["responses"]["200"]["content"]
    assert set(paths["/open311/v2/requests.json"]["post"]["requestBody"]["content"]) == {
        "application/x-www-form-urlencoded", "multipart/form-data"}
    for item in paths.values():  # every error is described with its object
        for operation in item.values():
            assert {"400", "404", "503"} <= set(operation["responses"])
    assert not any(p.startswith("/ogc/") for p in paths)  # the OGC API has its own document


def test_the_ogc_document_describes_geojson_crs_html_and_the_token(client, demo_db):
    from webmap.ogc_common import CRS_URIS

    doc = client.get("/ogc/api").get_json()
    assert doc["components"]["parameters"]["crs"]["schema"]["enum"] == list(CRS_URIS)
    items = doc["paths"]["/collections/plan_zones/items"]
    ok = items["get"]["responses"]["200"]["content"]
    assert ok["application/geo+json"]["schema"] == {"$ref": "#/components/schemas/FeatureCollection"}
    assert "text/html" in ok
    one = doc["paths"]["/collections/plan_zones/items/{featureId}"]
    assert one["get"]["responses"]["200"]["content"]["application/geo+json"]["schema"]["$ref"].endswith("/Feature")
    bearer = doc["components"]["securitySchemes"]["bearer"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    basic = doc["components"]["securitySchemes"]["basic"]  # the token as the password (QGIS 3.22)
    assert (basic["type"], basic["scheme"]) == ("http", "basic")
    for operation in (items["post"], one["put"], one["patch"], one["delete"]):
        assert operation["security"] == [{"bearer": []}, {"basic": []}] and "401" in operation["responses"]
    assert "security" not in items["get"]


def test_a_body_refused_by_its_model_keeps_the_service_error_format(client, demo_db):
    from tests.webmap.test_reports_http import csrf

    answer = client.post("/api/speed-tests", json={"lat": 95, "lon": "x", "down_mbps": 1, "up_mbps": 1,
                                                   "network": "satellite"}, headers={"X-CSRFToken": csrf(client)})
    assert answer.status_code == 400
    body = answer.get_json()
    assert body["error"] == "invalid_input" and set(body["message"]) == {"uk", "en"}
    assert set(body["details"]["fields"]) == {"lat", "lon", "network"}
    assert "latitude must be between" in body["message"]["en"] and "Широта" in body["message"]["uk"]


def test_what_the_fuzzing_found_is_a_400_not_a_500(client, demo_db):
    from urllib.parse import quote

    items = "/ogc/collections/hromadas/items"
    # A bbox in a projected CRS where the projection is not defined (PostGIS: "Point outside of
    # projection domain"), and a bbox with NaN.
    far = client.get(f"{items}?bbox=-4.3e16,0,0,0&bbox-crs={quote('http://www.opengis.net/def/crs/EPSG/0/6385')}")
    assert far.status_code == 400 and "outside the area" in far.get_json()["message"]["en"]
    assert client.get(f"{items}?bbox=1,2,3,nan").status_code == 400
    near = client.get(f"{items}?bbox=300000,5400000,400000,5500000&bbox-crs="
                      f"{quote('http://www.opengis.net/def/crs/EPSG/0/6385')}")
    assert near.status_code == 200
    # CQL2 comparing a number with a text (PostgreSQL: "operator does not exist: integer = character varying").
    for cql in ("population='abc'", "population=name_uk", "katottg=true", "boundary_repaired='x'"):
        answer = client.get(f"{items}?filter={quote(cql)}")
        assert answer.status_code == 400 and "type" in answer.get_json()["message"]["en"], cql
    for cql in ("population='5'", "name_uk=5", "boundary_repaired='true'"):  # a value that reads as the kind
        assert client.get(f"{items}?filter={quote(cql)}").status_code == 200, cql


# --- schemathesis on the live server ------------------------------------------------------------------
# Each operation is fuzzed with Hypothesis from schemathesis's strategies: requests that fit the
# description, then requests that do not (negative). Not schemathesis's pytest loader: its lazy
# fixture loader does not run on pytest 9.

STATUSES: dict[str, Counter] = {}  # what each operation answered (shown with -s)


# The operations are dealt out to this many tests, so that a parallel run (pytest -n) shares them
# (4: no one of them keeps a worker busy for over a minute while the other has nothing left).
SHARDS = 4


def exercise(schema, base_url: str, checks: list, *, shard: int, headers: dict | None = None,
             known: dict | None = None) -> list[str]:
    """Every ``SHARDS``-th operation from ``shard`` on, a bounded number of requests in each mode —
    fitting the description with the demo's own ids in the path (``known``: so the answers come from
    real data), fitting it with any path, and not fitting it (negative); the problems found, one a line."""
    found = []
    operations = sorted((result.ok() for result in schema.get_all_operations()),
                        key=lambda op: (op.path, op.method.upper()))[shard::SHARDS]
    for operation in sorted(operations, key=lambda op: op.method.upper() == "DELETE"):  # deleting last
        names = re.findall(r"{(\w+)}", operation.path)
        known = known or {}
        fixed = {name: known["katottg"] if name == "code" and "/hromadas/" in operation.path else known[name]
                 for name in names if name in known}
        modes = [("demo", GenerationMode.POSITIVE, fixed)] if fixed else []
        modes += [("positive", GenerationMode.POSITIVE, None), ("negative", GenerationMode.NEGATIVE, None)]
        for label, mode, path in modes:
            counts = STATUSES.setdefault(operation.label, Counter())
            drawn = DRAWN.get(_shape(operation, mode, path)) if DERANDOMIZED else None
            try:
                if drawn is not None:
                    _replay(operation, drawn, counts, base_url, headers, checks)
                else:
                    _draw_and_call(operation, mode, path, counts, base_url, headers, checks)
            except (Exception, BaseExceptionGroup) as exc:  # a check failed: name it, go on with the others
                found.append(f"{operation.label} ({label}): {type(exc).__name__}: {str(exc)[:1500]}")
    return found


# The OGC document describes every collection's operations alike (the same parameters, the same Feature
# body; only the path and the names differ). Hypothesis, derandomized, then draws the very same requests
# for each of the 24 collections; drawing them, mostly the negative ones, was most of the OGC fuzzing's
# time. So the requests drawn for an operation are kept by what they were drawn from, and sent as they
# are to each other operation described the same way: the same requests, drawn once. (With
# HROMADA_FUZZ_EXAMPLES every operation draws its own, random ones.)
DERANDOMIZED = not os.environ.get("HROMADA_FUZZ_EXAMPLES")
DRAWN: dict[str, list] = {}  # by _shape: the cases Hypothesis drew, each a copy made before its call


def _shape(operation, mode, path_parameters) -> str:
    """What an operation's requests are drawn from: its description without its names."""
    described = {k: v for k, v in operation.definition.raw.items() if k not in ("summary", "operationId",
                                                                                 "description")}
    return json.dumps([operation.method.upper(), re.findall(r"{\w+}", operation.path), described, mode.value,
                       path_parameters], sort_keys=True, default=str)


def _draw_and_call(operation, mode, path_parameters, counts: Counter, base_url, headers, checks) -> None:
    drawn = []

    @FAST
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def run(case):
        drawn.append(_copy(case, operation))
        response = case.call_and_validate(base_url=base_url, headers=headers, checks=checks, timeout=60)
        counts[response.status_code] += 1

    try:
        run()
    except Unsatisfiable:  # nothing can be made wrong about it (e.g. no parameters at all)
        pass
    # Kept only when every drawn request was answered well: a failure ends Hypothesis's run early.
    DRAWN[_shape(operation, mode, path_parameters)] = drawn


def _replay(operation, drawn: list, counts: Counter, base_url, headers, checks) -> None:
    for case in drawn:
        response = _copy(case, operation).call_and_validate(base_url=base_url, headers=headers, checks=checks,
                                                            timeout=60)
        counts[response.status_code] += 1


def _copy(case, operation):
    """``case``'s request, unchanged by any later call, for ``operation``."""
    headers = None if case.headers is None else CaseInsensitiveDict(_fresh(dict(case.headers)))
    return Case(operation=operation, method=case.method, path=operation.path,
                path_parameters=_fresh(case.path_parameters), headers=headers, cookies=_fresh(case.cookies),
                query=_fresh(case.query), body=_fresh(case.body), media_type=case.media_type,
                multipart_content_types=case.multipart_content_types, meta=case._meta)


def _fresh(value):
    """New dicts and lists all the way down; the values in them (strings, numbers) as they are."""
    if isinstance(value, dict):
        return {key: _fresh(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_fresh(item) for item in value]
    return value


def demo_ids(engine, client) -> dict:
    """Ids of the demo's own objects (and a report filed now) for the path parameters."""
    def first(sql):
        return str(scalar(engine, sql))

    lon, lat = inside(engine, "Якушинці")
    report = client.post("/api/reports", json={"lat": lat, "lon": lon, "category": "overflowing_bin",
                                                "description": "Сміття"}).get_json()["code"]
    return {"code": report, "service_request_id": report, "token": report,
            "katottg": first("SELECT katottg FROM hromada"), "key": first("SELECT min(id) FROM reconstruction_project"),
            "segment_id": first("SELECT min(id) FROM road_segment"), "feature_id": "1", "version": "1",
            "service_code": "street_light_out"}


@pytest.mark.parametrize("shard", range(SHARDS))
def test_the_json_apis_keep_to_their_description(app, client, live_server, demo_db, draft, shard):
    app.config.update(WTF_CSRF_ENABLED=False, REPORT_RATE_LIMIT="10000 per minute",
                      OPEN311_RATE_LIMIT="10000 per minute")
    token = add_user(demo_db, "editor@example.org", "admin", "planner")
    known = demo_ids(demo_db, client)
    known.update(plan_id=str(draft["plan"]), zone_id=str(draft["zone"]))
    schema = schemathesis.openapi.from_url(f"{live_server}/api/openapi.json")
    problems = exercise(schema, live_server, API_CHECKS, shard=shard, known=known,
                        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    print("\n".join(f"{label}: {dict(counts)}" for label, counts in sorted(STATUSES.items())))
    assert not problems, "\n\n".join(problems)


@pytest.mark.parametrize("shard", range(SHARDS))
def test_the_ogc_api_answers_no_server_error(live_server, demo_db, shard):
    schema = schemathesis.openapi.from_url(f"{live_server}/ogc/api")
    problems = exercise(schema, f"{live_server}/ogc", [not_a_server_error], shard=shard)
    assert not problems, "\n\n".join(problems)
