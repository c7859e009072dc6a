"""Folium pieces that never put data into innerHTML (the tables and labels are built by static/map_layers.js).

folium's GeoJsonPopup/GeoJsonTooltip build their table as an HTML string from the feature's
properties and assign it to innerHTML, so a village or report text containing markup would run
as HTML. These replacements build DOM nodes and set ``textContent``. Each feature carries its
already translated rows in the ``_popup`` property: ``[[label, value], …]``.
"""
from __future__ import annotations

from branca.element import MacroElement
from folium.elements import JSCSSMixin
from jinja2 import Template

from webmap.folium_lazy import script_link

POPUP_PROPERTY = "_popup"
TOOLTIP_PROPERTY = "_label"


class SafeGeoJsonPopup(JSCSSMixin, MacroElement):
    """The popup table, built by static/map_layers.js (the same as the light map's)."""

    _template = Template("""
    {% macro script(this, kwargs) %}
    {{ this._parent.get_name() }}.bindPopup(
        layer => window.hromadaMap.popupTable((layer.feature.properties || {})[{{ this.prop | tojson }}]),
        {maxWidth: 320});
    {% endmacro %}
    """)

    def __init__(self):
        super().__init__()
        self._name = "SafeGeoJsonPopup"
        self.prop = POPUP_PROPERTY
        self.default_js = [script_link()]


class SafeGeoJsonTooltip(JSCSSMixin, MacroElement):
    _template = Template("""
    {% macro script(this, kwargs) %}
    {{ this._parent.get_name() }}.bindTooltip(
        layer => window.hromadaMap.text((layer.feature.properties || {})[{{ this.prop | tojson }}]),
        {sticky: true});
    {% endmacro %}
    """)

    def __init__(self):
        super().__init__()
        self._name = "SafeGeoJsonTooltip"
        self.prop = TOOLTIP_PROPERTY
        self.default_js = [script_link()]


class Attribution(MacroElement):
    """Adds a data source's attribution to the map's attribution control (as text)."""

    _template = Template("""
    {% macro script(this, kwargs) %}
    {{ this._parent.get_name() }}.attributionControl.addAttribution(
        {{ this.text | tojson }}.replace(/[&<>"']/g, c => "&#" + c.charCodeAt(0) + ";"));
    {% endmacro %}
    """)

    def __init__(self, text: str):
        super().__init__()
        self._name = "Attribution"
        self.text = text
