"""Loading all 1,466 hromadas: `hromada communities load` vs. `ogr2ogr -f PostgreSQL` (PG_USE_COPY).

Both load the same GeoPackage into the same database in this script; the ratio is ours / ogr2ogr
(below 1 means faster). Ours also validates, repairs, and upserts; ogr2ogr only copies.
"""
import subprocess

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from _common import SHARED_DATA, bench_database, median_seconds
from importers.communities import load_communities

GPKG = SHARED_DATA / "ukraine" / "ukraine_hromadas.gpkg"


def main() -> None:
    with bench_database() as (url, engine):
        u = make_url(url)
        pg = f"PG:host={u.host} port={u.port} dbname={u.database} user={u.username} password={u.password}"

        def truncate():
            with engine.begin() as conn:
                conn.execute(sa.text("TRUNCATE hromada RESTART IDENTITY CASCADE"))

        ours = median_seconds(lambda: load_communities(engine, GPKG), setup=truncate)
        ogr = median_seconds(lambda: subprocess.run(
            ["ogr2ogr", "-f", "PostgreSQL", pg, str(GPKG), "hromadas", "-nln", "bench_ogr_hromadas",
             "-overwrite", "-lco", "GEOMETRY_NAME=boundary", "--config", "PG_USE_COPY", "YES"],
            check=True, capture_output=True))
        with engine.connect() as conn:
            loaded = conn.execute(sa.text("SELECT count(*) FROM hromada")).scalar()
            ogr_loaded = conn.execute(sa.text("SELECT count(*) FROM bench_ogr_hromadas")).scalar()
        print(f"hromadas loaded: ours {loaded}, ogr2ogr {ogr_loaded}")
        print(f"median of 3: ours {ours:.3f} s, ogr2ogr {ogr:.3f} s")
        print(f"ratio ours/ogr2ogr: {ours / ogr:.2f}")


if __name__ == "__main__":
    main()
