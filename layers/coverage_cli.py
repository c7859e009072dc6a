"""``hromada coverage …``: the white-spot analysis of internet coverage (layers.coverage_analysis)."""
from __future__ import annotations

import click

from gis import config, db


@click.group("coverage")
def coverage_group():
    """Internet coverage: white spots per settlement and hex cell."""


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:5.1f} %"


@coverage_group.command("analyse")
@click.option("--hromada", "katottg", default=config.DEMO_KATOTTG, show_default=True,
              help="KATOTTG code of the hromada.")
@click.option("--hex-size", "hex_size", default=1000.0, show_default=True, type=float,
              help="Side of the hex cells, metres (100…20000).")
@click.option("--test-radius", "test_radius", default=150.0, show_default=True, type=float,
              help="Radius a single speed test stands for, metres.")
def analyse_command(katottg: str, hex_size: float, test_radius: float):
    """Recompute the white spots of a hromada and store them as a new run."""
    from gis import hromadas
    from layers.coverage_analysis import address_layer_in, analyse, latest_run, results
    from layers.registry import LAYERS

    engine = db.make_engine(db.database_url())
    try:
        with engine.begin() as conn:
            hromada_id = hromadas.hromada_id(conn, katottg)
            run_id = analyse(conn, hromada_id, hex_size_m=hex_size, test_radius_m=test_radius,
                             address_layer=address_layer_in(LAYERS))
            run = latest_run(conn, hromada_id)
            settlements = results(conn, run_id, "settlement")
    finally:
        engine.dispose()
    s, ev = run["summary"], run["evidence"]
    click.echo(f"розрахунок / run {run_id} ({run['computed_at']:%Y-%m-%d %H:%M %Z}), {katottg}: "
               f"{s['settlements']} населених пунктів / settlements, {s['hexes']} шестикутників / hexes")
    click.echo(f"докази / evidence: {ev['speed_tiles']} speed tiles, {ev['speed_tests']} speed tests, "
               f"{ev['coverage_areas']} coverage areas, {len(ev['rasters'])} raster(s)"
               + (f", {len(ev['rasters_skipped'])} skipped" if ev["rasters_skipped"] else ""))
    click.echo("громада / hromada: площа / area — "
               + ", ".join(f"{c} {_pct(s['area_' + c])}" for c in ("unserved", "underserved", "served", "unknown")))
    if s["population"]:
        click.echo("                   населення / population — "
                   + ", ".join(f"{c} {_pct(s['pop_' + c])}" for c in ("unserved", "underserved", "served",
                                                                     "unknown")))
    click.echo("найбільший розрив / worst gap (share below 100/20: area, population):")
    for r in settlements[:10]:
        click.echo(f"  {r['name']:<24} {_pct(r['gap_area'])}  {_pct(r['gap_population'])}")


@coverage_group.command("analyse-all")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="A running Dask scheduler (tcp://host:8786) whose workers run the analysis.")
@click.option("--workers", type=int, default=None,
              help="Start a Dask cluster on this machine with N worker processes (default: one per core).")
@click.option("--ookla", default=None, metavar="FILE",
              help="Ookla's tile file (Parquet with a WKT `tile` or a `quadkey`, GeoParquet, shapefile) or a folder "
                   "of Parquet files, at a path every worker reads; its tiles take the place of the speed_tiles "
                   "table's.")
@click.option("--katottg", "katottgs", multiple=True, metavar="KATOTTG",
              help="A hromada to analyse (repeat, or separate with commas). Default: every hromada with "
                   "settlement boundaries.")
@click.option("--enabled-only", is_flag=True, help="Only the hromadas that take reports.")
@click.option("--hex-size", "hex_size", default=1000.0, show_default=True, type=float,
              help="Side of the hex cells, metres (100…20000).")
@click.option("--test-radius", "test_radius", default=150.0, show_default=True, type=float,
              help="Radius a single speed test stands for, metres.")
@click.option("--memory-limit", default="2GiB", show_default=True,
              help="Memory of each local worker (with --workers).")
def analyse_all_command(scheduler, workers, ookla, katottgs, enabled_only, hex_size, test_radius, memory_limit):
    """Recompute the white spots of many hromadas at once on a Dask cluster, one run each."""
    from sqlalchemy.engine import make_url

    from layers.coverage_distributed import analyse_all, dask_client

    url = db.database_url()
    if scheduler and make_url(url).host in (None, "", "localhost", "127.0.0.1", "::1"):
        click.echo(f"Увага: робочі процеси з'єднуються з базою за адресою {make_url(url).host or 'localhost'}; "
                   f"на інших машинах задайте DATABASE_URL, яку видно звідусіль.\n"
                   f"Note: the workers connect to the database at {make_url(url).host or 'localhost'}; with workers "
                   f"on other machines set a DATABASE_URL that they can reach.", err=True)
    wanted = [c.strip() for given in katottgs for c in given.split(",") if c.strip()]
    with dask_client(scheduler, workers, memory_limit=memory_limit) as client:
        report = analyse_all(client, url, katottgs=wanted or None, ookla=ookla, hex_size_m=hex_size,
                             test_radius_m=test_radius, enabled_only=enabled_only)
    done = [o for o in report.outcomes if o.ok]
    click.echo(f"двигун / engine: {report.notes['engine']['name']} {report.notes['engine']['dask']}, "
               f"{report.workers} робочих процесів / workers; плитки Ookla / Ookla tiles: "
               f"{report.ookla or 'таблиця / table speed_tile'}")
    if len(report.outcomes) <= 20:
        for o in report.outcomes:
            tiles = "" if o.speed_tiles is None else f", {o.speed_tiles} плиток / tiles"
            status = f"розрахунок / run {o.run_id}" if o.ok else "не вдалося / failed"
            click.echo(f"  {o.katottg} {o.name}: {status}{tiles}, {o.seconds:.1f} s")
    click.echo(f"проаналізовано / analysed: {len(done)} з / of {len(report.outcomes)} громад / hromadas "
               f"за / in {report.seconds:.1f} s"
               + (f"; без меж населених пунктів, пропущено / without settlement boundaries, skipped: {report.skipped}"
                  if report.skipped else ""))
    for o in report.failed:
        click.echo(f"  {o.katottg} {o.name}: {o.error['uk']} / {o.error['en']}", err=True)
    if report.failed:
        raise SystemExit(1)
