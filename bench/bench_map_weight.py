"""The first view of every public map page on a village phone link (issue #17).

Debian's Chromium (through Playwright) with Lighthouse's "slow 4G" (150 ms round trip, 1.6 Mbit/s down,
750 kbit/s up; CDP Network.emulateNetworkConditions), an empty cache for every load. For each page:
- bytes transferred: the encoded size of every response of the first view (HTML, scripts, styles,
  data, our tiles) — the OpenStreetMap base map aside (answered empty here, as it is not ours);
- time to a usable map: from navigation until Leaflet has drawn the map and every layer switched on
  has its data for the view (``hromadaMap.pending == 0``); what a page fetches after that (the land
  page's problem counts) adds to the bytes, not to this time.
Measured on the demo (A) and on the demo with 100× its parcels, venues and street lamps (B: copies
shifted a few hundred metres), loads paired A B A B. Targets: B/A ≤ 1.1 and every page ≤ 150 KB.
"""
import multiprocessing
import os
import statistics
import time

import sqlalchemy as sa

from _common import SHARED_DATA, bench_database
from bench_tiles import serve_app, wait_for_port
from gis.config import DEMO_KATOTTG
from gis.embedded import free_port
from importers.demo import load_demo

ALL_PAGES = ("/", f"/map/{DEMO_KATOTTG}/land", f"/map/{DEMO_KATOTTG}/roads", f"/map/{DEMO_KATOTTG}/lighting",
         f"/map/{DEMO_KATOTTG}/heritage", f"/map/{DEMO_KATOTTG}/reconstruction", f"/map/{DEMO_KATOTTG}/property",
         f"/map/{DEMO_KATOTTG}/coverage", f"/map/{DEMO_KATOTTG}/plans", "/venues")
# HROMADA_BENCH_PAGES="/,/map/…/land": only those pages (a quicker check of one change).
PAGES = tuple(p for p in os.environ.get("HROMADA_BENCH_PAGES", "").split(",") if p) or ALL_PAGES
SLOW_4G = {"offline": False, "latency": 150, "downloadThroughput": 1.6e6 / 8, "uploadThroughput": 750e3 / 8}
ROUNDS = 2  # A B A B
COPIES = 99  # B holds 100× the demo's parcels, venues and lamps
BUDGET = 150 * 1024


def multiply(engine, table: str, copies: int, unique: dict[str, str]) -> None:
    """Add ``copies`` copies of every row of ``table``, each shifted east by n × 300 m; ``unique``:
    SQL expressions (of the row and ``n``) for columns that must stay unique."""
    with engine.begin() as conn:
        columns = [c["name"] for c in sa.inspect(conn).get_columns(table)
                   if c["name"] != "id" and not c.get("computed")]
        values = [unique.get(c, f'ST_Translate("{c}", n * 0.004, 0)' if c == "geom" else f'"{c}"')
                  for c in columns]
        conn.execute(sa.text(f'INSERT INTO "{table}" ({", ".join(chr(34) + c + chr(34) for c in columns)}) '
                             f'SELECT {", ".join(values)} FROM "{table}", generate_series(1, :copies) n'),
                     {"copies": copies})
        conn.execute(sa.text(f'ANALYZE "{table}"'))


def measure(browser, base: str, path: str) -> tuple[int, float]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    context.route("https://**/*", lambda route: route.fulfill(status=204, body=""))  # the OSM base map
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    cdp.send("Network.emulateNetworkConditions", SLOW_4G)
    transferred = {"bytes": 0}
    cdp.on("Network.loadingFinished", lambda e: transferred.__setitem__("bytes", transferred["bytes"]
                                                                         + e["encodedDataLength"]))
    start = time.perf_counter()
    page.goto(base + path, wait_until="domcontentloaded")
    # A page with a map (the venue search and the plan list have none until asked): Leaflet drawn and
    # every layer switched on holding its data for the view.
    page.wait_for_function("() => !document.querySelector('.folium-map') || (document.querySelector("
                           "'.leaflet-container') && (!window.hromadaMap || window.hromadaMap.pending === 0))",
                           timeout=120_000)
    usable = time.perf_counter() - start
    # The bytes count to the end: what a page fetches after its map is usable (the land page's problem
    # counts) is transferred too, but does not hold the map up.
    page.wait_for_load_state("networkidle")
    context.close()
    return transferred["bytes"], usable


def copy_database(engine, url: str, name: str) -> str:
    """A copy of the bench database (CREATE DATABASE … TEMPLATE), its URL."""
    source = sa.engine.make_url(url)
    engine.dispose()  # the template must have no connections
    admin = sa.create_engine(source.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{source.database}"'))
    admin.dispose()
    return source.set(database=name).render_as_string(hide_password=False)


def serve(url: str):
    port = free_port()
    process = multiprocessing.get_context("spawn").Process(target=serve_app, args=(url, {}, port), daemon=True)
    process.start()
    wait_for_port(port)
    return process, f"http://127.0.0.1:{port}"


def main() -> None:
    from playwright.sync_api import sync_playwright

    from gis import db

    with bench_database() as (url, engine):
        load_demo(engine, SHARED_DATA)
        url_b = copy_database(engine, url, "hromada_bench_b")
        engine_b = db.make_engine(url_b)
        # Parcels keep well-formed, unique cadastral numbers: a new last group per copy.
        multiply(engine_b, "parcel", COPIES, {"cadastral_number": (
            "left(cadastral_number, 18) || "
            "lpad(((n * 1000 + right(cadastral_number, 4)::int) % 10000)::text, 4, '0')")})
        multiply(engine_b, "venue", COPIES, {})
        multiply(engine_b, "street_lamp", COPIES, {"ref": "ref || '-' || n"})
        engine_b.dispose()
        servers = {"A": serve(url), "B": serve(url_b)}
        results = {path: {"A": [], "B": []} for path in PAGES}
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                         args=["--no-sandbox", "--disable-gpu", "--disable-quic"])
            for _ in range(ROUNDS):  # A B A B
                for kind in ("A", "B"):
                    for path in PAGES:
                        results[path][kind].append(measure(browser, servers[kind][1], path))
                        print(kind, path, results[path][kind][-1], flush=True)
            browser.close()
        for process, _ in servers.values():
            process.terminate()
    print(f"{'page':42} {'A bytes':>9} {'B bytes':>9} {'B/A':>5} {'A s':>6} {'B s':>6}")
    for path, runs in results.items():
        a_bytes = statistics.median(b for b, _ in runs["A"])
        b_bytes = statistics.median(b for b, _ in runs["B"])
        a_time = statistics.median(t for _, t in runs["A"])
        b_time = statistics.median(t for _, t in runs["B"])
        flag = "" if b_bytes / a_bytes <= 1.1 and b_bytes <= BUDGET else "  over target"
        print(f"{path:42} {a_bytes:9.0f} {b_bytes:9.0f} {b_bytes / a_bytes:5.2f} {a_time:6.2f} {b_time:6.2f}{flag}")


if __name__ == "__main__":
    main()
