"""Accessible venues for other apps, in the formats accessibility maps exchange.

GET /api/venues.a11yjson[?hromada=KATOTTG]   A11yJSON PlaceInfo FeatureCollection (layers/a11yjson.py)
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from layers.a11yjson import venues_a11yjson
from layers.admin_areas import hromada_id_by_code
from webmap import api_models as m
from webmap.database import connection
from webmap.openapi import documented

bp = Blueprint("venues_api", __name__, url_prefix="/api")


@bp.get("/venues.a11yjson")
@documented(summary="The venues as A11yJSON PlaceInfo features (a GeoJSON FeatureCollection)", tags=("venues",),
            query=m.HromadaQuery, ok=m.FeatureCollection, media="application/geo+json")
def venues_as_a11yjson():
    conn = connection()
    hromada_id = hromada_id_by_code(conn, request.args["hromada"]) if request.args.get("hromada") else None
    return jsonify(venues_a11yjson(conn, hromada_id)), 200, {
        "Content-Type": "application/geo+json",
        "Content-Disposition": 'inline; filename="venues.a11yjson"'}
