"""Shared by the benchmarks: a database to measure in, and timing helpers."""
from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gis import db  # noqa: E402
from gis.embedded import EmbeddedPostgres, free_port  # noqa: E402

SHARED_DATA = ROOT.parent / "shared" / "data"


@contextlib.contextmanager
def bench_database():
    """DATABASE_URL when set, else a throwaway embedded cluster; migrated to head."""
    if os.environ.get("DATABASE_URL"):
        url = db.normalize_url(os.environ["DATABASE_URL"])
        engine = db.make_engine(url)
        db.upgrade(engine)
        yield url, engine
        return
    folder = Path(tempfile.mkdtemp(prefix="hromada-bench-pg-"))
    folder.chmod(0o711)
    cluster = EmbeddedPostgres(folder / "data", free_port(), dbname="hromada_bench")
    cluster.start()
    engine = db.make_engine(cluster.url())
    try:
        db.upgrade(engine)
        yield cluster.url(), engine
    finally:
        engine.dispose()
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


def median_seconds(fn, repeat: int = 3, setup=None) -> float:
    times = []
    for _ in range(repeat):
        if setup:
            setup()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_in_threads(work, items: list, threads: int = 4) -> float:
    """Split ``items`` over ``threads`` threads running ``work(chunk)``; the wall time in seconds."""
    workers = [threading.Thread(target=work, args=(items[i::threads],)) for i in range(threads)]
    start = time.perf_counter()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return time.perf_counter() - start


@dataclass
class Paired:
    """Figures of two contenders measured in turns, A B A B …: a slow spell of a shared machine falls on both.
    ``ratios`` holds each round's B/A; the result to quote is their median."""

    a: list[float]
    b: list[float]

    @property
    def ratios(self) -> list[float]:
        return [b / a for a, b in zip(self.a, self.b, strict=True)]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)


def in_turns(*measures, rounds: int = 4, setup=None) -> list[list[float]]:
    """Run each of ``measures`` in turn (A B C A B C …) ``rounds`` times; each returns its figure (seconds,
    a rate…), ``setup()`` before each run. Each measure's figures, round by round."""
    figures: list[list[float]] = [[] for _ in measures]
    for _ in range(rounds):
        for measure, own in zip(measures, figures, strict=True):
            if setup:
                setup()
            own.append(measure())
    return figures


def paired(measure_a, measure_b, rounds: int = 4, setup=None) -> Paired:
    """``in_turns`` of two: A B A B …"""
    return Paired(*in_turns(measure_a, measure_b, rounds=rounds, setup=setup))


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def wait_for_port(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the web server did not start on port {port}")


# The app a served process runs: create_app with the bench's settings (bench/_served_app.py).
_SERVE = ("import sys; sys.path.insert(0, {bench!r}); from webmap.cli import serve_with_granian; "
          "serve_with_granian('127.0.0.1', {port}, {threads}, target='_served_app:app')")


@contextlib.contextmanager
def served_apps(url: str, config: dict | None = None, *, processes: int = 1, threads: int = 4):
    """The app in ``processes`` server processes of their own, as deployed: ``hromada serve``'s granian, a
    worker process with ``threads`` threads each (``hromada cluster`` runs several behind nginx; PostgreSQL
    serves the SQL reference from processes of its own too): the bench's client threads must not share a
    server's interpreter. Yields their ports."""
    import json
    import subprocess

    ports = [free_port() for _ in range(processes)]
    env = {**os.environ, "BENCH_APP_DATABASE_URL": url, "BENCH_APP_CONFIG": json.dumps(config or {})}
    bench = str(Path(__file__).resolve().parent)
    children = [subprocess.Popen([sys.executable, "-c", _SERVE.format(bench=bench, port=port, threads=threads)],
                                 env=env, start_new_session=True) for port in ports]
    try:
        for port in ports:
            wait_for_port(port)
        yield ports
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, 9)
                child.wait()


@contextlib.contextmanager
def served_app(url: str, config: dict | None = None, threads: int = 4):
    """One app process (see :func:`served_apps`); yields its port."""
    with served_apps(url, config, threads=threads) as (port,):
        yield port


def points_inside(boundary, n: int, rng: random.Random) -> list[tuple[float, float]]:
    """``n`` random points inside a shapely ``boundary`` (lon, lat to 6 decimals)."""
    minx, miny, maxx, maxy = boundary.bounds
    out = []
    while len(out) < n:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if shapely.contains_xy(boundary, x, y):
            out.append((round(x, 6), round(y, 6)))
    return out
