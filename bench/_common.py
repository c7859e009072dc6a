"""Shared by the benchmarks: a database to measure in, and timing helpers."""
from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

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
