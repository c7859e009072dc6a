"""The layers whose features are assets that reports route by and act on (lamps, road segments).

The report workflow (layers.reports) finds an asset's declaration (``Layer.asset``) here rather than
in the registry, which imports the report layer: listed by module, checked against the registry by
tests/layers/test_declarations.py so that a new asset layer cannot be forgotten.
"""
from __future__ import annotations

import json

import sqlalchemy as sa

from gis import direct_sql
from layers import lighting, roads
from layers.base import AssetSpec, Layer

ASSET_LAYERS: tuple[Layer, ...] = tuple(layer for module in (lighting, roads) for layer in module.LAYERS
                                        if layer.asset is not None)
_BY_TABLE = {layer.table: layer.asset for layer in ASSET_LAYERS}


def asset_spec(conn: sa.Connection, asset_id: int | None) -> AssetSpec | None:
    """The declaration of the layer the asset belongs to, if any."""
    if asset_id is None:
        return None
    # run directly: every report's intake asks
    table = direct_sql.scalar(conn, "SELECT layer_table FROM asset WHERE id = %(id)s", {"id": asset_id})
    return _BY_TABLE.get(table)


def asset_outline(conn: sa.Connection, asset_id: int) -> dict | None:
    """The asset a report is about, to draw beside the report's place: its kind, number, name and
    GeoJSON geometry (WGS 84); None when it is gone."""
    row = conn.execute(sa.text("SELECT kind, ref, name, ST_AsGeoJSON(geom, 7) AS shape FROM asset WHERE id = :id"),
                       {"id": asset_id}).mappings().first()
    if row is None:
        return None
    return {"kind": row["kind"], "ref": row["ref"], "name": row["name"], "geometry": json.loads(row["shape"])}
