"""Importing rasters (GeoTIFF and whatever else GDAL reads) with rasterio.

The file is checked (readable, has a CRS or is given one, lies in Ukraine), described (size, bands,
data type, nodata, pixel size, per-band statistics, footprint in EPSG:4326) and copied into the
raster store under its SHA-256, so importing the same file twice keeps one copy and one row.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import rasterio.errors
import shapely
import sqlalchemy as sa
from rasterio.warp import transform_geom

from gis import config
from gis.bulk import ewkb
from gis.errors import InvalidInput, NotFound
from gis.geometry import within_ukraine
from importers.sources import MAX_FILE_BYTES
from layers.rasters import RasterLayer


def raster_store() -> Path:
    return Path(os.environ.get("HROMADA_RASTER_DIR", config.var_dir() / "rasters"))


@dataclass
class RasterReport:
    layer: str
    source: str
    id: int
    created: bool
    width: int
    height: int
    bands: int
    crs: str
    stats: list[dict]

    def summary(self) -> str:
        state = "додано / added" if self.created else "вже був / already there"
        return (f"{self.source} → {self.layer} #{self.id} ({state}): {self.width}×{self.height}, "
                f"{self.bands} band(s), {self.crs}; " +
                "; ".join(f"band {i + 1}: min {s['min']:.4g}, max {s['max']:.4g}, mean {s['mean']:.4g}"
                          for i, s in enumerate(self.stats)))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _band_stats(src, band: int) -> dict:
    """Exact statistics, read block by block so a large raster is never loaded whole."""
    count, total, total_sq, low, high = 0, 0.0, 0.0, np.inf, -np.inf
    for _, window in src.block_windows(band):
        data = src.read(band, window=window, masked=True).astype("float64")
        values = data.compressed()
        values = values[np.isfinite(values)]
        if values.size:
            count += values.size
            total += values.sum()
            total_sq += np.square(values).sum()
            low, high = min(low, values.min()), max(high, values.max())
    if count == 0:
        return {"min": float("nan"), "max": float("nan"), "mean": float("nan"), "std": float("nan"), "count": 0}
    mean = total / count
    return {"min": float(low), "max": float(high), "mean": mean,
            "std": float(np.sqrt(max(total_sq / count - mean * mean, 0.0))), "count": count}


def import_raster(engine: sa.Engine, layer: RasterLayer, path: str | Path, *, crs: str | None = None,
                  title: str | None = None) -> RasterReport:
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"Файл {path} не знайдено", f"File {path} not found")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise InvalidInput(f"Файл {path.name} завеликий", f"File {path.name} is too large")
    try:
        with rasterio.open(path) as src:
            source_crs = src.crs or (rasterio.crs.CRS.from_user_input(crs) if crs else None)
            if source_crs is None:
                raise InvalidInput(f"{path.name}: растр без системи координат; вкажіть --crs",
                                   f"{path.name}: the raster has no CRS; give it with --crs")
            left, bottom, right, top = src.bounds
            outline = shapely.Polygon([(left, bottom), (right, bottom), (right, top), (left, top)])
            # Straight edges in the raster's CRS curve in degrees: densify before transforming.
            outline = shapely.segmentize(outline, max(right - left, top - bottom) / 32)
            footprint = shapely.geometry.shape(transform_geom(source_crs, "EPSG:4326", outline.__geo_interface__,
                                                              precision=-1))
            if not within_ukraine(footprint):
                raise InvalidInput(
                    f"{path.name}: растр після перетворення з {source_crs} лежить поза Україною "
                    f"({footprint.bounds}); перевірте систему координат (--crs)",
                    f"{path.name}: the raster falls outside Ukraine after transforming from {source_crs} "
                    f"({footprint.bounds}); check the CRS (--crs)")
            stats = [_band_stats(src, b) for b in range(1, src.count + 1)]
            facts = dict(width=src.width, height=src.height, bands=src.count, dtype=src.dtypes[0],
                         nodata=src.nodata, pixel_size=[abs(src.res[0]), abs(src.res[1])])
    except rasterio.errors.RasterioIOError as exc:
        raise InvalidInput(f"Не вдалося прочитати растр {path.name}: {exc}",
                           f"Cannot read the raster {path.name}: {exc}") from exc
    except rasterio.errors.CRSError:
        raise InvalidInput(f"Невідома система координат {crs!r}", f"Unknown CRS {crs!r}") from None
    sha = _sha256(path)
    relative = Path(layer.name) / f"{sha}{path.suffix.lower()}"
    target = raster_store() / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        shutil.copyfile(path, target)
    crs_text = f"EPSG:{source_crs.to_epsg()}" if source_crs.to_epsg() else source_crs.to_wkt()
    with engine.begin() as conn:
        row = conn.execute(sa.text("""
            INSERT INTO raster_dataset (layer, title, file_path, sha256, crs, width, height, bands, dtype, nodata,
                                        pixel_size, stats, footprint, source, hromada_id)
            VALUES (:layer, :title, :file_path, :sha, :crs, :width, :height, :bands, :dtype, :nodata, :pixel_size,
                    CAST(:stats AS jsonb), ST_Multi(ST_GeomFromEWKB(:footprint)), :source,
                    (SELECT id FROM hromada WHERE ST_Intersects(boundary, ST_GeomFromEWKB(:footprint))
                     ORDER BY ST_Area(ST_Intersection(boundary, ST_GeomFromEWKB(:footprint))) DESC LIMIT 1))
            ON CONFLICT (layer, sha256) DO UPDATE SET title = EXCLUDED.title
            RETURNING id, (xmax = 0) AS created"""), {
            "layer": layer.name, "title": title or path.stem, "file_path": str(relative), "sha": sha,
            "crs": crs_text, "stats": json.dumps(stats), "footprint": ewkb(footprint),
            "source": path.name, **facts}).one()
    return RasterReport(layer.name, path.name, row.id, row.created, facts["width"], facts["height"],
                        facts["bands"], crs_text, stats)
