"""The hromada's dashboard of residents' reports (layers.dashboard).

- ``/map/<KATOTTG>/dashboard``: the page — totals, times, "is it fixed?" answers, tables with bar
  charts (each chart is its table: a screen reader reads the numbers), where reports come from as
  hexagons on a map. The hromada's staff see every report and the overdue list.
- ``/api/hromadas/<KATOTTG>/dashboard``: every figure as JSON; ``…/dashboard/<figure>.csv`` each table.
No personal data in any of them.
"""
from __future__ import annotations

import folium
from flask import Blueprint, jsonify, make_response, render_template

from gis.errors import NotFound
from layers import admin_areas
from layers import dashboard as figures
from webmap import api_models as m
from webmap.access import roles_in
from webmap.database import connection
from webmap.downloads import csv_download
from webmap.folium_safe import TOOLTIP_PROPERTY, SafeGeoJsonTooltip
from webmap.i18n import current_lang, t, tn
from webmap.mapview import add_boundary, base_map, map_parts
from webmap.openapi import documented

bp = Blueprint("dashboard", __name__)
STAFF_ROLES = {"admin", "unit_staff"}
HEX_COLOURS = ("#fff3bf", "#ffd43b", "#f59f00", "#e8590c", "#c92a2a")  # fewer → more reports


def _staff(hromada_id: int) -> bool:
    return bool(roles_in(hromada_id) & STAFF_ROLES)


def _private(response, staff: bool):
    """The staff version is theirs alone; the public one may be cached like any public page."""
    if staff:
        response.headers["Cache-Control"] = "private, no-store"
    return response


def _hex_map(conn, summary, hexes: dict, lang: str) -> dict:
    fmap = base_map(lang, height="50vh", bounds=summary)
    add_boundary(fmap, conn, summary["katottg"], lang)
    top = max((f["properties"]["reports"] for f in hexes["features"]), default=1)
    for feature in hexes["features"]:
        feature["properties"][TOOLTIP_PROPERTY] = tn("reports_count", feature["properties"]["reports"])
    layer = folium.GeoJson(hexes, name=t("dash_where"), style_function=lambda f: {
        "color": "#495057", "weight": 1, "fillOpacity": 0.7,
        "fillColor": HEX_COLOURS[min(len(HEX_COLOURS) - 1, (f["properties"]["reports"] - 1) * len(HEX_COLOURS) // top)],
    })
    layer.add_child(SafeGeoJsonTooltip())
    layer.add_to(fmap)
    return map_parts(fmap)


@bp.get("/map/<code>/dashboard")
def dashboard_page(code: str):
    conn, lang = connection(), current_lang()
    summary = admin_areas.hromada_summary(conn, code)
    staff = _staff(summary["id"])
    data = figures.dashboard(conn, summary["id"], staff=staff)
    page = render_template("dashboard.html", summary=summary, data=data, staff=staff, tables=figures.TABLES,
                           parts=_hex_map(conn, summary, data["hexbins"], lang))
    return _private(make_response(page), staff)


@bp.get("/api/hromadas/<code>/dashboard")
@documented(summary="A hromada's figures on residents' reports (no personal data)", tags=("reports",),
            description="By category, unit, village and month (total, open, closed); median and 90th percentile "
                        "hours to acknowledge and to resolve; the share resolved within target; “is it fixed?” "
                        "answers; hexagons of where reports come from. Public reports only, unless the client "
                        "is the hromada's staff (then every report and the overdue list).",
            ok=m.Dashboard)
def dashboard_json(code: str):
    conn = connection()
    summary = admin_areas.hromada_summary(conn, code)
    staff = _staff(summary["id"])
    return _private(jsonify(figures.dashboard(conn, summary["id"], staff=staff)), staff)


@bp.get("/api/hromadas/<code>/dashboard/<figure>.csv")
@documented(summary="One table of the dashboard as CSV", tags=("reports",), media="text/csv",
            path={"figure": {"enum": list(figures.TABLES)}})
def dashboard_csv(code: str, figure: str):
    if figure not in figures.TABLES:
        raise NotFound(f"Немає таблиці {figure!r}; є: {', '.join(figures.TABLES)}",
                       f"No table {figure!r}; there are: {', '.join(figures.TABLES)}")
    conn = connection()
    summary = admin_areas.hromada_summary(conn, code)
    staff = _staff(summary["id"])
    rows = figures.FIGURES[figure](conn, summary["id"], staff)
    header = list(rows[0]) if rows else ["total"]
    return _private(csv_download(f"{summary['katottg']}-{figure}.csv", header, [list(r.values()) for r in rows]),
                    staff)
