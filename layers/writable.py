"""Collections that clients may write through OGC API – Features Part 4 (issue #9: planners in QGIS).

Only a layer listed here can be written over HTTP, and each goes through its own module's workflow
functions — the rules on save, the versions and the history are the same as for any other way of
editing. Every write names the version it edits (the ETag), so of two clients editing the same
feature with the same ETag exactly one wins and the other is told (412) with the current version.
Framework-free: the web layer (webmap/ogc_write.py) only parses requests and renders.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import sqlalchemy as sa

from gis.errors import InvalidInput
from layers import plans
from layers.base import Layer


@dataclass(frozen=True)
class Writable:
    layer: Layer
    version_column: str  # incremented on every write; the ETag is built from it
    server_fields: frozenset[str]  # kept by the server: ignored when a client sends them back (QGIS does)
    # create(conn, editor, properties, geometry, repair=…) → the new feature's id
    create: Callable[..., int]
    # update(conn, editor, id, expected_version, properties=…, geometry=…, replace=…, repair=…)
    update: Callable[..., None]
    # delete(conn, editor, id, expected_version)
    delete: Callable[..., None]

    def etag(self, feature_id: int, version: int) -> str:
        """A strong ETag (Part 4 needs strong ones for If-Match): collection, feature and version."""
        return f'"{self.layer.name}-{feature_id}-v{version}"'

    def versions_named(self, if_match: str, feature_id: int) -> list[int]:
        """The versions of feature ``feature_id`` that an If-Match header names (weak tags never match).

        A tag may carry the content coding its answer was compressed with (``"…-v3:gzip"``, as
        Flask-Compress marks a compressed representation): it names the same version."""
        coding = "(?::(?:gzip|br|zstd|deflate))?"
        pattern = re.compile(rf'"{re.escape(self.layer.name)}-{feature_id}-v([0-9]{{1,9}}){coding}"')
        return [int(m.group(1)) for tag in if_match.split(",") if (m := pattern.fullmatch(tag.strip()))]


# --- plan zones (layers.plans) -----------------------------------------------------------------

def _plan_id(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not re.fullmatch(r"[0-9]{1,9}", str(value)):
        raise InvalidInput(f"properties.plan_id: потрібен номер плану, а не {value!r}",
                           f"properties.plan_id: a plan's number is needed, not {value!r}")
    return int(value)


def _create_zone(conn: sa.Connection, editor: plans.Editor, properties: dict, geometry: dict, *,
                 repair: bool = False) -> int:
    properties = dict(properties)
    if properties.get("plan_id") is None:
        raise InvalidInput("properties.plan_id: вкажіть план, до якого належить зона",
                           "properties.plan_id: name the plan the zone belongs to")
    plan_id = _plan_id(properties.pop("plan_id"))
    return plans.create_zone(conn, editor, plan_id, properties, geometry, repair=repair)["id"]


def _update_zone(conn: sa.Connection, editor: plans.Editor, zone_id: int, expected_version: int, *,
                 properties: dict | None, geometry: dict | None, replace: bool, repair: bool = False) -> None:
    properties = dict(properties or {})
    if "plan_id" in properties:
        given = properties.pop("plan_id")
        current = conn.execute(sa.text("SELECT plan_id FROM plan_zone WHERE id = :id"), {"id": zone_id}).scalar()
        if current is not None and (given is None or _plan_id(given) != current):
            raise InvalidInput(f"Зону не переносять до іншого плану (її план — №{current})",
                               f"A zone cannot move to another plan (its plan is No. {current})")
    plans.update_zone(conn, editor, zone_id, expected_version, attributes=properties, geometry=geometry,
                      replace=replace, repair=repair)


def _delete_zone(conn: sa.Connection, editor: plans.Editor, zone_id: int, expected_version: int) -> None:
    plans.delete_zone(conn, editor, zone_id, expected_version)


PLAN_ZONES = Writable(layer=plans.PLAN_ZONES, version_column="version",
                      server_fields=frozenset({"version", "updated_at", "published"}),
                      create=_create_zone, update=_update_zone, delete=_delete_zone)

WRITABLE: dict[str, Writable] = {w.layer.name: w for w in (PLAN_ZONES,)}


def writable(layer_name: str) -> Writable | None:
    return WRITABLE.get(layer_name)
