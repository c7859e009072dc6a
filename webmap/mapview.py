"""The public map of a hromada, built with folium from the layer declarations."""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

import folium
import sqlalchemy as sa
from flask import current_app, url_for
from folium.elements import JSCSSMixin
from folium.map import Layer as FoliumLayer
from folium.plugins import VectorGridProtobuf
from jinja2 import Template

from gis.hromada_setup import hromada_outline
from layers import admin_areas, query
from layers.base import CategoryStyle, Field, Layer, label
from layers.registry import viewable_layers
from webmap.folium_lazy import COLLAPSED_ON_SMALL_SCREENS, TilePopups, ViewportGeoJson, script_link
from webmap.folium_safe import POPUP_PROPERTY, TOOLTIP_PROPERTY, Attribution, SafeGeoJsonTooltip
from webmap.i18n import t

MAP_FEATURE_LIMIT = query.MAX_LIMIT  # features in one view's answer; more: zoom in, or tiles


def POINT_MARKER() -> folium.CircleMarker:  # noqa: N802  (a factory: each layer needs its own)
    return folium.CircleMarker(radius=6, weight=2, fill=True)


def display_value(field: Field, value, lang: str, unit_names: Mapping[int, str] | None = None) -> str:
    """A property as a person reads it: choice labels, yes/no, a unit's name (from ``unit_names``),
    a dash for nothing."""
    if value is None or value == "":
        return "—"
    if field.type == "unit" and unit_names is not None:
        return unit_names.get(value, "—")
    if field.choices and value in field.choices:
        return label(field.choices[value], lang)
    if field.type == "boolean":
        return t("yes", lang) if value else t("no", lang)
    return str(value)


def popup_rows(layer: Layer, properties: dict, lang: str, unit_names: Mapping[int, str] | None = None
               ) -> list[list[str]]:
    """A feature's popup as ``[[label, value], …]``, translated (the layer's ``popup`` fields), units
    by name (``popup_unit_names``)."""
    return [[label(layer.field(f).label, lang), display_value(layer.field(f), properties.get(f), lang, unit_names)]
            for f in layer.popup]


def popup_unit_names(conn: sa.Connection, layer: Layer, features: list[dict], lang: str) -> dict[int, str]:
    """The names of the units the features' popups name (one query), so no popup shows a bare id."""
    fields = [f for f in layer.popup if layer.field(f).type == "unit"]
    return admin_areas.unit_names(conn, (item["properties"].get(f) for item in features for f in fields), lang)


def for_the_map(layer: Layer, feature: dict, lang: str, unit_names: Mapping[int, str] | None = None) -> dict:
    """A feature as the map draws it: geometry, translated popup rows, tooltip and style, and no
    other property (the APIs and exports carry the data; the map needs only what it shows)."""
    props = feature["properties"]
    return {**feature, "properties": {
        POPUP_PROPERTY: popup_rows(layer, props, lang, unit_names),
        TOOLTIP_PROPERTY: str(props.get(layer.label_field) or "") if layer.label_field else "",
        "_style": layer.style.for_properties(props),
    }}


def base_map(lang: str, *, height: str = "70vh", bounds=None, location=None, zoom: int | None = None,
             **fit) -> folium.Map:
    """A folium map with the OpenStreetMap base layer and our own copy of Leaflet, fitted to ``bounds``
    (a hromada summary with minx…maxy, or ``[[south, west], [north, east]]``) or centred on ``location``."""
    fmap = folium.Map(location=location, zoom_start=zoom, tiles=None, control_scale=True, height=height, width="100%")
    folium.TileLayer("OpenStreetMap", name=t("base_map", lang)).add_to(fmap)
    use_local_assets(fmap)
    if bounds is not None:
        if hasattr(bounds, "keys") and "minx" in bounds.keys():
            bounds = [[bounds["miny"], bounds["minx"]], [bounds["maxy"], bounds["maxx"]]]
        fmap.fit_bounds(bounds, **fit)
    return fmap


def legend(layer: Layer, lang: str) -> list[tuple[str, str]]:
    """(label, colour) rows explaining a layer's colours; empty for a one-colour layer."""
    style = layer.style
    if not isinstance(style, CategoryStyle):
        return []
    choices = layer.field(style.field).choices or {}
    return [(label(choices[value], lang) if value in choices else value, colour)
            for value, colour in style.colors.items()]


@dataclasses.dataclass(frozen=True)
class ShownLayer:
    """A layer on a map page, for the list beside the map: how many features it holds there."""
    layer: Layer
    count: int
    as_tiles: bool  # drawn from vector tiles (too many features to fetch as GeoJSON)


def build_map(conn: sa.Connection, summary, lang: str, roles: frozenset[str] = frozenset(),
              only: tuple[str, ...] | None = None) -> tuple[folium.Map, list[ShownLayer]]:
    """The folium map of a hromada's layers and what it shows (for the accessible list beside it).

    The page carries no feature: each layer is fetched for the view after the page shows
    (folium_lazy). ``only``: the names of the layers to show, all switched on (a thematic page);
    otherwise every viewable layer, those a resident reports about switched on.
    """
    fmap = base_map(lang, bounds=summary)
    shown: list[ShownLayer] = []
    attributions = set()
    tiles_above = current_app.config.get("MAP_TILES_ABOVE", MAP_TILES_ABOVE)
    for layer in viewable_layers(roles):
        if only is not None and layer.name not in only:
            continue
        count = query.count_features(conn, layer, hromada_id=summary["id"], roles=roles)
        show = only is not None or layer.on_map_at_first
        as_tiles = tiles_above is not None and count > tiles_above
        if as_tiles:
            add_tile_layer(fmap, layer, lang, show=show)
        else:
            url = url_for("map_layers.features_in_view", code=summary["katottg"], name=layer.name, lang=lang)
            ViewportGeoJson(url, label(layer.title, lang), points=layer.geometry in ("Point", "MultiPoint"),
                            show=show).add_to(fmap)
        shown.append(ShownLayer(layer, count, as_tiles))
        if layer.attribution and count:
            attributions.add(layer.attribution)
    if only is None:
        add_live_vehicles(fmap, conn, summary, lang)
    for text in sorted(attributions):
        fmap.add_child(Attribution(text))
    folium.LayerControl(collapsed=COLLAPSED_ON_SMALL_SCREENS).add_to(fmap)
    return fmap, shown


VEHICLES_REFRESH_S = 15  # how often the "buses now" overlay asks again; the app's setting changes it


class LiveVehicles(JSCSSMixin, FoliumLayer):
    """The hromada's vehicles now (``/map/<KATOTTG>/vehicles.geojson``, GTFS-Realtime), asked again every
    ``every`` ms while the overlay is on the map and the page is visible (static/map_layers.js)."""

    _template = Template("""
    {% macro script(this, kwargs) %}
    var {{ this.get_name() }} = window.hromadaMap.vehiclesLayer({{ this.options | tojson }});
    {% endmacro %}
    """)

    def __init__(self, url: str, name: str, *, every_ms: int, route_word: str, unknown: str):
        super().__init__(name=name, overlay=True, control=True, show=True)
        self._name = "LiveVehicles"
        self.options = {"url": url, "every": every_ms, "route": route_word, "unknown": unknown}
        self.default_js = [script_link()]


def add_live_vehicles(fmap: folium.Map, conn: sa.Connection, summary, lang: str) -> None:
    """The "buses now" overlay, only when the hromada has a GTFS-Realtime feed (nothing otherwise)."""
    has_feed = conn.execute(sa.text("SELECT 1 FROM transit_feed WHERE hromada_id = :h AND realtime_url <> ''"),
                            {"h": summary["id"]}).first()
    if has_feed is None:
        return
    every = current_app.config.get("VEHICLES_REFRESH_S", VEHICLES_REFRESH_S)
    LiveVehicles(url_for("transit.vehicles", code=summary["katottg"]), t("map_vehicles", lang),
                 every_ms=int(every * 1000), route_word=t("map_vehicle_route", lang),
                 unknown=t("map_vehicle_unknown", lang)).add_to(fmap)


def point_map(lat: float, lon: float, title: str, lang: str, asset: dict | None = None) -> dict[str, str]:
    """A small map centred on one report's place, ready to embed (see map_parts); with the ``asset``
    it is about (layers.assets.asset_outline) drawn too, so staff see which lamp or road it means."""
    fmap = base_map(lang, height="320px", location=[lat, lon], zoom=17)
    if asset is not None:
        name = f"№ {asset['ref']}" + (f" ({asset['name']})" if asset["name"] and asset["name"] != asset["ref"] else "")
        folium.GeoJson({"type": "Feature", "geometry": asset["geometry"], "properties": {TOOLTIP_PROPERTY: name}},
                       style_function=lambda _: {"color": "#1971c2", "weight": 6, "opacity": 0.8},
                       marker=folium.CircleMarker(radius=8, color="#1971c2", weight=3, fill=True)
                       ).add_child(SafeGeoJsonTooltip()).add_to(fmap)
    folium.CircleMarker([lat, lon], radius=10, color="#c92a2a", weight=3, fill=True,
                        tooltip=folium.Tooltip(title)).add_to(fmap)
    return map_parts(fmap)


LEAFLET = "vendor/leaflet-1.9.4"
VECTORGRID = "vendor/leaflet.vectorgrid-1.3.0"
# A layer with more features than this is drawn from vector tiles (which a CDN can cache); None: never —
# the view's GeoJSON clusters a crowded view itself (webmap/map_layers.py), so every map page loads the
# same scripts whatever the data, and the first view does not grow with it.
MAP_TILES_ABOVE: int | None = None


def use_local_assets(fmap: folium.Map) -> None:
    """Serve Leaflet ourselves instead of folium's CDN links (no third-party requests; works offline).

    Our layers need Leaflet only; folium's jQuery, Bootstrap and marker icon sets are left out.
    """
    fmap.default_js = [("leaflet", url_for("static", filename=f"{LEAFLET}/leaflet.js"))]
    fmap.default_css = [("leaflet_css", url_for("static", filename=f"{LEAFLET}/leaflet.css"))]


def add_tile_layer(fmap: folium.Map, layer: Layer, lang: str, show: bool = True) -> None:
    """A large layer as vector tiles: what the browser downloads depends on the view, not the layer
    size. A click on a feature opens the same popup as a GeoJSON feature's."""
    url = url_for("tiles.vector_tile", name=layer.name, z=0, x=0, y=0).replace("/0/0/0.mvt", "/{z}/{x}/{y}.mvt")
    style = {**layer.style.for_properties({}), "radius": 4, "fill": True, "weight": 1}
    grid = VectorGridProtobuf(url, name=label(layer.title, lang), show=show, options={
        "vectorTileLayerStyles": {layer.name: style}, "maxNativeZoom": 22})
    grid.default_js = [("vectorGrid", url_for("static", filename=f"{VECTORGRID}/Leaflet.VectorGrid.bundled.min.js"))]
    grid.add_child(TilePopups(url_for("map_layers.popup_at", name=layer.name, lang=lang)))
    grid.add_to(fmap)


def map_parts(fmap: folium.Map) -> dict[str, str]:
    """Header, body and script of a folium map, for embedding in our own page template."""
    root = fmap.get_root()
    root.render()
    # folium's own viewport tag forbids zooming (maximum-scale=1, user-scalable=no), which fails
    # WCAG 1.4.4 for people who enlarge the page; our base template has a proper one.
    header = re.sub(r'<meta name="viewport"[^>]*>', "", root.header.render())
    # folium's inline header script (L_NO_TOUCH …) runs under the page's CSP nonce (webmap.security);
    # the templates put the map script in <script nonce="{{ csp_nonce() }}">.
    header = header.replace("<script>", f'<script nonce="{csp_nonce()}">')
    return {"header": header, "html": root.html.render(), "script": root.script.render()}


def csp_nonce() -> str:
    """This request's CSP nonce (flask-talisman's), or "" outside a request that has one."""
    from flask import has_request_context, request

    return getattr(request, "csp_nonce", "") if has_request_context() else ""


BOUNDARY_COLOUR = "#212529"


def add_boundary(fmap: folium.Map, conn: sa.Connection, katottg: str, lang: str) -> tuple[str, str]:
    """Draw the hromada's boundary on a thematic map and return its legend row (label, colour).

    Without it nothing on a thematic map shows where the hromada ends when the base map does not load
    (offline, a slow link, a blocked tile server) — issue #17. A thin unfilled dash-dot line, neither
    clickable nor in the layer control, in a pane of its own under every layer. The outline is the
    one the console's maps use (gis.hromada_setup.hromada_outline: simplified to ~0.0002°, about a
    pixel where the first view fits the hromada), a few KB of the page.
    """
    shape = hromada_outline(conn, katottg)["shape"]
    if shape is not None:
        folium.map.CustomPane("hromada-boundary", z_index=350).add_to(fmap)  # overlays are at 400
        folium.GeoJson(shape, control=False, interactive=False, pane="hromada-boundary",
                       style_function=lambda _: {"color": BOUNDARY_COLOUR, "weight": 1.5, "fill": False,
                                                 "dashArray": "8 4 2 4"}).add_to(fmap)
    return t("hromada_boundary", lang), BOUNDARY_COLOUR
