"""Alembic environment: runs with the engine handed over by gis.db (no alembic.ini needed)."""
from alembic import context

import layers.registry  # noqa: F401  (registers the tables generated from layer declarations)
from gis import db
from gis.models import metadata

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # PostGIS owns these; they are not ours to diff or drop.
        include_name=lambda name, type_, parent: not (
            type_ == "table" and name in {"spatial_ref_sys"}
        ),
        include_object=db.include_object,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
