"""CRS choice and geometry checks."""
import pytest
import sqlalchemy as sa
from shapely.geometry import LineString, Point, Polygon

from gis.crs import area_m2_sql, metric_srid, metric_srid_sql
from gis.errors import InvalidGeometry
from gis.geometry import to_multipolygon, within_ukraine


@pytest.mark.parametrize("lon, srid", [
    (22.3, 6381),  # Uzhhorod
    (24.03, 6382),  # Lviv
    (28.47, 6383),  # Vinnytsia
    (30.52, 6384),  # Kyiv
    (32.06, 6385),  # Kropyvnytskyi (nearer 33° than 30°)
    (36.23, 6386),  # Kharkiv
    (39.3, 6387),  # Luhansk
    (10.0, 6381), (45.0, 6387),  # outside Ukraine: clamp to the edge zones
])
def test_metric_srid_picks_the_nearest_ukraine_tm_zone(lon, srid):
    assert metric_srid(lon) == srid


def test_metric_srid_rejects_nan():
    with pytest.raises(ValueError):
        metric_srid(float("nan"))


def test_sql_zone_choice_matches_python(clean_db):
    lons = [22.3, 24.03, 25.6, 28.47, 30.52, 32.06, 36.23, 39.3]
    with clean_db.connect() as conn:
        for lon in lons:
            got = conn.execute(sa.text(f"SELECT {metric_srid_sql('ST_SetSRID(ST_MakePoint(:x, 49), 4326)')}"),
                               {"x": lon}).scalar()
            assert got == metric_srid(lon), lon


def test_area_in_metric_crs_of_a_known_square(clean_db):
    # A 1 km × 1 km square built in UCS-2000 / TM zone 9 (EPSG:6383) near Vinnytsia.
    with clean_db.connect() as conn:
        area = conn.execute(sa.text(
            f"SELECT {area_m2_sql('g')} FROM (SELECT ST_Transform(ST_MakeEnvelope("
            "300000, 5450000, 301000, 5451000, 6383), 4326) AS g) s")).scalar()
    assert area == pytest.approx(1_000_000, rel=1e-6)


def test_bow_tie_polygon_is_repaired_into_a_multipolygon():
    bow_tie = Polygon([(0, 0), (2, 2), (2, 0), (0, 2), (0, 0)])
    checked = to_multipolygon(bow_tie)
    assert checked.repaired and "Self-intersection" in checked.reason
    assert checked.geometry.geom_type == "MultiPolygon" and checked.geometry.is_valid
    assert checked.geometry.area == pytest.approx(2.0)


def test_valid_polygon_is_promoted_not_repaired():
    checked = to_multipolygon(Polygon([(0, 0), (1, 0), (1, 1), (0, 0)]))
    assert not checked.repaired and checked.geometry.geom_type == "MultiPolygon"


@pytest.mark.parametrize("geom", [None, Polygon(), LineString([(0, 0), (1, 1)]), Point(1, 1)])
def test_no_area_means_invalid_geometry(geom):
    with pytest.raises(InvalidGeometry) as err:
        to_multipolygon(geom, what="row 3")
    assert "row 3" in err.value.uk and "row 3" in err.value.en


def test_within_ukraine():
    assert within_ukraine(Point(28.3, 49.2))
    assert not within_ukraine(Point(49.2, 28.3))  # swapped axes
