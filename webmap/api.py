"""The generic layer API, derived from the layer declarations.

GET /api/layers                          the layers this client may view
GET /api/layers/<name>                   one layer's declaration (public fields only)
GET /api/layers/<name>/items             GeoJSON FeatureCollection; bbox, limit, offset, hromada
GET /api/layers/<name>/items/<id>        one GeoJSON Feature
GET /api/layers/<name>/export.<fmt>      open data: geojson, gpkg or csv (public fields; ?headings=uk|en)
GET /api/layers/<name>/metadata.json     the data set's description for open-data portals
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify, request, stream_with_context, url_for

from gis.errors import InvalidInput, NotFound
from gis.jsonvalues import dumpb
from layers import export, query
from layers.admin_areas import hromada_id_by_code
from layers.base import Layer
from layers.registry import LAYERS, get_layer, viewable_layers
from webmap import api_models as m
from webmap.access import read_roles
from webmap.database import connection, read_engine
from webmap.downloads import csv_download
from webmap.i18n import current_lang
from webmap.openapi import documented

bp = Blueprint("api", __name__, url_prefix="/api")
GEOJSON = "application/geo+json"
# Every layer the registry declares (one the client may not view answers 404, as if it did not exist).
LAYER_NAME = {"name": {"enum": sorted(LAYERS)}}


def _hromada_filter() -> int | None:
    """``?hromada=KATOTTG``: the read is confined to that hromada (and its staff see staff detail)."""
    if "api_hromada_id" not in g:  # looked up once per request
        code = request.args.get("hromada")
        g.api_hromada_id = hromada_id_by_code(connection(), code) if code else None
    return g.api_hromada_id


def _sees_staff_fields(layer: Layer) -> bool:
    return layer.permissions.sees_staff_fields(read_roles(_hromada_filter()))


def _viewable(name: str) -> Layer:
    layer = get_layer(name)
    if not layer.permissions.can_view(read_roles(_hromada_filter())):
        # Not revealing that a restricted layer exists.
        raise NotFound(f"Шар {name!r} не існує", f"Layer {name!r} does not exist")
    return layer


@bp.get("/layers")
@documented(summary="The layers this client may view: titles, fields with labels and choices, popup, categories",
            tags=("layers",), query=m.HromadaQuery, ok=m.LayerList)
def layers_index():
    lang = current_lang()
    return jsonify({"layers": [
        {**layer.describe(lang, staff=_sees_staff_fields(layer)),
         "links": {"self": url_for(".layer_detail", name=layer.name, _external=True),
                   "items": url_for(".layer_items", name=layer.name, _external=True)}}
        for layer in viewable_layers(read_roles(_hromada_filter()))
    ]})


@bp.get("/layers/<name>")
@documented(summary="One layer's declaration (public fields, and staff fields for its staff)", tags=("layers",),
            query=m.HromadaQuery, ok=m.LayerDescription, path=LAYER_NAME)
def layer_detail(name: str):
    layer = _viewable(name)
    return jsonify(layer.describe(current_lang(), staff=_sees_staff_fields(layer)))


@bp.get("/layers/<name>/items")
@documented(summary="The layer's features as a GeoJSON FeatureCollection, a page at a time", tags=("layers",),
            description="RFC 7946 with `numberMatched`, `numberReturned` and `next`/`prev` links; `limit` 1…1000. "
                        "`numberMatched` is left out when more than `HROMADA_COUNT_MATCHED_UP_TO` features match.",
            query=m.ItemsQuery, ok=m.FeatureCollection, media=GEOJSON, path=LAYER_NAME)
def layer_items(name: str):
    layer = _viewable(name)
    bbox = query.parse_bbox(request.args.get("bbox"))
    page = query.parse_page(request.args.get("limit"), request.args.get("offset"))
    hromada_id = _hromada_filter()
    roles = read_roles(hromada_id)
    args = {k: v for k, v in request.args.items() if k not in ("offset", "limit")}
    return _geojson(items_document(
        connection(), layer, bbox=bbox, page=page, hromada_id=hromada_id, roles=roles,
        count_up_to=current_app.config["COUNT_MATCHED_UP_TO"],
        page_url=lambda offset: url_for(".layer_items", name=name, limit=page.limit, offset=offset, _external=True,
                                        **args)))


def items_document(conn, layer: Layer, *, bbox, page: query.Page, hromada_id: int | None, roles: frozenset[str],
                   count_up_to: int, page_url) -> dict:
    """The FeatureCollection ``GET /api/layers/<name>/items`` answers, with its paging links
    (``page_url(offset)``: the address of the page at that offset). Also written by the fast path
    (webmap.fast_items), which must answer exactly as this view does."""
    collection = query.feature_collection(conn, layer, bbox=bbox, page=page, hromada_id=hromada_id,
                                          staff=layer.permissions.sees_staff_fields(roles), roles=roles,
                                          raw_geometry=True, count_up_to=count_up_to)
    collection["links"] = _paging_links(page, len(collection["features"]), collection.get("numberMatched"), page_url)
    if layer.attribution:
        collection["attribution"] = layer.attribution
    return collection


@bp.get("/layers/<name>/items/<feature_id>")
@documented(summary="One feature of the layer as a GeoJSON Feature", tags=("layers",), query=m.HromadaQuery,
            ok=m.Feature, media=GEOJSON, path={**LAYER_NAME, "feature_id": {"pattern": "^[0-9]+$"}})
def layer_item(name: str, feature_id: str):
    layer = _viewable(name)
    if not (feature_id.isascii() and feature_id.isdigit()):
        raise InvalidInput(f"Ідентифікатор {feature_id!r} має бути цілим числом",
                           f"Identifier {feature_id!r} must be a whole number")
    items, _ = query.features(connection(), layer, feature_id=int(feature_id), staff=_sees_staff_fields(layer),
                              hromada_id=_hromada_filter(), roles=read_roles(_hromada_filter()), raw_geometry=True)
    if not items:
        raise NotFound(f"У шарі {name!r} немає об'єкта {feature_id}", f"Layer {name!r} has no feature {feature_id}")
    return _geojson(items[0])


def _geojson(doc: dict) -> Response:
    """GeoJSON written by the one serialiser (gis.jsonvalues, as the OGC API's): geometries spliced in as
    PostGIS wrote them."""
    return Response(dumpb(doc), mimetype=GEOJSON)


def _paging_links(page: query.Page, returned: int, matched: int | None, page_url) -> list[dict]:
    def link(rel: str, offset: int) -> dict:
        return {"rel": rel, "type": GEOJSON, "href": page_url(offset)}

    links = [link("self", page.offset)]
    if query.has_next_page(page, returned, matched):
        links.append(link("next", page.offset + page.limit))
    if page.offset > 0:
        links.append(link("prev", max(page.offset - page.limit, 0)))
    return links


@bp.get("/layers/<name>/export.<fmt>")
@documented(summary="Open data: the layer's public fields as GeoJSON, GeoPackage or CSV, streamed",
            tags=("open data",), query=m.HeadingsQuery, path={**LAYER_NAME, "fmt": {"enum": list(export.FORMATS)}},
            description="CSV carries the geometry as WKT in a `wkt` column and a BOM for spreadsheets.",
            alternatives={GEOJSON: {"$ref": "#/components/schemas/FeatureCollection"},
                          "application/geopackage+sqlite3": {"type": "string", "format": "binary"},
                          "text/csv": {"type": "string"}})
def layer_export(name: str, fmt: str):
    layer = _viewable(name)
    if fmt not in export.FORMATS:
        raise NotFound(f"Формат {fmt!r} не підтримується; є: {', '.join(export.FORMATS)}",
                       f"Format {fmt!r} is not offered; there are: {', '.join(export.FORMATS)}")
    lang = request.args.get("headings") or None
    if lang not in (None, "uk", "en"):
        raise InvalidInput("headings: uk або en", "headings: uk or en")
    chunks = {"geojson": export.geojson_chunks, "csv": export.csv_chunks, "gpkg": export.gpkg_chunks}[fmt]
    # Opens its own connection: the stream outlives the request's.
    body = chunks(read_engine(), layer, lang)
    if fmt == "csv":
        return csv_download(f"{layer.name}.csv", chunks=body)
    return Response(stream_with_context(body), mimetype=export.FORMATS[fmt], headers={
        "Content-Disposition": f'attachment; filename="{layer.name}.{fmt}"'})


@bp.get("/layers/<name>/metadata.json")
@documented(summary="The data set's description for the national open-data portal", tags=("open data",),
            ok=m.LayerMetadata, path=LAYER_NAME)
def layer_metadata(name: str):
    return jsonify(export.metadata(read_engine(), _viewable(name), request.host_url.rstrip("/")))
