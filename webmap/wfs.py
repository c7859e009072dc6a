"""WFS 1.1.0 with transactions (WFS-T) on the layers the OGC API serves (issue #19: QGIS 3.22 edits).

Debian's QGIS 3.22 reads OGC API – Features but its OGC API provider cannot edit; its WFS provider
can, with WFS 1.0.0 and 1.1.0 only (not 2.0), so this serves 1.1.0 (GML 3.1.1) at ``/wfs``:

GET  /wfs?SERVICE=WFS&REQUEST=GetCapabilities         the layers the caller may view; Insert, Update
                                                      and Delete advertised per type the caller may edit
GET  /wfs?…&REQUEST=DescribeFeatureType&TYPENAME=…    XML Schema from the layer's declaration
GET  /wfs?…&REQUEST=GetFeature&TYPENAME=…             GML 3.1.1; BBOX, MAXFEATURES (COUNT), SRSNAME,
                                                      FEATUREID, a FILTER of feature ids or a BBOX,
                                                      RESULTTYPE=hits
POST /wfs  (text/xml)                                 Transaction (and the three reads as XML)

Every write goes through ``layers.writable`` — the same functions, rules, versions and history as
OGC API Part 4 (webmap/ogc_write.py), and every writable layer appears here by itself:

- Insert → ``Writable.create``;
- Update (Property elements: values, or a GML geometry) → ``Writable.update_versionless``: WFS names
  no version, so only the properties named are merged into the current version under the plan's lock,
  recorded as versionless and flagged for review when a colleague's fresh value is replaced;
- Delete (feature ids) → ``Writable.delete_versionless``: a version that can be reverted.

One WFS Transaction is one database transaction: any refusal (a rule on save, a role, a bad value)
writes nothing and answers an OWS ExceptionReport naming it in Ukrainian and English. Statuses: a
malformed request is a 400, no sign-in a 401 (``WWW-Authenticate: Basic``), a role or hromada that
may not edit a 403; a well-formed Transaction refused for what it asks (a zone that overlaps, a code
not in the classifier, a feature that is not there) is an ExceptionReport with 200, as WFS 1.x
servers answer — QGIS 3.22 shows the report's text only then (with a 4xx it says just "not added").

Readers are who the OGC API says they are (webmap.access): anonymous sees the public rows, a planner's
personal token (``Authorization: Bearer``, or as the password of HTTP Basic — QGIS 3.22's Basic
authentication) sees the drafts too. Basic credentials that sign nobody in are a 401 with the Basic
challenge, reads included, so QGIS says so rather than showing only public features. POST needs a
signed-in caller (a 401 with the Basic challenge otherwise): anonymous reading is GET's.

Request documents are parsed by lxml without a DTD, entities or network (a DOCTYPE is refused); GML
geometries (3.1.1 or 3.2) are then read by PostGIS (``ST_GeomFromGML``, the maintained GML reader at
hand) in a savepoint, the axis order applied here from the srsName, and their coordinates checked, so
a geometry that cannot be read is refused with a report and the database transaction is unharmed.
Coordinates: ``urn:ogc:def:crs:EPSG::4326`` (the default) and ``http://www.opengis.net/def/crs/EPSG/0/4326``
are latitude first; ``EPSG:4326`` and CRS84 longitude first (GeoServer's convention, which QGIS follows).
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field

import numpy
import shapely
import shapely.errors
import shapely.geometry
import sqlalchemy as sa
from flask import Blueprint, Response, current_app, request, url_for
from flask_wtf.csrf import CSRFError
from lxml import etree
from werkzeug.exceptions import HTTPException

from gis.errors import Forbidden, HromadaError, InvalidInput, Unauthorized
from gis.user_tokens import BASIC_CHALLENGE
from layers import query
from layers.base import Layer, label
from layers.plans import Editor
from layers.query import feature_hromada_id, feature_select, geometry_out, table_of
from layers.registry import get_layer, viewable_layers
from layers.writable import Writable, may, roles_to, writable
from webmap.access import (
    current_user,
    read_roles,
    refuse_basic_that_signs_nobody_in,
    signed_in_required,
    token_authenticated,
)
from webmap.database import connection, engine
from webmap.extensions import csrf
from webmap.i18n import current_lang

bp = Blueprint("wfs", __name__, url_prefix="/wfs")

VERSION = "1.1.0"
WFS = "http://www.opengis.net/wfs"
OGC = "http://www.opengis.net/ogc"
GML = "http://www.opengis.net/gml"
GML32 = "http://www.opengis.net/gml/3.2"  # read too (PostGIS reads both), never written
OWS = "http://www.opengis.net/ows"
XSD = "http://www.w3.org/2001/XMLSchema"
XLINK = "http://www.w3.org/1999/xlink"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
# The application schema's namespace: fixed, not the host's URL, so a proxy's host name never changes it.
APP = "urn:hromada-gis:wfs"
APP_PREFIX = "hromada"
NSMAP = {"wfs": WFS, "ogc": OGC, "gml": GML, "ows": OWS, "xlink": XLINK, "xsi": XSI, APP_PREFIX: APP}

DEFAULT_SRS = "urn:ogc:def:crs:EPSG::4326"
GML_FORMAT = "text/xml; subtype=gml/3.1.1"
GML_FORMATS = {"text/xml; subtype=gml/3.1.1", "text/xml;subtype=gml/3.1.1", "text/xml", "gml3", "application/gml+xml",
               "application/gml+xml; version=3.1"}
MAX_FEATURES = 10_000  # the most one GetFeature answers (advertised as DefaultMaxFeatures)
COORD_DECIMALS = 7
XML_TYPES = {"text/xml", "application/xml", "application/gml+xml"}

# Field types of the declarations as XML Schema types (QGIS reads int/long/double/decimal/dateTime;
# the rest it edits as text, and layers.values reads them as their field's type on save).
XSD_TYPES = {"text": "string", "integer": "long", "number": "double", "money": "decimal", "boolean": "boolean",
             "date": "date", "datetime": "dateTime", "choice": "string", "unit": "long", "hromada": "long",
             "category": "long", "json": "string"}
GML_PROPERTY_TYPES = {"Point": "PointPropertyType", "MultiPoint": "MultiPointPropertyType",
                      "LineString": "LineStringPropertyType", "MultiLineString": "MultiCurvePropertyType",
                      "Polygon": "PolygonPropertyType", "MultiPolygon": "MultiSurfacePropertyType"}


# --- the CRSs a request may name ------------------------------------------------------------------

@dataclass(frozen=True)
class Srs:
    name: str  # as the answer names it
    srid: int
    lat_first: bool


URN_4326 = Srs(DEFAULT_SRS, 4326, True)
SRS_NAMES = {
    "urn:ogc:def:crs:EPSG::4326": URN_4326, "urn:ogc:def:crs:EPSG:6.6:4326": URN_4326,
    "urn:x-ogc:def:crs:EPSG:4326": URN_4326, "urn:x-ogc:def:crs:EPSG::4326": URN_4326,
    "http://www.opengis.net/def/crs/EPSG/0/4326": Srs("http://www.opengis.net/def/crs/EPSG/0/4326", 4326, True),
    "EPSG:4326": Srs("EPSG:4326", 4326, False),
    "http://www.opengis.net/gml/srs/epsg.xml#4326": Srs("http://www.opengis.net/gml/srs/epsg.xml#4326", 4326, False),
    "urn:ogc:def:crs:OGC:1.3:CRS84": Srs("urn:ogc:def:crs:OGC:1.3:CRS84", 4326, False),
    "urn:ogc:def:crs:OGC::CRS84": Srs("urn:ogc:def:crs:OGC:1.3:CRS84", 4326, False),
    "http://www.opengis.net/def/crs/OGC/1.3/CRS84": Srs("http://www.opengis.net/def/crs/OGC/1.3/CRS84", 4326, False),
    "CRS:84": Srs("CRS:84", 4326, False),
    "EPSG:3857": Srs("EPSG:3857", 3857, False), "urn:ogc:def:crs:EPSG::3857": Srs("urn:ogc:def:crs:EPSG::3857", 3857,
                                                                                    False),
    "EPSG:900913": Srs("EPSG:3857", 3857, False),
}


def _srs(name: str | None, locator: str = "srsName") -> Srs:
    if name is None or not name.strip():
        return URN_4326
    found = SRS_NAMES.get(name.strip())
    if found is None:
        raise WfsError(f"{locator}={name!r} не підтримується; можливі: {DEFAULT_SRS}, EPSG:4326, CRS84, EPSG:3857",
                       f"{locator}={name!r} is not supported; supported: {DEFAULT_SRS}, EPSG:4326, CRS84, EPSG:3857",
                       locator=locator)
    return found


# --- errors: OWS ExceptionReports --------------------------------------------------------------------

class WfsError(InvalidInput):
    """A refused WFS request: a 400 ExceptionReport with an OWS exception code and a locator."""

    def __init__(self, uk: str, en: str, *, code: str = "InvalidParameterValue", locator: str | None = None,
                 status: int = 400):
        super().__init__(uk, en)
        self.ows_code, self.locator, self.http_status = code, locator, status


OWS_CODES = {400: "InvalidParameterValue", 401: "NoApplicableCode", 403: "NoApplicableCode",
             404: "InvalidParameterValue", 409: "OperationProcessingFailed", 412: "OperationProcessingFailed",
             415: "InvalidParameterValue", 422: "OperationProcessingFailed", 428: "OperationProcessingFailed",
             503: "NoApplicableCode"}
# Refusals of a request itself (a parameter, a document) are a 400 whatever the error's own status: a WFS
# client knows no 404, 409 or 422. Sign-in (401), roles (403) and the database (503) keep theirs. A
# parsed Transaction refused for what it asks is answered with 200: see transaction().
KEPT_STATUSES = {401, 403, 503}


def exception_report(uk: str, en: str, code: str, locator: str | None, status: int) -> Response:
    """An OWS 1.0 ExceptionReport (WFS 1.1.0). Unprefixed, so a client that compares tag names (QGIS)
    finds it; the first text holds both languages (QGIS shows only the first), then each on its own."""
    root = etree.Element(f"{{{OWS}}}ExceptionReport", nsmap={None: OWS}, version="1.0.0")
    root.set("{http://www.w3.org/XML/1998/namespace}lang", current_lang())
    exception = etree.SubElement(root, f"{{{OWS}}}Exception", exceptionCode=code)
    if locator:
        exception.set("locator", locator)
    first, second = (uk, en) if current_lang() == "uk" else (en, uk)
    etree.SubElement(exception, f"{{{OWS}}}ExceptionText").text = first if first == second else f"{first} / {second}"
    for lang, text in (("uk", uk), ("en", en)):
        etree.SubElement(exception, f"{{{OWS}}}ExceptionText",
                         {"{http://www.w3.org/XML/1998/namespace}lang": lang}).text = text
    return _xml(root, status=status)


def _report(error: HromadaError, status: int) -> Response:
    code = getattr(error, "ows_code", None) or OWS_CODES.get(error.http_status, "NoApplicableCode")
    return exception_report(error.uk, error.en, code, getattr(error, "locator", None), status)


@bp.errorhandler(HromadaError)
def _refused(error: HromadaError):
    status = error.http_status if error.http_status in KEPT_STATUSES else 400
    response = _report(error, status)
    if status == 401:
        response.headers["WWW-Authenticate"] = BASIC_CHALLENGE  # QGIS 3.22 answers Basic only
    return response


@bp.errorhandler(sa.exc.DataError)
def _refused_by_the_database(exc: sa.exc.DataError):
    # PostgreSQL refused a value (a NUL byte in text, a number out of range): the request's fault.
    return exception_report("Запит містить неприпустимі символи або значення",
                            "The request contains characters or values that cannot be accepted",
                            "InvalidParameterValue", None, 400)


@bp.errorhandler(CSRFError)  # the app's own handler for it is found before a blueprint's for HTTPException
@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException):
    status = error.code or 400
    if status == 405:
        response = exception_report("Цей метод тут не підтримується: WFS приймає GET і POST",
                                    "This method is not allowed here: WFS takes GET and POST",
                                    "OperationNotSupported", None, 405)
        response.headers["Allow"] = "GET, HEAD, POST, OPTIONS"
        return response
    if status == 413:
        return exception_report("Запит завеликий", "The request is too large", "InvalidParameterValue", None, 413)
    if isinstance(error, CSRFError):
        return exception_report("Сесія браузера пише лише з токеном захисту форми (CSRF); QGIS та інші клієнти — "
                                "з персональним токеном API як паролем Basic",
                                f"A browser session writes only with the form's CSRF token ({error.description}); "
                                "QGIS and other clients use a personal API token as the Basic password",
                                "NoApplicableCode", None, 400)
    text = error.description or error.name
    return exception_report(text, text, "NoApplicableCode", None, status if status < 500 else 400)


@bp.before_request
def _basic_credentials_must_sign_in() -> None:
    """As on the OGC API (webmap.access.refuse_basic_that_signs_nobody_in)."""
    refuse_basic_that_signs_nobody_in()


@bp.after_request
def _private(response: Response) -> Response:
    # What a request shows depends on who asks (drafts): never kept by a cache, QGIS's own included.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers.add("Vary", "Authorization")
    return response


def _xml(root: etree._Element, status: int = 200, mimetype: str = "text/xml") -> Response:
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return Response(body, status=status, mimetype=mimetype)


# --- parsing request documents safely ----------------------------------------------------------------

def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=True, remove_pis=True)


def parse_document(data: bytes, what: str = "body") -> etree._Element:
    """An XML document without a DTD (so without entities): lxml resolves none, loads nothing from the
    network, and refuses a DOCTYPE here."""
    if not data or not data.strip():
        raise WfsError(f"{what}: порожній XML-документ", f"{what}: an empty XML document",
                       code="MissingParameterValue", locator=what)
    try:
        tree = etree.fromstring(data, _parser()).getroottree()
    except etree.XMLSyntaxError as exc:
        raise WfsError(f"{what}: неправильний XML ({exc})", f"{what}: malformed XML ({exc})", locator=what) from None
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise WfsError(f"{what}: DOCTYPE не приймається", f"{what}: a DOCTYPE is not accepted", locator=what)
    return tree.getroot()


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _ns(tag) -> str | None:
    return etree.QName(tag).namespace if isinstance(tag, str) else None


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [child for child in parent if isinstance(child.tag, str)]


def _unprefixed(name: str) -> str:
    return name.rsplit("/", 1)[-1].split(":", 1)[-1].strip()


# --- the layers ---------------------------------------------------------------------------------------

def _visible_layer(type_name: str, locator: str = "typeName") -> Layer:
    """The layer a type name names, if the caller may view it; a 400 naming it otherwise (as if absent)."""
    name = _unprefixed(type_name)
    try:
        layer = get_layer(name)
    except HromadaError:
        layer = None
    if layer is None or not layer.permissions.can_view(read_roles()):
        raise WfsError(f"Типу об'єктів {type_name!r} немає", f"There is no feature type {type_name!r}",
                       locator=locator)
    return layer


ACTIONS = {"Insert": "create", "Update": "update", "Delete": "delete"}


def _editable_operations(layer: Layer) -> list[str]:
    """The Transaction operations the caller may use on ``layer`` somewhere (none for anonymous); each
    write checks the roles held in the feature's own hromada."""
    spec = writable(layer.name)
    user = current_user()
    if spec is None or user is None:
        return []
    offered = {"Insert": True, "Update": spec.update_versionless is not None,
               "Delete": spec.delete_versionless is not None}
    return [name for name, action in ACTIONS.items() if offered[name] and may(layer.name, user.roles, action)]


# --- GetCapabilities ---------------------------------------------------------------------------------

def _service_url() -> str:
    return url_for("wfs.service", _external=True)


def _dcp(parent, get: bool = True, post: bool = True) -> None:
    http = etree.SubElement(etree.SubElement(parent, f"{{{OWS}}}DCP"), f"{{{OWS}}}HTTP")
    url = _service_url()
    if get:
        etree.SubElement(http, f"{{{OWS}}}Get", {f"{{{XLINK}}}href": url + ("" if url.endswith("?") else "?")})
    if post:
        etree.SubElement(http, f"{{{OWS}}}Post", {f"{{{XLINK}}}href": url})


def _parameter(parent, name: str, *values: str) -> None:
    parameter = etree.SubElement(parent, f"{{{OWS}}}Parameter", name=name)
    for value in values:
        etree.SubElement(parameter, f"{{{OWS}}}Value").text = value


def capabilities() -> Response:
    lang = current_lang()
    layers = viewable_layers(read_roles())
    operations = {layer.name: _editable_operations(layer) for layer in layers}
    root = etree.Element(f"{{{WFS}}}WFS_Capabilities", nsmap=NSMAP, version=VERSION, updateSequence="0")
    root.set(f"{{{XSI}}}schemaLocation", f"{WFS} http://schemas.opengis.net/wfs/1.1.0/wfs.xsd")
    ident = etree.SubElement(root, f"{{{OWS}}}ServiceIdentification")
    etree.SubElement(ident, f"{{{OWS}}}Title").text = ("Громада ГІС — WFS" if lang == "uk" else "Hromada GIS — WFS")
    etree.SubElement(ident, f"{{{OWS}}}Abstract").text = (
        "Шари громади як WFS 1.1.0; планувальники редагують із QGIS (WFS-T) персональним токеном як паролем Basic"
        if lang == "uk" else
        "The community's layers as WFS 1.1.0; planners edit from QGIS (WFS-T) with a personal token as the Basic "
        "password")
    etree.SubElement(ident, f"{{{OWS}}}ServiceType").text = "WFS"
    etree.SubElement(ident, f"{{{OWS}}}ServiceTypeVersion").text = VERSION
    etree.SubElement(ident, f"{{{OWS}}}Fees").text = "NONE"
    etree.SubElement(ident, f"{{{OWS}}}AccessConstraints").text = "NONE"
    metadata = etree.SubElement(root, f"{{{OWS}}}OperationsMetadata")
    for name in ("GetCapabilities", "DescribeFeatureType", "GetFeature"):
        operation = etree.SubElement(metadata, f"{{{OWS}}}Operation", name=name)
        _dcp(operation)
        if name == "GetCapabilities":
            _parameter(operation, "AcceptVersions", VERSION)
        if name == "DescribeFeatureType":
            _parameter(operation, "outputFormat", "text/xml; subtype=gml/3.1.1")
        if name == "GetFeature":
            _parameter(operation, "resultType", "results", "hits")
            _parameter(operation, "outputFormat", GML_FORMAT)
    if any(operations.values()):
        _dcp(etree.SubElement(metadata, f"{{{OWS}}}Operation", name="Transaction"), get=False)
    constraint = etree.SubElement(metadata, f"{{{OWS}}}Constraint", name="DefaultMaxFeatures")
    etree.SubElement(constraint, f"{{{OWS}}}Value").text = str(MAX_FEATURES)
    type_list = etree.SubElement(root, f"{{{WFS}}}FeatureTypeList")
    etree.SubElement(etree.SubElement(type_list, f"{{{WFS}}}Operations"), f"{{{WFS}}}Operation").text = "Query"
    for layer in layers:
        feature_type = etree.SubElement(type_list, f"{{{WFS}}}FeatureType")
        etree.SubElement(feature_type, f"{{{WFS}}}Name").text = f"{APP_PREFIX}:{layer.name}"
        etree.SubElement(feature_type, f"{{{WFS}}}Title").text = label(layer.title, lang)
        etree.SubElement(feature_type, f"{{{WFS}}}Abstract").text = label(layer.description or layer.title, lang)
        etree.SubElement(feature_type, f"{{{WFS}}}DefaultSRS").text = DEFAULT_SRS
        for other in ("EPSG:4326", "urn:ogc:def:crs:OGC:1.3:CRS84", "EPSG:3857"):
            etree.SubElement(feature_type, f"{{{WFS}}}OtherSRS").text = other
        ops = etree.SubElement(feature_type, f"{{{WFS}}}Operations")
        for name in ("Query", *operations[layer.name]):
            etree.SubElement(ops, f"{{{WFS}}}Operation").text = name
        formats = etree.SubElement(feature_type, f"{{{WFS}}}OutputFormats")
        etree.SubElement(formats, f"{{{WFS}}}Format").text = GML_FORMAT
        extent = query.layer_extent(connection(), layer)
        if extent[0] is not None:
            box = etree.SubElement(feature_type, f"{{{OWS}}}WGS84BoundingBox")
            etree.SubElement(box, f"{{{OWS}}}LowerCorner").text = f"{extent[0]} {extent[1]}"
            etree.SubElement(box, f"{{{OWS}}}UpperCorner").text = f"{extent[2]} {extent[3]}"
    filters = etree.SubElement(root, f"{{{OGC}}}Filter_Capabilities")
    spatial = etree.SubElement(filters, f"{{{OGC}}}Spatial_Capabilities")
    operands = etree.SubElement(spatial, f"{{{OGC}}}GeometryOperands")
    etree.SubElement(operands, f"{{{OGC}}}GeometryOperand").text = "gml:Envelope"
    operators = etree.SubElement(spatial, f"{{{OGC}}}SpatialOperators")
    etree.SubElement(operators, f"{{{OGC}}}SpatialOperator", name="BBOX")
    etree.SubElement(filters, f"{{{OGC}}}Scalar_Capabilities")
    ids = etree.SubElement(filters, f"{{{OGC}}}Id_Capabilities")
    etree.SubElement(ids, f"{{{OGC}}}FID")
    etree.SubElement(ids, f"{{{OGC}}}EID")
    return _xml(root)


# --- DescribeFeatureType -----------------------------------------------------------------------------

def describe_feature_type(type_names: list[str]) -> Response:
    layers = [_visible_layer(name) for name in type_names] if type_names else viewable_layers(read_roles())
    schema = etree.Element(f"{{{XSD}}}schema", nsmap={"xsd": XSD, "gml": GML, APP_PREFIX: APP},
                           targetNamespace=APP, elementFormDefault="qualified", version="1.0")
    etree.SubElement(schema, f"{{{XSD}}}import", namespace=GML,
                     schemaLocation="http://schemas.opengis.net/gml/3.1.1/base/gml.xsd")
    for layer in layers:
        staff = layer.permissions.sees_staff_fields(read_roles())
        etree.SubElement(schema, f"{{{XSD}}}element", name=layer.name, type=f"{APP_PREFIX}:{layer.name}Type",
                         substitutionGroup="gml:_Feature")
        complex_type = etree.SubElement(schema, f"{{{XSD}}}complexType", name=f"{layer.name}Type")
        extension = etree.SubElement(etree.SubElement(complex_type, f"{{{XSD}}}complexContent"),
                                     f"{{{XSD}}}extension", base="gml:AbstractFeatureType")
        sequence = etree.SubElement(extension, f"{{{XSD}}}sequence")
        etree.SubElement(sequence, f"{{{XSD}}}element", name=layer.geometry_column,
                         type=f"gml:{GML_PROPERTY_TYPES.get(layer.geometry, 'GeometryPropertyType')}",
                         minOccurs="0", maxOccurs="1", nillable="true")
        for f in layer.visible_fields(staff):
            etree.SubElement(sequence, f"{{{XSD}}}element", name=f.name, type=f"xsd:{XSD_TYPES.get(f.type, 'string')}",
                             minOccurs="0", maxOccurs="1", nillable="true")
    return _xml(schema, mimetype="text/xml")


# --- GetFeature ------------------------------------------------------------------------------------

@dataclass
class Query:
    layers: list[Layer]
    srs: Srs = URN_4326
    max_features: int = MAX_FEATURES
    start: int = 0
    hits: bool = False
    ids: dict[str, list[int]] = field(default_factory=dict)  # layer name → feature ids (a FeatureId filter)
    bbox: tuple[float, float, float, float, Srs] | None = None


FID = re.compile(r"(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w-]*)\.([0-9]{1,18})")


def _feature_id(text: str, layer: Layer | None = None, locator: str = "featureId") -> tuple[str, int]:
    """``plan_zones.12`` (or ``hromada:plan_zones.12``; a bare number for ``layer``) → (layer name, id)."""
    text = (text or "").strip()
    found = FID.fullmatch(text)
    if found:
        return found.group(1), int(found.group(2))
    if layer is not None and re.fullmatch(r"[0-9]{1,18}", text):
        return layer.name, int(text)
    raise WfsError(f"Ідентифікатор об'єкта {text!r} не має вигляду шар.номер (наприклад, plan_zones.12)",
                   f"The feature id {text!r} is not layer.number (e.g. plan_zones.12)", locator=locator)


def _number(text: str, name: str, low: int, high: int) -> int:
    text = (text or "").strip()
    if not re.fullmatch(r"[0-9]{1,9}", text) or not low <= int(text) <= high:
        raise WfsError(f"{name}={text!r}: ціле число від {low} до {high}",
                       f"{name}={text!r}: a whole number from {low} to {high}", locator=name)
    return int(text)


def _bbox(text: str, locator: str = "BBOX") -> tuple[float, float, float, float, Srs]:
    parts = [p.strip() for p in (text or "").split(",")]
    srs = _srs(parts[4], locator) if len(parts) == 5 else URN_4326
    try:
        values = [float(p) for p in parts[:4]]
    except ValueError:
        values = []
    if len(parts) not in (4, 5) or len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise WfsError(f"{locator}={text!r}: потрібно чотири числа (і, можливо, СК)",
                       f"{locator}={text!r}: four numbers are needed (and maybe a CRS)", locator=locator)
    return (*values, srs)


def _envelope_condition(layer: Layer, bbox) -> sa.ColumnElement:
    a, b, c, d, srs = bbox
    x1, y1, x2, y2 = (b, a, d, c) if srs.lat_first else (a, b, c, d)
    if x1 > x2 or y1 > y2:
        raise WfsError("BBOX: мінімум більший за максимум", "BBOX: a minimum is greater than its maximum",
                       locator="BBOX")
    envelope = sa.func.ST_MakeEnvelope(x1, y1, x2, y2, srs.srid)
    if srs.srid != 4326:
        if srs.srid == 3857 and max(abs(x1), abs(x2), abs(y1), abs(y2)) > 20037508.35:
            raise WfsError("BBOX поза межами EPSG:3857", "BBOX outside EPSG:3857", locator="BBOX")
        envelope = sa.func.ST_Transform(envelope, 4326)
    elif not (-180 <= x1 <= 180 and -180 <= x2 <= 180 and -90 <= y1 <= 90 and -90 <= y2 <= 90):
        raise WfsError("BBOX: довгота −180…180, широта −90…90 (чи не переплутано порядок осей?)",
                       "BBOX: longitude −180…180, latitude −90…90 (are the axes swapped?)", locator="BBOX")
    return sa.func.ST_Intersects(table_of(layer).c[layer.geometry_column], envelope)


def _filter(element: etree._Element, query_: Query) -> None:
    """An ogc:Filter of feature ids (FeatureId, GmlObjectId, or 2.0's ResourceId) or one BBOX; anything
    else is refused."""
    if _local(element.tag) != "Filter":
        raise WfsError("FILTER: потрібен елемент ogc:Filter", "FILTER: an ogc:Filter element is needed",
                       locator="FILTER")
    children = _elements(element)
    if children and all(_local(c.tag) in ("FeatureId", "GmlObjectId", "ResourceId") for c in children):
        for child in children:
            text = {"FeatureId": child.get("fid"), "ResourceId": child.get("rid")}.get(
                _local(child.tag), child.get(f"{{{GML}}}id") or child.get(f"{{{GML32}}}id"))
            name, fid = _feature_id(text or "", locator="FILTER")
            query_.ids.setdefault(name, []).append(fid)
        return
    if len(children) == 1 and _local(children[0].tag) == "BBOX":
        envelope = next((e for e in children[0].iter() if _local(e.tag) == "Envelope"), None)
        corners = {} if envelope is None else {_local(e.tag): e.text or "" for e in _elements(envelope)}
        if "lowerCorner" not in corners or "upperCorner" not in corners:
            raise WfsError("FILTER: BBOX потребує gml:Envelope з lowerCorner і upperCorner",
                           "FILTER: BBOX needs a gml:Envelope with lowerCorner and upperCorner", locator="FILTER")
        values = corners["lowerCorner"].split() + corners["upperCorner"].split()
        srs_name = envelope.get("srsName")
        query_.bbox = _bbox(",".join(values + ([srs_name] if srs_name else [])), "FILTER")
        return
    raise WfsError("FILTER: підтримано лише ідентифікатори об'єктів (FeatureId, GmlObjectId) або один BBOX",
                   "FILTER: only feature ids (FeatureId, GmlObjectId) or one BBOX are supported",
                   code="OperationNotSupported", locator="FILTER")


def _check_output_format(value: str | None) -> None:
    if value and value.strip().lower().replace('"', "") not in {f.lower() for f in GML_FORMATS}:
        raise WfsError(f"outputFormat={value!r} не підтримується; можливий: {GML_FORMAT}",
                       f"outputFormat={value!r} is not supported; supported: {GML_FORMAT}", locator="outputFormat")


def _gml_geometry(layer: Layer, srs: Srs):
    """The geometry column as GML 3.1.1 in ``srs`` (PostGIS's ST_AsGML: 1 long CRS name, 4 LineString
    not Curve, 16 latitude first)."""
    def shape(geom):
        if srs.srid == 3857:
            return sa.func.ST_AsGML(3, sa.func.ST_Transform(geom, 3857), 2, 4)
        options = 4 | (1 | 16 if srs.lat_first else 0)
        return sa.func.ST_AsGML(3, geometry_out(geom, None), COORD_DECIMALS, options)
    return shape


def get_feature(query_: Query) -> Response:
    roles = read_roles()
    root = etree.Element(f"{{{WFS}}}FeatureCollection", nsmap=NSMAP)
    root.set("timeStamp", dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
    total, remaining, start = 0, query_.max_features, query_.start
    members = []
    for layer in query_.layers:
        table = table_of(layer)
        conditions = []
        if query_.ids:
            wanted = query_.ids.get(layer.name, [])
            conditions.append(table.c[layer.id_column].in_(wanted) if wanted else sa.false())
        if query_.bbox is not None:
            conditions.append(_envelope_condition(layer, query_.bbox))
        staff = layer.permissions.sees_staff_fields(roles)
        # The select every feature reader runs (layers.query): the visible rows and fields only.
        select, where = feature_select(layer, staff=staff, roles=roles, conditions=conditions,
                                       geometry=_gml_geometry(layer, query_.srs))
        conn = connection()
        matched = conn.execute(sa.select(sa.func.count()).select_from(table).where(where)).scalar_one()
        total += matched
        if query_.hits or remaining <= 0:
            continue
        rows = conn.execute(select.limit(remaining).offset(start)).mappings().all()
        start = max(0, start - matched)
        remaining -= len(rows)
        members.append((layer, layer.visible_fields(staff), rows))
    root.set("numberOfFeatures", str(total if query_.hits else sum(len(rows) for _, _, rows in members)))
    if query_.hits:
        return _xml(root, mimetype="text/xml")
    for layer, fields, rows in members:
        for row in rows:
            member = etree.SubElement(root, f"{{{GML}}}featureMember")
            feature = etree.SubElement(member, f"{{{APP}}}{layer.name}", {f"{{{GML}}}id": f"{layer.name}.{row['_id']}"})
            geometry = etree.SubElement(feature, f"{{{APP}}}{layer.geometry_column}")
            if row["_geometry"]:
                gml = etree.fromstring(f'<x xmlns:gml="{GML}">{row["_geometry"]}</x>', _parser())[0]
                if query_.srs.name not in (DEFAULT_SRS, "EPSG:4326"):
                    gml.set("srsName", query_.srs.name)
                geometry.append(gml)
            for f in fields:
                value = row[f.name]
                element = etree.SubElement(feature, f"{{{APP}}}{f.name}")
                if value is None:
                    element.set(f"{{{XSI}}}nil", "true")
                else:
                    element.text = _text(value)
    return _xml(root, mimetype=GML_FORMAT)


NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # characters XML 1.0 cannot hold


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return NOT_XML.sub("\ufffd", str(value))  # a control character an import kept: shown, never a failure


# --- Transaction ----------------------------------------------------------------------------------

@dataclass
class Result:
    inserted: list[str] = field(default_factory=list)
    updated: int = 0
    deleted: int = 0


def _editor(layer: Layer, action: str) -> tuple[Editor, Writable]:
    """The signed-in editor of ``layer`` and its Writable: 401 for nobody, 403 for a role that may not
    ``action`` its features anywhere, a refusal for a layer that cannot be written."""
    user = current_user()
    if user is None:
        raise Unauthorized("Увійдіть: персональний токен API як пароль HTTP Basic (ім'я — будь-яке)",
                           "Sign in: a personal API token as the HTTP Basic password (any user name)")
    spec = writable(layer.name)
    if spec is None:
        raise WfsError(f"Шар {layer.name} не редагують через WFS", f"Layer {layer.name} cannot be edited over WFS",
                       code="OperationNotSupported", locator=layer.name)
    if not may(layer.name, user.roles, action):
        roles = ", ".join(sorted(roles_to(layer.name, action)))
        raise Forbidden(f"Це в шарі «{label(layer.title, 'uk')}» можуть лише: {roles}",
                        f"Only these roles may do this in “{label(layer.title, 'en')}”: {roles}")
    return Editor(user.id, user.grants), spec


def _require_hromada_editor(conn: sa.Connection, layer: Layer, editor: Editor, feature_id: int,
                            action: str) -> None:
    """Before anything else about an existing feature: 403 unless the roles held in its hromada may."""
    hromada_id = feature_hromada_id(conn, layer, feature_id)
    if hromada_id is not None and not may(layer.name, editor.roles_in(hromada_id), action):
        raise Forbidden("Змінювати об'єкти цієї громади можуть лише її планувальники й адміністратори",
                        "Only this hromada's planners and admins may change its features")


def _gml_to_geojson(conn: sa.Connection, element: etree._Element, default: Srs, locator: str) -> dict:
    """A GML geometry element as a GeoJSON geometry in WGS 84 (longitude first), read by PostGIS in a
    savepoint: a geometry it cannot read is a 400, and the transaction goes on."""
    names = {e.get("srsName") for e in element.iter() if isinstance(e.tag, str) and e.get("srsName")}
    if len(names) > 1:
        raise WfsError("Геометрія має кілька srsName", "The geometry names several srsName", locator=locator)
    srs = _srs(names.pop(), locator) if names else default
    fragment = etree.fromstring(etree.tostring(element), _parser())  # a copy: the request stays as sent
    for e in fragment.iter():
        if isinstance(e.tag, str) and e.get("srsName"):
            del e.attrib["srsName"]  # the SRID is given below; the axis order is ours to apply
    text = etree.tostring(fragment, encoding="unicode")
    geom = sa.func.ST_GeomFromGML(text, srs.srid)
    if srs.lat_first:
        geom = sa.func.ST_FlipCoordinates(geom)
    if srs.srid != 4326:
        geom = sa.func.ST_Transform(geom, 4326)
    try:
        with conn.begin_nested():
            found = conn.execute(sa.select(sa.func.ST_AsGeoJSON(geom, 9))).scalar()
    except sa.exc.DBAPIError as exc:
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        raise WfsError(f"{locator}: геометрію GML не прочитано ({reason})",
                       f"{locator}: the GML geometry cannot be read ({reason})", locator=locator) from None
    if not found:
        raise WfsError(f"{locator}: порожня геометрія", f"{locator}: an empty geometry", locator=locator)
    geometry = current_app.json.loads(found)
    _check_coordinates(geometry, locator)
    return geometry


def _check_coordinates(geometry: dict, locator: str) -> None:
    """Longitudes −180…180 and latitudes −90…90, finite, not empty: PostGIS's rules on save would fail
    on others (a transform of an infinite coordinate) instead of saying so."""
    try:
        shape = shapely.geometry.shape(geometry)
        coordinates = shapely.get_coordinates(shape)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, shapely.errors.ShapelyError):
        coordinates = None
    if coordinates is None or not len(coordinates):
        raise WfsError(f"{locator}: геометрія без координат", f"{locator}: a geometry without coordinates",
                       locator=locator)
    lon, lat = coordinates[:, 0], coordinates[:, 1]
    if not (numpy.isfinite(coordinates).all() and (abs(lon) <= 180).all() and (abs(lat) <= 90).all()):
        raise WfsError(f"{locator}: координати поза межами WGS 84 (довгота −180…180, широта −90…90; чи не "
                       "переплутано порядок осей або СК?)",
                       f"{locator}: coordinates outside WGS 84 (longitude −180…180, latitude −90…90; are the axes "
                       "or the CRS mixed up?)", locator=locator)


def _geometry_child(element: etree._Element, locator: str) -> etree._Element:
    children = _elements(element)
    if len(children) != 1 or _ns(children[0].tag) not in (GML, GML32):
        raise WfsError(f"{locator}: потрібна одна геометрія GML", f"{locator}: one GML geometry is needed",
                       locator=locator)
    return children[0]


def _property_value(layer: Layer, name: str, value: etree._Element | None, locator: str):
    if name not in {f.name for f in layer.fields}:
        raise WfsError(f"У шарі {layer.name} немає властивості {name!r}",
                       f"Layer {layer.name} has no property {name!r}", locator=locator)
    if value is None:
        return None
    if _elements(value):
        raise WfsError(f"{name}: очікується значення, а не XML", f"{name}: a value is expected, not XML",
                       locator=locator)
    text = value.text or ""
    return text if text.strip() else None


def _insert(conn: sa.Connection, action: etree._Element, result: Result) -> None:
    default = _srs(action.get("srsName"), "Insert/@srsName") if action.get("srsName") else URN_4326
    for feature in _elements(action):
        if _ns(feature.tag) in (GML, GML32):
            continue
        layer = _visible_layer(_local(feature.tag), "Insert")
        editor, spec = _editor(layer, "create")
        properties, geometry = {}, None
        for child in _elements(feature):
            name = _local(child.tag)
            if _ns(child.tag) in (GML, GML32):  # gml:boundedBy, gml:name …: not the layer's
                continue
            locator = f"{layer.name}/{name}"
            if name == layer.geometry_column:
                geometry = _gml_to_geojson(conn, _geometry_child(child, locator), default, locator)
            elif name not in spec.server_fields:
                properties[name] = _property_value(layer, name, child, locator)
        if geometry is None:
            raise WfsError(f"{layer.name}: об'єкт без геометрії не зберігають",
                           f"{layer.name}: a feature without a geometry is not stored", locator=layer.name)
        new_id = spec.create(conn, editor, properties, geometry)
        result.inserted.append(f"{layer.name}.{new_id}")


def _target_ids(conn: sa.Connection, action: etree._Element, layer: Layer) -> list[int]:
    """The feature ids an Update or Delete names (its Filter of FeatureId/GmlObjectId only: a WFS-T
    write never reaches features it does not name)."""
    filters = [c for c in _elements(action) if _local(c.tag) == "Filter"]
    if len(filters) != 1:
        raise WfsError(f"{_local(action.tag)}: потрібен один ogc:Filter з ідентифікаторами об'єктів",
                       f"{_local(action.tag)}: one ogc:Filter of feature ids is needed", locator="Filter")
    query_ = Query(layers=[layer])
    _filter(filters[0], query_)
    if query_.bbox is not None or not query_.ids:
        raise WfsError("Змінюють і вилучають лише названі об'єкти (FeatureId), а не за BBOX",
                       "Only named features (FeatureId) are changed or deleted, never by BBOX",
                       code="OperationNotSupported", locator="Filter")
    other = set(query_.ids) - {layer.name}
    if other:
        raise WfsError(f"Ідентифікатори інших шарів ({', '.join(sorted(other))}) у дії над {layer.name}",
                       f"Ids of other layers ({', '.join(sorted(other))}) in an action on {layer.name}",
                       locator="Filter")
    return list(dict.fromkeys(query_.ids[layer.name]))


def _update(conn: sa.Connection, action: etree._Element, result: Result) -> None:
    layer = _visible_layer(action.get("typeName") or "", "Update/@typeName")
    editor, spec = _editor(layer, "update")
    if spec.update_versionless is None:
        raise WfsError(f"Шар {layer.name} змінюють лише з версією (OGC API, If-Match)",
                       f"Layer {layer.name} is changed only with a version (OGC API, If-Match)",
                       code="OperationNotSupported", locator="Update")
    default = _srs(action.get("srsName"), "Update/@srsName") if action.get("srsName") else URN_4326
    properties, geometry = {}, None
    for prop in (c for c in _elements(action) if _local(c.tag) == "Property"):
        name_element = next((c for c in _elements(prop) if _local(c.tag) == "Name"), None)
        value = next((c for c in _elements(prop) if _local(c.tag) == "Value"), None)
        name = _unprefixed(name_element.text or "") if name_element is not None else ""
        locator = f"{layer.name}/{name or 'Property'}"
        if not name:
            raise WfsError("Property без Name", "A Property without a Name", locator="Property")
        if name == layer.geometry_column:
            if value is None:
                raise WfsError(f"{locator}: геометрію не вилучають", f"{locator}: a geometry cannot be removed",
                               locator=locator)
            geometry = _gml_to_geojson(conn, _geometry_child(value, locator), default, locator)
        elif name not in spec.server_fields:  # QGIS sends back what it read; the server keeps those
            properties[name] = _property_value(layer, name, value, locator)
        else:
            _property_value(layer, name, None, locator)  # a known field all the same
    for fid in _target_ids(conn, action, layer):
        _require_hromada_editor(conn, layer, editor, fid, "update")
        if properties or geometry is not None:
            spec.update_versionless(conn, editor, fid, properties=properties, geometry=geometry)
        result.updated += 1


def _delete(conn: sa.Connection, action: etree._Element, result: Result) -> None:
    layer = _visible_layer(action.get("typeName") or "", "Delete/@typeName")
    editor, spec = _editor(layer, "delete")
    if spec.delete_versionless is None:
        raise WfsError(f"Шар {layer.name} вилучають лише з версією (OGC API, If-Match)",
                       f"Layer {layer.name} is deleted only with a version (OGC API, If-Match)",
                       code="OperationNotSupported", locator="Delete")
    for fid in _target_ids(conn, action, layer):
        _require_hromada_editor(conn, layer, editor, fid, "delete")
        spec.delete_versionless(conn, editor, fid)
        result.deleted += 1


def transaction(root: etree._Element) -> Response:
    if _ns(root.tag) != WFS:
        raise WfsError("Transaction має бути в просторі імен WFS 1.1.0 (http://www.opengis.net/wfs)",
                       "The Transaction must be in the WFS 1.1.0 namespace (http://www.opengis.net/wfs)",
                       code="VersionNegotiationFailed", locator="Transaction")
    if current_user() is None:
        raise Unauthorized("Увійдіть: персональний токен API як пароль HTTP Basic (ім'я — будь-яке)",
                           "Sign in: a personal API token as the HTTP Basic password (any user name)")
    # A session cookie writes with the form's CSRF token, as anywhere; a token needs none (another
    # site's page cannot send it, nor a text/xml body without a CORS preflight this service never allows).
    if not token_authenticated() and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()
    actions = _elements(root)
    if not actions:
        raise WfsError("Transaction без дій (Insert, Update, Delete)", "A Transaction without actions "
                       "(Insert, Update, Delete)", code="MissingParameterValue", locator="Transaction")
    handlers = {"Insert": _insert, "Update": _update, "Delete": _delete}
    result = Result()
    try:
        with engine().begin() as conn:  # all or nothing
            for action in actions:
                handler = handlers.get(_local(action.tag)) if _ns(action.tag) == WFS else None
                if handler is None:
                    raise WfsError(f"Дія {_local(action.tag)!r} не підтримується (Insert, Update, Delete)",
                                   f"Action {_local(action.tag)!r} is not supported (Insert, Update, Delete)",
                                   code="OperationNotSupported", locator=_local(action.tag))
                handler(conn, action, result)
    except HromadaError as error:
        if error.http_status in KEPT_STATUSES:
            raise
        # A transaction refused for what it asks (a rule on save, a value, a zone that is not there):
        # an ExceptionReport with 200, as WFS 1.x servers answer (GeoServer, MapServer) and the only
        # way QGIS 3.22 shows its text ("WFS exception report …" in the commit errors); with a 4xx it
        # says only that the features were not saved. Malformed requests stay 400.
        return _report(error, status=200)
    answer = etree.Element(f"{{{WFS}}}TransactionResponse", nsmap={"wfs": WFS, "ogc": OGC}, version=VERSION)
    summary = etree.SubElement(answer, f"{{{WFS}}}TransactionSummary")
    for name, count in (("totalInserted", len(result.inserted)), ("totalUpdated", result.updated),
                        ("totalDeleted", result.deleted)):
        etree.SubElement(summary, f"{{{WFS}}}{name}").text = str(count)
    if result.inserted:
        inserted = etree.SubElement(answer, f"{{{WFS}}}InsertResults")
        for fid in result.inserted:
            feature = etree.SubElement(inserted, f"{{{WFS}}}Feature")
            etree.SubElement(feature, f"{{{OGC}}}FeatureId", fid=fid)
    return _xml(answer)


# --- the requests --------------------------------------------------------------------------------

def _check_version(version: str | None, request_name: str) -> None:
    if version and version.strip() not in (VERSION, "1.1"):
        code = "VersionNegotiationFailed" if request_name == "GetCapabilities" else "InvalidParameterValue"
        raise WfsError(f"VERSION={version!r}: цей сервіс — WFS {VERSION}",
                       f"VERSION={version!r}: this service is WFS {VERSION}", code=code, locator="VERSION")


def _kvp() -> dict[str, str]:
    return {key.upper(): value for key, value in request.args.items()}


def _kvp_query(args: dict[str, str]) -> Query:
    names = [n for n in (args.get("TYPENAME") or args.get("TYPENAMES") or "").split(",") if n.strip()]
    exclusive = [k for k in ("FEATUREID", "BBOX", "FILTER", "RESOURCEID") if args.get(k)]
    if len(exclusive) > 1:
        raise WfsError(f"{' і '.join(exclusive)} разом не задають", f"{' and '.join(exclusive)} are mutually "
                       "exclusive", locator=exclusive[1])
    query_ = Query(layers=[])
    if args.get("FEATUREID") or args.get("RESOURCEID"):
        for text in (args.get("FEATUREID") or args.get("RESOURCEID")).split(","):
            name, fid = _feature_id(text)
            query_.ids.setdefault(name, []).append(fid)
        if not names:
            names = list(query_.ids)
    if not names:
        raise WfsError("Бракує параметра TYPENAME", "The TYPENAME parameter is missing", code="MissingParameterValue",
                       locator="TYPENAME")
    query_.layers = list({layer.name: layer for layer in (_visible_layer(n, "TYPENAME") for n in names)}.values())
    if args.get("BBOX"):
        query_.bbox = _bbox(args["BBOX"])
    if args.get("FILTER"):
        _filter(parse_document(args["FILTER"].encode(), "FILTER"), query_)
    query_.srs = _srs(args.get("SRSNAME"), "SRSNAME")
    count = args.get("MAXFEATURES") or args.get("COUNT")
    if count:
        query_.max_features = _number(count, "MAXFEATURES", 1, MAX_FEATURES)
    if args.get("STARTINDEX"):
        query_.start = _number(args["STARTINDEX"], "STARTINDEX", 0, 10**9)
    result_type = (args.get("RESULTTYPE") or "results").lower()
    if result_type not in ("results", "hits"):
        raise WfsError(f"RESULTTYPE={result_type!r}: results або hits", f"RESULTTYPE={result_type!r}: results or hits",
                       locator="RESULTTYPE")
    query_.hits = result_type == "hits"
    _check_output_format(args.get("OUTPUTFORMAT"))
    return query_


@bp.get("/")
def service():
    """WFS 1.1.0 key-value requests (GetCapabilities, DescribeFeatureType, GetFeature)."""
    args = _kvp()
    service_name = args.get("SERVICE")
    name = (args.get("REQUEST") or "").strip()
    if not name:
        raise WfsError("Бракує параметра REQUEST (GetCapabilities, DescribeFeatureType, GetFeature)",
                       "The REQUEST parameter is missing (GetCapabilities, DescribeFeatureType, GetFeature)",
                       code="MissingParameterValue", locator="REQUEST")
    if service_name is None or service_name.strip().upper() != "WFS":
        raise WfsError("Потрібен SERVICE=WFS", "SERVICE=WFS is needed",
                       code="MissingParameterValue" if service_name is None else "InvalidParameterValue",
                       locator="SERVICE")
    name_lower = name.lower()
    if name_lower == "getcapabilities":
        accepted = args.get("ACCEPTVERSIONS")
        if accepted and VERSION not in [v.strip() for v in accepted.split(",")]:
            raise WfsError(f"ACCEPTVERSIONS={accepted!r}: сервіс підтримує лише {VERSION}",
                           f"ACCEPTVERSIONS={accepted!r}: the service supports only {VERSION}",
                           code="VersionNegotiationFailed", locator="ACCEPTVERSIONS")
        return capabilities()  # a VERSION asked for is negotiated down to ours, as WFS 1.1.0 says
    if name_lower == "describefeaturetype":
        _check_version(args.get("VERSION"), name)
        names = [n for n in (args.get("TYPENAME") or args.get("TYPENAMES") or "").split(",") if n.strip()]
        return describe_feature_type(names)
    if name_lower == "getfeature":
        _check_version(args.get("VERSION"), name)
        return get_feature(_kvp_query(args))
    if name_lower == "transaction":
        raise WfsError("Transaction надсилають POST-запитом (XML)", "A Transaction is sent as a POST (XML)",
                       code="OperationNotSupported", locator="REQUEST")
    raise WfsError(f"REQUEST={name!r} не підтримується (GetCapabilities, DescribeFeatureType, GetFeature, "
                   "Transaction)", f"REQUEST={name!r} is not supported (GetCapabilities, DescribeFeatureType, "
                   "GetFeature, Transaction)", code="OperationNotSupported", locator="REQUEST")


def _xml_query(root: etree._Element) -> Query:
    queries = [c for c in _elements(root) if _local(c.tag) == "Query"]
    if not queries:
        raise WfsError("GetFeature без wfs:Query", "A GetFeature without a wfs:Query", code="MissingParameterValue",
                       locator="Query")
    query_ = Query(layers=[])
    for element in queries:
        for name in (element.get("typeName") or "").split(","):
            if name.strip():
                query_.layers.append(_visible_layer(name))
        if element.get("srsName"):
            query_.srs = _srs(element.get("srsName"))
        for child in _elements(element):
            if _local(child.tag) == "Filter":
                _filter(child, query_)
    if not query_.layers:
        raise WfsError("wfs:Query без typeName", "A wfs:Query without a typeName", code="MissingParameterValue",
                       locator="typeName")
    if root.get("maxFeatures"):
        query_.max_features = _number(root.get("maxFeatures"), "maxFeatures", 1, MAX_FEATURES)
    result_type = (root.get("resultType") or "results").lower()
    if result_type not in ("results", "hits"):
        raise WfsError(f"resultType={result_type!r}: results або hits", f"resultType={result_type!r}: results or hits",
                       locator="resultType")
    query_.hits = result_type == "hits"
    _check_output_format(root.get("outputFormat"))
    return query_


@bp.post("/")
@csrf.exempt  # a session's writes are checked in transaction(); a token's need no CSRF token
@signed_in_required  # POST is for editors (a 401 with the Basic challenge otherwise); reading is GET's
def service_post():
    """WFS 1.1.0 XML requests: Transaction, and GetCapabilities, DescribeFeatureType, GetFeature."""
    if request.mimetype not in XML_TYPES:
        raise WfsError(f"Content-Type {request.mimetype or '(немає)'} не приймається; потрібен text/xml",
                       f"Content-Type {request.mimetype or '(none)'} is not accepted; text/xml is needed",
                       locator="Content-Type")
    root = parse_document(request.get_data())
    name = _local(root.tag)
    if root.get("service", "WFS").upper() != "WFS":
        raise WfsError("Потрібен service=\"WFS\"", "service=\"WFS\" is needed", locator="service")
    if name == "Transaction":
        _check_version(root.get("version"), name)
        return transaction(root)
    if name == "GetCapabilities":
        return capabilities()
    if name == "DescribeFeatureType":
        _check_version(root.get("version"), name)
        return describe_feature_type([c.text or "" for c in _elements(root) if _local(c.tag) == "TypeName"])
    if name == "GetFeature":
        _check_version(root.get("version"), name)
        return get_feature(_xml_query(root))
    raise WfsError(f"Запит {name!r} не підтримується", f"Request {name!r} is not supported",
                   code="OperationNotSupported", locator=name)


__all__ = ["bp", "exception_report", "parse_document"]
