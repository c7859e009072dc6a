"""The "Інтернет-покриття" page: white spots per settlement or hex cell, from the latest analysis.

GET  /map/<code>/coverage?zones=settlement|hex   choropleth of the share below 100/20 Mbit/s, a ranked
                                                 table, a chart, downloads; residents' speed form
POST /map/<code>/coverage/analyse                admins and planners: recompute now
GET  /api/hromadas/<code>/coverage               the latest run and its results as JSON
GET  /api/hromadas/<code>/coverage/results.<csv|geojson>?zones=&headings=   the results as open data
"""
from __future__ import annotations

import folium
from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for

from gis.errors import InvalidInput, NotFound
from layers import admin_areas
from layers import coverage_analysis as ca
from layers.base import label
from layers.registry import LAYERS
from webmap import api_models as m
from webmap.access import hromada_id_of_katottg, hromada_roles, roles_in
from webmap.database import connection, engine
from webmap.downloads import csv_download
from webmap.folium_safe import POPUP_PROPERTY, TOOLTIP_PROPERTY, SafeGeoJsonPopup, SafeGeoJsonTooltip
from webmap.i18n import current_lang, format_percent, t
from webmap.mapview import add_boundary, base_map, map_parts
from webmap.openapi import DEMO_KATOTTG, documented

bp = Blueprint("coverage", __name__)
ZONES = ("settlement", "hex")
# Share of people (or, where the population is unknown, of area) below 100/20 Mbit/s.
GAP_BINS = ((0.2, "#2b8a3e"), (0.4, "#94d82d"), (0.6, "#fab005"), (0.8, "#f76707"), (1.01, "#c92a2a"))
NO_DATA_COLOUR = "#adb5bd"
CLASSES = (*ca.CLASSES, ca.UNKNOWN)


def zone_kind() -> str:
    zones = request.args.get("zones", "settlement")
    if zones not in ZONES:
        raise InvalidInput(f"zones: «{zones}» — має бути settlement або hex",
                           f"zones: {zones!r} — must be settlement or hex")
    return zones


def gap(row: dict) -> float | None:
    """The share that matters most: of people when known, else of area; None with no evidence at all."""
    if row["area_unknown"] >= 0.999:
        return None
    return row["gap_population"] if row["gap_population"] is not None else row["gap_area"]


def gap_colour(value: float | None) -> str:
    if value is None:
        return NO_DATA_COLOUR
    return next(colour for top, colour in GAP_BINS if value < top)


def gap_legend(lang: str) -> list[tuple[str, str]]:
    rows, low = [], 0
    for top, colour in GAP_BINS:
        rows.append((f"{format_percent(low, lang=lang)}–{format_percent(min(top, 1), lang=lang)}", colour))
        low = top
    return rows + [(t("no_data", lang), NO_DATA_COLOUR)]


def _pct(value) -> str:
    return format_percent(value)  # "26%", in the page's language (Babel)


def _zone_name(row: dict, lang: str, places: dict[str, dict]) -> str:
    """A settlement by its name; a hex cell by the settlement it lies in or nearest to and its number
    there (``places``: layers.coverage_analysis.cell_places), not by its grid key."""
    place = places.get(row["zone_key"]) if not row["name"] else None
    if place is None:
        return row["name"] or f"{t('hex_cell', lang)} {row['zone_key']}"
    return t("hex_cell_of_place", lang, place=(place["name_en"] if lang == "en" else None) or place["name_uk"],
             number=place["number"])


def _choropleth(summary, collection: dict, lang: str, places: dict[str, dict]) -> folium.Map:
    fmap = base_map(lang, height="60vh", bounds=summary)
    for feature in collection["features"]:
        p = feature["properties"]
        p["_gap"] = gap(p)
        p[TOOLTIP_PROPERTY] = _zone_name(p, lang, places)
        p[POPUP_PROPERTY] = [[t("zone", lang), p[TOOLTIP_PROPERTY]], [t("gap_share", lang), _pct(p["_gap"])],
                             *[[label(ca.CLASS_LABELS[c], lang), _pct(p[f"area_{c}"])] for c in CLASSES]]
    layer = folium.GeoJson(collection, name=t("coverage_title", lang), style_function=lambda f: {
        "color": "#495057", "weight": 1, "fillColor": gap_colour(f["properties"]["_gap"]), "fillOpacity": 0.6})
    layer.add_child(SafeGeoJsonPopup())
    layer.add_child(SafeGeoJsonTooltip())
    layer.add_to(fmap)
    return fmap


@bp.get("/map/<code>/coverage")
def coverage_page(code: str):
    conn, lang = connection(), current_lang()
    summary = admin_areas.hromada_summary(conn, code)
    zones = zone_kind()
    run = ca.latest_run(conn, summary["id"])
    rows, parts, boundary, places = [], None, None, {}
    if run is not None:
        rows = ca.results(conn, run["id"], zones)
        places = ca.cell_places(conn, run["id"]) if zones == "hex" else {}
        fmap = _choropleth(summary, ca.results_geojson(conn, run["id"], zones), lang, places)
        boundary = add_boundary(fmap, conn, summary["katottg"], lang)
        parts = map_parts(fmap)
    ranked = sorted(rows, key=lambda r: (gap(r) is None, -(gap(r) or 0)))
    return render_template(
        "coverage.html", summary=summary, run=run, zones=zones, parts=parts, legend=[*gap_legend(lang), boundary],
        rows=[{**r, "display_name": _zone_name(r, lang, places), "gap": gap(r),
               "evidence": max(ca.EVIDENCE_KINDS, key=lambda k: r[f"evidence_{k}"])
               if any(r[f"evidence_{k}"] for k in ca.EVIDENCE_KINDS) else None} for r in ranked],
        classes=[(c, label(ca.CLASS_LABELS[c], lang), ca.CLASS_COLOURS[c]) for c in CLASSES],
        evidence_labels={k: label(v, lang) for k, v in ca.EVIDENCE_LABELS.items()}, pct=_pct,
        may_recompute=bool(roles_in(summary["id"]) & {"admin", "planner"}))


@bp.post("/map/<code>/coverage/analyse")
@hromada_roles("admin", "planner", hromada=lambda code, **_: hromada_id_of_katottg(code))
def coverage_analyse(code: str):
    with engine().begin() as conn:
        hromada_id = admin_areas.hromada_summary(conn, code)["id"]
        ca.analyse(conn, hromada_id, address_layer=ca.address_layer_in(LAYERS))
    return redirect(url_for(".coverage_page", code=code))


def _latest(conn, code: str) -> tuple[dict, dict]:
    summary = admin_areas.hromada_summary(conn, code)
    run = ca.latest_run(conn, summary["id"])
    if run is None:
        raise NotFound("Покриття цієї громади ще не розраховано (hromada coverage analyse)",
                       "The coverage of this hromada has not been analysed yet (hromada coverage analyse)")
    return summary, run


@bp.get("/api/hromadas/<code>/coverage")
@documented(summary="The latest coverage analysis: when, parameters, evidence, every zone's shares",
            tags=("coverage",), query=m.ZonesQuery, ok=m.Coverage, path={"code": {"examples": [DEMO_KATOTTG]}},
            description="404 before the first analysis (hromada coverage analyse).")
def coverage_api(code: str):
    conn = connection()
    _, run = _latest(conn, code)
    zones = zone_kind()
    return jsonify({"run": {**run, "computed_at": run["computed_at"].isoformat()}, "zone_kind": zones,
                    "thresholds_mbps": {"unserved_below": ca.UNSERVED_BELOW_MBPS,
                                        "underserved_below": ca.UNDERSERVED_BELOW_MBPS},
                    "results": [{**r, "computed_at": r["computed_at"].isoformat()}
                                for r in ca.results(conn, run["id"], zones)]})


@bp.get("/api/hromadas/<code>/coverage/results.<fmt>")
@documented(summary="The coverage results as open data (CSV without geometry; GeoJSON with the zones)",
            tags=("coverage",), query=m.ZonesHeadingsQuery,
            path={"code": {"examples": [DEMO_KATOTTG]}, "fmt": {"enum": ["csv", "geojson"]}},
            alternatives={"text/csv": {"type": "string"},
                          "application/geo+json": {"$ref": "#/components/schemas/FeatureCollection"}})
def coverage_download(code: str, fmt: str):
    conn = connection()
    summary, run = _latest(conn, code)
    zones = zone_kind()
    name = f"coverage-{summary['katottg']}-{zones}-{run['computed_at']:%Y%m%d}"
    if fmt == "geojson":
        body = ca.results_geojson(conn, run["id"], zones)
        return Response(jsonify(body).get_data(), mimetype="application/geo+json",
                        headers={"Content-Disposition": f'attachment; filename="{name}.geojson"'})
    if fmt == "csv":
        headings = request.args.get("headings") or None
        if headings not in (None, "uk", "en"):
            raise InvalidInput("headings: uk або en", "headings: uk or en")
        return csv_download(f"{name}.csv", chunks=iter([ca.results_csv(conn, run["id"], zones, headings=headings)]))
    raise NotFound(f"Формат {fmt!r} не підтримується: csv або geojson",
                   f"Format {fmt!r} is not supported: csv or geojson")
