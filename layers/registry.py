"""The list of layers the service knows. Each thematic module contributes its ``LAYERS``."""
from __future__ import annotations

from gis.errors import NotFound
from layers import admin_areas
from layers.base import Layer

_MODULES = (admin_areas,)

LAYERS: dict[str, Layer] = {layer.name: layer for module in _MODULES for layer in module.LAYERS}


def all_layers() -> list[Layer]:
    return list(LAYERS.values())


def get_layer(name: str) -> Layer:
    try:
        return LAYERS[name]
    except KeyError:
        raise NotFound(f"Шар {name!r} не існує", f"Layer {name!r} does not exist") from None


def viewable_layers(roles: frozenset[str] = frozenset()) -> list[Layer]:
    return [layer for layer in LAYERS.values() if layer.permissions.can_view(roles)]
