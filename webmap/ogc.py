"""OGC API – Features (Part 1 Core, GeoJSON, HTML, OpenAPI 3.0; Part 2 CRS by reference; Part 3
queryables and a CQL2-text subset), derived from the layer declarations.

/ogc/                                       landing page
/ogc/conformance                            the conformance classes implemented
/ogc/api                                    OpenAPI 3.0 document
/ogc/collections[/{id}]                     the layers this client may view
/ogc/collections/{id}/items[/{featureId}]   GeoJSON (or HTML with f=html)
/ogc/collections/{id}/queryables            JSON Schema of the filterable properties

CQL2 is parsed by pygeofilter and turned into SQL by its SQLAlchemy backend; only comparisons,
AND/OR/NOT and S_INTERSECTS with a BBOX or a WKT geometry are accepted — anything else is a 400
naming what it was. Geometries are checked with shapely first (enough points, closed and simple
rings, finite coordinates): a degenerate one is a 400, not a PostGIS error.
"""
from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import re

import shapely
import shapely.errors
import shapely.geometry
import shapely.validation
import sqlalchemy as sa
from flask import Response, current_app, render_template, request, url_for
from pygeofilter import ast as cql_ast
from pygeofilter import values as cql_values
from pygeofilter.backends.sqlalchemy import to_filter
from pygeofilter.parsers.cql2_text import parse as parse_cql2

from gis import crs, geojson
from gis.errors import InvalidInput, NotFound
from gis.jsonvalues import dumps
from layers import query
from layers.base import Layer, label
from layers.query import Page, has_next_page, read_feature, read_features, table_of
from layers.registry import viewable_layers
from layers.writable import roles_to, writable
from webmap.access import read_roles, roles_in
from webmap.database import connection
from webmap.i18n import current_lang
from webmap.ogc_common import CRS84, CRS_URIS, EPSG, GEOJSON, SUPPORTED_SRIDS, bp
from webmap.ogc_common import collection_layer as _layer

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    # Part 4 (webmap/ogc_write.py), on the collections of layers.writable only (OPTIONS tells which)
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/optimistic-locking-etags",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
]
DEFAULT_LIMIT, MAX_LIMIT = 10, 10_000
ITEM_PARAMS = {"f", "bbox", "bbox-crs", "crs", "limit", "offset", "datetime", "filter", "filter-lang", "filter-crs",
               "lang"}


# --- helpers ---------------------------------------------------------------------------------------

def _wants_html() -> bool:
    f = request.args.get("f")
    if f:
        if f not in ("json", "html"):
            raise InvalidInput(f"f={f!r}: можливі json або html", f"f={f!r}: json or html are offered")
        return f == "html"
    best = request.accept_mimetypes.best_match(["application/json", GEOJSON, "text/html"])
    return best == "text/html"


def _answer(doc: dict, template: str, mimetype: str = "application/json", headers: dict | None = None, **context):
    if _wants_html():
        return Response(render_template(template, doc=doc, **context), mimetype="text/html", headers=headers)
    return Response(dumps(doc), mimetype=mimetype, headers=headers)


def _link(href: str, rel: str, type_: str, title: str | None = None) -> dict:
    return {"href": href, "rel": rel, "type": type_, **({"title": title} if title else {})}


def _staff(layer: Layer, roles: frozenset[str] | None = None) -> bool:
    """Staff fields for ``roles`` (by default those held in every hromada: gis.access.read_roles)."""
    return layer.permissions.sees_staff_fields(read_roles() if roles is None else roles)


def _time_field(layer: Layer):
    return next((f for f in layer.visible_fields() if f.type in ("datetime", "date")), None)


# --- resources -------------------------------------------------------------------------------------

@bp.get("/")
def landing():
    lang = current_lang()
    doc = {
        "title": "Громада ГІС — OGC API Features" if lang == "uk" else "Hromada GIS — OGC API Features",
        "description": ("Шари громади як OGC API – Features" if lang == "uk"
                        else "The community's layers as OGC API – Features"),
        "links": [
            _link(url_for(".landing", _external=True), "self", "application/json"),
            _link(url_for(".landing", f="html", _external=True), "alternate", "text/html"),
            _link(url_for(".openapi", _external=True), "service-desc", "application/vnd.oai.openapi+json;version=3.0"),
            _link(url_for(".conformance", _external=True), "conformance", "application/json"),
            _link(url_for(".collections", _external=True), "data", "application/json"),
        ],
    }
    return _answer(doc, "ogc/landing.html")


@bp.get("/conformance")
def conformance():
    return _answer({"conformsTo": CONFORMANCE}, "ogc/conformance.html")


def _collection_doc(layer: Layer) -> dict:
    lang = current_lang()
    extent = query.layer_extent(connection(), layer)
    doc = {
        "id": layer.name,
        "title": label(layer.title, lang),
        "description": label(layer.description, lang) if layer.description else label(layer.title, lang),
        "itemType": "feature",
        "crs": [CRS84, *[EPSG.format(s) for s in SUPPORTED_SRIDS]],
        "storageCrs": CRS84,
        "extent": {"spatial": {"bbox": [list(extent) if extent[0] is not None else [-180, -90, 180, 90]],
                               "crs": CRS84}},
        "links": [
            _link(url_for(".collection", collection_id=layer.name, _external=True), "self", "application/json"),
            _link(url_for(".items", collection_id=layer.name, _external=True), "items", GEOJSON),
            _link(url_for(".items", collection_id=layer.name, f="html", _external=True), "items", "text/html"),
            _link(url_for(".queryables", collection_id=layer.name, _external=True),
                  "http://www.opengis.net/def/rel/ogc/1.0/queryables", "application/schema+json"),
        ],
    }
    time_field = _time_field(layer)
    if time_field is not None:
        doc["extent"]["temporal"] = {"interval": [[None, None]], "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    return doc


@bp.get("/collections")
def collections():
    docs = [_collection_doc(layer) for layer in viewable_layers(read_roles())]
    doc = {"collections": docs, "links": [_link(url_for(".collections", _external=True), "self", "application/json")]}
    return _answer(doc, "ogc/collections.html")


@bp.get("/collections/<collection_id>")
def collection(collection_id: str):
    return _answer(_collection_doc(_layer(collection_id)), "ogc/collections.html", single=True)


SCHEMA_TYPES = {"integer": "integer", "number": "number", "money": "number", "boolean": "boolean",
                "date": "string",
                "datetime": "string", "unit": "integer", "hromada": "integer", "category": "integer"}


@bp.get("/collections/<collection_id>/queryables")
def queryables(collection_id: str):
    layer = _layer(collection_id)
    lang = current_lang()
    properties = {"geom": {"x-ogc-role": "primary-geometry", "format": f"geometry-{layer.geometry.lower()}"}}
    for f in layer.visible_fields(_staff(layer)):
        prop = {"title": label(f.label, lang), "type": SCHEMA_TYPES.get(f.type, "string")}
        if f.choices:
            prop["enum"] = list(f.choices)
        if f.type in ("date", "datetime"):
            prop["format"] = "date-time" if f.type == "datetime" else "date"
        properties[f.name] = prop
    doc = {"$schema": "https://json-schema.org/draft/2020-12/schema",
           "$id": url_for(".queryables", collection_id=layer.name, _external=True),
           "type": "object", "title": label(layer.title, lang), "properties": properties}
    return _answer(doc, "ogc/queryables.html", mimetype="application/schema+json")


# --- items -----------------------------------------------------------------------------------------

def _crs(param: str, default: str = CRS84) -> tuple[str, int | None]:
    uri = request.args.get(param) or default
    uri = uri.strip("<>")
    if uri not in CRS_URIS:
        raise InvalidInput(f"{param}={uri!r} не підтримується; можливі: {', '.join(CRS_URIS)}",
                           f"{param}={uri!r} is not supported; supported: {', '.join(CRS_URIS)}")
    return uri, CRS_URIS[uri]


def _bbox() -> tuple[list[float] | None, int]:
    """``bbox`` (in ``bbox-crs``) as the reader takes it: the corners, longitude first for WGS 84, and
    their SRID (4326, or a projected CRS the reader transforms from)."""
    text = request.args.get("bbox")
    if not text:
        return None, 4326
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InvalidInput(f"bbox={text!r}: потрібно чотири числа", f"bbox={text!r}: four numbers are needed")
    _, srid = _crs("bbox-crs")
    if srid is None:
        return values, 4326
    if srid == 4326:  # EPSG:4326 is latitude first
        return [values[1], values[0], values[3], values[2]], 4326
    _check_projectable(text, values, srid)
    return values, srid


def _check_projectable(text: str, values: list[float], srid: int) -> None:
    """A bbox in a projected CRS must lie where the projection is defined: PostGIS's ST_Transform
    fails on a corner outside it (a 500 before this check), so that is a 400 that says so. Asked of
    PostGIS itself (the read connection autocommits: a refused statement leaves it usable)."""
    if crs.bbox_in_wgs84(connection(), values, srid) is None:
        raise InvalidInput(f"bbox={text!r}: поза областю визначення bbox-crs EPSG:{srid}",
                           f"bbox={text!r}: outside the area where bbox-crs EPSG:{srid} is defined")


def _datetime_condition(layer: Layer, table: sa.Table):
    text = request.args.get("datetime")
    if not text:
        return None
    field = _time_field(layer)
    if field is None:
        raise InvalidInput(f"Колекція {layer.name} не має часу", f"Collection {layer.name} has no time")
    column = table.c[field.column_name]

    def instant(value: str):
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput(f"datetime={text!r}: неправильна дата",
                               f"datetime={text!r}: not an RFC 3339 date") from None

    if "/" in text:
        start, end = text.split("/", 1)
        conditions = []
        if start not in ("", ".."):
            conditions.append(column >= instant(start))
        if end not in ("", ".."):
            conditions.append(column <= instant(end))
        return sa.and_(sa.true(), *conditions)
    return column == instant(text)


SUPPORTED_CQL = (cql_ast.And, cql_ast.Or, cql_ast.Not, cql_ast.Equal, cql_ast.NotEqual, cql_ast.LessThan,
                 cql_ast.LessEqual, cql_ast.GreaterThan, cql_ast.GreaterEqual, cql_ast.GeometryIntersects,
                 cql_ast.Attribute, cql_values.Envelope, cql_values.Geometry, cql_ast.IsNull)


def _cql_condition(layer: Layer, table: sa.Table, staff: bool):
    text = request.args.get("filter")
    if not text:
        return None
    lang = request.args.get("filter-lang", "cql2-text")
    if lang != "cql2-text":
        raise InvalidInput(f"filter-lang={lang!r} не підтримується; лише cql2-text",
                           f"filter-lang={lang!r} is not supported; only cql2-text")
    try:
        tree = parse_cql2(text)
    except Exception as exc:  # the parser raises several kinds of error on bad text
        raise InvalidInput(f"filter: не вдалося розібрати CQL2: {exc}",
                           f"filter: cannot parse the CQL2: {exc}") from None
    tree = _bbox_to_envelope(tree)
    fields = {f.name: table.c[f.column_name] for f in layer.visible_fields(staff)}
    fields["geom"] = table.c[layer.geometry_column]
    _check_cql(tree, fields)
    return to_filter(tree, fields)


def _bbox_to_envelope(node):
    """pygeofilter reads CQL2's BBOX(…) as a function call; make it the envelope it means."""
    if isinstance(node, cql_ast.Function) and node.name.lower() == "bbox" and len(node.arguments) == 4:
        x1, y1, x2, y2 = node.arguments
        return cql_values.Envelope(x1, x2, y1, y2)
    if isinstance(node, cql_ast.Node):
        for name, value in list(vars(node).items()):
            if isinstance(value, (cql_ast.Node, cql_values.Envelope)) or isinstance(value, list):
                new = [_bbox_to_envelope(v) for v in value] if isinstance(value, list) else _bbox_to_envelope(value)
                object.__setattr__(node, name, new)
    return node


def _check_cql(node, fields: dict) -> None:
    if isinstance(node, (str, int, float, bool, dt.date, dt.datetime)) or node is None:
        return
    if not isinstance(node, SUPPORTED_CQL):
        name = getattr(node, "name", None) or type(node).__name__
        raise InvalidInput(f"filter: «{name}» не підтримується (є порівняння, AND/OR/NOT, S_INTERSECTS з BBOX)",
                           f"filter: “{name}” is not supported (comparisons, AND/OR/NOT and S_INTERSECTS with "
                           "a BBOX are)")
    if isinstance(node, cql_ast.Attribute) and node.name not in fields:
        raise InvalidInput(f"filter: властивості {node.name!r} немає серед queryables",
                           f"filter: {node.name!r} is not a queryable")
    if isinstance(node, cql_ast.Comparison):
        _check_comparison(node, fields)
    if isinstance(node, cql_values.Geometry):
        _check_geometry(node)
    if isinstance(node, cql_values.Envelope):
        _check_envelope(node)
    if isinstance(node, cql_ast.Node):
        for value in vars(node).values():
            for child in (value if isinstance(value, list) else [value]):
                if isinstance(child, (cql_ast.Node, cql_values.Envelope, cql_values.Geometry)):
                    _check_cql(child, fields)


def _kind(value) -> str | None:
    """What a property or a literal is, as far as PostgreSQL compares them."""
    if isinstance(value, sa.Column):
        try:
            value = value.type.python_type
        except NotImplementedError:  # geometry
            return None
    else:
        value = type(value)
    if issubclass(value, bool):
        return "boolean"
    if issubclass(value, (int, float, decimal.Decimal)):
        return "number"
    if issubclass(value, (dt.date, dt.datetime)):
        return "date"
    return "text" if issubclass(value, str) else None


def _check_comparison(node, fields: dict) -> None:
    """A comparison of a property with a value (or another property) of another kind is a 400 naming
    them — PostgreSQL would refuse ``integer = text`` with a 500 — unless the value reads as that
    kind: '5' for a number, 5 for a text, '2024-01-01' for a date, 'true' for a yes/no."""
    sides = [node.lhs, node.rhs]
    columns = [fields.get(s.name) if isinstance(s, cql_ast.Attribute) else None for s in sides]
    if all(c is not None for c in columns):  # property against property
        kinds = [_kind(c) for c in columns]
        if kinds[0] != kinds[1]:
            raise InvalidInput(f"filter: {sides[0].name} і {sides[1].name} — різного типу, їх не порівняти",
                               f"filter: {sides[0].name} and {sides[1].name} are of different types")
        return
    for i, column in enumerate(columns):
        other = sides[1 - i]
        if column is None or isinstance(other, (cql_ast.Node, cql_values.Envelope, cql_values.Geometry)):
            continue
        wanted, given = _kind(column), _kind(other)
        if wanted is None or given is None or wanted == given:
            continue
        converted = _as_kind(other, wanted)
        if converted is None:
            name = sides[i].name
            raise InvalidInput(f"filter: {name} порівнюють зі значенням іншого типу ({other!r})",
                               f"filter: {name} is compared with a value of another type ({other!r})")
        object.__setattr__(node, "rhs" if i == 0 else "lhs", converted)


def _as_kind(value, kind: str):
    """``value`` as a number, text, date or yes/no; None when it does not read as one."""
    try:
        if kind == "number" and isinstance(value, str):
            number = float(value)
            return (int(number) if number.is_integer() else number) if math.isfinite(number) else None
        if kind == "text" and not isinstance(value, bool):
            return str(value)
        if kind == "date" and isinstance(value, str):
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if kind == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
    except (ValueError, OverflowError):
        return None
    return None


def _check_geometry(node: cql_values.Geometry) -> None:
    """A WKT geometry in the filter, checked before PostGIS sees it: too few points, an unclosed or
    self-intersecting ring, an empty geometry are a 400 that names the problem (PostGIS would fail
    with a 500). The geometry goes on as shapely read it (rings closed)."""
    try:
        shape = shapely.geometry.shape(node.geometry)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, shapely.errors.ShapelyError) as exc:
        reason = str(exc).strip() or type(exc).__name__
        raise InvalidInput(f"filter: неправильна геометрія ({reason})",
                           f"filter: invalid geometry ({reason})") from None
    if shape.is_empty:
        raise InvalidInput("filter: геометрія порожня", "filter: the geometry is empty")
    if not all(math.isfinite(c) for c in shapely.get_coordinates(shape).ravel()):
        raise InvalidInput("filter: координати геометрії мають бути скінченними числами",
                           "filter: the geometry's coordinates must be finite numbers")
    if not shape.is_valid:
        reason = shapely.validation.explain_validity(shape)
        raise InvalidInput(f"filter: неправильна геометрія: {reason}", f"filter: invalid geometry: {reason}")
    object.__setattr__(node, "geometry", shapely.geometry.mapping(shape))


def _check_envelope(node: cql_values.Envelope) -> None:
    values = (node.x1, node.y1, node.x2, node.y2)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        raise InvalidInput("filter: BBOX потребує чотирьох чисел", "filter: BBOX needs four numbers")


def _page() -> tuple[int, int]:
    def number(name, default, low, high):
        text = request.args.get(name)
        if text in (None, ""):
            return default
        if not re.fullmatch(r"[0-9]+", text) or not low <= int(text) <= high:
            raise InvalidInput(f"{name}={text!r}: ціле число {low}…{high}",
                               f"{name}={text!r}: a whole number {low}…{high}")
        return int(text)

    return number("limit", DEFAULT_LIMIT, 1, MAX_LIMIT), number("offset", 0, 0, 10**9)


def _feature_roles(layer: Layer, feature_id: int) -> frozenset[str]:
    """One feature is read with the roles held in its own hromada (a planner's draft zone in QGIS)."""
    if not layer.hromada_column:
        return read_roles()
    return roles_in(query.feature_hromada_id(connection(), layer, feature_id))


@bp.get("/collections/<collection_id>/items", provide_automatic_options=False)  # OPTIONS: ogc_write
def items(collection_id: str):
    layer = _layer(collection_id)
    staff = _staff(layer)
    crs_uri, out_srid = _crs("crs")
    table = table_of(layer)
    fields = layer.visible_fields(staff)
    queryable = {f.name: table.c[f.column_name] for f in fields}
    unknown = set(request.args) - ITEM_PARAMS - set(queryable)
    if unknown:
        raise InvalidInput(f"Невідомі параметри: {', '.join(sorted(unknown))}",
                           f"Unknown parameters: {', '.join(sorted(unknown))}")
    bbox, bbox_srid = _bbox()
    conditions = [c for c in (_datetime_condition(layer, table), _cql_condition(layer, table, staff))
                  if c is not None]
    for name in set(request.args) & set(queryable):
        conditions.append(sa.cast(queryable[name], sa.Text) == request.args[name])
    limit, offset = _page()
    features, matched, _ = read_features(connection(), layer, bbox=bbox, bbox_srid=bbox_srid, conditions=conditions,
                                         page=Page(limit, offset), staff=staff, roles=read_roles(), out_srid=out_srid,
                                         raw_geometry=True, count_up_to=current_app.config["COUNT_MATCHED_UP_TO"])
    args = {k: v for k, v in request.args.items() if k not in ("offset", "f")}
    links = [_link(url_for(".items", collection_id=layer.name, offset=offset, **args, _external=True), "self", GEOJSON),
             _link(url_for(".items", collection_id=layer.name, offset=offset, f="html", **args, _external=True),
                   "alternate", "text/html"),
             _link(url_for(".collection", collection_id=layer.name, _external=True), "collection", "application/json")]
    if has_next_page(Page(limit, offset), len(features), matched):
        links.append(_link(url_for(".items", collection_id=layer.name, offset=offset + limit, **args, _external=True),
                           "next", GEOJSON))
    if offset > 0:
        links.append(_link(url_for(".items", collection_id=layer.name, offset=max(offset - limit, 0), **args,
                                   _external=True), "prev", GEOJSON))
    doc = geojson.page(features, matched, timeStamp=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                       links=links)
    return _answer(doc, "ogc/items.html", mimetype=GEOJSON, headers={"Content-Crs": f"<{crs_uri}>"},
                   layer=layer, fields=fields)


@bp.get("/collections/<collection_id>/items/<feature_id>", provide_automatic_options=False)
def item(collection_id: str, feature_id: str):
    layer = _layer(collection_id)
    crs_uri, out_srid = _crs("crs")
    if not re.fullmatch(r"[0-9]{1,18}", feature_id):
        raise NotFound(f"Об'єкта {feature_id!r} немає", f"Feature {feature_id!r} does not exist")
    roles = _feature_roles(layer, int(feature_id))
    staff = _staff(layer, roles)
    spec = writable(layer.name)
    table = table_of(layer)
    # The version, read in the same row, makes the ETag that writes name.
    version = [spec.version_expression(table).label("_version")] if spec is not None else []
    doc, row = read_feature(connection(), layer, int(feature_id), staff=staff, roles=roles, out_srid=out_srid,
                            extra_columns=version, raw_geometry=True)
    if doc is None:
        raise NotFound(f"Об'єкта {feature_id} у колекції {layer.name} немає",
                       f"Feature {feature_id} does not exist in {layer.name}")
    fields = layer.visible_fields(staff)
    doc["links"] = [
        _link(url_for(".item", collection_id=layer.name, feature_id=feature_id, _external=True), "self", GEOJSON),
        _link(url_for(".collection", collection_id=layer.name, _external=True), "collection", "application/json")]
    headers = {"Content-Crs": f"<{crs_uri}>"}
    if spec is not None:
        headers["ETag"] = spec.etag(int(feature_id), row["_version"])
    return _answer(doc, "ogc/item.html", mimetype=GEOJSON, headers=headers, layer=layer, fields=fields)


# --- OpenAPI -------------------------------------------------------------------------------------

# The GeoJSON of RFC 7946 (as OpenAPI 3.0 schemas) and the service's error object.
OGC_SCHEMAS = {
    "Link": {"type": "object", "required": ["href", "rel"], "properties": {
        "href": {"type": "string"}, "rel": {"type": "string"}, "type": {"type": "string"},
        "title": {"type": "string"}}},
    "Geometry": {"type": "object", "required": ["type"], "nullable": True, "properties": {
        "type": {"type": "string", "enum": ["Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                                            "MultiPolygon", "GeometryCollection"]},
        "coordinates": {"type": "array", "items": {}}, "geometries": {"type": "array", "items": {}}}},
    "Feature": {"type": "object", "required": ["type", "geometry", "properties"], "properties": {
        "type": {"type": "string", "enum": ["Feature"]},
        "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        "geometry": {"$ref": "#/components/schemas/Geometry"},
        "properties": {"type": "object", "nullable": True},
        "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}}}},
    "FeatureCollection": {"type": "object", "required": ["type", "features"], "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "items": {"$ref": "#/components/schemas/Feature"}},
        "numberMatched": {"type": "integer", "minimum": 0}, "numberReturned": {"type": "integer", "minimum": 0},
        "timeStamp": {"type": "string", "format": "date-time"},
        "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}}}},
    "Error": {"type": "object", "required": ["error", "message"], "properties": {
        "error": {"type": "string"},
        "message": {"type": "object", "required": ["uk", "en"],
                    "properties": {"uk": {"type": "string"}, "en": {"type": "string"}}},
        "details": {"type": "object", "description": "e.g. the current feature of a 412 in details.current"}}},
    "LandingPage": {"type": "object", "required": ["links"], "properties": {
        "title": {"type": "string"}, "description": {"type": "string"},
        "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}}}},
    "Conformance": {"type": "object", "required": ["conformsTo"], "properties": {
        "conformsTo": {"type": "array", "items": {"type": "string"}}}},
    "Collection": {"type": "object", "required": ["id", "links"], "properties": {
        "id": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
        "itemType": {"type": "string"}, "crs": {"type": "array", "items": {"type": "string"}},
        "storageCrs": {"type": "string"}, "extent": {"type": "object"},
        "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}}}},
    "Collections": {"type": "object", "required": ["collections", "links"], "properties": {
        "collections": {"type": "array", "items": {"$ref": "#/components/schemas/Collection"}},
        "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}}}},
}
OGC_ERRORS = {
    400: "Invalid parameters or body (the message says which)",
    401: "No token, or an invalid or revoked one (WWW-Authenticate: Bearer, and Basic for a token as the password)",
    403: "A role that may not change this collection (or this hromada's features)",
    404: "No such collection or feature (or not visible to this client)",
    405: "A collection that cannot be written (Allow)",
    409: "The plan is read-only (approved)",
    412: "If-Match names an old version: the current feature is in details.current, its ETag in the header",
    415: "A Content-Type this operation does not take",
    422: "The zone breaks a rule (overlap, outside the plan, invalid geometry: ?repair=true)",
    428: "A replacement (PUT) names no version: neither If-Match nor properties.version",
    503: "The database is temporarily unavailable (Retry-After: 30)",
}


def _ogc_answer(description: str, media: str | None, schema: dict | None, html: bool = True) -> dict:
    content = {media: {"schema": schema}} if media else {}
    if html:
        content["text/html"] = {"schema": {"type": "string"}}
    return {"description": description, **({"content": content} if content else {})}


def _edit_roles(layer: Layer) -> dict[str, str]:
    """Action → the roles (listed) that may do it, from the layer's declaration."""
    return {action: ", ".join(sorted(roles_to(layer.name, action))) for action in ("create", "update", "delete")}


def _ogc_errors(*codes: int) -> dict:
    error = {"$ref": "#/components/schemas/Error"}
    return {str(code): _ogc_answer(OGC_ERRORS[code], "application/json", error) for code in (*codes, 503)}


@bp.get("/api")
def openapi():
    crs_uri = {"type": "string", "format": "uri", "enum": list(CRS_URIS)}
    params = {
        "bbox": {"name": "bbox", "in": "query", "required": False, "style": "form", "explode": False,
                 "schema": {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}}},
        "bbox-crs": {"name": "bbox-crs", "in": "query", "required": False, "schema": {**crs_uri, "default": CRS84}},
        "crs": {"name": "crs", "in": "query", "required": False, "schema": {**crs_uri, "default": CRS84}},
        "limit": {"name": "limit", "in": "query", "required": False,
                  "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
        "offset": {"name": "offset", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0}},
        "datetime": {"name": "datetime", "in": "query", "required": False, "schema": {"type": "string"}},
        "filter": {"name": "filter", "in": "query", "required": False, "schema": {"type": "string"}},
        "filter-lang": {"name": "filter-lang", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": ["cql2-text"]}},
        "f": {"name": "f", "in": "query", "required": False, "schema": {"type": "string", "enum": ["json", "html"]}},
        "featureId": {"name": "featureId", "in": "path", "required": True, "schema": {"type": "string"}},
        "If-Match": {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
                     "description": "the feature's ETag (from GET). A PUT without it must name properties.version; "
                                    "a PATCH or DELETE without either is a versionless edit (merged, kept in "
                                    "the history, flagged for review when it replaces a fresh change)"},
        "Content-Crs": {"name": "Content-Crs", "in": "header", "required": False, "schema": crs_uri,
                        "description": "the CRS of the body's geometry (default CRS84)"},
        "repair": {"name": "repair", "in": "query", "required": False, "schema": {"type": "boolean"},
                   "description": "repair an invalid polygon instead of refusing it"},
    }

    def ref(*names: str) -> list[dict]:
        return [{"$ref": f"#/components/parameters/{n}"} for n in names]

    def schema(name: str) -> dict:
        return {"$ref": f"#/components/schemas/{name}"}

    paths = {
        "/": {"get": {"summary": "Landing page", "operationId": "getLandingPage", "parameters": ref("f"),
                      "responses": {"200": _ogc_answer("The landing page", "application/json",
                                                       schema("LandingPage")), **_ogc_errors(400)}}},
        "/conformance": {"get": {"summary": "Conformance", "operationId": "getConformance", "parameters": ref("f"),
                                 "responses": {"200": _ogc_answer("The conformance classes", "application/json",
                                                                  schema("Conformance")), **_ogc_errors(400)}}},
        "/collections": {"get": {"summary": "Collections", "operationId": "getCollections", "parameters": ref("f"),
                                 "responses": {"200": _ogc_answer("The collections", "application/json",
                                                                  schema("Collections")), **_ogc_errors(400)}}},
    }
    crs_header = {"Content-Crs": {"schema": {"type": "string"}, "description": "the answer's CRS, in <…>"}}
    for layer in viewable_layers(read_roles()):
        base = f"/collections/{layer.name}"
        title = label(layer.title, "en")
        paths[base] = {"get": {"summary": title, "operationId": f"describe_{layer.name}", "parameters": ref("f"),
                               "responses": {"200": _ogc_answer("The collection", "application/json",
                                                                schema("Collection")), **_ogc_errors(400, 404)}}}
        paths[f"{base}/queryables"] = {"get": {
            "summary": f"Queryables of {title}", "operationId": f"queryables_{layer.name}", "parameters": ref("f"),
            "responses": {"200": _ogc_answer("JSON Schema of the filterable properties", "application/schema+json",
                                             {"type": "object"}), **_ogc_errors(400, 404)}}}
        items = {**_ogc_answer("GeoJSON FeatureCollection", GEOJSON, schema("FeatureCollection")),
                 "headers": crs_header}
        paths[f"{base}/items"] = {"get": {
            "summary": f"Features of {title}", "operationId": f"items_{layer.name}",
            "parameters": ref("bbox", "bbox-crs", "crs", "limit", "offset", "datetime", "filter", "filter-lang", "f"),
            "responses": {"200": items, **_ogc_errors(400, 404)}}}
        one = {**_ogc_answer("GeoJSON Feature", GEOJSON, schema("Feature")),
               "headers": {**crs_header, "ETag": {"schema": {"type": "string"},
                                                  "description": "on collections that can be written"}}}
        paths[f"{base}/items/{{featureId}}"] = {"get": {
            "summary": f"One feature of {title}", "operationId": f"item_{layer.name}",
            "parameters": ref("featureId", "crs", "f"), "responses": {"200": one, **_ogc_errors(400, 404)}}}
        if writable(layer.name) is not None:  # Part 4: the roles its declaration names, with a personal API token
            roles = _edit_roles(layer)
            feature = {"required": True, "content": {GEOJSON: {"schema": schema("Feature")},
                                                     "application/json": {"schema": schema("Feature")}}}
            patch = {"required": True, "content": {
                media: {"schema": {"type": "object", "description": "RFC 7396: properties to change (null empties "
                                                                    "one) and/or geometry"}}
                for media in ("application/merge-patch+json", GEOJSON, "application/json")}}
            written = {**_ogc_answer("The feature as stored, with its new ETag", GEOJSON, schema("Feature"),
                                     html=False),
                       "headers": {"ETag": {"schema": {"type": "string"}}}}
            denied = (400, 401, 403, 404, 405, 409, 415, 422)
            secured = {"security": [{"bearer": []}, {"basic": []}]}
            paths[f"{base}/items"]["post"] = {
                "summary": f"Create a feature of {title}", "operationId": f"create_{layer.name}", **secured,
                "description": f"Roles (held in the feature's hromada): {roles['create']}",
                "parameters": ref("Content-Crs", "repair"), "requestBody": feature,
                "responses": {"201": {**written, "headers": {**written["headers"],
                                                             "Location": {"schema": {"type": "string"}}}},
                              **_ogc_errors(*denied)}}
            item = paths[f"{base}/items/{{featureId}}"]
            item["put"] = {"summary": f"Replace a feature of {title}", "operationId": f"replace_{layer.name}",
                           "description": f"Roles (held in the feature's hromada): {roles['update']}", **secured,
                           "parameters": ref("featureId", "If-Match", "Content-Crs", "repair"),
                           "requestBody": feature, "responses": {"200": written, **_ogc_errors(*denied, 412, 428)}}
            item["patch"] = {"summary": f"Update a feature of {title}", "operationId": f"update_{layer.name}",
                             "description": f"Roles (held in the feature's hromada): {roles['update']}; without "
                                            "If-Match a versionless merge", **secured,
                             "parameters": ref("featureId", "If-Match", "Content-Crs", "repair"),
                             "requestBody": patch, "responses": {"200": written, **_ogc_errors(*denied, 412, 428)}}
            item["delete"] = {"summary": f"Delete a feature of {title}", "operationId": f"delete_{layer.name}",
                              "description": f"Roles (held in the feature's hromada): {roles['delete']}", **secured,
                              "parameters": ref("featureId", "If-Match"),
                              "responses": {"204": {"description": "Deleted"},
                                            **_ogc_errors(400, 401, 403, 404, 405, 409, 412, 428)}}
            paths[f"{base}/versionless-edits"] = {"get": {
                "summary": f"Versionless writes of {title} to review", "operationId": f"versionless_{layer.name}",
                "description": "The hromada's (?hromada=KATOTTG) writes that named no version: flagged ones, or all "
                               "with all=true; feature_id, limit 1…1000. For the roles that may change the layer.",
                **secured, "responses": {"200": {"description": "The edits", "content": {
                    "application/json": {"schema": {"type": "object"}}}}, **_ogc_errors(400, 401, 403, 404)}}}
    doc = {"openapi": "3.0.3",
           "info": {"title": "Hromada GIS — OGC API Features", "version": "1.0.0",
                    "description": "Layers of Ukrainian hromadas (territorial communities). The service's own JSON "
                                   "APIs are described at /api/openapi.json."},
           "servers": [{"url": url_for(".landing", _external=True).rstrip("/")}],
           "paths": paths,
           "components": {"parameters": params, "schemas": OGC_SCHEMAS, "securitySchemes": {"bearer": {
               "type": "http", "scheme": "bearer",
               "description": "a personal API token of an editor of the layer — the roles its declaration names "
                              "(hromada users token create)"}, "basic": {
               "type": "http", "scheme": "basic",
               "description": "the same personal token as the password, any user name (QGIS 3.22's Basic "
                              "authentication)"}}}}
    return Response(json.dumps(doc, ensure_ascii=False), mimetype="application/vnd.oai.openapi+json;version=3.0")
