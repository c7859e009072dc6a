"""The layers whose features are assets that reports route by and act on (lamps, road segments).

The report workflow (layers.reports) finds an asset's declaration (``Layer.asset``) here rather than
in the registry, which imports the report layer: listed by module, checked against the registry by
tests/layers/test_declarations.py so that a new asset layer cannot be forgotten.
"""
from __future__ import annotations

import sqlalchemy as sa

from layers import lighting, roads
from layers.base import AssetSpec, Layer

ASSET_LAYERS: tuple[Layer, ...] = tuple(layer for module in (lighting, roads) for layer in module.LAYERS
                                        if layer.asset is not None)
_BY_TABLE = {layer.table: layer.asset for layer in ASSET_LAYERS}


def asset_spec(conn: sa.Connection, asset_id: int | None) -> AssetSpec | None:
    """The declaration of the layer the asset belongs to, if any."""
    if asset_id is None:
        return None
    table = conn.execute(sa.text("SELECT layer_table FROM asset WHERE id = :id"), {"id": asset_id}).scalar()
    return _BY_TABLE.get(table)
