"""Alembic migrations: down to nothing and up again, and they match the models exactly."""
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gis import db
from gis.models import metadata

OUR_TABLES = {t.name for t in metadata.sorted_tables}


def tables(engine):
    return set(sa.inspect(engine).get_table_names()) & (OUR_TABLES | {"alembic_version"})


def test_models_and_migrations_agree(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": db.include_object})
        diff = compare_metadata(context, metadata)
    diff = [d for d in diff if not (d[0] == "remove_table" and d[1].name == "spatial_ref_sys")]
    assert diff == []


def test_downgrade_to_base_and_upgrade_again(engine):
    try:
        db.downgrade(engine, "base")
        assert tables(engine) <= {"alembic_version"}
        assert db.current_revision(engine) is None
    finally:
        db.upgrade(engine, "head")
    assert tables(engine) == OUR_TABLES | {"alembic_version"}
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(db.alembic_config(engine)).get_current_head()
    assert db.current_revision(engine) == head
    indexes = {i["name"] for i in sa.inspect(engine).get_indexes("hromada")}
    assert "ix_hromada_boundary" in indexes


def test_katottg_format_is_enforced_by_the_database(clean_db):
    import pytest

    with pytest.raises(sa.exc.IntegrityError), clean_db.begin() as conn:
        conn.execute(sa.text("INSERT INTO hromada (katottg, name_uk, boundary) VALUES ('UA123', 'x', "
                             "ST_Multi(ST_MakeEnvelope(28, 49, 28.1, 49.1, 4326)))"))


def test_the_service_connections_do_not_jit_compile(engine):
    """JIT compiling cost a short venue search 170 ms a run (gis.db.make_engine)."""
    with engine.connect() as conn:
        assert conn.execute(sa.text("SHOW jit")).scalar() == "off"
        conn.rollback()
        assert conn.execute(sa.text("SHOW jit")).scalar() == "off"  # a session setting, not a transaction's


def test_the_web_app_runs_serial_plans(app, engine):
    """Launching parallel workers cost a dashboard figure 22 ms instead of 0.4 ms at national size
    (gis.db.make_engine's serial_plans); the command line's engine may still plan in parallel."""
    from webmap.database import engine as app_engine

    with app.app_context(), app_engine().connect() as conn:
        assert conn.execute(sa.text("SHOW max_parallel_workers_per_gather")).scalar() == "0"
    with engine.connect() as conn:
        assert conn.execute(sa.text("SHOW max_parallel_workers_per_gather")).scalar() != "0"
