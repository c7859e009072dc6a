"""Reconstruction projects (issue #8): public analytics, project pages, open data, and editing for planners.

GET  /map/<KATOTTG>/reconstruction                  map by stage with its legend; totals by stage, sector and
                                                    source (tables and bar charts); spent vs budget; a timeline
GET  /projects/<id or DREAM id>                      one project: stage history with dates and photos per stage,
                                                    funding by source, tenders (linked to Prozorro), damage refs
GET  /projects/photos/<id>.jpg                       a photo (EXIF stripped on upload); ?size=thumb
GET  /api/hromadas/<KATOTTG>/reconstruction         the analytics as JSON (amounts as exact decimal strings)
GET  /api/hromadas/<KATOTTG>/reconstruction/projects.<csv|geojson>   projects with their money, as open data
GET  /api/projects/<id>                             one project as JSON
POST /api/projects/<id>/stage                       planners, admins (CSRF): {stage, at?, note?, by?}
POST /api/projects/<id>/funding                     planners, admins (CSRF): {source, available, disbursed?,
                                                    spent?, party?, note?}
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import folium
from flask import Blueprint, Response, jsonify, render_template, request

from gis import geojson
from gis.errors import NotFound
from layers import admin_areas
from layers import reconstruction as rc
from layers.base import label
from webmap import api_models as m
from webmap.access import current_actor, hromada_roles, roles_in
from webmap.database import connection, engine
from webmap.downloads import csv_download, geojson_download
from webmap.folium_safe import TOOLTIP_PROPERTY, SafeGeoJsonTooltip
from webmap.i18n import current_lang, format_field_number, format_percent, t
from webmap.mapview import add_boundary, base_map, build_map, display_value, legend, map_parts
from webmap.openapi import DEMO_KATOTTG, SIGNED_IN, body, documented

bp = Blueprint("reconstruction", __name__)
LAYER = rc.PROJECTS
# What the project page shows in its heading, stage line, description and money section, not as a fact.
SHOWN_ABOVE_THE_FACTS = {"title_uk", "title_en", "dream_id", "stage", "outcome", "description", "budget"}
EDIT_ROLES = tuple(sorted(LAYER.permissions.edit))


def _plain(value):
    """JSON-ready: exact amounts as strings, dates ISO."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _title(p: dict, lang: str) -> str:
    return (p.get("title_en") if lang == "en" else None) or p["title_uk"]


def _colour(p: dict) -> str:
    return rc.OUTCOME_COLOURS.get(p.get("outcome")) or rc.STAGE_COLOURS.get(p["stage"], "#495057")


def _add_footprints(fmap: folium.Map, conn, hromada_id: int, lang: str) -> None:
    """Lines and polygons of the projects that have them, coloured by stage, under the markers."""
    rows = rc.footprints_in_hromada(conn, hromada_id)
    if not rows:
        return
    features = [{"type": "Feature", "geometry": r["geometry"],
                 "properties": {TOOLTIP_PROPERTY: _title(r, lang), "_colour": _colour(r)}} for r in rows]
    # A pane of their own below the markers' (400), so the outlines never cover a marker; not in the layer
    # control, which build_map has already rendered the list of.
    folium.map.CustomPane("footprints", z_index=390).add_to(fmap)
    layer = folium.GeoJson(geojson.collection(features), control=False, pane="footprints",
                           style_function=lambda f: {"color": f["properties"]["_colour"], "weight": 4,
                                                     "fillColor": f["properties"]["_colour"], "fillOpacity": 0.3})
    layer.add_child(SafeGeoJsonTooltip())
    layer.add_to(fmap)


def _bar_rows(groups: list[dict], key: str, labels: dict, colours: dict, lang: str,
              colour: str = "#1864ab") -> list[dict]:
    """Rows for a one-value CSS bar chart: the share of the largest value as the bar's width."""
    top = max((g[key] for g in groups), default=0) or 1
    return [{"code": g["code"], "text": label(labels[g["code"]], lang), "value": g[key],
             "width": float(Decimal(g[key]) / Decimal(top) * 100), "colour": colours.get(g["code"], colour),
             "group": g} for g in groups]


@bp.get("/map/<code>/reconstruction")
def analytics_page(code: str):
    conn, lang = connection(), current_lang()
    summary = admin_areas.hromada_summary(conn, code)
    data = rc.analytics(conn, summary["id"])
    fmap, _ = build_map(conn, summary, lang, roles_in(summary["id"]), only=(LAYER.name,))
    _add_footprints(fmap, conn, summary["id"], lang)
    boundary = add_boundary(fmap, conn, summary["katottg"], lang)
    stage_labels = {**rc.STAGES, **rc.OUTCOMES}
    stage_colours = {**rc.STAGE_COLOURS, **rc.OUTCOME_COLOURS}
    source_colours = rc.SOURCE_COLOURS
    timeline_top = max((m["total"] for m in data["timeline"]), default=0) or 1
    budget = data["totals"]["budget"]
    return render_template(
        "reconstruction.html", summary=summary, data=data, parts=map_parts(fmap),
        legend=[*legend(LAYER, lang), *((label(v, lang), rc.OUTCOME_COLOURS[k]) for k, v in rc.OUTCOMES.items()),
                boundary],
        stage_bars=_bar_rows(data["by_stage"], "count", stage_labels, stage_colours, lang),
        sector_bars=_bar_rows(data["by_sector"], "budget", rc.SECTORS, {}, lang),
        source_bars=_bar_rows(data["by_source"], "available", rc.FUNDING_SOURCES, source_colours, lang),
        money_bars=[(t("rc_available", lang), data["totals"]["available"], "#1864ab"),
                    (t("rc_disbursed", lang), data["totals"]["disbursed"], "#e67700"),
                    (t("rc_spent", lang), data["totals"]["spent"], "#2b8a3e")],
        budget=budget, pct=lambda part, whole: _pct(part, whole), timeline_top=timeline_top,
        stage_colours=stage_colours, stage_label=lambda c: rc.stage_label(c, lang),
        sector_label=lambda c: label(rc.SECTORS[c], lang) if c in rc.SECTORS else c,
        status_label=lambda c: label(rc.STATUSES[c], lang) if c in rc.STATUSES else c,
        uah=lambda v: rc.format_uah(v, lang), title_of=lambda p: _title(p, lang),
        has_demo=any(p["is_demo"] for p in data["projects"]), stage_codes=(*rc.STAGE_ORDER, *rc.OUTCOMES))


def _pct(part, whole) -> str:
    return format_percent(rc.share(part, whole), 1)  # "25,6%" / "25.6%" (Babel)


def _project_id(key: str) -> int:
    return rc.find_project(connection(), key)


@bp.get("/projects/<key>")
def project_page(key: str):
    conn, lang = connection(), current_lang()
    p = rc.project(conn, _project_id(key))
    fmap = base_map(lang, height="320px", location=[p["lat"], p["lon"]], zoom=16)
    colour = _colour(p)
    if p["footprint"] and p["footprint"]["type"] not in ("Point", "MultiPoint"):
        folium.GeoJson({"type": "Feature", "geometry": p["footprint"], "properties": {}},
                       style_function=lambda _: {"color": colour, "weight": 4, "fillOpacity": 0.3}).add_to(fmap)
    marker = folium.GeoJson({"type": "Feature", "geometry": {"type": "Point", "coordinates": [p["lon"], p["lat"]]},
                             "properties": {TOOLTIP_PROPERTY: _title(p, lang)}},
                            marker=folium.CircleMarker(radius=10, weight=3, fill=True, fill_opacity=0.85,
                                                       color="#212529", fill_color=colour))
    marker.add_child(SafeGeoJsonTooltip())
    marker.add_to(fmap)
    photos_by_stage: dict[str, list] = {}
    for shot in p["photos"]:
        photos_by_stage.setdefault(shot["stage"], []).append(shot)
    # each stage's photos under the first time the project entered it (a stage is entered once)
    history = [{**h, "photos": photos_by_stage.pop(h["stage"], [])} for h in p["history"]]
    unit = (p["unit_en"] if lang == "en" else None) or p["unit_uk"]
    # Every public declared fact the page does not show elsewhere, in the declaration's order; the
    # unit by its name.
    facts = [(label(f.label, lang), unit if f.type == "unit"
              else format_field_number(p.get(f.name), f.type, lang) or display_value(f, p.get(f.name), lang))
             for f in LAYER.public_fields
             if f.name not in SHOWN_ABOVE_THE_FACTS and (unit if f.type == "unit" else p.get(f.name))]
    return render_template(
        "project.html", p=p, title=_title(p, lang), facts=facts, parts=map_parts(fmap), history=history,
        stage_label=lambda c: rc.stage_label(c, lang),
        source_label=lambda c: label(rc.FUNDING_SOURCES[c], lang), uah=lambda v: rc.format_uah(v, lang),
        pct=_pct, warnings=[w[lang] for w in p["funding"]["warnings"]], stage_colours={**rc.STAGE_COLOURS,
                                                                                        **rc.OUTCOME_COLOURS})


@bp.get("/projects/photos/<int:photo_id>.jpg")
def photo(photo_id: int):
    data = rc.photo_bytes(connection(), photo_id, thumb=request.args.get("size") == "thumb")
    return Response(data, mimetype="image/jpeg", headers={"Cache-Control": "public, max-age=3600",
                                                          "X-Content-Type-Options": "nosniff"})


@bp.get("/api/hromadas/<code>/reconstruction")
@documented(summary="The reconstruction analytics: totals, by stage, status, sector and source, timeline, projects",
            tags=("reconstruction",), ok=m.Reconstruction, path={"code": {"examples": [DEMO_KATOTTG]}})
def analytics_api(code: str):
    conn = connection()
    summary = admin_areas.hromada_summary(conn, code)
    data = rc.analytics(conn, summary["id"])
    return jsonify({"hromada": summary["katottg"], "currency": "UAH", "amounts": "exact decimal strings",
                    **_plain(data)})


@bp.get("/api/hromadas/<code>/reconstruction/projects.<fmt>")
@documented(summary="The projects as open data (CSV, or GeoJSON with the footprints)", tags=("reconstruction",),
            path={"code": {"examples": [DEMO_KATOTTG]}, "fmt": {"enum": ["csv", "geojson"]}},
            alternatives={"text/csv": {"type": "string"},
            "application/geo+json": {"$ref": "#/components/schemas/FeatureCollection"}})
def projects_download(code: str, fmt: str):
    conn = connection()
    summary = admin_areas.hromada_summary(conn, code)
    rows = rc.export_rows(conn, summary["id"])
    name = f"reconstruction-{summary['katottg']}-{dt.date.today():%Y%m%d}"
    if fmt == "geojson":
        return geojson_download(f"{name}.geojson", geojson.collection(
            (geojson.feature(r["id"], r["_geometry"], {k: r[k] for k in rc.EXPORT_COLUMNS}) for r in rows),
            name="reconstruction_projects", currency="UAH"))
    if fmt == "csv":
        return csv_download(f"{name}.csv", rc.EXPORT_COLUMNS, ([r[k] for k in rc.EXPORT_COLUMNS] for r in rows))
    raise NotFound(f"Формат {fmt!r} не підтримується: csv або geojson",
                   f"Format {fmt!r} is not supported: csv or geojson")


@bp.get("/api/projects/<key>")
@documented(summary="One project with its history, funding, tenders and damage references", tags=("reconstruction",),
            ok=m.Project,
            path={"key": {"description": "the project's id or DREAM id", "examples": ["1"]}})
def project_api(key: str):
    p = rc.project(connection(), _project_id(key))
    p.pop("by_user_id", None)
    return jsonify(_plain(p))


def project_hromada(key: str, **_) -> int:
    return rc.project_hromada_id(connection(), key)


@bp.post("/api/projects/<key>/stage")
@hromada_roles(*EDIT_ROLES, hromada=project_hromada)
@documented(summary="Move a project to a later stage (planners and admins of its hromada)", tags=("reconstruction",),
            json=m.StageIn, form=m.StageIn, headers=m.CsrfHeaders, ok=m.StageMoved, errors=(401, 403, 409),
            security=SIGNED_IN, description="A refused move (the project is closed, already at that stage, or the "
                                            "stage is an earlier one) is a 409.")
def stage_change(key: str):
    data: m.StageIn = body()
    with engine().begin() as conn:
        project_id = rc.find_project(conn, key)
        result = rc.set_stage(conn, project_id, data.stage, at=data.at or None, note=data.note, by=data.by,
                              user_id=current_actor().user_id)
        history = rc.history(conn, project_id)
    return jsonify(_plain({"id": project_id, **result, "history": history})), 200


@bp.post("/api/projects/<key>/funding")
@hromada_roles(*EDIT_ROLES, hromada=project_hromada)
@documented(summary="Add a funding line to a project (planners and admins of its hromada)", tags=("reconstruction",),
            json=m.FundingIn,
            form=m.FundingIn, headers=m.CsrfHeaders, ok=m.FundingAdded, status=201, errors=(401, 403),
            security=SIGNED_IN)
def funding_add(key: str):
    data: m.FundingIn = body()
    with engine().begin() as conn:
        project_id = rc.find_project(conn, key)
        line = rc.add_funding(conn, project_id, data.source, data.available, data.disbursed or 0, data.spent or 0,
                              party=data.party, note=data.note)
        summary = rc.funding_summary(conn, project_id)
    return jsonify(_plain({"id": line, "project_id": project_id, "funding": summary})), 201
