"""Accessible venue search at scale: 100,000 synthetic venues in the demo hromada.

1. "The nearest 10 venues that fit a wheelchair user" over HTTP (waitress, ``GET /api/venues/search``)
   vs. the same SQL (``layers.accessibility.search_sql``) run directly with psycopg: median latency
   (target: HTTP ≤ SQL + 2 ms); also for the deaf profile, whose fully accessible venues are rarer.
2. ``EXPLAIN ANALYZE`` of the search: is the geography KNN index (ix_venue_geog) used?
3. Would a partial KNN index per profile help? Made inside a transaction that is rolled back, measured,
   and reported — never kept.

The venues are flagged ``is_demo`` with source ``bench`` and removed at the end; their facts are the
demo patterns (importers.demo_venues) given out at random, so every rating occurs.
"""
import http.client
import random
import re
import statistics
import threading
import time

import psycopg
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from waitress.server import create_server

from _common import SHARED_DATA, bench_database, points_inside
from gis import db
from gis.bulk import copy_rows, ewkb
from gis.embedded import free_port
from importers.demo import load_demo
from importers.demo_venues import ENTRANCES, INFORMATION, _facts
from importers.pipeline import STAGING_TYPES
from layers import accessibility as acc
from layers.tables import build_table

VENUES = 100_000
REQUESTS = 300
LIMIT = 10
SEED = 20260407
DEMO = "UA05020310000080026"


def synthetic_rows(hromada_id: int, boundary, rng: random.Random):
    """VENUES rows in the layer's input columns: random points in the boundary, random demo patterns."""
    fields = acc.VENUES.input_fields
    minx, miny, maxx, maxy = boundary.bounds
    categories = list(acc.CATEGORIES)
    made = 0
    while made < VENUES:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if not shapely.contains_xy(boundary, x, y):
            continue
        facts = {**_facts(rng.choice(ENTRANCES)[1], rng), **rng.choice(INFORMATION)[1]}
        facts.update(name=f"Заклад {made + 1} (bench)", category=rng.choice(categories))
        yield [facts.get(f.name) for f in fields] + [ewkb(shapely.Point(x, y)), hromada_id, "bench", True]
        made += 1


def load_venues(engine, hromada_id: int, boundary) -> float:
    fields = acc.VENUES.input_fields
    columns = ([(f.column_name, STAGING_TYPES.get(f.type, "text")) for f in fields]
               + [("geom", "geometry"), ("hromada_id", "int4"), ("source", "text"), ("is_demo", "bool")])
    start = time.perf_counter()
    with engine.begin() as conn:
        copy_rows(conn, build_table(acc.VENUES).name, columns, synthetic_rows(hromada_id, boundary,
                                                                             random.Random(SEED)))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE venue"))
    return time.perf_counter() - start


def as_psycopg(sql_text: str) -> str:
    """``:name`` parameters (SQLAlchemy text) as ``%(name)s`` (psycopg); ``::casts`` stay."""
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql_text)


def params(point, category: str | None = None) -> dict:
    lon, lat = point
    return {"lon": lon, "lat": lat, "ratings": acc.accepted_ratings(False), "category": category, "limit": LIMIT,
            "radius": acc.SEARCH_RADIUS_M}


def sql_once(conn: psycopg.Connection, query: str, point, category: str | None = None) -> float:
    start = time.perf_counter()
    conn.execute(query, params(point, category)).fetchall()
    return time.perf_counter() - start


def sql_times(conn: psycopg.Connection, profile: str, where: list) -> list[float]:
    query = as_psycopg(acc.search_sql(profile))
    return [sql_once(conn, query, point) for point in where]


def paired_times(port: int, conn: psycopg.Connection, profile: str, where: list,
                 category: str | None = None) -> tuple[list[float], list[float]]:
    """HTTP and SQL timings taken in turn, place by place, so both see the same machine load."""
    client = http.client.HTTPConnection("127.0.0.1", port)
    query = as_psycopg(acc.search_sql(profile))
    over_http, direct = [], []
    for lon, lat in where:
        start = time.perf_counter()
        client.request("GET", f"/api/venues/search?lat={lat}&lon={lon}&profile={profile}&limit={LIMIT}"
                              + (f"&category={category}" if category else ""))
        response = client.getresponse()
        body = response.read()
        over_http.append(time.perf_counter() - start)
        assert response.status == 200, body[:300]
        direct.append(sql_once(conn, query, (lon, lat), category))
    client.close()
    return over_http, direct


def in_process(url: str, profile: str, where: list, category: str | None = None) -> list[float]:
    """layers.accessibility.find_venues, as the endpoint calls it, without Flask and HTTP."""
    engine = db.make_engine(url)
    times = []
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for lon, lat in where:
            start = time.perf_counter()
            acc.find_venues(conn, lon, lat, profile, category=category, limit=LIMIT)
            times.append(time.perf_counter() - start)
    engine.dispose()
    return times


def main() -> None:
    with bench_database() as (url, engine):
        load_demo(engine, SHARED_DATA)
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM venue WHERE source = 'bench'"))
            hromada_id, wkb = conn.execute(sa.text("SELECT id, ST_AsBinary(boundary) FROM hromada WHERE katottg = :k"),
                                           {"k": DEMO}).one()
        boundary = shapely.from_wkb(bytes(wkb))
        shapely.prepare(boundary)
        seconds = load_venues(engine, hromada_id, boundary)
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            print(f"{VENUES} venues loaded in {seconds:.1f} s (COPY, history trigger, VACUUM ANALYZE)")
            run(url, dsn, boundary)
        finally:
            with engine.begin() as conn:
                conn.execute(sa.text("DELETE FROM venue WHERE source = 'bench'"))


def first_searches_on_new_connections(dsn: str, boundary, rng: random.Random, connections: int = 5) -> None:
    """Searches 1–10 on a new connection against 11–20 (psycopg prepares a statement after 5 runs and
    PostgreSQL settles on a generic plan after 5 more, so a slow custom plan shows in the first ten).
    The very first query of a connection also loads the catalogue caches; it is shown apart."""
    query = as_psycopg(acc.search_sql("wheelchair"))
    first, early, late = [], [], []
    for _ in range(connections):
        with psycopg.connect(dsn, autocommit=True) as conn:
            for n, point in enumerate(points_inside(boundary, 20, rng)):
                seconds = sql_once(conn, query, point)
                (first if n == 0 else early if n < 10 else late).append(seconds)
    e, la = statistics.median(early) * 1000, statistics.median(late) * 1000
    print(f"new connections ({connections}): first search median {statistics.median(first) * 1000:.1f} ms "
          f"(with the connection's catalogue load); searches 2–10 {e:.2f} ms vs 11–20 {la:.2f} ms "
          f"(ratio {e / la:.2f}, target ≤ 1.5)")


def run(url: str, dsn: str, boundary) -> None:
    from webmap import create_app

    app = create_app({"DATABASE_URL": url})
    server = create_server(app, host="127.0.0.1", port=free_port(), threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    port = server.effective_port
    rng = random.Random(SEED + 1)
    first_searches_on_new_connections(dsn, boundary, rng)
    with psycopg.connect(dsn, autocommit=True) as conn:
        counts = dict(conn.execute("SELECT rating_wheelchair, count(*) FROM venue GROUP BY 1").fetchall())
        print("wheelchair ratings:", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        # The rare case last: a category holding 1/13 of the venues, of which 15 % fit a wheelchair.
        for profile, category in (("wheelchair", None), ("deaf", None), ("wheelchair", "administrative")):
            where = points_inside(boundary, REQUESTS, rng)
            paired_times(port, conn, profile, where[:30], category)  # warm-up: connections, prepared statements
            over_http, direct = paired_times(port, conn, profile, where, category)
            h, s = statistics.median(over_http) * 1000, statistics.median(direct) * 1000
            f = statistics.median(in_process(url, profile, where, category)) * 1000
            print(f"{profile}{f' in {category}' if category else ''}: nearest {LIMIT} fully accessible, "
                  f"median {h:.2f} ms HTTP vs {s:.2f} ms SQL "
                  f"({h - s:+.2f} ms, target ≤ +2 ms) over {REQUESTS} places; "
                  f"find_venues in process (SQLAlchemy, reasons in words) {f:.2f} ms")

        point = points_inside(boundary, 1, rng)[0]
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + as_psycopg(acc.search_sql(
            "wheelchair")), params(point)).fetchall())
        print("EXPLAIN ANALYZE (wheelchair):\n  " + plan.replace("\n", "\n  "))
        print(f"geography KNN index used: {'yes' if 'ix_venue_geog' in plan else 'NO'}")

        # A partial KNN index per profile, tried and rolled back: does it beat the filtered KNN scan?
        where = points_inside(boundary, REQUESTS, rng)
        base = {p: statistics.median(sql_times(conn, p, where)) * 1000 for p in ("wheelchair", "deaf")}
        with conn.transaction(force_rollback=True):
            for profile in ("wheelchair", "deaf"):
                conn.execute(f"CREATE INDEX bench_knn_{profile} ON venue USING gist ((geom::geography)) "
                             f"WHERE rating_{profile} = 'fully'")
            conn.execute("ANALYZE venue")
            for profile in ("wheelchair", "deaf"):
                plan = "\n".join(r[0] for r in conn.execute(
                    "EXPLAIN " + as_psycopg(acc.search_sql(profile)), params(where[0])).fetchall())
                with_index = statistics.median(sql_times(conn, profile, where)) * 1000
                print(f"partial index on rating_{profile} = 'fully' "
                      f"({'used' if f'bench_knn_{profile}' in plan else 'not used'}"
                      f" by the search's = ANY(:ratings) filter): {with_index:.2f} ms vs {base[profile]:.2f} ms"
                      " without")
    server.close()


if __name__ == "__main__":
    main()
