"""Find a place by address, with no outside geocoder (#17): the JSON the report form's script and other
apps ask.

GET /api/places?q=…&hromada=<KATOTTG>&limit=5   the places the text may mean, best first (layers.places)

An empty ``q`` is a 400; a text that matches nothing well enough answers 200 with no places, and the
closest ones as ``suggestions``. Public and the same for everyone, so cached by anyone and
revalidated with its ETag (the address layer changes only when it is imported).
"""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from gis.errors import InvalidInput
from layers import places
from layers.admin_areas import hromada_id_by_code
from webmap import api_models as m
from webmap.database import connection
from webmap.map_layers import cacheable  # the map API's ETag revalidation, the same policy
from webmap.openapi import documented

bp = Blueprint("places_api", __name__, url_prefix="/api")
DEFAULT_LIMIT = 5


def _limit(text: str | None) -> int:
    if text is None or text == "":
        return DEFAULT_LIMIT
    if not (text.isascii() and text.isdigit()):
        raise InvalidInput(f"limit має бути цілим числом від 1 до {places.LIMIT_MAX}",
                           f"limit must be a whole number from 1 to {places.LIMIT_MAX}")
    return int(text)


@bp.get("/places")
@documented(summary="Places an address, a street or a village name may mean, best first (no outside geocoder)",
            description="Typo-tolerant (PostgreSQL pg_trgm) over the local address layer: address points and "
                        "streets imported from OpenStreetMap (`hromada import-addresses`) and the villages. A house "
                        "number not found gives its street (`kind: street`, with a `note`); a street not found in "
                        "the village named gives the village. Nothing near enough: `places` is empty and "
                        "`suggestions` holds the closest.",
            tags=("places",), query=m.PlacesQuery, ok=m.Places)
def find_places():
    conn = connection()
    text = places.checked_text(request.args.get("q"))
    code = request.args.get("hromada")
    hromada_id = hromada_id_by_code(conn, code) if code else None
    limit = _limit(request.args.get("limit"))
    found = places.find_places(conn, text, hromada_id=hromada_id, limit=limit)
    suggestions = [] if found else places.find_places(conn, text, hromada_id=hromada_id, limit=limit,
                                                      min_score=places.SUGGEST_MIN)
    return cacheable(jsonify({"query": text, "places": found, "suggestions": suggestions}), private=False)
