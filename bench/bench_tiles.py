"""Tiles and the map at scale, on the 1,000,000-point synthetic layer.

1. Vector tiles over HTTP (waitress) vs. the same tile SQL run directly with psycopg, at z8, z12
   and z15: median latency (target: HTTP ≤ SQL + 2 ms) and tiles/s with 4 concurrent clients
   (target: HTTP ≥ 50 % of SQL).
   Measured without and with the in-process tile cache (tiles kept for a minute). The web server
   runs in a process of its own, as it does when deployed and as PostgreSQL does for the SQL
   reference: the clients here are Python threads and must not share the server's interpreter.
2. First-view bytes of the public map (the page plus the tiles of its first view) with 1,000 vs
   1,000,000 features in the layer (target ratio ≤ 1.1), tiles computed afresh.
3. `items?bbox=` throughput vs. the equivalent SQL.
"""
import http.client
import math
import multiprocessing
import socket
import statistics
import time

import psycopg
from sqlalchemy.engine import make_url

from _common import SHARED_DATA, bench_database, run_in_threads
from gis.embedded import free_port
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


def serve_app(url: str, config: dict, port: int) -> None:
    """The app on waitress, in a child process."""
    import waitress

    from webmap import create_app

    waitress.serve(create_app({"DATABASE_URL": url, **config}), host="127.0.0.1", port=port, threads=THREADS * 2,
                   _quiet=True)


def wait_for_port(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the web server did not start on port {port}")


def main() -> None:
    layer = get_layer("synthetic_points")
    with bench_database() as (url, engine):
        load_demo(engine, SHARED_DATA)

        def serve(config):
            port = free_port()
            process = multiprocessing.get_context("spawn").Process(
                target=serve_app, args=(url, {"MAP_TILES_ABOVE": 500, **config}, port), daemon=True)
            process.start()
            wait_for_port(port)
            return process, port

        server, port = serve({"TILE_CACHE_SECONDS": 0})  # every tile computed: the honest first view and cold path
        cached, cached_port = serve({})  # as deployed: tiles kept in memory for a minute
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

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
            raw_times = sql_tiles(dsn, layer, jobs)
            sql_rate = concurrent(lambda chunk: sql_tiles(dsn, layer, chunk), jobs)
            s = statistics.median(raw_times) * 1000
            for label_, srv_port in (("no cache", port), ("memory cache", cached_port)):
                http_get(srv_port, paths[:25])  # warm-up
                http_times, sizes = http_get(srv_port, paths)
                http_rate = concurrent(lambda chunk, p=srv_port: http_get(p, chunk), paths)
                h = statistics.median(http_times) * 1000
                print(f"z{z} ({label_}): median {h:.1f} ms HTTP vs {s:.1f} ms SQL ({h - s:+.1f} ms, target ≤ +2); "
                      f"{http_rate:.0f} vs {sql_rate:.0f} tiles/s with {THREADS} clients "
                      f"({100 * http_rate / sql_rate:.0f} %, target ≥ 50 %); mean tile {statistics.mean(sizes):.0f} B")

        box = "28.40,49.20,28.50,49.26"
        paths = [f"/api/layers/synthetic_points/items?bbox={box}&limit=100"] * REQUESTS
        http_rate = concurrent(lambda chunk: http_get(port, chunk), paths)

        def sql_items(chunk):
            with psycopg.connect(dsn) as conn:
                for _ in chunk:
                    conn.execute("""SELECT id, ST_AsGeoJSON(geom, 7), label, value FROM synthetic_point
                                    WHERE ST_Intersects(geom, ST_MakeEnvelope(28.40, 49.20, 28.50, 49.26, 4326))
                                    ORDER BY id LIMIT 100""").fetchall()
                    conn.execute("""SELECT count(*) FROM synthetic_point WHERE
                                    ST_Intersects(geom, ST_MakeEnvelope(28.40, 49.20, 28.50, 49.26, 4326))"""
                                 ).fetchone()

        sql_rate = concurrent(sql_items, list(range(REQUESTS)))
        print(f"items?bbox: {http_rate:.0f} req/s HTTP vs {sql_rate:.0f} req/s SQL; ratio {http_rate / sql_rate:.2f}")
        for process in (server, cached):
            process.terminate()
            process.join()


if __name__ == "__main__":
    main()
