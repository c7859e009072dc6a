"""The public register of communal property: filters, totals, a map, the list and its export.

GET /map/<code>/property?type=&condition=&tenant_kind=&balance_holder_unit_id=   the register page
GET /map/<code>/property.csv?…same filters…                                      the filtered list as CSV
GET /api/hromadas/<code>/property?…                                              the same as JSON
"""
from __future__ import annotations

import folium
from flask import Blueprint, jsonify, render_template, request

from gis import geojson
from layers import admin_areas
from layers import property as prop
from layers.base import label
from webmap import api_models as m
from webmap.access import hromada_id_of_katottg, roles_in
from webmap.database import connection
from webmap.downloads import csv_download
from webmap.folium_safe import POPUP_PROPERTY, TOOLTIP_PROPERTY, SafeGeoJsonPopup, SafeGeoJsonTooltip
from webmap.i18n import current_lang, format_field_number, t
from webmap.mapview import POINT_MARKER, add_boundary, base_map, display_value, legend, map_parts
from webmap.openapi import DEMO_KATOTTG, documented

bp = Blueprint("property", __name__)
LAYER = prop.COMMUNAL_PROPERTY


def _staff() -> bool:
    """Staff fields for staff of the hromada in the URL only."""
    return LAYER.permissions.sees_staff_fields(roles_in(hromada_id_of_katottg(request.view_args["code"])))


def _rows(conn, summary, lang):
    filters = {name: request.args.get(name) for name in prop.FILTERS}
    return filters, prop.register(conn, summary["id"], filters=filters, staff=_staff(), lang=lang)


def _shown(row: dict, lang: str, page: bool = True) -> dict:
    """Every visible field as a person reads it (choice labels, the holder's name); on the ``page`` numbers
    in the language's way too (the CSV keeps them plain)."""
    out = {f.name: (page and format_field_number(row.get(f.column_name), f.type, lang))
           or display_value(f, row.get(f.column_name), lang) for f in LAYER.visible_fields(_staff())}
    out["balance_holder_unit_id"] = row["holder"] or "—"
    out["parcels"] = row["parcels"] or "—"
    return out


def _map(rows: list[dict], summary, lang: str) -> folium.Map:
    fmap = base_map(lang, height="50vh", bounds=summary)
    features = []
    for r in rows:
        shown = _shown(r, lang)
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
                         "properties": {"condition": r["condition"], TOOLTIP_PROPERTY: r["name"],
                                        POPUP_PROPERTY: [[label(LAYER.field(n).label, lang), shown[n]]
                                                         for n in LAYER.popup]}})
    layer = folium.GeoJson(geojson.collection(features), name=label(LAYER.title, lang),
                           marker=POINT_MARKER(),
                           style_function=lambda f: LAYER.style.for_properties(f["properties"]))
    layer.add_child(SafeGeoJsonPopup())
    layer.add_child(SafeGeoJsonTooltip())
    layer.add_to(fmap)
    return fmap


@bp.get("/map/<code>/property")
def property_page(code: str):
    conn, lang = connection(), current_lang()
    summary = admin_areas.hromada_summary(conn, code)
    filters, rows = _rows(conn, summary, lang)
    holders = prop.balance_holders(conn, summary["id"])
    fmap = _map(rows, summary, lang)
    boundary = add_boundary(fmap, conn, summary["katottg"], lang)
    columns = ["name", "type", "address", "balance_holder_unit_id", "use", "area_m2", "condition", "tenant_kind",
               "tenant_organisation", "lease_end", "rent_uah_month"]
    if _staff():
        columns.insert(9, "tenant_person")
    return render_template(
        "property.html", summary=summary, rows=[(r, _shown(r, lang)) for r in rows], totals=prop.totals(rows),
        filters=filters, parts=map_parts(fmap), legend=[*legend(LAYER, lang), boundary],
        columns=[(name, label(LAYER.field(name).label, lang)) for name in columns] + [("parcels", t("parcels_under"))],
        choices={name: [(c, label(v, lang)) for c, v in LAYER.field(name).choices.items()]
                 for name in ("type", "condition", "tenant_kind")},
        holders=[(h["id"], h["name_uk"] if lang == "uk" else (h["name_en"] or h["name_uk"])) for h in holders],
        type_labels={c: label(v, lang) for c, v in prop.PROPERTY_TYPES.items()},
        has_demo=any(r["is_demo"] for r in rows), query=request.query_string.decode())


@bp.get("/map/<code>/property.csv")
def property_csv(code: str):
    conn, lang = connection(), current_lang()
    summary = admin_areas.hromada_summary(conn, code)
    _, rows = _rows(conn, summary, lang)
    fields = LAYER.visible_fields(_staff())
    header = [label(f.label, lang) for f in fields] + ["lon", "lat"]
    shown = (_shown(r, lang, page=False) | {"lon": r["lon"], "lat": r["lat"]} for r in rows)
    return csv_download(f"communal-property-{summary['katottg']}.csv", header,
                        ([s[f.name] if s[f.name] != "—" else None for f in fields] + [s["lon"], s["lat"]]
                         for s in shown))


@bp.get("/api/hromadas/<code>/property")
@documented(summary="The communal property register (public fields; staff see individual tenants)",
            tags=("property",), query=m.PropertyQuery, ok=m.PropertyRegister,
            path={"code": {"examples": [DEMO_KATOTTG]}})
def property_api(code: str):
    conn, lang = connection(), current_lang()
    summary = admin_areas.hromada_summary(conn, code)
    _, rows = _rows(conn, summary, lang)
    items = [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items()
              if k not in ("holder_uk", "holder_en")} for r in rows]
    return jsonify({"hromada": summary["katottg"], "totals": prop.totals(rows), "objects": items})
