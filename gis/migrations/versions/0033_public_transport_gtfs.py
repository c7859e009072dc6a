"""Public transport from GTFS (issue #21): stops and route shapes as layers, the timetable as tables

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-06 19:06:38.776578

- ``transit_stop`` and ``transit_shape``: the generated tables of the layers ``transit_stops`` and
  ``transit_shapes`` (layers/transit.py); ``transit_stop.page_code`` (``/s/<code>``) unique.
- ``transit_feed`` (one per hromada), ``transit_route``, ``transit_trip``, ``transit_stop_time``
  (seconds after the service day's start; indexed by stop and departure for the stop page),
  ``transit_calendar`` (weekdays as ``1111100``), ``transit_calendar_date`` (exceptions 1/2);
  ``transit_feed.realtime_url``: the operator's GTFS-Realtime vehicle positions, when published.
"""
from alembic import op
import sqlalchemy as sa
import geoalchemy2
from sqlalchemy.dialects import postgresql

revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('transit_feed',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hromada_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('agency_name', sa.Text(), nullable=True),
    sa.Column('agency_url', sa.Text(), nullable=True),
    sa.Column('agency_phone', sa.Text(), nullable=True),
    sa.Column('realtime_url', sa.Text(), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('is_demo', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.ForeignKeyConstraint(['hromada_id'], ['hromada.id'], name=op.f('fk_transit_feed_hromada_id_hromada'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transit_feed')),
    sa.UniqueConstraint('hromada_id', name=op.f('uq_transit_feed_hromada_id'))
    )
    op.create_table('transit_shape',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('hromada_id', sa.Integer(), nullable=True),
    sa.Column('shape_id', sa.Text(), nullable=False),
    sa.Column('route_id', sa.Text(), nullable=True),
    sa.Column('route_name', sa.Text(), nullable=True),
    sa.Column('route_type', sa.Text(), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='LINESTRING', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('raw', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('is_demo', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.ForeignKeyConstraint(['hromada_id'], ['hromada.id'], name=op.f('fk_transit_shape_hromada_id_hromada'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transit_shape'))
    )
    op.create_index('ix_transit_shape_geom', 'transit_shape', ['geom'], unique=False, postgresql_using='gist')
    op.create_index('ix_transit_shape_hromada_id', 'transit_shape', ['hromada_id'], unique=False)
    op.create_table('transit_stop',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('hromada_id', sa.Integer(), nullable=True),
    sa.Column('stop_id', sa.Text(), nullable=False),
    sa.Column('stop_code', sa.Text(), nullable=True),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('wheelchair_boarding', sa.Text(), nullable=True),
    sa.Column('page_code', sa.Text(), nullable=True),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('raw', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('is_demo', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.ForeignKeyConstraint(['hromada_id'], ['hromada.id'], name=op.f('fk_transit_stop_hromada_id_hromada'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transit_stop'))
    )
    op.create_index('ix_transit_stop_geom', 'transit_stop', ['geom'], unique=False, postgresql_using='gist')
    op.create_index('ix_transit_stop_hromada_id', 'transit_stop', ['hromada_id'], unique=False)
    op.create_index('ux_transit_stop_page_code', 'transit_stop', ['page_code'], unique=True)
    op.create_table('transit_calendar',
    sa.Column('feed_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Text(), nullable=False),
    sa.Column('weekdays', sa.String(length=7), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['feed_id'], ['transit_feed.id'], name=op.f('fk_transit_calendar_feed_id_transit_feed'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('feed_id', 'service_id', name=op.f('pk_transit_calendar'))
    )
    op.create_table('transit_calendar_date',
    sa.Column('feed_id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Text(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('exception_type', sa.SmallInteger(), nullable=False),
    sa.ForeignKeyConstraint(['feed_id'], ['transit_feed.id'], name=op.f('fk_transit_calendar_date_feed_id_transit_feed'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('feed_id', 'service_id', 'date', name=op.f('pk_transit_calendar_date'))
    )
    op.create_table('transit_route',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('feed_id', sa.Integer(), nullable=False),
    sa.Column('route_id', sa.Text(), nullable=False),
    sa.Column('short_name', sa.Text(), nullable=True),
    sa.Column('long_name', sa.Text(), nullable=True),
    sa.Column('route_type', sa.Integer(), nullable=False),
    sa.Column('color', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['feed_id'], ['transit_feed.id'], name=op.f('fk_transit_route_feed_id_transit_feed'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transit_route')),
    sa.UniqueConstraint('feed_id', 'route_id', name=op.f('uq_transit_route_feed_id_route_id'))
    )
    op.create_table('transit_trip',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('feed_id', sa.Integer(), nullable=False),
    sa.Column('route_id', sa.Integer(), nullable=False),
    sa.Column('trip_id', sa.Text(), nullable=False),
    sa.Column('service_id', sa.Text(), nullable=False),
    sa.Column('headsign', sa.Text(), nullable=True),
    sa.Column('shape_id', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['feed_id'], ['transit_feed.id'], name=op.f('fk_transit_trip_feed_id_transit_feed'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['route_id'], ['transit_route.id'], name=op.f('fk_transit_trip_route_id_transit_route'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transit_trip')),
    sa.UniqueConstraint('feed_id', 'trip_id', name=op.f('uq_transit_trip_feed_id_trip_id'))
    )
    op.create_table('transit_stop_time',
    sa.Column('trip_id', sa.Integer(), nullable=False),
    sa.Column('stop_sequence', sa.Integer(), nullable=False),
    sa.Column('stop_id', sa.Integer(), nullable=False),
    sa.Column('arrival_s', sa.Integer(), nullable=False),
    sa.Column('departure_s', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['stop_id'], ['transit_stop.id'], name=op.f('fk_transit_stop_time_stop_id_transit_stop'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['trip_id'], ['transit_trip.id'], name=op.f('fk_transit_stop_time_trip_id_transit_trip'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('trip_id', 'stop_sequence', name=op.f('pk_transit_stop_time'))
    )
    op.create_index('ix_transit_stop_time_stop_departure', 'transit_stop_time', ['stop_id', 'departure_s'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_transit_stop_time_stop_departure', table_name='transit_stop_time')
    op.drop_table('transit_stop_time')
    op.drop_table('transit_trip')
    op.drop_table('transit_route')
    op.drop_table('transit_calendar_date')
    op.drop_table('transit_calendar')
    op.drop_index('ux_transit_stop_page_code', table_name='transit_stop')
    op.drop_index('ix_transit_stop_hromada_id', table_name='transit_stop')
    op.drop_index('ix_transit_stop_geom', table_name='transit_stop', postgresql_using='gist')
    op.drop_table('transit_stop')
    op.drop_index('ix_transit_shape_hromada_id', table_name='transit_shape')
    op.drop_index('ix_transit_shape_geom', table_name='transit_shape', postgresql_using='gist')
    op.drop_table('transit_shape')
    op.drop_table('transit_feed')
