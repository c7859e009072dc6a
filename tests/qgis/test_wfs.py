"""WFS 1.1.0 with transactions (webmap/wfs.py) over plain HTTP: what QGIS 3.22 asks and sends, and
every way a request is refused (an OWS ExceptionReport, never a 500, nothing half written)."""
from __future__ import annotations

import base64

import pytest
import sqlalchemy as sa
from lxml import etree

from tests.helpers import scalar
from tests.layers.test_plans import D, square
from tests.webmap.test_ogc_transactions import plan, tokens  # noqa: F401  (fixtures)

NS = {"wfs": "http://www.opengis.net/wfs", "ows": "http://www.opengis.net/ows", "gml": "http://www.opengis.net/gml",
      "ogc": "http://www.opengis.net/ogc", "xsd": "http://www.w3.org/2001/XMLSchema", "h": "urn:hromada-gis:wfs"}
KVP = "/wfs?SERVICE=WFS&VERSION=1.1.0&REQUEST="


def basic(token: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"planner@example.org:{token}".encode()).decode()}


def xml(answer, status: int = 200):
    assert answer.status_code == status, answer.get_data(as_text=True)
    return etree.fromstring(answer.data)


def refused(answer, status: int, words: str, code: str | None = None) -> etree._Element:
    root = xml(answer, status)
    assert etree.QName(root).localname == "ExceptionReport" and root.nsmap.get(None) == NS["ows"]
    exception = root.find("ows:Exception", NS)
    texts = [t.text for t in exception.findall("ows:ExceptionText", NS)]
    assert any(words in t for t in texts), texts
    assert len(texts) == 3 and all(texts)  # both languages first (QGIS shows the first), then each
    if code:
        assert exception.get("exceptionCode") == code
    return root


def gml_polygon(geometry: dict, srs: str = "urn:ogc:def:crs:EPSG::4326") -> str:
    ring = geometry["coordinates"][0]
    pairs = [(y, x) for x, y in ring] if "urn" in srs else ring
    pos = " ".join(f"{a} {b}" for a, b in pairs)
    return (f'<gml:MultiSurface srsName="{srs}"><gml:surfaceMember><gml:Polygon><gml:exterior><gml:LinearRing>'
            f'<gml:posList srsDimension="2">{pos}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>'
            f'</gml:surfaceMember></gml:MultiSurface>')


def transaction(*actions: str) -> str:
    return ('<wfs:Transaction xmlns:wfs="http://www.opengis.net/wfs" xmlns:ogc="http://www.opengis.net/ogc" '
            'xmlns:gml="http://www.opengis.net/gml" xmlns:hromada="urn:hromada-gis:wfs" service="WFS" '
            f'version="1.1.0">{"".join(actions)}</wfs:Transaction>')


def insert(plan_id: int, geometry: dict, **properties) -> str:
    values = "".join(f"<hromada:{k}>{v}</hromada:{k}>" for k, v in {"plan_id": plan_id, **properties}.items())
    return (f"<wfs:Insert><hromada:plan_zones>{values}<hromada:geom>{gml_polygon(geometry)}</hromada:geom>"
            "</hromada:plan_zones></wfs:Insert>")


def update(zone_id: int, **properties) -> str:
    props = "".join(f"<wfs:Property><wfs:Name>{k}</wfs:Name>"
                    + ("" if v is None else f"<wfs:Value>{v}</wfs:Value>") + "</wfs:Property>"
                    for k, v in properties.items())
    return (f'<wfs:Update typeName="hromada:plan_zones">{props}<ogc:Filter>'
            f'<ogc:FeatureId fid="plan_zones.{zone_id}"/></ogc:Filter></wfs:Update>')


def delete(zone_id: int) -> str:
    return (f'<wfs:Delete typeName="hromada:plan_zones"><ogc:Filter><ogc:FeatureId fid="plan_zones.{zone_id}"/>'
            "</ogc:Filter></wfs:Delete>")


def post(client, body: str, token: str | None, content_type: str = "text/xml"):
    return client.post("/wfs", data=body.encode(), content_type=content_type,
                       headers=basic(token) if token else {})


def test_capabilities_describe_and_features_by_role(client, plan, tokens):
    plan_id, x, y = plan
    created = xml(post(client, transaction(insert(plan_id, square(x, y), zone_code="Ж-1", name="Чернетка")),
                       tokens["planner"]))
    fid = created.find(".//ogc:FeatureId", NS).get("fid")
    assert created.findtext(".//wfs:totalInserted", namespaces=NS) == "1" and fid.startswith("plan_zones.")
    # Anonymous: plan_zones is listed (published zones are public) but no Transaction and no draft.
    anonymous = xml(client.get(KVP + "GetCapabilities"))
    assert anonymous.get("version") == "1.1.0"
    assert "hromada:plan_zones" in [n.text for n in anonymous.findall(".//wfs:FeatureType/wfs:Name", NS)]
    assert not anonymous.xpath("//ows:Operation[@name='Transaction']", namespaces=NS)
    planner = xml(client.get(KVP + "GetCapabilities", headers=basic(tokens["planner"])))
    assert planner.xpath("//ows:Operation[@name='Transaction']", namespaces=NS)
    zones_type = planner.xpath("//wfs:FeatureType[wfs:Name='hromada:plan_zones']", namespaces=NS)[0]
    assert [o.text for o in zones_type.findall("wfs:Operations/wfs:Operation", NS)] == [
        "Query", "Insert", "Update", "Delete"]
    assert zones_type.findtext("wfs:DefaultSRS", namespaces=NS) == "urn:ogc:def:crs:EPSG::4326"
    # QGIS's version negotiation: whatever it accepts, 1.1.0 is what it gets.
    assert xml(client.get("/wfs?SERVICE=WFS&REQUEST=GetCapabilities&ACCEPTVERSIONS=2.0.0,1.1.0,1.0.0")).get(
        "version") == "1.1.0"
    schema = xml(client.get(KVP + "DescribeFeatureType&TYPENAME=hromada:plan_zones"))
    types = {e.get("name"): e.get("type") for e in schema.iterfind(".//xsd:sequence/xsd:element", NS)}
    assert types["geom"] == "gml:MultiSurfacePropertyType" and types["max_height_m"] == "xsd:double"
    assert types["zone_code"] == "xsd:string" and types["version"] == "xsd:long"
    assert schema.get("targetNamespace") == NS["h"]
    # GetFeature: the draft zone for the planner only; latitude first in the default CRS.
    url = KVP + f"GetFeature&TYPENAME=hromada:plan_zones&FEATUREID={fid}"
    assert xml(client.get(url)).get("numberOfFeatures") == "0"
    collection = xml(client.get(url, headers=basic(tokens["planner"])))
    zone = collection.find(".//h:plan_zones", NS)
    assert zone.get(f"{{{NS['gml']}}}id") == fid and zone.findtext("h:name", namespaces=NS) == "Чернетка"
    first = [float(v) for v in zone.findtext(".//gml:posList", namespaces=NS).split()[:2]]
    assert first == pytest.approx([y, x])
    lon_first = xml(client.get(url + "&SRSNAME=EPSG:4326", headers=basic(tokens["planner"])))
    assert [float(v) for v in lon_first.findtext(".//gml:posList", namespaces=NS).split()[:2]] == pytest.approx([x, y])
    # BBOX in the default CRS (latitude first), hits, and a FILTER of ids.
    bbox = f"{y - D / 10},{x - D / 10},{y + D / 10},{x + D / 10},urn:ogc:def:crs:EPSG::4326"
    hits = xml(client.get(KVP + f"GetFeature&TYPENAME=hromada:plan_zones&BBOX={bbox}&RESULTTYPE=hits",
                          headers=basic(tokens["planner"])))
    assert hits.get("numberOfFeatures") == "1" and hits.find(".//h:plan_zones", NS) is None
    filtered = xml(client.get(KVP + "GetFeature&TYPENAME=plan_zones&FILTER=" + (
        f'<ogc:Filter xmlns:ogc="http://www.opengis.net/ogc"><ogc:FeatureId fid="{fid}"/></ogc:Filter>'),
        headers=basic(tokens["planner"])))
    assert len(filtered.findall(".//h:plan_zones", NS)) == 1
    # A control character an import left in a value is shown replaced, never a broken document.
    with client.application.extensions["hromada_engine"].begin() as conn:
        conn.execute(sa.text("UPDATE plan_zone SET notes = 'a' || chr(1) || 'b', version = version + 1 WHERE id = :i"),
                     {"i": int(fid.split(".")[1])})
    odd = xml(client.get(url, headers=basic(tokens["planner"])))
    assert odd.find(".//h:notes", NS).text == "a\ufffdb"


def test_a_transaction_is_all_or_nothing_and_recorded(client, plan, tokens, demo_db):
    plan_id, x, y = plan
    token = tokens["planner"]
    # The second insert overlaps the first: neither is written, and QGIS is told why, in both languages.
    answer = post(client, transaction(insert(plan_id, square(x, y), zone_code="Ж-1"),
                                      insert(plan_id, square(x + D / 2, y), zone_code="Р")), token)
    refused(answer, 200, "overlaps", "OperationProcessingFailed")  # 200: QGIS 3.22 shows only such a report
    assert scalar(demo_db, "SELECT count(*) FROM plan_zone WHERE plan_id = :p", p=plan_id) == 0
    done = xml(post(client, transaction(insert(plan_id, square(x, y), zone_code="Ж-1", name="А"),
                                        insert(plan_id, square(x + D, y), zone_code="Р", max_height_m="12,5")), token))
    first, second = [int(f.get("fid").split(".")[1]) for f in done.iterfind(".//ogc:FeatureId", NS)]
    assert scalar(demo_db, "SELECT max_height_m FROM plan_zone WHERE id = :i", i=second) == 12.5
    # Update: a value, an emptied value (no Value), a geometry; Delete; all in one transaction.
    moved = square(x + 2 * D, y)
    body = transaction(update(first, name="Б", permitted_uses=None, version=99),
                       f'<wfs:Update typeName="hromada:plan_zones"><wfs:Property><wfs:Name>hromada:geom</wfs:Name>'
                       f'<wfs:Value>{gml_polygon(moved, "EPSG:4326")}</wfs:Value></wfs:Property><ogc:Filter>'
                       f'<ogc:FeatureId fid="plan_zones.{second}"/></ogc:Filter></wfs:Update>',
                       delete(first))
    summary = xml(post(client, body, token)).find("wfs:TransactionSummary", NS)
    assert [summary.findtext(f"wfs:{n}", namespaces=NS) for n in ("totalInserted", "totalUpdated",
                                                                 "totalDeleted")] == ["0", "2", "1"]
    assert scalar(demo_db, "SELECT ST_XMin(geom) FROM plan_zone WHERE id = :i", i=second) == pytest.approx(x + 2 * D)
    rows = scalar(demo_db, """SELECT json_agg(json_build_array(v.version, v.operation, a.email, v.versionless,
                                              v.attributes->>'name') ORDER BY v.version)
                              FROM plan_zone_version v JOIN app_user a ON a.id = v.user_id WHERE v.zone_id = :z""",
                  z=first)
    assert rows == [[1, "create", "planner@example.org", False, "А"], [2, "update", "planner@example.org", True, "Б"],
                    [3, "delete", "planner@example.org", True, "Б"]]


def test_refusals_are_exception_reports(client, plan, tokens, demo_db):
    plan_id, x, y = plan
    token = tokens["planner"]
    refused(client.get("/wfs"), 400, "REQUEST", "MissingParameterValue")
    refused(client.get("/wfs?REQUEST=GetCapabilities"), 400, "SERVICE=WFS", "MissingParameterValue")
    refused(client.get(KVP + "GetMap"), 400, "not supported", "OperationNotSupported")
    refused(client.get(KVP + "GetFeature"), 400, "TYPENAME", "MissingParameterValue")
    refused(client.get(KVP + "GetFeature&TYPENAME=nope"), 400, "no feature type")
    refused(client.get(KVP + "GetFeature&TYPENAME=plan_zones&BBOX=1,2,3"), 400, "four numbers")
    refused(client.get(KVP + "GetFeature&TYPENAME=plan_zones&BBOX=1,2,3,4,EPSG:1234"), 400, "not supported")
    refused(client.get(KVP + "GetFeature&TYPENAME=plan_zones&MAXFEATURES=0"), 400, "whole number")
    refused(client.get(KVP + "GetFeature&TYPENAME=plan_zones&FEATUREID=12"), 400, "layer.number")
    refused(client.get(KVP + "GetFeature&TYPENAME=plan_zones&FILTER=<x"), 400, "malformed XML")
    refused(client.get("/wfs?SERVICE=WFS&REQUEST=GetFeature&VERSION=2.0.0&TYPENAMES=plan_zones"), 400, "1.1.0")
    refused(client.get(KVP + "GetFeature&TYPENAME=plan_zones&OUTPUTFORMAT=application/json"), 400, "outputFormat")
    # Writes: anonymous 401 with the Basic challenge; a resident 403; a wrong token 401 (reads too).
    body = transaction(insert(plan_id, square(x, y), zone_code="Ж-1"))
    answer = post(client, body, None)
    refused(answer, 401, "Sign in")
    assert answer.headers["WWW-Authenticate"].startswith("Basic ")
    refused(post(client, body, tokens["resident"]), 403, "Only these roles may do this in “Functional zones”: admin, "
            "planner")
    wrong = client.get(KVP + "GetCapabilities", headers=basic("hgut_made-up"))
    refused(wrong, 401, "invalid or revoked")
    assert wrong.headers["WWW-Authenticate"].startswith("Basic ")
    # Bodies: not XML, a DOCTYPE (no entity is ever expanded), an unknown action, a filter by BBOX.
    refused(post(client, body, token, content_type="application/x-www-form-urlencoded"), 400, "text/xml")
    refused(post(client, "<nope", token), 400, "malformed XML")
    bomb = '<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaa">]>' + body
    refused(post(client, bomb, token), 400, "DOCTYPE")
    # A Transaction refused for what it asks: a report with 200 (QGIS 3.22 shows its text only then).
    refused(post(client, transaction("<wfs:Native/>"), token), 200, "not supported", "OperationNotSupported")
    by_bbox = ('<wfs:Delete typeName="plan_zones"><ogc:Filter><ogc:BBOX><gml:Envelope><gml:lowerCorner>0 0'
               '</gml:lowerCorner><gml:upperCorner>90 90</gml:upperCorner></gml:Envelope></ogc:BBOX></ogc:Filter>'
               '</wfs:Delete>')
    refused(post(client, transaction(by_bbox), token), 200, "never by BBOX")
    refused(post(client, transaction(insert(plan_id, square(x, y), zone_code="Ж-1", colour="red")), token), 200,
            "no property 'colour'")
    refused(post(client, transaction(insert(plan_id, square(x, y), zone_code="XX")), token), 200,
            "not in the classifier")
    bad_gml = transaction(f"<wfs:Insert><hromada:plan_zones><hromada:plan_id>{plan_id}</hromada:plan_id>"
                          "<hromada:zone_code>Р</hromada:zone_code><hromada:geom><gml:Polygon><gml:nonsense/>"
                          "</gml:Polygon></hromada:geom></hromada:plan_zones></wfs:Insert>")
    refused(post(client, bad_gml, token), 200, "cannot be read")
    far = {"type": "Polygon", "coordinates": [[[1e308, 1], [1, 1], [2, 2], [1e308, 1]]]}
    refused(post(client, transaction(insert(plan_id, far, zone_code="Р")), token), 200, "outside WGS 84")
    refused(client.get(KVP + "GetFeature&TYPENAME=plan_zones&FEATUREID=plan_zones.999999999999999999"), 400,
            "cannot be accepted")  # beyond PostgreSQL's integer: refused by the database, answered as a report
    refused(post(client, transaction(update(999999, name="X")), token), 200, "999999")
    assert scalar(demo_db, "SELECT count(*) FROM plan_zone WHERE plan_id = :p", p=plan_id) == 0


def test_a_session_writes_only_with_the_csrf_token(client, plan, tokens, demo_db):
    """A browser's session (or Basic credentials it remembers) is no way for another site to write:
    POST needs a signed-in caller, text/xml needs a CORS preflight, and a session needs the CSRF token."""
    from tests.webmap.test_reports_http import log_in

    plan_id, x, y = plan
    body = transaction(insert(plan_id, square(x, y), zone_code="Ж-1"))
    log_in(client, "planner@example.org")
    refused(post(client, body, None), 400, "CSRF")
    assert scalar(demo_db, "SELECT count(*) FROM plan_zone WHERE plan_id = :p", p=plan_id) == 0
    # Reading with the session is fine (GET), and a Filter by ResourceId (WFS 2.0's name) is understood.
    found = xml(client.get(KVP + "GetFeature&TYPENAME=plan_zones&FILTER=" + (
        '<fes:Filter xmlns:fes="http://www.opengis.net/fes/2.0"><fes:ResourceId rid="plan_zones.1"/></fes:Filter>')))
    assert found.get("numberOfFeatures") in ("0", "1")


def test_every_writable_layer_is_edited_the_same_way(client, tokens, demo_db):
    """Nothing per layer in the WFS: a layer layers.writable makes writable (street lamps here) is a
    type with Insert/Update/Delete for its editors, written through the same functions and history."""
    from layers.writable import writable
    from tests.helpers import inside

    assert writable("street_lamps") is not None
    token = tokens["admin"]
    capabilities = xml(client.get(KVP + "GetCapabilities", headers=basic(token)))
    lamps = capabilities.xpath("//wfs:FeatureType[wfs:Name='hromada:street_lamps']", namespaces=NS)[0]
    assert [o.text for o in lamps.findall("wfs:Operations/wfs:Operation", NS)] == [
        "Query", "Insert", "Update", "Delete"]
    planner = xml(client.get(KVP + "GetCapabilities", headers=basic(tokens["planner"])))
    lamps = planner.xpath("//wfs:FeatureType[wfs:Name='hromada:street_lamps']", namespaces=NS)[0]
    assert [o.text for o in lamps.findall("wfs:Operations/wfs:Operation", NS)] == ["Query"]
    schema = xml(client.get(KVP + "DescribeFeatureType&TYPENAME=hromada:street_lamps"))
    assert schema.find(".//xsd:element[@name='geom']", NS).get("type") == "gml:PointPropertyType"
    x, y = inside(demo_db, "Якушинці")
    point = f'<gml:Point srsName="EPSG:4326"><gml:pos>{x} {y}</gml:pos></gml:Point>'
    created = xml(post(client, transaction(
        "<wfs:Insert><hromada:street_lamps><hromada:ref>WFS-1</hromada:ref><hromada:status>working</hromada:status>"
        f"<hromada:power_w>40</hromada:power_w><hromada:geom>{point}</hromada:geom></hromada:street_lamps>"
        "</wfs:Insert>"), token))
    fid = created.find(".//ogc:FeatureId", NS).get("fid")
    lamp = int(fid.split(".")[1])
    assert scalar(demo_db, "SELECT ref || ' ' || status || ' ' || power_w FROM street_lamp WHERE id = :i",
                  i=lamp) == "WFS-1 working 40"
    changed = post(client, transaction(
        '<wfs:Update typeName="hromada:street_lamps"><wfs:Property><wfs:Name>status</wfs:Name><wfs:Value>faulty'
        f'</wfs:Value></wfs:Property><ogc:Filter><ogc:FeatureId fid="{fid}"/></ogc:Filter></wfs:Update>'), token)
    assert xml(changed).findtext(".//wfs:totalUpdated", namespaces=NS) == "1"
    assert scalar(demo_db, "SELECT status FROM street_lamp WHERE id = :i", i=lamp) == "faulty"
    refused(post(client, transaction(
        f'<wfs:Delete typeName="street_lamps"><ogc:Filter><ogc:FeatureId fid="{fid}"/></ogc:Filter></wfs:Delete>'),
        tokens["planner"]), 403, "Only these roles")
    deleted = post(client, transaction(
        f'<wfs:Delete typeName="street_lamps"><ogc:Filter><ogc:FeatureId fid="{fid}"/></ogc:Filter></wfs:Delete>'),
        token)
    assert xml(deleted).findtext(".//wfs:totalDeleted", namespaces=NS) == "1"
    assert scalar(demo_db, "SELECT count(*) FROM street_lamp WHERE id = :i", i=lamp) == 0
    authors = scalar(demo_db, """SELECT array_agg(DISTINCT a.email) FROM feature_version v JOIN app_user a
                                 ON a.id = v.user_id WHERE v.layer = 'street_lamps' AND v.feature_id = :i""", i=lamp)
    assert authors == ["admin@example.org"]  # street lamps keep their history (Layer.history)
    assert scalar(demo_db, """SELECT array_agg(op ORDER BY version) FROM feature_version
                              WHERE layer = 'street_lamps' AND feature_id = :i""", i=lamp) == [
        "insert", "update", "delete"]
