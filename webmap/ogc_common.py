"""What OGC API – Features' read side (webmap/ogc.py) and write side (webmap/ogc_write.py, Part 4)
share: the blueprint both register on, the CRSs offered, the media type, and a collection by id."""
from __future__ import annotations

from flask import Blueprint

from gis.errors import NotFound
from layers.base import Layer
from layers.registry import get_layer
from webmap.access import read_roles

bp = Blueprint("ogc", __name__, url_prefix="/ogc")

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
# Output and bbox CRSs: WGS 84 (both axis orders), Web Mercator, the UCS-2000 TM zones.
SUPPORTED_SRIDS = [4326, 3857, 6381, 6382, 6383, 6384, 6385, 6386, 6387]
CRS_URIS = {CRS84: None, **{EPSG.format(s): s for s in SUPPORTED_SRIDS}}
GEOJSON = "application/geo+json"


def collection_layer(collection_id: str) -> Layer:
    """The layer of a collection the reader may see; 404 otherwise (as if it did not exist)."""
    layer = get_layer(collection_id)
    if not layer.permissions.can_view(read_roles()):
        raise NotFound(f"Колекції {collection_id!r} немає", f"Collection {collection_id!r} does not exist")
    return layer
