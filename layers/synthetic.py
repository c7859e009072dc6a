"""Synthetic layers for tests and benchmarks at national scale: flagged as synthetic everywhere.

``hromada synthetic load`` fills them with generated points and road segments over Ukraine.
"""
from __future__ import annotations

import sqlalchemy as sa

from layers.base import CategoryStyle, Field, Layer, Style

SYNTHETIC_NOTE = {"uk": "Синтетичні дані для перевірки навантаження, не справжні об'єкти",
                  "en": "Synthetic data for load testing, not real features"}

SYNTHETIC_POINTS = Layer(
    name="synthetic_points",
    title={"uk": "Синтетичні точки (тест)", "en": "Synthetic points (test)"},
    description=SYNTHETIC_NOTE,
    geometry="Point",
    table="synthetic_point",
    generated_table=True,
    is_demo=True,
    fields=(
        Field("label", "text", {"uk": "Позначка", "en": "Label"}),
        Field("value", "number", {"uk": "Значення", "en": "Value"}),
    ),
    popup=("label", "value"),
    label_field="label",
    style=Style(color="#862e9c", fill_opacity=0.6),
)

SYNTHETIC_ROADS = Layer(
    name="synthetic_roads",
    title={"uk": "Синтетичні дороги (тест)", "en": "Synthetic roads (test)"},
    description=SYNTHETIC_NOTE,
    geometry="LineString",
    table="synthetic_road",
    generated_table=True,
    is_demo=True,
    fields=(
        Field("label", "text", {"uk": "Позначка", "en": "Label"}),
        Field("road_class", "choice", {"uk": "Клас", "en": "Class"}, choices={
            "state": {"uk": "державна", "en": "state"}, "local": {"uk": "місцева", "en": "local"}}),
    ),
    popup=("label", "road_class"),
    label_field="label",
    style=CategoryStyle(field="road_class", colors={"state": "#c92a2a", "local": "#868e96"}),
)

LAYERS = (SYNTHETIC_POINTS, SYNTHETIC_ROADS)

# Ukraine's bounding box, roughly; synthetic features fall anywhere inside it.
WEST, SOUTH, EAST, NORTH = 22.2, 44.4, 40.2, 52.3


def load_synthetic(conn: sa.Connection, points: int, roads: int, seed: float = 0.42) -> None:
    """Replace the synthetic layers' contents with ``points`` points and ``roads`` segments (in SQL)."""
    conn.execute(sa.text("SELECT setseed(:s)"), {"s": seed})
    conn.execute(sa.text("TRUNCATE synthetic_point, synthetic_road"))
    conn.execute(sa.text(f"""
        INSERT INTO synthetic_point (label, value, geom, source, is_demo)
        SELECT 'synthetic ' || i, round((random() * 100)::numeric, 2),
               ST_SetSRID(ST_MakePoint({WEST} + random() * {EAST - WEST}, {SOUTH} + random() * {NORTH - SOUTH}), 4326),
               'synthetic', true
        FROM generate_series(1, :n) AS i"""), {"n": points})
    conn.execute(sa.text(f"""
        INSERT INTO synthetic_road (label, road_class, geom, source, is_demo)
        SELECT 'synthetic road ' || i, CASE WHEN random() < 0.1 THEN 'state' ELSE 'local' END,
               ST_MakeLine(p, ST_SetSRID(ST_MakePoint(ST_X(p) + (random() - 0.5) * 0.02,
                                                      ST_Y(p) + (random() - 0.5) * 0.02), 4326)),
               'synthetic', true
        FROM (SELECT i, ST_SetSRID(ST_MakePoint({WEST} + random() * {EAST - WEST},
                                                {SOUTH} + random() * {NORTH - SOUTH}), 4326) AS p
              FROM generate_series(1, :n) AS i) s"""), {"n": roads})
    conn.execute(sa.text("ANALYZE synthetic_point"))
    conn.execute(sa.text("ANALYZE synthetic_road"))
