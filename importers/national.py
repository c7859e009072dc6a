"""A national, flagged-synthetic data set (issue #20): every hromada of Ukraine set up and three years
of use — ``hromada synthetic national [--scale 1.0] [--seed N]``.

At ``scale`` 1.0, into a database that holds the demo (or any hromadas already set up):

* all 1,466 hromada boundaries (``ukraine_hromadas.gpkg``, importers.communities), each hromada without
  a set-up **set up as the product sets one up** (gis.hromada_setup, gis.setup_file): eight units —
  departments, a communal enterprise for the lights, the oblast road service reached by e-mail only,
  two starosta districts whose service areas are the hromada's northern and southern halves —, who
  handles which catalogue category where, road owners, switched on three years ago, its own
  tracking-code prefix (migration 0034, the rule of layers.reports.prefix_candidates), one audit entry;
* 2,000,000 reports over three years, 1,000,000 street lamps, 500,000 road segments, 1,000,000 land
  parcels and 100,000 venues, spread over those hromadas — reports, lamps and venues in proportion to
  population (the area times the mean density of the hromadas whose population the file gives, where
  it gives none), roads and parcels in proportion to area — and every feature inside its own hromada.

Hromadas that are already set up (the demo) are left exactly as they are: no synthetic report ever
lands in a real hromada's queue, and a benchmark asking the same question of the demo with and
without the national data (bench/bench_national.py) compares the same rows. ``--limit-hromadas N``
fills only the first N hromadas (by KATOTTG) not yet set up, with the whole ``scale`` share among them
(for tests); ``scale`` multiplies every total.

**A report has what create_report gives it**: a unit of its own hromada chosen by the routing rules
(gis.routing — the lamp's or road's unit within reach, a district's area, the whole-hromada
assignment) with the reason in the product's words, a tracking code counted per hromada and year
(``report_counter`` left at the last number, so the next real report continues it), its ``report_event``
history (created, acknowledged, in progress, resolved / rejected / duplicate, reopened after a "not
fixed" answer), the unit's ``unit_notice``, and for reporters who gave an e-mail address (60 %) a
``report_subscriber`` row and a ``mail_address``. A faulty lamp is the lamp of an open "light out"
report (one open report per lamp, as layers.lighting keeps it). Left out: photos (bytes, not
structure) and the historical mail (``outbox``): 14 M rendered mails nobody reads again; the worker
only claims pending rows.

**Flagged synthetic everywhere a layer allows**: ``is_demo`` true and ``source`` ``synthetic`` on every
layer row and unit, ``raw.synthetic`` true, "СИНТЕТИЧНІ" in the names of units, roads and venues, in
report descriptions and the parcels' staff note; lamp numbers start "СИНТ-"; addresses end in
``synthetic.example.org`` (a reserved domain: nothing can be delivered there).

**Built in SQL**, set-based (generate_series, ST_GeneratePoints, INSERT … SELECT) on one connection
whose temporary tables carry the plan from step to step; Python only decides the prefixes of 1,466
names. Seeded (``setseed``, ST_GeneratePoints' seed; parallel plans off, as workers draw their own
random numbers): the same seed on the same database gives the same data.

**History triggers**: the generator switches off only the ``*_version_insert`` triggers
(layers.history, ``record_feature_version``) of the tables it fills, inside its own transaction
(ALTER TABLE … DISABLE TRIGGER, enabled again before COMMIT, so no other session ever sees them off
and a failure rolls the switch back with the rows). Nothing is lost: layers.history writes a feature's
first version from its row at its first change ("a feature that existed before its layer kept
history"), while recording 2.6 M generated rows would add ≈ 3 GB of whole-row JSON (docs/capacity.md)
and ≈ 30 µs a row of generated noise to the history. ``session_replication_role = replica`` would also
stop the triggers the product relies on — ``asset_sync`` (routing finds lamps and roads through
``asset``), ``parcel_area`` (computed area, KATOTTG), ``road_inspection_history`` and every foreign-key
check — so it is not used. ``history=True`` keeps the history triggers on.

Ends with VACUUM ANALYZE of the tables it wrote: fresh statistics, hint bits and visibility map set
as three years of autovacuum would have left them (otherwise the first reads after a bulk load
write every page again).
"""
from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from gis import config
from gis.codes import KATOTTG_RE
from gis.routing import ASSET_KINDS, OWNER_CLASSES
from importers.communities import load_communities
from importers.readers import read_vector
from layers.categories import sync_categories
from layers.report_states import OPEN_STATUSES
from layers.reports import prefix_candidates
from layers.synthetic import SYNTHETIC_NOTE

log = logging.getLogger(__name__)

SOURCE_FILE = "ukraine/ukraine_hromadas.gpkg"
SOURCE = "synthetic"
PREFIX_UK, PREFIX_EN = "СИНТЕТИЧНІ", "SYNTHETIC"
MAIL_DOMAIN = "synthetic.example.org"
AUDIT_ACTOR = "synthetic: hromada synthetic national"

# The national totals at scale 1.0 (issue #20).
TOTALS = {"reports": 2_000_000, "lamps": 1_000_000, "roads": 500_000, "parcels": 1_000_000, "venues": 100_000}
YEARS = 3

# The set-up every generated hromada gets: (code, name_uk, name_en, kind, has_accounts, notify).
UNITS = (
    ("housing", "Відділ житлово-комунального господарства", "Housing and Utilities Department", "department",
     True, "each"),
    ("kp_blagoustrij", "КП «Благоустрій»", "Communal enterprise Blahoustrii", "enterprise", True, "each"),
    ("road_service", "Служба відновлення та розвитку інфраструктури в області",
     "Oblast Service for Restoration and Infrastructure Development", "outside_body", False, "each"),
    ("cnap", "Центр надання адміністративних послуг (ЦНАП)", "Administrative Services Centre (TsNAP)",
     "department", True, "digest"),
    ("social", "Відділ соціального захисту населення", "Social Protection Department", "department", True, "each"),
    ("culture", "Відділ культури і туризму", "Culture and Tourism Department", "department", True, "digest"),
    ("sd_north", "Північний старостинський округ", "Northern starosta district", "starosta_district", True, "each"),
    ("sd_south", "Південний старостинський округ", "Southern starosta district", "starosta_district", True,
     "digest"),
)
# Who handles each catalogue category in the whole hromada (a category not listed: housing) …
WHOLE_HROMADA = {"pothole": "housing", "street_light_out": "kp_blagoustrij", "overflowing_bin": "housing",
                 "illegal_dump": "housing", "fallen_tree": "housing", "water_leak": "housing", "no_signal": "cnap",
                 "accessibility_barrier": "social", "damaged_heritage": "culture", "transit_stop_problem": "housing"}
# … and where a starosta district's unit handles it instead (its half of the hromada: routing's "area").
BY_DISTRICT = ("overflowing_bin", "illegal_dump", "fallen_tree")
DISTRICTS = (("sd_north", "north"), ("sd_south", "south"))
ROAD_OWNERS = {"state": "road_service", "regional": "road_service", "local": "road_service", "communal": "housing"}
# Shares of the reports by category (a catalogue category not listed shares OTHER_SHARE equally).
REPORT_MIX = {"pothole": 0.20, "street_light_out": 0.17, "overflowing_bin": 0.14, "illegal_dump": 0.10,
              "fallen_tree": 0.07, "water_leak": 0.10, "no_signal": 0.05, "accessibility_barrier": 0.06,
              "damaged_heritage": 0.02, "transit_stop_problem": 0.05}
OTHER_SHARE = 0.04
# Reporters who gave an e-mail address, and how many reports one resident files on average.
WITH_EMAIL = 0.6
REPORTS_PER_RESIDENT = 3
# Road segments are drawn from a random start inside the hromada; one that leaves it is drawn again,
# shorter (metres, longest first) — the last lengths fit any hromada.
ROAD_LENGTHS_M = (600, 250, 80, 20, 5)
# Parcels: one per cell of a grid (metres), so no two overlap; rectangles up to PARCEL_MAX_M a side.
PARCEL_GRID_M = (250, 120, 60, 30)
VENUE_PATTERNS = 400  # facts drawn (importers.demo_venues' patterns) and given out at random
OPEN = "(" + ", ".join(f"'{status}'" for status in OPEN_STATUSES) + ")"  # SQL: the open statuses


@dataclass
class NationalReport:
    scale: float
    seed: int
    hromadas_loaded: int = 0
    hromadas_set_up: int = 0
    skipped_set_up: int = 0  # hromadas that had a set-up of their own: left as they were
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())

    def summary(self, lang: str = "uk") -> str:
        rows = ", ".join(f"{k} {v:,}".replace(",", " ") for k, v in self.counts.items())
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items())
        if lang == "en":
            return (f"national synthetic data (scale {self.scale:g}, seed {self.seed}): hromadas loaded "
                    f"{self.hromadas_loaded}, set up {self.hromadas_set_up}, left as they were "
                    f"{self.skipped_set_up}; {rows}\n  {steps}; total {self.total_seconds:.0f} s")
        return (f"національні синтетичні дані (масштаб {self.scale:g}, seed {self.seed}): громад завантажено "
                f"{self.hromadas_loaded}, налаштовано {self.hromadas_set_up}, лишено як були "
                f"{self.skipped_set_up}; {rows}\n  {steps}; разом {self.total_seconds:.0f} с")


def generate_national(engine: sa.Engine, *, scale: float = 1.0, seed: int = 20, limit_hromadas: int | None = None,
                      source: str | Path | None = None, history: bool = False,
                      progress: Callable[[str], None] | None = None) -> NationalReport:
    """Load, set up and fill the hromadas (see the module's docstring); what was made and how long each
    step took. Each step is a transaction of its own; a failed step leaves the earlier ones done."""
    if not 0 < scale <= 10:
        raise ValueError("scale must be in (0, 10]")
    source = Path(source) if source else config.shared_data_dir() / SOURCE_FILE
    report = NationalReport(scale=scale, seed=seed)
    say = progress or log.info

    def step(name: str):
        return _Step(report, name, say)

    with step("boundaries"):
        report.hromadas_loaded = _load_boundaries(engine, source, limit_hromadas)
    with engine.connect() as conn:
        try:
            filled = _fill(conn, report, step, say, scale=scale, seed=seed, limit_hromadas=limit_hromadas,
                           source=source, history=history)
        finally:
            # Its settings and temporary tables must not reach the next user of the pooled connection.
            conn.invalidate()
    if not filled:
        return report
    with step("vacuum analyze"):
        _vacuum_analyze(engine)
    return report


def _fill(conn: sa.Connection, report: NationalReport, step, say, *, scale: float, seed: int,
          limit_hromadas: int | None, source: Path, history: bool) -> bool:
    """The set-up and the rows, a transaction a step; False when no hromada lacks a set-up."""
    conn.execute(sa.text("SET jit = off"))  # as the service's connections (gis.db): long compiles, no gain
    # Deterministic: parallel workers would draw random numbers of their own.
    conn.execute(sa.text("SET max_parallel_workers_per_gather = 0"))
    conn.execute(sa.text("SET work_mem = '256MB'"))
    conn.execute(sa.text("SET synchronous_commit = off"))  # a lost tail is generated again, not lost data
    conn.execute(sa.text("SELECT setseed(:s)"), {"s": (seed % 10_000) / 10_000})
    conn.commit()
    with step("set-up"), conn.begin():
        sync_categories(conn)
        targets, report.skipped_set_up = _targets(conn, source, limit_hromadas)
        if not targets:
            say("no hromada without a set-up: nothing to generate")
            return False
        _plan(conn, targets, scale)
        report.hromadas_set_up = _set_up(conn, seed)
    with step("report plan"), conn.begin():
        _plan_reports(conn)
    with step("lamps"), conn.begin(), _history_off(conn, ("street_lamp",), history):
        report.counts["lamps"] = _lamps(conn, seed)
    with step("roads"), conn.begin(), _history_off(conn, ("road_segment",), history):
        report.counts["roads"] = _roads(conn, seed)
    with step("parcels"), conn.begin(), _history_off(conn, ("parcel",), history):
        report.counts["parcels"] = _parcels(conn, seed)
    with step("venues"), conn.begin(), _history_off(conn, ("venue",), history):
        report.counts["venues"] = _venues(conn, seed)
    with step("reports"), conn.begin():
        report.counts.update(_reports(conn, seed))
    return True


class _Step:
    """Times one step into the report and says when it is done."""

    def __init__(self, report: NationalReport, name: str, say):
        self.report, self.name, self.say = report, name, say

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, kind, _value, _tb):
        self.report.seconds[self.name] = time.perf_counter() - self.start
        if kind is None:
            self.say(f"{self.name}: {self.report.seconds[self.name]:.1f} s")


class _history_off:
    """Inside the caller's transaction: the tables' history insert triggers off, on again before the
    transaction ends (see the module's docstring). ``keep`` True: nothing is switched."""

    def __init__(self, conn: sa.Connection, tables: tuple[str, ...], keep: bool):
        self.conn, self.tables, self.keep = conn, tables, keep

    def _switch(self, how: str) -> None:
        if self.keep:
            return
        for table in self.tables:
            self.conn.execute(sa.text(f'ALTER TABLE "{table}" {how} TRIGGER "{table}_version_insert"'))

    def __enter__(self):
        self._switch("DISABLE")
        return self

    def __exit__(self, kind, _value, _tb):
        if kind is None:  # on an error the rollback puts the trigger back
            self._switch("ENABLE")


# --- hromadas -------------------------------------------------------------------------------------------

def _file_codes(source: Path) -> list[str]:
    frame = read_vector(source, None)
    column = next(c for c in ("katotth", "katottg", "KATOTTG") if c in frame.columns)
    # Only well-formed codes: a mixed file's other rows (centre points) may have none.
    return sorted({str(c).strip().upper() for c in frame[column] if KATOTTG_RE.match(str(c).strip().upper())})


def _load_boundaries(engine: sa.Engine, source: Path, limit: int | None) -> int:
    """Load the boundaries the database does not hold yet (a loaded hromada keeps its own: the demo's
    comes from another file); with ``limit``, only as many as will be filled."""
    with engine.connect() as conn:
        have = set(conn.execute(sa.text("SELECT katottg FROM hromada")).scalars())
        set_up = set(conn.execute(sa.text("""
            SELECT h.katottg FROM hromada h WHERE EXISTS (SELECT 1 FROM hromada_setup s WHERE s.hromada_id = h.id)
               OR EXISTS (SELECT 1 FROM unit u WHERE u.hromada_id = h.id)""")).scalars())
    codes = _file_codes(source)
    if limit is not None:
        codes = [c for c in codes if c not in set_up][:limit]
    missing = [c for c in codes if c not in have]
    if not missing:
        return 0
    return load_communities(engine, source, katottg=missing).inserted


def _targets(conn: sa.Connection, source: Path, limit: int | None) -> tuple[list[int], int]:
    """The ids of the file's hromadas without a set-up (no hromada_setup row, no unit), by KATOTTG; and
    how many of the file's hromadas have one (left alone)."""
    codes = _file_codes(source)
    rows = conn.execute(sa.text("""
        SELECT h.id, EXISTS (SELECT 1 FROM hromada_setup s WHERE s.hromada_id = h.id)
                     OR EXISTS (SELECT 1 FROM unit u WHERE u.hromada_id = h.id) AS set_up
        FROM hromada h WHERE h.katottg = ANY(:codes) ORDER BY h.katottg"""), {"codes": codes}).all()
    free = [r.id for r in rows if not r.set_up]
    return (free[:limit] if limit is not None else free), sum(1 for r in rows if r.set_up)


def _apportion(total: int, weight: str) -> str:
    """SQL: each nat_h row's whole share of ``total`` by ``weight``, the shares adding up to exactly
    ``total`` (differences of the rounded-down running sum)."""
    running = f"sum({weight}) OVER (ORDER BY id)"
    return (f"(floor({total}::numeric * {running} / sum({weight}) OVER ()) "
            f"- floor({total}::numeric * ({running} - {weight}) / sum({weight}) OVER ()))::int")


def _plan(conn: sa.Connection, ids: list[int], scale: float) -> None:
    """nat_h: the target hromadas with their weights and how many of each thing they get."""
    totals = {k: max(0, round(v * scale)) for k, v in TOTALS.items()}
    # Residents per km² of the hromadas whose population the file gives; with none, Ukraine's mean
    # (≈ 41 M on 603,000 km²).
    density = conn.execute(sa.text("""
        SELECT sum(population) / NULLIF(sum(ST_Area(boundary::geography, false)) / 1e6, 0) FROM hromada
        WHERE population > 0""")).scalar() or 68.0
    conn.execute(sa.text("DROP TABLE IF EXISTS nat_h"))
    conn.execute(sa.text("""
        CREATE TEMP TABLE nat_h AS
        SELECT h.id, h.katottg, h.name_uk, h.name_en, h.boundary, h.koatuu, h.km2,
               COALESCE(NULLIF(h.population, 0), h.km2 * :density)::numeric AS people, h.km2::numeric AS area,
               ST_Y(ST_Centroid(h.boundary)) AS split_lat
        FROM (SELECT *, ST_Area(boundary::geography, false) / 1e6 AS km2 FROM hromada WHERE id = ANY(:ids)) h"""),
        {"ids": ids, "density": density})
    conn.execute(sa.text(f"""
        CREATE TEMP TABLE nat_n AS
        SELECT id, {_apportion(totals['reports'], 'people')} AS n_reports,
               {_apportion(totals['lamps'], 'people')} AS n_lamps,
               {_apportion(totals['venues'], 'people')} AS n_venues,
               {_apportion(totals['roads'], 'area')} AS n_roads,
               {_apportion(totals['parcels'], 'area')} AS n_parcels
        FROM nat_h"""))
    for column in ("n_reports", "n_lamps", "n_venues", "n_roads", "n_parcels"):
        conn.execute(sa.text(f"ALTER TABLE nat_h ADD COLUMN {column} int"))
    conn.execute(sa.text("""
        UPDATE nat_h h SET n_reports = n.n_reports, n_lamps = n.n_lamps, n_venues = n.n_venues,
                           n_roads = n.n_roads, n_parcels = n.n_parcels
        FROM nat_n n WHERE n.id = h.id"""))
    conn.execute(sa.text("DROP TABLE nat_n"))
    conn.execute(sa.text("ALTER TABLE nat_h ADD PRIMARY KEY (id)"))
    conn.execute(sa.text("ANALYZE nat_h"))


# --- the set-up -----------------------------------------------------------------------------------------

def _prefixes(conn: sa.Connection) -> list[dict]:
    """Each target hromada's tracking-code prefix by layers.reports' rule: the first candidate of its name
    that no hromada holds, no report's code uses, and that is not the first choice of a set-up hromada
    still waiting for its first report (the demo keeps its ЯК)."""
    taken = set(conn.execute(sa.text("""
        SELECT report_prefix FROM hromada WHERE report_prefix IS NOT NULL
        UNION SELECT DISTINCT split_part(code, '-', 1) FROM report""")).scalars())
    for (name,) in conn.execute(sa.text("""
            SELECT h.name_uk FROM hromada h JOIN hromada_setup s ON s.hromada_id = h.id
            WHERE h.report_prefix IS NULL""")).all():
        taken.add(next(prefix_candidates(name)))
    out = []
    for hromada_id, name in conn.execute(sa.text("SELECT id, name_uk FROM nat_h ORDER BY katottg")).all():
        prefix = next(c for c in prefix_candidates(name) if c not in taken)
        taken.add(prefix)
        out.append({"h": hromada_id, "p": prefix})
    return out


def _set_up(conn: sa.Connection, seed: int) -> int:
    """Units, assignments (districts' areas as the north and south halves), road owners, service areas,
    switched on three years ago, prefixes, an audit entry: the rows gis.hromada_setup would write for
    the same set-up file (tests/importers/test_national.py applies the exported file back: no change)."""
    units = [{"code": c, "name_uk": f"{PREFIX_UK}: {uk}", "name_en": f"{PREFIX_EN}: {en}", "kind": kind,
              "accounts": accounts, "notify": notify} for c, uk, en, kind, accounts, notify in UNITS]
    conn.execute(sa.text("""
        INSERT INTO unit (hromada_id, code, name_uk, name_en, kind, emails, has_accounts, notify_mode, is_demo)
        SELECT h.id, t.code, t.name_uk, t.name_en, t.kind,
               ARRAY[replace(t.code, '_', '-') || '@' || lower(h.katottg) || '.' || :domain],
               t.accounts, t.notify, true
        FROM nat_h h CROSS JOIN jsonb_to_recordset(CAST(:units AS jsonb))
             AS t(code text, name_uk text, name_en text, kind text, accounts boolean, notify text)
        ORDER BY h.id"""), {"units": json.dumps(units, ensure_ascii=False), "domain": MAIL_DOMAIN})
    conn.execute(sa.text("DROP TABLE IF EXISTS nat_unit"))
    conn.execute(sa.text("""
        CREATE TEMP TABLE nat_unit AS
        SELECT u.hromada_id, u.code, u.id, u.name_uk, u.name_en FROM unit u JOIN nat_h h ON h.id = u.hromada_id"""))
    conn.execute(sa.text("CREATE INDEX ON nat_unit (hromada_id, code)"))
    conn.execute(sa.text("ANALYZE nat_unit"))
    # The halves a district's unit serves: the boundary north and south of its centroid's latitude,
    # as valid multipolygons (what gis.geometry.to_multipolygon would store).
    conn.execute(sa.text("DROP TABLE IF EXISTS nat_half"))
    conn.execute(sa.text("""
        CREATE TEMP TABLE nat_half AS
        SELECT h.id AS hromada_id, half.side,
               ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Intersection(h.boundary, half.box)), 3)) AS area
        FROM nat_h h CROSS JOIN LATERAL (VALUES
            ('north', ST_MakeEnvelope(ST_XMin(h.boundary) - 1, h.split_lat, ST_XMax(h.boundary) + 1,
                                      ST_YMax(h.boundary) + 1, 4326)),
            ('south', ST_MakeEnvelope(ST_XMin(h.boundary) - 1, ST_YMin(h.boundary) - 1, ST_XMax(h.boundary) + 1,
                                      h.split_lat, 4326))) AS half(side, box)"""))
    conn.execute(sa.text("DELETE FROM nat_half WHERE ST_IsEmpty(area) OR ST_Area(area::geography) < 1"))
    catalogue = conn.execute(sa.text(
        "SELECT code FROM category WHERE hromada_id IS NULL AND is_active ORDER BY id")).scalars().all()
    whole = [{"category": c, "unit": WHOLE_HROMADA.get(c, "housing")} for c in catalogue]
    conn.execute(sa.text("""
        INSERT INTO unit_category (unit_id, category_id, scope)
        SELECT u.id, c.id, 'hromada'
        FROM nat_h h CROSS JOIN jsonb_to_recordset(CAST(:whole AS jsonb)) AS w(category text, unit text)
        JOIN category c ON c.code = w.category AND c.hromada_id IS NULL
        JOIN nat_unit u ON u.hromada_id = h.id AND u.code = w.unit
        ORDER BY h.id, c.id"""), {"whole": json.dumps(whole)})
    by_area = [{"category": c, "unit": unit, "side": side} for c in BY_DISTRICT if c in catalogue
               for unit, side in DISTRICTS]
    conn.execute(sa.text("""
        INSERT INTO unit_category (unit_id, category_id, scope, area)
        SELECT u.id, c.id, 'area', half.area
        FROM jsonb_to_recordset(CAST(:by_area AS jsonb)) AS a(category text, unit text, side text)
        JOIN category c ON c.code = a.category AND c.hromada_id IS NULL
        JOIN nat_half half ON half.side = a.side
        JOIN nat_unit u ON u.hromada_id = half.hromada_id AND u.code = a.unit
        ORDER BY half.hromada_id, c.id"""), {"by_area": json.dumps(by_area)})
    # unit.service_area as gis.hromada_setup._refresh_service_area keeps it: the union of the unit's
    # areas, NULL for a unit with anything to do in the whole hromada.
    # (A district's unit has the same half for its three categories: the union of one area is itself,
    # and uniting three copies of a polygon of thousands of vertices 2,930 times took ten seconds.)
    conn.execute(sa.text("""
        UPDATE unit SET service_area = CASE WHEN cardinality(s.areas) = 1 THEN ST_Multi(s.areas[1])
                                            ELSE ST_Multi(ST_CollectionExtract(ST_Union(s.areas), 3)) END
        FROM (SELECT uc.unit_id, array_agg(DISTINCT uc.area) AS areas
              FROM unit_category uc JOIN nat_unit n ON n.id = uc.unit_id GROUP BY uc.unit_id
              HAVING NOT bool_or(uc.scope = 'hromada')) s
        WHERE unit.id = s.unit_id"""))
    owners = [{"owner": o, "unit": u} for o, u in ROAD_OWNERS.items()]
    conn.execute(sa.text("""
        INSERT INTO asset_owner (hromada_id, asset_kind, owner_class, unit_id)
        SELECT h.id, 'road_segment', o.owner, u.id
        FROM nat_h h CROSS JOIN jsonb_to_recordset(CAST(:owners AS jsonb)) AS o(owner text, unit text)
        JOIN nat_unit u ON u.hromada_id = h.id AND u.code = o.unit"""), {"owners": json.dumps(owners)})
    # Switched on before its first report (three years ago and a few days), as the operator does.
    conn.execute(sa.text(f"""
        INSERT INTO hromada_setup (hromada_id, enabled_at)
        SELECT id, now() - interval '{YEARS} years' - make_interval(days => 1 + (id % 30)) FROM nat_h"""))
    conn.execute(sa.text("""
        UPDATE hromada h SET report_prefix = p.p
        FROM jsonb_to_recordset(CAST(:prefixes AS jsonb)) AS p(h int, p text) WHERE h.id = p.h"""),
        {"prefixes": json.dumps(_prefixes(conn), ensure_ascii=False)})
    conn.execute(sa.text("""
        INSERT INTO audit_log (hromada_id, actor, action, object, detail)
        SELECT id, :actor, 'setup.apply', katottg,
               jsonb_build_object('synthetic', true, 'seed', :seed, 'note', CAST(:note AS text))
        FROM nat_h"""), {"actor": AUDIT_ACTOR, "seed": seed, "note": SYNTHETIC_NOTE["en"]})
    return conn.execute(sa.text("SELECT count(*) FROM nat_h")).scalar_one()


# --- the reports' plan (before the lamps: an open "light out" report makes its lamp faulty) ---------------

def _category_mix(conn: sa.Connection) -> list[dict]:
    codes = conn.execute(sa.text(
        "SELECT id, code, target_days FROM category WHERE hromada_id IS NULL AND is_active ORDER BY id")).all()
    others = [c for c in codes if c.code not in REPORT_MIX]
    shares = [(c, REPORT_MIX.get(c.code, OTHER_SHARE / max(1, len(others)))) for c in codes]
    total = sum(s for _, s in shares)
    out, low = [], 0.0
    for c, share in shares:
        out.append({"id": c.id, "code": c.code, "days": c.target_days, "lo": low, "hi": low + share / total})
        low += share / total
    out[-1]["hi"] = 1.0000001  # random() < 1: the last range takes everything left
    return out


def _plan_reports(conn: sa.Connection) -> None:
    """nat_rp: every report's hromada, time, category and status; then how many open "light out"
    reports each hromada has (that many of its lamps are faulty)."""
    conn.execute(sa.text("DROP TABLE IF EXISTS nat_cat"))
    conn.execute(sa.text("""
        CREATE TEMP TABLE nat_cat AS SELECT * FROM jsonb_to_recordset(CAST(:mix AS jsonb))
            AS m(id int, code text, days int, lo float8, hi float8)"""), {"mix": json.dumps(_category_mix(conn))})
    conn.execute(sa.text("DROP TABLE IF EXISTS nat_rp"))
    # Three years, more recent reports more often (use grows): age = 3 years × u^1.5.
    conn.execute(sa.text(f"""
        CREATE TEMP TABLE nat_rp AS
        WITH r AS (
            SELECT h.id AS hromada_id, h.n_lamps, h.n_roads,
                   now() - make_interval(secs => {YEARS} * 365.25 * 86400 * power(random(), 1.5)) AS created_at,
                   random() AS u_cat, random() AS u_open, random() AS u_status, random() AS u_asset,
                   random() AS u_mail, random() AS u_fix
            FROM nat_h h, generate_series(1, h.n_reports))
        SELECT r.*, c.id AS category_id, c.code AS category, c.days AS target_days,
               (extract(epoch FROM now() - r.created_at) / 86400)::float8 AS age_days
        FROM r JOIN nat_cat c ON r.u_cat >= c.lo AND r.u_cat < c.hi"""))
    # Open: every fresh report, a few old ones (the backlog); closed mostly resolved.
    conn.execute(sa.text("ALTER TABLE nat_rp ADD COLUMN status text"))
    conn.execute(sa.text(f"""
        UPDATE nat_rp SET status = CASE
            WHEN u_open < 0.04 + 0.96 * exp(-age_days / 8) THEN CASE
                WHEN age_days < 0.5 THEN 'new'
                WHEN age_days < 3 THEN {_one_of('new', 'acknowledged', 'acknowledged', 'in_progress', u='u_status')}
                WHEN age_days > 40 AND u_status < 0.08 THEN 'reopened'
                ELSE {_one_of('new', 'acknowledged', 'in_progress', 'in_progress', 'in_progress', u='u_status')}
              END
            WHEN u_status < 0.85 THEN 'resolved'
            WHEN u_status < 0.95 THEN 'rejected'
            ELSE 'duplicate' END"""))
    # One open "light out" report per lamp (layers.lighting): more than the hromada has lamps → resolved.
    conn.execute(sa.text("ALTER TABLE nat_rp ADD COLUMN lamp_seq int"))
    conn.execute(sa.text(f"""
        UPDATE nat_rp r SET lamp_seq = o.k
        FROM (SELECT ctid AS row_id, row_number() OVER (PARTITION BY hromada_id ORDER BY created_at) AS k
              FROM nat_rp WHERE category = 'street_light_out' AND status IN {OPEN}) o
        WHERE r.ctid = o.row_id"""))
    conn.execute(sa.text("UPDATE nat_rp SET status = 'resolved', lamp_seq = NULL WHERE lamp_seq > n_lamps"))
    conn.execute(sa.text("""
        UPDATE nat_rp SET lamp_seq = 1 + floor(u_asset * n_lamps)::int
        WHERE category = 'street_light_out' AND lamp_seq IS NULL AND n_lamps > 0"""))
    conn.execute(sa.text("ALTER TABLE nat_rp ADD COLUMN road_seq int"))
    conn.execute(sa.text(
        "UPDATE nat_rp SET road_seq = 1 + floor(u_asset * n_roads)::int WHERE category = 'pothole' AND n_roads > 0"))
    conn.execute(sa.text(f"""
        CREATE TEMP TABLE nat_faulty AS
        SELECT hromada_id, max(lamp_seq) FILTER (WHERE status IN {OPEN}) AS open_lamps
        FROM nat_rp WHERE category = 'street_light_out' GROUP BY hromada_id"""))


# --- the layers ----------------------------------------------------------------------------------------

def _one_of(*values, u: str = "random()") -> str:
    """SQL: one of ``values`` (literals) at random — by ``u``, a uniform number in [0, 1), when given."""
    items = ", ".join("NULL" if v is None else str(v) if isinstance(v, (int, float)) else "'" + v + "'"
                      for v in values)
    return f"(ARRAY[{items}])[1 + floor({u} * {len(values)})::int]"


def _points(count: str, seed_sql: str, where: str = "true") -> str:
    """SQL: ``count`` (an expression of nat_h ``h``) random points inside each hromada, numbered ``k`` 1…count
    in random order, as (hromada_id, k, geom). ST_GeneratePoints shares the points out among the parts of
    a multipolygon by rounding, so it may give a few fewer or more: it is asked for a few more (one per
    part, and two), and the first ``count`` are kept."""
    return f"""(SELECT hromada_id, k, geom FROM (
        SELECT h.id AS hromada_id, {count} AS wanted, d.geom,
               row_number() OVER (PARTITION BY h.id ORDER BY random())::int AS k
        FROM nat_h h, ST_Dump(ST_GeneratePoints(h.boundary, {count} + ST_NumGeometries(h.boundary) + 2,
                                                {seed_sql})) d
        WHERE {count} > 0 AND {where}) p WHERE k <= wanted)"""


def _seed(seed: int, layer: int) -> str:
    """ST_GeneratePoints' seed for a hromada (``h.id``) and layer: positive, different per both."""
    return f"(({seed % 100_000} * 7 + {layer}) * 100000 + h.id) % 2000000000 + 1"


_RAW = f"jsonb_build_object('synthetic', true, 'note', '{SYNTHETIC_NOTE['en']}')"


def _lamps(conn: sa.Connection, seed: int) -> int:
    """Points inside each hromada, numbered in random order; the first ``open_lamps`` are faulty (their
    open report), about 1 % of the rest missing. Ids from asset_id_seq, as the table's default."""
    conn.execute(sa.text("DROP TABLE IF EXISTS nat_lamp"))
    conn.execute(sa.text(f"""
        CREATE TEMP TABLE nat_lamp AS
        SELECT nextval('asset_id_seq')::int AS id, hromada_id, k AS seq, geom
        FROM {_points("h.n_lamps", _seed(seed, 1))} p"""))
    conn.execute(sa.text("CREATE INDEX ON nat_lamp (hromada_id, seq)"))
    conn.execute(sa.text("ANALYZE nat_lamp"))
    return conn.execute(sa.text(f"""
        INSERT INTO street_lamp (id, hromada_id, ref, operator_unit_id, support, lamp_type, power_w, cabinet,
                                 control, status, installed_on, inspected_on, geom, raw, source, is_demo)
        SELECT l.id, l.hromada_id, 'СИНТ-' || lpad(l.seq::text, 5, '0'), u.id,
               {_one_of('street_lamp_pole', 'street_lamp_pole', 'pole', 'pole', 'wall_mounted')},
               {_one_of('LED', 'LED', 'LED', 'high_pressure_sodium', 'mercury')},
               {_one_of(40, 60, 60, 100, 150)},
               'СИНТ-ШК-' || (1 + l.seq / 40),
               {_one_of('photocell', 'schedule', 'smart', 'manual')},
               CASE WHEN l.seq <= COALESCE(f.open_lamps, 0) THEN 'faulty'
                    WHEN random() < 0.01 THEN 'missing' ELSE 'working' END,
               current_date - (365 + floor(random() * 4000))::int,
               current_date - floor(random() * 700)::int,
               l.geom, {_RAW}, '{SOURCE}', true
        FROM nat_lamp l JOIN nat_unit u ON u.hromada_id = l.hromada_id AND u.code = 'kp_blagoustrij'
        LEFT JOIN nat_faulty f ON f.hromada_id = l.hromada_id
        ORDER BY l.hromada_id, l.seq""")).rowcount


def _roads(conn: sa.Connection, seed: int) -> int:
    """Straight segments from a random start inside the hromada, kept when wholly inside it; the rest are
    drawn again, shorter, until every hromada has its number."""
    conn.execute(sa.text("DROP TABLE IF EXISTS nat_road"))
    conn.execute(sa.text("CREATE TEMP TABLE nat_road (hromada_id int, geom geometry(LineString, 4326))"))
    for attempt, metres in enumerate(ROAD_LENGTHS_M):
        conn.execute(sa.text(f"""
            WITH need AS (
                SELECT h.id, h.boundary, h.n_roads - COALESCE(have.n, 0) AS deficit
                FROM nat_h h LEFT JOIN (SELECT hromada_id, count(*) AS n FROM nat_road GROUP BY 1) have
                     ON have.hromada_id = h.id
                WHERE h.n_roads > COALESCE(have.n, 0)),
            start AS (
                SELECT h.id AS hromada_id, h.boundary, h.deficit, p.geom, random() * 2 * pi() AS bearing,
                       {metres} * (0.3 + 0.7 * random()) AS metres
                FROM need h, ST_Dump(ST_GeneratePoints(h.boundary, (h.deficit * 1.4 + 4)::int,
                                                       {_seed(seed, 10 + attempt)})) p),
            line AS (
                SELECT hromada_id, deficit, ST_MakeLine(geom, ST_Translate(geom,
                           metres * cos(bearing) / (111320 * cos(radians(ST_Y(geom)))),
                           metres * sin(bearing) / 110574)) AS geom, boundary
                FROM start),
            fits AS (
                SELECT hromada_id, deficit, geom, row_number() OVER (PARTITION BY hromada_id ORDER BY random()) AS k
                FROM line WHERE ST_Covers(boundary, geom))
            INSERT INTO nat_road SELECT hromada_id, geom FROM fits WHERE k <= deficit"""))
    conn.execute(sa.text("""
        CREATE TEMP TABLE nat_road_id AS
        SELECT nextval('asset_id_seq')::int AS id, hromada_id,
               row_number() OVER (PARTITION BY hromada_id ORDER BY random())::int AS seq, geom,
               random() AS u_owner
        FROM nat_road"""))
    conn.execute(sa.text("DROP TABLE nat_road"))
    conn.execute(sa.text("ALTER TABLE nat_road_id RENAME TO nat_road"))
    conn.execute(sa.text("CREATE INDEX ON nat_road (hromada_id, seq)"))
    conn.execute(sa.text("ANALYZE nat_road"))
    # Owner classes as a hromada's roads have them: mostly its own streets, some district, oblast and
    # state roads (which go to the road service by asset_owner). No segment names a unit of its own.
    return conn.execute(sa.text(f"""
        INSERT INTO road_segment (id, hromada_id, name, ref, road_class, owner, surface, condition, pci,
                                  inspected_on, lit, geom, raw, source, is_demo)
        SELECT r.id, r.hromada_id,
               CASE WHEN o.owner = 'communal' THEN '{PREFIX_UK}: вул. ' || r.seq
                    ELSE '{PREFIX_UK}: дорога ' || r.seq END,
               CASE o.owner WHEN 'state' THEN 'Н-С' || (r.seq % 40) WHEN 'regional' THEN 'О-С' || r.seq
                            WHEN 'local' THEN 'С-С' || r.seq END,
               CASE o.owner WHEN 'state' THEN 'primary' WHEN 'regional' THEN 'secondary'
                            WHEN 'local' THEN 'tertiary' ELSE 'residential' END,
               o.owner,
               CASE WHEN o.owner = 'communal' AND random() < 0.45
                    THEN {_one_of('gravel', 'ground', 'compacted')} ELSE 'asphalt' END,
               (1 + floor(random() * 5)::int)::text,
               CASE WHEN random() < 0.3 THEN round((20 + random() * 80)::numeric)::float8 END,
               CASE WHEN random() < 0.7 THEN current_date - floor(random() * 1000)::int END,
               random() < 0.4,
               r.geom, {_RAW}, '{SOURCE}', true
        FROM nat_road r CROSS JOIN LATERAL (SELECT CASE WHEN r.u_owner < 0.06 THEN 'state'
                                                        WHEN r.u_owner < 0.16 THEN 'regional'
                                                        WHEN r.u_owner < 0.30 THEN 'local'
                                                        ELSE 'communal' END AS owner) o
        ORDER BY r.hromada_id, r.seq""")).rowcount


def _parcels(conn: sa.Connection, seed: int) -> int:
    """Rectangles, one per cell of a metric grid (no two overlap), wholly inside the hromada; cadastral
    numbers KOATUU:zone:quarter:parcel, quarters of 100 parcels in geohash order (neighbours share one)."""
    conn.execute(sa.text("DROP TABLE IF EXISTS nat_parcel"))
    conn.execute(sa.text("""
        CREATE TEMP TABLE nat_parcel (hromada_id int, grid int, ix int, iy int, kind float8,
                                      geom geometry(Polygon, 4326))"""))
    for attempt, cell in enumerate(PARCEL_GRID_M):
        conn.execute(sa.text(f"""
            WITH need AS (
                SELECT h.id, h.boundary, h.n_parcels - COALESCE(have.n, 0) AS deficit,
                       {cell} / (111320 * cos(radians(h.split_lat))) AS dx, {cell} / 110574.0 AS dy
                FROM nat_h h LEFT JOIN (SELECT hromada_id, count(*) AS n FROM nat_parcel GROUP BY 1) have
                     ON have.hromada_id = h.id
                WHERE h.n_parcels > COALESCE(have.n, 0)),
            pick AS (
                SELECT DISTINCT ON (h.id, floor(ST_X(p.geom) / h.dx), floor(ST_Y(p.geom) / h.dy))
                       h.id AS hromada_id, h.boundary, h.deficit, h.dx, h.dy,
                       floor(ST_X(p.geom) / h.dx)::int AS ix, floor(ST_Y(p.geom) / h.dy)::int AS iy, random() AS kind
                FROM need h, ST_Dump(ST_GeneratePoints(h.boundary, (h.deficit * 1.4 + 4)::int,
                                                       {_seed(seed, 20 + attempt)})) p
                ORDER BY h.id, floor(ST_X(p.geom) / h.dx), floor(ST_Y(p.geom) / h.dy)),
            shaped AS (
                -- homestead plots 25–45 % of the cell a side, fields 55–90 %, centred in their cell
                SELECT hromada_id, ix, iy, kind, boundary, deficit,
                       ST_MakeEnvelope((ix + 0.5 - s.w / 2) * dx, (iy + 0.5 - s.h / 2) * dy,
                                       (ix + 0.5 + s.w / 2) * dx, (iy + 0.5 + s.h / 2) * dy, 4326) AS geom
                FROM pick CROSS JOIN LATERAL (SELECT
                    CASE WHEN kind < 0.55 THEN 0.55 + 0.35 * random() ELSE 0.25 + 0.2 * random() END AS w,
                    CASE WHEN kind < 0.55 THEN 0.55 + 0.35 * random() ELSE 0.25 + 0.2 * random() END AS h) s),
            fits AS (
                SELECT hromada_id, ix, iy, kind, geom,
                       row_number() OVER (PARTITION BY hromada_id ORDER BY random()) AS k, deficit
                FROM shaped WHERE ST_Covers(boundary, geom)
                  -- a finer grid's cell must not meet a parcel already placed
                  AND NOT EXISTS (SELECT 1 FROM nat_parcel q WHERE q.hromada_id = shaped.hromada_id
                                  AND ST_Intersects(q.geom, shaped.geom)))
            INSERT INTO nat_parcel SELECT hromada_id, {cell}, ix, iy, kind, geom FROM fits WHERE k <= deficit"""))
        conn.execute(sa.text("CREATE INDEX IF NOT EXISTS nat_parcel_geom ON nat_parcel USING gist (geom)"))
        conn.execute(sa.text("ANALYZE nat_parcel"))
    # KOATUU: the hromada's own when the file gives a valid one, else one made from its KATOTTG (the same
    # oblast code, 2 = raion, the KATOTTG's raion and hromada numbers); several hromadas on one KOATUU
    # take zones 01, 02, … so no number repeats.
    conn.execute(sa.text("""
        CREATE TEMP TABLE nat_koatuu AS
        SELECT id, koatuu, dense_rank() OVER (PARTITION BY koatuu ORDER BY id) AS zone FROM (
            SELECT id, CASE WHEN koatuu ~ '^[0-9]{10}$' AND substr(koatuu, 3, 1) IN ('1', '2', '3')
                                 AND substr(koatuu, 1, 2) = substr(katottg, 3, 2)
                            THEN koatuu
                            ELSE substr(katottg, 3, 2) || '2' || substr(katottg, 5, 2) || substr(katottg, 7, 3) || '00'
                       END AS koatuu
            FROM nat_h) k"""))
    return conn.execute(sa.text(f"""
        WITH numbered AS (
            SELECT p.*, row_number() OVER (PARTITION BY p.hromada_id ORDER BY ST_GeoHash(ST_Centroid(p.geom), 12))
                        - 1 AS k
            FROM nat_parcel p)
        INSERT INTO parcel (hromada_id, cadastral_number, katottg, area_declared_ha, land_category, purpose_code,
                            ownership_form, right_type, holder_kind, holder_entity, holder_person, lease_end,
                            normative_value_uah, inventory_status, status_date, staff_note, geom, raw, source,
                            is_demo)
        SELECT n.hromada_id,
               k.koatuu || ':' || lpad((k.zone + n.k / 99900)::text, 2, '0') || ':'
                 || lpad((1 + (n.k % 99900) / 100)::text, 3, '0') || ':' || lpad((1 + n.k % 100)::text, 4, '0'),
               h.katottg,
               -- the declared area: the drawn one within 0.5 %, or off by 3–8 % for one parcel in twenty
               round((ST_Area(n.geom::geography) / 10000 * CASE WHEN random() < 0.05
                     THEN 1 + (0.03 + 0.05 * random()) * sign(random() - 0.5) ELSE 1 + (random() - 0.5) * 0.01 END
                     )::numeric, 4)::float8,
               t.land_category, t.purpose_code, t.ownership_form, t.right_type, t.holder_kind,
               CASE t.holder_kind WHEN 'legal_entity' THEN {_one_of('ТОВ', 'ФГ', 'ПП', 'СТОВ')}
                                      || ' «{PREFIX_UK} агро ' || (n.hromada_id % 97) || '»'
                                  WHEN 'community' THEN '{PREFIX_UK}: ' || h.name_uk || ' (рада)' END,
               CASE WHEN t.holder_kind = 'natural_person' THEN 'Синтетична особа №' || n.k END,
               CASE WHEN t.right_type = 'lease' THEN current_date + (30 + floor(random() * 3000))::int END,
               round((ST_Area(n.geom::geography) / 10000 * t.uah_per_ha)::numeric, 2)::float8,
               {_one_of('done', 'done', 'done', 'in_progress', 'not_inventoried', 'not_inventoried', 'mismatch')},
               current_date - floor(random() * 730)::int,
               '{PREFIX_UK} дані для перевірки навантаження, не справжня ділянка',
               ST_Multi(n.geom), {_RAW}, '{SOURCE}', true
        FROM numbered n JOIN nat_h h ON h.id = n.hromada_id JOIN nat_koatuu k ON k.id = n.hromada_id
        CROSS JOIN LATERAL (SELECT * FROM (VALUES
            -- fields (the larger cells' share) and homestead plots, a few communal, forest and industrial
            (0.00, 0.40, 'agricultural', '01.01', 'private', 'lease', 'legal_entity', 28000),
            (0.40, 0.50, 'agricultural', '01.03', 'private', 'ownership', 'natural_person', 28000),
            (0.50, 0.55, 'agricultural', '01.02', 'private', 'ownership', 'legal_entity', 28000),
            (0.55, 0.85, 'residential_public', '02.01', 'private', 'ownership', 'natural_person', 180000),
            (0.85, 0.90, 'residential_public', '03.02', 'communal', 'permanent_use', 'community', 250000),
            (0.90, 0.95, 'forestry', '09.01', 'state', 'permanent_use', 'state', 9000),
            (0.95, 1.01, 'industry_transport', '11.02', 'private', 'lease', 'legal_entity', 320000))
            AS v(lo, hi, land_category, purpose_code, ownership_form, right_type, holder_kind, uah_per_ha)
            WHERE n.kind >= v.lo AND n.kind < v.hi) t
        ORDER BY n.hromada_id, n.k""")).rowcount


def _venue_patterns(seed: int) -> list[dict]:
    """Venues' facts from the demo's entrance and information patterns (importers.demo_venues), drawn with
    a seeded generator: every rating of every profile occurs."""
    from importers.demo_venues import ENTRANCES, INFORMATION, _facts

    rng = random.Random(seed)
    return [{**_facts(rng.choice(ENTRANCES)[1], rng), **rng.choice(INFORMATION)[1]} for _ in range(VENUE_PATTERNS)]


def _venues(conn: sa.Connection, seed: int) -> int:
    from layers.accessibility import CATEGORIES, VENUES

    columns = sorted({k for pattern in _venue_patterns(seed) for k in pattern})
    known = {f.column_name for f in VENUES.input_fields}
    columns = [c for c in columns if c in known]
    facts = ", ".join(f"f.{c}" for c in columns)
    conn.execute(sa.text("DROP TABLE IF EXISTS nat_venue_facts"))
    conn.execute(sa.text("""
        CREATE TEMP TABLE nat_venue_facts AS
        SELECT (row_number() OVER () - 1)::int AS n, p AS facts
        FROM jsonb_array_elements(CAST(:patterns AS jsonb)) p"""), {"patterns": json.dumps(_venue_patterns(seed))})
    kinds = [{"code": code, "uk": words["uk"]} for code, words in CATEGORIES.items()]
    return conn.execute(sa.text(f"""
        WITH p AS (
            SELECT g.hromada_id, g.geom, g.k,
                   floor(random() * {VENUE_PATTERNS})::int AS pattern, floor(random() * :kinds_n)::int AS kind
            FROM {_points("h.n_venues", _seed(seed, 30))} g),
        kinds AS (SELECT (row_number() OVER () - 1)::int AS n, c.code, c.uk
                  FROM jsonb_to_recordset(CAST(:kinds AS jsonb)) AS c(code text, uk text))
        INSERT INTO venue (hromada_id, name, category, opening_hours, surveyed_on, surveyed_by,
                           {", ".join(columns)}, geom, raw, source, is_demo)
        SELECT p.hromada_id, '{PREFIX_UK}: ' || kinds.uk || ' №' || p.k, kinds.code,
               {_one_of('Mo-Fr 08:00-17:00', 'Mo-Sa 08:00-19:00', 'Mo-Su 07:00-21:00', None)},
               current_date - floor(random() * 900)::int, '{PREFIX_UK} дані (обстеження не було)',
               {facts}, p.geom, {_RAW}, '{SOURCE}', true
        FROM p JOIN kinds ON kinds.n = p.kind JOIN nat_venue_facts vf ON vf.n = p.pattern
        CROSS JOIN LATERAL jsonb_populate_record(NULL::venue, vf.facts) f
        ORDER BY p.hromada_id, p.k"""), {"kinds": json.dumps(kinds, ensure_ascii=False), "kinds_n": len(kinds)}
    ).rowcount


# --- the reports ---------------------------------------------------------------------------------------

def _reports(conn: sa.Connection, seed: int) -> dict[str, int]:
    """The planned reports with their place, unit, times and code; their events, the units' notices, the
    reporters as subscribers and mail addresses, and the counters."""
    kinds = {k: v["uk"].capitalize() for k, v in ASSET_KINDS.items()}
    kinds_en = {k: v["en"].capitalize() for k, v in ASSET_KINDS.items()}
    # Where each report is: at its lamp, on its road segment, else a point of its own in the hromada.
    conn.execute(sa.text("DROP TABLE IF EXISTS nat_rpt"))
    conn.execute(sa.text(f"""
        CREATE TEMP TABLE nat_rpt AS
        WITH spot AS {_points("h.n_reports", _seed(seed, 40))},
        numbered AS (SELECT r.*, row_number() OVER (PARTITION BY r.hromada_id ORDER BY r.created_at) AS k
                     FROM nat_rp r)
        SELECT row_number() OVER () AS rid, r.hromada_id, r.created_at, r.category_id, r.category, r.target_days,
               r.status, r.age_days, r.u_status, r.u_mail, r.u_fix, l.id AS lamp_id, rd.id AS road_id,
               COALESCE(l.geom, ST_LineInterpolatePoint(rd.geom, r.u_asset), s.geom) AS location
        FROM numbered r JOIN spot s ON s.hromada_id = r.hromada_id AND s.k = r.k
        LEFT JOIN nat_lamp l ON l.hromada_id = r.hromada_id AND l.seq = r.lamp_seq
        LEFT JOIN nat_road rd ON rd.hromada_id = r.hromada_id AND rd.seq = r.road_seq"""))
    # The unit by routing's rules, in its order, with the reason in its words (gis.routing.route_report):
    # 1. asset — the lamp's own unit, or the unit asset_owner names for the road's owner class; 2. area —
    # the district whose half holds the point (the halves are cut at split_lat, so the latitude says which,
    # without testing 600,000 points against polygons of thousands of vertices); 3. default — the
    # whole-hromada assignment (the first by id). tests/importers/test_national.py routes a sample again
    # with route_report itself.
    conn.execute(sa.text("DROP TABLE IF EXISTS nat_r"))
    conn.execute(sa.text(f"""
        CREATE TEMP TABLE nat_r AS
        WITH whole AS (
            SELECT DISTINCT ON (u.hromada_id, uc.category_id) u.hromada_id, uc.category_id, u.id, u.name_uk,
                   u.name_en
            FROM unit_category uc JOIN nat_unit u ON u.id = uc.unit_id WHERE uc.scope = 'hromada'
            ORDER BY u.hromada_id, uc.category_id, uc.id),
        area AS (
            SELECT u.hromada_id, uc.category_id, u.code, u.id, u.name_uk, u.name_en
            FROM unit_category uc JOIN nat_unit u ON u.id = uc.unit_id WHERE uc.area IS NOT NULL),
        asset AS (
            SELECT r.rid, lu.id, lu.name_uk, lu.name_en,
                   '{kinds['street_lamp']} №' || sl.ref || ' (за 0 м) обслуговує ' || lu.name_uk AS reason_uk,
                   '{kinds_en['street_lamp']} No. ' || sl.ref || ' (0 m away) is maintained by ' || lu.name_en
                       AS reason_en
            FROM nat_rpt r JOIN street_lamp sl ON sl.id = r.lamp_id JOIN unit lu ON lu.id = sl.operator_unit_id
            UNION ALL
            SELECT r.rid, ru.id, ru.name_uk, ru.name_en,
                   '{kinds['road_segment']} №' || COALESCE(NULLIF(rs.ref, ''), rs.name) || ' (за 0 м) — '
                       || (CAST(:owners AS jsonb) ->> rs.owner) || ', обслуговує ' || ru.name_uk,
                   '{kinds_en['road_segment']} No. ' || COALESCE(NULLIF(rs.ref, ''), rs.name) || ' (0 m away), a '
                       || (CAST(:owners_en AS jsonb) ->> rs.owner) || ', is maintained by ' || ru.name_en
            FROM nat_rpt r JOIN road_segment rs ON rs.id = r.road_id
            JOIN asset_owner ao ON ao.hromada_id = rs.hromada_id AND ao.asset_kind = 'road_segment'
                 AND ao.owner_class = rs.owner
            JOIN unit ru ON ru.id = ao.unit_id)
        SELECT r.hromada_id, r.created_at, r.category_id, r.target_days, r.status, r.u_mail, r.u_fix, r.location,
               COALESCE(r.lamp_id, r.road_id) AS asset_id,
               COALESCE(s.id, a.id, w.id) AS unit_id,
               CASE WHEN s.id IS NOT NULL THEN 'asset' WHEN a.id IS NOT NULL THEN 'area' ELSE 'default' END AS rule,
               COALESCE(s.reason_uk,
                        'Місце в зоні обслуговування: ' || a.name_uk || ' (категорія «' || c.name_uk || '»)',
                        w.name_uk || ' відповідає за категорію «' || c.name_uk || '» у громаді «' || h.name_uk || '»')
                   AS reason_uk,
               COALESCE(s.reason_en,
                        'The place is in the service area of ' || a.name_en || ' (category “' || c.name_en || '”)',
                        w.name_en || ' handles “' || c.name_en || '” in ' || COALESCE(h.name_en, h.name_uk))
                   AS reason_en
        FROM nat_rpt r JOIN nat_h h ON h.id = r.hromada_id JOIN category c ON c.id = r.category_id
        LEFT JOIN asset s ON s.rid = r.rid
        LEFT JOIN area a ON a.hromada_id = r.hromada_id AND a.category_id = r.category_id
             AND a.code = CASE WHEN ST_Y(r.location) >= h.split_lat THEN 'sd_north' ELSE 'sd_south' END
        LEFT JOIN whole w ON w.hromada_id = r.hromada_id AND w.category_id = r.category_id"""),
        {"owners": json.dumps({k: v["uk"] for k, v in OWNER_CLASSES.items()}, ensure_ascii=False),
         "owners_en": json.dumps({k: v["en"] for k, v in OWNER_CLASSES.items()})})
    conn.execute(sa.text("DROP TABLE nat_rpt"))
    # Times along the report's path, each step after the one before and all before now (a path longer
    # than the report's age is squeezed into it); ids in time order, as a live system gives them; the code
    # counted per hromada and year.
    conn.execute(sa.text("DROP TABLE IF EXISTS nat_report"))
    conn.execute(sa.text(f"""
        CREATE TEMP TABLE nat_report AS
        SELECT nextval('report_id_seq')::int AS id, t.* FROM (
            WITH d AS (
                SELECT r.*,
                       3600 * (0.5 + 20 * power(random(), 2)) AS to_ack,
                       3600 * (2 + 60 * power(random(), 2)) AS to_progress,
                       86400 * r.target_days * (0.2 + 1.3 * random()) AS to_close,
                       extract(epoch FROM now() - r.created_at)::float8 AS age
                FROM nat_r r),
            scaled AS (
                SELECT d.*, LEAST(1.0, 0.95 * d.age / (d.to_ack + d.to_progress + d.to_close
                                  + CASE WHEN d.status = 'reopened' THEN 29 * 86400 ELSE 0 END)) AS f
                FROM d)
            SELECT s.hromada_id, s.created_at, s.category_id, s.target_days, s.status, s.u_fix, s.location,
                   s.asset_id, s.unit_id, s.rule, s.reason_uk, s.reason_en,
                   s.created_at + make_interval(secs => s.to_ack * s.f) AS at_ack,
                   s.created_at + make_interval(secs => (s.to_ack + s.to_progress) * s.f) AS at_progress,
                   s.created_at + make_interval(secs => (s.to_ack + s.to_progress + s.to_close) * s.f) AS at_close,
                   CASE WHEN s.u_mail < {WITH_EMAIL}
                        THEN 'resident' || floor(s.u_mail / {WITH_EMAIL}
                                                 * GREATEST(1, h.n_reports / {REPORTS_PER_RESIDENT}))
                             || '.' || lower(h.katottg) || '@{MAIL_DOMAIN}' END AS email,
                   extract(year FROM s.created_at)::int AS year,
                   row_number() OVER (PARTITION BY s.hromada_id, extract(year FROM s.created_at)
                                      ORDER BY s.created_at) AS number,
                   hh.report_prefix
            FROM scaled s JOIN nat_h h ON h.id = s.hromada_id JOIN hromada hh ON hh.id = s.hromada_id
            ORDER BY s.created_at) t"""))
    conn.execute(sa.text("DROP TABLE nat_r"))
    conn.execute(sa.text("CREATE UNIQUE INDEX ON nat_report (id)"))
    # A duplicate names an earlier report of its hromada that is none itself; without one: rejected.
    conn.execute(sa.text("ALTER TABLE nat_report ADD COLUMN duplicate_of_id int"))
    conn.execute(sa.text("""
        UPDATE nat_report r SET duplicate_of_id = o.original
        FROM (SELECT id, max(id) FILTER (WHERE status <> 'duplicate') OVER (
                  PARTITION BY hromada_id ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS original
              FROM nat_report) o
        WHERE o.id = r.id AND r.status = 'duplicate'"""))
    conn.execute(sa.text(
        "UPDATE nat_report SET status = 'rejected' WHERE status = 'duplicate' AND duplicate_of_id IS NULL"))
    # "Is it fixed?" (layers.fixed_check): asked 28 days after a resolution of reporters with an address;
    # a reopened report is one answered "no" — one that cannot have been (no address, too recent) is in progress.
    conn.execute(sa.text("ALTER TABLE nat_report ADD COLUMN asked_at timestamptz, ADD COLUMN answered_at timestamptz"))
    conn.execute(sa.text("""
        UPDATE nat_report SET asked_at = at_close + interval '28 days'
        WHERE email IS NOT NULL AND status IN ('resolved', 'reopened') AND at_close + interval '28 days' < now()"""))
    conn.execute(sa.text("""
        UPDATE nat_report SET answered_at = LEAST(now(), asked_at + make_interval(secs => 86400 * random()))
        WHERE asked_at IS NOT NULL AND (status = 'reopened' OR u_fix < 0.35)"""))
    conn.execute(sa.text(
        "UPDATE nat_report SET status = 'in_progress' WHERE status = 'reopened' AND answered_at IS NULL"))
    conn.execute(sa.text("ANALYZE nat_report"))
    counts: dict[str, int] = {}
    counts["reports"] = conn.execute(sa.text(f"""
        INSERT INTO report (id, code, hromada_id, category_id, unit_id, asset_id, status, location, description,
                            reporter_email, private_token_hash, routing_rule, routing_reason_uk, routing_reason_en,
                            duplicate_of_id, created_at, updated_at, due_at, closed_at, fixed_asked_at,
                            fixed_answered_at)
        SELECT r.id, r.report_prefix || '-' || r.year || '-' || lpad(r.number::text, 6, '0'), r.hromada_id,
               r.category_id, r.unit_id, r.asset_id, r.status, r.location,
               '{PREFIX_UK}: ' || c.name_uk || ' — згенероване звернення для перевірки навантаження',
               r.email,
               -- nobody holds the private link of a generated report
               encode(sha256(convert_to(random()::text || r.id, 'UTF8')), 'hex'),
               r.rule, r.reason_uk, r.reason_en, r.duplicate_of_id, r.created_at,
               CASE r.status WHEN 'new' THEN r.created_at WHEN 'acknowledged' THEN r.at_ack
                             WHEN 'in_progress' THEN r.at_progress
                             WHEN 'reopened' THEN r.answered_at ELSE r.at_close END,
               -- the target in working days: two days off a week (gis.working_days; no holidays here)
               r.created_at + make_interval(days => r.target_days + 2 * ((r.target_days
                                            + extract(isodow FROM r.created_at)::int - 1) / 5)),
               CASE WHEN r.status IN ('resolved', 'rejected', 'duplicate') THEN r.at_close END,
               CASE WHEN r.status IN ('resolved', 'reopened') THEN r.asked_at END,
               CASE WHEN r.status IN ('resolved', 'reopened') THEN r.answered_at END
        FROM nat_report r JOIN category c ON c.id = r.category_id
        ORDER BY r.id""")).rowcount
    counts["report_events"] = conn.execute(sa.text("""
        INSERT INTO report_event (report_id, created_at, kind, from_status, to_status, to_unit_id, public_note)
        SELECT r.id, e.at, e.kind, e.from_status, e.to_status, e.to_unit, e.note
        FROM nat_report r CROSS JOIN LATERAL (VALUES
            (1, r.created_at, 'created', NULL, 'new', r.unit_id, NULL, true),
            (2, r.at_ack, 'status', 'new', 'acknowledged', NULL, NULL,
             r.status IN ('acknowledged', 'in_progress', 'resolved', 'rejected', 'reopened')),
            (3, r.at_progress, 'status', 'acknowledged', 'in_progress', NULL, NULL,
             r.status IN ('in_progress', 'resolved', 'reopened')),
            (4, r.at_close, 'status', CASE r.status WHEN 'rejected' THEN 'acknowledged' WHEN 'duplicate' THEN 'new'
                                                    ELSE 'in_progress' END,
             CASE WHEN r.status = 'reopened' THEN 'resolved' ELSE r.status END, NULL,
             CASE WHEN r.status = 'rejected' THEN 'Це не належить до повноважень громади.' END,
             r.status IN ('resolved', 'rejected', 'duplicate', 'reopened')),
            (5, r.answered_at, CASE WHEN r.status = 'reopened' THEN 'fixed_no' ELSE 'fixed_yes' END, NULL, NULL,
             NULL, NULL, r.answered_at IS NOT NULL),
            (6, r.answered_at, 'status', 'resolved', 'reopened', NULL, 'Мешканець: досі не виправлено.',
             r.status = 'reopened')
        ) AS e(n, at, kind, from_status, to_status, to_unit, note, happened)
        WHERE e.happened
        ORDER BY r.id, e.n""")).rowcount
    # Every report was told to its unit: at once ('each'), or in the next morning's digest.
    counts["unit_notices"] = conn.execute(sa.text("""
        INSERT INTO unit_notice (unit_id, report_id, event_id, created_at, digested_at)
        SELECT e.to_unit_id, e.report_id, e.id, e.created_at,
               CASE WHEN u.notify_mode = 'each' THEN e.created_at
                    WHEN date_trunc('day', e.created_at) + interval '1 day 6 hours' < now()
                    THEN date_trunc('day', e.created_at) + interval '1 day 6 hours' END
        FROM nat_report r JOIN report_event e ON e.report_id = r.id AND e.kind = 'created'
        JOIN unit u ON u.id = e.to_unit_id
        ORDER BY e.id""")).rowcount
    counts["report_subscribers"] = conn.execute(sa.text("""
        INSERT INTO report_subscriber (report_id, email, is_reporter, created_at)
        SELECT id, email, true, created_at FROM nat_report WHERE email IS NOT NULL ORDER BY id""")).rowcount
    counts["mail_addresses"] = conn.execute(sa.text("""
        INSERT INTO mail_address (email, confirmed_at, created_at)
        SELECT email, CASE WHEN abs(hashtext(email) % 10) < 7 THEN min(created_at) + interval '10 minutes' END,
               min(created_at)
        FROM nat_report WHERE email IS NOT NULL GROUP BY email
        ON CONFLICT (email) DO NOTHING""")).rowcount
    conn.execute(sa.text("""
        INSERT INTO report_counter (hromada_id, year, last)
        SELECT hromada_id, year, max(number) FROM nat_report GROUP BY 1, 2
        ON CONFLICT (hromada_id, year) DO UPDATE SET last = GREATEST(report_counter.last, EXCLUDED.last)"""))
    return counts


GENERATED_TABLES = ("hromada", "hromada_part", "hromada_setup", "unit", "unit_category", "asset_owner",
                    "street_lamp", "road_segment", "road_inspection", "parcel", "venue", "asset", "report",
                    "report_event", "unit_notice", "report_subscriber", "mail_address", "report_counter", "audit_log",
                    "tile_cell")


def _vacuum_analyze(engine: sa.Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in GENERATED_TABLES:
            conn.execute(sa.text(f'VACUUM (ANALYZE) "{table}"'))


# --- a region of the data set, copied ------------------------------------------------------------------------

# The data set's rows of a set of hromadas (``{ids}``, an SQL int[]), table by table, parents first. What the
# database derives on insert is left to its triggers: ``asset`` (the lamps' and roads' asset_sync),
# ``road_inspection`` (road_segment's) and ``tile_cell`` (layers.tile_cells).
_OF_THEIR_REPORTS = "report_id IN (SELECT id FROM report WHERE hromada_id = ANY({ids}))"
ROWS_OF_HROMADAS = (
    ("hromada", "id = ANY({ids})"),
    ("hromada_part", "hromada_id = ANY({ids})"),
    ("unit", "hromada_id = ANY({ids})"),
    ("unit_category", "unit_id IN (SELECT id FROM unit WHERE hromada_id = ANY({ids}))"),
    ("asset_owner", "hromada_id = ANY({ids})"),
    ("hromada_setup", "hromada_id = ANY({ids})"),
    ("audit_log", "hromada_id = ANY({ids})"),
    ("street_lamp", "hromada_id = ANY({ids})"),
    ("road_segment", "hromada_id = ANY({ids})"),
    ("parcel", "hromada_id = ANY({ids})"),
    ("venue", "hromada_id = ANY({ids})"),
    ("report", "hromada_id = ANY({ids})"),
    ("report_counter", "hromada_id = ANY({ids})"),
    ("report_event", _OF_THEIR_REPORTS),
    ("unit_notice", _OF_THEIR_REPORTS),
    ("report_subscriber", _OF_THEIR_REPORTS),
    ("mail_address", "email IN (SELECT email FROM report_subscriber WHERE " + _OF_THEIR_REPORTS + ")"),
)
FEATURE_TABLES = ("street_lamp", "road_segment", "parcel", "venue")


def copy_hromadas(source: sa.Engine, target: sa.Engine, katottgs: list[str]) -> dict[str, int]:
    """The generated rows of these hromadas, copied from ``source`` (a database holding the national data
    set) into ``target`` (the same schema, without them): the same ids and values, so both answer a
    question about these hromadas alike — bench/bench_national.py's region of the demo's neighbours.
    The target's sequences are moved past the source's. Rows copied per table."""
    copied = {}
    with source.connect() as src, target.connect() as dst, dst.begin():
        ids = src.execute(sa.text("SELECT array_agg(id) FROM hromada WHERE katottg = ANY(:k)"),
                          {"k": katottgs}).scalar() or []
        array = "'{" + ",".join(str(int(i)) for i in ids) + "}'::int[]"
        reader, writer = src.connection.driver_connection, dst.connection.driver_connection
        with _history_off(dst, FEATURE_TABLES, keep=False):
            for table, where in ROWS_OF_HROMADAS:
                columns = ", ".join(f'"{c}"' for c in src.execute(sa.text("""
                    SELECT column_name FROM information_schema.columns
                    WHERE table_schema = 'public' AND table_name = :t AND is_generated = 'NEVER'
                    ORDER BY ordinal_position"""), {"t": table}).scalars())
                written = writer.cursor()
                with reader.cursor().copy(f'COPY (SELECT {columns} FROM "{table}" WHERE {where.format(ids=array)}) '
                                          "TO STDOUT (FORMAT BINARY)") as out, \
                        written.copy(f'COPY "{table}" ({columns}) FROM STDIN (FORMAT BINARY)') as into:
                    for block in out:
                        into.write(block)
                copied[table] = written.rowcount
        for name, last in src.execute(sa.text(
                "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public' "
                "AND last_value IS NOT NULL")).all():
            dst.execute(sa.text("SELECT setval(:s, greatest(:v, (SELECT last_value FROM pg_sequences "
                                "WHERE schemaname = 'public' AND sequencename = :n)))"),
                        {"s": f'public."{name}"', "v": last, "n": name})
    _vacuum_analyze(target)  # as the generator leaves its tables
    return copied
