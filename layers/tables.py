"""Tables of thematic layers, generated from their declarations (``Layer(generated_table=True)``).

Every generated table has the same frame — ``id``, ``hromada_id`` (the hromada containing the
feature, set on import), ``geom`` (EPSG:4326, GiST), ``raw`` (source columns no field took),
``source``, ``imported_at``, ``is_demo`` — plus one column per declared field. Alembic sees these
tables through ``gis.models.metadata`` like any other, so a new field becomes a migration.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from gis.models import geometry, gist, metadata
from layers.base import Field, Layer

COLUMN_TYPES = {
    "text": sa.Text, "choice": sa.Text, "integer": sa.Integer, "number": sa.Float,
    "money": lambda: sa.Numeric(16, 2), "boolean": sa.Boolean,
    "date": sa.Date, "datetime": lambda: sa.DateTime(timezone=True), "json": pg.JSONB,
    "unit": sa.Integer, "hromada": sa.Integer, "category": sa.Integer,
}
FRAME_COLUMNS = ("id", "hromada_id", "geom", "raw", "source", "imported_at", "is_demo")
FOREIGN_KEYS = {"unit": "unit.id", "hromada": "hromada.id", "category": "category.id"}


def _column(field: Field) -> sa.Column:
    args = [COLUMN_TYPES[field.type]()]
    if field.computed is not None:
        return sa.Column(field.column_name, *args, sa.Computed(field.computed, persisted=True))
    if field.type in FOREIGN_KEYS:
        args.append(sa.ForeignKey(FOREIGN_KEYS[field.type], ondelete="SET NULL"))
    return sa.Column(field.column_name, *args, nullable=not field.required)


def build_table(layer: Layer) -> sa.Table:
    """The layer's table in the shared metadata (built once; later calls return it)."""
    if layer.table in metadata.tables:
        return metadata.tables[layer.table]
    clash = [f.name for f in layer.fields if f.column_name in FRAME_COLUMNS]
    if clash:
        raise ValueError(f"layer {layer.name}: fields {clash} clash with the table frame {FRAME_COLUMNS}")
    # Assets (lamps, road segments) draw their ids from the asset table's sequence: the asset
    # row mirroring a feature has the feature's id, so ids are unique across asset layers.
    id_default = {"server_default": sa.text("nextval('asset_id_seq'::regclass)")} if layer.asset else {}
    return sa.Table(
        layer.table, metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=not layer.asset, **id_default),
        sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="SET NULL")),
        *[_column(f) for f in layer.fields],
        sa.Column("geom", geometry(layer.geometry.upper()), nullable=False),
        sa.Column("raw", pg.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("source", sa.Text),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("is_demo", sa.Boolean, nullable=False, server_default=sa.false()),
        gist(layer.table, "geom"),
        sa.Index(f"ix_{layer.table}_hromada_id", "hromada_id"),
        *([sa.Index(f"ix_{layer.table}_geog", sa.text("(geom::geography)"), postgresql_using="gist")]
          if layer.geography_index else []),
    )
