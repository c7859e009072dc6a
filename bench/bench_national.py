"""The cost of growth (issue #20): the same requests about the demo hromada, asked at demo size and at
national size in the same run. Goal: p50 at national size ≤ 1.5 × p50 at demo size, for each.

B = the demo plus the national synthetic data set (importers.national: all 1,466 hromadas set up, 2 M
reports over three years, 1 M lamps, 0.5 M road segments, 1 M parcels, 0.1 M venues). Two smaller sides:
R = the demo and its surroundings — B's rows of every hromada whose features can be in an answer below
(those whose boundary's box meets the tiles asked or the demo's box), copied with
importers.national.copy_hromadas: some 300 hromadas, most for the z8 tiles (3 × 3 tiles of some 150 km
a side), about a fifth of B; A = the demo only. All three are
embedded clusters made the same way, each served by granian in a process of its own (as `hromada serve`
runs it; the clients here are Python threads), tiles computed afresh (TILE_CACHE_SECONDS=0).

The goal is judged on B/R: R and B give the same answers (the same rows in view, the same bytes but
for the reports filed during the run; the table prints each side's answer size), so the ratio is what
the rest of the country costs a hromada's own requests. B/A is printed beside it: there the demo's
neighbours are missing from A's answers (a z12 tile round the village holds 45 × the reports on B), so
it measures the size of the answer as much as the size of the database.

Operations: report intake (POST /api/reports, as a resident's browser sends it); routing alone
(gis.routing.route_report, in this process); a vector tile at z8, z12 and z15 of the lamps, roads,
parcels and reports (/tiles/<layer>/<z>/<x>/<y>.mvt, 3 × 3 tiles round a demo village); the layer API
by the demo's bounding box (/api/layers/<layer>/items?bbox=…&limit=100); the staff queue (/staff/ as
the demo's housing staff, importers.demo_accounts); the dashboard (/api/hromadas/<KATOTTG>/dashboard as
that staff member: every figure and the overdue list); the venue search (/api/venues/search, wheelchair).
The intake runs first, so the queue and the dashboard of both sides hold the same reports.

In turns: for each operation, ROUNDS rounds of REQUESTS requests on A, then R, then B (A R B A R B …),
after a warm-up on each; per side the p50 of all its requests, and the median of the rounds' B/R and
B/A ratios of p50s — the machine's drift falls on every side of each ratio.

Environment:
  BENCH_NATIONAL_SCALE     share of the national data set (default 1.0; 0.05 for a quick run)
  BENCH_NATIONAL_DIR       keep B's cluster in this folder: a later run at the same scale and seed
                           reuses it and skips the generation (its time is kept in generated.json)
  BENCH_NATIONAL_ROUNDS    rounds per operation (default 5)
  BENCH_NATIONAL_REQUESTS  requests per side and round (default 10)
  BENCH_NATIONAL_PG        PostgreSQL settings for the three clusters ("shared_buffers=2GB,…"); by default
                           none: the embedded cluster as `make run` makes it
"""
import http.client
import json
import math
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
from http.cookies import SimpleCookie
from pathlib import Path

import shapely
import sqlalchemy as sa

from _common import SHARED_DATA, in_turns, points_inside, served_app
from gis import db
from gis.embedded import EmbeddedPostgres, free_port
from gis.routing import route_report
from importers.demo import load_demo
from importers.demo_accounts import ensure_demo_accounts
from importers.national import copy_hromadas

DEMO = "UA05020310000080026"
STAFF = "housing-staff@yakushynetska-demo.example.org"
SCALE = float(os.environ.get("BENCH_NATIONAL_SCALE", "1.0"))
SEED = 20
ROUNDS = int(os.environ.get("BENCH_NATIONAL_ROUNDS", "5"))
REQUESTS = int(os.environ.get("BENCH_NATIONAL_REQUESTS", "10"))
GOAL = 1.5
TILE_LAYERS = ("street_lamps", "road_segments", "parcels", "reports")
ITEM_LAYERS = ("street_lamps", "parcels")
CATEGORIES = ("street_light_out", "pothole", "overflowing_bin", "water_leak")
MARKER = "generated.json"
SIZE = "SELECT pg_size_pretty(pg_database_size(current_database()))"


# --- the two databases ---------------------------------------------------------------------------------

def prepare(engine: sa.Engine, accounts: Path) -> dict:
    """The demo with its accounts; the staff member's password."""
    load_demo(engine, SHARED_DATA)
    return dict((a.email, p) for a, p in ensure_demo_accounts(engine, accounts))


def settings() -> dict[str, str]:
    """BENCH_NATIONAL_PG ("shared_buffers=2GB,work_mem=16MB"): PostgreSQL settings for every cluster; by
    default none — the embedded cluster as `make run` makes it."""
    pairs = [p.split("=", 1) for p in os.environ.get("BENCH_NATIONAL_PG", "").split(",") if "=" in p]
    return {k.strip(): v.strip() for k, v in pairs}


def start_cluster(data: Path, dbname: str) -> EmbeddedPostgres:
    """An embedded cluster in ``data`` with settings() in its postgresql.auto.conf (rewritten at each start,
    so a kept cluster runs with this run's settings)."""
    cluster = EmbeddedPostgres(data, free_port(), dbname=dbname)  # the port is written at each start
    cluster.init()
    auto = data / "postgresql.auto.conf"
    wanted = settings()
    lines = [line for line in (auto.read_text().splitlines() if auto.exists() else [])
             if line.split("=", 1)[0].strip() not in wanted and not line.startswith("# bench_national")]
    lines += ["# bench_national"] + [f"{k} = '{v}'" for k, v in wanted.items()]
    auto.write_text("\n".join(lines) + "\n")
    cluster.start()
    return cluster


def national_cluster(folder: Path) -> tuple[EmbeddedPostgres, dict]:
    """B's cluster in ``folder``, generated unless the folder holds one of this scale and seed."""
    marker = folder / MARKER
    known = json.loads(marker.read_text()) if marker.is_file() else None
    data = folder / "data"
    if known is not None and (known.get("scale"), known.get("seed")) != (SCALE, SEED):
        print(f"B: {folder} holds scale {known.get('scale')}, seed {known.get('seed')}: made again")
        shutil.rmtree(data, ignore_errors=True)
        marker.unlink()
        known = None
    elif known is None and data.exists():
        raise SystemExit(f"{data} exists but is no bench_national cluster ({MARKER} missing): empty the folder")
    cluster = start_cluster(data, "hromada_national")
    if known is not None:
        print(f"B: reusing {folder} (generated in {known['seconds']:.0f} s on {known['when']})")
        forget_demo_reports(cluster.url())
        return cluster, known
    from importers.national import generate_national

    engine = db.make_engine(cluster.url())
    db.upgrade(engine)
    load_demo(engine, SHARED_DATA)
    start = time.perf_counter()
    report = generate_national(engine, scale=SCALE, seed=SEED, progress=lambda line: print(f"  B: {line}"))
    seconds = time.perf_counter() - start
    engine.dispose()
    known = {"scale": SCALE, "seed": SEED, "seconds": seconds, "steps": report.seconds, "counts": report.counts,
             "when": time.strftime("%Y-%m-%d %H:%M")}
    marker.write_text(json.dumps(known, indent=1))
    return cluster, known


# Foreign keys to a report or its events whose column no index leads: deleting a report makes PostgreSQL
# look through the whole referencing table once per deleted row (minutes at 2 M reports). The service
# never deletes reports; the bench's clean-up builds these for its own transaction and drops them.
CLEAN_UP_INDEXES = (("report", "duplicate_of_id"), ("unit_notice", "report_id"), ("unit_notice", "event_id"),
                    ("road_inspection", "report_id"), ("outbox", "report_id"), ("area_alert", "report_id"))


def forget_demo_reports(url: str) -> None:
    """The reports an earlier run filed in the demo on B, gone — with its tracking-code prefix and counter,
    so that B's demo starts as A's does (the generator never writes there)."""
    engine = db.make_engine(url)
    with engine.begin() as conn:
        demo = conn.execute(sa.text("SELECT id FROM hromada WHERE katottg = :k"), {"k": DEMO}).scalar_one()
        if conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM report WHERE hromada_id = :h)"), {"h": demo}).scalar():
            for table, column in CLEAN_UP_INDEXES:
                conn.execute(sa.text(f"CREATE INDEX bench_clean_up_{table}_{column} ON {table} ({column})"))
            conn.execute(sa.text("DELETE FROM outbox WHERE report_id IN (SELECT id FROM report WHERE hromada_id = :h)"),
                         {"h": demo})
            gone = conn.execute(sa.text("DELETE FROM report WHERE hromada_id = :h"), {"h": demo}).rowcount
            for table, column in CLEAN_UP_INDEXES:
                conn.execute(sa.text(f"DROP INDEX bench_clean_up_{table}_{column}"))
            print(f"B: {gone} reports of an earlier run taken out of the demo")
        conn.execute(sa.text("DELETE FROM report_counter WHERE hromada_id = :h"), {"h": demo})
        conn.execute(sa.text("UPDATE hromada SET report_prefix = NULL WHERE id = :h"), {"h": demo})
    engine.dispose()


# --- serving and asking ----------------------------------------------------------------------------------

# Every tile computed afresh; no rate limit in the way of the measured requests.
APP_CONFIG = {"TILE_CACHE_SECONDS": 0, "REPORT_RATE_LIMIT": "1000000 per minute"}


class Client:
    """One kept-alive HTTP connection with its cookies."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.conn.request(method, path, body=body, headers=headers)
            answer = self.conn.getresponse()
        except (http.client.HTTPException, ConnectionError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            self.conn.request(method, path, body=body, headers=headers)
            answer = self.conn.getresponse()
        data = answer.read()
        for header in answer.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return answer.status, data, answer


def form_token(html: str) -> str:
    tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', html).group(0)
    return re.search(r'value="([^"]+)"', tag).group(1)


class Side:
    """One database, its app and the clients that ask it."""

    def __init__(self, name: str, url: str, port: int, password: str):
        self.name, self.url, self.port = name, url, port
        self.engine = db.make_engine(url)
        self.size = 0  # the last answer's bytes: how much the request had to say on this side
        self.public = Client(self.port)
        self.resident = Client(self.port)
        status, body, _ = self.resident.request("GET", "/api/csrf-token")
        self.csrf = json.loads(body)["csrf_token"]
        self.staff = Client(self.port)
        _, page, _ = self.staff.request("GET", "/staff/login")
        form = urllib.parse.urlencode({"email": STAFF, "password": password,
                                       "csrf_token": form_token(page.decode())}).encode()
        status, _, _ = self.staff.request("POST", "/staff/login", form,
                                          {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 302:
            raise SystemExit(f"{name}: staff log-in failed ({status})")
        self.db = self.engine.connect()

    def close(self) -> None:
        self.db.close()
        self.engine.dispose()


# --- the operations ----------------------------------------------------------------------------------------

def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def tile_block(facts: dict, z: int, around: int = 1) -> list[tuple[int, int]]:
    """The tiles at zoom ``z`` within ``around`` tiles of the demo village's: 3 × 3 by default."""
    x, y = tile_of(*facts["village"], z)
    return [(x + dx, y + dy) for dx in range(-around, around + 1) for dy in range(-around, around + 1)]


def lonlat_box(z: int, tiles: list[tuple[int, int]], margin: float = 0) -> tuple[float, float, float, float]:
    """West, south, east, north of the tiles at zoom ``z``, widened by ``margin`` tiles, in degrees."""
    n = 2 ** z
    xs, ys = [x for x, _ in tiles], [y for _, y in tiles]

    def lat(y: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))
    return ((min(xs) - margin) / n * 360 - 180, lat(max(ys) + 1 + margin),
            (max(xs) + 1 + margin) / n * 360 - 180, lat(min(ys) - margin))


TILE_ZOOMS = (8, 12, 15)
# How far beyond its tiles an answer reaches, in tiles: a cluster cell centred on a tile's edge holds
# features up to half a cell (1/16 tile) outside, a feature tile keeps its 64-pixel buffer (1/64).
REGION_MARGIN = 1 / 8


def region_codes(engine: sa.Engine, facts: dict) -> list[str]:
    """The hromadas besides the demo whose features can be in an answer R and B must share: those whose
    boundary's box meets the tiles asked (with REGION_MARGIN) or the demo's box (the layer API). Every
    generated feature lies inside its own hromada. The z8 tiles make most of them: 3 × 3 tiles of
    some 150 km a side."""
    boxes = [lonlat_box(z, tile_block(facts, z), REGION_MARGIN) for z in TILE_ZOOMS] + [facts["bbox"]]
    meets = " OR ".join(f"boundary && ST_MakeEnvelope({w!r}, {s!r}, {e!r}, {n!r}, 4326)" for w, s, e, n in boxes)
    with engine.connect() as conn:
        return list(conn.execute(sa.text(f"SELECT katottg FROM hromada WHERE katottg <> :demo AND ({meets}) "
                                          "ORDER BY katottg"), {"demo": DEMO}).scalars())


def demo_facts(engine: sa.Engine) -> dict:
    """The demo's boundary, bounding box and a village centre with lamps (the tiles' middle)."""
    with engine.connect() as conn:
        wkb, minx, miny, maxx, maxy = conn.execute(sa.text("""
            SELECT ST_AsBinary(boundary), ST_XMin(boundary), ST_YMin(boundary), ST_XMax(boundary), ST_YMax(boundary)
            FROM hromada WHERE katottg = :k"""), {"k": DEMO}).one()
        lon, lat = conn.execute(sa.text("""
            SELECT ST_X(geom), ST_Y(geom) FROM street_lamp WHERE is_demo ORDER BY id LIMIT 1""")).one()
    return {"boundary": shapely.from_wkb(bytes(wkb)), "bbox": (minx, miny, maxx, maxy), "village": (lon, lat)}


def operations(facts: dict) -> list[tuple[str, object]]:
    """(name, ask) pairs: ask(side, i) makes the i-th request of the operation on the side and checks it."""
    total = (ROUNDS + 1) * REQUESTS
    spots = points_inside(facts["boundary"], total, random.Random(11))

    def intake(side: Side, i: int) -> None:
        lon, lat = spots[i % total]
        body = json.dumps({"lat": lat, "lon": lon, "category": CATEGORIES[i % len(CATEGORIES)],
                           "description": f"Замір національного масштабу №{i}"}).encode()
        status, data, _ = side.resident.request("POST", "/api/reports", body, {
            "Content-Type": "application/json", "X-CSRFToken": side.csrf})
        assert status in (200, 201), (side.name, status, data[:300])
        side.size = len(data)

    def routing(side: Side, i: int) -> None:
        lon, lat = spots[i % total]
        route_report(side.db, lon, lat, CATEGORIES[i % len(CATEGORIES)])
        # Committed (it wrote nothing), as a report's intake commits it: a ROLLBACK makes psycopg drop
        # the connection's prepared statements, and every routing would be planned afresh (≈ 2 ms).
        side.db.commit()
        side.size = 0

    def get(path_of, client: str = "public"):
        def ask(side: Side, i: int) -> None:
            status, data, _ = getattr(side, client).request("GET", path_of(i))
            assert status in (200, 204), (side.name, path_of(i), status, data[:300])
            side.size = len(data)
        return ask

    out = [("report intake (POST /api/reports)", intake), ("routing (route_report)", routing)]
    for z in TILE_ZOOMS:
        block = tile_block(facts, z)
        for layer in TILE_LAYERS:
            out.append((f"tile z{z} {layer}", get(
                lambda i, z=z, block=block, layer=layer: f"/tiles/{layer}/{z}/{block[i % 9][0]}/{block[i % 9][1]}.mvt"
            )))
    box = ",".join(f"{v:.5f}" for v in facts["bbox"])
    for layer in ITEM_LAYERS:
        out.append((f"items?bbox {layer}", get(
            lambda i, layer=layer: f"/api/layers/{layer}/items?bbox={box}&limit=100")))
    out.append(("staff queue (/staff/)", get(lambda i: f"/staff/?hromada={DEMO}", "staff")))
    out.append(("dashboard (JSON, staff)", get(lambda i: f"/api/hromadas/{DEMO}/dashboard", "staff")))
    out.append(("venue search (wheelchair)", get(
        lambda i: f"/api/venues/search?lat={spots[i % total][1]}&lon={spots[i % total][0]}"
                  "&profile=wheelchair&limit=10")))
    return out


def measure(name: str, ask, sides: list[Side]) -> dict:
    """The operation's requests in batches, in turns A R B A R B …: per side the p50 of every request, and
    the median of the rounds' B/R and B/A ratios of their batches' p50s."""
    samples = {side.name: [] for side in sides}
    sizes = {side.name: [] for side in sides}
    turn = {side.name: 0 for side in sides}

    def batch(side: Side):
        def run() -> float:
            times = []
            for i in range(turn[side.name], turn[side.name] + REQUESTS):
                start = time.perf_counter()
                ask(side, i)
                times.append(time.perf_counter() - start)
                sizes[side.name].append(side.size)
            turn[side.name] += REQUESTS
            samples[side.name].extend(times)
            return statistics.median(times)
        return run

    for side in sides:  # warm-up: connections, prepared statements, caches
        batch(side)()
    for side in sides:
        samples[side.name].clear()
        sizes[side.name].clear()
    rounds = dict(zip((side.name for side in sides), in_turns(*map(batch, sides), rounds=ROUNDS), strict=True))

    def ratio(over: str) -> tuple[float, list[float]]:
        each = [b / other for b, other in zip(rounds["B"], rounds[over], strict=True)]
        return statistics.median(each), each

    out = {"name": name}
    for side in sides:
        out[side.name] = statistics.median(samples[side.name]) * 1000
        out[side.name + "_kb"] = statistics.mean(sizes[side.name]) / 1024
    (out["ratio"], out["ratios"]), (out["ratio_a"], _) = ratio("R"), ratio("A")
    return out


def first_report(side: Side, boundary) -> float:
    """The demo's first report on the side: it is also when the hromada is given its tracking-code prefix
    (layers.reports.tracking_prefix), which looks through the codes of every other hromada's reports."""
    lon, lat = points_inside(boundary, 1, random.Random(99))[0]
    body = json.dumps({"lat": lat, "lon": lon, "category": "water_leak", "description": "Перше звернення"}).encode()
    start = time.perf_counter()
    status, data, _ = side.resident.request("POST", "/api/reports", body, {
        "Content-Type": "application/json", "X-CSRFToken": side.csrf})
    assert status == 201, (side.name, status, data[:300])
    return (time.perf_counter() - start) * 1000


def main() -> None:
    if os.environ.get("DATABASE_URL"):
        raise SystemExit("bench_national runs both sides on embedded clusters made alike: unset DATABASE_URL")
    keep = os.environ.get("BENCH_NATIONAL_DIR")
    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="hromada-bench-national-"))
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o711)
    scratch = Path(tempfile.mkdtemp(prefix="hromada-bench-national-demo-"))
    scratch.chmod(0o711)
    print(f"national data set at scale {SCALE:g} (seed {SEED}); {ROUNDS} rounds × {REQUESTS} requests a side; "
          f"PostgreSQL settings: {settings() or 'as make run'}")
    cluster, known = national_cluster(folder)
    demo_only = start_cluster(scratch / "data", "hromada_demo")  # A: the demo only, made afresh each run
    region = start_cluster(scratch / "region", "hromada_region")  # R: the demo's surroundings, likewise
    try:
        report(run(demo_only.url(), region.url(), cluster.url(), known, scratch))
    finally:
        demo_only.stop()
        region.stop()
        cluster.stop()
        shutil.rmtree(scratch, ignore_errors=True)
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def run(url_a: str, url_r: str, url_b: str, known: dict, scratch: Path) -> list[dict]:
    urls = {"A": url_a, "R": url_r, "B": url_b}
    engines = {name: db.make_engine(url) for name, url in urls.items()}
    for engine in engines.values():
        db.upgrade(engine)
    passwords = {"A": prepare(engines["A"], scratch / "a.txt"), "R": prepare(engines["R"], scratch / "r.txt"),
                 "B": dict((a.email, p) for a, p in ensure_demo_accounts(engines["B"], scratch / "b.txt"))}
    facts = demo_facts(engines["A"])
    codes = region_codes(engines["B"], facts)
    start = time.perf_counter()
    copied = copy_hromadas(engines["B"], engines["R"], codes)
    print(f"R: the demo and {len(codes)} hromadas round it copied from B in {time.perf_counter() - start:.0f} s "
          f"({copied['report']:,} reports, {copied['street_lamp']:,} lamps, {copied['parcel']:,} parcels)")
    sizes = {}
    for name, engine in engines.items():
        with engine.connect() as conn:
            sizes[name] = conn.execute(sa.text(SIZE)).scalar(), conn.execute(sa.text("SELECT count(*) FROM report")
                                                                            ).scalar()
        engine.dispose()
    counts = ", ".join(f"{k} {v:,}" for k, v in known["counts"].items())
    steps = ", ".join(f"{k} {v:.0f} s" for k, v in known["steps"].items())
    print(f"B generated in {known['seconds']:.0f} s ({steps})")
    print(f"B: {counts}; database " + ", ".join(f"{name} {size} ({reports:,} reports)"
                                                 for name, (size, reports) in sizes.items()))
    with served_app(url_a, APP_CONFIG) as port_a, served_app(url_r, APP_CONFIG) as port_r, \
            served_app(url_b, APP_CONFIG) as port_b:
        sides = [Side(name, urls[name], port, passwords[name][STAFF])
                 for name, port in (("A", port_a), ("R", port_r), ("B", port_b))]
        try:
            return measure_all(sides, facts)
        finally:
            for side in sides:
                side.close()


def measure_all(sides: list[Side], facts: dict) -> list[dict]:
    print("the demo's first report (its tracking-code prefix given): " + ", ".join(
        f"{side.name} {first_report(side, facts['boundary']):.1f} ms" for side in sides))
    results = []
    for name, ask in operations(facts):
        r = measure(name, ask, sides)
        results.append(r)
        print(f"  {name}: A {r['A']:.2f} ms, R {r['R']:.2f} ms, B {r['B']:.2f} ms, B/R {r['ratio']:.2f} "
              f"(rounds {' '.join(f'{x:.2f}' for x in r['ratios'])}), B/A {r['ratio_a']:.2f}; answers "
              f"A {r['A_kb']:.1f} KB, R {r['R_kb']:.1f} KB, B {r['B_kb']:.1f} KB", flush=True)
    return results


def report(results: list[dict]) -> None:
    width = max(len(r["name"]) for r in results)
    # The answers' sizes say whether two sides answered alike: R's and B's are the same rows;
    # A's lack the demo's neighbours (B/A: data in view as much as the size of the database).
    print(f"\n{'operation':<{width}}  {'A p50 ms':>9}  {'R p50 ms':>9}  {'B p50 ms':>9}  {'B/R':>5}  {'B/A':>5}  "
          f"{'A KB':>6}  {'R KB':>6}  {'B KB':>6}  goal B/R ≤ {GOAL}")
    for r in results:
        print(f"{r['name']:<{width}}  {r['A']:>9.2f}  {r['R']:>9.2f}  {r['B']:>9.2f}  {r['ratio']:>5.2f}  "
              f"{r['ratio_a']:>5.2f}  {r['A_kb']:>6.1f}  {r['R_kb']:>6.1f}  {r['B_kb']:>6.1f}  "
              f"{'ok' if r['ratio'] <= GOAL else 'OVER'}")
    over = [r["name"] for r in results if r["ratio"] > GOAL]
    print(f"\n{len(results) - len(over)} of {len(results)} within the goal (B/R)"
          + (f"; over: {', '.join(over)}" if over else "")
          + f"; B/A within it: {sum(r['ratio_a'] <= GOAL for r in results)} of {len(results)}")


if __name__ == "__main__":
    sys.exit(main())
