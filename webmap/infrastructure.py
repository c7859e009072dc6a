"""Thematic pages of the community's infrastructure: road condition and street lighting.

GET /map/<code>/roads              map by condition with its legend; km per condition and village
GET /map/<code>/lighting?reach=M   lamps by status; each street's share within M metres of a working
                                   lamp (default 35); streets with no working light
GET /api/hromadas/<code>/roads/summary           the kilometres as JSON
GET /api/hromadas/<code>/lighting/coverage?reach=M   the lighting coverage as JSON
GET  /api/road-segments/<id>/inspections   a segment's inspections and repairs, newest first
POST /api/road-segments/<id>/inspections   staff record one: condition 1–5, pci, inspected_on, note
"""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

from gis.errors import InvalidInput
from layers import admin_areas, lighting, query, roads
from layers.base import label
from layers.registry import get_layer
from webmap import api_models as m
from webmap.access import current_actor, hromada_roles, roles_in
from webmap.database import connection, engine
from webmap.i18n import current_lang
from webmap.mapview import add_boundary, build_map, legend, map_parts
from webmap.openapi import DEMO_KATOTTG, SIGNED_IN, body, documented

bp = Blueprint("infrastructure", __name__)
REACH_DEFAULT_M, REACH_MIN_M, REACH_MAX_M = 35, 5, 200


def lighting_reach() -> float:
    """The ``reach`` parameter: metres from a working lamp that count as lit."""
    raw = request.args.get("reach", "").strip()
    if not raw:
        return REACH_DEFAULT_M
    try:
        reach = float(raw)
    except ValueError:
        reach = float("nan")
    if not REACH_MIN_M <= reach <= REACH_MAX_M:  # also false for NaN
        raise InvalidInput(f"reach: відстань від ліхтаря має бути числом від {REACH_MIN_M} до {REACH_MAX_M} м",
                           f"reach: the distance from a lamp must be a number from {REACH_MIN_M} to {REACH_MAX_M} m")
    return reach


def _condition_rows(summary: dict) -> list[dict]:
    """Per village: km in each condition class (best first), unrated, and the total."""
    rows = []
    for village, by_condition in summary.items():
        rows.append({"village": village, "km": [by_condition.get(c, 0.0) for c in roads.CONDITIONS],
                     "unrated": by_condition.get("", 0.0), "total": sum(by_condition.values())})
    return rows


@bp.get("/map/<code>/roads")
def roads_page(code: str):
    conn, lang = connection(), current_lang()
    summary = admin_areas.hromada_summary(conn, code)
    fmap, shown = build_map(conn, summary, lang, roles_in(summary["id"]), only=("road_segments",))
    boundary = add_boundary(fmap, conn, summary["katottg"], lang)
    km = roads.km_by_condition(conn, summary["id"])
    layer = get_layer("road_segments")
    return render_template(
        "roads.html", summary=summary, parts=map_parts(fmap), legend=[*legend(layer, lang), boundary], layer=layer,
        conditions=[(c, label(v, lang)) for c, v in roads.CONDITIONS.items()],
        villages=[r for r in _condition_rows(km["villages"]) if r["village"]],
        outside=km["villages"].get(""), total=_condition_rows({"": km["total"]})[0],
        has_demo=query.has_demo_rows(conn, [s.layer for s in shown], summary["id"]))


@bp.get("/map/<code>/lighting")
def lighting_page(code: str):
    conn, lang = connection(), current_lang()
    summary = admin_areas.hromada_summary(conn, code)
    reach = lighting_reach()
    fmap, shown = build_map(conn, summary, lang, roles_in(summary["id"]), only=("street_lamps", "road_segments"))
    boundary = add_boundary(fmap, conn, summary["katottg"], lang)
    streets = lighting.lighting_coverage(conn, summary["id"], reach_m=reach)
    lamps = get_layer("street_lamps")
    counts = lighting.lamp_counts(conn, summary["id"])
    return render_template(
        "lighting.html", summary=summary, parts=map_parts(fmap), legend=[*legend(lamps, lang), boundary],
        reach=reach,
        streets=streets, dark=[s for s in streets if s["lit_m"] == 0],
        statuses=[(code_, label(v, lang), counts.get(code_, 0)) for code_, v in lighting.LAMP_STATUSES.items()],
        has_demo=query.has_demo_rows(conn, [s.layer for s in shown], summary["id"]))


@bp.get("/api/hromadas/<code>/roads/summary")
@documented(summary="Kilometres of road by condition, per village and in total", tags=("infrastructure",),
            ok=m.RoadsSummary, path={"code": {"examples": [DEMO_KATOTTG]}})
def roads_summary_api(code: str):
    conn = connection()
    summary = admin_areas.hromada_summary(conn, code)
    return jsonify({"hromada": summary["katottg"], "unit": "km",
                    "conditions": {c: v for c, v in roads.CONDITIONS.items()},
                    **roads.km_by_condition(conn, summary["id"])})


@bp.get("/api/hromadas/<code>/lighting/coverage")
@documented(summary="Each street's length, lit length and lit share", tags=("infrastructure",), query=m.ReachQuery,
            ok=m.LightingCoverage, path={"code": {"examples": [DEMO_KATOTTG]}})
def lighting_coverage_api(code: str):
    conn = connection()
    summary = admin_areas.hromada_summary(conn, code)
    reach = lighting_reach()
    return jsonify({"hromada": summary["katottg"], "reach_m": reach,
                    "streets": lighting.lighting_coverage(conn, summary["id"], reach_m=reach)})


@bp.get("/api/road-segments/<int:segment_id>/inspections")
@documented(summary="A road segment's inspections and repairs, newest first", tags=("infrastructure",),
            ok=m.Inspections)
def road_inspections(segment_id: int):
    conn = connection()
    roads.require_segment(conn, segment_id)
    return jsonify({"segment_id": segment_id, "inspections": roads.inspections(conn, segment_id)})


def segment_hromada(segment_id: int, **_) -> int:
    """The hromada of the road segment a view is about (404 when there is none)."""
    return roads.segment_hromada_id(connection(), segment_id)


@bp.post("/api/road-segments/<int:segment_id>/inspections")
@hromada_roles(*get_layer("road_segments").permissions.edit, hromada=segment_hromada)
@documented(summary="Record an inspection of a road segment (staff and admins of its hromada)",
            tags=("infrastructure",), json=m.InspectionIn, form=m.InspectionIn, headers=m.CsrfHeaders,
            ok=m.InspectionStored, status=201, errors=(401, 403), security=SIGNED_IN)
def road_inspection_create(segment_id: int):
    data: m.InspectionIn = body()  # a form, or JSON with condition as 3 or "3"
    with engine().begin() as conn:
        inspection_id = roads.record_inspection(
            conn, segment_id, condition=data.condition, pci=data.pci, on=data.inspected_on,
            note=(data.note or "").strip() or None, user_id=current_actor().user_id)
    return jsonify({"id": inspection_id, "segment_id": segment_id}), 201
