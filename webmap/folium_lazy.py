"""folium layers whose data comes after the page shows (static/map_layers.js does the loading).

folium's GeoJson puts every feature into the page; on a village phone that was a 2 MB first view
that grew with every parcel. These layers carry only a URL: the browser asks for what lies in the
current view (``ViewportGeoJson``) or draws vector tiles and asks for a popup when a feature is
clicked (``TilePopups``). Both build popups with textContent, as folium_safe does.
"""
from __future__ import annotations

from branca.element import MacroElement
from flask import url_for
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.utilities import JsCode
from jinja2 import Template

SCRIPT = "map_layers.js"


def script_link() -> tuple[str, str]:
    return ("hromada_map_layers", url_for("static", filename=SCRIPT))


class ViewportGeoJson(JSCSSMixin, Layer):
    """An overlay of GeoJSON features fetched for the map's view from ``url`` (``?bbox=…&zoom=…``).

    The server answers a FeatureCollection whose features carry ``_style`` (Leaflet path options),
    ``_popup`` (``[[label, value], …]``) and ``_label`` (the tooltip), already translated."""

    _template = Template("""
    {% macro script(this, kwargs) %}
    var {{ this.get_name() }} = window.hromadaMap.viewportLayer({{ this.options | tojson }});
    {% endmacro %}
    """)

    def __init__(self, url: str, name: str, *, points: bool, show: bool = True):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "ViewportGeoJson"
        self.options = {"url": url, "points": points}
        self.default_js = [script_link()]


class TilePopups(JSCSSMixin, MacroElement):
    """While the parent vector-tile layer is on the map, a click asks ``url`` (``?lon=…&lat=…&zoom=…``)
    for the feature under it and opens its popup.

    Not VectorGrid's own ``interactive`` option: with Leaflet 1.8+ its click events fail
    (Leaflet.VectorGrid issues #274, #294, unmaintained since)."""

    _template = Template("""
    {% macro script(this, kwargs) %}
    window.hromadaMap.tilePopups({{ this._parent.get_name() }}, {{ this.url | tojson }});
    {% endmacro %}
    """)

    def __init__(self, url: str):
        super().__init__()
        self._name = "TilePopups"
        self.url = url
        self.default_js = [script_link()]


# The layer list folds into a button on a phone, where open it would cover the map and take the
# tap meant for placing a report; on a wide screen it stays open.
COLLAPSED_ON_SMALL_SCREENS = JsCode('window.matchMedia("(max-width: 48em)").matches')
