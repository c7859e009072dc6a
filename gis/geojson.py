"""GeoJSON (RFC 7946) objects, built in one place."""
from __future__ import annotations

from collections.abc import Iterable


def feature(id_, geometry: dict | None, properties: dict) -> dict:
    return {"type": "Feature", "id": id_, "geometry": geometry, "properties": properties}


def collection(features: Iterable[dict], **members) -> dict:
    """A FeatureCollection; ``members`` are foreign members (name, numberMatched, links, …) before the
    features, so a reader sees them first."""
    return {"type": "FeatureCollection", **members, "features": list(features)}


def page(features: list[dict], matched: int | None, **members) -> dict:
    """A FeatureCollection of one page of a query: ``numberReturned``, and ``numberMatched`` when every
    match was counted (``matched`` None: counting stopped at a limit, and the member is left out, as
    OGC API – Features Part 1 allows)."""
    counted = {} if matched is None else {"numberMatched": matched}
    return collection(features, **counted, numberReturned=len(features), **members)
