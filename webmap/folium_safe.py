"""Folium pieces that never put data into innerHTML.

folium's GeoJsonPopup/GeoJsonTooltip build their table as an HTML string from the feature's
properties and assign it to innerHTML, so a village or report text containing markup would run
as HTML. These replacements build DOM nodes and set ``textContent``. Each feature carries its
already translated rows in the ``_popup`` property: ``[[label, value], …]``.
"""
from __future__ import annotations

from branca.element import MacroElement
from jinja2 import Template

POPUP_PROPERTY = "_popup"
TOOLTIP_PROPERTY = "_label"


class SafeGeoJsonPopup(MacroElement):
    _template = Template("""
    {% macro script(this, kwargs) %}
    {{ this._parent.get_name() }}.bindPopup(function(layer) {
        const rows = (layer.feature.properties || {})[{{ this.prop | tojson }}] || [];
        const table = document.createElement("table");
        table.className = "popup-table";
        for (const [label, value] of rows) {
            const tr = table.insertRow();
            const th = document.createElement("th");
            th.scope = "row";
            th.textContent = label;
            const td = document.createElement("td");
            td.textContent = value;
            tr.append(th, td);
        }
        return table;
    }, {maxWidth: 320});
    {% endmacro %}
    """)

    def __init__(self):
        super().__init__()
        self._name = "SafeGeoJsonPopup"
        self.prop = POPUP_PROPERTY


class SafeGeoJsonTooltip(MacroElement):
    _template = Template("""
    {% macro script(this, kwargs) %}
    {{ this._parent.get_name() }}.bindTooltip(function(layer) {
        const span = document.createElement("span");
        span.textContent = (layer.feature.properties || {})[{{ this.prop | tojson }}] || "";
        return span;
    }, {sticky: true});
    {% endmacro %}
    """)

    def __init__(self):
        super().__init__()
        self._name = "SafeGeoJsonTooltip"
        self.prop = TOOLTIP_PROPERTY


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
