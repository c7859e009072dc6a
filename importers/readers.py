"""Reading vector files with maintained libraries (pyogrio/GDAL) into GeoDataFrames in EPSG:4326."""
from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio

from gis.crs import STORAGE_SRID
from gis.errors import InvalidInput, NotFound


def read_vector(path: str | Path, layer: str | None = None, *, assume_crs: str | None = None) -> gpd.GeoDataFrame:
    """Read ``path`` (GeoPackage, GeoJSON, Shapefile, …) and reproject it to EPSG:4326.

    A file without a CRS is taken as ``assume_crs`` (default: WGS 84, as RFC 7946 GeoJSON is).
    Raises NotFound for a missing file and InvalidInput for one GDAL cannot read.
    """
    path = Path(path)
    if not path.exists():
        raise NotFound(f"Файл {path} не знайдено", f"File {path} not found")
    try:
        gdf = pyogrio.read_dataframe(path, layer=layer)
    except Exception as exc:  # pyogrio raises several error types for unreadable data
        raise InvalidInput(f"Не вдалося прочитати {path.name}: {exc}",
                           f"Cannot read {path.name}: {exc}") from exc
    if gdf.crs is None:
        gdf = gdf.set_crs(assume_crs or f"EPSG:{STORAGE_SRID}")
    if gdf.crs.to_epsg() != STORAGE_SRID:
        gdf = gdf.to_crs(STORAGE_SRID)
    return gdf


def first_present(columns, candidates) -> str | None:
    """The first of ``candidates`` that is one of ``columns`` (case-insensitive)."""
    lowered = {c.lower(): c for c in columns}
    for name in candidates:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None
