"""Loading hromada boundaries and their settlements from files.

``load_communities`` reads a GeoPackage/GeoJSON such as ``ukraine_hromadas.gpkg`` (all 1,466
hromadas), repairs invalid polygons with ``make_valid`` (and says which), rejects rows it cannot use
with the reason, and upserts by KATOTTG code with one binary COPY — re-running it changes nothing.
Which source column feeds which field comes from the ``hromadas`` layer declaration.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from gis import codes
from gis.bulk import compress_with_lz4, copy_into_staging, ewkb
from gis.db import transaction
from gis.errors import HromadaError, InvalidInput
from gis.geometry import to_multipolygon, within_ukraine
from gis.models import HROMADA_PART_VERTICES
from importers.readers import first_present, read_vector
from layers.admin_areas import HROMADAS, SETTLEMENTS
from layers.base import Layer

log = logging.getLogger(__name__)


@dataclass
class LoadReport:
    source: str
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # rows of another kind in a mixed file (e.g. centre points)
    repaired: list[tuple[str, str]] = field(default_factory=list)  # (what, why it was invalid)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (row number, reason)

    def summary(self, lang: str = "uk") -> str:
        if lang == "en":
            text = (f"{self.source}: read {self.read}, inserted {self.inserted}, updated {self.updated}, "
                    f"unchanged {self.unchanged}, repaired {len(self.repaired)}, "
                    f"rejected {len(self.rejected)}, skipped {self.skipped}")
        else:
            text = (f"{self.source}: прочитано {self.read}, додано {self.inserted}, оновлено {self.updated}, "
                    f"без змін {self.unchanged}, виправлено {len(self.repaired)}, "
                    f"відхилено {len(self.rejected)}, пропущено {self.skipped}")
        lines = [text]
        lines += [f"  repaired: {what} ({why})" for what, why in self.repaired]
        lines += [f"  rejected row {row}: {why}" for row, why in self.rejected]
        return "\n".join(lines)


def _column_map(layer: Layer, columns) -> dict[str, list[str]]:
    """Declared field name → the source columns that may feed it (name, column, aliases), in order."""
    mapping = {}
    for f in layer.fields:
        sources = [c for c in (first_present(columns, [n]) for n in (f.name, f.column_name, *f.aliases)) if c]
        if sources:
            mapping[f.name] = list(dict.fromkeys(sources))
    return mapping


def _value(values, columns: dict[str, list[str]], field_name: str):
    """The first non-empty value among the columns mapped to ``field_name`` (e.g. name:uk, then name)."""
    for column in columns.get(field_name, ()):
        value = _clean(values.get(column))
        if value is not None:
            return value
    return None


def _clean(value):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _integer(value) -> int | None:
    value = _clean(value)
    if value is None:
        return None
    try:
        return int(float(str(value).replace(" ", "")))
    except ValueError:
        return None


def refresh_hromada_parts(conn: sa.Connection, hromada_ids: list[int]) -> None:
    """Cut the given hromadas' boundaries into pieces again (see gis.models.hromada_part).

    Pieces of up to 4,096 vertices: the bulk lookup (gis.hromada_index) tests points against prepared
    pieces, as fast for big pieces as for small ones (200,000 points: 0.7–1.0 s at 256, 1,024 or 4,096),
    while cutting all 1,466 hromadas into 256-vertex pieces took 5.4 s, into 1,024 1.2 s and into
    4,096 (most boundaries stay whole: 857 vertices on average) 0.06 s."""
    if not hromada_ids:
        return
    conn.execute(sa.text("DELETE FROM hromada_part WHERE hromada_id = ANY(:ids)"), {"ids": hromada_ids})
    conn.execute(sa.text("""
        INSERT INTO hromada_part (hromada_id, hromada_area, geom)
        SELECT id, ST_Area(boundary), ST_Subdivide(boundary, :vertices) FROM hromada WHERE id = ANY(:ids)"""),
        {"ids": hromada_ids, "vertices": HROMADA_PART_VERTICES})


def _upsert_counts(conn: sa.Connection, merge_sql: str) -> tuple[int, int, list[int]]:
    """Run an INSERT … ON CONFLICT … RETURNING id, (xmax = 0); inserted and updated counts, and the ids."""
    rows = conn.execute(sa.text(merge_sql)).all()
    inserted = sum(1 for r in rows if r[1])
    return inserted, len(rows) - inserted, [r[0] for r in rows]


HROMADA_COPY_COLUMNS = [
    ("row_no", "int4"), ("katottg", "text"), ("name_uk", "text"), ("name_en", "text"),
    ("koatuu", "text"), ("oblast", "text"), ("raion", "text"), ("population", "int4"),
    ("wikidata", "text"), ("boundary", "geometry"), ("boundary_repaired", "bool"),
]
_HROMADA_DATA = [c for c, _ in HROMADA_COPY_COLUMNS if c not in ("row_no", "katottg")]


def load_communities(engine: sa.Engine | sa.Connection, path: str | Path, *, katottg: list[str] | None = None,
                     layer: str | None = None) -> LoadReport:
    """Upsert the hromadas in ``path`` (optionally only the given KATOTTG codes)."""
    path = Path(path)
    wanted = {codes.katottg(c) for c in katottg} if katottg else None
    gdf = read_vector(path, layer)
    report = LoadReport(source=path.name)
    columns = _column_map(HROMADAS, gdf.columns)
    if "katottg" not in columns or "name_uk" not in columns:
        raise InvalidInput(
            f"{path.name}: немає колонок з кодом КАТОТТГ і назвою громади (є: {', '.join(gdf.columns)})",
            f"{path.name}: no columns for the KATOTTG code and the hromada name (found: {', '.join(gdf.columns)})",
        )

    rows = []
    geometry_column = gdf.geometry.name
    for row_no, record in enumerate(gdf.itertuples(index=False), start=1):
        values = dict(zip(gdf.columns, record, strict=True))
        geom = values[geometry_column]
        if geom is not None and geom.geom_type not in ("Polygon", "MultiPolygon", "GeometryCollection"):
            report.skipped += 1
            continue
        code = _value(values, columns, "katottg")
        if wanted is not None and (code or "").upper() not in wanted:
            continue
        report.read += 1
        try:
            code = codes.katottg(code or "")
            name = _value(values, columns, "name_uk")
            if not name:
                raise InvalidInput("немає назви", "no name")
            checked = to_multipolygon(geom, what=code)
            if not within_ukraine(checked.geometry):
                raise InvalidInput("межа лежить поза Україною", "boundary lies outside Ukraine")
        except HromadaError as exc:
            report.rejected.append((row_no, exc.en))
            continue
        if checked.repaired:
            report.repaired.append((f"{code} {name}", checked.reason or "invalid"))
        get = lambda f, values=values: _value(values, columns, f)  # noqa: E731
        rows.append((row_no, code, name, get("name_en"), get("koatuu"), get("oblast"), get("raion"),
                     _integer(get("population")), get("wikidata"), ewkb(checked.geometry), checked.repaired))

    with transaction(engine) as conn:
        compress_with_lz4(conn)  # 1,466 boundaries: 1.4 s → 0.8 s
        copy_into_staging(conn, "_load_hromada", HROMADA_COPY_COLUMNS, rows)
        assignments = ", ".join(f"{c} = EXCLUDED.{c}" for c in _HROMADA_DATA)
        differs = " OR ".join(f"hromada.{c} IS DISTINCT FROM EXCLUDED.{c}" for c in _HROMADA_DATA)
        # DISTINCT ON: a file listing a code twice keeps its last row instead of failing.
        inserted, updated, changed = _upsert_counts(conn, f"""
            INSERT INTO hromada (katottg, {', '.join(_HROMADA_DATA)}, source)
            SELECT DISTINCT ON (katottg) katottg, {', '.join(_HROMADA_DATA)}, '{path.name.replace("'", "''")}'
            FROM _load_hromada ORDER BY katottg, row_no DESC
            ON CONFLICT (katottg) DO UPDATE SET {assignments}, source = EXCLUDED.source
            WHERE {differs}
            RETURNING id, (xmax = 0)""")
        refresh_hromada_parts(conn, changed)
    report.inserted, report.updated = inserted, updated
    report.unchanged = len(rows) - inserted - updated
    for what, why in report.repaired:
        log.warning("repaired invalid boundary of %s: %s", what, why)
    return report


SETTLEMENT_KINDS = {"city": "city", "town": "town", "village": "village", "hamlet": "hamlet",
                    "isolated_dwelling": "hamlet", "suburb": "other"}
SETTLEMENT_COPY_COLUMNS = [
    ("row_no", "int4"), ("source_ref", "text"), ("name_uk", "text"), ("name_en", "text"),
    ("kind", "text"), ("katottg", "text"), ("population", "int4"),
    ("boundary", "geometry"), ("centre", "geometry"),
]


def load_settlements(engine: sa.Engine | sa.Connection, path: str | Path, *, layer: str | None = None) -> LoadReport:
    """Upsert the settlements in ``path`` into the hromadas that contain them.

    Files from OpenStreetMap mix village polygons with unnamed centre points: a point inside a
    polygon becomes that village's centre; a polygon without one gets a point on its surface;
    points inside no polygon are skipped. A settlement outside every loaded hromada is rejected.
    """
    path = Path(path)
    gdf = read_vector(path, layer)
    report = LoadReport(source=path.name)
    columns = _column_map(SETTLEMENTS, gdf.columns)
    ref_col = first_present(gdf.columns, ("@id", "id", "osm_id", "source_ref"))
    place_col = first_present(gdf.columns, ("place", "kind"))
    is_area = gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
    areas, points = gdf[is_area], gdf[gdf.geometry.geom_type == "Point"]
    report.skipped = len(gdf) - len(areas)

    rows = []
    for row_no, (_, values) in enumerate(areas.iterrows(), start=1):
        report.read += 1
        name = _value(values, columns, "name_uk")
        if not name:
            report.rejected.append((row_no, "no name"))
            continue
        try:
            checked = to_multipolygon(values.geometry, what=name)
        except HromadaError as exc:
            report.rejected.append((row_no, exc.en))
            continue
        if checked.repaired:
            report.repaired.append((name, checked.reason or "invalid"))
        inside = points[points.within(checked.geometry)]
        centre = inside.geometry.iloc[0] if len(inside) else checked.geometry.point_on_surface()
        place = _clean(values.get(place_col)) if place_col else None
        get = lambda f, values=values: _value(values, columns, f)  # noqa: E731
        rows.append((row_no, _clean(values.get(ref_col)) if ref_col else None, name, get("name_en"),
                     SETTLEMENT_KINDS.get(place or "", "village" if place is None else "other"),
                     get("katottg"), _integer(get("population")), ewkb(checked.geometry), ewkb(centre)))

    data = ["name_uk", "name_en", "kind", "katottg", "population", "boundary", "centre"]
    with transaction(engine) as conn:
        copy_into_staging(conn, "_load_settlement", SETTLEMENT_COPY_COLUMNS, rows)
        # The hromada is the one containing the settlement's centre.
        outside = conn.execute(sa.text("""
            SELECT s.row_no, s.name_uk FROM _load_settlement s
            WHERE NOT EXISTS (SELECT 1 FROM hromada h WHERE ST_Intersects(h.boundary, s.centre))
            ORDER BY s.row_no""")).all()
        report.rejected += [(r.row_no, f"{r.name_uk}: outside every loaded hromada") for r in outside]
        inserted, updated, _ = _upsert_counts(conn, f"""
            INSERT INTO settlement (hromada_id, source_ref, {', '.join(data)})
            SELECT DISTINCT ON (h.id, COALESCE(s.source_ref, s.name_uk))
                   h.id, COALESCE(s.source_ref, 'name:' || s.name_uk), {', '.join('s.' + c for c in data)}
            FROM _load_settlement s
            JOIN LATERAL (SELECT id FROM hromada h WHERE ST_Intersects(h.boundary, s.centre)
                          ORDER BY id LIMIT 1) h ON true
            ORDER BY h.id, COALESCE(s.source_ref, s.name_uk), s.row_no DESC
            ON CONFLICT (hromada_id, source_ref) DO UPDATE SET
                {', '.join(f'{c} = EXCLUDED.{c}' for c in data)}
            WHERE {' OR '.join(f'settlement.{c} IS DISTINCT FROM EXCLUDED.{c}' for c in data)}
            RETURNING id, (xmax = 0)""")
    report.inserted, report.updated = inserted, updated
    report.unchanged = len(rows) - len(outside) - inserted - updated
    return report
