"""Land inventory pages (issue #8): progress dashboard, quality checks, one parcel.

GET /map/<code>/land                          parcels by inventory status with a legend; share of
                                              area and of parcels done per village and for the
                                              hromada, as a chart and a table
GET /map/<code>/land/qa                       the problems found (overlaps, boundary crossings,
                                              gaps in blocks, duplicate numbers, area differences)
GET /map/<code>/land/qa.<csv|geojson>         the same as open data (?headings=uk|en for the CSV)
GET /land/parcels/<id>                        one parcel's public facts (staff with the right
                                              role also see the staff-only ones) and its problems
GET /api/hromadas/<code>/land/progress        the progress as JSON
GET /api/hromadas/<code>/land/qa              the problems as JSON
"""
from __future__ import annotations

import folium
from flask import Blueprint, Response, jsonify, render_template, request

from gis import geojson
from gis.errors import InvalidInput, NotFound
from layers import admin_areas, land, land_qa, query
from layers.base import label
from webmap import api_models as m
from webmap.access import roles_in
from webmap.database import connection
from webmap.downloads import csv_download
from webmap.folium_safe import TOOLTIP_PROPERTY, SafeGeoJsonTooltip
from webmap.i18n import current_lang, format_field_number, format_percent, t
from webmap.mapview import add_boundary, base_map, build_map, display_value, legend, map_parts
from webmap.openapi import DEMO_KATOTTG, documented

bp = Blueprint("land", __name__)
STATUSES = tuple(land.INVENTORY_STATUSES)


def _pct(value) -> str:
    return format_percent(value)  # "26%", in the page's language (Babel)


def _progress_rows(progress: dict, lang: str) -> list[dict]:
    rows = [{"name": village or t("land_outside_villages", lang), **shares}
            for village, shares in progress["villages"].items()]
    return sorted(rows, key=lambda r: (r["name"] == t("land_outside_villages", lang), r["name"]))


@bp.get("/map/<code>/land")
def land_page(code: str):
    conn, lang = connection(), current_lang()
    summary = admin_areas.hromada_summary(conn, code)
    fmap, shown = build_map(conn, summary, lang, roles_in(summary["id"]), only=(land.PARCELS.name,))
    boundary = add_boundary(fmap, conn, summary["katottg"], lang)
    progress = land.inventory_progress(conn, summary["id"])
    return render_template(
        "land.html", summary=summary, parts=map_parts(fmap), legend=[*legend(land.PARCELS, lang), boundary],
        rows=_progress_rows(progress, lang), total=progress["total"], pct=_pct,
        statuses=[(s, label(land.INVENTORY_STATUSES[s], lang), land.STATUS_COLOURS[s]) for s in STATUSES],
        has_demo=query.has_demo_rows(conn, [s.layer for s in shown], summary["id"])
        or land.has_demo_parcels(conn, summary["id"]))


def _base_map(lang: str, height: str) -> folium.Map:
    return base_map(lang, height=height)


def _qa_map(summary, found: list[dict], lang: str) -> folium.Map:
    fmap = _base_map(lang, "55vh")
    fmap.fit_bounds([[summary["miny"], summary["minx"]], [summary["maxy"], summary["maxx"]]])
    features = []
    for p in found:
        if p["geometry"]:
            features.append({"type": "Feature", "geometry": p["geometry"], "properties": {
                "kind": p["kind"], TOOLTIP_PROPERTY: f"{label(land_qa.KINDS[p['kind']], lang)}: "
                                                     f"{', '.join(q['cadastral_number'] for q in p['parcels'])}"}})
    if features:
        layer = folium.GeoJson(geojson.collection(features), name=t("land_qa_title", lang),
                               style_function=lambda f: {"color": QA_COLOURS[f["properties"]["kind"]], "weight": 3,
                                                         "fillColor": QA_COLOURS[f["properties"]["kind"]],
                                                         "fillOpacity": 0.5})
        layer.add_child(SafeGeoJsonTooltip())
        layer.add_to(fmap)
    return fmap


QA_COLOURS = {"overlap": "#c92a2a", "outside": "#862e9c", "gap": "#e67700", "duplicate": "#1c7ed6", "area": "#495057"}


@bp.get("/map/<code>/land/qa-counts")
def land_qa_counts(code: str):
    """How many problems of each kind, as a list for the land page to show once its map is up."""
    conn, lang = connection(), current_lang()
    summary = admin_areas.hromada_summary(conn, code)
    found = land_qa.problems(conn, summary["id"])
    return render_template("partials/land_qa_counts.html", problems=land_qa.summary(found),
                           kinds={k: label(v, lang) for k, v in land_qa.KINDS.items()})


@bp.get("/map/<code>/land/qa")
def land_qa_page(code: str):
    conn, lang = connection(), current_lang()
    summary = admin_areas.hromada_summary(conn, code)
    found = land_qa.problems(conn, summary["id"])
    fmap = _qa_map(summary, found, lang)
    boundary = add_boundary(fmap, conn, summary["katottg"], lang)
    return render_template(
        "land_qa.html", summary=summary, parts=map_parts(fmap),
        legend=[*((label(v, lang), QA_COLOURS[k]) for k, v in land_qa.KINDS.items()), boundary],
        problems=[{**p, "label": label(land_qa.KINDS[p["kind"]], lang), "text": land_qa.describe(p, lang)}
                  for p in found],
        counts=land_qa.summary(found), kinds={k: label(v, lang) for k, v in land_qa.KINDS.items()},
        tolerances=land_qa.TOLERANCES_M2, has_demo=land.has_demo_parcels(conn, summary["id"]))


@bp.get("/map/<code>/land/qa.<fmt>")
def land_qa_download(code: str, fmt: str):
    conn = connection()
    summary = admin_areas.hromada_summary(conn, code)
    if fmt not in ("csv", "geojson"):
        raise NotFound(f"Формат {fmt!r} не підтримується: csv або geojson",
                       f"Format {fmt!r} is not supported: csv or geojson")
    lang = request.args.get("headings") or current_lang()
    if lang not in ("uk", "en"):
        raise InvalidInput("headings: uk або en", "headings: uk or en")
    found = land_qa.problems(conn, summary["id"])
    name = f"land-qa-{summary['katottg']}"
    if fmt == "geojson":
        body = jsonify(land_qa.as_geojson(found, lang)).get_data()
        return Response(body, mimetype="application/geo+json",
                        headers={"Content-Disposition": f'attachment; filename="{name}.geojson"'})
    return csv_download(f"{name}.csv", chunks=iter([land_qa.as_csv(found, lang)]))


@bp.get("/land/parcels/<int:parcel_id>")
def parcel_page(parcel_id: int):
    conn, lang = connection(), current_lang()
    place = land.parcel_hromada(conn, parcel_id) or {"hromada_id": None, "katottg": None}
    staff = land.PARCELS.permissions.sees_staff_fields(roles_in(place["hromada_id"]))
    items, _ = query.features(conn, land.PARCELS, feature_id=parcel_id, staff=staff)
    if not items:
        raise NotFound(f"Ділянки {parcel_id} немає", f"There is no parcel {parcel_id}")
    item = items[0]
    code = place["katottg"]
    problems = []
    if code:
        problems = [{**p, "label": label(land_qa.KINDS[p["kind"]], lang), "text": land_qa.describe(p, lang)}
                    for p in land_qa.problems(conn, place["hromada_id"])
                    if any(q["id"] == parcel_id for q in p["parcels"])]
    props = item["properties"]
    facts = [(label(f.label, lang), land.purpose_label(props.get(f.name), lang) if f.name == "purpose_code"
              else format_field_number(props.get(f.name), f.type, lang) or display_value(f, props.get(f.name), lang),
              f.public)
             for f in land.PARCELS.visible_fields(staff)]
    fmap = _base_map(lang, "320px")
    status_colour = land.STATUS_COLOURS.get(props.get("inventory_status"), "#1c7ed6")
    shape = folium.GeoJson(item["geometry"], style_function=lambda f: {
        "color": status_colour, "weight": 3, "fillOpacity": 0.4})
    shape.add_to(fmap)
    fmap.fit_bounds(shape.get_bounds())
    return render_template("land_parcel.html", parcel=props, parcel_id=parcel_id, facts=facts, problems=problems,
                           code=code, parts=map_parts(fmap), staff=staff)


@bp.get("/api/hromadas/<code>/land/progress")
@documented(summary="The land inventory's progress per village and in the hromada", tags=("land",),
            ok=m.LandProgress, path={"code": {"examples": [DEMO_KATOTTG]}})
def land_progress_api(code: str):
    conn = connection()
    summary = admin_areas.hromada_summary(conn, code)
    return jsonify({"hromada": summary["katottg"], "unit": "ha", "done_status": "done",
                    "statuses": land.INVENTORY_STATUSES, **land.inventory_progress(conn, summary["id"])})


@bp.get("/api/hromadas/<code>/land/qa")
@documented(summary="The land inventory's problems: overlaps, gaps, parcels outside, areas that differ, duplicates",
            tags=("land",), ok=m.LandQa, path={"code": {"examples": [DEMO_KATOTTG]}})
def land_qa_api(code: str):
    conn = connection()
    summary = admin_areas.hromada_summary(conn, code)
    found = land_qa.problems(conn, summary["id"])
    return jsonify({"hromada": summary["katottg"], "kinds": land_qa.KINDS, "tolerances_m2": land_qa.TOLERANCES_M2,
                    "counts": land_qa.summary(found), "problems": found})
