"""The list of layers the service knows. Each thematic module contributes its ``LAYERS``."""
from __future__ import annotations

from gis.errors import NotFound

# The thematic modules (each contributes its LAYERS below) and those with tables of their own but no
# layer (coverage_analysis, eroutes, venue_proposals), imported so that every table is in the metadata.
from layers import (  # noqa: F401
    accessibility,
    admin_areas,
    connectivity,
    coverage_analysis,
    eroutes,
    heritage,
    land,
    lighting,
    nature,
    plans,
    property,
    reconstruction,
    reports,
    roads,
    synthetic,
    transit,
    venue_proposals,
)
from layers.base import Layer
from layers.tables import build_table

_MODULES = (admin_areas, reports, connectivity, roads, lighting, accessibility, nature, heritage, property, land,
            reconstruction, plans, synthetic, transit)


def build_registry(modules) -> dict[str, Layer]:
    """Name → layer over the modules' ``LAYERS``; two layers may not share a name."""
    registry: dict[str, Layer] = {}
    for module in modules:
        for layer in module.LAYERS:
            if layer.name in registry:
                raise ValueError(f"two layers are named {layer.name!r}")
            registry[layer.name] = layer
    return registry


LAYERS: dict[str, Layer] = build_registry(_MODULES)
for _layer in LAYERS.values():
    if _layer.generated_table:
        build_table(_layer)


def all_layers() -> list[Layer]:
    return list(LAYERS.values())


def get_layer(name: str) -> Layer:
    try:
        return LAYERS[name]
    except KeyError:
        raise NotFound(f"Шар {name!r} не існує", f"Layer {name!r} does not exist") from None


def viewable_layers(roles: frozenset[str] = frozenset()) -> list[Layer]:
    return [layer for layer in LAYERS.values() if layer.permissions.can_view(roles)]
