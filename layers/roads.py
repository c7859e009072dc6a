"""Roads: segments with their owner, surface and condition, and the history of inspections.

The owner class decides where a pothole report goes (``asset_owner``: a state road → the outside
road service, a village street → the hromada's unit); a segment may also name its maintaining
unit directly. Condition is the visual 1–5 scale road inspectors use, with an optional PCI.
Every inspection or repair is a row in ``road_inspection``; the segment keeps the latest.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from gis.errors import Conflict, InvalidInput, NotFound
from gis.models import metadata
from gis.routing import OWNER_CLASSES
from layers.base import AssetSpec, CategoryStyle, Editing, Field, Layer, OsmSpec, Permissions
from layers.tables import build_table

_REF_PREFIX_CLASS = {"М": "state", "Н": "state", "Р": "state", "Т": "state", "О": "regional", "С": "local"}
_LATIN_TO_CYRILLIC = str.maketrans("MHPTOC", "МНРТОС")

ROAD_CLASSES = {  # OSM highway=* values a hromada's roads carry
    "motorway": {"uk": "автомагістраль", "en": "motorway"},
    "trunk": {"uk": "магістральна дорога", "en": "trunk road"},
    "primary": {"uk": "головна дорога", "en": "primary road"},
    "secondary": {"uk": "дорога другого рівня", "en": "secondary road"},
    "tertiary": {"uk": "дорога третього рівня", "en": "tertiary road"},
    "unclassified": {"uk": "дорога між селами", "en": "minor road"},
    "residential": {"uk": "житлова вулиця", "en": "residential street"},
    "living_street": {"uk": "житлова зона", "en": "living street"},
    "service": {"uk": "під'їзна дорога", "en": "service road"},
    "track": {"uk": "польова дорога", "en": "track"},
    "pedestrian": {"uk": "пішохідна вулиця", "en": "pedestrian street"},
}

SURFACES = {  # OSM surface=* values
    "asphalt": {"uk": "асфальт", "en": "asphalt"},
    "concrete": {"uk": "бетон", "en": "concrete"},
    "paving_stones": {"uk": "бруківка (плитка)", "en": "paving stones"},
    "sett": {"uk": "бруківка (камінь)", "en": "sett"},
    "cobblestone": {"uk": "кругляк", "en": "cobblestone"},
    "paved": {"uk": "тверде покриття", "en": "paved"},
    "compacted": {"uk": "утрамбований ґрунт зі щебенем", "en": "compacted"},
    "fine_gravel": {"uk": "дрібний щебінь", "en": "fine gravel"},
    "gravel": {"uk": "щебінь", "en": "gravel"},
    "unpaved": {"uk": "без твердого покриття", "en": "unpaved"},
    "ground": {"uk": "ґрунт", "en": "ground"},
    "dirt": {"uk": "ґрунтова", "en": "dirt"},
    "sand": {"uk": "пісок", "en": "sand"},
    "grass": {"uk": "трава", "en": "grass"},
}

CONDITIONS = {  # the visual scale of a road inspection, best first
    "5": {"uk": "відмінний", "en": "excellent"},
    "4": {"uk": "добрий", "en": "good"},
    "3": {"uk": "задовільний", "en": "fair"},
    "2": {"uk": "незадовільний", "en": "poor"},
    "1": {"uk": "аварійний", "en": "failed"},
}
CONDITION_COLOURS = {"5": "#2b8a3e", "4": "#5c940d", "3": "#e67700", "2": "#d9480f", "1": "#c92a2a"}

ROAD_SEGMENTS = Layer(
    name="road_segments",
    on_map_at_first=True,
    title={"uk": "Стан доріг", "en": "Road condition"},
    description={"uk": "Ділянки доріг і вулиць: власник, покриття, стан за візуальною шкалою 1–5",
                 "en": "Road and street segments: owner, surface, condition on a visual 1–5 scale"},
    geometry="LineString",
    table="road_segment",
    generated_table=True,
    fields=(
        Field("name", "text", {"uk": "Назва", "en": "Name"}, aliases=("назва", "вулиця", "street", "name:uk")),
        Field("ref", "text", {"uk": "Номер дороги", "en": "Road number"}, aliases=("номер", "індекс")),
        Field("road_class", "choice", {"uk": "Клас дороги", "en": "Road class"}, choices=ROAD_CLASSES,
              aliases=("highway", "клас")),
        Field("owner", "choice", {"uk": "Власник", "en": "Owner"}, required=True, choices=OWNER_CLASSES,
              aliases=("власник", "значення")),
        Field("maintainer_unit_id", "unit", {"uk": "Обслуговує", "en": "Maintained by"}),
        Field("surface", "choice", {"uk": "Покриття", "en": "Surface"}, choices=SURFACES, aliases=("покриття",)),
        Field("condition", "choice", {"uk": "Стан (1–5)", "en": "Condition (1–5)"}, choices=CONDITIONS,
              aliases=("стан", "оцінка")),
        Field("pci", "number", {"uk": "Індекс стану покриття (PCI, 0–100)", "en": "Pavement condition index (0–100)"},
              aliases=("PCI",), minimum=0, maximum=100),
        Field("inspected_on", "date", {"uk": "Останнє обстеження", "en": "Last inspected"},
              aliases=("обстежено", "inspection_date")),
        Field("lit", "boolean", {"uk": "Освітлена", "en": "Lit"}, aliases=("освітлення",)),
        Field("osm_id", "text", {"uk": "Ідентифікатор OSM", "en": "OSM id"}),
    ),
    popup=("name", "ref", "owner", "surface", "condition", "inspected_on", "lit"),
    label_field="name",
    style=CategoryStyle(field="condition", weight=4, colors=CONDITION_COLOURS, color="#868e96"),
    # Below z12 (as points) a segment is a few pixels long and a city's tile holds tens of thousands:
    # its tiles hold clusters of points on the segments, like parcels' and lamps'.
    tiles_as_points_below=12,
    categories=("pothole",),
    permissions=Permissions(edit=frozenset({"admin", "unit_staff"}), editing=Editing()),
    history="public",
    asset=AssetSpec(kind="road_segment", ref_field="ref", name_field="name",
                    owner_unit_field="maintainer_unit_id", owner_class_field="owner"),
    # Roads for cars, not footway/path/steps/cycleway; a *_link counts as its road's class.
    osm=OsmSpec(key="highway", values=tuple(ROAD_CLASSES) + tuple(f"{c}_link" for c in tuple(ROAD_CLASSES)[:5]),
                tags={"name": ("name:uk", "name"), "ref": ("ref",), "surface": ("surface",), "lit": ("lit",)},
                computed={"road_class": lambda tags: tags["highway"].removesuffix("_link"),
                          "owner": lambda tags: owner_class_from_ref(
                              tags.get("ref"), tags["highway"].removesuffix("_link"))}),
    attribution="© OpenStreetMap contributors (ODbL)",
)

# Inspections and repairs: the segment shows the latest, this keeps them all.
road_inspection = sa.Table(
    "road_inspection", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("segment_id", sa.Integer, sa.ForeignKey("road_segment.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),  # inspection | repair
    sa.Column("inspected_on", sa.Date, nullable=False),
    sa.Column("condition", sa.Text),
    sa.Column("pci", sa.Float),
    sa.Column("note", sa.Text),
    sa.Column("report_id", sa.Integer, sa.ForeignKey("report.id", ondelete="SET NULL")),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id", ondelete="SET NULL")),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("kind IN ('inspection', 'repair')", name="kind"),
    sa.CheckConstraint("condition IS NULL OR condition IN ('1', '2', '3', '4', '5')", name="condition"),
    sa.CheckConstraint("pci IS NULL OR pci BETWEEN 0 AND 100", name="pci"),
    sa.Index("ix_road_inspection_segment_id", "segment_id"),
)

LAYERS = (ROAD_SEGMENTS,)


def owner_class_from_ref(ref: str | None, highway: str | None = None) -> str:
    """The owner class from a Ukrainian road number (``Н-02``, ``P-33``, ``О020107``, ``С021502``).

    Numbered roads belong to the state or the oblast; roads without a number are the hromada's.
    Latin look-alike letters (OSM data often has them) count as Cyrillic.
    """
    if ref:
        first = ref.strip().upper().translate(_LATIN_TO_CYRILLIC)[:1]
        if first in _REF_PREFIX_CLASS:
            return _REF_PREFIX_CLASS[first]
    if highway in ("motorway", "trunk"):
        return "state"
    return "communal"


def record_inspection(conn: sa.Connection, segment_id: int, *, condition: str | None, pci: float | None = None,
                      on: dt.date | None = None, note: str | None = None, kind: str = "inspection",
                      report_id: int | None = None, user_id: int | None = None) -> int:
    """Keep an inspection or repair in the history and show it on the segment (when it is the latest)."""
    if condition is not None:
        condition = str(condition).strip()
        if condition not in CONDITIONS:
            raise InvalidInput(f"Стан дороги має бути від 1 до 5, а не {condition!r}",
                               f"Road condition must be 1 to 5, not {condition!r}")
    if pci is not None and not 0 <= float(pci) <= 100:
        raise InvalidInput(f"PCI має бути від 0 до 100, а не {pci}", f"PCI must be 0 to 100, not {pci}")
    on = on or dt.date.today()
    exists = conn.execute(sa.text("SELECT 1 FROM road_segment WHERE id = :id FOR UPDATE"), {"id": segment_id}).first()
    if exists is None:
        raise NotFound(f"Ділянку дороги {segment_id} не знайдено", f"Road segment {segment_id} not found")
    inspection_id = conn.execute(road_inspection.insert().values(
        segment_id=segment_id, kind=kind, inspected_on=on, condition=condition, pci=pci, note=note,
        report_id=report_id, user_id=user_id).returning(road_inspection.c.id)).scalar_one()
    # The segment shows the latest inspection; a newer condition makes an older PCI stale.
    values = {"inspected_on": on}
    if condition is not None or pci is not None:
        values.update(pci=pci, **({"condition": condition} if condition is not None else {}))
    segments = build_table(ROAD_SEGMENTS)
    conn.execute(segments.update().where(
        segments.c.id == segment_id,
        sa.or_(segments.c.inspected_on.is_(None), segments.c.inspected_on <= on)).values(**values))
    return inspection_id


def record_repair(conn: sa.Connection, report_code: str, condition: str, user_id: int | None,
                  note: str | None = None) -> int:
    """A resolved pothole report records the repair on its road segment, with the condition after it.

    Call it in the transaction that resolved the report: a report that is not resolved, or not on a
    road segment, is a 409/400 and nothing is written.
    """
    row = conn.execute(sa.text("""
        SELECT r.id, r.status, r.asset_id, s.id AS segment_id FROM report r
        LEFT JOIN road_segment s ON s.id = r.asset_id WHERE r.code = :code"""), {"code": report_code}).first()
    if row is None:
        raise NotFound(f"Звернення {report_code} не знайдено", f"Report {report_code} not found")
    if row.segment_id is None:
        raise InvalidInput("Звернення не прив'язане до ділянки дороги: ремонт нема де записати",
                           "The report is not on a road segment: there is nowhere to record a repair")
    if row.status != "resolved":
        raise Conflict("Ремонт записують, коли звернення вирішено", "A repair is recorded when the report is resolved")
    return record_inspection(conn, row.segment_id, condition=condition, kind="repair", report_id=row.id,
                             user_id=user_id, note=(note or "").strip() or None)


def find_segment(conn: sa.Connection, segment_id: int) -> dict | None:
    """A road segment's id, name, ref and hromada; None when there is no such segment."""
    row = conn.execute(sa.text("SELECT id, name, ref, hromada_id FROM road_segment WHERE id = :id"),
                       {"id": segment_id}).mappings().first()
    return dict(row) if row else None


def require_segment(conn: sa.Connection, segment_id: int) -> dict:
    """find_segment, or NotFound."""
    found = find_segment(conn, segment_id)
    if found is None:
        raise NotFound(f"Ділянку дороги {segment_id} не знайдено", f"Road segment {segment_id} not found")
    return found


def segment_hromada_id(conn: sa.Connection, segment_id: int) -> int:
    """The id of the segment's hromada; NotFound when there is no such segment (or it has no hromada)."""
    found = (find_segment(conn, segment_id) or {}).get("hromada_id")
    if found is None:
        raise NotFound(f"Ділянку дороги {segment_id} не знайдено", f"Road segment {segment_id} not found")
    return found


def inspections(conn: sa.Connection, segment_id: int) -> list[dict]:
    rows = conn.execute(sa.text("""
        SELECT i.kind, i.inspected_on, i.condition, i.pci, i.note, r.code AS report_code
        FROM road_inspection i LEFT JOIN report r ON r.id = i.report_id
        WHERE i.segment_id = :id ORDER BY i.inspected_on DESC, i.id DESC"""), {"id": segment_id}).mappings()
    return [{**r, "inspected_on": r["inspected_on"].isoformat()} for r in rows]


_ROAD_KM = """
    WITH seg AS (
        SELECT r.id, r.condition, r.geom, ST_Length(r.geom::geography) / 1000.0 AS km
        FROM road_segment r WHERE r.hromada_id = :h
    )
    SELECT COALESCE(s.name_uk, '') AS village, COALESCE(seg.condition, '') AS condition,
           sum(CASE WHEN s.id IS NULL THEN seg.km
                    ELSE ST_Length(ST_Intersection(seg.geom, s.boundary)::geography) / 1000.0 END) AS km
    FROM seg LEFT JOIN settlement s
      ON s.hromada_id = :h AND s.boundary IS NOT NULL AND ST_Intersects(seg.geom, s.boundary)
    GROUP BY 1, 2 ORDER BY 1, 2"""


def km_by_condition(conn: sa.Connection, hromada_id: int) -> dict:
    """Kilometres of road per condition class, per village and in total ('' = outside villages / not rated).

    A segment crossing a village boundary counts with the part inside each village.
    """
    by_village: dict[str, dict[str, float]] = {}
    for village, condition, km in conn.execute(sa.text(_ROAD_KM), {"h": hromada_id}):
        by_village.setdefault(village, {})[condition] = round(km, 3)
    total = conn.execute(sa.text("""
        SELECT COALESCE(condition, '') AS condition, sum(ST_Length(geom::geography)) / 1000.0
        FROM road_segment WHERE hromada_id = :h GROUP BY 1"""), {"h": hromada_id}).all()
    return {"villages": by_village, "total": {c: round(km, 3) for c, km in total}}
