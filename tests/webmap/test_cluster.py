"""`hromada cluster`: nginx in front of two app processes sharing memcached, on the session's database.

The shape is started once for the module (webmap/cluster.py). Requests come from different loopback
addresses (127.0.0.x: the whole 127/8 reaches the loopback interface), which nginx sees as different
clients — as it would see residents' phones.
"""
from __future__ import annotations

import gzip
import http.client
import json
import math
import os
import re
import signal
import threading
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from gis.embedded import free_port
from tests.helpers import inside
from webmap import cluster as cluster_module
from webmap.cluster import LocalCluster

_missing = [name for name in ("nginx", "memcached") if cluster_module.find_binary(name) is None]

RATE = 10  # reports a minute per client address, for the whole cluster


class Client:
    """One resident: requests to nginx from one source address, with a session cookie."""

    def __init__(self, port: int, address: str = "127.0.0.1"):
        self.port, self.address, self.cookie = port, address, ""

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30,
                                                source_address=(self.address, 0))
        try:
            all_headers = {"Cookie": self.cookie} if self.cookie else {}
            all_headers.update(headers or {})
            connection.request(method, path, body=body, headers=all_headers)
            response = connection.getresponse()
            data = response.read()
            cookie = response.getheader("Set-Cookie")
            if cookie:
                self.cookie = cookie.split(";", 1)[0]
            return response.status, response.headers, data
        finally:
            connection.close()

    def csrf(self) -> str:
        status, _, data = self.request("GET", "/api/csrf-token")
        assert status == 200
        return json.loads(data)["csrf_token"]

    def report(self, point, description: str, token: str, key: str | None = None, headers: dict | None = None):
        body = json.dumps({"lon": point[0], "lat": point[1], "category": "overflowing_bin",
                           "description": description}).encode()
        extra = {"Content-Type": "application/json", "X-CSRFToken": token, **(headers or {})}
        if key:
            extra["Idempotency-Key"] = key
        return self.request("POST", "/api/reports", body, extra)


@pytest.fixture(scope="module")
def shape(session_databases, engine, tmp_path_factory):
    if _missing:
        pytest.skip(f"{' and '.join(_missing)} not installed (Debian packages nginx-light, memcached: "
                    "`make test` installs them)")
    session_databases.restore(engine, demo=True)  # the demo hromada, where reports can be made
    folder = tmp_path_factory.mktemp("cluster")
    local = LocalCluster(folder)
    port = free_port()
    started = time.monotonic()
    local.up(port=port, apps=2, workers=1, database_url=session_databases.url,
             env={"HROMADA_REPORT_RATE_LIMIT": f"{RATE} per minute", "HROMADA_RASTER_DIR": str(folder / "rasters")})
    print(f"cluster up in {time.monotonic() - started:.1f} s")
    try:
        yield local, port, inside(engine, "Зарванці")
    finally:
        local.down(stop_database=False)
        engine.dispose()


def access_log(local: LocalCluster) -> list[str]:
    return (local.folder / "logs" / "nginx-access.log").read_text().splitlines()


def logged(local: LocalCluster, matches, at_least: int = 1, timeout: float = 5.0) -> list[str]:
    """The access log's lines that ``matches``, once at least ``at_least`` are there: nginx runs a worker
    per core and writes a request's line when it finishes the request, which on a busy machine can come
    after the client has its answer and has asked again (another worker)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in access_log(local) if matches(line)]
        if len(lines) >= at_least or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def app_ports(local: LocalCluster) -> set[str]:
    return {f"127.0.0.1:{p['port']}" for p in local.state()["processes"] if p["kind"] == "app"}


def test_status_lists_every_part(shape):
    local, _, _ = shape
    parts = {part.name: part for part in local.status()}
    assert set(parts) == {"memcached", "app-1", "app-2", "worker-1", "nginx"}
    assert all(part.running and part.answers for part in parts.values()), [p.describe() for p in parts.values()]
    conf = (local.folder / "nginx.conf").read_text()
    assert "proxy_next_upstream error timeout;" in conf and "X-Forwarded-For $proxy_add_x_forwarded_for" in conf


def test_rate_limit_holds_across_processes_per_real_client(shape):
    local, port, point = shape
    resident = Client(port, "127.0.0.1")
    token = resident.csrf()
    statuses = [resident.report(point, f"cluster-rate {i}", token)[0] for i in range(RATE + 5)]
    assert statuses == [201] * RATE + [429] * 5
    # Both app processes took reports: the count is shared, not each process's own.
    served = logged(local, lambda line: '"POST /api/reports HTTP' in line and " 201 " in line, at_least=RATE)
    assert {re.search(r"upstream=(\S+)", line)[1] for line in served} == app_ports(local)
    # Claiming another address in X-Forwarded-For does not give a fresh limit: nginx appends the real one,
    # and the apps trust only that last entry.
    spoofed = resident.report(point, "cluster-rate spoofed", token,
                              headers={"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.7"})
    assert spoofed[0] == 429
    # A neighbour on another address has the whole limit.
    neighbour = Client(port, "127.0.0.2")
    answer = neighbour.report(point, "cluster-rate neighbour", neighbour.csrf())
    assert answer[0] == 201, answer


def test_static_files_from_nginx_compressed_and_cached(shape):
    local, port, _ = shape
    path = "/static/site.css"
    size = (Path(cluster_module.__file__).parent / "static" / "site.css").stat().st_size
    status, headers, body = Client(port).request("GET", f"{path}?v=abc", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip" and len(body) < size
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    status, headers, _ = Client(port).request("GET", path)
    assert status == 200 and headers["Cache-Control"] == "no-cache" and headers["ETag"]
    lines = logged(local, lambda line: f"GET {path}" in line, at_least=2)
    assert len(lines) >= 2 and all("upstream=-" in line for line in lines)  # no app process was asked


def test_layer_items_gzipped_by_nginx_answered_by_the_apps_fast_path(shape):
    _, port, _ = shape
    status, headers, body = Client(port).request("GET", "/api/layers/settlements/items?limit=2",
                                                 headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    page = json.loads(gzip.decompress(body))
    assert page["numberReturned"] == 2
    # The links point at nginx (X-Forwarded-Host), as Flask's would.
    assert page["links"][0]["href"] == f"http://127.0.0.1:{port}/api/layers/settlements/items?limit=2&offset=0"
    # The fast path's policy carries no nonce (webmap.fast_items); Flask's always does.
    assert "'nonce-" not in headers["Content-Security-Policy"] and headers["X-Content-Type-Options"] == "nosniff"
    _, other, _ = Client(port).request("GET", "/api/layers", headers={"Accept-Encoding": "gzip"})
    assert "'nonce-" in other["Content-Security-Policy"]


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def test_a_tile_asked_twice_comes_from_nginx_cache(shape):
    local, port, point = shape
    x, y = tile_of(*point, 12)
    path = f"/tiles/settlements/12/{x}/{y}.mvt"
    first = Client(port).request("GET", path)
    second = Client(port).request("GET", path)
    assert first[0] == second[0] == 200 and first[2] and first[2] == second[2]
    assert (first[1]["X-Cache-Status"], second[1]["X-Cache-Status"]) == ("MISS", "HIT")
    assert second[1]["ETag"] == first[1]["ETag"] and "max-age=300" in second[1]["Cache-Control"]
    revalidated = Client(port).request("GET", path, headers={"If-None-Match": first[1]["ETag"]})
    assert revalidated[0] == 304
    assert len(logged(local, lambda line: f"GET {path}" in line and "upstream=127.0.0.1" in line)) == 1
    # Links the apps make point at nginx, the address the client used (X-Forwarded-Host/-Proto).
    status, _, data = Client(port).request("GET", "/tiles/settlements.json")
    assert status == 200 and json.loads(data)["tiles"] == [f"http://127.0.0.1:{port}/tiles/settlements/{{z}}/{{x}}/{{y}}.mvt"]


def test_an_app_process_killed_during_a_burst_loses_and_duplicates_no_report(shape, engine):
    local, port, point = shape
    residents = [Client(port, f"127.0.1.{i}") for i in range(1, 7)]  # 6 clients × 5 reports: under the limit
    acknowledged: dict[str, str] = {}  # idempotency key -> report code
    retries = []
    lock = threading.Lock()
    half = threading.Event()

    def send(resident: Client, number: int) -> None:
        token = resident.csrf()
        for i in range(5):
            key, description = uuid.uuid4().hex, f"cluster-burst {resident.address} {i}"
            for _attempt in range(40):
                try:
                    status, _, data = resident.report(point, description, token, key)
                except OSError:
                    status, data = None, b""
                if status in (200, 201):
                    with lock:
                        acknowledged[key] = json.loads(data)["code"]
                        if len(acknowledged) >= 8:
                            half.set()
                    break
                assert status in (None, 503), (status, data[:300])  # 503: nginx's, for the app that went away
                if status == 503:
                    assert json.loads(data)["error"] == "service_unavailable"
                retries.append(status)
                time.sleep(0.1)
            time.sleep(0.02)

    threads = [threading.Thread(target=send, args=(r, n)) for n, r in enumerate(residents)]
    for thread in threads:
        thread.start()
    assert half.wait(60)
    victim = next(p for p in local.state()["processes"] if p["name"] == "app-1")
    os.killpg(victim["pid"], signal.SIGKILL)  # the app as a whole: granian's supervisor and its worker
    for thread in threads:
        thread.join(90)
    assert len(acknowledged) == 30, f"acknowledged {len(acknowledged)} of 30 (retries: {retries})"
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT code, count(*) OVER (PARTITION BY description) FROM report "
                                    "WHERE description LIKE 'cluster-burst %'")).all()
    assert sorted(code for code, _ in rows) == sorted(acknowledged.values())  # each acknowledged one is there
    assert all(count == 1 for _, count in rows)  # and once
    # A retry of an acknowledged report, now answered by the surviving process, is the first answer.
    key, code = next(iter(acknowledged.items()))
    resident = residents[0]
    description = next(d for d, c in _descriptions(engine) if c == code)
    status, _, data = resident.report(point, description, resident.csrf(), key)
    assert status in (200, 201) and json.loads(data)["code"] == code
    parts = {part.name: part for part in local.status()}
    assert not parts["app-1"].running and parts["app-2"].answers and parts["nginx"].answers
    # The burst really was shared out, and the survivor took over.
    burst = [line for line in access_log(local) if '"POST /api/reports HTTP' in line and "127.0.1." in line]
    upstreams = {p["name"]: f"127.0.0.1:{p['port']}" for p in local.state()["processes"] if p["kind"] == "app"}
    assert any(upstreams["app-1"] in line for line in burst) and any(upstreams["app-2"] in line for line in burst)
    print(f"burst: {len(burst)} POSTs through nginx for 30 reports; client retries: {retries}")


def test_tile_memory_shared_by_processes(shape):
    """Two processes' tile memories in the one memcached: what one remembers, the other finds; what one
    forgets (a layer, or everything), the other no longer serves."""
    from webmap.tiles import SharedTileMemory

    local, _, _ = shape
    store = f"memcached://127.0.0.1:{next(p['port'] for p in local.state()['processes'] if p['kind'] == 'memcached')}"
    one, other = SharedTileMemory(store, 60), SharedTileMemory(store, 60)
    one.put(("plans", 1, 2, 3), b"tile")
    one.put(("reports", 1, 2, 3), b"")  # an empty tile is remembered too
    assert other.get(("plans", 1, 2, 3)) == b"tile" and other.get(("reports", 1, 2, 3)) == b""
    other.forget_layer("plans")
    assert one.get(("plans", 1, 2, 3)) is None and one.get(("reports", 1, 2, 3)) == b""
    one.clear()
    assert other.get(("reports", 1, 2, 3)) is None
    gone = SharedTileMemory("memcached://127.0.0.1:9", 60)  # nothing listens: a miss, never an error
    gone.put(("plans", 1, 2, 3), b"tile")
    assert gone.get(("plans", 1, 2, 3)) is None
    for memory in (one, other, gone):
        memory.close()


def _descriptions(engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT description, code FROM report WHERE description LIKE 'cluster-burst %'"))]


def test_the_store_gone_reports_and_tiles_still_answered(shape):
    """Last in the module: memcached killed. Each process then counts for itself and makes tiles afresh."""
    local, port, point = shape
    store = next(p for p in local.state()["processes"] if p["kind"] == "memcached")
    os.kill(store["pid"], signal.SIGKILL)
    resident = Client(port, "127.0.2.1")
    assert resident.report(point, "cluster-no-store", resident.csrf())[0] == 201
    x, y = tile_of(*point, 13)
    status, headers, body = Client(port).request("GET", f"/tiles/settlements/13/{x}/{y}.mvt")
    assert status == 200 and body and headers["X-Cache-Status"] == "MISS"
    parts = {part.name: part for part in local.status()}
    assert not parts["memcached"].running and parts["app-2"].answers


def test_up_names_the_missing_packages(monkeypatch, tmp_path):
    monkeypatch.setattr(cluster_module, "find_binary", lambda name: None if name == "nginx" else "/usr/bin/true")
    with pytest.raises(cluster_module.ClusterError, match="apt-get install nginx-light memcached"):
        LocalCluster(tmp_path).up(port=free_port())
    assert not (tmp_path / "cluster.json").exists()  # nothing was started


def test_status_and_down_of_a_cluster_not_up(tmp_path):
    from click.testing import CliRunner

    from webmap.cli import main

    status = CliRunner().invoke(main, ["cluster", "status", "--folder", str(tmp_path)])
    assert status.exit_code == 1 and "not up" in status.output
    down = CliRunner().invoke(main, ["cluster", "down", "--folder", str(tmp_path)])
    assert down.exit_code == 0 and "stopped: —" in down.output
