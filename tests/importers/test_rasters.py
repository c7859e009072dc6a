"""Raster import: a small GeoTIFF in UCS-2000 / TM zone 9 over the demo hromada."""
import numpy as np
import pytest
import rasterio
import sqlalchemy as sa
from affine import Affine

from gis.errors import InvalidInput
from importers.rasters import import_raster
from layers.rasters import COVERAGE_RASTERS
from tests.helpers import scalar

# Upper-left corner of the grid in EPSG:6383 (UCS-2000 / Ukraine TM zone 9), 100 m pixels.
ORIGIN = (396_900.0, 5_461_700.0)  # near Якушинці


def write_tiff(path, crs="EPSG:6383", origin=ORIGIN, nodata=-9999.0):
    data = np.arange(40 * 30, dtype="float32").reshape(30, 40) - 110  # signal, dBm-like
    data[0, 0] = nodata
    with rasterio.open(path, "w", driver="GTiff", width=40, height=30, count=1, dtype="float32",
                       crs=crs, transform=Affine(100, 0, origin[0], 0, -100, origin[1]), nodata=nodata) as dst:
        dst.write(data, 1)
    return data


@pytest.fixture(autouse=True)
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("HROMADA_RASTER_DIR", str(tmp_path / "store"))
    return tmp_path / "store"


def test_geotiff_is_described_stored_and_placed(demo_db, tmp_path, store):
    data = write_tiff(tmp_path / "signal.tif")
    report = import_raster(demo_db, COVERAGE_RASTERS, tmp_path / "signal.tif", title="4G, Київстар, 2026")
    assert report.created and (report.width, report.height, report.bands) == (40, 30, 1)
    stats = report.stats[0]
    valid = data[data != -9999.0]
    assert stats["count"] == valid.size and stats["min"] == valid.min() and stats["max"] == valid.max()
    assert stats["mean"] == pytest.approx(valid.mean())
    with demo_db.connect() as conn:
        row = conn.execute(sa.text("SELECT file_path, crs, pixel_size, hromada_id IS NOT NULL, "
                                   "ST_Area(footprint::geography) FROM raster_dataset "
                                   "WHERE source IS DISTINCT FROM 'demo'")).one()
    assert (store / row.file_path).read_bytes() == (tmp_path / "signal.tif").read_bytes()
    assert row.crs == "EPSG:6383" and row.pixel_size == [100.0, 100.0] and row[3]
    assert row[4] == pytest.approx(4000 * 3000, rel=0.002)  # 4 km × 3 km in the TM zone
    # The footprint's corner lands within a metre of the grid's corner.
    with demo_db.connect() as conn:
        corner = conn.execute(sa.text(
            "SELECT ST_Distance(ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), 6383), 4326)::geography, "
            "(SELECT ST_ClosestPoint(footprint, ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), 6383), 4326)) "
            " FROM raster_dataset WHERE source IS DISTINCT FROM 'demo')::geography)"),
            {"x": ORIGIN[0], "y": ORIGIN[1]}).scalar()
    assert corner < 1


def test_same_file_twice_is_one_data_set(demo_db, tmp_path):
    write_tiff(tmp_path / "a.tif")
    first = import_raster(demo_db, COVERAGE_RASTERS, tmp_path / "a.tif")
    again = import_raster(demo_db, COVERAGE_RASTERS, tmp_path / "a.tif")
    assert first.id == again.id and not again.created
    assert scalar(demo_db, "SELECT count(*) FROM raster_dataset WHERE source IS DISTINCT FROM 'demo'") == 1


def test_bad_rasters_are_refused(demo_db, tmp_path):
    write_tiff(tmp_path / "nocrs.tif", crs=None)
    with pytest.raises(InvalidInput, match="has no CRS"):
        import_raster(demo_db, COVERAGE_RASTERS, tmp_path / "nocrs.tif")
    assert import_raster(demo_db, COVERAGE_RASTERS, tmp_path / "nocrs.tif", crs="EPSG:6383").created
    write_tiff(tmp_path / "sea.tif", crs="EPSG:4326", origin=(0.0, 0.0))
    with pytest.raises(InvalidInput, match="outside Ukraine"):
        import_raster(demo_db, COVERAGE_RASTERS, tmp_path / "sea.tif")
    (tmp_path / "broken.tif").write_bytes(b"II*\x00 not a tiff")
    with pytest.raises(InvalidInput, match="Cannot read the raster"):
        import_raster(demo_db, COVERAGE_RASTERS, tmp_path / "broken.tif")
    assert scalar(demo_db, "SELECT count(*) FROM raster_dataset WHERE source IS DISTINCT FROM 'demo'") == 1
