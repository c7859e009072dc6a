"""Raster layers: grids of values (signal strength, measured speed) stored as files with metadata."""
from __future__ import annotations

from dataclasses import dataclass

from gis.errors import NotFound
from layers.base import Labels


@dataclass(frozen=True)
class RasterLayer:
    name: str
    title: Labels
    value: Labels  # what a pixel means, with its unit
    licence: str | None = None


COVERAGE_RASTERS = RasterLayer(
    name="coverage_rasters",
    title={"uk": "Растри покриття зв'язку", "en": "Coverage rasters"},
    value={"uk": "сила сигналу або швидкість (одиниці — в описі набору)",
           "en": "signal strength or speed (units in the data set's description)"},
)

RASTER_LAYERS = {r.name: r for r in (COVERAGE_RASTERS,)}


def get_raster_layer(name: str) -> RasterLayer:
    try:
        return RASTER_LAYERS[name]
    except KeyError:
        raise NotFound(f"Растрового шару {name!r} немає", f"Raster layer {name!r} does not exist") from None
