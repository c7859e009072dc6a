"""Tiles and the map at scale, on the 1,000,000-point synthetic layer.

1. Vector tiles over HTTP (granian, as `hromada serve` runs it) vs. the same tile SQL run directly with
   psycopg, at z8, z12 and z15: median latency (target: HTTP ≤ SQL + 2 ms) and tiles/s with 4 concurrent clients
   (target: HTTP ≥ 50 % of SQL).
   Measured without and with the in-process tile cache (tiles kept for a minute). The web server
   runs in a process of its own, as it does when deployed and as PostgreSQL does for the SQL
   reference: the clients here are Python threads and must not share the server's interpreter.
   Throughputs are paired, SQL HTTP SQL HTTP …, and the median of the rounds' ratios is printed.
2. First-view bytes of the public map (the page plus the tiles of its first view) with 1,000 vs
   1,000,000 features in the layer (target ratio ≤ 1.1), tiles computed afresh.
3. `items?bbox=` throughput vs. the equivalent SQL (paired; target ≥ 0.5).
"""
import http.client
import math
import statistics
import time

import psycopg
from sqlalchemy.engine import make_url

from _common import SHARED_DATA, bench_database, paired, run_in_threads, served_apps
from importers.demo import load_demo
from layers import tiles as tile_sql
from layers.registry import get_layer
from layers.synthetic import load_synthetic

CENTRE = (28.47, 49.23)  # Vinnytsia
ZOOMS = (8, 12, 15)
REQUESTS = 200
THREADS = 4


def tile_of(lon, lat, z):
    n = 2 ** z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def http_get(port, paths):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    sizes, times = [], []
    for path in paths:
        start = time.perf_counter()
        conn.request("GET", path)
        body = conn.getresponse().read()
        times.append(time.perf_counter() - start)
        sizes.append(len(body))
    conn.close()
    return times, sizes


def sql_tiles(dsn, layer, jobs):
    times = []
    with psycopg.connect(dsn) as conn:
        for z, x, y in jobs:
            start = time.perf_counter()
            conn.execute(*tile_sql.driver_params(layer, z, x, y)).fetchone()  # the SQL the endpoint runs
            times.append(time.perf_counter() - start)
    return times


def concurrent(work, jobs) -> float:
    """Jobs per second with THREADS clients."""
    return len(jobs) / run_in_threads(work, jobs, THREADS)


def first_view_bytes(port) -> int:
    """The map page and the z11 tiles over the demo hromada (what the browser fetches first)."""
    _, (page,) = http_get(port, ["/"])
    (x0, y0), (x1, y1) = tile_of(28.08, 49.36, 11), tile_of(28.44, 49.14, 11)
    paths = [f"/tiles/synthetic_points/11/{x}/{y}.mvt" for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    _, sizes = http_get(port, paths)
    return page + sum(sizes)


def main() -> None:
    layer = get_layer("synthetic_points")
    with bench_database() as (url, engine):
        load_demo(engine, SHARED_DATA)
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        # every tile computed (the honest first view and cold path), and as deployed: tiles kept a minute
        with served_apps(url, {"MAP_TILES_ABOVE": 500, "TILE_CACHE_SECONDS": 0}) as (port,), \
                served_apps(url, {"MAP_TILES_ABOVE": 500}) as (cached_port,):
            with engine.begin() as conn:
                load_synthetic(conn, 1000, 0)
            small = first_view_bytes(port)
            with engine.begin() as conn:
                load_synthetic(conn, 1_000_000, 200_000)
            large = first_view_bytes(port)
            print(f"first view: {small} bytes with 1k points, {large} bytes with 1M; "
                  f"ratio {large / small:.2f} (target ≤ 1.1)")

            for z in ZOOMS:
                x, y = tile_of(*CENTRE, z)
                jobs = [(z, x + dx, y + dy) for dx in range(-2, 3) for dy in range(-2, 3)] * (REQUESTS // 25)
                paths = [f"/tiles/synthetic_points/{z}/{a}/{b}.mvt" for _, a, b in jobs]
                s = statistics.median(sql_tiles(dsn, layer, jobs)) * 1000
                for label_, srv_port in (("no cache", port), ("memory cache", cached_port)):
                    http_get(srv_port, paths[:25])  # warm-up
                    http_times, sizes = http_get(srv_port, paths)
                    h = statistics.median(http_times) * 1000
                    rates = paired(lambda j=jobs: concurrent(lambda chunk: sql_tiles(dsn, layer, chunk), j),
                                   lambda p=srv_port, ps=paths: concurrent(lambda chunk: http_get(p, chunk), ps))
                    print(f"z{z} ({label_}): median {h:.1f} ms HTTP vs {s:.1f} ms SQL ({h - s:+.1f} ms, target ≤ +2); "
                          f"{statistics.median(rates.b):.0f} vs {statistics.median(rates.a):.0f} tiles/s with "
                          f"{THREADS} clients (median ratio {100 * rates.ratio:.0f} %, target ≥ 50 %); "
                          f"mean tile {statistics.mean(sizes):.0f} B")

            box = "28.40,49.20,28.50,49.26"
            paths = [f"/api/layers/synthetic_points/items?bbox={box}&limit=100"] * REQUESTS

            in_box = ("geom && ST_MakeEnvelope(28.40, 49.20, 28.50, 49.26, 4326) "
                      "AND ST_X(geom) BETWEEN 28.40 AND 28.50 AND ST_Y(geom) BETWEEN 49.20 AND 49.26")

            def sql_items(chunk):
                with psycopg.connect(dsn) as conn:
                    for _ in chunk:
                        # The box as the API tests points against it (layers.query.in_box).
                        conn.execute(f"""SELECT id, ST_AsGeoJSON(geom, 7), label, value FROM synthetic_point
                                         WHERE {in_box} ORDER BY id LIMIT 100""").fetchall()
                        conn.execute(f"SELECT count(*) FROM synthetic_point WHERE {in_box}").fetchone()

            rates = paired(lambda: concurrent(sql_items, list(range(REQUESTS))),
                           lambda: concurrent(lambda chunk: http_get(port, chunk), paths))
            print(f"items?bbox: {statistics.median(rates.b):.0f} req/s HTTP vs {statistics.median(rates.a):.0f} "
                  f"req/s SQL; median ratio {rates.ratio:.2f} (target ≥ 0.5)")


if __name__ == "__main__":
    main()
