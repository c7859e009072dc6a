"""Loading all 1,466 hromadas: `hromada communities load` vs. `ogr2ogr -f PostgreSQL` (PG_USE_COPY).

Both load the same GeoPackage into the same database in this script, paired ogr2ogr ours ogr2ogr
ours …; the median of the rounds' ratios ours / ogr2ogr is the result (below 1 means faster; target
≤ 2). Ours also validates, repairs, upserts and cuts each boundary into indexed pieces; ogr2ogr only
copies.
"""
import subprocess

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from _common import SHARED_DATA, bench_database, paired, timed
from importers.communities import load_communities

GPKG = SHARED_DATA / "ukraine" / "ukraine_hromadas.gpkg"


def main() -> None:
    with bench_database() as (url, engine):
        u = make_url(url)
        pg = f"PG:host={u.host} port={u.port} dbname={u.database} user={u.username} password={u.password}"

        def truncate():
            with engine.begin() as conn:
                conn.execute(sa.text("TRUNCATE hromada RESTART IDENTITY CASCADE"))

        result = paired(lambda: timed(lambda: subprocess.run(
            ["ogr2ogr", "-f", "PostgreSQL", pg, str(GPKG), "hromadas", "-nln", "bench_ogr_hromadas",
             "-overwrite", "-lco", "GEOMETRY_NAME=boundary", "--config", "PG_USE_COPY", "YES"],
            check=True, capture_output=True)), lambda: timed(lambda: load_communities(engine, GPKG)), setup=truncate)
        with engine.connect() as conn:
            loaded = conn.execute(sa.text("SELECT count(*) FROM hromada")).scalar()
            ogr_loaded = conn.execute(sa.text("SELECT count(*) FROM bench_ogr_hromadas")).scalar()
        print(f"hromadas loaded: ours {loaded}, ogr2ogr {ogr_loaded}")
        print("ogr2ogr s: " + ", ".join(f"{t:.2f}" for t in result.a))
        print("ours s:    " + ", ".join(f"{t:.2f}" for t in result.b))
        print(f"median ratio ours/ogr2ogr: {result.ratio:.2f} (target ≤ 2)")


if __name__ == "__main__":
    main()
