"""GeoJSON (RFC 7946) objects, built in one place."""
from __future__ import annotations

from collections.abc import Iterable


def feature(id_, geometry: dict | None, properties: dict) -> dict:
    return {"type": "Feature", "id": id_, "geometry": geometry, "properties": properties}


def collection(features: Iterable[dict], **members) -> dict:
    """A FeatureCollection; ``members`` are foreign members (name, numberMatched, links, …) before the
    features, so a reader sees them first."""
    return {"type": "FeatureCollection", **members, "features": list(features)}
