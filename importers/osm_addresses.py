"""Address points and streets from an OpenStreetMap extract, for finding a place by address (#17).

``hromada import-addresses FILE [--hromada KATOTTG]``; FILE is ``.osm`` XML or ``.osm.pbf`` (or a zip of
one), read by GDAL's OSM driver with importers/osmconf.ini like every OSM import here
(importers.sources: all tags as JSON):

* address points: nodes (the ``points`` layer) and areas — buildings, and any other closed way or
  multipolygon (``multipolygons``) — with ``addr:housenumber`` and ``addr:street``, or ``addr:place``
  for an address by village alone; an area becomes a point on its surface. ``addr:place`` or
  ``addr:city`` tells the village when the point lies in no village's boundary.
* streets: ways (``lines``) with ``highway=*`` and a name (``name:uk`` first).

layers.places stores them: each in the hromada and the village it lies in (only KATOTTG's with
``--hromada``), keyed by its OSM id (a street by village and name), so importing the same file again
changes nothing and an updated extract changes what changed. Nothing is deleted: an address missing
from the file stays (a partial extract must not empty a hromada).
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
import sqlalchemy as sa

from gis.errors import InvalidInput
from gis.hromadas import hromada_by_katottg
from importers import sources
from layers.places import Address, Stored, StreetPart, store_addresses, store_streets

log = logging.getLogger(__name__)
SOURCE = "osm"
# highway=* values that are no street one lives on or finds a house by.
NOT_STREETS = frozenset({"platform", "proposed", "construction", "abandoned", "razed", "bus_stop", "elevator"})


@dataclass
class AddressImport:
    """What an import did, for the command line: address points and streets as stored, and the
    address-like features left out (a number with no street or village to find it by)."""

    source: str
    addresses: Stored = field(default_factory=Stored)
    streets: Stored = field(default_factory=Stored)
    skipped: int = 0

    def summary(self, lang: str = "uk") -> str:
        a, s = self.addresses, self.streets
        if lang == "en":
            return (f"{self.source}: addresses added {a.added}, updated {a.updated}, unchanged {a.unchanged}, "
                    f"outside the hromada {a.outside}, without a street or village {self.skipped}; "
                    f"streets added {s.added}, updated {s.updated}, unchanged {s.unchanged}, outside {s.outside}")
        return (f"{self.source}: адрес додано {a.added}, оновлено {a.updated}, без змін {a.unchanged}, "
                f"поза громадою {a.outside}, без вулиці й населеного пункту {self.skipped}; "
                f"вулиць додано {s.added}, оновлено {s.updated}, без змін {s.unchanged}, поза громадою {s.outside}")


def _tag(tags: dict, *keys: str) -> str | None:
    return next((str(tags[k]).strip() for k in keys if str(tags.get(k) or "").strip()), None)


def _features(src: sources.Source, layer: str, bounds: tuple | None) -> Iterator[tuple[dict, str, object]]:
    """(tags, OSM id as "node/1", "way/2" or "relation/3", geometry) of a layer of the file; only
    those touching ``bounds`` (a hromada's bounding box) when given."""
    kind = {"points": "node", "lines": "way"}.get(layer)
    for frame in sources.read_batches(src, layer=layer):
        geoms = np.asarray(frame.geometry.values, dtype=object)
        keep = np.ones(len(frame), dtype=bool)
        if bounds is not None and len(frame):
            x0, y0, x1, y1 = shapely.bounds(geoms).T
            keep = ~((x1 < bounds[0]) | (x0 > bounds[2]) | (y1 < bounds[1]) | (y0 > bounds[3]))
        relation_ids = frame.get("osm_id")
        way_ids = frame.get("osm_way_id")  # multipolygons: a closed way has this, a relation osm_id
        for i, tags in enumerate(sources.osm_tags(frame)):
            if not keep[i] or geoms[i] is None:
                continue
            if kind:
                ref = f"{kind}/{relation_ids.iloc[i]}"
            elif way_ids is not None and isinstance(way_ids.iloc[i], str):
                ref = f"way/{way_ids.iloc[i]}"
            else:
                ref = f"relation/{relation_ids.iloc[i]}"
            yield tags, ref, geoms[i]


def read_addresses(src: sources.Source, report: AddressImport, bounds: tuple | None = None) -> Iterator[Address]:
    """The file's address points (nodes, then areas as a point on their surface)."""
    for layer in ("points", "multipolygons"):
        for tags, ref, geom in _features(src, layer, bounds):
            number = _tag(tags, "addr:housenumber")
            if not number:
                continue
            street, place = _tag(tags, "addr:street"), _tag(tags, "addr:place", "addr:city")
            if not street and not place:
                report.skipped += 1
                continue
            point = geom if geom.geom_type == "Point" else shapely.point_on_surface(geom)
            yield Address(street=street, place=place, housenumber=number, geom=point, ref=ref, osm_id=ref)


def read_streets(src: sources.Source, bounds: tuple | None = None) -> Iterator[StreetPart]:
    """The file's named ways with ``highway=*`` (the name in Ukrainian first)."""
    for tags, ref, geom in _features(src, "lines", bounds):
        name = _tag(tags, "name:uk", "name")
        if name and tags.get("highway") and tags["highway"] not in NOT_STREETS:
            yield StreetPart(name=name, geom=geom, ref=ref)


def import_osm_addresses(engine: sa.Engine, path: str | Path, *, katottg: str | None = None) -> AddressImport:
    """Import the address points and streets of an OSM extract (see the module's docstring), all of it
    in one transaction. InvalidInput for a file that is not OpenStreetMap or cannot be read; NotFound
    for a KATOTTG code whose hromada is not loaded."""
    with sources.open_source(path) as src:
        if src.kind != "osm":
            raise InvalidInput(f"{src.name}: потрібен файл OpenStreetMap (.osm або .osm.pbf)",
                               f"{src.name}: an OpenStreetMap file (.osm or .osm.pbf) is needed")
        report = AddressImport(source=src.name)
        with engine.begin() as conn:
            hromada_id, bounds = None, None
            if katottg:
                hromada_id = hromada_by_katottg(conn, katottg)["id"]
                bounds = tuple(conn.execute(sa.text(
                    "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM "
                    "(SELECT boundary::box2d AS b FROM hromada WHERE id = :h) s"), {"h": hromada_id}).one())
            report.streets = store_streets(conn, read_streets(src, bounds), source=SOURCE, hromada_id=hromada_id)
            report.addresses = store_addresses(conn, read_addresses(src, report, bounds), source=SOURCE,
                                               hromada_id=hromada_id)
    log.info("%s", report.summary("en"))
    return report
