"""Street lighting: lamps, their status following residents' reports, and lighting coverage.

A "lamp not working" report attaches to a lamp (the one chosen on the map, else the nearest in
reach); while the report is open the lamp is faulty, resolving it makes the lamp work again, and
rejecting it puts back the status the lamp had before. A second report on the same lamp while one
is open becomes a "me too" on the first. Every status change is a version of the lamp in
``feature_version`` (the layer keeps ``history="public"``, layers.history), the report that caused
it its ``cause`` (``report:<id>``). Before migration 0032 the changes were kept in
``lamp_status_change``, now a read-only archive still read for reports from before it.
"""
from __future__ import annotations

import sqlalchemy as sa

from gis.crs import metric_srid_for_hromada
from gis.models import metadata
from layers import history
from layers.base import AssetSpec, CategoryStyle, Editing, Field, Layer, OsmSpec, Permissions
from layers.report_states import OPEN_STATUSES

LAMP_STATUSES = {
    "working": {"uk": "працює", "en": "working"},
    "faulty": {"uk": "несправний", "en": "faulty"},
    "missing": {"uk": "відсутній", "en": "missing"},
}
LAMP_TYPES = {  # OSM light:method
    "LED": {"uk": "світлодіодний (LED)", "en": "LED"},
    "high_pressure_sodium": {"uk": "натрієвий (ДНаТ)", "en": "high-pressure sodium"},
    "low_pressure_sodium": {"uk": "натрієвий низького тиску", "en": "low-pressure sodium"},
    "mercury": {"uk": "ртутний (ДРЛ)", "en": "mercury vapour"},
    "metal-halide": {"uk": "металогалогенний", "en": "metal halide"},
    "fluorescent": {"uk": "люмінесцентний", "en": "fluorescent"},
    "incandescent": {"uk": "лампа розжарювання", "en": "incandescent"},
}
SUPPORTS = {  # OSM support=*
    "street_lamp_pole": {"uk": "окрема опора освітлення", "en": "lighting pole"},
    "pole": {"uk": "опора ЛЕП", "en": "utility pole"},
    "wall_mounted": {"uk": "на стіні", "en": "wall-mounted"},
    "suspended": {"uk": "на тросі", "en": "suspended"},
    "ground": {"uk": "на землі", "en": "ground"},
}
CONTROLS = {
    "schedule": {"uk": "за розкладом", "en": "schedule"},
    "photocell": {"uk": "фотореле", "en": "photocell"},
    "smart": {"uk": "дистанційне (смарт)", "en": "smart (remote)"},
    "manual": {"uk": "вручну", "en": "manual"},
}
STATUS_COLOURS = {"working": "#2b8a3e", "faulty": "#c92a2a", "missing": "#868e96"}

STREET_LAMPS = Layer(
    name="street_lamps",
    on_map_at_first=True,
    title={"uk": "Вуличне освітлення", "en": "Street lighting"},
    description={"uk": "Ліхтарі: номер на опорі, хто обслуговує, тип, стан",
                 "en": "Street lamps: the number on the pole, who maintains it, type, status"},
    geometry="Point",
    table="street_lamp",
    generated_table=True,
    fields=(
        Field("ref", "text", {"uk": "Номер опори", "en": "Pole number"}, required=True,
              aliases=("номер", "номер опори", "pole", "lamp_ref")),
        Field("operator_unit_id", "unit", {"uk": "Обслуговує", "en": "Maintained by"}),
        Field("support", "choice", {"uk": "Опора", "en": "Support"}, choices=SUPPORTS, aliases=("опора",)),
        Field("lamp_type", "choice", {"uk": "Тип лампи", "en": "Lamp type"}, choices=LAMP_TYPES,
              aliases=("light:method", "тип", "тип лампи")),
        Field("power_w", "number", {"uk": "Потужність, Вт", "en": "Power, W"},
              aliases=("потужність", "power", "light:power"), minimum=0),
        Field("cabinet", "text", {"uk": "Шафа керування", "en": "Switching cabinet"}, aliases=("шафа",)),
        Field("control", "choice", {"uk": "Керування", "en": "Control"}, choices=CONTROLS,
              aliases=("керування", "lamp_mount")),
        Field("status", "choice", {"uk": "Стан", "en": "Status"}, required=True, choices=LAMP_STATUSES,
              aliases=("стан",)),
        Field("installed_on", "date", {"uk": "Встановлено", "en": "Installed"}, aliases=("встановлено",)),
        Field("inspected_on", "date", {"uk": "Останній огляд", "en": "Last inspected"}, aliases=("огляд",)),
        Field("osm_id", "text", {"uk": "Ідентифікатор OSM", "en": "OSM id"}),
    ),
    popup=("ref", "status", "lamp_type", "power_w", "operator_unit_id"),
    label_field="ref",
    style=CategoryStyle(field="status", colors=STATUS_COLOURS, fill_opacity=0.9),
    # operator=* is a name, not one of our units: it stays in raw.
    osm=OsmSpec(key="highway", values=("street_lamp",),
                tags={"ref": ("ref", "lamp_ref"), "lamp_type": ("light:method", "lamp_type"),
                      "support": ("support",), "power_w": ("light:power",)},
                defaults={"status": "working"}),
    categories=("street_light_out",),
    # The hromada's unit staff (the lighting service among them) and admins add, move, re-status and
    # remove lamps; one unit's lamps are not fenced off from another's (roles are per hromada).
    permissions=Permissions(edit=frozenset({"admin", "unit_staff"}), editing=Editing()),
    history="public",
    asset=AssetSpec(kind="street_lamp", ref_field="ref", owner_unit_field="operator_unit_id",
                    one_open_report=True, on_report=lambda *args: lamp_follows_report(*args)),
)

# Read-only archive (migration 0032: a trigger refuses writes; no foreign keys, it outlives deleted lamps
# and reports): the lamps' status changes until history_archive.switched_at, each with the report that
# caused it. Since then feature_version keeps them, with the report as the version's cause.
lamp_status_change = sa.Table(
    "lamp_status_change", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("lamp_id", sa.Integer, nullable=False),
    sa.Column("from_status", sa.Text),
    sa.Column("to_status", sa.Text, nullable=False),
    sa.Column("report_id", sa.Integer),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index("ix_lamp_status_change_lamp_id", "lamp_id"),
)

LAYERS = (STREET_LAMPS,)
LIGHT_OUT = "street_light_out"


def report_cause(report_id: int) -> str:
    """The ``cause`` of the lamp versions a report makes (layers.history.acting)."""
    return f"report:{int(report_id)}"


def set_lamp_status(conn: sa.Connection, lamp_id: int, status: str, report_id: int | None = None) -> None:
    """Change a lamp's status; no-op when it already has that status. The change is a version of the
    lamp (feature_version). Following a report, the version's cause is the report (``report:<id>``),
    and it names who moved the report (its last event's staff member; a resident's new report names
    nobody) and why (the report), unless the transaction already says who acts."""
    row = conn.execute(sa.text("SELECT status FROM street_lamp WHERE id = :id FOR UPDATE"), {"id": lamp_id}).first()
    if row is None or row.status == status:
        return
    update = sa.text("UPDATE street_lamp SET status = :s WHERE id = :id")
    if report_id is None:
        conn.execute(update, {"s": status, "id": lamp_id})
        return
    author = _report_author(conn, report_id, status)
    with (history.acting(conn, *author, cause=report_cause(report_id)) if author is not None
          else history.because(conn, report_cause(report_id))):
        conn.execute(update, {"s": status, "id": lamp_id})


def _report_author(conn: sa.Connection, report_id: int, status: str) -> tuple | None:
    """(user id, label, reason) for a lamp change that follows report ``report_id``; None when the
    transaction already names who acts (history.acting)."""
    named = conn.execute(sa.text("SELECT COALESCE(current_setting('hromada.user_id', true), '') <> '' "
                                 "OR COALESCE(current_setting('hromada.user_label', true), '') <> ''")).scalar()
    if named:
        return None
    found = conn.execute(sa.text("""
        SELECT r.code, (SELECT e.user_id FROM report_event e WHERE e.report_id = r.id
                        ORDER BY e.id DESC LIMIT 1) AS user_id
        FROM report r WHERE r.id = :r"""), {"r": report_id}).first()
    if found is None:
        return None
    to = LAMP_STATUSES[status]
    return (found.user_id, None if found.user_id is not None else f"звернення {found.code} / report {found.code}",
            f"за зверненням {found.code}: {to['uk']} / following report {found.code}: {to['en']}")


def open_report_on_lamp(conn: sa.Connection, lamp_id: int, open_statuses) -> str | None:
    """The code of the open "light out" report already on this lamp, if any (the oldest)."""
    return conn.execute(sa.text("""
        SELECT r.code FROM report r JOIN category c ON c.id = r.category_id
        WHERE r.asset_id = :lamp AND c.code = :cat AND r.status = ANY(:open)
        ORDER BY r.created_at, r.id LIMIT 1"""),
        {"lamp": lamp_id, "cat": LIGHT_OUT, "open": list(open_statuses)}).scalar()


def lamp_follows_report(conn: sa.Connection, lamp_id: int, report_id: int, status: str) -> None:
    """Open report: the lamp is faulty. Resolved: it works. Rejected or duplicate: back to its
    status before this report — unless another open report still says it is out."""
    if status in OPEN_STATUSES:
        set_lamp_status(conn, lamp_id, "faulty", report_id)
        return
    if open_report_on_lamp(conn, lamp_id, OPEN_STATUSES):
        return
    if status == "resolved":
        set_lamp_status(conn, lamp_id, "working", report_id)
        return
    before = status_before_report(conn, lamp_id, report_id)
    if before:
        set_lamp_status(conn, lamp_id, before, report_id)


def status_before_report(conn: sa.Connection, lamp_id: int, report_id: int) -> str | None:
    """The lamp's status before report ``report_id`` first changed it; None when the report never did.

    A report that first changed the lamp before migration 0032 has that change in the archive
    ``lamp_status_change``, which holds every change until then; one since, in the lamp's versions:
    the status in the version before the first one the report caused."""
    archived = conn.execute(sa.select(lamp_status_change.c.from_status)
                            .where(lamp_status_change.c.lamp_id == lamp_id,
                                   lamp_status_change.c.report_id == report_id)
                            .order_by(lamp_status_change.c.id).limit(1)).first()
    if archived is not None:
        return archived.from_status
    before = history.version_before_cause(conn, STREET_LAMPS, lamp_id, report_cause(report_id))
    if before is None or before["op"] == "delete":
        return None
    return before["row"].get("status")


def lamp_counts(conn: sa.Connection, hromada_id: int) -> dict[str, int]:
    """How many of the hromada's street lamps are in each status (statuses without lamps are absent)."""
    return dict(conn.execute(sa.text("SELECT status, count(*) FROM street_lamp WHERE hromada_id = :h "
                                     "GROUP BY status"), {"h": hromada_id}).all())


def lighting_coverage(conn: sa.Connection, hromada_id: int, reach_m: float = 35.0) -> list[dict]:
    """Per street (segments grouped by name within each village): its length and the share of it
    within ``reach_m`` metres of a working lamp. Lengths in metres, measured on the ellipsoid via
    the hromada's UCS-2000 zone."""
    srid = metric_srid_for_hromada(conn, hromada_id)
    # Each street meets only the lamps within reach of it: one union of every lamp's circle costs
    # seconds with thousands of lamps, where these small unions stay as quick as the streets are many.
    rows = conn.execute(sa.text("""
        WITH street AS (
            SELECT COALESCE(NULLIF(r.name, ''), NULLIF(r.ref, ''), '#' || r.id) AS street,
                   (SELECT v.name_uk FROM settlement_at(r.hromada_id, r.geom) v) AS village,
                   ST_Transform(r.geom, :srid) AS g
            FROM road_segment r WHERE r.hromada_id = :h
        ), grouped AS (
            SELECT street, village, ST_Union(g) AS g FROM street GROUP BY street, village
        ), lamp AS MATERIALIZED (
            SELECT ST_Transform(l.geom, :srid) AS g
            FROM street_lamp l WHERE l.hromada_id = :h AND l.status = 'working'
        )
        SELECT grouped.street, grouped.village, ST_Length(grouped.g) AS length_m,
               COALESCE(ST_Length(ST_Intersection(grouped.g, lit.g)), 0) AS lit_m
        FROM grouped CROSS JOIN LATERAL (
            SELECT ST_Union(ST_Buffer(lamp.g, :reach)) AS g FROM lamp WHERE ST_DWithin(lamp.g, grouped.g, :reach)
        ) lit
        ORDER BY grouped.village NULLS LAST, grouped.street"""),
        {"h": hromada_id, "srid": srid, "reach": reach_m}).mappings()
    return [{"street": r["street"], "village": r["village"], "length_m": round(r["length_m"], 1),
             "lit_m": round(r["lit_m"], 1),
             "lit_share": round(r["lit_m"] / r["length_m"], 4) if r["length_m"] else 0.0} for r in rows]
